"""A state machine over the outbox with several workers, leases that run out and late results:
whatever the order, a share gets at most one receipt, only a claim's current holder settles a
job, and a job with a late result is marked as possibly delivered."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from coprolib.ledger import Job, JobStatus, open_ledger
from coprolib.records import Receipt
from coprolib.testing.shares import outbox_shares, plan_into, seed_consent

WORKERS = ("w1", "w2", "w3")
T0 = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)


class Outbox(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.ledger: Any = open_ledger(f"sqlite:///{Path(self._dir.name) / 'l.db'}", key="")
        seed_consent(self.ledger)
        self.shares = {s.id: s for s in outbox_shares(4, "board")}
        plan_into(self.ledger, list(self.shares.values()))
        self.now = T0
        self.claims: list[tuple[str, Job]] = []  # every claim ever handed out, stale or not
        self.late: set[int] = set()

    def teardown(self) -> None:
        self.ledger.close()
        self._dir.cleanup()

    @rule(seconds=st.integers(min_value=0, max_value=40))
    def time_passes(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)

    @rule(worker=st.sampled_from(WORKERS), limit=st.integers(min_value=1, max_value=4))
    def claim(self, worker: str, limit: int) -> None:
        got = self.ledger.claim_jobs(worker=worker, limit=limit, now=self.now, lease_seconds=30)
        for job in got:
            assert job.claimed_by == worker
        self.claims += [(worker, job) for job in got]

    def _current(self, job: Job) -> bool:
        row = self.ledger.get_job(job.id)
        return bool(row.status == JobStatus.CLAIMED and row.token == job.token)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(min_value=0), ok=st.booleans())
    def a_result_comes_back(self, pick: int, ok: bool) -> None:
        _, job = self.claims[pick % len(self.claims)]
        current = self._current(job)
        if ok:
            share = self.shares[job.share_id]
            receipt = Receipt(
                share_id=share.id,
                destination="board",
                idempotency_key=job.idempotency_key,
                action="deliver",
                at=self.now,
            )
            lost = self.ledger.record_delivered([(job, receipt)])
        else:
            lost = self.ledger.settle_jobs(
                [job], "pending", error="HTTP 503", next_attempt_at=self.now, count_attempt=True
            )
        assert bool(lost) == (not current), "only the current holder settles a job"
        if lost and ok:
            self.late.add(job.id)

    @invariant()
    def at_most_one_receipt_per_share(self) -> None:
        for share_id in self.shares:
            assert len(self.ledger.receipts_for(share_id)) <= 1

    @invariant()
    def late_results_leave_the_job_in_doubt(self) -> None:
        for job_id in self.late:
            assert self.ledger.get_job(job_id).in_doubt


TestOutbox = Outbox.TestCase
TestOutbox.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
