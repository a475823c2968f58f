"""Opening a ledger: where it is (URL resolution), connecting, migrating and key checks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from coprolib.ledger.audit import note_digest, now_text
from coprolib.ledger.backends import Backend, PostgresBackend, SQLiteBackend
from coprolib.ledger.crypto import KEY_ENV, KeyRing
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.ledger import Ledger
from coprolib.ledger.schema import LEDGER_MARK, MIGRATIONS, SCHEMA_VERSION, Migration
from coprolib.ledger.upgrades import STORY_NARROWING_VERSION, narrow_story_withdrawals

#: The ledger used when nothing else names one.
DEFAULT_LEDGER_URL = "sqlite:///coprolib.db"
#: The environment variable that names the ledger.
LEDGER_ENV = "COPROLIB_LEDGER"
#: The configuration file whose top-level ``ledger`` key names the ledger.
CONFIG_FILE = "coprolib.toml"


@attrs.frozen(kw_only=True)
class LedgerLocation:
    """Where the ledger is and how that was decided.

    ``source`` is ``"flag"`` (``--ledger``), ``"variable"`` (``$COPROLIB_LEDGER``), ``"config"``
    (the ``ledger`` key of ``config_path``) or ``"default"``. A relative SQLite path written in a
    configuration file is made absolute against the file's folder, so a scheduled job finds the
    same ledger whatever folder it starts in.
    """

    url: str
    source: str
    config_path: str | None = None

    def describe(self) -> str:
        """Where the URL came from, in words, for messages."""
        if self.source == "flag":
            return "from --ledger"
        if self.source == "variable":
            return f"from ${LEDGER_ENV}"
        if self.source == "config":
            return f"from 'ledger' in {self.config_path}"
        where = f" ({self.config_path} names none)" if self.config_path else ""
        return (
            f"the default: no --ledger, no ${LEDGER_ENV} and no ledger in a configuration"
            f" file{where}"
        )

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file this location names (None for PostgreSQL or ``:memory:``)."""
        return sqlite_file(self.url)


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL or plain path; None for PostgreSQL, ``:memory:``
    and URLs that are not valid SQLite URLs (:func:`connect` explains those)."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            return None
        path = rest[1:]
    elif "://" in url:
        return None
    else:
        path = url
    return None if path == ":memory:" else Path(path)


def locate_ledger(
    cli_value: str | None = None, config: Any = None, *, environ: Mapping[str, str] | None = None
) -> LedgerLocation:
    """Which ledger to use, and why: ``cli_value`` (``--ledger``), else ``$COPROLIB_LEDGER``
    (read from ``environ``, by default the process environment), else the ``ledger`` key of the
    configuration file, else ``sqlite:///coprolib.db``.

    ``config`` is a loaded :class:`coprolib.config.Config`, or a path to one (``--config``);
    without it the file is found as :func:`coprolib.config.find_config` does
    (``$COPROLIB_CONFIG``, then ``./coprolib.toml``). This is the one place the ledger's
    location is decided; every command and the library go through it."""
    from coprolib.config import Config, ConfigError, load_config

    if cli_value:
        return LedgerLocation(url=cli_value, source="flag")
    env = (os.environ if environ is None else environ).get(LEDGER_ENV)
    if env:
        return LedgerLocation(url=env, source="variable")
    if not isinstance(config, Config):
        try:
            config = load_config(config)
        except ConfigError as exc:
            raise LedgerError(str(exc)) from None
    if config.ledger:
        url = config.ledger
        path = sqlite_file(url)
        if path is not None and not path.is_absolute() and config.path is not None:
            base = Path(config.path).resolve().parent
            url = f"sqlite:///{base / path}"
        return LedgerLocation(url=url, source="config", config_path=config.path)
    return LedgerLocation(url=DEFAULT_LEDGER_URL, source="default", config_path=config.path)


def resolve_ledger_url(cli_value: str | None = None, config: Any = None) -> str:
    """The URL :func:`locate_ledger` decides on."""
    return locate_ledger(cli_value, config).url


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


def migrate(
    db: Backend, migrations: tuple[Migration, ...] | None = None, *, create: bool = True
) -> list[int]:
    """Apply the migrations a ledger lacks, in one transaction; returns the versions applied.
    With ``create=False`` an empty database is refused rather than made a ledger."""
    migrations = MIGRATIONS if migrations is None else migrations
    target = migrations[-1].version
    db.begin()
    try:
        db.lock_schema()
        found = _read_version(db)
        if found is None and not create:
            raise _missing(db.where, None)
        current = found or 0
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
    url: str | LedgerLocation | None = None,
    *,
    actor: str = "coprolib",
    key: str | KeyRing | None = None,
    schema: str | None = None,
    migrate_schema: bool = True,
    create: bool = True,
) -> Ledger:
    """Open the ledger at ``url`` (default: see :func:`locate_ledger`), creating it if needed.

    ``actor`` is written in every audit entry this handle appends. ``key`` is the
    ``COPROLIB_KEY``-style key text or a :class:`KeyRing` (default: ``$COPROLIB_KEY``); a new
    ledger opened with a key stores protected fields encrypted. ``schema`` puts a PostgreSQL
    ledger in its own schema. With ``migrate_schema=False`` an out-of-date ledger is an error
    instead of being migrated. With ``create=False`` a missing ledger is an error (naming the
    path and, for a :class:`LedgerLocation`, where it came from) and no file is made. Raises
    :class:`LedgerError` for a file that is not a ledger, a ledger newer than this code, or a
    key that does not match."""
    location = url if isinstance(url, LedgerLocation) else None
    resolved: str = (
        location.url
        if location is not None
        else url
        if isinstance(url, str) and url
        else resolve_ledger_url(None)
    )
    if not create:
        require_ledger(resolved, location)
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
        if version is None and not create:
            raise _missing(db.where, location)
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
        if version is not None and version < STORY_NARROWING_VERSION <= SCHEMA_VERSION:
            narrow_story_withdrawals(ledger)
        return ledger
    except BaseException:
        db.close()
        raise


class LedgerMissing(LedgerError):
    """There is no ledger where one was looked for (and none may be created there)."""


def _missing(where: str, location: LedgerLocation | None) -> LedgerError:
    came = f" ({location.describe()})" if location is not None else ""
    return LedgerMissing(
        f"there is no ledger at {where}{came}; create one with `coprolib init` or "
        "`coprolib import`, or name the right one with --ledger, $COPROLIB_LEDGER or the "
        "'ledger' key of coprolib.toml"
    )


def require_ledger(url: str, location: LedgerLocation | None = None) -> None:
    """Raise :class:`LedgerError` if ``url`` names a SQLite file that is not there, checked
    before connecting (connecting would make it)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise _missing(str(path.resolve()), location)


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


@attrs.frozen(kw_only=True)
class NewLedger:
    """What :func:`create_ledger` made: where, whether it is encrypted, and the key's id and
    source (``"generated"``, ``"file"``, ``"environment"`` or None). ``key`` is the generated
    key text when it was not written to a file (to show once), else None."""

    url: str
    encrypted: bool
    key_id: str | None
    key_source: str | None
    key: str | None = attrs.field(default=None, repr=False)


def _refuse_new_key_for_encrypted(url: str) -> None:
    """A ledger that is encrypted already keeps its key: a new one could never open it."""
    try:
        with open_ledger(url, key="", create=False, migrate_schema=False) as ledger:
            kid = ledger.key_id
    except LedgerError:
        return  # missing, or not openable as it is: opening it for real says why
    if kid is not None:
        raise LedgerError(
            f"{ledger.url} is already encrypted (key id {kid}): set {KEY_ENV} to its key"
        )


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` to a new file only its owner can read (its folder made if needed, also
    owner-only). An existing file is never overwritten."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LedgerError(f"{path} exists; a key file is never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")


def create_ledger(
    url: str, *, encrypt: bool = True, key_file: Path | None = None, actor: str = "coprolib"
) -> NewLedger:
    """Create (or open) the ledger at ``url``, encrypted by default.

    With ``encrypt``, the key in ``$COPROLIB_KEY`` is used if set; otherwise a new key is
    generated and written to ``key_file`` (owner-only) or returned in :attr:`NewLedger.key`
    for the caller to show once. Refuses to generate a key for an existing ledger that holds
    unencrypted records (``coprolib rekey`` encrypts those)."""
    from coprolib.ledger.crypto import generate_key

    key: str | None = None
    source: str | None = None
    if encrypt:
        if os.environ.get(KEY_ENV):
            if key_file is not None:
                raise LedgerError(f"{KEY_ENV} is set and will be used: leave out the key file")
            source = "environment"
        else:
            _refuse_new_key_for_encrypted(url)
            key, source = generate_key(), "generated"
    # The key is safe on disk before anything is encrypted with it.
    if key is not None and key_file is not None:
        write_key_file(key_file, key)
    try:
        with open_ledger(url, actor=actor, key="" if not encrypt else key) as ledger:
            encrypted, key_id, where = ledger.encrypted, ledger.key_id, ledger.url
        if encrypt and not encrypted:
            raise LedgerError(
                f"{where} already holds unencrypted records: set {KEY_ENV} and run "
                "`coprolib rekey` to encrypt them"
            )
    except BaseException:
        if key is not None and key_file is not None:
            key_file.unlink(missing_ok=True)
        raise
    if key is not None and key_file is not None:
        source, key = "file", None
    return NewLedger(url=where, encrypted=encrypted, key_id=key_id, key_source=source, key=key)
