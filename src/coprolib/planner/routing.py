"""Routing: the consent gate's decisions and the rendered share for insights x destinations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs

from coprolib.config import Destination
from coprolib.consent import Decision, DecisionCache, InForce, ShareRequest, decide, in_force
from coprolib.planner.rendering import RedactionCache, insight_text_digest, render
from coprolib.planner.world import World
from coprolib.records import Insight, Share
from coprolib.records.enums import InsightStatus


@attrs.frozen(kw_only=True)
class Routed:
    """One insight for one destination: the decisions per story and the share, if it may go."""

    insight_id: str
    destination: str
    share: Share | None
    decisions: tuple[Decision, ...]
    reasons: tuple[str, ...] = ()

    @property
    def sent(self) -> bool:
        """Whether a share was rendered."""
        return self.share is not None


def request_for(dest: Destination, insight: Insight | None, moment: dt.datetime) -> ShareRequest:
    """The share request a destination makes for an insight (or for a bare story).

    Raises ``ValueError`` for a destination that carries feedback (it never receives insights).
    """
    if dest.audience is None or not dest.purposes:
        raise ValueError(f"destination '{dest.name}' carries feedback, not insights")
    return ShareRequest(
        purpose=dest.purposes[0],
        purposes=dest.purposes[1:],
        audience=dest.audience,
        destination=dest.name,
        moment=moment,
        identity_level=dest.max_identity,
        quotes=dest.quotes,
        insight_id=insight.id if insight else None,
        insight_text_digest=insight_text_digest(insight) if insight else None,
    )


def route(
    world: World,
    destinations: Iterable[Destination],
    moment: dt.datetime,
    insight_ids: Iterable[str] | None = None,
    *,
    decisions: DecisionCache | None = None,
    redactions: RedactionCache | None = None,
) -> list[Routed]:
    """Decide and render every agreed insight (or those named) for every destination that
    carries insights (feedback destinations are skipped). Pure: ``decisions`` and
    ``redactions`` only cache results already computed."""
    dests = [d for d in destinations if not d.carries_feedback]
    ids = list(world.insights) if insight_ids is None else list(insight_ids)
    tellers_cache: dict[str, tuple[InForce, ...]] = {}
    cache = redactions if redactions is not None else RedactionCache()
    out: list[Routed] = []
    for iid in ids:
        insight = world.insights.get(iid)
        if insight is None or insight.status is not InsightStatus.AGREED:
            continue
        for dest in dests:
            out.append(_route_one(world, insight, dest, moment, decisions, tellers_cache, cache))
    return out


def _route_one(
    world: World,
    insight: Insight,
    dest: Destination,
    moment: dt.datetime,
    decided: DecisionCache | None,
    tellers_cache: dict[str, tuple[InForce, ...]],
    cache: RedactionCache,
) -> Routed:
    request = request_for(dest, insight, moment)
    decisions: list[Decision] = []
    reasons: list[str] = []
    for ref in insight.evidence:
        story = world.stories.get(ref.story_id)
        if story is None:
            reasons.append(f"story {ref.story_id}: not in the ledger, so it cannot support a share")
            continue
        tellers = tellers_cache.get(story.id)
        if tellers is None:
            tellers = in_force(story, world.consents_for(story), moment)
            tellers_cache[story.id] = tellers
        d = decide(story, (), request, tellers=tellers, cache=decided)
        decisions.append(d)
        reasons.extend(d.reasons)
    allowed = [d for d in decisions if d.allowed]
    people = {cid for d in allowed for cid in world.stories[d.story_id].contributor_ids}
    if not allowed:
        reasons.append(
            f"insight {insight.id}: no supporting story may go to '{dest.name}', so it is not sent"
        )
        share = None
    elif len(people) < dest.min_contributors:
        n = len(people)
        whose = "contributor's story" if n == 1 else "contributors' stories"
        reasons.append(
            f"insight {insight.id}: too few contributors: only {n} distinct {whose} may go to "
            f"'{dest.name}'; it needs at least {dest.min_contributors} (min_contributors), "
            f"so it is not sent"
        )
        share = None
    else:
        share = render(insight, dest, allowed, world, moment, cache)
    return Routed(
        insight_id=insight.id,
        destination=dest.name,
        share=share,
        decisions=tuple(decisions),
        reasons=tuple(reasons),
    )
