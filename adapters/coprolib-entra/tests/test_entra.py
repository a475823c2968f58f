"""EntraCredentials (msal client credentials) against the local HTTPS Entra ID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coprolib_entra import EntraCredentials, default_scope
from coprolib_entra.testing import LocalEntra

from coprolib.adapters import AuthError, RetryableError, Secret
from coprolib.testing.fault_server import refused_url

SCOPE = default_scope("https://contoso.crm11.dynamics.com/")


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntra]:
    with LocalEntra(Path(tmp_path_factory.mktemp("entra"))) as started:
        started.register("app-1", "secret-one-Zx")
        yield started


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def credentials(entra: LocalEntra, secret: str = "secret-one-Zx", **kw: Any) -> EntraCredentials:
    return EntraCredentials(
        tenant_id=kw.pop("tenant_id", entra.tenant_id),
        client_id="app-1",
        client_secret=Secret(secret, "$env:S"),
        scope=SCOPE,
        authority_host=kw.pop("authority_host", entra.authority_host),
        instance_discovery=False,
        ca_bundle=str(entra.ca_path),
        timeout=(2.0, 2.0),
        **kw,
    )


def test_scope_is_resource_dot_default() -> None:
    assert SCOPE == "https://contoso.crm11.dynamics.com/.default"


def test_token_is_cached_renewed_before_expiry_and_on_demand(entra: LocalEntra) -> None:
    clock = Clock()
    creds = credentials(entra, clock=clock, refresh_margin=300.0)
    before = entra.token_requests
    first = creds.token()
    assert creds.token() == first and entra.token_requests == before + 1
    assert entra.valid(first, SCOPE)
    clock.now += 3600 - 301
    assert creds.token() == first
    clock.now += 2
    second = creds.token()
    assert second != first and entra.token_requests == before + 2
    third = creds.token(refresh=True)
    assert third != second and entra.token_requests == before + 3


def test_wrong_secret_is_an_auth_error_without_the_secret(entra: LocalEntra) -> None:
    with pytest.raises(AuthError) as caught:
        credentials(entra, secret="wrong-secret-77").token()
    assert "invalid_client" in caught.value.message
    assert "wrong-secret-77" not in caught.value.message


def test_unknown_tenant_is_an_auth_error(entra: LocalEntra) -> None:
    with pytest.raises(AuthError, match="tenant"):
        credentials(entra, tenant_id="no-such-tenant").token()


def test_token_endpoint_trouble_is_retryable(entra: LocalEntra) -> None:
    entra.fail_next = [503]
    with pytest.raises(RetryableError):
        credentials(entra).token()
    assert entra.fail_next == []


def test_unreachable_authority_is_retryable(entra: LocalEntra) -> None:
    dead = refused_url().replace("http://", "https://")
    with pytest.raises(RetryableError):
        credentials(entra, authority_host=dead).token()


def test_repr_shows_no_secret(entra: LocalEntra) -> None:
    assert "secret-one-Zx" not in repr(credentials(entra))


def test_http_client_trusts_its_ca_bundle_even_with_requests_ca_bundle_set(
    entra: LocalEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coprolib.adapters.http import HttpClient, HttpOptions

    # A system-wide bundle in the environment must not replace the configured private CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = HttpClient(options=HttpOptions(ca_bundle=str(entra.ca_path)))
    url = f"{entra.authority_host}/{entra.tenant_id}/v2.0/.well-known/openid-configuration"
    try:
        assert client.request("GET", url).json()["issuer"].startswith(entra.authority_host)
    finally:
        client.close()


def test_local_entra_serves_tls_with_the_fault_server_knobs(entra: LocalEntra) -> None:
    import requests

    assert entra.authority_host.startswith("https://127.0.0.1:")
    reply = requests.put(f"{entra.authority_host}/x", verify=str(entra.ca_path), timeout=5)
    assert reply.status_code == 501
    entra.force("reset")
    with pytest.raises(RetryableError):
        credentials(entra).token()
    assert entra.faults_served[-1] == "reset"
    assert entra.valid(credentials(entra).token(), SCOPE)
