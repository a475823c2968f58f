"""Explanations: plain-words lines saying what happens to a story or an insight, and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from coprolib.config import Destination
from coprolib.consent import decide, in_force
from coprolib.enums import InsightStatus
from coprolib.planner.routing import Routed, request_for
from coprolib.planner.world import World


def explain(
    target_id: str,
    routed: Sequence[Routed],
    world: World,
    destinations: Mapping[str, Destination],
    moment: dt.datetime,
) -> list[str]:
    """Plain-words lines saying what happens to a story or an insight, and why."""
    lines: list[str] = []
    if target_id in world.insights:
        insight = world.insights[target_id]
        if insight.status is not InsightStatus.AGREED:
            return [f"insight {target_id} is {insight.status}: only agreed insights are shared"]
        for r in routed:
            if r.insight_id != target_id:
                continue
            if r.share is not None:
                s = r.share
                lines.append(
                    f"insight {target_id} -> {r.destination}: goes ({len(s.story_ids)} stories, "
                    f"{s.contributor_count} contributors, {s.identity_level}, "
                    f"{len(s.quotes)} quote(s)) as share {s.id}"
                )
                lines.extend(f"  left out: {x}" for x in r.reasons)
            else:
                lines.append(f"insight {target_id} -> {r.destination}: not sent")
                lines.extend(f"  {x}" for x in r.reasons)
        return lines or [f"insight {target_id}: no destination is configured"]
    story = world.stories.get(target_id)
    if story is None:
        return [f"{target_id}: no story or insight with this id"]
    citing = [r for r in routed if target_id in world.insights[r.insight_id].story_ids]
    for r in citing:
        d = next(x for x in r.decisions if x.story_id == target_id)
        if d.allowed:
            went = "and the insight goes" if r.share is not None else "but the insight does not go"
            lines.append(
                f"story {target_id} in insight {r.insight_id} -> {r.destination}: allowed "
                f"({d.identity_level}, quotes {'yes' if d.quotes else 'no'}) {went}"
            )
            if r.share is None:
                lines.extend(
                    f"  {x}" for x in r.reasons if x.startswith(f"insight {r.insight_id}:")
                )
        else:
            lines.append(f"story {target_id} in insight {r.insight_id} -> {r.destination}: refused")
            lines.extend(f"  {x}" for x in d.reasons)
    if not citing:
        lines.append(f"story {target_id}: no agreed insight uses it")
        tellers = in_force(story, world.consents_for(story), moment)
        for dest in destinations.values():
            if dest.carries_feedback:  # feedback destinations never receive a story
                continue
            d = decide(story, (), request_for(dest, None, moment), tellers=tellers)
            verdict = "would be allowed" if d.allowed else "refused"
            lines.append(f"story {target_id} -> {dest.name}: {verdict}")
            lines.extend(f"  {x}" for x in d.reasons)
    return lines
