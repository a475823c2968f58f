"""The two storage backends behind one small interface: SQLite (embedded) and PostgreSQL.

The ledger writes its SQL once with ``?`` placeholders; :class:`PostgresBackend` turns them into
``%s``. Each backend knows how to begin a write transaction, serialise audit appends, lock rows
for the outbox, list its tables and compact its files.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from coprolib.ledger.errors import LedgerError

#: An arbitrary constant: the PostgreSQL advisory lock that serialises audit-chain appends.
_AUDIT_LOCK = 0x636F70726F
_SQLITE_MAGIC = b"SQLite format 3\x00"


class Backend:
    """A database connection the ledger drives. Subclasses fill in what differs."""

    dialect = "base"
    #: Appended to a SELECT that locks the rows it returns (PostgreSQL only).
    for_update = ""
    skip_locked = ""
    where: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns the cursor."""
        raise LedgerError("abstract backend")

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        raise LedgerError("abstract backend")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        return list(self.execute(sql, params).fetchall())

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of a query without holding them all in memory."""
        yield from self.execute(sql, params)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or ``None``."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def next_ids(self, table: str, column: str, count: int) -> list[int]:
        """``count`` unused values of ``table``'s generated integer ``column``, ascending, for
        rows this transaction is about to insert with :meth:`executemany`."""
        raise LedgerError("abstract backend")

    def bulk_insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert many rows as fast as the backend can (PostgreSQL: COPY)."""
        if rows:
            marks = ", ".join("?" * len(columns))
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def begin(self) -> None:
        """Start a write transaction."""
        self.execute("BEGIN")

    def commit(self) -> None:
        """Commit the open transaction."""
        self.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction."""
        self.execute("ROLLBACK")

    def lock_audit(self) -> None:
        """Serialise appends to the audit chain for the rest of this transaction."""

    def lock_schema(self) -> None:
        """Serialise schema migrations for the rest of this transaction."""

    def tables(self) -> set[str]:
        """Names of the tables in the ledger's schema."""
        raise LedgerError("abstract backend")

    def analyze(self) -> None:
        """Refresh the planner's statistics (during a big import, inside its transaction)."""

    def optimize(self) -> None:
        """After a commit that added or changed stories or consents: refresh the planner's
        statistics where they are missing or stale (cheap when nothing needs doing)."""

    def compact(self) -> None:
        """Rewrite the storage so deleted or overwritten content is gone from the files."""

    def close(self) -> None:
        """Close the connection."""


class SQLiteBackend(Backend):
    """SQLite in WAL mode with a busy timeout, so several processes can write in turn."""

    dialect = "sqlite"

    def __init__(self, path: str, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.where = f"sqlite:///{path}"
        if path != ":memory:":
            p = Path(path)
            if p.is_dir():
                raise LedgerError(f"{path} is a directory, not a ledger file")
            if p.exists() and p.stat().st_size > 0:
                with p.open("rb") as fh:
                    if fh.read(16) != _SQLITE_MAGIC:
                        raise LedgerError(
                            f"{path} is not a coprolib ledger (not an SQLite database file)"
                        )
            elif not p.parent.exists():
                raise LedgerError(f"cannot create a ledger at {path}: no folder {p.parent}")
        try:
            self.conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is not a usable ledger file: {exc}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; database errors become :class:`LedgerError`."""
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise LedgerError(
                f"the ledger {self.path} could not be read or written: {exc}"
            ) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows."""
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"the ledger {self.path} could not be written: {exc}") from exc

    def next_ids(self, table: str, column: str, count: int) -> list[int]:
        """The values after the largest in use: the write transaction (BEGIN IMMEDIATE) holds
        the database's only write lock, so no one else can take them before commit."""
        row = self.query_one(f"SELECT COALESCE(MAX({column}), 0) FROM {table}")
        last = int(row[0]) if row else 0
        return list(range(last + 1, last + 1 + count))

    def begin(self) -> None:
        """BEGIN IMMEDIATE: take the write lock now, waiting up to the busy timeout."""
        self.execute("BEGIN IMMEDIATE")

    def tables(self) -> set[str]:
        """Table names from ``sqlite_master``."""
        return {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def optimize(self) -> None:
        """A ledger filled by many small writes gets statistics too, so filters by reference
        start from their index: the first time there are references, ANALYZE the tables (the
        ratios it records stay right as the ledger grows); afterwards ``PRAGMA optimize``
        refreshes what went stale (usually nothing to do).

        It runs after the write has committed, so it must not fail the call: it takes the write
        lock first (BEGIN IMMEDIATE waits out the busy timeout, where a read that turns into a
        write would fail at once if another process wrote in between), and if the lock still
        cannot be had, the statistics wait for the next write."""
        try:
            self.begin()
        except LedgerError:
            return
        try:
            analysed = self.query_one(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
            ) and self.query_one("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'record_refs'")
            if analysed:
                self.execute("PRAGMA optimize")
            else:
                self.analyze()
            self.commit()
        except LedgerError:
            if self.conn.in_transaction:
                self.conn.rollback()

    def analyze(self) -> None:
        """ANALYZE the tables a big import grows: without statistics SQLite reads every record
        of a kind in order for a filter by reference (a contributor's stories) instead of
        starting from the reference index."""
        for table in ("records", "record_refs", "consent_purposes", "story_access"):
            self.execute(f"ANALYZE {table}")

    def compact(self) -> None:
        """Checkpoint the WAL, VACUUM, and truncate the WAL to nothing."""
        if self.path == ":memory:":
            return
        self._checkpoint()
        self.execute("VACUUM")
        self._checkpoint()

    def _checkpoint(self, tries: int = 50) -> None:
        """Checkpoint and truncate the WAL, retrying for a few seconds while another
        connection's read keeps it busy (its old pages would otherwise stay in the WAL)."""
        for _ in range(tries):
            row = self.query_one("PRAGMA wal_checkpoint(TRUNCATE)")
            if row is None or not row[0]:
                return
            time.sleep(0.1)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


_PLACEHOLDER = re.compile(r"\?")


class PostgresBackend(Backend):
    """PostgreSQL through psycopg 3, optionally in its own schema."""

    dialect = "postgres"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, schema: str | None = None, connect_timeout: int = 10) -> None:
        try:
            import psycopg
        except ImportError:
            raise LedgerError(
                "a postgresql:// ledger needs psycopg: pip install 'coprolib[postgres]'"
            ) from None
        # Imported here: opening a SQLite ledger need not load the configuration package.
        from coprolib.config.secrets import mask_url

        self._psycopg = psycopg
        self.where = mask_url(url)
        self._sql_cache: dict[str, str] = {}
        self._cursors = 0
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise LedgerError(f"cannot connect to the ledger at {self.where}: {exc}") from None
        if schema is not None:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
                raise LedgerError(f"{schema!r} is not a plain schema name")
            self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.conn.execute(f'SET search_path TO "{schema}"')

    def _sql(self, sql: str) -> str:
        out = self._sql_cache.get(sql)
        if out is None:
            out = self._sql_cache[sql] = _PLACEHOLDER.sub("%s", sql)
        return out

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; database errors become :class:`LedgerError`."""
        psycopg = self._psycopg
        try:
            return self.conn.execute(self._sql(sql), params)
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise LedgerError(
                f"the ledger at {self.where} could not be read or written: {exc}"
            ) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows (psycopg pipelines them)."""
        psycopg = self._psycopg
        try:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise LedgerError(f"the ledger at {self.where} could not be written: {exc}") from exc

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor, a few thousand at a time."""
        self._cursors += 1
        with self.conn.cursor(name=f"coprolib_stream_{self._cursors}", withhold=True) as cur:
            cur.itersize = 2000
            cur.execute(self._sql(sql), params)
            yield from cur

    def next_ids(self, table: str, column: str, count: int) -> list[int]:
        """Values taken from the column's sequence in one round trip (never handed out twice,
        even to concurrent transactions)."""
        rows = self.query(
            "SELECT nextval(pg_get_serial_sequence(?, ?)) FROM generate_series(1, ?)",
            (table, column, count),
        )
        return sorted(int(r[0]) for r in rows)

    def bulk_insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """COPY the rows in: far fewer round trips than INSERTs."""
        if not rows:
            return
        psycopg = self._psycopg
        try:
            with (
                self.conn.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise LedgerError(f"the ledger at {self.where} could not be written: {exc}") from exc

    def analyze(self) -> None:
        """ANALYZE the tables a big import grows, so the planner keeps using the indexes for the
        reference and duplicate checks instead of scanning tables it thinks are empty."""
        self.execute("ANALYZE records, record_refs, consent_purposes, story_access")

    def lock_audit(self) -> None:
        """A transaction-scoped advisory lock: one audit append at a time."""
        self.execute("SELECT pg_advisory_xact_lock(?)", (_AUDIT_LOCK,))

    def lock_schema(self) -> None:
        """A transaction-scoped advisory lock for migrations."""
        self.execute("SELECT pg_advisory_xact_lock(?)", (_AUDIT_LOCK + 1,))

    def tables(self) -> set[str]:
        """Table names in the current schema."""
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    def compact(self) -> None:
        """VACUUM FULL the tables that hold personal content, so no dead row version keeps
        it in the table files (the server's WAL archive and backups age out on their own)."""
        for table in ("records", "consent_events", "shares", "receipts", "jobs"):
            self.execute(f"VACUUM FULL {table}")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def is_integrity_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a uniqueness/constraint violation from either backend."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.errors.IntegrityError)
