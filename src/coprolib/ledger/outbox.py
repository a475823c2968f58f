"""Shares, receipts and outbox jobs: what was planned or sent where, and the work queue.

A share is upserted by id; its status changes are audited. Receipts are appended. Jobs are the
durable outbox: at most one open (pending or claimed) job per (kind, destination, share), claimed
with a lease so a crashed worker's jobs come back.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from coprolib.ledger.audit import from_utc_text, utc_text
from coprolib.ledger.codec import row_digest
from coprolib.ledger.core import LedgerCore
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.types import (
    JOB_FINISH_STATUSES,
    JOB_KINDS,
    JOB_STATUSES,
    DestinationState,
    Job,
    JobCounts,
    JobEvent,
    JobKind,
    JobStatus,
    ShareRow,
    ShareStatus,
)
from coprolib.records import Receipt, Share
from coprolib.records.convert import converter, unstructure

#: The audited columns of a job row, in digest order (``coprolib ledger verify`` reads these).
_JOB_COLUMNS = (
    "id, kind, destination, share_id, idempotency_key, status, attempts,"
    " next_attempt_at, last_error, claimed_by, lease_until"
)
_AUDITED = 11
#: Every column read: the audited ones, then the claim's fencing token, the "may have
#: arrived" flag and the in-flight mark (kept out of the digest, which predates them).
_JOB_SELECT = _JOB_COLUMNS + ", claim_token, in_doubt, sending_at"


def share_digest(share_id: str, data: str, destination: str, subject_id: str, status: str) -> str:
    """The digest of a ``shares`` row."""
    return row_digest("shares", (share_id, data, destination, subject_id, status))


def receipt_digest(seq: int, share_id: str, data: str) -> str:
    """The digest of a ``receipts`` row."""
    return row_digest("receipts", (seq, share_id, data))


def job_digest(row: tuple[Any, ...]) -> str:
    """The digest of a ``jobs`` row (all its columns, in order)."""
    return row_digest("jobs", tuple(row))


#: Ids per ``IN (...)`` list: well under SQLite's limit on bound parameters.
_IN_CHUNK = 500


def _chunked(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]


@functools.cache
def _share_hook() -> Callable[[Any, Any], Share]:
    """The converter's structure function for shares, looked up once rather than per row."""
    return converter.get_structure_hook(Share)


_STATUSES = {s.value: s for s in ShareStatus}


def _status(value: Any) -> ShareStatus:
    if type(value) is ShareStatus:
        return value
    found = _STATUSES.get(value) if isinstance(value, str) else None
    if found is None:
        choices = ", ".join(s.value for s in ShareStatus)
        raise LedgerError(f"{value!r} is not a share status (one of: {choices})")
    return found


def _moment(value: dt.datetime | None, field: str) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    if value.tzinfo is None:
        raise LedgerError(f"{field} needs a time zone")
    return value


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


#: A job's ``last_error`` is kept to this many characters: enough to diagnose, and a remote
#: error reply that echoes a share cannot copy the whole share into the ledger.
ERROR_MAX = 300


def cut_error(error: str | None) -> str | None:
    """An error message as a job keeps it: at most :data:`ERROR_MAX` characters."""
    if error is None or len(error) <= ERROR_MAX:
        return error
    return error[: ERROR_MAX - 1] + "\u2026"


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=int(row[0]),
        kind=_KINDS[row[1]],
        destination=row[2],
        share_id=row[3],
        idempotency_key=row[4],
        status=_JOB_STATUSES[row[5]],
        attempts=int(row[6]),
        next_attempt_at=from_utc_text(row[7]),
        last_error=row[8],
        claimed_by=row[9],
        lease_until=from_utc_text(row[10]) if row[10] else None,
        token=int(row[11]),
        in_doubt=bool(row[12]),
        sending_at=from_utc_text(row[13]) if row[13] else None,
    )


_KINDS = {k.value: k for k in JobKind}
_JOB_STATUSES = {s.value: s for s in JobStatus}


def _job_status(value: Any) -> JobStatus:
    found = _JOB_STATUSES.get(value) if isinstance(value, str) else None
    if found is None:
        raise LedgerError(f"{value!r} is not a job status (one of: {', '.join(JOB_STATUSES)})")
    return found


def _job_kind(value: Any) -> JobKind:
    found = _KINDS.get(value) if isinstance(value, str) else None
    if found is None:
        raise LedgerError(f"{value!r} is not a job kind (one of: {', '.join(JOB_KINDS)})")
    return found


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class OutboxStore:
    """Shares, receipts, outbox jobs and destination pauses, on the ledger's shared core
    (connection, transactions, field encryption, audit)."""

    def __init__(self, core: LedgerCore) -> None:
        # Weak, so a ledger holding this store is freed (and its connection closed) as soon as
        # nothing else holds it, as before the stores were split out; no reference cycle.
        self._core: LedgerCore = weakref.proxy(core)

    # --- shares -------------------------------------------------------------------------

    def put_share(self, share: Share, status: ShareStatus | str = ShareStatus.PLANNED) -> None:
        """Insert or update a share by id, with its status; every version is audited."""
        if not isinstance(share, Share):
            raise LedgerError(f"expected a Share, got {type(share).__name__}")
        st = _status(status)
        with self._core.transaction():
            data = self._core._encode("shares", "share", share.id, unstructure(share))
            exists = self._core._db.query_one(
                f"SELECT 1 FROM shares WHERE id = ?{self._core._db.for_update}", (share.id,)
            )
            if exists:
                self._core._db.execute(
                    "UPDATE shares SET data = ?, destination = ?, subject_id = ?, status = ?"
                    " WHERE id = ?",
                    (data, share.destination, share.subject_id, st.value, share.id),
                )
                self._core._db.execute("DELETE FROM share_stories WHERE share_id = ?", (share.id,))
            else:
                self._core._db.execute(
                    "INSERT INTO shares (id, data, destination, subject_id, status)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (share.id, data, share.destination, share.subject_id, st.value),
                )
            self._core._db.executemany(
                "INSERT INTO share_stories (story_id, share_id) VALUES (?, ?)",
                [(sid, share.id) for sid in dict.fromkeys(share.story_ids)],
            )
            self._core._audit(
                "put_share",
                f"share:{share.id}",
                share_digest(share.id, data, share.destination, share.subject_id, st.value),
            )

    def _share_from(self, share_id: str, data: str) -> Share:
        plain = self._core._plain("shares", "share", share_id, data)
        try:
            share: Share = _share_hook()(plain, Share)
        except Exception:  # names the share and the problem
            share = self._core._load(Share, "share", share_id, plain)
        return share

    def get_share(self, share_id: str) -> ShareRow | None:
        """The share with this id and its status, or ``None``."""
        row = self._core._db.query_one("SELECT data, status FROM shares WHERE id = ?", (share_id,))
        if row is None:
            return None
        return ShareRow(self._share_from(share_id, row[0]), _status(row[1]))

    def get_shares(self, share_ids: Iterable[str]) -> dict[str, ShareRow]:
        """The shares with these ids and their statuses, by id, read a few hundred per query;
        ids not in the ledger are left out."""
        out: dict[str, ShareRow] = {}
        for chunk in _chunked(list(dict.fromkeys(share_ids))):
            rows = self._core._db.query(
                f"SELECT id, data, status FROM shares WHERE id IN ({_marks(chunk)})", chunk
            )
            for share_id, data, status in rows:
                out[share_id] = ShareRow(self._share_from(share_id, data), _status(status))
        return out

    def list_shares(
        self,
        destination: str | None = None,
        subject_id: str | None = None,
        story_id: str | None = None,
        status: ShareStatus | str | None = None,
    ) -> Iterator[ShareRow]:
        """Shares in the order first planned, filtered; ``story_id`` matches ``share.story_ids``."""
        where = ["s.seq > ?"]
        params: list[Any] = []
        if destination is not None:
            where.append("s.destination = ?")
            params.append(destination)
        if subject_id is not None:
            where.append("s.subject_id = ?")
            params.append(subject_id)
        if story_id is not None:
            where.append("s.id IN (SELECT share_id FROM share_stories WHERE story_id = ?)")
            params.append(story_id)
        if status is not None:
            where.append("s.status = ?")
            params.append(_status(status).value)
        sql = (
            f"SELECT s.seq, s.id, s.data, s.status FROM shares s WHERE {' AND '.join(where)}"
            " ORDER BY s.seq LIMIT 500"
        )
        last = 0
        while True:
            rows = self._core._db.query(sql, (last, *params))
            for row in rows:
                yield ShareRow(self._share_from(row[1], row[2]), _status(row[3]))
            if len(rows) < 500:
                return
            last = rows[-1][0]

    def set_share_status(self, share_id: str, status: ShareStatus | str) -> None:
        """Change a share's status (audited)."""
        self.set_share_statuses([(share_id, status)])

    def set_share_statuses(self, changes: Iterable[tuple[str, ShareStatus | str]]) -> None:
        """Change the statuses of many shares in one transaction, each change audited, in the
        order given. If any share is missing, nothing is changed."""
        items = [(share_id, _status(status)) for share_id, status in changes]
        if not items:
            return
        with self._core.transaction():
            rows = self._share_rows([share_id for share_id, _ in items])
            for share_id, _ in items:
                if share_id not in rows:
                    raise LedgerError(
                        "there is no share with this id", record=f"share {share_id!r}"
                    )
            self._write_statuses(items, rows)

    def _share_rows(self, share_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """``(id, data, destination, subject_id)`` of these shares by id, locked until commit
        on PostgreSQL; missing ids are left out."""
        rows: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunked(list(dict.fromkeys(share_ids))):
            for row in self._core._db.query(
                "SELECT id, data, destination, subject_id FROM shares"
                f" WHERE id IN ({_marks(chunk)}){self._core._db.for_update}",
                chunk,
            ):
                rows[row[0]] = row
        return rows

    def _write_statuses(
        self, items: Sequence[tuple[str, ShareStatus]], rows: dict[str, tuple[Any, ...]]
    ) -> None:
        """Set the statuses of shares whose ``rows`` were read in this transaction, audited."""
        statuses = {st for _, st in items}
        ids = [share_id for share_id, _ in items]
        if len(statuses) == 1 and len(set(ids)) == len(ids):
            self._core._update_in(
                "UPDATE shares SET status = ?", (statuses.pop().value,), "id", ids
            )
        else:  # in the order given, so the last change to a share is the one that stays
            self._core._db.executemany(
                "UPDATE shares SET status = ? WHERE id = ?",
                [(st.value, share_id) for share_id, st in items],
            )
        for share_id, st in items:
            _, data, destination, subject_id = rows[share_id]
            self._core._audit(
                "share_status",
                f"share:{share_id}",
                share_digest(share_id, data, destination, subject_id, st.value),
            )

    def _require_share(self, share_id: str, where: str) -> None:
        self._require_shares([(share_id, where)])

    def _require_shares(self, wanted: Sequence[tuple[str, str]]) -> None:
        """Raise for the first (share id, where it is referred from) whose share is missing."""
        ids = list(dict.fromkeys(share_id for share_id, _ in wanted))
        found: set[str] = set()
        for chunk in _chunked(ids):
            rows = self._core._db.query(
                f"SELECT id FROM shares WHERE id IN ({_marks(chunk)})", chunk
            )
            found.update(r[0] for r in rows)
        for share_id, where in wanted:
            if share_id not in found:
                raise LedgerError(
                    f"refers to share {share_id!r}, which is not in the ledger",
                    record=where,
                    field="share_id",
                )

    # --- receipts -----------------------------------------------------------------------

    def add_receipt(self, receipt: Receipt) -> None:
        """Append what a destination said about a share."""
        self.add_receipts([receipt])

    def add_receipts(self, receipts: Sequence[Receipt]) -> None:
        """Append many receipts in one transaction, in order, each audited; if any refers to a
        share that is not in the ledger, none is written."""
        for receipt in receipts:
            if not isinstance(receipt, Receipt):
                raise LedgerError(f"expected a Receipt, got {type(receipt).__name__}")
        if not receipts:
            return
        with self._core.transaction():
            self._require_shares(
                [(r.share_id, f"receipt for share {r.share_id!r}") for r in receipts]
            )
            self._insert_receipts(receipts)

    def _insert_receipts(self, receipts: Sequence[Receipt]) -> None:
        datas = [
            self._core._encode("receipts", "receipt", r.share_id, unstructure(r)) for r in receipts
        ]
        seqs = self._core._db.next_ids("receipts", "seq", len(receipts))
        rows = [(seq, r.share_id, data) for seq, r, data in zip(seqs, receipts, datas, strict=True)]
        self._core._db.executemany(
            "INSERT INTO receipts (seq, share_id, data) VALUES (?, ?, ?)", rows
        )
        for seq, share_id, data in rows:
            self._core._audit("receipt", f"receipt:{seq}", receipt_digest(seq, share_id, data))

    def record_delivered(self, deliveries: Sequence[tuple[int | Job, Receipt]]) -> list[Job]:
        """Record a batch of deliveries, each ``(job, receipt)``: append the receipts, mark
        their shares delivered and finish the jobs ``done``, all in one transaction, each change
        audited. Given a claimed :class:`Job` (rather than a job id), the delivery is fenced:
        if the claim was lost (its lease passed and another worker claimed the job, or the job
        was finished), no receipt is written; the late result goes in the job's history and
        the job is marked ``in_doubt``. Returns those late jobs. If any share or job is missing,
        nothing is written."""
        if not deliveries:
            return []
        for _, receipt in deliveries:
            if not isinstance(receipt, Receipt):
                raise LedgerError(f"expected a Receipt, got {type(receipt).__name__}")
        with self._core.transaction():
            claims = [job for job, _ in deliveries if isinstance(job, Job)]
            lost = self._fenced(claims)[1] if claims else []
            late = {j.id for j in lost}
            kept = [(j, r) for j, r in deliveries if not (isinstance(j, Job) and j.id in late)]
            receipts = [receipt for _, receipt in kept]
            rows = self._share_rows([r.share_id for r in receipts])
            for r in receipts:
                if r.share_id not in rows:
                    raise LedgerError(
                        f"refers to share {r.share_id!r}, which is not in the ledger",
                        record=f"receipt for share {r.share_id!r}",
                        field="share_id",
                    )
            if kept:
                self._insert_receipts(receipts)
                self._write_statuses([(r.share_id, ShareStatus.DELIVERED) for r in receipts], rows)
            ids = [j.id if isinstance(j, Job) else int(j) for j, _ in kept]
            found = self._job_rows(ids, lock=True)
            for job_id in ids:
                if job_id not in found:
                    raise LedgerError("there is no job with this id", record=f"job {job_id}")
            self._settle([self._job_of(found[i]) for i in ids], found, JobStatus.DONE, None, None,
                         False, False)  # fmt: skip
            now_s = utc_text(dt.datetime.now(dt.UTC))
            self._core._update_in("UPDATE jobs SET in_doubt = 1", (), "id", sorted(late))
            self._job_events(
                [(i, now_s, "done", None, "receipt recorded") for i in ids]
                + [
                    (j.id, now_s, "late_result", j.claimed_by,
                     f"delivered after the claim (token {j.token}) was lost: a late duplicate,"
                     " no receipt written")
                    for j in lost
                ]
            )  # fmt: skip
        return lost

    def delivered_receipt(self, share_id: str) -> Receipt | None:
        """The receipt that shows ``share_id`` reached its destination (and was not retracted
        since), or None: the precondition of the "shared" feedback owed for it."""
        receipts = self.receipts_for(share_id)
        if not receipts or receipts[-1].action != JobKind.DELIVER.value:
            return None
        return receipts[-1]

    def receipts_for(self, share_id: str) -> list[Receipt]:
        """The receipts for a share, oldest first."""
        rows = self._core._db.query(
            "SELECT data FROM receipts WHERE share_id = ? ORDER BY seq", (share_id,)
        )
        out: list[Receipt] = []
        for (data,) in rows:
            out.append(
                self._core._load(
                    Receipt,
                    "receipt",
                    share_id,
                    self._core._plain("receipts", "receipt", share_id, data),
                )
            )
        return out

    # --- outbox jobs --------------------------------------------------------------------

    def _job_rows(self, job_ids: Sequence[int], lock: bool = False) -> dict[int, tuple[Any, ...]]:
        """The rows of these jobs by id (with ``lock``, locked until commit on PostgreSQL)."""
        rows: dict[int, tuple[Any, ...]] = {}
        suffix = self._core._db.for_update if lock else ""
        for chunk in _chunked(job_ids):
            for row in self._core._db.query(
                f"SELECT {_JOB_SELECT} FROM jobs WHERE id IN ({_marks(chunk)}){suffix}", chunk
            ):
                rows[int(row[0])] = row
        return rows

    def _audit_job_rows(self, action: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Audit jobs' rows as this transaction leaves them (the audited columns, in order)."""
        for row in rows:
            self._core._audit(action, f"job:{row[0]}", job_digest(row[:_AUDITED]))

    def _job_events(self, events: Sequence[tuple[int, str, str, str | None, str | None]]) -> None:
        """Append ``(job id, at, event, worker, detail)`` rows to the jobs' histories."""
        if events:
            self._core._db.executemany(
                "INSERT INTO job_events (job_id, at, event, worker, detail) VALUES (?, ?, ?, ?, ?)",
                events,
            )

    def enqueue_job(
        self, kind: JobKind | str, destination: str, share_id: str, idempotency_key: str
    ) -> Job:
        """Queue a deliver or retract job for a share; if an open (pending or claimed) job for
        the same kind, destination and share exists, return it instead."""
        kind = _job_kind(kind).value
        with self._core.transaction():
            self._require_share(share_id, f"{kind} job for share {share_id!r}")
            now_s = utc_text(dt.datetime.now(dt.UTC))
            cur = self._core._db.execute(
                "INSERT INTO jobs (kind, destination, share_id, idempotency_key, status, attempts,"
                " next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)"
                " ON CONFLICT (kind, destination, share_id)"
                " WHERE status IN ('pending', 'claimed') DO NOTHING",
                (kind, destination, share_id, idempotency_key, now_s),
            )
            inserted = cur.rowcount == 1
            row = self._core._db.query_one(
                f"SELECT {_JOB_SELECT} FROM jobs WHERE kind = ? AND destination = ?"
                " AND share_id = ? AND status IN ('pending', 'claimed')",
                (kind, destination, share_id),
            )
            if row is None:
                raise LedgerError(
                    "the job could not be queued", record=f"{kind} job for share {share_id!r}"
                )
            if inserted:
                self._core._audit("enqueue", f"job:{row[0]}", job_digest(row[:_AUDITED]))
                self._job_events([(int(row[0]), now_s, "queued", None, None)])
            return self._job_of(row)

    def claim_jobs(
        self,
        destination: str | None = None,
        limit: int = 100,
        worker: str = "w1",
        now: dt.datetime | None = None,
        lease_seconds: int = 300,
    ) -> list[Job]:
        """Claim up to ``limit`` jobs that are due (pending with ``next_attempt_at <= now``) or
        whose lease expired, for ``worker``, oldest due first; jobs of a destination paused
        now (:meth:`pause_destination`) are left. Two workers never get the same job
        (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the write lock). Each claim gets a new
        fencing ``token``; a job whose previous holder's lease ran out while it was sending is
        marked ``in_doubt`` (the request may have reached the destination)."""
        moment = _moment(now, "now")
        now_s = utc_text(moment)
        lease_s = utc_text(moment + dt.timedelta(seconds=lease_seconds))
        where, params = "", []
        if destination is not None:
            where, params = " AND destination = ?", [destination]
        where += (
            " AND destination NOT IN"
            " (SELECT destination FROM delivery_destinations WHERE paused_until > ?)"
        )
        params.append(now_s)
        order = f" ORDER BY next_attempt_at, id LIMIT {int(limit)}{self._core._db.skip_locked}"
        with self._core.transaction():
            # Two index range scans (due pending jobs, expired leases) rather than one OR,
            # which would sort every pending job on each claim.
            rows = self._core._db.query(
                f"SELECT {_JOB_SELECT} FROM jobs WHERE status = 'pending'"
                f" AND next_attempt_at <= ?{where}{order}",
                (now_s, *params),
            )
            rows += self._core._db.query(
                f"SELECT {_JOB_SELECT} FROM jobs WHERE status = 'claimed'"
                f" AND lease_until <= ?{where}{order}",
                (now_s, *params),
            )
            rows.sort(key=lambda r: (r[7], int(r[0])))
            rows = rows[:limit]
            lapsed = [r for r in rows if r[5] == "claimed"]
            doubt = {int(r[0]) for r in lapsed if r[13] is not None}
            claimed = [
                (*r[:5], "claimed", *r[6:9], worker, lease_s, int(r[11]) + 1,
                 1 if int(r[0]) in doubt else r[12], r[13])
                for r in rows
            ]  # fmt: skip
            self._core._update_in(
                "UPDATE jobs SET status = 'claimed', claimed_by = ?, lease_until = ?,"
                " claim_token = claim_token + 1",
                (worker, lease_s),
                "id",
                [r[0] for r in claimed],
            )
            self._core._update_in("UPDATE jobs SET in_doubt = 1", (), "id", sorted(doubt))
            events = [
                (int(r[0]), now_s, "lease_lapsed", r[9],
                 f"lease until {r[10]} ran out"
                 + (f" while sending (since {r[13]})" if r[13] is not None else ""))
                for r in lapsed
            ]  # fmt: skip
            events += [(int(r[0]), now_s, "claimed", worker, f"token {r[11]}") for r in claimed]
            self._job_events(events)
            self._audit_job_rows("claim", claimed)
            return [self._job_of(row) for row in claimed]

    def _fenced(
        self, jobs: Sequence[Job]
    ) -> tuple[list[Job], list[Job], dict[int, tuple[Any, ...]]]:
        """Split claimed ``jobs`` into those whose claim (fencing token) is still current and
        those lost since (lease passed and claimed again, or finished by someone else); rows
        locked until commit."""
        rows = self._job_rows(list(dict.fromkeys(j.id for j in jobs)), lock=True)
        held: list[Job] = []
        lost: list[Job] = []
        for job in jobs:
            row = rows.get(job.id)
            if row is not None and row[5] == "claimed" and int(row[11]) == job.token:
                held.append(job)
            else:
                lost.append(job)
        return held, lost, rows

    def renew_leases(
        self,
        jobs: Sequence[Job],
        lease_seconds: int,
        now: dt.datetime | None = None,
        *,
        sending: bool = False,
    ) -> list[Job]:
        """Extend the lease of the claimed ``jobs`` this holder still holds (fenced by token) to
        ``now + lease_seconds``; with ``sending`` also mark them in flight (a request is about
        to leave). Returns the jobs still held, with their new lease; the others were lost."""
        if not jobs:
            return []
        moment = _moment(now, "now")
        now_s = utc_text(moment)
        lease_s = utc_text(moment + dt.timedelta(seconds=lease_seconds))
        with self._core.transaction():
            held, _lost, _rows = self._fenced(jobs)
            ids = [j.id for j in held]
            if sending:
                self._core._update_in(
                    "UPDATE jobs SET lease_until = ?, sending_at = ?", (lease_s, now_s), "id", ids
                )
            else:
                self._core._update_in("UPDATE jobs SET lease_until = ?", (lease_s,), "id", ids)
        until = from_utc_text(lease_s)
        if sending:
            return [attrs.evolve(j, lease_until=until, sending_at=moment) for j in held]
        return [attrs.evolve(j, lease_until=until) for j in held]

    def settle_jobs(
        self,
        jobs: Sequence[Job],
        status: JobStatus | str,
        *,
        error: str | None = None,
        next_attempt_at: dt.datetime | None = None,
        count_attempt: bool = False,
        in_doubt: bool = False,
        event: str | None = None,
        detail: str | None = None,
        worker: str | None = None,
    ) -> list[Job]:
        """End the current claim of ``jobs`` (fenced: only jobs whose claim token is still
        theirs): ``done``, ``dead`` or ``cancelled``, or back to ``pending`` due at
        ``next_attempt_at``. ``count_attempt`` adds one failed attempt (a request reached the
        destination and failed); ``in_doubt`` marks that it may have arrived all the same.
        Going back to ``pending`` without an ``error`` keeps the last one. ``event`` and
        ``detail`` name the step in each job's history (never the error text, which may echo a
        share: that is kept, protected, in the job's ``last_error`` only).
        Returns the jobs that were no longer held and so were left as they are."""
        st = _job_status(status)
        if not jobs:
            return []
        now = dt.datetime.now(dt.UTC)
        now_s = utc_text(now)
        with self._core.transaction():
            held, lost, rows = self._fenced(jobs)
            self._settle(held, rows, st, error, next_attempt_at, count_attempt, in_doubt)
            name = event or st.value
            self._job_events(
                [(j.id, now_s, name, worker or j.claimed_by, detail) for j in held]
                + [
                    (j.id, now_s, "late_result", worker or j.claimed_by,
                     f"{name} after the claim (token {j.token}) was lost: not recorded")
                    for j in lost
                ]
            )  # fmt: skip
        return lost

    def _settle(
        self,
        jobs: Sequence[Job],
        rows: dict[int, tuple[Any, ...]],
        status: JobStatus,
        error: str | None,
        next_attempt_at: dt.datetime | None,
        count_attempt: bool,
        in_doubt: bool,
    ) -> None:
        ids = list(dict.fromkeys(j.id for j in jobs))
        if not ids:
            return
        found = [rows[i] for i in ids]
        doubt = ", in_doubt = 1" if in_doubt else ""
        add = 1 if count_attempt else 0
        # Each job's error as stored: cut short, and sealed per job when the ledger has a key.
        errors = self._job_errors(ids, error) if error is not None else {}
        if status is JobStatus.PENDING:
            when = utc_text(_moment(next_attempt_at, "next_attempt_at"))
            audited = [
                (*r[:5], "pending", int(r[6]) + add, when, errors.get(int(r[0]), r[8]), None, None)
                for r in found
            ]
            sql = (
                f"UPDATE jobs SET status = 'pending', attempts = attempts + {add},"
                " next_attempt_at = ?, claimed_by = NULL, lease_until = NULL,"
                f" sending_at = NULL{doubt}"
            )
            params: tuple[Any, ...] = (when,)
        else:
            audited = [
                (*r[:5], status.value, int(r[6]) + add, r[7], errors.get(int(r[0])), r[9], None)
                for r in found
            ]
            sql = (
                f"UPDATE jobs SET status = ?, attempts = attempts + {add},"
                f" lease_until = NULL, sending_at = NULL{doubt}"
            )
            params = (status.value,)
        if status is JobStatus.PENDING and error is None:
            self._core._update_in(sql, params, "id", ids)  # the last error stays
        elif self._core._key_id is not None and error is not None:  # one sealed value per job
            self._core._db.executemany(
                sql.replace(" SET ", " SET last_error = ?, ", 1) + " WHERE id = ?",
                [(errors[i], *params, i) for i in ids],
            )
        else:
            self._core._update_in(
                sql.replace(" SET ", " SET last_error = ?, ", 1),
                (cut_error(error), *params),
                "id",
                ids,
            )
        self._audit_job_rows(f"job_{status.value}", audited)

    def finish_job(
        self,
        job_id: int,
        status: JobStatus | str,
        error: str | None = None,
        next_attempt_at: dt.datetime | None = None,
    ) -> None:
        """Finish a job whoever holds it: ``done``, ``dead`` or ``cancelled``; or ``pending``
        to retry at ``next_attempt_at`` (default now), counting one more failed attempt.
        Workers finish their claims with :meth:`settle_jobs`, which is fenced."""
        self.finish_jobs([job_id], status, error=error, next_attempt_at=next_attempt_at)

    def finish_jobs(
        self,
        job_ids: Iterable[int],
        status: JobStatus | str,
        error: str | None = None,
        next_attempt_at: dt.datetime | None = None,
    ) -> None:
        """Finish many jobs the same way (see :meth:`finish_job`) in one transaction, each
        audited; a repeated id counts once. If any job is missing, none is finished."""
        ids = list(dict.fromkeys(int(i) for i in job_ids))
        if status not in JOB_FINISH_STATUSES:
            raise LedgerError(
                f"{status!r} is not a way to finish a job "
                f"(one of: {', '.join(JOB_FINISH_STATUSES)})",
                record=f"job {ids[0]}" if ids else None,
            )
        if not ids:
            return
        st = JobStatus(status)
        with self._core.transaction():
            found = self._job_rows(ids, lock=True)
            for job_id in ids:
                if job_id not in found:
                    raise LedgerError("there is no job with this id", record=f"job {job_id}")
            jobs = [self._job_of(found[i]) for i in ids]
            self._settle(jobs, found, st, error, next_attempt_at, st is JobStatus.PENDING, False)
            now_s = utc_text(dt.datetime.now(dt.UTC))
            self._job_events([(i, now_s, st.value, None, None) for i in ids])

    def get_job(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        row = self._core._db.query_one(
            f"SELECT {_JOB_SELECT} FROM jobs WHERE id = ?", (int(job_id),)
        )
        return None if row is None else self._job_of(row)

    def job_history(self, job_id: int) -> list[JobEvent]:
        """A job's history, oldest first: queued, claimed, sending, each failure, its end."""
        rows = self._core._db.query(
            "SELECT job_id, at, event, worker, detail FROM job_events WHERE job_id = ?"
            " ORDER BY seq",
            (int(job_id),),
        )
        return [
            JobEvent(job_id=int(r[0]), at=from_utc_text(r[1]), event=r[2], worker=r[3], detail=r[4])
            for r in rows
        ]

    def list_jobs(
        self,
        status: JobStatus | str | None = None,
        destination: str | None = None,
        *,
        open_only: bool = False,
    ) -> list[Job]:
        """Jobs in the order queued, filtered (``open_only``: pending or claimed)."""
        where = ["1 = 1"]
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(_job_status(status).value)
        if open_only:
            where.append("status IN ('pending', 'claimed')")
        if destination is not None:
            where.append("destination = ?")
            params.append(destination)
        rows = self._core._db.query(
            f"SELECT {_JOB_SELECT} FROM jobs WHERE {' AND '.join(where)} ORDER BY id", params
        )
        return [self._job_of(r) for r in rows]

    def job_counts(self, now: dt.datetime | None = None) -> dict[str, JobCounts]:
        """Per destination: jobs by status, how many pending are in backoff (not due yet) and
        the earliest next attempt among them, and the latest lease among claimed jobs."""
        now_s = utc_text(_moment(now, "now"))
        rows = self._core._db.query(
            "SELECT destination, status, later, count(*), min(next_attempt_at),"
            " max(lease_until), sum(in_doubt) FROM (SELECT destination, status,"
            " CASE WHEN status = 'pending' AND next_attempt_at > ? THEN 1 ELSE 0 END AS later,"
            " next_attempt_at, lease_until, in_doubt FROM jobs) AS j"
            " GROUP BY destination, status, later",
            (now_s,),
        )
        counts: dict[str, dict[str, int]] = {}
        backoff: dict[str, int] = {}
        next_at: dict[str, dt.datetime] = {}
        leases: dict[str, dt.datetime] = {}
        in_doubt: dict[str, int] = {}
        for dest, status, later, count, first, lease, doubt in rows:
            by = counts.setdefault(dest, {})
            by[status] = by.get(status, 0) + int(count)
            if later:
                backoff[dest] = backoff.get(dest, 0) + int(count)
                next_at[dest] = from_utc_text(first)
            if status == JobStatus.CLAIMED and lease is not None:
                leases[dest] = from_utc_text(lease)
            if status == JobStatus.DEAD:
                in_doubt[dest] = in_doubt.get(dest, 0) + int(doubt or 0)
        return {
            dest: JobCounts(
                counts=by,
                backoff=backoff.get(dest, 0),
                next_attempt_at=next_at.get(dest),
                lease_until=leases.get(dest),
                in_doubt_dead=in_doubt.get(dest, 0),
            )
            for dest, by in counts.items()
        }

    # --- destinations -------------------------------------------------------------------

    def destination_states(self) -> dict[str, DestinationState]:
        """What the outbox remembers about each destination (pauses, last error), by name.

        The last error is read from the job it happened to (``last_error_job``): error text
        can echo a share, so it lives only in the job's protected, erasable ``last_error``.
        """
        rows = self._core._db.query(
            "SELECT d.destination, d.paused_until, d.pause_reason, d.failures, j.id,"
            " j.last_error, d.last_error_at FROM delivery_destinations d"
            " LEFT JOIN jobs j ON j.id = d.last_error_job"
        )
        out: dict[str, DestinationState] = {}
        for r in rows:
            error = None
            if r[4] is not None and r[5] is not None:
                error = self._core._unseal(f"jobs:job:{r[4]}:last_error", r[5])
            out[r[0]] = DestinationState(
                destination=r[0],
                paused_until=from_utc_text(r[1]) if r[1] else None,
                pause_reason=f"{r[2]}: {error}" if r[2] and error else r[2],
                failures=int(r[3]),
                last_error=error,
                last_error_at=from_utc_text(r[6]) if r[6] else None,
            )
        return out

    def _upsert_destination(self, destination: str, sets: str, params: Sequence[Any]) -> None:
        self._core._db.execute(
            "INSERT INTO delivery_destinations (destination, failures) VALUES (?, 0)"
            " ON CONFLICT (destination) DO NOTHING",
            (destination,),
        )
        self._core._db.execute(
            f"UPDATE delivery_destinations SET {sets} WHERE destination = ?",
            (*params, destination),
        )

    def pause_destination(
        self,
        destination: str,
        until: dt.datetime,
        kind: str,
        job_id: int | None = None,
        *,
        count_failure: bool = True,
    ) -> None:
        """Pause a whole destination until ``until`` (every worker's claims skip it); ``kind``
        says why in a word or two ("throttled", "unreachable", "auth"), and ``job_id`` names
        the job whose error caused it. A later pause never shortens an earlier one.
        ``count_failure`` adds one to the destination's run of failures (its backoff)."""
        until_s = utc_text(_moment(until, "until"))
        now_s = utc_text(dt.datetime.now(dt.UTC))
        add = 1 if count_failure else 0
        with self._core.transaction():
            self._upsert_destination(
                destination,
                "paused_until = CASE WHEN paused_until IS NULL OR paused_until < ? THEN ?"
                f" ELSE paused_until END, pause_reason = ?, failures = failures + {add},"
                " last_error_job = coalesce(?, last_error_job), last_error_at = ?",
                (until_s, until_s, kind, job_id, now_s),
            )
            self._core._audit(
                "destination_paused", f"destination:{destination}", _text_digest(kind), "note"
            )

    def note_destination_error(self, destination: str, job_id: int) -> None:
        """Remember which job gave the last error seen at a destination (``outbox status``)."""
        now_s = utc_text(dt.datetime.now(dt.UTC))
        with self._core.transaction():
            self._upsert_destination(
                destination, "last_error_job = ?, last_error_at = ?", (job_id, now_s)
            )

    def resume_destination(self, destination: str) -> None:
        """End a destination's pause and its run of failures (it answered again)."""
        with self._core.transaction():
            self._core._db.execute(
                "UPDATE delivery_destinations SET paused_until = NULL, pause_reason = NULL,"
                " failures = 0 WHERE destination = ?",
                (destination,),
            )

    def _job_of(self, row: tuple[Any, ...]) -> Job:
        """A job from its row, ``last_error`` decrypted when the ledger has a key."""
        job = _job(row)
        if job.last_error is None or self._core._key_id is None:
            return job
        return attrs.evolve(
            job, last_error=self._core._unseal(f"jobs:job:{job.id}:last_error", job.last_error)
        )

    def _job_errors(self, ids: Sequence[int], error: str | None) -> dict[int, str | None]:
        """Each job's ``last_error`` as stored: cut short, encrypted when the ledger has a key
        (bound to the job, so each job's value differs)."""
        error = cut_error(error)
        return {i: self._core._seal(f"jobs:job:{i}:last_error", error) for i in ids}
