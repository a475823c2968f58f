"""A local stand-in for Microsoft Entra ID on ``https://127.0.0.1``, for tests and benchmarks.

msal accepts only ``https`` authorities, so :class:`LocalEntra` serves TLS with a self-signed
certificate for 127.0.0.1 that it writes to ``ca_path`` (give that to the adapter as
``http.ca_bundle``; verification stays on). It implements the small subset msal's
client-credentials flow uses when instance discovery is off:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the OpenID Connect discovery document
  (``token_endpoint``, ``authorization_endpoint``, ``issuer``);
* ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, ``client_id``,
  ``client_secret`` and ``scope=<resource>/.default``: ``{"token_type": "Bearer",
  "expires_in": N, "access_token": ...}``, or ``401 {"error": "invalid_client", ...}``.

Docs followed: https://docs.azure.cn/en-us/entra/identity-platform/scenario-daemon-acquire-token
(the client-credentials token request: the scope is the resource followed by ``/.default``) and
https://learn.microsoft.com/en-us/python/api/msal/msal.application.clientapplication (how msal
finds the token endpoint from ``<authority>/v2.0/.well-known/openid-configuration`` when instance
discovery is off). Needs ``cryptography`` (``coprolib-entra[test]``). The server plumbing is
:class:`coprolib.testing.fault_server.FaultServer` serving TLS, so its fault knobs work here too.

For the stand-ins of Microsoft services in the adapters' tests (Dataverse, Graph), it also holds
what they share: :func:`error_reply` (Microsoft's JSON error format) and :class:`LocalService`
(request counters and the ``throttle``/``throttle_items`` knobs).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import ssl
import threading
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from coprolib.testing.fault_server import FaultServer, Reply, Request


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coprolib local test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "local-entra.pem"
    key_path = directory / "local-entra.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class LocalEntra(FaultServer):
    """An HTTPS token issuer on 127.0.0.1 for one tenant; use as a context manager.

    ``register(client_id, secret)`` adds an app registration. ``expires_in`` sets the lifetime of
    new tokens. ``valid(token, scope)`` is what a resource server stand-in asks;
    ``revoke_all()`` makes every issued token invalid (to test the refresh after a 401).
    ``token_requests`` counts token requests; ``fail_next`` queues HTTP statuses to answer the
    next token requests with.
    """

    def __init__(self, directory: Path, *, tenant_id: str = "contoso-test-tenant") -> None:
        self.tenant_id = tenant_id
        self.ca_path, key_path = make_certificate(directory)
        self.expires_in = 3600
        self.token_requests = 0
        self.fail_next: list[int] = []
        self._clients: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._issuing = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_path, key_path)
        super().__init__(self._answer, ssl_context=context)

    @property
    def authority_host(self) -> str:
        """``https://127.0.0.1:<port>``: the ``authority_host`` setting for adapters."""
        return self.url

    def register(self, client_id: str, client_secret: str) -> None:
        """Add an app registration that may ask for tokens."""
        with self._issuing:
            self._clients[client_id] = client_secret

    def valid(self, token: str, scope: str | None = None) -> bool:
        """Whether ``token`` was issued (for ``scope``, if given) and not revoked."""
        with self._issuing:
            issued = self._tokens.get(token)
        return issued is not None and (scope is None or issued == scope)

    def revoke_all(self) -> None:
        """Forget every issued token."""
        with self._issuing:
            self._tokens.clear()

    def issue(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer one token request."""
        with self._issuing:
            self.token_requests += 1
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {"error": "temporarily_unavailable", "error_description": "busy"}
            if form.get("grant_type") != "client_credentials":
                return 400, _error("unsupported_grant_type", "AADSTS70003: grant not supported.")
            expected = self._clients.get(form.get("client_id", ""))
            if expected is None:
                return 400, _error("unauthorized_client", "AADSTS700016: app not found.")
            if form.get("client_secret") != expected:
                return 401, _error("invalid_client", "AADSTS7000215: Invalid client secret.")
            scope = form.get("scope", "")
            if not scope.endswith("/.default"):
                return 400, _error("invalid_scope", "AADSTS1002012: scope must be /.default.")
            token = "eyLocal." + secrets.token_urlsafe(24)
            self._tokens[token] = scope.split()[0]
            return 200, {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "access_token": token,
            }

    def discovery(self) -> dict[str, str]:
        """The OpenID Connect discovery document for the tenant."""
        base = f"{self.authority_host}/{self.tenant_id}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        }

    def _answer(self, request: Request) -> Reply:
        """The app: the discovery document on GET, tokens on POST, 400 for any other path."""
        if request.method not in ("GET", "POST"):
            return Reply(status=501)
        path = urllib.parse.urlsplit(request.path).path
        if (
            request.method == "GET"
            and path == f"/{self.tenant_id}/v2.0/.well-known/openid-configuration"
        ):
            return Reply.json(200, self.discovery())
        if request.method == "POST" and path == f"/{self.tenant_id}/oauth2/v2.0/token":
            status, data = self.issue(dict(urllib.parse.parse_qsl(request.body.decode())))
            return Reply.json(status, data)
        return Reply.json(400, _error("invalid_tenant", "AADSTS90002: Tenant not found."))


def _error(code: str, description: str) -> dict[str, Any]:
    return {"error": code, "error_description": description, "error_codes": [0]}


def error_reply(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    content_type: str = "application/json",
) -> Reply:
    """A reply in Microsoft's JSON error format, ``{"error": {"code", "message"}}``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Reply(
        status=status, body=body, headers={"Content-Type": content_type, **(headers or {})}
    )


class LocalService:
    """What the in-memory stand-ins of Microsoft services share: counters and 429 knobs.

    :meth:`throttle` makes the next whole HTTP requests answer 429, :meth:`throttle_items` the
    next requests inside a batch; each stand-in asks :meth:`next_throttle` /
    :meth:`next_item_throttle` and answers 429 in its service's own words. ``_lock`` (re-entrant)
    guards the stand-in's state.
    """

    def __init__(self) -> None:
        self.created = 0
        self.updated = 0
        self.deleted = 0
        #: HTTP requests received by kind ("batch", "PATCH", "GET", "throttled", "unauthorised").
        self.requests: Counter[str] = Counter()
        #: How many requests each batch held.
        self.batch_sizes: list[int] = []
        self._throttle: list[str] = []
        self._throttle_items: list[str] = []
        self._lock = threading.RLock()

    def throttle(self, count: int = 1, retry_after: str = "1") -> None:
        """Answer the next ``count`` HTTP requests with 429 and this ``Retry-After``."""
        with self._lock:
            self._throttle.extend([retry_after] * count)

    def throttle_items(self, count: int = 1, retry_after: str = "1") -> None:
        """Answer the next ``count`` requests inside batches with 429."""
        with self._lock:
            self._throttle_items.extend([retry_after] * count)

    def next_throttle(self) -> str | None:
        """The ``Retry-After`` for this HTTP request when it is to be throttled (and count it)."""
        with self._lock:
            if not self._throttle:
                return None
            self.requests["throttled"] += 1
            return self._throttle.pop(0)

    def next_item_throttle(self) -> str | None:
        """The ``Retry-After`` for this request inside a batch when it is to be throttled."""
        with self._lock:
            return self._throttle_items.pop(0) if self._throttle_items else None
