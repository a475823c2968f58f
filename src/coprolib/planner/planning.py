"""Planning against a ledger (:func:`plan`) and recording a plan in it (:func:`apply_plan`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from coprolib.config import Config
from coprolib.planner._records import evolve, utc_now
from coprolib.planner.reconciliation import LIVE, Plan, reconcile
from coprolib.planner.rendering import redelivery_key
from coprolib.planner.routing import route
from coprolib.planner.world import World, load_world, merge_worlds, world_for_insight
from coprolib.records import Feedback, Insight, Share

if TYPE_CHECKING:
    from coprolib.ledger import Job, Ledger, ShareRow


def plan(
    ledger: Ledger,
    config: Config,
    *,
    destination: str | None = None,
    stories: Iterable[str] | None = None,
    insights: Iterable[str] | None = None,
    moment: dt.datetime | None = None,
    apply: bool = True,
    world: World | None = None,
) -> Plan:
    """Plan shares from the ledger for the configured destinations and, with ``apply``, record
    them: new shares and their ``deliver`` jobs, ``retract`` jobs, feedback owed, and an audit
    entry for every best-interests override relied on. All in one transaction.

    Only destinations that carry insights are planned for; feedback destinations are planned by
    :func:`coprolib.feedback.owed.plan_feedback`.

    ``stories`` / ``insights`` narrow the plan to the insights citing those stories / those
    insights (a re-plan after a withdrawal touches only them); ``destination`` to one destination.
    """
    moment = moment or utc_now()
    dests = (
        {destination: config.destination(destination)}
        if destination is not None
        else config.insight_destinations()
    )
    # Feedback destinations take messages to contributors (coprolib.feedback.owed.plan_feedback),
    # never insights: their shares are not the insight planner's to route or retract.
    dests = {name: d for name, d in dests.items() if not d.carries_feedback}
    scope: list[str] | None = None
    if stories is not None or insights is not None:
        wanted = set(insights or ())
        for sid in stories or ():
            if world is not None:
                wanted.update(world.insights_citing([sid]))
            else:
                wanted.update(i.id for i in ledger.list(Insight, story=sid))
        scope = sorted(wanted)
        # Only the affected insights' records are read: a re-plan after one withdrawal stays
        # small however big the ledger is.
        world = world or merge_worlds(world_for_insight(ledger, iid) for iid in scope)
    world = world or load_world(ledger)
    routed = route(world, dests.values(), moment, scope)
    recorded: list[tuple[Share, str]] = []
    if scope is None:
        for dname in dests:
            recorded.extend(_recorded(ledger.list_shares(destination=dname)))
    else:
        for iid in scope:
            for dname in dests:
                recorded.extend(_recorded(ledger.list_shares(destination=dname, subject_id=iid)))
    if scope is None:
        existing_fb = {f.id for f in ledger.list(Feedback)}
    else:
        existing_fb = {f.id for iid in scope for f in ledger.list(Feedback, insight=iid)}
    result = reconcile(
        routed,
        recorded,
        world,
        dests,
        moment,
        scope=scope,
        feedback_exists=existing_fb.__contains__,
    )
    if apply:
        apply_plan(ledger, result)
    return result


def _recorded(rows: Iterable[ShareRow]) -> list[tuple[Share, str]]:
    return [(row.share, row.status.value) for row in rows]


def apply_plan(ledger: Ledger, result: Plan) -> None:
    """Record a plan in the ledger, all or nothing."""
    from coprolib.ledger import JobKind, JobStatus, ShareStatus

    jobs_by_destination: dict[str, list[Job]] = {}

    def open_deliveries(share_id: str, destination: str) -> list[Job]:
        if destination not in jobs_by_destination:
            jobs_by_destination[destination] = [
                job
                for status in (JobStatus.PENDING, JobStatus.CLAIMED)
                for job in ledger.list_jobs(status=status, destination=destination)
                if job.kind is JobKind.DELIVER
            ]
        return [j for j in jobs_by_destination[destination] if j.share_id == share_id]

    with ledger.transaction():
        to_enqueue = []
        for share in result.deliver:
            prior = ledger.get_share(share.id)
            if prior is not None and prior.status is ShareStatus.RETRACT_PLANNED:
                # Allowed again before its retraction ran: call the retraction off and leave
                # the delivered record where it is.
                pending = [
                    j
                    for j in ledger.list_jobs(
                        status=JobStatus.PENDING, destination=share.destination
                    )
                    if j.share_id == share.id and j.kind is JobKind.RETRACT
                ]
                if pending:
                    for job in pending:
                        ledger.finish_job(job.id, JobStatus.CANCELLED, error="allowed again")
                    ledger.set_share_status(share.id, ShareStatus.DELIVERED)
                    continue
            if prior is not None and prior.status.value not in LIVE:
                # Delivered again after a retraction: a fresh key so the destination cannot
                # answer from a cache of the retracted record.
                share = evolve(
                    share, idempotency_key=redelivery_key(share.idempotency_key, result.moment)
                )
            ledger.put_share(share, status=ShareStatus.PLANNED)
            to_enqueue.append(share)
        # Queued after every share is put, so each kind of write is one batched audit entry.
        for share in to_enqueue:
            ledger.enqueue_job(JobKind.DELIVER, share.destination, share.id, share.idempotency_key)
        for r in result.retractions:
            found = ledger.get_share(r.share_id)
            if found is None:
                continue
            maybe_out = False
            if r.status == ShareStatus.PLANNED:
                for job in open_deliveries(r.share_id, r.destination):
                    if job.status is JobStatus.PENDING:
                        ledger.finish_job(
                            job.id, JobStatus.CANCELLED, error=f"retracted: {r.reason}"
                        )
                    # Claimed (being sent now) or tried before (the reply may have been lost):
                    # it may be at the destination, so it is retracted there.
                    maybe_out = maybe_out or job.status is JobStatus.CLAIMED or job.attempts > 0
                if not maybe_out:
                    ledger.set_share_status(r.share_id, ShareStatus.CANCELLED)
                    continue
            ledger.set_share_status(r.share_id, ShareStatus.RETRACT_PLANNED)
            ledger.enqueue_job(
                JobKind.RETRACT, r.destination, r.share_id, found.share.idempotency_key
            )
        if result.feedback:
            ledger.add(result.feedback)
        for consent_id, share_id, ev in result.overrides:
            note = f"{ev.at.isoformat()}\x1f{ev.reason}\x1f{ev.approver}"
            ledger.record_audit(
                "consent.override_used",
                f"{consent_id}->{share_id}",
                hashlib.sha256(note.encode()).hexdigest(),
            )
