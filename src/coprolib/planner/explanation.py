"""Explanations: plain-words lines saying what happens to a story or an insight, and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from coprolib.config import Destination
from coprolib.consent import decide, in_force
from coprolib.planner.routing import Routed, request_for, route
from coprolib.planner.world import World, merge_worlds, world_for_insight
from coprolib.records import Consent
from coprolib.records.enums import InsightStatus

if TYPE_CHECKING:
    from coprolib.ledger import Ledger


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


def explain_in_ledger(
    ledger: Ledger,
    target_id: str,
    destinations: Mapping[str, Destination],
    moment: dt.datetime,
) -> list[str] | None:
    """:func:`explain` for one story or insight in ``ledger``, reading only the records it
    needs (the insight, or the insights citing the story, with their stories, tellers and
    consents), so it stays quick however big the ledger is. None if there is no such id."""
    from coprolib.records import Contributor, Insight, Story

    if ledger.get(Insight, target_id) is not None:
        scope = [target_id]
    elif (story := ledger.get(Story, target_id)) is not None:
        scope = [i.id for i in ledger.list(Insight, story=target_id)]
    else:
        return None
    worlds = [world_for_insight(ledger, iid) for iid in scope]
    if target_id not in {sid for w in worlds for sid in w.stories}:
        story = ledger.get(Story, target_id)
        if story is not None:  # a story no insight cites: its own records
            worlds.append(
                World.from_records(
                    stories=[story],
                    consents=[
                        c
                        for cid in story.contributor_ids
                        for c in ledger.list(Consent, contributor=cid)
                    ],
                    insights=[],
                    contributors=[
                        p
                        for cid in story.contributor_ids
                        if (p := ledger.get(Contributor, cid)) is not None
                    ],
                )
            )
    world = merge_worlds(worlds)
    routed = route(world, destinations.values(), moment, scope)
    return explain(target_id, routed, world, destinations, moment)
