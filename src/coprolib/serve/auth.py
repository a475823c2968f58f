"""Who is calling: coprolib API tokens, Microsoft Entra ID bearer tokens, signed webhooks.

An API token (``cpl_...``) is looked up by its SHA-256 in the ledger. Anything else presented
as a bearer token is, when ``[plugins.serve.entra]`` is configured, a JWT checked against the
tenant's published keys (JWKS): RS256 signature, issuer, audience and expiry; its app roles map
to scopes. Inbound webhooks are checked as Standard Webhooks signatures (HMAC-SHA256 over
``id.timestamp.body`` with the ``whsec_`` secret), within a few minutes of their timestamp.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import attrs

from coprolib.ledger.api_store import TOKEN_PREFIX, find_token
from coprolib.ledger.ledger import Ledger
from coprolib.serve.problems import Problem
from coprolib.serve.settings import EntraSettings, WebhookSource

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="coprolib"'}


@attrs.frozen(kw_only=True)
class Principal:
    """The caller: ``name`` is written in the audit as the actor of every write it makes."""

    name: str
    scopes: frozenset[str]


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, field="Authorization", headers=_CHALLENGE)


class EntraVerifier:
    """Checks Entra ID access tokens against the tenant's JWKS (keys cached by PyJWT)."""

    def __init__(self, settings: EntraSettings) -> None:
        import jwt

        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=3600, timeout=10)

    def principal(self, token: str) -> Principal:
        """The caller the token names; :class:`Problem` 401 when it does not hold."""
        import jwt

        s = self.settings
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=s.audience,
                issuer=s.issuers,
                leeway=s.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the Entra ID token has expired") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized("the Entra ID token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("the Entra ID token is from another issuer") from None
        except jwt.PyJWKClientError:
            raise _unauthorized("the Entra ID token's signing key is not the tenant's") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"the bearer token is not valid ({type(exc).__name__})") from None
        roles = claims.get("roles") or []
        scopes: set[str] = set()
        for role in roles if isinstance(roles, list) else []:
            scopes.update(s.roles.get(str(role), ()))
        who = claims.get("azp") or claims.get("appid") or claims.get("oid") or claims.get("sub")
        return Principal(name=f"entra:{who}", scopes=frozenset(scopes))


def authenticate(
    headers: Mapping[str, str], ledger: Ledger, entra: EntraVerifier | None
) -> Principal:
    """The caller presenting ``Authorization: Bearer ...``; :class:`Problem` 401 otherwise."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send Authorization: Bearer <token>")
    token = token.strip()
    if token.startswith(TOKEN_PREFIX):
        found = find_token(ledger, token)
        if found is None:
            raise _unauthorized("the API token is unknown or revoked")
        return Principal(name=found.name, scopes=frozenset(found.scopes))
    if entra is None:
        raise _unauthorized("the API token is unknown or revoked")
    return entra.principal(token)


def require(principal: Principal, scope: str) -> None:
    """:class:`Problem` 403 unless ``principal`` holds ``scope``."""
    if scope not in principal.scopes:
        raise Problem(
            403,
            f"the token {principal.name!r} does not have the {scope!r} scope",
            field="Authorization",
        )


# --- Standard Webhooks ------------------------------------------------------------------------


def _key(secret: str) -> bytes:
    text = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(500, "the webhook secret is not whsec_ followed by base64") from None


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a message (``v1,<base64 HMAC-SHA256>``)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return (
        "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
    )


def verify_webhook(
    source: WebhookSource, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str:
    """The ``webhook-id`` of a correctly signed, recent message; :class:`Problem` 401 if not."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "")
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", stamp),
        ("webhook-signature", sigs),
    ):
        if not value:
            raise Problem(401, f"the {name} header is missing", field=name)
    if len(msg_id) > 200:
        raise Problem(422, "webhook-id is longer than 200 characters", field="webhook-id")
    try:
        ts = int(stamp)
    except ValueError:
        raise Problem(
            401, "webhook-timestamp is not a Unix time", field="webhook-timestamp"
        ) from None
    moment = time.time() if now is None else now
    if abs(moment - ts) > source.tolerance_seconds:
        raise Problem(
            401, "webhook-timestamp is too far from now (replay?)", field="webhook-timestamp"
        )
    expected = sign_webhook(source.secret, msg_id, ts, body).encode()
    for sig in sigs.split():
        if hmac.compare_digest(sig.encode(), expected):
            return msg_id
    raise Problem(401, "the webhook signature does not match", field="webhook-signature")
