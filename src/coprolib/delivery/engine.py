"""The delivery engine: claim outbox jobs, re-check consent, send in batches, record receipts,
retry with backoff, dead-letter with reasons. :func:`sync` is the entry point.

Exactly once in effect: a job's idempotency key is fixed when it is enqueued, so a retry or a
restart after a crash (the job's lease runs out and another run claims it) sends the same key and
the destination keeps one record. A receipt, the share's status and the job's end are written in
one transaction, so a job that can still be claimed has no receipt yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import random
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from coprolib.adapters import (
    Adapter,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Status,
    build_adapter,
)
from coprolib.delivery.backoff import RetryPolicy, backoff_delay
from coprolib.delivery.recheck import ConsentCache, consent_reason
from coprolib.delivery.send import deliver_checked, retract_checked
from coprolib.enums import ShareKind
from coprolib.feedback_owed import mark_feedback_sent
from coprolib.records import Receipt, Share

log = logging.getLogger("coprolib.delivery")

#: When a stopped destination's jobs fall due again.
BLOCKED_RETRY_SECONDS = 60.0

DELIVER = "deliver"
RETRACT = "retract"


@attrs.frozen(kw_only=True)
class Compensation:
    """A retraction the destination could not carry out itself: what a person must do."""

    destination: str
    share_id: str
    action: str


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A job that will not be tried again without a person: why."""

    job_id: int
    destination: str
    share_id: str
    kind: str
    reason: str


@attrs.define(kw_only=True)
class SyncSummary:
    """What one :func:`sync` did, counted per outcome.

    ``blocked`` names destinations that stopped for the rest of the run (disabled, credentials
    refused, not configured) with the reason; their jobs stay in the outbox.
    """

    dry_run: bool = False
    delivered: int = 0
    retracted: int = 0
    cancelled: int = 0
    retried: int = 0
    dead: list[DeadLetter] = attrs.field(factory=list)
    would_send: list[tuple[str, str, str]] = attrs.field(factory=list)
    blocked: dict[str, str] = attrs.field(factory=dict)
    compensations: list[Compensation] = attrs.field(factory=list)
    cancel_reasons: list[tuple[str, str]] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was dead-lettered and no destination was blocked."""
        return not self.dead and not self.blocked

    def lines(self) -> list[str]:
        """The closing summary, one line per fact, in plain words."""
        if self.dry_run:
            out = [f"dry run: {len(self.would_send)} job(s) would be sent, nothing changed"]
            out += [f"  would {kind} {share} -> {dest}" for kind, dest, share in self.would_send]
        else:
            out = [
                f"delivered {self.delivered}, retracted {self.retracted}, cancelled "
                f"{self.cancelled}, to retry {self.retried}, dead-lettered {len(self.dead)}"
            ]
        out += [f"  cancelled {share}: {reason}" for share, reason in self.cancel_reasons]
        out += [
            f"  dead letter {d.job_id} ({d.destination}/{d.share_id}): {d.reason}"
            for d in self.dead
        ]
        out += [f"  destination {name} stopped: {why}" for name, why in self.blocked.items()]
        out += [
            f"  needs a person: {c.destination}/{c.share_id}: {c.action}"
            for c in self.compensations
        ]
        return out


def worker_id() -> str:
    """A name for this process as a claimant of jobs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Run:
    """The state of one sync run (adapters, paused destinations, the summary)."""

    def __init__(
        self,
        ledger: Any,
        config: Any,
        *,
        dry_run: bool,
        policy: RetryPolicy,
        adapters: Mapping[str, Adapter[Any]] | None,
        clock: Callable[[], dt.datetime],
        rng: random.Random,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.progress = progress
        self.summary = SyncSummary(dry_run=dry_run)
        self.adapters: dict[str, Adapter[Any]] = dict(adapters or {})
        self._owned: list[Adapter[Any]] = []
        self.paused_until: dict[str, dt.datetime] = {}

    # --- destinations ---------------------------------------------------------------------

    def destination(self, name: str) -> Any:
        if self.config is None:
            return None
        return getattr(self.config, "destinations", {}).get(name)

    def adapter(self, name: str) -> Adapter[Any] | None:
        if name in self.adapters:
            return self.adapters[name]
        dest = self.destination(name)
        if dest is None:
            self.summary.blocked[name] = "not configured in coprolib.toml"
            return None
        try:
            made = build_adapter(dest.adapter, dest.settings, destination=name)
        except Exception as exc:
            self.summary.blocked[name] = f"cannot start adapter: {exc}"
            return None
        self.adapters[name] = made
        self._owned.append(made)
        return made

    def close(self) -> None:
        for made in self._owned:
            try:
                made.close()
            except Exception:
                log.warning("closing adapter %s failed", made.name)

    # --- job outcomes ---------------------------------------------------------------------

    def retry(self, job: Any, reason: str, retry_after: float | None, share: Share | None) -> None:
        attempts = job.attempts + 1
        if attempts >= self.policy.max_attempts:
            self.dead(job, f"gave up after {attempts} attempts: {reason}", share)
            return
        delay = backoff_delay(attempts, self.policy, retry_after=retry_after, rng=self.rng)
        resume = self.paused_until.get(job.destination)
        when = self.clock() + dt.timedelta(seconds=delay)
        if resume is not None and resume > when:
            when = resume
        self.ledger.finish_job(job.id, "pending", error=reason, next_attempt_at=when)
        self.summary.retried += 1
        _hook_failed(share, job, reason, final=False)

    def stopped(self, dest: str) -> bool:
        """Whether the destination is stopped or paused at this moment."""
        paused = self.paused_until.get(dest)
        return dest in self.summary.blocked or (paused is not None and paused > self.clock())

    def release(self, job: Any, reason: str) -> None:
        """Put a claimed job back untouched (destination paused or stopped): due again when the
        pause ends, or, for a stopped destination, a minute from now (not again in this run)."""
        when = self.paused_until.get(job.destination)
        if job.destination in self.summary.blocked or when is None:
            when = self.clock() + dt.timedelta(seconds=BLOCKED_RETRY_SECONDS)
        self.ledger.finish_job(job.id, "pending", error=reason, next_attempt_at=when)

    def dead(self, job: Any, reason: str, share: Share | None) -> None:
        with self.ledger.transaction():
            self.ledger.finish_job(job.id, "dead", error=reason)
            if share is not None and job.kind == DELIVER:
                from coprolib.ledger import ShareStatus

                self.ledger.set_share_status(share.id, ShareStatus.DEAD)
        self.summary.dead.append(
            DeadLetter(
                job_id=job.id,
                destination=job.destination,
                share_id=job.share_id,
                kind=job.kind,
                reason=reason,
            )
        )
        _hook_failed(share, job, reason, final=True)

    def cancel(self, job: Any, reason: str, share: Share | None, *, share_too: bool = True) -> None:
        """End a job without sending; with ``share_too`` the share is marked cancelled."""
        with self.ledger.transaction():
            self.ledger.finish_job(job.id, "cancelled", error=reason)
            if share is not None and share_too and job.kind == DELIVER:
                from coprolib.ledger import ShareStatus

                self.ledger.set_share_status(share.id, ShareStatus.CANCELLED)
        self.summary.cancelled += 1
        self.summary.cancel_reasons.append((job.share_id, reason))

    def failure(
        self, job: Any, result: DeliveryResult | RetractResult, share: Share | None
    ) -> None:
        reason = result.message or str(result.status)
        status = result.status
        if status is Status.THROTTLED:
            pause = result.retry_after
            if pause is None:
                pause = backoff_delay(job.attempts + 1, self.policy, rng=self.rng)
            self.paused_until[job.destination] = self.clock() + dt.timedelta(seconds=pause)
            self.retry(job, f"throttled: {reason}", result.retry_after, share)
        elif status is Status.RETRYABLE:
            self.retry(job, reason, result.retry_after, share)
        elif status in (Status.AUTH, Status.DISABLED):
            self.summary.blocked[job.destination] = f"{status}: {reason}"
            self.retry(job, f"{status}: {reason}", None, share)
        else:  # permanent, conflict, or a status this engine does not know
            self.dead(job, f"{status}: {reason}", share)


def _hook_failed(share: Share | None, job: Any, reason: str, *, final: bool) -> None:
    if share is None:
        return
    from coprolib.plugin_host import call_each

    call_each(
        "delivery_failed", share=share, destination=job.destination, reason=reason, final=final
    )


def _implemented(hook_name: str) -> bool:
    """Whether any plugin implements the hook (skip per-share calls when none does)."""
    from coprolib.plugin_host import get_plugin_manager

    return bool(getattr(get_plugin_manager().hook, hook_name).get_hookimpls())


def _veto(share: Share, destination: str) -> str | None:
    from coprolib.plugin_host import call_each

    for plugin, answer in call_each("before_delivery", share=share, destination=destination):
        if answer:
            return f"vetoed by plugin {plugin}: {answer}"
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _process(run: _Run, jobs: list[Any]) -> None:
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for job in jobs:
        groups[(job.destination, job.kind)].append(job)
    for (dest, kind), group in groups.items():
        if run.stopped(dest):
            for job in group:
                run.release(job, "destination paused or stopped during this run")
            continue
        adapter = run.adapter(dest)
        if adapter is None:
            for job in group:
                run.release(job, f"destination stopped: {run.summary.blocked[dest]}")
            continue
        size = adapter.capabilities.max_batch_size
        for start in range(0, len(group), size):
            batch = group[start : start + size]
            if run.stopped(dest):
                for job in batch:
                    run.release(job, "destination paused or stopped during this run")
                continue
            if kind == RETRACT:
                _retract_batch(run, adapter, batch)
            else:
                _deliver_batch(run, adapter, batch)
            if run.progress is not None:
                run.progress(len(batch))


def _deliver_batch(run: _Run, adapter: Adapter[Any], jobs: list[Any]) -> None:
    from coprolib.ledger import ShareStatus

    ledger = run.ledger
    dest = jobs[0].destination
    destination_cfg = run.destination(dest)
    sendable: list[tuple[Any, Share]] = []
    shares = ledger.get_shares(job.share_id for job in jobs)  # one read for the batch
    for job in jobs:
        found = shares.get(job.share_id)
        if found is None:
            run.dead(job, f"share {job.share_id} is not in the ledger", None)
            continue
        share, status = found
        if status in (ShareStatus.CANCELLED, ShareStatus.RETRACT_PLANNED, ShareStatus.RETRACTED):
            run.cancel(job, f"share is {status}; not sending", share, share_too=False)
            continue
        if share.idempotency_key != job.idempotency_key:
            share = attrs.evolve(share, idempotency_key=job.idempotency_key)
        sendable.append((job, share))
    by_share = {share.id: (job, share) for job, share in sendable}
    consents = ConsentCache(ledger, run.clock())  # read once per batch, just before sending
    consents.preload(share for _, share in sendable)
    vetoes = _implemented("before_delivery")

    def recheck(share: Share) -> str | None:
        vetoed = _veto(share, dest) if vetoes else None
        if vetoed:
            return vetoed
        return consent_reason(ledger, share, destination_cfg, consents.now, consents)

    results = deliver_checked(adapter, [share for _, share in sendable], recheck=recheck)
    done: list[tuple[Any, Share, DeliveryResult]] = []
    for result in results:
        job, share = by_share[result.share_id]
        if result.status is Status.OK:
            done.append((job, share, result))
        elif result.status is Status.CANCELLED:
            run.cancel(job, result.message or "cancelled", share)
        else:
            run.failure(job, result, share)
    if not done:
        return
    at = run.clock()
    receipts = [
        (
            job,
            share,
            Receipt(
                share_id=share.id,
                destination=dest,
                idempotency_key=job.idempotency_key,
                action=DELIVER,
                at=at,
                remote_id=result.remote_id,
            ),
        )
        for job, share, result in done
    ]
    # Receipts, statuses, job ends and the feedback they send marked sent: all or none.
    with ledger.transaction():
        ledger.record_delivered([(job.id, receipt) for job, _, receipt in receipts])
        for _, share, receipt in receipts:
            if share.kind is ShareKind.FEEDBACK:
                mark_feedback_sent(ledger, share, receipt)
    run.summary.delivered += len(done)
    if _implemented("after_delivery"):
        from coprolib.plugin_host import call_each

        for _, share, receipt in receipts:
            call_each("after_delivery", share=share, destination=dest, receipt=receipt)


def _retract_batch(run: _Run, adapter: Adapter[Any], jobs: list[Any]) -> None:
    from coprolib.ledger import ShareStatus

    ledger = run.ledger
    dest = jobs[0].destination
    refs: list[RetractRef] = []
    by_key: dict[str, Any] = {}
    for job in jobs:
        receipts = [r for r in ledger.receipts_for(job.share_id) if r.destination == dest]
        delivered = [(r.idempotency_key, r.remote_id) for r in receipts if r.action == DELIVER]
        if any(r.action == RETRACT for r in receipts):
            with ledger.transaction():  # retracted already: nothing more at the remote
                ledger.set_share_status(job.share_id, ShareStatus.RETRACTED)
                ledger.finish_job(job.id, "done")
            run.summary.retracted += 1
            continue
        # No receipt: it was sent and never confirmed, or may have been (a reply lost). In
        # doubt means live: retract it by the key it was sent with (not there counts as done).
        for key, remote_id in delivered or [(job.idempotency_key, None)]:
            if key in by_key:
                continue
            refs.append(RetractRef(share_id=job.share_id, idempotency_key=key, remote_id=remote_id))
            by_key[key] = job
    results = retract_checked(adapter, refs)
    outcome: dict[int, list[RetractResult]] = defaultdict(list)
    for result in results:
        outcome[by_key[result.idempotency_key].id].append(result)
    at = run.clock()
    for job in {id(j): j for j in by_key.values()}.values():
        mine = outcome[job.id]
        failed = [r for r in mine if not r.ok]
        found = ledger.get_share(job.share_id)
        share = found[0] if found else None
        if failed:
            run.failure(job, failed[0], share)
            continue
        with ledger.transaction():
            for result in mine:
                ledger.add_receipt(
                    Receipt(
                        share_id=job.share_id,
                        destination=dest,
                        idempotency_key=result.idempotency_key,
                        action=RETRACT,
                        at=at,
                        remote_id=result.remote_id,
                    )
                )
                if not result.retracted:
                    action = result.compensating_action or "the destination cannot delete"
                    ledger.record_audit(
                        "retraction_needs_person", f"share:{job.share_id}@{dest}", _digest(action)
                    )
                    run.summary.compensations.append(
                        Compensation(destination=dest, share_id=job.share_id, action=action)
                    )
            ledger.set_share_status(job.share_id, ShareStatus.RETRACTED)
            ledger.finish_job(job.id, "done")
        run.summary.retracted += 1


def _dry_run(run: _Run, destination: str | None) -> None:
    now = run.clock()
    for job in run.ledger.list_jobs(status="pending", destination=destination):
        if job.next_attempt_at > now:
            continue
        found = run.ledger.get_share(job.share_id)
        if found is None:
            continue
        share = found[0]
        reason = None
        if job.kind == DELIVER:
            reason = _veto(share, job.destination) or consent_reason(
                run.ledger, share, run.destination(job.destination), now
            )
        if reason:
            run.summary.cancel_reasons.append((share.id, reason))
        else:
            run.summary.would_send.append((job.kind, job.destination, share.id))


def count_due(ledger: Any, destination: str | None = None, now: dt.datetime | None = None) -> int:
    """How many pending jobs are due now (for progress bars)."""
    moment = now or _utcnow()
    return sum(
        1
        for job in ledger.list_jobs(status="pending", destination=destination)
        if job.next_attempt_at <= moment
    )


def sync(
    ledger: Any,
    config: Any = None,
    destination: str | None = None,
    dry_run: bool = False,
    *,
    policy: RetryPolicy | None = None,
    adapters: Mapping[str, Adapter[Any]] | None = None,
    worker: str | None = None,
    claim_size: int = 500,
    lease_seconds: int = 300,
    max_wait: float = 0.0,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], dt.datetime] = _utcnow,
    rng: random.Random | None = None,
) -> SyncSummary:
    """Send every due outbox job (all destinations, or only ``destination``) and return counts.

    ``config`` is a :class:`coprolib.config.Config` (destinations and their adapters); tests and
    embedders may pass ready ``adapters`` by destination name instead. With ``dry_run`` nothing
    is claimed, sent or changed: the summary lists what would be sent or cancelled. Jobs that
    fail for a passing reason are put back with a backoff; if ``max_wait`` is above zero the run
    waits for retries falling due within that many seconds, so one call can finish through a
    flaky receiver. Several processes may run at once: jobs are claimed with a lease.
    """
    run = _Run(
        ledger,
        config,
        dry_run=dry_run,
        policy=policy or RetryPolicy(),
        adapters=adapters,
        clock=clock,
        rng=rng or random.Random(),
        progress=progress,
    )
    if dry_run:
        _dry_run(run, destination)
        return run.summary
    me = worker or worker_id()
    deadline = time.monotonic() + max_wait
    try:
        while True:
            jobs = ledger.claim_jobs(
                destination=destination,
                limit=claim_size,
                worker=me,
                now=clock(),
                lease_seconds=lease_seconds,
            )
            if jobs:
                _process(run, jobs)
                continue
            wait = _next_due(ledger, destination, run, clock())
            if wait is None or time.monotonic() + wait > deadline:
                break
            time.sleep(max(wait, 0.001))
    finally:
        run.close()
    return run.summary


def _next_due(ledger: Any, destination: str | None, run: _Run, now: dt.datetime) -> float | None:
    """Seconds until the next pending job of a destination that is not stopped falls due."""
    due: Iterable[dt.datetime] = (
        job.next_attempt_at
        for job in ledger.list_jobs(status="pending", destination=destination)
        if job.destination not in run.summary.blocked
    )
    soonest = min(due, default=None)
    if soonest is None:
        return None
    return max(0.0, (soonest - now).total_seconds())


def delivered_receipt(ledger: Any, share_id: str) -> Receipt | None:
    """The receipt that shows ``share_id`` reached its destination (and was not retracted
    since), or None: the precondition of the "shared" feedback owed for it."""
    receipts = ledger.receipts_for(share_id)
    if not receipts or receipts[-1].action != DELIVER:
        return None
    last: Receipt = receipts[-1]
    return last


def outbox_status(ledger: Any) -> dict[str, Counter[str]]:
    """Job counts by destination and status."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for job in ledger.list_jobs():
        counts[job.destination][job.status] += 1
    return dict(counts)


def dead_letters(ledger: Any, destination: str | None = None) -> list[Any]:
    """The dead-lettered jobs, with their reasons in ``last_error``."""
    return list(ledger.list_jobs(status="dead", destination=destination))


def retry_dead(ledger: Any, job_id: int) -> Any:
    """Put a dead-lettered job back in the outbox as a new job with the same idempotency key."""
    for job in ledger.list_jobs(status="dead"):
        if job.id == job_id:
            return ledger.enqueue_job(job.kind, job.destination, job.share_id, job.idempotency_key)
    raise LookupError(f"no dead-lettered job with id {job_id}")
