"""The records a plan is made from (:class:`World`), and reading them from a ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from coprolib.records import Consent, Contributor, Insight, Story

if TYPE_CHECKING:
    from coprolib.ledger import Ledger


@attrs.frozen(kw_only=True)
class World:
    """The records a plan is made from, indexed for lookups."""

    stories: Mapping[str, Story]
    contributors: Mapping[str, Contributor]
    insights: Mapping[str, Insight]
    consents_by_contributor: Mapping[str, tuple[Consent, ...]]

    @classmethod
    def from_records(
        cls,
        *,
        stories: Iterable[Story],
        consents: Iterable[Consent],
        insights: Iterable[Insight],
        contributors: Iterable[Contributor] = (),
    ) -> World:
        """Index the records by id (consents by contributor)."""
        by_contributor: dict[str, list[Consent]] = {}
        for c in consents:
            by_contributor.setdefault(c.contributor_id, []).append(c)
        return cls(
            stories={s.id: s for s in stories},
            contributors={c.id: c for c in contributors},
            insights={i.id: i for i in insights},
            consents_by_contributor={k: tuple(v) for k, v in by_contributor.items()},
        )

    def consents_for(self, story: Story) -> tuple[Consent, ...]:
        """Every consent from the story's tellers (the gate picks the one covering it)."""
        out: list[Consent] = []
        for cid in story.contributor_ids:
            out.extend(self.consents_by_contributor.get(cid, ()))
        return tuple(out)

    def insights_citing(self, story_ids: Iterable[str]) -> list[str]:
        """Ids of the insights whose evidence includes any of ``story_ids``."""
        wanted = set(story_ids)
        return [i.id for i in self.insights.values() if wanted.intersection(i.story_ids)]


def merge_worlds(worlds: Iterable[World]) -> World:
    """One world holding the records of several."""
    stories: dict[str, Story] = {}
    people: dict[str, Contributor] = {}
    insights: dict[str, Insight] = {}
    consents: dict[str, Consent] = {}
    for w in worlds:
        stories.update(w.stories)
        people.update(w.contributors)
        insights.update(w.insights)
        for cs in w.consents_by_contributor.values():
            consents.update((c.id, c) for c in cs)
    return World.from_records(
        stories=stories.values(),
        consents=consents.values(),
        insights=insights.values(),
        contributors=people.values(),
    )


def load_world(ledger: Ledger) -> World:
    """Read every record the planner needs from the ledger."""
    return World.from_records(
        stories=ledger.list(Story),
        consents=ledger.list(Consent),
        insights=ledger.list(Insight),
        contributors=ledger.list(Contributor),
    )


def world_for_insight(ledger: Ledger, insight_id: str) -> World:
    """Just the records one insight needs: itself, its stories, their tellers and consents."""
    return world_for_insights(ledger, [insight_id])


def world_for_insights(ledger: Ledger, insight_ids: Iterable[str]) -> World:
    """Just the records these insights need: themselves, their stories, the stories' tellers and
    every consent of those tellers (read in a few queries, whatever the number of insights)."""
    insights = ledger.get_many(Insight, insight_ids)
    stories = ledger.get_many(Story, {sid for i in insights.values() for sid in i.story_ids})
    tellers = {cid for story in stories.values() for cid in story.contributor_ids}
    return World.from_records(
        stories=stories.values(),
        consents=[
            c
            for c in ledger.consents_of(tellers)
            if not c.story_ids or not stories.keys().isdisjoint(c.story_ids)
        ],
        insights=insights.values(),
        contributors=ledger.get_many(Contributor, tellers).values(),
    )
