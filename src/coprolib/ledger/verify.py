"""Verifying the audit chain and every audited row against it.

Three checks, and the first failing entry (lowest sequence number) is reported:
1. the chain: sequence numbers run 1, 2, 3…, each ``prev_hash`` is the previous entry's hash and
   each hash recomputes; the head stored in ``coprolib_meta`` matches the last entry (so removing
   the newest entries is noticed); each ``"rows"`` entry's digest recomputes from the list of
   changes it keeps in ``audit_rows``;
2. rows: each row of ``records``, ``consent_events``, ``shares``, ``receipts`` and ``jobs`` has
   the digest that the latest entry recording it gave (an edited row fails at that entry);
3. no row is missing (a deleted row fails at its latest entry) and none is unaccounted for (a row
   added behind the ledger's back fails with no entry to name);
4. the derived tables, migrations and meta rows match what the chained rows and this code say
   (:mod:`coprolib.ledger.derived`), named by table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coprolib.ledger.audit import GENESIS, entry_hash, parse_rows_list, rows_digest
from coprolib.ledger.backends import Backend
from coprolib.ledger.consent_store import event_digest
from coprolib.ledger.derived import check_derived
from coprolib.ledger.outbox import job_digest, receipt_digest, share_digest
from coprolib.ledger.record_store import record_digest
from coprolib.ledger.types import AuditVerification

_PAGE = 5000


def _row_sources() -> list[tuple[str, str, Callable[[tuple[Any, ...]], tuple[str, str]]]]:
    return [
        (
            "records",
            "SELECT seq, kind, id, data, status, domain, erased FROM records",
            lambda r: (f"{r[1]}:{r[2]}", record_digest(r[1], r[2], r[3], r[4], r[5], int(r[6]))),
        ),
        (
            "consent_events",
            "SELECT consent_id, version, at, data FROM consent_events",
            lambda r: (f"consent_event:{r[0]}:{r[1]}", event_digest(r[0], int(r[1]), r[2], r[3])),
        ),
        (
            "shares",
            "SELECT seq, id, data, destination, subject_id, status FROM shares",
            lambda r: (f"share:{r[1]}", share_digest(r[1], r[2], r[3], r[4], r[5])),
        ),
        (
            "receipts",
            "SELECT seq, share_id, data FROM receipts",
            lambda r: (f"receipt:{r[0]}", receipt_digest(int(r[0]), r[1], r[2])),
        ),
        (
            "jobs",
            "SELECT id, kind, destination, share_id, idempotency_key, status, attempts,"
            " next_attempt_at, last_error, claimed_by, lease_until FROM jobs",
            lambda r: (f"job:{r[0]}", job_digest(r)),
        ),
    ]


def audit_rows(db: Backend, seq: int) -> str | None:
    """The list of changes a ``"rows"`` entry keeps in ``audit_rows`` (JSON text), if any."""
    row = db.query_one("SELECT changes FROM audit_rows WHERE seq = ?", (seq,))
    return None if row is None else str(row[0])


def verify_chain(db: Backend, *, derived: bool = True) -> AuditVerification:
    """Check the chain and every audited row; see the module docstring. ``derived=False``
    leaves out check 4 (for measuring it; ``audit verify`` always runs it)."""
    # (entry, rank, reason): at one entry, a broken chain (rank 0) is named before its rows (1)
    failures: list[tuple[int, int, str]] = []
    latest: dict[str, tuple[int, str, str]] = {}
    expected, prev, checked = 1, GENESIS, 0
    chain_broken = False
    last = 0
    while True:
        rows = db.query(
            "SELECT seq, at, actor, action, scope, ref, digest, prev_hash, hash FROM audit"
            f" WHERE seq > ? ORDER BY seq LIMIT {_PAGE}",
            (last,),
        )
        for seq, at, actor, action, scope, ref, digest, prev_hash, h in rows:
            seq = int(seq)
            checked += 1
            if not chain_broken:
                reason = None
                if seq != expected:
                    reason = (
                        f"entry {expected} is missing (the next entry is {seq})"
                        if seq > expected
                        else f"entry {seq} is out of sequence"
                    )
                    bad = min(seq, expected)
                elif prev_hash != prev:
                    reason, bad = "its link to the previous entry does not match", seq
                elif entry_hash(seq, at, actor, action, scope, ref, digest, prev_hash) != h:
                    reason, bad = "its content was changed after it was written", seq
                if reason is not None:
                    failures.append((bad, 0, f"audit entry {bad}: {reason}"))
                    chain_broken = True
            prev, expected = h, seq + 1
            if scope == "row":
                latest[ref] = (seq, digest, action)
            elif scope == "rows":
                text = audit_rows(db, seq)
                if not chain_broken and (text is None or rows_digest(text) != digest):
                    failures.append(
                        (
                            seq,
                            0,
                            f"audit entry {seq}: the rows it lists were changed after it was written",
                        )
                    )
                    chain_broken = True
                # Even an altered list names the rows this entry changed, so earlier entries
                # are not blamed for them; one that cannot be read names none.
                try:
                    members = parse_rows_list(text or "[]")
                except (ValueError, TypeError):
                    members = []
                for member_ref, member_digest in members:
                    latest[member_ref] = (seq, member_digest, action)
        if len(rows) < _PAGE:
            break
        last = int(rows[-1][0])
    head = db.query_one("SELECT value FROM coprolib_meta WHERE key = 'audit_head'")
    if head is not None and not chain_broken:
        head_seq = int(str(head[0]).split(":", 1)[0])
        if head_seq != expected - 1 or str(head[0]) != f"{expected - 1}:{prev}":
            bad = min(head_seq, expected)
            failures.append(
                (
                    bad,
                    0,
                    f"audit entry {bad}: the chain ends at {expected - 1} but "
                    f"the ledger's head says {head_seq}: entries were removed",
                )
            )
    elif head is None and checked and not chain_broken:
        failures.append((1, 0, "audit entry 1: the ledger has no record of its chain's head"))
    unaccounted: str | None = None
    for table, sql, digest_of in _row_sources():
        for row in db.stream(sql):
            ref, digest = digest_of(tuple(row))
            entry = latest.pop(ref, None)
            if entry is None:
                if unaccounted is None:
                    unaccounted = f"{table} row {ref} has no audit entry (added outside the ledger)"
                continue
            if entry[1] != digest:
                failures.append(
                    (
                        entry[0],
                        1,
                        f"audit entry {entry[0]}: {table} row {ref} was "
                        "changed after this entry recorded it",
                    )
                )
    for ref, (seq, _digest, action) in latest.items():
        if action != "delete":
            failures.append((seq, 1, f"audit entry {seq}: the row {ref} it records was deleted"))
    if failures:
        seq, _rank, reason = min(failures)
        return AuditVerification(ok=False, checked=checked, first_bad=seq, reason=reason)
    if unaccounted is not None:
        return AuditVerification(ok=False, checked=checked, first_bad=None, reason=unaccounted)
    problem = check_derived(db) if derived else None
    if problem is not None:
        return AuditVerification(ok=False, checked=checked, first_bad=None, reason=problem)
    return AuditVerification(ok=True, checked=checked)
