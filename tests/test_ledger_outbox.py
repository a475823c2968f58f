"""Shares, receipts and the outbox job queue, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import attrs
import pytest

from coprolib.ledger import JobCounts, JobKind, JobStatus, LedgerError, ShareRow, ShareStatus
from coprolib.records import Receipt
from tests.ledger_data import T0, contributor, share, story


@pytest.fixture
def shared(ledger):  # type: ignore[no-untyped-def]
    ledger.add([contributor("p-1"), story("s-1"), story("s-2")])
    ledger.put_share(share("sh-1", "files", ("s-1",)))
    ledger.put_share(share("sh-2", "crm", ("s-1", "s-2")))
    return ledger


def test_shares_upsert_and_filter(shared) -> None:
    got = shared.get_share("sh-1")
    assert got == ShareRow(share("sh-1", "files", ("s-1",)), ShareStatus.PLANNED)
    assert shared.get_share("missing") is None
    assert [r.share.id for r in shared.list_shares(story_id="s-1")] == ["sh-1", "sh-2"]
    assert [r.share.id for r in shared.list_shares(story_id="s-2")] == ["sh-2"]
    assert [r.share.id for r in shared.list_shares(destination="crm")] == ["sh-2"]
    shared.set_share_status("sh-2", ShareStatus.DELIVERED)
    assert [r.share.id for r in shared.list_shares(status="delivered")] == ["sh-2"]
    updated = attrs.evolve(share("sh-1", "files", ("s-2",)), title="Ring back sooner")
    shared.put_share(updated, ShareStatus.RETRACT_PLANNED)
    assert shared.get_share("sh-1") == ShareRow(updated, ShareStatus.RETRACT_PLANNED)
    assert [r.share.id for r in shared.list_shares(story_id="s-1")] == ["sh-2"]
    with pytest.raises(LedgerError, match="share 'nope'"):
        shared.set_share_status("nope", ShareStatus.DELIVERED)
    with pytest.raises(LedgerError, match="not a share status"):
        shared.set_share_status("sh-1", "lost")
    assert shared.verify_audit().ok


def test_receipts(shared) -> None:
    r1 = Receipt(
        share_id="sh-1",
        destination="files",
        idempotency_key="key-sh-1",
        action="deliver",
        at=T0,
        remote_id="remote-1",
    )
    r2 = attrs.evolve(r1, action="retract", at=T0 + dt.timedelta(hours=1))
    shared.add_receipt(r1)
    shared.add_receipt(r2)
    assert shared.receipts_for("sh-1") == [r1, r2]
    assert shared.receipts_for("sh-2") == []
    with pytest.raises(LedgerError, match="share 'ghost'"):
        shared.add_receipt(attrs.evolve(r1, share_id="ghost"))


def test_jobs_enqueue_is_idempotent_claim_and_finish(shared) -> None:
    a = shared.enqueue_job("deliver", "files", "sh-1", "key-sh-1")
    assert shared.enqueue_job("deliver", "files", "sh-1", "key-sh-1") == a
    b = shared.enqueue_job("deliver", "crm", "sh-2", "key-sh-2")
    assert a.id != b.id and a.status == "pending" and a.attempts == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    claimed = shared.claim_jobs(destination="files", worker="w1", now=later)
    assert [j.id for j in claimed] == [a.id] and claimed[0].claimed_by == "w1"
    assert shared.claim_jobs(destination="files", worker="w2", now=later) == []
    # a claimed job still counts as open
    assert shared.enqueue_job("deliver", "files", "sh-1", "key-sh-1").id == a.id
    retry_at = later + dt.timedelta(minutes=5)
    shared.finish_job(a.id, "pending", error="HTTP 503", next_attempt_at=retry_at)
    assert shared.claim_jobs(destination="files", now=later) == []
    again = shared.claim_jobs(destination="files", worker="w3", now=retry_at)
    assert [(j.id, j.attempts, j.last_error) for j in again] == [(a.id, 1, "HTTP 503")]
    shared.finish_job(a.id, "done")
    assert [j.status for j in shared.list_jobs(destination="files")] == ["done"]
    # once done, a new job may be queued for the same share
    assert shared.enqueue_job("deliver", "files", "sh-1", "key-sh-1").id != a.id
    with pytest.raises(LedgerError, match="job 999"):
        shared.finish_job(999, "done")
    with pytest.raises(LedgerError, match="not a way to finish"):
        shared.finish_job(b.id, "exploded")
    with pytest.raises(LedgerError, match="share 'ghost'"):
        shared.enqueue_job("deliver", "files", "ghost", "k")
    with pytest.raises(LedgerError, match="'resend' is not a job kind"):
        shared.enqueue_job("resend", "files", "sh-1", "k")
    assert shared.verify_audit().ok


def test_job_kind_and_status_are_enums_stored_as_their_words(shared) -> None:
    queued = shared.enqueue_job(JobKind.RETRACT, "files", "sh-1", "key-sh-1")
    assert queued.kind is JobKind.RETRACT and queued.status is JobStatus.PENDING
    assert shared.enqueue_job("retract", "files", "sh-1", "key-sh-1") == queued
    shared.finish_job(queued.id, JobStatus.CANCELLED)
    (job,) = shared.list_jobs(status="cancelled")
    assert job.kind is JobKind.RETRACT and job.status is JobStatus.CANCELLED
    stored = shared._db.query_one("SELECT kind, status FROM jobs WHERE id = ?", (queued.id,))
    assert tuple(stored) == ("retract", "cancelled")
    assert type(stored[0]) is str and type(stored[1]) is str


def test_job_counts_per_destination(shared) -> None:
    a = shared.enqueue_job("deliver", "files", "sh-1", "key-sh-1")
    shared.enqueue_job("deliver", "crm", "sh-2", "key-sh-2")
    at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    shared.claim_jobs(destination="crm", worker="w1", now=at, lease_seconds=60)
    retry_at = at + dt.timedelta(minutes=5)
    shared.finish_job(a.id, "pending", error="HTTP 503", next_attempt_at=retry_at)
    counts = shared.job_counts(at)
    assert counts["files"] == JobCounts(counts={"pending": 1}, backoff=1, next_attempt_at=retry_at)
    assert counts["crm"] == JobCounts(
        counts={"claimed": 1}, lease_until=at + dt.timedelta(seconds=60)
    )
    assert shared.job_counts(retry_at)["files"].backoff == 0


def test_a_share_row_still_unpacks_with_a_warning(shared) -> None:
    row = shared.get_share("sh-1")
    assert isinstance(row, ShareRow) and row.status is ShareStatus.PLANNED
    with pytest.warns(DeprecationWarning, match=r"read row\.share and row\.status"):
        share, status = row
    assert (share, status) == (row.share, row.status)
    with pytest.warns(DeprecationWarning):
        assert row[1] is ShareStatus.PLANNED


def test_expired_lease_comes_back(shared) -> None:
    job = shared.enqueue_job("retract", "files", "sh-1", "key-sh-1")
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert shared.claim_jobs(worker="crashed", now=t, lease_seconds=60)
    assert shared.claim_jobs(worker="w2", now=t + dt.timedelta(seconds=30)) == []
    back = shared.claim_jobs(worker="w2", now=t + dt.timedelta(seconds=61))
    assert [(j.id, j.claimed_by) for j in back] == [(job.id, "w2")]


def test_concurrent_workers_never_claim_the_same_job(ledger_target) -> None:
    with ledger_target.open() as setup:
        setup.add([contributor("p-1"), story("s-1")])
        for i in range(40):
            setup.put_share(share(f"sh-{i}", "files", ("s-1",)))
            setup.enqueue_job("deliver", "files", f"sh-{i}", f"k-{i}")
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    def work(name: str) -> None:
        try:
            with ledger_target.open(actor=name) as mine:
                got: list[int] = []
                while batch := mine.claim_jobs(limit=3, worker=name, now=later):
                    got.extend(j.id for j in batch)
                claimed[name] = got
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    every = [j for ids in claimed.values() for j in ids]
    assert len(every) == 40 and len(set(every)) == 40
    with ledger_target.open() as check:
        assert check.verify_audit().ok


def _actions(ledger) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e.action, ref) for e in ledger.audit_entries() for ref, _ in e.changes()]


def test_bulk_writes_audit_every_change_and_match_single_ones(shared) -> None:
    shared.put_share(share("sh-3", "files", ("s-2",)))
    receipts = [
        Receipt(
            share_id=sid,
            destination="files",
            idempotency_key=f"key-{sid}",
            action="deliver",
            at=T0,
            remote_id=f"remote-{sid}",
        )
        for sid in ("sh-1", "sh-3", "sh-1")
    ]
    jobs = [shared.enqueue_job("deliver", "files", s, f"key-{s}") for s in ("sh-1", "sh-3")]
    before = len(_actions(shared))
    with shared.transaction():
        shared.add_receipts(receipts)
        shared.set_share_statuses([("sh-1", "delivered"), ("sh-3", ShareStatus.DELIVERED)])
        shared.finish_jobs([j.id for j in jobs], "done")
    assert shared.receipts_for("sh-1") == [receipts[0], receipts[2]]
    assert shared.receipts_for("sh-3") == [receipts[1]]
    assert [r.status for r in shared.list_shares(destination="files")] == ["delivered"] * 2
    assert [j.status for j in shared.list_jobs(destination="files")] == ["done", "done"]
    new = _actions(shared)[before:]
    assert [a for a, _ in new] == ["receipt"] * 3 + ["share_status"] * 2 + ["job_done"] * 2
    assert len({ref for a, ref in new if a == "receipt"}) == 3
    assert shared.verify_audit().ok
    # pending through the bulk path counts one more attempt per job, once per repeated id
    retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    again = [shared.enqueue_job("deliver", "files", s, f"key-{s}") for s in ("sh-1", "sh-3")]
    shared.finish_jobs([again[0].id, again[1].id, again[0].id], "pending", "HTTP 503", retry_at)
    pending = shared.list_jobs(status="pending")
    assert [(j.attempts, j.last_error, j.next_attempt_at) for j in pending] == [
        (1, "HTTP 503", retry_at)
    ] * 2
    assert shared.verify_audit().ok


def test_bulk_writes_are_all_or_nothing(shared) -> None:
    job = shared.enqueue_job("deliver", "files", "sh-1", "key-sh-1")
    good = Receipt(
        share_id="sh-1",
        destination="files",
        idempotency_key="key-sh-1",
        action="deliver",
        at=T0,
        remote_id=None,
    )
    before = _actions(shared)
    with pytest.raises(LedgerError, match="share 'ghost'"):
        shared.add_receipts([good, attrs.evolve(good, share_id="ghost")])
    with pytest.raises(LedgerError, match="share 'ghost'"):
        shared.set_share_statuses([("sh-1", "delivered"), ("ghost", "delivered")])
    with pytest.raises(LedgerError, match="job 999"):
        shared.finish_jobs([job.id, 999], "done")
    with pytest.raises(LedgerError, match="not a share status"):
        shared.set_share_statuses([("sh-1", "delivered"), ("sh-2", "lost")])
    assert _actions(shared) == before
    assert shared.receipts_for("sh-1") == []
    assert shared.get_share("sh-1").status is ShareStatus.PLANNED
    assert shared.list_jobs(destination="files")[0].status == "pending"
    assert shared.get_shares(["sh-2", "ghost", "sh-1"]) == {
        "sh-1": shared.get_share("sh-1"),
        "sh-2": shared.get_share("sh-2"),
    }
