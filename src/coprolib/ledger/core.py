"""The ledger's foundation: connection, transactions, encryption of fields and audit appends.

:class:`LedgerCore` is what every part of :class:`~coprolib.ledger.Ledger` builds on. A write
happens inside :meth:`LedgerCore.transaction`; audit entries collected during it are appended
in one go just before commit, under a lock, so the chain stays linear with several writers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from coprolib.ledger.audit import GENESIS, entry_hash, now_text, rows_digest, rows_list
from coprolib.ledger.backends import Backend
from coprolib.ledger.codec import dumps, map_protected
from coprolib.ledger.crypto import KEY_ENV, PREFIX, KeyRing
from coprolib.ledger.errors import LedgerError
from coprolib.records.convert import StructureError, structure

#: Buffered audit entries written early (inside the transaction) once this many pile up.
_AUDIT_SPILL = 5000

#: A reference still to be checked before commit: (record kind, record id, field, kind, id).
PendingRef = tuple[str, str, str, str, str]


class TransactionHooks(Protocol):
    """What a store that keeps per-transaction state is told by the core it is registered with
    (``core._tx_hooks``)."""

    def reset_tx(self) -> None:
        """A transaction begins or has ended: drop what the last one kept."""

    def refresh_access(self, story_ids: list[str]) -> None:
        """Just before commit: bring the theme/purpose index up to date for these stories."""


class LedgerCore:
    """Connection, transactions, field encryption and the audit buffer."""

    def __init__(self, backend: Backend, *, actor: str, keys: KeyRing | None) -> None:
        self._db = backend
        self.actor = actor
        self._keys = keys
        self._depth = 0
        self._doomed = False
        self._audit_buf: list[tuple[str, str, str, str]] = []
        self._tx_ids: dict[str, set[str]] = {}
        self._pending: list[PendingRef] = []
        #: Stories whose theme/purpose index must be recomputed before commit.
        self._access_dirty: set[str] = set()
        self._compact_after = False
        self._key_id: str | None = None
        #: Set while writes that must pass on a plaintext ledger opened with a key run
        #: (turning encryption on, rekey, the migration note).
        self._key_setup = False
        #: Stores told when a transaction begins and ends and just before it commits.
        self._tx_hooks: list[TransactionHooks] = []

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where this ledger lives (passwords masked)."""
        return self._db.where

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgres"``."""
        return self._db.dialect

    @property
    def encrypted(self) -> bool:
        """Whether protected fields are stored encrypted."""
        return self._key_id is not None

    @property
    def key_id(self) -> str | None:
        """The id of the key the ledger was last (re)keyed with, if it is encrypted."""
        return self._key_id

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> LedgerCore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block. Nested calls join the outer transaction; if any part fails,
        nothing of the outer transaction is written."""
        if self._depth:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._doomed = True
                raise
            finally:
                self._depth -= 1
            return
        self._db.begin()
        self._depth = 1
        self._reset_tx()
        try:
            self._check_key_id()
            yield
            if self._doomed:
                raise LedgerError("part of this transaction failed, so none of it was written")
            self._check_pending_refs()
            grew = bool(self._access_dirty)
            if grew:
                dirty = sorted(self._access_dirty)
                for hook in self._tx_hooks:
                    hook.refresh_access(dirty)
            self._flush_audit()
            self._db.commit()
        except BaseException:
            self._db.rollback()
            self._compact_after = False
            raise
        finally:
            self._depth = 0
            self._reset_tx()
        if grew:
            self._db.optimize()
        if self._compact_after:
            self._compact_after = False
            self._db.compact()

    def _check_key_id(self) -> None:
        """Read the stored key id inside this write transaction (locked against a concurrent
        ``rekey``), so a handle opened before a rekey never writes with the old key."""
        if self._db.dialect == "postgres":
            # A share lock on the marker row (always there) and the key id row: `rekey` takes
            # the marker row for update first, so it waits for writers in flight and they
            # wait for it, whether or not the ledger was encrypted before.
            rows = dict(
                self._db.query(
                    "SELECT key, value FROM coprolib_meta WHERE key IN ('ledger', 'key_id')"
                    " FOR SHARE"
                )
            )
            stored = rows.get("key_id")
        else:  # BEGIN IMMEDIATE already holds SQLite's only write lock
            stored = self._get_meta("key_id")
        if stored != self._key_id:
            if stored is not None and self._keys is not None and stored in self._keys.ids:
                self._key_id = stored  # rekeyed by another process to a key we hold
            elif stored is not None:
                raise LedgerError(
                    f"the ledger was re-keyed to key id {stored} after this handle opened it, "
                    f"and {KEY_ENV} does not hold that key: set {KEY_ENV} to the new key and "
                    "open the ledger again"
                )
            else:
                raise LedgerError(
                    "the ledger's key id was removed after this handle opened it; "
                    "run `coprolib audit verify`"
                )
        if self._key_id is None and self._keys is not None and not self._key_setup:
            raise LedgerError(
                f"{KEY_ENV} is set but this ledger is not encrypted: run `coprolib rekey` to "
                f"encrypt it, or unset {KEY_ENV}"
            )

    def _compact_when_committed(self) -> None:
        """Compact the storage now, or right after the enclosing transaction commits."""
        if self._depth:
            self._compact_after = True
        else:
            self._db.compact()

    def _reset_tx(self) -> None:
        self._doomed = False
        self._audit_buf = []
        self._tx_ids = {}
        self._pending = []
        self._access_dirty = set()
        for hook in self._tx_hooks:
            hook.reset_tx()

    def _require_tx(self) -> None:
        if not self._depth:
            raise LedgerError("internal: a write outside a transaction")

    # --- references checked at commit -----------------------------------------------------

    def _first_column_in(self, sql: str, params: tuple[Any, ...], ids: list[str]) -> set[str]:
        """First-column values of ``sql`` (ending in a condition ``{col} {in}``) for ``ids``:
        PostgreSQL in one query with the ids as one array; SQLite in slices of 500 bound
        parameters (its limit on parameters per statement)."""
        found: set[str] = set()
        if not ids:
            return found
        if self._db.dialect == "postgres":
            rows = self._db.query(sql.format(in_="= ANY(?)"), (*params, ids))
            return {r[0] for r in rows}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.query(sql.format(in_=f"IN ({marks})"), (*params, *chunk))
            found.update(r[0] for r in rows)
        return found

    def _update_in(
        self, sql: str, params: tuple[Any, ...], column: str, ids: Sequence[Any]
    ) -> None:
        """Run ``sql`` (an UPDATE without WHERE) for the rows whose ``column`` is in ``ids``:
        one statement per slice of ids rather than one execution per row."""
        if not ids:
            return
        if self._db.dialect == "postgres":
            self._db.execute(f"{sql} WHERE {column} = ANY(?)", (*params, list(ids)))
            return
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            self._db.execute(f"{sql} WHERE {column} IN ({marks})", (*params, *chunk))

    def _existing_ids(self, kind: str, ids: list[str]) -> set[str]:
        return self._first_column_in(
            "SELECT id FROM records WHERE kind = ? AND id {in_}", (kind,), ids
        )

    def _check_pending_refs(self) -> None:
        if not self._pending:
            return
        wanted: dict[str, set[str]] = {}
        for _kind, _id, _field, ref_kind, ref_id in self._pending:
            if ref_id not in self._tx_ids.get(ref_kind, ()):
                wanted.setdefault(ref_kind, set()).add(ref_id)
        found = {k: self._existing_ids(k, sorted(v)) for k, v in wanted.items()}
        for kind, rec_id, field, ref_kind, ref_id in self._pending:
            if ref_id in self._tx_ids.get(ref_kind, ()) or ref_id in found.get(ref_kind, ()):
                continue
            raise LedgerError(
                f"refers to {ref_kind} {ref_id!r}, which is not in the ledger",
                record=f"{kind} {rec_id!r}",
                field=field,
            )

    # --- protected fields ---------------------------------------------------------------

    def _ring(self, where: str) -> KeyRing:
        if self._keys is None:
            raise LedgerError(
                f"this ledger is encrypted (key id {self._key_id}); set {KEY_ENV} to its key",
                record=where,
            )
        return self._keys

    def _encode(self, table: str, kind: str, rec_id: str, data: dict[str, Any]) -> str:
        """JSON text for a row, protected fields encrypted when the ledger is encrypted."""
        if self._key_id is not None:
            ring = self._ring(f"{kind} {rec_id!r}")
            prefix = f"{table}:{kind}:{rec_id}:"
            kid = self._key_id
            map_protected(kind, data, lambda path, v: ring.encrypt(v, prefix + path, kid))
        return dumps(data)

    def _seal(self, context: str, text: str | None) -> str | None:
        """A protected column's value as stored (encrypted when the ledger has a key)."""
        if text is None or self._key_id is None:
            return text
        return self._ring(context).encrypt(text, context, self._key_id)

    def _unseal(self, context: str, stored: str | None, lenient: bool = False) -> str | None:
        """A protected column's stored value, decrypted (``lenient``: see :meth:`_plain`)."""
        if stored is None or self._key_id is None:
            return stored
        if lenient and not stored.startswith(PREFIX):
            return stored
        return self._ring(context).decrypt(stored, context, context)

    def _plain(
        self, table: str, kind: str, rec_id: str, text: str, lenient: bool = False
    ) -> dict[str, Any]:
        """A stored row's data with protected fields decrypted. ``lenient`` (for ``rekey``)
        passes values that are not encrypted yet through: a field an older coprolib did not
        protect, in a ledger written by it."""
        data: dict[str, Any] = json.loads(text)
        if self._key_id is not None:
            ring = self._ring(f"{kind} {rec_id!r}")
            prefix = f"{table}:{kind}:{rec_id}:"

            def reveal(path: str, v: str) -> str:
                if lenient and not v.startswith(PREFIX):
                    return v
                return ring.decrypt(v, prefix + path, f"{kind} {rec_id!r} field {path}")

            map_protected(kind, data, reveal)
        return data

    def _load(self, cls: type[Any], kind: str, rec_id: str, data: dict[str, Any]) -> Any:
        try:
            return structure(data, cls, kind)
        except StructureError as exc:
            raise LedgerError(
                f"the stored row does not load ({exc.problems[0]}); was it edited by hand?",
                record=f"{kind} {rec_id!r}",
            ) from None

    # --- audit --------------------------------------------------------------------------

    def _audit(self, action: str, ref: str, digest: str, scope: str = "row") -> None:
        self._require_tx()
        self._audit_buf.append((action, scope, ref, digest))
        if len(self._audit_buf) >= _AUDIT_SPILL:
            # A long import writes its entries as it goes so memory stays flat; the chain
            # lock is then held until commit (PostgreSQL), as a big import should be.
            self._flush_audit()

    def _flush_audit(self) -> None:
        buf = self._audit_buf
        if not buf:
            return
        self._db.lock_audit()
        last = self._db.query_one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (0, GENESIS) if last is None else (int(last[0]), str(last[1]))
        at, actor = now_text(), self.actor
        rows = []
        lists: list[tuple[int, str]] = []
        i, end = 0, len(buf)
        while i < end:
            action, scope, ref, digest = buf[i]
            j = i + 1
            if scope == "row":
                while j < end and buf[j][0] == action and buf[j][1] == "row":
                    j += 1
            seq += 1
            if j - i > 1:
                # A run of row changes with one action: one chained entry listing them all.
                text = rows_list([(r[2], r[3]) for r in buf[i:j]])
                lists.append((seq, text))
                scope, ref, digest = (
                    "rows",
                    f"{j - i} rows, {ref} to {buf[j - 1][2]}",
                    rows_digest(text),
                )
            h = entry_hash(seq, at, actor, action, scope, ref, digest, prev)
            rows.append((seq, at, actor, action, scope, ref, digest, prev, h))
            prev = h
            i = j
        self._db.bulk_insert(
            "audit",
            ("seq", "at", "actor", "action", "scope", "ref", "digest", "prev_hash", "hash"),
            rows,
        )
        self._db.bulk_insert("audit_rows", ("seq", "changes"), lists)
        self._set_meta("audit_head", f"{seq}:{prev}")
        self._audit_buf = []

    # --- meta ---------------------------------------------------------------------------

    def _lock_for_rekey(self) -> None:
        """Inside a transaction: wait for every write transaction in flight and hold off new
        ones until commit (PostgreSQL; SQLite's write lock already does)."""
        if self._db.dialect == "postgres":
            self._db.execute("SELECT 1 FROM coprolib_meta WHERE key = 'ledger' FOR UPDATE")

    def _get_meta(self, key: str) -> str | None:
        row = self._db.query_one("SELECT value FROM coprolib_meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO coprolib_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
