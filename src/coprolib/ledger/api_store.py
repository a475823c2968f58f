"""What ``coprolib serve`` keeps in the ledger: API tokens (hashed) and answered requests.

A token is ``cpl_`` followed by 43 URL-safe characters (32 random bytes); only its SHA-256 is
stored, so the ledger cannot give it back. Creating and revoking a token are notes in the audit
chain. ``api_replays`` remembers the answer to each ``Idempotency-Key`` and each inbound webhook
id, so that a repeat returns the first answer and writes nothing; it decides nothing about what
may be shared (see ``docs/serve.md``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

import attrs

from coprolib.errors import CoprolibError
from coprolib.ledger.audit import note_digest, now_text
from coprolib.ledger.ledger import Ledger

#: The scopes a token may carry.
SCOPES = ("read", "records:write", "consent:write", "feedback:write")
#: What every token starts with, so a leaked one is recognisable (and told apart from a JWT).
TOKEN_PREFIX = "cpl_"


class TokenError(CoprolibError, ValueError):
    """A token that cannot be created, found or revoked."""


@attrs.frozen(kw_only=True)
class ApiToken:
    """A stored token: its name (the audit actor), scopes and dates; never the token itself."""

    name: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the token is still accepted."""
        return self.revoked_at is None


def token_hash(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_.@" for c in name):
        raise TokenError(
            f"token name {name!r}: use 1-64 letters, digits, '-', '_', '.' or '@' "
            "(it is written in the audit as the actor)"
        )
    return name


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    given = tuple(dict.fromkeys(scopes))
    if not given:
        raise TokenError(f"scopes: give at least one of {', '.join(SCOPES)}")
    for s in given:
        if s not in SCOPES:
            raise TokenError(f"scopes: {s!r} is not one of {', '.join(SCOPES)}")
    return given


def create_token(ledger: Ledger, name: str, scopes: Iterable[str]) -> str:
    """Store a new token called ``name`` with ``scopes`` and return it (the only time it is
    shown). Raises :class:`TokenError` for a bad name or scope, or a name already used."""
    name = _check_name(name)
    given = _check_scopes(scopes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ledger.transaction():
        db = ledger._db
        if db.query_one("SELECT 1 FROM api_tokens WHERE name = ?", (name,)) is not None:
            raise TokenError(f"token name {name!r} is already used (revoke it or pick another)")
        db.execute(
            "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
            (name, token_hash(token), " ".join(given), now_text()),
        )
        ledger._audit("token_create", f"token:{name}", note_digest(name, *given), scope="note")
    return token


def revoke_token(ledger: Ledger, name: str) -> ApiToken:
    """Revoke the token called ``name``; from now on it is refused."""
    with ledger.transaction():
        db = ledger._db
        row = db.query_one("SELECT revoked_at FROM api_tokens WHERE name = ?", (name,))
        if row is None:
            raise TokenError(f"there is no token called {name!r}")
        if row[0] is None:
            db.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ?", (now_text(), name))
            ledger._audit("token_revoke", f"token:{name}", note_digest(name), scope="note")
    found = [t for t in list_tokens(ledger) if t.name == name]
    return found[0]


def list_tokens(ledger: Ledger) -> list[ApiToken]:
    """Every token, by name (active and revoked)."""
    rows = ledger._db.query(
        "SELECT name, scopes, created_at, revoked_at FROM api_tokens ORDER BY name"
    )
    return [
        ApiToken(
            name=str(r[0]),
            scopes=tuple(str(r[1]).split()),
            created_at=str(r[2]),
            revoked_at=None if r[3] is None else str(r[3]),
        )
        for r in rows
    ]


def find_token(ledger: Ledger, token: str) -> ApiToken | None:
    """The active token ``token`` is, or ``None``."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = ledger._db.query_one(
        "SELECT name, scopes, created_at FROM api_tokens"
        " WHERE token_hash = ? AND revoked_at IS NULL",
        (token_hash(token),),
    )
    if row is None:
        return None
    return ApiToken(name=str(row[0]), scopes=tuple(str(row[1]).split()), created_at=str(row[2]))


# --- answered requests ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Replay:
    """The first answer given to a request key."""

    request_digest: str
    status: int
    body: str


def find_replay(ledger: Ledger, key: str) -> Replay | None:
    """The answer stored under ``key``, or ``None``."""
    row = ledger._db.query_one(
        "SELECT request_digest, status, body FROM api_replays WHERE key = ?", (key,)
    )
    if row is None:
        return None
    return Replay(request_digest=str(row[0]), status=int(row[1]), body=str(row[2]))


def remember_replay(ledger: Ledger, key: str, request_digest: str, status: int, body: str) -> None:
    """Inside the request's transaction: store its answer under ``key`` (a second writer of
    the same key fails on the primary key, and its transaction is rolled back)."""
    ledger._require_tx()
    ledger._db.execute(
        "INSERT INTO api_replays (key, request_digest, status, body, at) VALUES (?, ?, ?, ?, ?)",
        (key, request_digest, status, body, now_text()),
    )
