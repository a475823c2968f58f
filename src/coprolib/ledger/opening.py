"""Opening a ledger: where it is (URL resolution), connecting, migrating and key checks."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from coprolib.ledger.audit import note_digest, now_text
from coprolib.ledger.backends import Backend, PostgresBackend, SQLiteBackend
from coprolib.ledger.crypto import KEY_ENV, KeyRing
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.ledger import Ledger
from coprolib.ledger.schema import LEDGER_MARK, MIGRATIONS, SCHEMA_VERSION, Migration

#: The ledger used when nothing else names one.
DEFAULT_LEDGER_URL = "sqlite:///coprolib.db"
#: The environment variable that names the ledger.
LEDGER_ENV = "COPROLIB_LEDGER"
#: The configuration file whose top-level ``ledger`` key names the ledger.
CONFIG_FILE = "coprolib.toml"


def resolve_ledger_url(cli_value: str | None = None, config: str | Path | None = None) -> str:
    """Which ledger to use: ``cli_value`` (``--ledger``), else ``$COPROLIB_LEDGER``, else the
    ``ledger`` key of ``coprolib.toml`` (``config`` or the one in the current folder), else
    ``sqlite:///coprolib.db``."""
    if cli_value:
        return cli_value
    env = os.environ.get(LEDGER_ENV)
    if env:
        return env
    path = Path(config) if config is not None else Path(CONFIG_FILE)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LedgerError(f"{path} is not valid TOML: {exc}") from None
        value = data.get("ledger")
        if isinstance(value, str) and value:
            return value
        if value is not None:
            raise LedgerError(f"{path}: 'ledger' must be a URL such as {DEFAULT_LEDGER_URL!r}")
    return DEFAULT_LEDGER_URL


def connect(url: str, schema: str | None = None) -> Backend:
    """A backend for ``sqlite:///path``, ``postgresql://...`` or a plain file path."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url, schema=schema)
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise LedgerError(
                f"{url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return SQLiteBackend(rest[1:])
    if "://" in url:
        raise LedgerError(
            f"{url.split('://', 1)[0]!r} ledgers are not supported "
            "(use sqlite:///path.db or postgresql://...)"
        )
    return SQLiteBackend(url)


def _read_version(db: Backend) -> int | None:
    """The stored schema version, ``None`` for an empty database; raises for a database that
    is not a coprolib ledger."""
    tables = db.tables()
    if "coprolib_meta" not in tables:
        if tables:
            raise LedgerError(
                f"{db.where} is not a coprolib ledger (it has other tables: "
                f"{', '.join(sorted(tables)[:5])})"
            )
        return None
    rows = dict(
        db.query("SELECT key, value FROM coprolib_meta WHERE key IN ('ledger', 'schema_version')")
    )
    if rows.get("ledger") != LEDGER_MARK or "schema_version" not in rows:
        raise LedgerError(f"{db.where} is not a coprolib ledger (no ledger marker)")
    return int(rows["schema_version"])


def _too_new(db: Backend, version: int, known: int) -> LedgerError:
    return LedgerError(
        f"{db.where} has schema version {version}, newer than this coprolib understands "
        f"({known}); upgrade coprolib to open it"
    )


def migrate(db: Backend, migrations: tuple[Migration, ...] | None = None) -> list[int]:
    """Apply the migrations a ledger lacks, in one transaction; returns the versions applied."""
    migrations = MIGRATIONS if migrations is None else migrations
    target = migrations[-1].version
    db.begin()
    try:
        db.lock_schema()
        current = _read_version(db) or 0
        if current > target:
            raise _too_new(db, current, target)
        applied = []
        for m in migrations:
            if m.version <= current:
                continue
            for stmt in m.statements(db.dialect):
                db.execute(stmt)
            db.execute(
                "INSERT INTO coprolib_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, now_text()),
            )
            applied.append(m.version)
        if applied:
            if current == 0:
                db.execute(
                    "INSERT INTO coprolib_meta (key, value) VALUES ('ledger', ?)", (LEDGER_MARK,)
                )
            db.execute(
                "INSERT INTO coprolib_meta (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(target),),
            )
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return applied


def open_ledger(
    url: str | None = None,
    *,
    actor: str = "coprolib",
    key: str | KeyRing | None = None,
    schema: str | None = None,
    migrate_schema: bool = True,
) -> Ledger:
    """Open (creating if needed) the ledger at ``url`` (default: see :func:`resolve_ledger_url`).

    ``actor`` is written in every audit entry this handle appends. ``key`` is the
    ``COPROLIB_KEY``-style key text or a :class:`KeyRing` (default: ``$COPROLIB_KEY``); a new
    ledger opened with a key stores protected fields encrypted. ``schema`` puts a PostgreSQL
    ledger in its own schema. With ``migrate_schema=False`` an out-of-date ledger is an error
    instead of being migrated. Raises :class:`LedgerError` for a file that is not a ledger, a
    ledger newer than this code, or a key that does not match."""
    resolved = url or resolve_ledger_url(None)
    keys = (
        key
        if isinstance(key, KeyRing)
        else KeyRing.from_text(key)
        if key is not None
        else KeyRing.from_env()
    )
    db = connect(resolved, schema=schema)
    try:
        version = _read_version(db)
        if version is not None and version > SCHEMA_VERSION:
            raise _too_new(db, version, SCHEMA_VERSION)
        if version is None or version < SCHEMA_VERSION:
            if not migrate_schema and version is not None:
                raise LedgerError(
                    f"{db.where} has schema version {version}; this coprolib needs "
                    f"{SCHEMA_VERSION}: run `coprolib migrate`"
                )
            applied = migrate(db)
        else:
            applied = []
        ledger = Ledger(db, actor=actor, keys=keys)
        _setup_keys(ledger, keys, fresh=version is None)
        if applied:
            ledger._key_setup = True
            try:
                with ledger.transaction():
                    ledger._audit(
                        "migrate",
                        f"schema:{applied[-1]}",
                        migration_digest(db, applied),
                        scope="note",
                    )
            finally:
                ledger._key_setup = False
        return ledger
    except BaseException:
        db.close()
        raise


def _setup_keys(ledger: Ledger, keys: KeyRing | None, fresh: bool) -> None:
    stored = ledger._get_meta("key_id")
    if stored is not None:
        ledger._key_id = stored
        if keys is not None and stored not in keys.ids:
            raise LedgerError(
                f"{ledger.url} is encrypted with key id {stored}, but {KEY_ENV} holds key id(s) "
                f"{', '.join(keys.ids)}: wrong key"
            )
        return
    if keys is None:
        return
    if not fresh and _holds_protected(ledger):
        # Opened with a key but nothing is encrypted yet: reads work, writes are refused
        # (LedgerCore._check_key_id) until `coprolib rekey` encrypts what is there.
        return
    ledger._key_setup = True
    try:
        with ledger.transaction():
            ledger._set_meta("key_id", keys.current_id)
            ledger._audit(
                "encryption_on",
                f"ledger:key:{keys.current_id}",
                note_digest(keys.current_id),
                scope="note",
            )
    finally:
        ledger._key_setup = False
    ledger._key_id = keys.current_id


def migration_digest(db: Backend, versions: list[int]) -> str:
    """The digest a ``migrate`` audit entry records: the ``coprolib_migrations`` rows it added
    (version, name, when), so ``audit verify`` notices an edited or removed row."""
    marks = ",".join("?" * len(versions))
    rows = db.query(
        "SELECT version, name, applied_at FROM coprolib_migrations"
        f" WHERE version IN ({marks}) ORDER BY version",
        versions,
    )
    return note_digest(*(f"{v}\x1f{n}\x1f{a}" for v, n, a in rows))


def _holds_protected(ledger: Ledger) -> bool:
    db: Any = ledger._db
    row = db.query_one("SELECT 1 FROM records LIMIT 1")
    row2 = db.query_one("SELECT 1 FROM shares LIMIT 1")
    return row is not None or row2 is not None
