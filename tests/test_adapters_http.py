"""The shared HTTP plumbing: Retry-After, status classes, transport errors, token refresh."""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from typing import Any

import attrs
import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from coprolib.adapters import (
    Adapter,
    AuthError,
    Capabilities,
    ConfigError,
    DeliveryResult,
    PermanentError,
    RetryableError,
    Secret,
    Status,
    ThrottledError,
)
from coprolib.adapters.http import (
    ClientCredentials,
    HttpClient,
    HttpOptions,
    StaticToken,
    check_endpoint,
    classify_status,
    parse_retry_after,
)
from coprolib.adapters.secrets import LOG_FILTER, protect_logging
from coprolib.config import MASK
from coprolib.records import Share
from coprolib.testing.fault_server import FaultServer, Reply, Request
from coprolib.testing.shares import make_share


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 0 ") == 0


def test_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert parse_retry_after(when) == pytest.approx(30, abs=2)
    past = email.utils.formatdate(time.time() - 300, usegmt=True)
    assert parse_retry_after(past) == 0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5e999x"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, Status.OK),
        (204, Status.OK),
        (301, Status.PERMANENT),
        (400, Status.PERMANENT),
        (401, Status.AUTH),
        (403, Status.AUTH),
        (404, Status.PERMANENT),
        (409, Status.CONFLICT),
        (410, Status.PERMANENT),
        (412, Status.CONFLICT),
        (429, Status.THROTTLED),
        (500, Status.RETRYABLE),
        (502, Status.RETRYABLE),
        (503, Status.RETRYABLE),
        (599, Status.RETRYABLE),
    ],
)
def test_status_classes(code: int, status: Status) -> None:
    assert classify_status(code) is status


def test_overrides_win() -> None:
    assert classify_status(410, {410: Status.DISABLED}) is Status.DISABLED


def test_client_raises_classified_errors(fault_server: FaultServer) -> None:
    client = HttpClient(base_url=fault_server.url, options=HttpOptions(read_timeout=0.3))
    fault_server.retry_after = "11"
    fault_server.slow_seconds = 1.0
    cases = [
        ("500", RetryableError),
        ("429", ThrottledError),
        ("reset", RetryableError),
        ("slow", RetryableError),
        ("410", PermanentError),
        ("401", AuthError),
    ]
    for fault, error in cases:
        fault_server.force(fault)
        with pytest.raises(error) as caught:
            client.request("POST", "/x", json={})
        if fault == "429":
            assert caught.value.retry_after == 11
    assert client.request("GET", "/ok").json() == {"id": "1"}
    client.close()


def test_client_reuses_pooled_connections(fault_server: FaultServer) -> None:
    ports: set[int] = set()

    def app(request: Request) -> Reply:
        ports.add(threading.get_ident())
        return Reply.json(200, {})

    fault_server.app = app
    with requests.Session() as probe:
        assert probe.verify is True
    client = HttpClient(base_url=fault_server.url)
    assert client.session.verify is True
    for _ in range(20):
        client.request("GET", "/")
    # ThreadingHTTPServer runs one thread per connection: one connection served all 20.
    assert len(ports) == 1
    client.close()


class _TokenServer:
    """A token endpoint and an API that accepts only the latest token."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.issued = 0
        self.lifetime = lifetime
        self.revoked = False

    def app(self, request: Request) -> Reply:
        if request.path == "/token":
            form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
            if form.get("client_secret") != "s3cret-value":
                return Reply.json(401, {"error": "invalid_client"})
            self.issued += 1
            return Reply.json(
                200, {"access_token": f"tok{self.issued}", "expires_in": self.lifetime}
            )
        auth = request.headers.get("authorization", "")
        if self.revoked and auth == "Bearer tok1":
            return Reply(status=401)
        if auth.startswith("Bearer tok"):
            return Reply.json(200, {"token": auth})
        return Reply(status=401)


def _credentials(server: FaultServer, secret: str = "s3cret-value", **kw: Any) -> ClientCredentials:
    return ClientCredentials(
        f"{server.url}/token", "client-1", Secret(secret, "$env:CLIENT_SECRET"), **kw
    )


def test_token_refreshed_once_on_401(fault_server: FaultServer) -> None:
    tokens = _TokenServer()
    fault_server.app = tokens.app
    client = HttpClient(base_url=fault_server.url, token_source=_credentials(fault_server))
    assert client.request("GET", "/api").json() == {"token": "Bearer tok1"}
    tokens.revoked = True
    assert client.request("GET", "/api").json() == {"token": "Bearer tok2"}
    assert tokens.issued == 2


def test_token_refreshed_on_expiry(fault_server: FaultServer) -> None:
    tokens = _TokenServer(lifetime=100)
    fault_server.app = tokens.app
    now = [0.0]
    source = _credentials(fault_server, skew=10, clock=lambda: now[0])
    assert source.token() == "tok1"
    now[0] = 89.0
    assert source.token() == "tok1"
    now[0] = 91.0
    assert source.token() == "tok2"


def test_refused_credentials_are_an_auth_error_without_the_secret(
    fault_server: FaultServer,
) -> None:
    fault_server.app = _TokenServer().app
    client = HttpClient(
        base_url=fault_server.url, token_source=_credentials(fault_server, secret="wrong-secret")
    )
    with pytest.raises(AuthError) as caught:
        client.request("GET", "/api")
    assert "wrong-secret" not in str(caught.value)


def test_static_token_is_sent(fault_server: FaultServer) -> None:
    fault_server.app = _TokenServer().app
    client = HttpClient(base_url=fault_server.url, token_source=StaticToken(Secret("tok9")))
    assert client.request("GET", "/api").json() == {"token": "Bearer tok9"}


# --- secrets and the base class -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Cfg:
    url: str
    api_key: Secret
    fallback_keys: tuple[Secret, ...] = ()


class _Echo(Adapter[_Cfg]):
    name = "echo"
    config_class = _Cfg
    capabilities = Capabilities(max_batch_size=5)

    def deliver_one(self, share: Share) -> DeliveryResult:
        if share.id == "boom":
            raise RuntimeError(f"bad key {self.config.api_key.reveal()}")
        return DeliveryResult(
            share_id=share.id, idempotency_key=share.idempotency_key, status=Status.OK
        )


def test_env_secrets_resolved_at_construction_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_KEY", "k-123456")
    monkeypatch.setenv("ECHO_OLD", "k-old-999")
    adapter = _Echo(
        {
            "url": "https://x.invalid",
            "api_key": "$env:ECHO_KEY",
            "fallback_keys": ["$env:ECHO_OLD"],
        },
        destination="echo-1",
    )
    assert adapter.config.api_key.reveal() == "k-123456"
    assert adapter.config.fallback_keys[0].reveal() == "k-old-999"
    shown = repr(adapter.describe()) + repr(adapter.config) + str(adapter.config)
    assert "k-123456" not in shown and "k-old-999" not in shown
    assert adapter.describe()["settings"]["api_key"] == "$env:ECHO_KEY"
    result = adapter.deliver([make_share("boom"), make_share("fine")])
    assert [r.status for r in result] == [Status.RETRYABLE, Status.OK]
    assert "k-123456" not in (result[0].message or "")
    assert MASK in (result[0].message or "")


def test_literal_secret_in_config_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        _Echo({"url": "u", "api_key": "plain-text-key"}, destination="echo-1")
    assert "destinations.echo-1.settings.api_key" in str(caught.value)
    assert "plain-text-key" not in str(caught.value)


def test_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ConfigError, match="NOPE_KEY"):
        _Echo({"url": "u", "api_key": "$env:NOPE_KEY"}, destination="echo-1")


def test_capabilities_validate() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        Capabilities(max_batch_size=0)


def test_secret_in_a_url_path_is_masked_in_urllib3_logs(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret_path = "/hooks/s3cr3t-incoming-token"
    client = HttpClient(
        base_url=fault_server.url, redact=lambda text: text.replace("s3cr3t-incoming-token", "***")
    )
    undo = protect_logging(caplog.handler)  # as a host does where it sets up logging
    try:
        with caplog.at_level(logging.DEBUG, logger="urllib3"):
            client.request("POST", secret_path, json={})
    finally:
        undo()
    assert "/hooks/***" in caplog.text
    assert "s3cr3t-incoming-token" not in caplog.text
    client.close()


def test_importing_coprolib_leaves_other_libraries_loggers_alone() -> None:
    import coprolib.adapters.http  # noqa: F401

    for name in ("urllib3.connectionpool", "urllib3", "requests", ""):
        assert LOG_FILTER not in logging.getLogger(name).filters, name
    assert LOG_FILTER in logging.getLogger("coprolib.delivery").filters  # our own logger


def test_one_filter_masks_urls_paths_and_headers(caplog: pytest.LogCaptureFixture) -> None:
    sig = "Qm9vdHN0cmFwLWZpY3Rpb25hbC1zaWduYXR1cmU"
    teams = (
        "https://prod-12.uksouth.logic.azure.com:443/workflows/0f1e2d3c/triggers/manual/paths/"
        f"invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
    )
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fictional.payload"
    log = logging.getLogger("urllib3.connectionpool")
    undo = protect_logging("urllib3.connectionpool")
    try:
        with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
            log.debug('"POST %s HTTP/1.1" 202 0', teams)
            log.debug("headers: %s", {"Authorization": f"Bearer {token}", "api-key": "k-9f8e7d"})
            log.debug("proxy https://svc:pa55w0rd-fictional@proxy.example.org:3128")
            try:
                raise RuntimeError(f"failed calling {teams}")
            except RuntimeError:
                log.exception("request failed")
    finally:
        undo()
    text = caplog.text
    for secret in (sig, token, "k-9f8e7d", "pa55w0rd-fictional"):
        assert secret not in text, secret
    assert f"sig={MASK}" in text and "api-version=2016-06-01" in text
    assert LOG_FILTER not in log.filters  # undone


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.org/api",
        "http://127.0.0.1:8080/hooks",
        "http://localhost/x",
        "http://[::1]:9/",
    ],
)
def test_check_endpoint_accepts_https_and_loopback_http(url: str) -> None:
    check_endpoint(url, "url")


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.org/api",
        "ftp://127.0.0.1/",
        "https://",
        "crm.example.org",
        # names that look like loopback addresses: anyone can point them anywhere
        "http://127.evil.example/",
        "http://127.0.0.1.evil.example/hooks",
        "http://localhost.evil.example/",
        "http://[::ffff:10.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_check_endpoint_refuses_plain_http_across_a_network(url: str) -> None:
    with pytest.raises(ValueError, match=r"^url: .* must be an https:// URL"):
        check_endpoint(url, "url")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/x", "http://127.8.9.10/", "http://[::1]:9/", "http://LOCALHOST/"]
)
def test_check_endpoint_loopback_is_what_ipaddress_calls_loopback(url: str) -> None:
    check_endpoint(url, "url")


def test_error_reply_body_is_kept_cut_short_and_without_secrets() -> None:
    secret = "Xk3vQ9-fictional-token-Zr7"
    echo = f"rejected: token {secret} and " + "Pellucid-Harrowgate " * 40

    def app(request: Request) -> Reply:
        return Reply(status=400, body=echo.encode())

    with FaultServer(app) as server:
        client = HttpClient(base_url=server.url, redact=lambda t: t.replace(secret, "***"))
        with pytest.raises(PermanentError) as caught:
            client.request("POST", "/records", data=b"{}")
        client.close()
    message = caught.value.message
    assert message.startswith("HTTP 400 Bad Request: rejected: token *** and Pellucid-Harrowgate")
    assert len(message) < 200 and secret not in message


def test_check_endpoint_can_hide_a_secret_url() -> None:
    with pytest.raises(ValueError) as err:
        check_endpoint("http://hooks.example.org/secret-token", "webhook_url", shown="$env:HOOK")
    assert "secret-token" not in str(err.value) and "$env:HOOK" in str(err.value)


@given(st.ip_addresses())
def test_loopback_is_exactly_what_ipaddress_says(address: Any) -> None:
    from coprolib.adapters.http import is_loopback

    host = f"[{address}]" if address.version == 6 else str(address)
    assert is_loopback(host) is address.is_loopback


@given(st.from_regex(r"127(\.[a-z0-9-]{1,10}){1,4}", fullmatch=True))
def test_names_that_start_like_loopback_are_not_loopback(host: str) -> None:
    from coprolib.adapters.http import is_loopback

    assume(not all(part.isdigit() for part in host.split(".")))
    assert not is_loopback(host)
