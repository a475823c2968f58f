"""Checking a planned share again at delivery time (consent can change in between)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from coprolib.config import Config
from coprolib.enums import InsightStatus, ShareKind
from coprolib.planner._records import utc_now
from coprolib.planner.routing import route
from coprolib.planner.world import World, world_for_insight
from coprolib.records import Share

if TYPE_CHECKING:
    from coprolib.ledger import Ledger


@attrs.frozen(kw_only=True)
class Recheck:
    """Whether a planned share may still go exactly as it is, and if not, why."""

    share_id: str
    allowed: bool
    reasons: tuple[str, ...] = ()


def recheck(
    share: Share,
    config: Config,
    *,
    ledger: Ledger | None = None,
    world: World | None = None,
    moment: dt.datetime | None = None,
) -> Recheck:
    """Check a planned insight share again (at delivery time: consent can change in between).

    It may go only if planning now, for its destination, would render exactly this share (same
    id, so same content): anything withdrawn, narrowed, expired or re-worded since says no.
    Give ``ledger`` (only this insight's records are read) or an already loaded ``world``.
    """
    moment = moment or utc_now()
    if share.kind is not ShareKind.INSIGHT:
        return Recheck(share_id=share.id, allowed=False, reasons=("not an insight share",))
    if world is None:
        if ledger is None:
            raise ValueError("recheck needs a ledger or a world")
        world = world_for_insight(ledger, share.subject_id)
    dest = config.destinations.get(share.destination)
    if dest is None:
        return Recheck(
            share_id=share.id,
            allowed=False,
            reasons=(f"destination '{share.destination}' is no longer configured",),
        )
    insight = world.insights.get(share.subject_id)
    if insight is None or insight.status is not InsightStatus.AGREED:
        state = "gone" if insight is None else str(insight.status)
        return Recheck(
            share_id=share.id,
            allowed=False,
            reasons=(f"insight {share.subject_id} is {state}, not agreed",),
        )
    (now,) = route(world, [dest], moment, [insight.id])
    if now.share is not None and now.share.id == share.id:
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
            f"insight {insight.id} would now be rendered differently for '{dest.name}' "
            f"(share {now.share.id if now.share else 'none'}); this version may not go"
        )
    return Recheck(share_id=share.id, allowed=False, reasons=tuple(dict.fromkeys(reasons)))
