"""Entra ID bearer tokens checked against a tenant's published keys, and Standard Webhooks.

The tenant's JWKS is served on 127.0.0.1 in the shape Microsoft publishes it
(https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys: ``keys`` with ``kty``,
``use``, ``kid``, ``n``, ``e``); the tokens are RS256 v2.0 access tokens signed here, with the
claims Entra ID issues to an app (``iss``, ``aud``, ``exp``, ``azp``, ``roles``)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from coprolib.serve.auth import sign_webhook
from coprolib.testing.ledger_fixtures import LedgerTarget, make_target
from tests.serve_support import (
    assert_problem,
    fill,
    get,
    ledger_state,
    northdale_config,
    post,
    serving,
)

TENANT = "7d3f0c2a-9b41-4e6f-8a2d-5c1b0e9f4a37"
AUDIENCE = "api://2c9e4b71-0d5a-4f38-b6e2-91a7c3d05f18"
CLIENT = "b51f8e20-3c6d-4a97-8e1b-0f2d7c6a9e45"
KID = "nOo3ZDrODXEK1jKWhXslHR_KXEg"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def tenant_key() -> rsa.RSAPrivateKey:
    return _key()


@pytest.fixture(scope="module")
def jwks_url(tenant_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(tenant_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path.endswith("/keys") else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{TENANT}/discovery/v2.0/keys"
    server.shutdown()
    server.server_close()


def _token(key: rsa.RSAPrivateKey, *, roles: list[str], **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "aud": AUDIENCE,
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "azp": CLIENT,
        "azpacr": "1",
        "oid": str(uuid.uuid4()),
        "sub": str(uuid.uuid4()),
        "tid": TENANT,
        "ver": "2.0",
        "roles": roles,
        **changes,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID, "typ": "JWT"})


@pytest.fixture
def target(tmp_path: Path) -> LedgerTarget:
    return make_target("sqlite", tmp_path)


@pytest.fixture
def entra_api(target: LedgerTarget, jwks_url: str) -> Iterator[str]:
    fill(target)
    config = northdale_config(
        f"""
[plugins.serve.entra]
tenant_id = "{TENANT}"
audience = "{AUDIENCE}"
jwks_url = "{jwks_url}"
roles = {{ "Coprolib.Read" = ["read"], "Coprolib.Consent.Write" = ["read", "consent:write"] }}
"""
    )
    with serving(target, config) as base:
        yield base


def test_entra_token_with_the_role_may_withdraw_audited_as_the_app(
    entra_api: str, tenant_key: rsa.RSAPrivateKey, target: LedgerTarget
) -> None:
    token = _token(tenant_key, roles=["Coprolib.Consent.Write"])
    r = post(entra_api, "/v1/contributors/p-jo/withdraw", token, json={"reason": "by phone"})
    assert r.status_code == 200, r.text
    actors = [str(a[0]) for a in target.raw("SELECT actor FROM audit")]
    assert f"entra:{CLIENT}" in actors
    # A v1.0 token (the default when the app registration does not ask for v2.0): other
    # issuer form, the calling app in ``appid``.
    v1 = _token(
        tenant_key,
        roles=["Coprolib.Consent.Write"],
        iss=f"https://sts.windows.net/{TENANT}/",
        ver="1.0",
        azp=None,
        appid=CLIENT,
    )
    r = post(entra_api, "/v1/contributors/p-taylor/withdraw", v1, json={})
    assert r.status_code == 200, r.text


def test_entra_tokens_that_do_not_hold_are_refused_and_change_nothing(
    entra_api: str, tenant_key: rsa.RSAPrivateKey, target: LedgerTarget
) -> None:
    before = ledger_state(target)
    path = "/v1/contributors/p-jo/withdraw"
    now = int(time.time())
    expired = _token(tenant_key, roles=["Coprolib.Consent.Write"], exp=now - 600, iat=now - 4200)
    assert_problem(post(entra_api, path, expired), 401, "Authorization")
    other_aud = _token(tenant_key, roles=["Coprolib.Consent.Write"], aud="api://another-app")
    assert_problem(post(entra_api, path, other_aud), 401, "Authorization")
    other_iss = _token(
        tenant_key,
        roles=["Coprolib.Consent.Write"],
        iss="https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0",
    )
    assert_problem(post(entra_api, path, other_iss), 401, "Authorization")
    forged = _token(_key(), roles=["Coprolib.Consent.Write"])
    assert_problem(post(entra_api, path, forged), 401, "Authorization")
    read_only = _token(tenant_key, roles=["Coprolib.Read"])
    assert_problem(post(entra_api, path, read_only), 403, "Authorization")
    assert get(entra_api, "/v1/feedback/due", read_only).status_code == 200
    assert ledger_state(target) == before


# --- webhooks -------------------------------------------------------------------------------

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def hook_api(target: LedgerTarget, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    fill(target)
    monkeypatch.setenv("MOSAIC_WEBHOOK_SECRET", SECRET)
    config = northdale_config(
        '[plugins.serve.webhooks.mosaic]\nsecret = "$env:MOSAIC_WEBHOOK_SECRET"\n'
    )
    with serving(target, config) as base:
        yield base


def _deliver(
    base: str, event: dict[str, Any], msg_id: str, *, secret: str = SECRET, at: int | None = None
) -> Any:
    body = json.dumps(event).encode()
    ts = int(time.time()) if at is None else at
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_webhook(secret, msg_id, ts, body),
    }
    return post(base, "/v1/webhooks/mosaic", headers=headers, data=body)


EVENT = {
    "type": "consent.withdrawn",
    "timestamp": "2026-12-05T09:30:00Z",
    "data": {"contributor_id": "p-morgan", "reason": "told their social worker"},
}


def test_a_signed_withdrawal_is_recorded_once_even_if_delivered_twice(
    hook_api: str, target: LedgerTarget
) -> None:
    msg_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    first = _deliver(hook_api, EVENT, msg_id)
    assert first.status_code == 200, first.text
    assert first.json()["withdrawal"]["consent_ids"] == ["c-05", "c-05b"]
    state = ledger_state(target)
    again = _deliver(hook_api, EVENT, msg_id)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert ledger_state(target) == state
    events = target.raw("SELECT count(*) FROM consent_events WHERE consent_id = 'c-05'")
    assert events[0][0] == 2
    actors = [str(a[0]) for a in target.raw("SELECT actor FROM audit")]
    assert "webhook:mosaic" in actors


def test_unsigned_stale_or_unknown_webhooks_are_refused(
    hook_api: str, target: LedgerTarget
) -> None:
    before = ledger_state(target)
    wrong = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert_problem(_deliver(hook_api, EVENT, "msg_a", secret=wrong), 401, "webhook-signature")
    stale = int(time.time()) - 3600
    assert_problem(_deliver(hook_api, EVENT, "msg_b", at=stale), 401, "webhook-timestamp")
    unsigned = post(hook_api, "/v1/webhooks/mosaic", json=EVENT)
    assert_problem(unsigned, 401, "webhook-id")
    other = {**EVENT, "type": "case.closed"}
    assert_problem(_deliver(hook_api, other, "msg_c"), 422, "type")
    nobody = {**EVENT, "data": {"contributor_id": "p-nobody"}}
    assert_problem(_deliver(hook_api, nobody, "msg_d"), 404, "data.contributor_id")
    assert_problem(post(hook_api, "/v1/webhooks/civicrm", json=EVENT), 404, "source")
    assert ledger_state(target) == before
