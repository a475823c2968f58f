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
    insight = ledger.get(Insight, insight_id)
    stories: dict[str, Story] = {}
    consents: dict[str, Consent] = {}
    people: dict[str, Contributor] = {}
    for sid in insight.story_ids if insight is not None else ():
        story = ledger.get(Story, sid)
        if story is None:
            continue
        stories[sid] = story
        for cid in story.contributor_ids:
            for c in ledger.list(Consent, contributor=cid):
                if c.covers(sid):
                    consents[c.id] = c
            person = ledger.get(Contributor, cid)
            if person is not None:
                people[cid] = person
    return World.from_records(
        stories=stories.values(),
        consents=consents.values(),
        insights=[insight] if insight is not None else [],
        contributors=people.values(),
    )
