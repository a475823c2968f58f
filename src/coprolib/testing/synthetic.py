"""A consistent, clearly fictional record set of any size, for tests, benchmarks and demos.

:func:`synthetic_world` builds contributors, stories, insights drawing on them, outcomes at every
stage of their lifecycle, feedback (sent, owed, overdue), co-production activities on every rung
and delivered insight shares. The same ``seed`` gives the same world. No text describes a real
person: every story reads "Fictional story N".
"""

from __future__ import annotations

import datetime as dt
import random

import attrs

from coprolib.records import (
    Activity,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Outcome,
    OutcomeEvent,
    Share,
    Story,
)
from coprolib.records.enums import (
    ChangeDepth,
    DecisionHolder,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    LadderRung,
    OutcomeKind,
    OutcomeStatus,
    SARDomain,
    ShareKind,
    StorySource,
)

__all__ = ["THEMES", "SyntheticWorld", "synthetic_world"]

#: Themes the synthetic stories are tagged with (drawn from the domain notes).
THEMES: tuple[str, ...] = (
    "isolation",
    "self-neglect",
    "domestic abuse",
    "rock bottom",
    "joined-up services",
    "trust takes time",
    "mental ill health",
    "learning disability",
    "ageing",
    "financial abuse",
    "carers",
    "housing",
)

_LIFECYCLE = (
    OutcomeStatus.PROPOSED,
    OutcomeStatus.AGREED,
    OutcomeStatus.IN_PROGRESS,
    OutcomeStatus.IMPLEMENTED,
    OutcomeStatus.EVIDENCED,
)


@attrs.frozen(kw_only=True)
class SyntheticWorld:
    """Record tuples as a bundle holds them, plus ``shares`` as ``(share, status)`` pairs."""

    today: dt.date
    contributors: tuple[Contributor, ...]
    stories: tuple[Story, ...]
    insights: tuple[Insight, ...]
    outcomes: tuple[Outcome, ...]
    feedback: tuple[Feedback, ...]
    activities: tuple[Activity, ...]
    shares: tuple[tuple[Share, str], ...]


def synthetic_world(
    *,
    stories: int = 200,
    insights: int = 20,
    outcomes: int | None = None,
    activities: int = 14,
    today: dt.date = dt.date(2026, 11, 27),
    days: int = 730,
    seed: int = 0,
) -> SyntheticWorld:
    """A fictional world with ``stories`` stories over the ``days`` before ``today``,
    ``insights`` insights and (by default) one outcome for every two insights."""
    rng = random.Random(seed)
    n_people = max(1, stories * 2 // 3)
    channels = (FeedbackChannel.EMAIL, FeedbackChannel.LETTER, FeedbackChannel.VIA_SUPPORTER)
    people = tuple(
        Contributor(id=f"c-{n}", wants_feedback=False, feedback_channel=FeedbackChannel.NONE)
        if n % 9 == 0
        else Contributor(id=f"c-{n}", feedback_channel=channels[n % 3])
        for n in range(n_people)
    )
    start = today - dt.timedelta(days=days)
    sources = tuple(StorySource)
    story_list: list[Story] = []
    for n in range(stories):
        k = rng.randrange(1, 3)
        story_list.append(
            Story(
                id=f"s-{n}",
                contributor_ids=(f"c-{n % n_people}",)
                if n_people < 2 or k == 1
                else (f"c-{n % n_people}", f"c-{(n + 1) % n_people}"),
                text=f"Fictional story {n}.",
                source=sources[n % len(sources)],
                collected_on=start + dt.timedelta(days=rng.randrange(days)),
                themes=tuple(rng.sample(THEMES, rng.randrange(1, 3))),
                disclosure=n % 97 == 96,
            )
        )
    usable = [s for s in story_list if not s.disclosure]
    collected = {s.id: s.collected_on for s in story_list}
    domains = tuple(SARDomain)
    insight_list: list[Insight] = []
    for n in range(insights):
        picked = rng.sample(usable, min(len(usable), rng.randrange(2, 9))) if usable else []
        latest = max((s.collected_on for s in picked), default=start)
        themes = sorted({t for s in picked for t in s.themes})[:3]
        insight_list.append(
            Insight(
                id=f"i-{n}",
                title=f"Fictional insight {n}",
                summary="Services matter less than how they connect with a person.",
                recommendation="Bring agencies together at once when a person asks for help.",
                domain=domains[n % len(domains)],
                themes=tuple(themes),
                evidence=tuple(EvidenceRef(story_id=s.id) for s in picked),
                status=InsightStatus.AGREED if n % 5 else InsightStatus.DRAFT,
                created_on=min(today, latest + dt.timedelta(days=rng.randrange(5, 60))),
            )
        )
    shares: list[tuple[Share, str]] = []
    for i in insight_list:
        if i.status is not InsightStatus.AGREED or i.created_on is None:
            continue
        day = min(today, i.created_on + dt.timedelta(days=rng.randrange(1, 30)))
        at = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
        shares.append(
            (
                Share(
                    id=f"sh-{i.id}",
                    kind=ShareKind.INSIGHT,
                    destination="file",
                    subject_id=i.id,
                    identity_level=IdentityLevel.ANONYMOUS,
                    title=i.title,
                    body=i.summary,
                    idempotency_key=f"k-{i.id}",
                    digest=f"d-{i.id}",
                    planned_at=at,
                    story_ids=i.story_ids,
                ),
                "delivered",
            )
        )
    n_outcomes = len(insight_list) // 2 if outcomes is None else outcomes
    kinds, depths = tuple(OutcomeKind), tuple(ChangeDepth)
    outcome_list: list[Outcome] = []
    agreed = [i for i in insight_list if i.status is InsightStatus.AGREED] or insight_list
    for n in range(min(n_outcomes, len(agreed) * 3)):
        base = agreed[n % len(agreed)]
        on = base.created_on or start
        steps = rng.randrange(1, len(_LIFECYCLE) + 1)
        timeline: list[OutcomeEvent] = []
        for status in _LIFECYCLE[:steps]:
            on = min(today, on + dt.timedelta(days=rng.randrange(10, 60)))
            timeline.append(OutcomeEvent(on=on, status=status, by="fictional lead"))
        if n % 7 == 6:
            on = min(today, on + dt.timedelta(days=14))
            timeline.append(
                OutcomeEvent(on=on, status=OutcomeStatus.NOT_ADOPTED, note="No budget this year")
            )
        outcome_list.append(
            Outcome(
                id=f"o-{n}",
                title=f"Fictional change {n}",
                kind=kinds[n % len(kinds)],
                depth=depths[rng.randrange(len(depths))],
                insight_ids=(base.id,),
                owner="fictional commissioning lead",
                timeline=tuple(timeline),
            )
        )
    wanting = {p.id for p in people if p.wants_feedback}
    feedback: list[Feedback] = []
    for i in insight_list:
        for ref in i.evidence:
            story = story_list[int(ref.story_id[2:])]
            for cid in story.contributor_ids:
                if cid not in wanting:
                    continue
                n = len(feedback)
                due = collected[story.id] + dt.timedelta(days=60)
                roll = rng.random()
                if roll < 0.6:
                    sent = collected[story.id] + dt.timedelta(days=rng.randrange(5, 180))
                    sent = min(today, sent)
                    fb_status, sent_on = FeedbackStatus.SENT, sent
                else:
                    fb_status, sent_on = FeedbackStatus.OWED, None
                feedback.append(
                    Feedback(
                        id=f"fb-{n}",
                        contributor_id=cid,
                        kind=FeedbackKind.SHARED if roll < 0.4 else FeedbackKind.CHANGE_UPDATE,
                        channel=FeedbackChannel.EMAIL,
                        status=fb_status,
                        due=due,
                        story_ids=(story.id,),
                        insight_id=i.id,
                        sent_on=sent_on,
                    )
                )
    holders = tuple(DecisionHolder)
    activity_list = tuple(
        Activity(
            id=f"a-{n}",
            title=f"Fictional workshop {n}",
            held_on=start + dt.timedelta(days=rng.randrange(days)),
            rung=LadderRung(n % 7 + 1),
            decisions_held_by=holders[rng.randrange(len(holders))],
            described_as="co-production workshop" if n % 4 == 3 else None,
            participants=rng.randrange(3, 30),
        )
        for n in range(activities)
    )
    return SyntheticWorld(
        today=today,
        contributors=people,
        stories=tuple(story_list),
        insights=tuple(insight_list),
        outcomes=tuple(outcome_list),
        feedback=tuple(feedback),
        activities=activity_list,
        shares=tuple(shares),
    )
