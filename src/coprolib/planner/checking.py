"""The send boundary: a share is checked, exactly as it will be sent, just before an adapter is
called, whoever queued it (docs/architecture.md, promise 1).

An insight share may go only if planning now, for its destination, renders exactly this share:
the same insight text, the stories that may go now (each by :func:`coprolib.consent.decide`),
the identity level and quotes that the destination and every cited consent allow, and at least
``min_contributors`` people behind it. So a withdrawal, narrowing, expiry or re-wording since
planning, or a share written into the ledger by hand, is refused with the reasons. A feedback
share may go only if it is what the feedback obligation it answers renders now (see
:func:`coprolib.feedback.owed.feedback_send_refusal`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from coprolib.config import Config, Destination
from coprolib.consent import DecisionCache
from coprolib.planner._records import utc_now
from coprolib.planner.rendering import RedactionCache
from coprolib.planner.routing import route
from coprolib.planner.world import World, world_for_insights
from coprolib.records import Share
from coprolib.records.enums import InsightStatus, ShareKind

if TYPE_CHECKING:
    from coprolib.ledger import Ledger

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@attrs.frozen(kw_only=True)
class Recheck:
    """Whether a share may go exactly as it is, and if not, why."""

    share_id: str
    allowed: bool
    reasons: tuple[str, ...] = ()


class SendCheck:
    """Shares checked at one moment (one batch of a sync): the records each insight needs are
    read once, and decisions and redactions are cached (results, never rules)."""

    def __init__(self, ledger: Ledger | None, now: dt.datetime) -> None:
        self.ledger = ledger
        self.now = now
        self.decisions = DecisionCache()
        self.redactions = RedactionCache()
        self._worlds: dict[str, World] = {}

    def preload(self, shares: Iterable[Share]) -> None:
        """Read, in a few queries, the records every insight share in ``shares`` needs."""
        wanted = {
            s.subject_id
            for s in shares
            if s.kind is ShareKind.INSIGHT and s.subject_id not in self._worlds
        }
        if wanted and self.ledger is not None:
            world = world_for_insights(self.ledger, wanted)
            for insight_id in wanted:
                self._worlds[insight_id] = world

    def world(self, insight_id: str) -> World:
        """The records insight ``insight_id`` needs (read from the ledger once)."""
        world = self._worlds.get(insight_id)
        if world is None:
            if self.ledger is None:
                raise ValueError("a share check needs a ledger or a world")
            world = world_for_insights(self.ledger, [insight_id])
            self._worlds[insight_id] = world
        return world

    def check(
        self, share: Share, destination: Destination | None, *, world: World | None = None
    ) -> Recheck:
        """May ``share`` go to ``destination`` (its configured destination) now, as it is?"""
        if destination is None or destination.name != share.destination:
            return _no(share, f"destination '{share.destination}' is not configured")
        if share.kind is ShareKind.FEEDBACK:
            if self.ledger is None:
                return _no(share, "a feedback share needs the ledger to be checked")
            from coprolib.feedback.owed import feedback_send_refusal

            reason = feedback_send_refusal(self.ledger, share, destination, self.now)
            return _no(share, reason) if reason else Recheck(share_id=share.id, allowed=True)
        if share.kind is not ShareKind.INSIGHT:
            return _no(share, f"share {share.id} is of kind '{share.kind}'; refused")
        if destination.carries_feedback:
            return _no(share, f"destination '{destination.name}' carries feedback, not insights")
        world = world if world is not None else self.world(share.subject_id)
        insight = world.insights.get(share.subject_id)
        if insight is None or insight.status is not InsightStatus.AGREED:
            state = "not in the ledger" if insight is None else str(insight.status)
            return _no(share, f"insight {share.subject_id} is {state}, not agreed")
        (now,) = route(
            world,
            [destination],
            self.now,
            [insight.id],
            decisions=self.decisions,
            redactions=self.redactions,
        )
        if now.share is not None and _as_sent(now.share) == _as_sent(share):
            return Recheck(share_id=share.id, allowed=True)
        reasons = [
            reason
            for d in now.decisions
            if not d.allowed and d.story_id in share.story_ids
            for reason in d.reasons
        ]
        if now.share is None:
            reasons.extend(x for x in now.reasons if x.startswith(f"insight {insight.id}:"))
        if not reasons:
            reasons.append(
                f"share {share.id} is not what insight {insight.id} renders now for "
                f"'{destination.name}' (what consent allows changed, or the share was not made "
                f"by the planner); plan again"
            )
        return Recheck(share_id=share.id, allowed=False, reasons=tuple(dict.fromkeys(reasons)))


def _as_sent(share: Share) -> Share:
    """The share without what is not its content: when it was planned, the consent versions it
    relied on, and its idempotency key (a share delivered again after a retraction gets a fresh
    key, see :func:`coprolib.planner.rendering.redelivery_key`)."""
    return attrs.evolve(share, planned_at=_EPOCH, consent_refs=(), idempotency_key="")


def _no(share: Share, reason: str) -> Recheck:
    return Recheck(share_id=share.id, allowed=False, reasons=(reason,))


def recheck(
    share: Share,
    config: Config,
    *,
    ledger: Ledger | None = None,
    world: World | None = None,
    moment: dt.datetime | None = None,
) -> Recheck:
    """Check one share as it would be sent now (see :class:`SendCheck`, which a sync uses per
    batch). Give ``ledger`` (only this insight's records are read) or an already loaded
    ``world`` (insight shares only)."""
    checker = SendCheck(ledger, moment or utc_now())
    return checker.check(share, config.destinations.get(share.destination), world=world)
