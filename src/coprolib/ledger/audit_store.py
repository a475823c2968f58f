"""The audit chain as the ledger reads and extends it: entries, notes, verification."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from coprolib.ledger.audit import parse_rows_list
from coprolib.ledger.core import LedgerCore
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.types import AuditEntry, AuditVerification
from coprolib.ledger.verify import audit_rows, verify_chain


class AuditStore:
    """Reading the audit chain, appending notes to it and verifying it, on the ledger's core."""

    def __init__(self, core: LedgerCore) -> None:
        # Weak, so a ledger holding this store is freed (and its connection closed) as soon as
        # nothing else holds it, as before the stores were split out; no reference cycle.
        self._core: LedgerCore = weakref.proxy(core)

    def audit_entries(self) -> Iterator[AuditEntry]:
        """Every audit entry, oldest first."""
        last = 0
        while True:
            rows = self._core._db.query(
                "SELECT seq, at, actor, action, scope, ref, digest, prev_hash, hash FROM audit"
                " WHERE seq > ? ORDER BY seq LIMIT 1000",
                (last,),
            )
            for r in rows:
                yield AuditEntry(
                    seq=int(r[0]),
                    at=r[1],
                    actor=r[2],
                    action=r[3],
                    scope=r[4],
                    ref=r[5],
                    digest=r[6],
                    prev_hash=r[7],
                    hash=r[8],
                    rows=tuple(parse_rows_list(audit_rows(self._core._db, int(r[0])) or "[]"))
                    if r[4] == "rows"
                    else (),
                )
            if len(rows) < 1000:
                return
            last = int(rows[-1][0])

    def record_audit(self, action: str, ref: str, digest: str) -> None:
        """Append an entry for an action that changes no row (e.g. a consent override used).
        ``ref`` and ``digest`` must be ids and digests, never content."""
        if not action.strip() or not ref.strip():
            raise LedgerError("an audit entry needs an action and a reference")
        with self._core.transaction():
            self._core._audit(action, ref, digest, scope="note")

    def verify_audit(self) -> AuditVerification:
        """Recompute the chain and check every audited row against its latest entry."""
        return verify_chain(self._core._db)
