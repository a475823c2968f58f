"""The ``[plugins.serve]`` table of ``coprolib.toml``: limits, CORS, Entra ID and webhooks.

```toml
[plugins.serve]
max_body_bytes = 10485760          # larger requests get 413
cors_origins = []                  # CORS stays off unless origins are listed
pool = 4                           # ledger handles, one per request in flight

[plugins.serve.entra]              # Microsoft Entra ID bearer tokens (optional)
tenant_id = "0b2a6c9e-4f1d-4c8e-9a57-3f1e2d4c5b6a"
audience = "api://coprolib-northdale"
roles = { "Coprolib.Read" = ["read"], "Coprolib.Consent" = ["read", "consent:write"] }
# issuers default to the tenant's v2.0 and v1.0 ones; jwks_url to its published keys

[plugins.serve.webhooks.mosaic]    # POST /v1/webhooks/mosaic, Standard Webhooks signed
secret = "$env:MOSAIC_WEBHOOK_SECRET"
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from coprolib.config import Config, ConfigError, SecretRef
from coprolib.ledger.api_store import SCOPES

_KEYS = {"max_body_bytes", "cors_origins", "pool", "entra", "webhooks"}
_ENTRA_KEYS = {"tenant_id", "audience", "issuers", "jwks_url", "roles", "leeway_seconds"}
_WEBHOOK_KEYS = {"secret", "tolerance_seconds"}
#: Where the body of a request is refused (413) by default: 10 MiB.
DEFAULT_MAX_BODY = 10 * 1024 * 1024


@attrs.frozen(kw_only=True)
class EntraSettings:
    """How Entra ID bearer tokens are checked (see :mod:`coprolib.serve.auth`)."""

    tenant_id: str
    audience: str
    #: Accepted ``iss`` values: Entra ID issues v2.0 tokens, or v1.0 ones when the API's app
    #: registration leaves ``accessTokenAcceptedVersion`` unset.
    issuers: tuple[str, ...]
    jwks_url: str
    roles: Mapping[str, tuple[str, ...]]
    leeway_seconds: int = 60


@attrs.frozen(kw_only=True)
class WebhookSource:
    """One system allowed to push events; ``secret`` is the ``whsec_...`` signing secret."""

    name: str
    secret: str = attrs.field(repr=False)
    tolerance_seconds: int = 300


@attrs.frozen(kw_only=True)
class ServeSettings:
    """Everything ``coprolib serve`` reads from the configuration."""

    max_body_bytes: int = DEFAULT_MAX_BODY
    cors_origins: tuple[str, ...] = ()
    pool: int = 4
    entra: EntraSettings | None = None
    webhooks: Mapping[str, WebhookSource] = attrs.field(factory=dict)


def _fail(key: str, message: str, config: Config) -> ConfigError:
    return ConfigError(f"plugins.serve.{key}", message, path=config.path)


def _secret(value: Any, key: str, config: Config, environ: Mapping[str, str]) -> str:
    try:
        return SecretRef.require(value).resolve(environ)
    except ValueError as exc:
        raise _fail(key, str(exc), config) from None


def _check(table: Any, known: set[str], key: str, config: Config) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise _fail(key, "must be a table", config)
    for k in table:
        if k not in known:
            where = f"{key}.{k}" if key else str(k)
            raise _fail(where, f"unknown key (known: {', '.join(sorted(known))})", config)
    return table


def _entra(raw: Any, config: Config) -> EntraSettings:
    table = _check(raw, _ENTRA_KEYS, "entra", config)
    for k in ("tenant_id", "audience"):
        if not isinstance(table.get(k), str) or not table[k].strip():
            raise _fail(f"entra.{k}", "is required", config)
    tenant = table["tenant_id"]
    given = table.get("issuers", [])
    if not isinstance(given, list) or not all(isinstance(i, str) and i for i in given):
        raise _fail("entra.issuers", "must be a list of issuer URLs", config)
    roles_raw = _check(table.get("roles", {}), set(table.get("roles", {})), "entra.roles", config)
    roles: dict[str, tuple[str, ...]] = {}
    for role, scopes in roles_raw.items():
        if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes):
            raise _fail(f"entra.roles.{role}", f"must list scopes from {', '.join(SCOPES)}", config)
        roles[role] = tuple(scopes)
    return EntraSettings(
        tenant_id=tenant,
        audience=table["audience"],
        issuers=tuple(
            table.get(
                "issuers",
                [
                    f"https://login.microsoftonline.com/{tenant}/v2.0",
                    f"https://sts.windows.net/{tenant}/",
                ],
            )
        ),
        jwks_url=table.get(
            "jwks_url", f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
        ),
        roles=roles,
        leeway_seconds=int(table.get("leeway_seconds", 60)),
    )


def _is_signing_secret(secret: str) -> bool:
    import base64
    import binascii

    if not secret.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(secret[6:], validate=True)) >= 16
    except (binascii.Error, ValueError):
        return False


def serve_settings(config: Config, environ: Mapping[str, str] | None = None) -> ServeSettings:
    """The serve settings in ``config`` (defaults when there is no ``[plugins.serve]``).
    Raises :class:`ConfigError` naming the key; secrets are read from the environment."""
    env = os.environ if environ is None else environ
    table = _check(config.plugins.get("serve", {}), _KEYS, "", config)
    max_body = table.get("max_body_bytes", DEFAULT_MAX_BODY)
    if not isinstance(max_body, int) or max_body < 1024:
        raise _fail("max_body_bytes", "must be a whole number of bytes, at least 1024", config)
    origins = table.get("cors_origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise _fail("cors_origins", "must be a list of origins", config)
    pool = table.get("pool", 4)
    if not isinstance(pool, int) or not 1 <= pool <= 64:
        raise _fail("pool", "must be a whole number from 1 to 64", config)
    hooks: dict[str, WebhookSource] = {}
    for name, raw in _check(
        table.get("webhooks", {}), set(table.get("webhooks", {})), "webhooks", config
    ).items():
        t = _check(raw, _WEBHOOK_KEYS, f"webhooks.{name}", config)
        secret = _secret(t.get("secret"), f"webhooks.{name}.secret", config, env)
        if not _is_signing_secret(secret):
            raise _fail(
                f"webhooks.{name}.secret",
                "the variable does not hold a signing secret (whsec_ followed by base64)",
                config,
            )
        hooks[name] = WebhookSource(
            name=name,
            secret=secret,
            tolerance_seconds=int(t.get("tolerance_seconds", 300)),
        )
    return ServeSettings(
        max_body_bytes=max_body,
        cors_origins=tuple(origins),
        pool=pool,
        entra=_entra(table["entra"], config) if "entra" in table else None,
        webhooks=hooks,
    )
