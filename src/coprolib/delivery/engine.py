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
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import attrs
from pluggy import HookCaller

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
from coprolib.feedback.owed import mark_feedback_sent
from coprolib.ledger.types import Job, JobCounts, JobKind, JobStatus, ShareStatus
from coprolib.plugins import answers, get_plugin_manager, notify
from coprolib.records import Receipt, Share
from coprolib.records.enums import ShareKind

if TYPE_CHECKING:
    from coprolib.config import Config, Destination
    from coprolib.ledger import Ledger

log = logging.getLogger("coprolib.delivery")

#: How many refused shares the text summary names per destination (``--json`` has them all).
SHOWN = 20

#: When a stopped destination's jobs fall due again.
BLOCKED_RETRY_SECONDS = 60.0


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
    in_doubt: bool = False


@attrs.define(kw_only=True)
class DestinationReport:
    """One destination in a :func:`sync`: what happened there, and what is left at the end.

    ``failed_attempts`` counts requests that reached the destination (or may have) and failed;
    ``throttled`` results, ``unreachable`` ones (the request never left: connection refused)
    and jobs handed back unsent cost no attempt. ``refused`` lists the
    shares cancelled just before sending, with the reason (consent re-check or a plugin veto).
    ``late`` counts results that came back after this worker's claim had passed to another
    (recorded in the job's history, never as a receipt). What is left: ``waiting`` jobs in
    backoff until ``next_attempt_at``; ``due`` jobs that were due but not sent (the
    destination is paused or stopped, or the run ended); ``held`` jobs claimed by other
    workers (by worker, with the latest ``lease_until``); ``expired`` claims whose lease ran
    out and that no one has claimed again yet; ``left`` of those, the jobs this run tried.
    """

    destination: str
    delivered: int = 0
    retracted: int = 0
    failed_attempts: int = 0
    throttled: int = 0
    unreachable: int = 0
    refused: list[tuple[str, str]] = attrs.field(factory=list)
    dead: int = 0
    late: int = 0
    last_error: str | None = None
    paused_until: dt.datetime | None = None
    pause_reason: str | None = None
    waiting: int = 0
    next_attempt_at: dt.datetime | None = None
    due: int = 0
    held: dict[str, int] = attrs.field(factory=dict)
    lease_until: dt.datetime | None = None
    expired: int = 0
    left: int = 0

    @property
    def unfinished(self) -> bool:
        """Whether work this run should have done is left here."""
        return bool(self.left or self.due or self.held or self.expired)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values (times as ISO 8601 text)."""
        return {
            "destination": self.destination,
            "delivered": self.delivered,
            "retracted": self.retracted,
            "failed_attempts": self.failed_attempts,
            "throttled": self.throttled,
            "unreachable": self.unreachable,
            "refused": [{"share_id": s, "reason": r} for s, r in self.refused],
            "dead": self.dead,
            "late_results": self.late,
            "last_error": self.last_error,
            "paused_until": _iso(self.paused_until),
            "pause_reason": self.pause_reason,
            "waiting": self.waiting,
            "next_attempt_at": _iso(self.next_attempt_at),
            "due_not_sent": self.due,
            "held_by_other_workers": dict(self.held),
            "lease_until": _iso(self.lease_until),
            "expired_leases": self.expired,
            "left_from_this_run": self.left,
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@attrs.define(kw_only=True)
class SyncSummary:
    """What one :func:`sync` did, counted per outcome, and what it left.

    ``blocked`` names destinations that stopped for the rest of the run (disabled, credentials
    refused, not configured) with the reason; their jobs stay in the outbox. ``destinations``
    holds a :class:`DestinationReport` for every destination the run touched or left work at.
    ``cancel_reasons`` lists ``(share id, reason)`` for every share cancelled before sending.
    ``retried`` counts the jobs this run put back that are still waiting at its end (jobs, not
    attempts).
    """

    dry_run: bool = False
    delivered: int = 0
    retracted: int = 0
    cancelled: int = 0
    retried: int = 0
    dead: list[DeadLetter] = attrs.field(factory=list)
    would_send: list[tuple[str, str, str]] = attrs.field(factory=list)
    not_due: list[tuple[str, int, dt.datetime | None]] = attrs.field(factory=list)
    blocked: dict[str, str] = attrs.field(factory=dict)
    compensations: list[Compensation] = attrs.field(factory=list)
    cancel_reasons: list[tuple[str, str]] = attrs.field(factory=list)
    destinations: dict[str, DestinationReport] = attrs.field(factory=dict)
    #: Ids of the jobs this run tried and put back (retry, throttling, a pause).
    put_back: set[int] = attrs.field(factory=set, repr=False)

    def at(self, destination: str) -> DestinationReport:
        """The report for ``destination`` (made on first use)."""
        found = self.destinations.get(destination)
        if found is None:
            found = self.destinations[destination] = DestinationReport(destination=destination)
        return found

    @property
    def unfinished(self) -> bool:
        """Whether work this run should have done is left (held by others, expired leases,
        due but unsent, or tried and put back)."""
        return any(d.unfinished for d in self.destinations.values())

    @property
    def ok(self) -> bool:
        """True when nothing was dead-lettered, no destination was blocked and no work that
        this run should have done is left."""
        return not self.dead and not self.blocked and not self.unfinished

    def lines(self) -> list[str]:
        """The closing summary, one line per fact, in plain words."""
        if self.dry_run:
            out = [f"dry run: {len(self.would_send)} job(s) would be sent, nothing changed"]
            out += [f"  would {kind} {share} -> {dest}" for kind, dest, share in self.would_send]
            out += [
                f"  {dest}: {n} job(s) not due yet"
                + (f" (next attempt {when.isoformat(timespec='seconds')})" if when else "")
                for dest, n, when in self.not_due
            ]
            out += [f"  cancelled {share}: {reason}" for share, reason in self.cancel_reasons]
            return out
        out = [
            f"delivered {self.delivered}, retracted {self.retracted}, cancelled "
            f"{self.cancelled}, to retry {self.retried}, dead-lettered {len(self.dead)}"
        ]
        for _, rep in sorted(self.destinations.items()):
            out += _destination_lines(rep)
        out += [
            f"  dead letter {d.job_id} ({d.destination}/{d.share_id}): {d.reason}"
            + (" (may have arrived)" if d.in_doubt else "")
            for d in self.dead
        ]
        out += [f"  destination {name} stopped: {why}" for name, why in self.blocked.items()]
        out += [
            f"  needs a person: {c.destination}/{c.share_id}: {c.action}"
            for c in self.compensations
        ]
        if self.unfinished:
            out.append("work is left: see the lines above (coprolib outbox status)")
        return out

    def to_json(self) -> dict[str, Any]:
        """The summary as plain JSON values (``sync --json``)."""
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "delivered": self.delivered,
            "retracted": self.retracted,
            "cancelled": self.cancelled,
            "retried": self.retried,
            "dead": [attrs.asdict(d) for d in self.dead],
            "would_send": [
                {"kind": k, "destination": d, "share_id": s} for k, d, s in self.would_send
            ],
            "not_due": [
                {"destination": d, "jobs": n, "next_attempt_at": _iso(w)}
                for d, n, w in self.not_due
            ],
            "blocked": dict(self.blocked),
            "compensations": [attrs.asdict(c) for c in self.compensations],
            "cancelled_shares": [{"share_id": s, "reason": r} for s, r in self.cancel_reasons],
            "destinations": {n: r.to_json() for n, r in sorted(self.destinations.items())},
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _when(moment: dt.datetime | None) -> str:
    return "?" if moment is None else moment.isoformat(timespec="seconds")


def _destination_lines(rep: DestinationReport) -> list[str]:
    name = rep.destination
    out: list[str] = []
    if rep.failed_attempts or rep.throttled or rep.unreachable:
        out.append(
            f"  {name}: {rep.failed_attempts} failed attempt(s), throttled {rep.throttled}"
            f" time(s), unreachable {rep.unreachable} time(s); last error: "
            f"{rep.last_error or '-'}"
        )
    if rep.refused:
        out.append(f"  {name}: {len(rep.refused)} share(s) refused before sending")
        out += [f"    refused {share}: {reason}" for share, reason in rep.refused[:SHOWN]]
        if len(rep.refused) > SHOWN:
            out.append(f"    and {len(rep.refused) - SHOWN} more (see --json)")
    if rep.paused_until is not None:
        out.append(f"  {name}: paused until {_when(rep.paused_until)}: {rep.pause_reason}")
    if rep.waiting:
        out.append(
            f"  {name}: {rep.waiting} job(s) waiting to retry, next attempt "
            f"{_when(rep.next_attempt_at)}"
            + (f" (last error: {rep.last_error})" if rep.last_error else "")
        )
    if rep.due:
        out.append(f"  {name}: {rep.due} job(s) due and not sent")
    for worker, n in sorted(rep.held.items()):
        out.append(
            f"  {name}: {n} job(s) claimed by worker {worker} (lease until "
            f"{_when(rep.lease_until)})"
        )
    if rep.expired:
        out.append(f"  {name}: {rep.expired} job(s) whose worker's lease ran out, to claim again")
    if rep.late:
        out.append(
            f"  {name}: {rep.late} result(s) came back after the lease passed to another "
            "worker: kept in the job history, no receipt written"
        )
    return out


def worker_id() -> str:
    """A name for this process as a claimant of jobs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DestinationLimits:
    """How many batches may be in flight to each destination at once across the workers of
    one process. A destination that cannot drop duplicates (``can_upsert`` false: email,
    Notify, Teams) gets one at a time; others the least of ``per_destination`` and the
    adapter's declared ``max_concurrency`` (no limit when neither is set)."""

    def __init__(self, per_destination: int | None = None) -> None:
        self.per_destination = per_destination
        self._lock = threading.Lock()
        self._gates: dict[str, threading.BoundedSemaphore] = {}

    def gate(self, destination: str, adapter: Adapter[object]) -> threading.BoundedSemaphore | None:
        """The semaphore bounding ``destination``, or None when it is unbounded."""
        caps = adapter.capabilities
        limits = [n for n in (self.per_destination, caps.max_concurrency) if n is not None]
        size = 1 if not caps.can_upsert else (min(limits) if limits else None)
        if size is None:
            return None
        with self._lock:
            if destination not in self._gates:
                self._gates[destination] = threading.BoundedSemaphore(max(1, size))
            return self._gates[destination]


class _Run:
    """The state of one sync run (adapters, paused destinations, the summary)."""

    def __init__(
        self,
        ledger: Ledger,
        config: Config | None,
        *,
        dry_run: bool,
        policy: RetryPolicy,
        adapters: Mapping[str, Adapter[object]] | None,
        clock: Callable[[], dt.datetime],
        rng: random.Random,
        progress: Callable[[int], None] | None,
        worker: str,
        lease_seconds: int,
        limits: DestinationLimits,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.progress = progress
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.limits = limits
        self.summary = SyncSummary(dry_run=dry_run)
        self.adapters: dict[str, Adapter[object]] = dict(adapters or {})
        self._owned: list[Adapter[object]] = []
        self.paused_until: dict[str, dt.datetime] = {}
        self.failures: dict[str, int] = {}
        self.touched: set[int] = self.summary.put_back
        self.errors: dict[str, int] = {}

    def note_errors(self) -> None:
        """Store the last error each destination gave in the batch just sent (one write)."""
        for dest, job_id in self.errors.items():
            self.ledger.note_destination_error(dest, job_id)
        self.errors.clear()

    def refresh_pauses(self) -> None:
        """Read the destination pauses every worker shares from the ledger."""
        for name, state in self.ledger.destination_states().items():
            self.failures[name] = state.failures
            if state.paused_until is not None:
                self.paused_until[name] = state.paused_until
            else:
                self.paused_until.pop(name, None)

    # --- destinations ---------------------------------------------------------------------

    def destination(self, name: str) -> Destination | None:
        if self.config is None:
            return None
        return self.config.destinations.get(name)

    def adapter(self, name: str) -> Adapter[object] | None:
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

    def stopped(self, dest: str) -> bool:
        """Whether the destination is stopped or paused at this moment."""
        paused = self.paused_until.get(dest)
        return dest in self.summary.blocked or (paused is not None and paused > self.clock())

    def pause(self, dest: str, seconds: float, reason: str, job: Job) -> dt.datetime:
        """Pause ``dest`` for every worker (stored in the ledger); returns when it ends."""
        until = self.clock() + dt.timedelta(seconds=max(0.0, seconds))
        self.ledger.pause_destination(dest, until, reason.split(":")[0], job.id)
        self.failures[dest] = self.failures.get(dest, 0) + 1
        current = self.paused_until.get(dest)
        if current is None or current < until:
            self.paused_until[dest] = until
        return self.paused_until[dest]

    def answered(self, dest: str) -> None:
        """The destination took a request: end its run of destination-wide failures."""
        if self.failures.get(dest):
            self.ledger.resume_destination(dest)
            self.failures[dest] = 0
            self.paused_until.pop(dest, None)

    # --- job outcomes ---------------------------------------------------------------------

    def release(self, jobs: list[Job], reason: str, error: str | None = None) -> None:
        """Hand claimed jobs back unsent, at no cost in attempts: due again when the pause
        ends, or, for a stopped destination, a minute from now (not again in this run)."""
        if not jobs:
            return
        dest = jobs[0].destination
        when = self.paused_until.get(dest)
        if when is None or when <= self.clock():
            when = self.clock()
        if dest in self.summary.blocked:
            when = max(when, self.clock() + dt.timedelta(seconds=BLOCKED_RETRY_SECONDS))
        self.ledger.settle_jobs(
            jobs, JobStatus.PENDING, next_attempt_at=when, event="released",
            detail=reason.split(":")[0], error=error,
            worker=self.worker,
        )  # fmt: skip
        self.touched.update(j.id for j in jobs)
        self.summary.retried += len(jobs)

    def retry(self, job: Job, reason: str, retry_after: float | None, share: Share | None) -> None:
        """A request reached the destination (or may have) and failed: count the attempt, then
        retry after a backoff or, past ``max_attempts``, dead-letter."""
        attempts = job.attempts + 1
        rep = self.summary.at(job.destination)
        rep.failed_attempts += 1
        rep.last_error = reason
        self.errors[job.destination] = job.id
        if attempts >= self.policy.max_attempts:
            self.dead(
                job, f"gave up after {_count(attempts, 'attempt')}: {reason}", share,
                count_attempt=True, in_doubt=True,
            )  # fmt: skip
            return
        delay = backoff_delay(attempts, self.policy, retry_after=retry_after, rng=self.rng)
        when = self.clock() + dt.timedelta(seconds=delay)
        resume = self.paused_until.get(job.destination)
        if resume is not None and resume > when:
            when = resume
        lost = self.ledger.settle_jobs(
            [job], JobStatus.PENDING, error=reason, next_attempt_at=when, count_attempt=True,
            in_doubt=True, event="failed",
            detail=f"attempt {attempts} of {self.policy.max_attempts}",
            worker=self.worker,
        )  # fmt: skip
        if lost:
            rep.late += 1
            return
        self.touched.add(job.id)
        self.summary.retried += 1
        _hook_failed(share, job, reason, final=False)

    def dead(
        self,
        job: Job,
        reason: str,
        share: Share | None,
        *,
        count_attempt: bool = False,
        in_doubt: bool = False,
    ) -> None:
        with self.ledger.transaction():
            lost = self.ledger.settle_jobs(
                [job], JobStatus.DEAD, error=reason, count_attempt=count_attempt,
                in_doubt=in_doubt, worker=self.worker,
            )  # fmt: skip
            if not lost and share is not None and job.kind is JobKind.DELIVER:
                self.ledger.set_share_status(share.id, ShareStatus.DEAD)
        rep = self.summary.at(job.destination)
        if lost:
            rep.late += 1
            return
        rep.dead += 1
        self.summary.dead.append(
            DeadLetter(
                job_id=job.id,
                destination=job.destination,
                share_id=job.share_id,
                kind=job.kind,
                reason=reason,
                in_doubt=in_doubt or job.in_doubt,
            )
        )
        _hook_failed(share, job, reason, final=True)

    def cancel(self, job: Job, reason: str, share: Share | None, *, share_too: bool = True) -> None:
        """End a job without sending; with ``share_too`` the share is marked cancelled."""
        with self.ledger.transaction():
            lost = self.ledger.settle_jobs(
                [job], JobStatus.CANCELLED, error=reason, worker=self.worker
            )
            if not lost and share is not None and share_too and job.kind is JobKind.DELIVER:
                # Tried before (a reply may have been lost): it may be at the destination, so it
                # stays in doubt (the planner treats that as live and retracts it when it must).
                maybe_out = job.in_doubt or job.attempts > 0
                status = ShareStatus.DEAD if maybe_out else ShareStatus.CANCELLED
                self.ledger.set_share_status(share.id, status)
        rep = self.summary.at(job.destination)
        if lost:
            rep.late += 1
            return
        self.summary.cancelled += 1
        self.summary.cancel_reasons.append((job.share_id, reason))
        rep.refused.append((job.share_id, reason))

    def failure(
        self, job: Job, result: DeliveryResult | RetractResult, share: Share | None
    ) -> None:
        reason = result.message or str(result.status)
        status = result.status
        dest = job.destination
        rep = self.summary.at(dest)
        if status is Status.THROTTLED:
            # The destination asked everyone to slow down: a pause for the whole destination,
            # stored so every worker and the next run honour it; no attempt is counted.
            # As long as the destination asked; without a usable Retry-After (none, or 0 that
            # never lets up), a backoff that grows while it keeps refusing.
            pause = result.retry_after or 0.0
            if pause <= 0:
                pause = backoff_delay(self.failures.get(dest, 0) + 1, self.policy, rng=self.rng)
            rep.throttled += 1
            rep.last_error = f"throttled: {reason}"
            self.pause(dest, pause, f"throttled: {reason}", job)
            self.release([job], f"throttled: {reason}", error=f"throttled: {reason}")
        elif status in (Status.AUTH, Status.DISABLED):
            why = f"{status}: {reason}"
            self.summary.blocked[dest] = why
            rep.last_error = why
            delay = backoff_delay(self.failures.get(dest, 0) + 1, self.policy, rng=self.rng)
            self.pause(dest, max(BLOCKED_RETRY_SECONDS, delay), why, job)
            self.release([job], why, error=why)
        elif status is Status.RETRYABLE and getattr(result, "reached", None) is False:
            # The request never left (connection refused, connect timeout): the destination
            # is down, not this share. Pause the destination for everyone; no attempt counted.
            why = f"unreachable: {reason}"
            rep.unreachable += 1
            rep.last_error = why
            grown = backoff_delay(self.failures.get(dest, 0) + 1, self.policy, rng=self.rng)
            self.pause(dest, max(result.retry_after or 0.0, grown), why, job)
            self.release([job], why, error=why)
        elif status is Status.RETRYABLE:
            self.retry(job, reason, result.retry_after, share)
        else:  # permanent, conflict, or a status this engine does not know: it was refused
            rep.failed_attempts += 1
            rep.last_error = f"{status}: {reason}"
            self.errors[dest] = job.id
            self.dead(job, f"{status}: {reason}", share, count_attempt=True)


def _hook_failed(share: Share | None, job: Job, reason: str, *, final: bool) -> None:
    if share is None:
        return
    notify(
        get_plugin_manager().hook.delivery_failed,
        share=share,
        destination=job.destination,
        reason=reason,
        final=final,
    )


def _implemented(hook: HookCaller) -> bool:
    """Whether any plugin implements ``hook`` (skip per-share calls when none does)."""
    return bool(hook.get_hookimpls())


def _veto(share: Share, destination: str) -> str | None:
    hook = get_plugin_manager().hook.before_delivery
    for plugin, answer in answers(hook, share=share, destination=destination):
        if answer:
            return f"vetoed by plugin {plugin}: {answer}"
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _process(run: _Run, jobs: list[Job]) -> None:
    groups: dict[tuple[str, JobKind], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.destination, job.kind)].append(job)
    renewed = run.clock()
    for (dest, kind), group in groups.items():
        if run.stopped(dest):
            run.release(group, "destination paused or stopped")
            continue
        adapter = run.adapter(dest)
        if adapter is None:
            run.release(group, f"destination stopped: {run.summary.blocked[dest]}")
            continue
        # A destination that cannot drop duplicates gets one share per request, each sent only
        # while this worker's claim on it is fresh (renewed and marked in flight just before).
        size = adapter.capabilities.max_batch_size if adapter.capabilities.can_upsert else 1
        gate = run.limits.gate(dest, adapter)
        rest = list(group)
        while rest:
            batch, rest = rest[:size], rest[size:]
            if run.stopped(dest):
                run.release(batch + rest, "destination paused or stopped during this run")
                break
            if gate is not None:
                gate.acquire()
            try:
                # Renew this claim's other jobs as it goes, so a long claim is not taken over.
                if rest and (run.clock() - renewed).total_seconds() > run.lease_seconds / 3:
                    rest = run.ledger.renew_leases(rest, run.lease_seconds, run.clock())
                    renewed = run.clock()
                if not adapter.capabilities.can_upsert:
                    batch = _not_in_doubt(run, batch)
                held = run.ledger.renew_leases(batch, run.lease_seconds, run.clock(), sending=True)
                if held:
                    if kind is JobKind.RETRACT:
                        _retract_batch(run, adapter, held)
                    else:
                        _deliver_batch(run, adapter, held)
            finally:
                if gate is not None:
                    gate.release()
            run.note_errors()
            if run.progress is not None:
                run.progress(len(batch))


@contextmanager
def _leases_kept(run: _Run, jobs: list[Job]) -> Iterator[None]:
    """Renew the leases of ``jobs`` every third of a lease while a request is in flight, so a
    slow destination never lets another worker claim them mid-request. The ledger is used only
    by this thread meanwhile (the engine waits in the adapter), and the renewal is fenced: a
    claim already lost stays lost."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(max(1.0, run.lease_seconds / 3)):
            try:
                run.ledger.renew_leases(jobs, run.lease_seconds, run.clock())
            except Exception:  # best effort: the fence still decides who may record
                return

    keeper = threading.Thread(target=beat, name="coprolib-lease-keeper", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()


def _not_in_doubt(run: _Run, batch: list[Job]) -> list[Job]:
    """For a destination that cannot drop duplicates: dead-letter, unsent, each job whose
    previous holder's lease ran out while it was sending (it may have arrived), and return the
    rest. ``sending_at`` on a fresh claim is that previous holder's in-flight mark."""
    keep: list[Job] = []
    for job in batch:
        if job.sending_at is None:
            keep.append(job)
            continue
        found = run.ledger.get_share(job.share_id)
        run.dead(
            job,
            "a worker's lease ran out while it was sending this share; not sent again because "
            f"{job.destination} cannot drop duplicates: check there, then `coprolib outbox retry`",
            found.share if found else None,
            in_doubt=True,
        )
    return keep


def _deliver_batch(run: _Run, adapter: Adapter[object], jobs: list[Job]) -> None:
    ledger = run.ledger
    dest = jobs[0].destination
    destination_cfg = run.destination(dest)
    sendable: list[tuple[Job, Share]] = []
    shares = ledger.get_shares(job.share_id for job in jobs)  # one read for the batch
    for job in jobs:
        found = shares.get(job.share_id)
        if found is None:
            run.dead(job, f"share {job.share_id} is not in the ledger", None)
            continue
        share, status = found.share, found.status
        if status in (ShareStatus.CANCELLED, ShareStatus.RETRACT_PLANNED, ShareStatus.RETRACTED):
            run.cancel(job, f"share is {status}; not sending", share, share_too=False)
            continue
        if share.idempotency_key != job.idempotency_key:
            share = attrs.evolve(share, idempotency_key=job.idempotency_key)
        sendable.append((job, share))
    by_share = {share.id: (job, share) for job, share in sendable}
    consents = ConsentCache(ledger, run.clock())  # read once per batch, just before sending
    consents.preload(share for _, share in sendable)
    vetoes = _implemented(get_plugin_manager().hook.before_delivery)

    def recheck(share: Share) -> str | None:
        vetoed = _veto(share, dest) if vetoes else None
        if vetoed:
            return vetoed
        return consent_reason(ledger, share, destination_cfg, consents.now, consents)

    results = deliver_checked(
        adapter,
        [share for _, share in sendable],
        recheck=recheck,
        in_flight=lambda: _leases_kept(run, jobs),
    )
    done: list[tuple[Job, Share, DeliveryResult]] = []
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
    run.answered(dest)
    at = run.clock()
    receipts = [
        (
            job,
            share,
            Receipt(
                share_id=share.id,
                destination=dest,
                idempotency_key=job.idempotency_key,
                action=JobKind.DELIVER.value,
                at=at,
                remote_id=result.remote_id,
            ),
        )
        for job, share, result in done
    ]
    # Receipts, statuses, job ends and the feedback they send marked sent: all or none. Only
    # jobs this worker still holds get a receipt; a late result is kept in the job's history.
    with ledger.transaction():
        lost = {j.id for j in ledger.record_delivered([(job, r) for job, _, r in receipts])}
        receipts = [item for item in receipts if item[0].id not in lost]
        for _, share, receipt in receipts:
            if share.kind is ShareKind.FEEDBACK:
                mark_feedback_sent(ledger, share, receipt)
    rep = run.summary.at(dest)
    rep.late += len(lost)
    rep.delivered += len(receipts)
    run.summary.delivered += len(receipts)
    after = get_plugin_manager().hook.after_delivery
    if _implemented(after):
        for _, share, receipt in receipts:
            notify(after, share=share, destination=dest, receipt=receipt)


def _retract_batch(run: _Run, adapter: Adapter[object], jobs: list[Job]) -> None:
    ledger = run.ledger
    dest = jobs[0].destination
    refs: list[RetractRef] = []
    by_key: dict[str, Job] = {}
    for job in jobs:
        receipts = [r for r in ledger.receipts_for(job.share_id) if r.destination == dest]
        retracted = {r.idempotency_key for r in receipts if r.action == JobKind.RETRACT}
        delivered = {
            r.idempotency_key: r.remote_id for r in receipts if r.action == JobKind.DELIVER
        }
        # No delivery receipt: it was sent and never confirmed, or may have been (a reply
        # lost). In doubt means live: retract it by the key it was sent with (not there counts
        # as done). A share delivered again after a retraction has a fresh key to retract.
        if not delivered:
            delivered = {job.idempotency_key: None}
        left = [(key, rid) for key, rid in delivered.items() if key not in retracted]
        if not left:
            with ledger.transaction():  # every copy retracted already: nothing more to remove
                ledger.set_share_status(job.share_id, ShareStatus.RETRACTED)
                ledger.settle_jobs([job], JobStatus.DONE, worker=run.worker)
            run.summary.retracted += 1
            continue
        for key, remote_id in left:
            if key in by_key:
                continue
            refs.append(RetractRef(share_id=job.share_id, idempotency_key=key, remote_id=remote_id))
            by_key[key] = job
    results = retract_checked(adapter, refs, in_flight=lambda: _leases_kept(run, jobs))
    outcome: dict[int, list[RetractResult]] = defaultdict(list)
    for result in results:
        outcome[by_key[result.idempotency_key].id].append(result)
    at = run.clock()
    for job in {id(j): j for j in by_key.values()}.values():
        mine = outcome[job.id]
        failed = [r for r in mine if not r.ok]
        found = ledger.get_share(job.share_id)
        share = found.share if found else None
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
                        action=JobKind.RETRACT.value,
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
            ledger.settle_jobs([job], JobStatus.DONE, worker=run.worker)
        run.summary.retracted += 1


def _dry_run(run: _Run, destination: str | None) -> None:
    now = run.clock()
    run.refresh_pauses()
    later: dict[str, list[dt.datetime]] = defaultdict(list)
    for job in run.ledger.list_jobs(status=JobStatus.PENDING, destination=destination):
        paused = run.paused_until.get(job.destination)
        due = max(job.next_attempt_at, paused) if paused is not None else job.next_attempt_at
        if due > now:
            later[job.destination].append(due)
            continue
        found = run.ledger.get_share(job.share_id)
        if found is None:
            continue
        share = found.share
        reason = None
        if job.kind is JobKind.DELIVER:
            reason = _veto(share, job.destination) or consent_reason(
                run.ledger, share, run.destination(job.destination), now
            )
        if reason:
            run.summary.cancel_reasons.append((share.id, reason))
            run.summary.at(job.destination).refused.append((share.id, reason))
        else:
            run.summary.would_send.append((job.kind, job.destination, share.id))
    run.summary.not_due = [(d, len(ts), min(ts)) for d, ts in sorted(later.items())]


def count_due(
    ledger: Ledger, destination: str | None = None, now: dt.datetime | None = None
) -> int:
    """How many pending jobs are due now (for progress bars)."""
    moment = now or _utcnow()
    return sum(
        1
        for job in ledger.list_jobs(status=JobStatus.PENDING, destination=destination)
        if job.next_attempt_at <= moment
    )


#: How often a run waiting under ``max_wait`` looks again at jobs other workers hold.
POLL_SECONDS = 0.25


def sync(
    ledger: Ledger,
    config: Config | None = None,
    destination: str | None = None,
    dry_run: bool = False,
    *,
    policy: RetryPolicy | None = None,
    adapters: Mapping[str, Adapter[object]] | None = None,
    worker: str | None = None,
    claim_size: int = 500,
    lease_seconds: int = 300,
    max_wait: float = 0.0,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], dt.datetime] = _utcnow,
    rng: random.Random | None = None,
    limits: DestinationLimits | None = None,
) -> SyncSummary:
    """Send every due outbox job (all destinations, or only ``destination``) and return counts.

    ``config`` is a :class:`coprolib.config.Config` (destinations and their adapters); tests and
    embedders may pass ready ``adapters`` by destination name instead. With ``dry_run`` nothing
    is claimed, sent or changed: the summary lists what would be sent or cancelled and what is
    not due yet. Jobs that fail for a passing reason are put back with a backoff; throttling
    pauses the destination for every worker. If ``max_wait`` is above zero the run waits, up to
    that many seconds, for retries falling due and for jobs other workers hold (or held, until
    their lease runs out). Several processes may run at once: jobs are claimed with a lease
    and a fencing token. ``summary.ok`` is false when anything was dead-lettered, a
    destination stopped, or work this run should have done is left.
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
        worker=worker or worker_id(),
        lease_seconds=lease_seconds,
        limits=limits or DestinationLimits(),
    )
    if dry_run:
        _dry_run(run, destination)
        return run.summary
    try:
        _work(run, destination, claim_size, max_wait)
    finally:
        run.close()
    _report_left(run.ledger, run.summary, destination, run.touched, run.worker, clock())
    return run.summary


def _work(run: _Run, destination: str | None, claim_size: int, max_wait: float) -> None:
    """Claim and send until nothing is due, then wait (within ``max_wait``) for more."""
    deadline = time.monotonic() + max_wait
    while True:
        run.refresh_pauses()
        jobs = run.ledger.claim_jobs(
            destination=destination,
            limit=claim_size,
            worker=run.worker,
            now=run.clock(),
            lease_seconds=run.lease_seconds,
        )
        if jobs and time.monotonic() > deadline and all(j.id in run.touched for j in jobs):
            # Past the wait, only retries of this run's own failures are due: hand them back
            # (unchanged) for the next run rather than spin on a destination that keeps failing.
            by_dest: dict[str, list[Job]] = defaultdict(list)
            for job in jobs:
                by_dest[job.destination].append(job)
            for group in by_dest.values():
                run.ledger.settle_jobs(
                    group, JobStatus.PENDING, event="released", detail="the run ended",
                    worker=run.worker,
                )  # fmt: skip
            return
        if jobs:
            _process(run, jobs)
            continue
        wait = _next_wake(run, destination)
        if wait is None or time.monotonic() + wait > deadline:
            return
        time.sleep(max(wait, 0.001))


def _next_wake(run: _Run, destination: str | None) -> float | None:
    """Seconds until something this run could do may be possible: a retry or a pause ending,
    an expired lease, or (polled) a job another worker holds; None when nothing is left."""
    now = run.clock()
    soonest: float | None = None
    for job in run.ledger.list_jobs(destination=destination, open_only=True):
        if job.destination in run.summary.blocked:
            continue
        if job.status == JobStatus.CLAIMED:
            left = POLL_SECONDS
            if job.lease_until is not None:
                left = min(left, max(0.0, (job.lease_until - now).total_seconds()))
        else:
            due = job.next_attempt_at
            paused = run.paused_until.get(job.destination)
            if paused is not None and paused > due:
                due = paused
            left = max(0.0, (due - now).total_seconds())
        soonest = left if soonest is None else min(soonest, left)
    return soonest


def _report_left(
    ledger: Ledger,
    summary: SyncSummary,
    destination: str | None,
    touched: set[int],
    me: str | None,
    now: dt.datetime,
) -> None:
    """Count, per destination, what is left in the outbox at the end of a run."""
    states = ledger.destination_states()
    for job in ledger.list_jobs(destination=destination, open_only=True):
        rep = summary.at(job.destination)
        if job.id in touched:
            rep.left += 1
        if job.status == JobStatus.CLAIMED:
            if job.lease_until is not None and job.lease_until <= now:
                rep.expired += 1
            else:
                who = job.claimed_by or "?"
                rep.held[who] = rep.held.get(who, 0) + 1
                if job.lease_until is not None and (
                    rep.lease_until is None or job.lease_until > rep.lease_until
                ):
                    rep.lease_until = job.lease_until
            continue
        state = states.get(job.destination)
        paused = state is not None and state.paused(now)
        if job.next_attempt_at > now or paused:
            rep.waiting += 1
            due = job.next_attempt_at
            if paused and state is not None and state.paused_until is not None:
                due = max(due, state.paused_until)
            if rep.next_attempt_at is None or due < rep.next_attempt_at:
                rep.next_attempt_at = due
        else:
            rep.due += 1
        if rep.last_error is None:
            rep.last_error = job.last_error
    # "To retry" counts jobs, not attempts: those this run put back that are still open.
    summary.retried = sum(rep.left for rep in summary.destinations.values())
    for name, rep in summary.destinations.items():
        state = states.get(name)
        if state is None:
            continue
        if state.paused(now):
            rep.paused_until, rep.pause_reason = state.paused_until, state.pause_reason
        if rep.last_error is None:
            rep.last_error = state.last_error


class SyncOptions(TypedDict, total=False):
    """The options :func:`sync_workers` hands to each of its :func:`sync` loops (mypy checks
    them against :func:`sync`'s own parameters)."""

    dry_run: bool
    policy: RetryPolicy | None
    adapters: Mapping[str, Adapter[object]] | None
    claim_size: int
    lease_seconds: int
    max_wait: float
    progress: Callable[[int], None] | None
    clock: Callable[[], dt.datetime]
    rng: random.Random | None


def sync_workers(
    open_ledger: Callable[[], Ledger],
    config: Config | None = None,
    workers: int = 2,
    *,
    per_destination: int | None = None,
    destination: str | None = None,
    worker: str | None = None,
    **options: Unpack[SyncOptions],
) -> SyncSummary:
    """Run ``workers`` :func:`sync` loops at once in this process, each with its own ledger
    handle from ``open_ledger()`` (on PostgreSQL they share the outbox through ``FOR UPDATE
    SKIP LOCKED``), at most ``per_destination`` batches in flight to one destination (one for
    a destination that cannot drop duplicates); returns one summary for them all."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    limits = DestinationLimits(per_destination)
    base = worker or worker_id()
    results: list[SyncSummary] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    clock: Callable[[], dt.datetime] = options.get("clock", _utcnow)

    def one(number: int) -> None:
        try:
            with open_ledger() as ledger:
                got = sync(
                    ledger, config, destination, worker=f"{base}/{number}", limits=limits,
                    **options,
                )  # fmt: skip
            with lock:
                results.append(got)
        except BaseException as exc:  # reported after every worker stopped
            with lock:
                errors.append(exc)

    threads = [
        threading.Thread(target=one, args=(n,), name=f"coprolib-sync-{n}")
        for n in range(1, workers + 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    merged = _merge(results)
    merged.destinations = {}
    for part in results:
        for name, rep in part.destinations.items():
            into = merged.at(name)
            into.delivered += rep.delivered
            into.retracted += rep.retracted
            into.failed_attempts += rep.failed_attempts
            into.throttled += rep.throttled
            into.refused += rep.refused
            into.dead += rep.dead
            into.late += rep.late
            into.last_error = rep.last_error or into.last_error
    with open_ledger() as ledger:
        mine = {f"{base}/{n}" for n in range(1, workers + 1)}
        _report_left(ledger, merged, destination, merged.put_back, None, clock())
        for rep in merged.destinations.values():
            for worker in mine & set(rep.held):
                rep.expired += rep.held.pop(worker)  # its own run ended: nobody holds these
    return merged


def _merge(parts: list[SyncSummary]) -> SyncSummary:
    out = SyncSummary()
    for part in parts:
        out.delivered += part.delivered
        out.retracted += part.retracted
        out.cancelled += part.cancelled
        out.retried += part.retried
        out.dead += part.dead
        out.blocked.update(part.blocked)
        out.compensations += part.compensations
        out.cancel_reasons += part.cancel_reasons
        out.put_back |= part.put_back
    return out


def delivered_receipt(ledger: Ledger, share_id: str) -> Receipt | None:
    """The receipt that shows ``share_id`` reached its destination and was not retracted since
    (see :meth:`coprolib.ledger.Ledger.delivered_receipt`)."""
    return ledger.delivered_receipt(share_id)


def outbox_status(ledger: Ledger) -> dict[str, Counter[str]]:
    """Job counts by destination and status."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for dest, entry in ledger.job_counts().items():
        counts[dest].update(entry.counts)
    return dict(counts)


@attrs.frozen(kw_only=True)
class DestinationStatus:
    """One destination's outbox at a glance (``coprolib outbox status``)."""

    destination: str
    pending: int
    due: int
    in_backoff: int
    next_attempt_at: dt.datetime | None
    claimed: int
    lease_until: dt.datetime | None
    paused_until: dt.datetime | None
    pause_reason: str | None
    done: int
    dead: int
    dead_may_have_arrived: int
    cancelled: int
    last_error: str | None
    last_error_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (times as ISO 8601 text)."""
        out = attrs.asdict(self)
        return {k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in out.items()}

    def line(self) -> str:
        """One line in plain words."""
        parts = [f"{self.pending} pending ({self.due} due"]
        if self.in_backoff:
            parts[0] += f", {self.in_backoff} in backoff until {_when(self.next_attempt_at)}"
        parts[0] += ")"
        if self.claimed:
            parts.append(f"{self.claimed} claimed (lease until {_when(self.lease_until)})")
        if self.paused_until is not None:
            parts.append(f"paused until {_when(self.paused_until)}: {self.pause_reason}")
        parts.append(f"{self.done} done")
        dead = f"{self.dead} dead"
        if self.dead_may_have_arrived:
            dead += f" ({self.dead_may_have_arrived} may have arrived)"
        parts.append(dead)
        parts.append(f"{self.cancelled} cancelled")
        text = f"{self.destination}: " + ", ".join(parts)
        if self.last_error:
            text += f"; last error ({_when(self.last_error_at)}): {self.last_error}"
        return text


def destination_status(ledger: Ledger, now: dt.datetime | None = None) -> list[DestinationStatus]:
    """Per destination: pending (due, in backoff until when), claimed, paused (why, until
    when), done, dead (and how many of those may have arrived), cancelled and the last error."""
    moment = now or _utcnow()
    counts = ledger.job_counts(moment)
    states = ledger.destination_states()
    out: list[DestinationStatus] = []
    for name in sorted(set(counts) | set(states)):
        entry = counts.get(name) or JobCounts(counts={})
        by = entry.counts
        state = states.get(name)
        paused = state is not None and state.paused(moment)
        backoff = entry.backoff
        pending = by.get(JobStatus.PENDING, 0)
        next_at = entry.next_attempt_at
        if paused and state is not None and state.paused_until is not None and pending:
            backoff = pending
            next_at = max(next_at, state.paused_until) if next_at else state.paused_until
        out.append(
            DestinationStatus(
                destination=name,
                pending=pending,
                due=pending - backoff,
                in_backoff=backoff,
                next_attempt_at=next_at if backoff else None,
                claimed=by.get(JobStatus.CLAIMED, 0),
                lease_until=entry.lease_until,
                paused_until=state.paused_until if paused and state else None,
                pause_reason=state.pause_reason if paused and state else None,
                done=by.get(JobStatus.DONE, 0),
                dead=by.get(JobStatus.DEAD, 0),
                dead_may_have_arrived=entry.in_doubt_dead,
                cancelled=by.get(JobStatus.CANCELLED, 0),
                last_error=state.last_error if state else None,
                last_error_at=state.last_error_at if state else None,
            )
        )
    return out


def dead_letters(ledger: Ledger, destination: str | None = None) -> list[Job]:
    """The dead-lettered jobs, with their reasons in ``last_error``."""
    return list(ledger.list_jobs(status=JobStatus.DEAD, destination=destination))


def retry_dead(ledger: Ledger, job_id: int) -> Job:
    """Put a dead-lettered job back in the outbox as a new job with the same idempotency key."""
    job = ledger.get_job(job_id)
    if job is None or job.status != JobStatus.DEAD:
        raise LookupError(f"no dead-lettered job with id {job_id}")
    queued: Job = ledger.enqueue_job(job.kind, job.destination, job.share_id, job.idempotency_key)
    return queued
