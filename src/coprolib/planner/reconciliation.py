"""Reconciling routed shares with those already recorded: what to deliver, what is unchanged,
what to retract, and the feedback owed (:class:`Plan`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from coprolib.config import Destination
from coprolib.feedback.owed import scheduled_message
from coprolib.planner._records import make_feedback
from coprolib.planner.routing import Routed
from coprolib.planner.world import World
from coprolib.records import ConsentEvent, Feedback, Share
from coprolib.records.enums import FeedbackKind

#: Share statuses (the ledger's ``ShareStatus`` values) that mean "out there, on its way, or may
#: be out there". A dead-lettered share was sent and never confirmed, or may have been (a reply
#: lost, then the job gave up): in doubt means live, so a withdrawal or an erasure retracts it
#: too (retracting what is not there counts as done).
LIVE = ("planned", "delivered", "dead")


@attrs.frozen(kw_only=True)
class Retraction:
    """A recorded share that must come back, and why."""

    share_id: str
    destination: str
    subject_id: str
    status: str
    reason: str
    story_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Plan:
    """The result of planning: what to deliver, what is already out there, what to retract,
    the feedback owed, and every routing decision (for ``--explain``)."""

    moment: dt.datetime
    routed: tuple[Routed, ...]
    deliver: tuple[Share, ...]
    unchanged: tuple[str, ...]
    retractions: tuple[Retraction, ...]
    feedback: tuple[Feedback, ...]
    overrides: tuple[tuple[str, str, ConsentEvent], ...] = ()

    def not_sent(self) -> list[Routed]:
        """The insight x destination pairs that do not go, each with its reasons."""
        return [r for r in self.routed if r.share is None]

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``coprolib plan --json``."""
        return {
            "moment": self.moment.isoformat(),
            "deliver": [
                {
                    "share_id": s.id,
                    "insight_id": s.subject_id,
                    "destination": s.destination,
                    "identity_level": str(s.identity_level),
                    "quotes": len(s.quotes),
                    "story_ids": list(s.story_ids),
                    "contributor_count": s.contributor_count,
                    "digest": s.digest,
                    "idempotency_key": s.idempotency_key,
                }
                for s in self.deliver
            ],
            "unchanged": list(self.unchanged),
            "retract": [attrs.asdict(r) for r in self.retractions],
            "not_sent": [
                {
                    "insight_id": r.insight_id,
                    "destination": r.destination,
                    "reasons": list(r.reasons),
                }
                for r in self.not_sent()
            ],
            "feedback": [
                {
                    "id": f.id,
                    "contributor_id": f.contributor_id,
                    "kind": str(f.kind),
                    "due": f.due.isoformat() if f.due else None,
                    "destination": f.destination,
                }
                for f in self.feedback
            ],
        }


def feedback_id(contributor_id: str, insight_id: str, destination: str, kind: str) -> str:
    """The deterministic id of a feedback obligation, so re-planning never duplicates one."""
    key = f"{contributor_id}\x1f{insight_id}\x1f{destination}\x1f{kind}"
    return "fb-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _obligations(
    share: Share,
    dest: Destination,
    world: World,
    moment: dt.datetime,
    existing: Callable[[str], bool],
) -> list[Feedback]:
    out: list[Feedback] = []
    people: dict[str, list[str]] = {}
    for sid in share.story_ids:
        for cid in world.stories[sid].contributor_ids:
            people.setdefault(cid, []).append(sid)
    today = moment.date()
    kinds = (
        (
            FeedbackKind.SCHEDULED,
            "scheduled",
            today + dt.timedelta(days=dest.feedback.scheduled_days),
            scheduled_message(share, dest, today),
        ),
        (
            FeedbackKind.SHARED,
            "shared",
            today + dt.timedelta(days=dest.feedback.shared_days),
            f'"{share.title}" was shared with {dest.name}: tell them what happened and how '
            f"it was received.",
        ),
    )
    iid, dname, share_id = share.subject_id, dest.name, share.id
    contributors = world.contributors
    for cid, sids in people.items():
        person = contributors.get(cid)
        if person is None or not person.wants_feedback:
            continue
        story_ids = tuple(sids)
        channel = person.feedback_channel
        for kind, kind_name, due, message in kinds:
            fid = feedback_id(cid, iid, dname, kind_name)
            if existing(fid):
                continue
            out.append(
                make_feedback(
                    id=fid,
                    contributor_id=cid,
                    kind=kind,
                    channel=channel,
                    due=due,
                    story_ids=story_ids,
                    insight_id=iid,
                    share_id=share_id,
                    destination=dname,
                    message=message,
                    created_at=moment,
                )
            )
    return out


def reconcile(
    routed: Sequence[Routed],
    recorded: Iterable[tuple[Share, str]],
    world: World,
    destinations: Mapping[str, Destination],
    moment: dt.datetime,
    *,
    scope: Iterable[str] | None = None,
    feedback_exists: Callable[[str], bool] = lambda _id: False,
) -> Plan:
    """Compare freshly routed shares with the recorded ones (``(share, status)`` pairs). Pure.

    ``scope`` names the insights that were routed (None: all). A live recorded share (planned
    or delivered) for an insight in scope and a configured destination that is not exactly what
    was routed now is retracted: its content changed, or it may no longer go at all.
    """
    in_scope = None if scope is None else set(scope)
    by_pair: dict[tuple[str, str], list[tuple[Share, str]]] = {}
    known: dict[str, str] = {}
    for share, status in recorded:
        s = str(status).lower()
        known[share.id] = s
        by_pair.setdefault((share.subject_id, share.destination), []).append((share, s))
    deliver: list[Share] = []
    unchanged: list[str] = []
    retractions: list[Retraction] = []
    feedback: list[Feedback] = []
    overrides: list[tuple[str, str, ConsentEvent]] = []
    routed_pairs: set[tuple[str, str]] = set()

    for r in routed:
        pair = (r.insight_id, r.destination)
        routed_pairs.add(pair)
        new = r.share
        if new is not None:
            seen = known.get(new.id)
            if seen in LIVE:
                unchanged.append(new.id)
            else:
                deliver.append(new)
                dest = destinations[r.destination]
                # Obligation ids are unique within a plan (one share per insight and
                # destination), so only those recorded earlier need checking.
                feedback.extend(_obligations(new, dest, world, moment, feedback_exists))
                for d in r.decisions:
                    if d.allowed and d.story_id in new.story_ids:
                        overrides.extend((cid, new.id, ev) for cid, ev in d.overrides)
        for old, status in by_pair.get(pair, ()):
            if status not in LIVE or (new is not None and old.id == new.id):
                continue
            retractions.append(_retraction(old, status, new, r))
    # Live shares of insights in scope that were not routed at all (retired, removed, draft).
    for (iid, dname), olds in by_pair.items():
        if (iid, dname) in routed_pairs or dname not in destinations:
            continue
        if in_scope is not None and iid not in in_scope:
            continue
        insight = world.insights.get(iid)
        why = (
            f"insight {iid} is no longer in the ledger"
            if insight is None
            else f"insight {iid} is {insight.status}, not agreed"
        )
        for old, status in olds:
            if status in LIVE:
                retractions.append(
                    Retraction(
                        share_id=old.id,
                        destination=dname,
                        subject_id=iid,
                        status=status,
                        reason=why,
                        story_ids=old.story_ids,
                    )
                )
    return Plan(
        moment=moment,
        routed=tuple(routed),
        deliver=tuple(deliver),
        unchanged=tuple(unchanged),
        retractions=tuple(retractions),
        feedback=tuple(feedback),
        overrides=tuple(overrides),
    )


def _retraction(old: Share, status: str, new: Share | None, r: Routed) -> Retraction:
    refusals = {d.story_id: d.reasons for d in r.decisions if not d.allowed}
    dropped = tuple(
        s
        for s in old.story_ids
        if (new is None and s in refusals) or (new and s not in new.story_ids)
    )
    why: list[str] = []
    for sid in dropped:
        why.extend(refusals.get(sid, (f"story {sid} no longer supports insight {r.insight_id}",)))
    if new is None:
        why.extend(x for x in r.reasons if x.startswith(f"insight {r.insight_id}:"))
    elif not dropped:
        why.append(f"insight {r.insight_id} was re-rendered; the new version replaces this one")
    else:
        why.append(f"re-rendered without {', '.join(dropped)} as share {new.id}")
    return Retraction(
        share_id=old.id,
        destination=old.destination,
        subject_id=old.subject_id,
        status=status,
        reason="; ".join(dict.fromkeys(why)),
        story_ids=dropped,
    )
