"""Property: a contributor's journey never shows another contributor's id, name or known
identifier, whatever the ledger holds: stories told together, insights drawing on several
people's stories, shared activities, feedback and shares addressed to others, and staff text
(titles, owners, collectors) that names the people involved."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from coprolib.ledger import open_ledger
from coprolib.records import (
    Activity,
    Consent,
    ConsentEvent,
    ConsentTerms,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Outcome,
    OutcomeEvent,
    Receipt,
    Share,
    Story,
)
from coprolib.records.enums import (
    Audience,
    ChangeDepth,
    ConsentEventType,
    DecisionHolder,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    LadderRung,
    OutcomeKind,
    OutcomeStatus,
    Purpose,
    SARDomain,
    ShareKind,
    StorySource,
)
from coprolib.report.journey import journey, render_html, summary_lines

AT = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)

#: Fictional words for names and places; none is a part of another, nor of the page's own words.
POOL = (
    "Ysolde", "Quarrington", "Brackwater", "Tamsinel", "Orrin", "Velloway", "Cadwick",
    "Ferelith", "Gwennap", "Hollinrake", "Ibbotsley", "Jessamyn", "Kettleburgh", "Lowenna",
    "Marrowby", "Nanscawen", "Ottery", "Penhaligon", "Quenby", "Rosewarne", "Sennor",
    "Trevanion", "Ulverby", "Wenlocke", "Yarcombe", "Zennor", "Aldwinkle", "Borrowdale",
)  # fmt: skip
VOCAB = ("help", "came", "late", "nobody", "listened", "rang", "back", "housing", "care", "plan")


def _person(i: int, words: list[str]) -> Contributor:
    first, last, place = words
    return Contributor(
        id=f"p-{first.lower()}",
        display_name=first,
        known_identifiers=(f"{first} {last}", last, f"{place} Court"),
    )


def _tokens(person: Contributor) -> list[str]:
    return [person.id, person.display_name or "", *person.known_identifiers]


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 4))
    words = draw(st.permutations(POOL))
    people = [_person(i, list(words[3 * i : 3 * i + 3])) for i in range(n)]

    def text(involved: list[Contributor]) -> str:
        """Staff text that may name any of the people involved."""
        choices = [w for p in involved for w in _tokens(p)] + list(VOCAB)
        parts = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=5))
        return " ".join(parts)

    stories = []
    for k in range(draw(st.integers(1, 6))):
        tellers = draw(st.lists(st.sampled_from(people), min_size=1, max_size=n, unique=True))
        stories.append(
            Story(
                id=f"s-{k}",
                contributor_ids=tuple(p.id for p in tellers),
                text="Fictional. " + text(tellers),
                source=StorySource.INTERVIEW,
                collected_on=dt.date(2026, 1, 1 + k),
                title=draw(st.none() | st.just(text(tellers))),
                collected_by=draw(st.none() | st.just(text(tellers))),
            )
        )
    by_id = {p.id: p for p in people}
    tellers_of = {s.id: [by_id[c] for c in s.contributor_ids] for s in stories}
    terms = ConsentTerms(
        purposes=tuple(Purpose), audiences=tuple(Audience), identity_level=IdentityLevel.NAMED
    )
    consents = []
    for p in people:
        own = tuple(s.id for s in stories if p.id in s.contributor_ids)
        events = [ConsentEvent(type=ConsentEventType.GIVEN, at=AT, terms=terms)]
        if own and draw(st.booleans()):
            events.append(
                ConsentEvent(
                    type=ConsentEventType.WITHDRAWN,
                    at=AT + dt.timedelta(days=1),
                    story_ids=(draw(st.sampled_from(own)),),
                    reason=text([p]),
                )
            )
        consents.append(Consent(id=f"c-{p.id}", contributor_id=p.id, events=tuple(events)))
    insights, outcomes = [], []
    for k in range(draw(st.integers(0, 3))):
        evidence = draw(st.lists(st.sampled_from(stories), min_size=1, unique=True))
        involved = [p for s in evidence for p in tellers_of[s.id]]
        insights.append(
            Insight(
                id=f"i-{k}",
                title=text(involved),
                summary=text(involved),
                recommendation="Ring back.",
                domain=SARDomain.INTERAGENCY_WORKING,
                evidence=tuple(EvidenceRef(story_id=s.id) for s in evidence),
                status=InsightStatus.AGREED,
            )
        )
        if draw(st.booleans()):
            outcomes.append(
                Outcome(
                    id=f"o-{k}",
                    title=text(involved),
                    kind=OutcomeKind.PRACTICE_GUIDANCE,
                    depth=ChangeDepth.PRACTICE,
                    insight_ids=(f"i-{k}",),
                    owner=text(involved),
                    timeline=(OutcomeEvent(on=AT.date(), status=OutcomeStatus.AGREED),),
                )
            )
    feedback = []
    for k, p in enumerate(draw(st.lists(st.sampled_from(people), max_size=4))):
        own = [s.id for s in stories if p.id in s.contributor_ids]
        feedback.append(
            Feedback(
                id=f"f-{k}",
                contributor_id=p.id,
                kind=FeedbackKind.SHARED,
                channel=FeedbackChannel.EMAIL,
                status=FeedbackStatus.OWED,
                due=AT.date(),
                story_ids=tuple(own[:1]),
                message=text([p]),
                share_id=f"fs-{k}",
            )
        )
    activities = []
    for k in range(draw(st.integers(0, 2))):
        present = draw(st.lists(st.sampled_from(people), unique=True))
        activities.append(
            Activity(
                id=f"a-{k}",
                title=text(present) if present else "Workshop",
                held_on=AT.date(),
                rung=LadderRung.CO_DESIGN,
                decisions_held_by=DecisionHolder.SHARED,
                contributor_ids=tuple(p.id for p in present),
                notes=text(present) if present else None,
            )
        )
    return {
        "people": people,
        "records": [*people, *stories, *consents, *insights, *outcomes, *feedback, *activities],
        "shares": _shares(insights, feedback),
        "subject": draw(st.sampled_from(people)),
    }


def _shares(insights: list[Insight], feedback: list[Feedback]) -> list[Share]:
    shares = []
    for i in insights:
        shares.append(
            Share(
                id=f"sh-{i.id}",
                kind=ShareKind.INSIGHT,
                destination="board-pack",
                subject_id=i.id,
                identity_level=IdentityLevel.NAMED,
                title=i.title,
                body=i.summary,
                idempotency_key=f"k-{i.id}",
                digest="0" * 64,
                planned_at=AT,
                story_ids=i.story_ids,
            )
        )
    for f in feedback:  # a message to one person about a story they may have told with others
        shares.append(
            Share(
                id=f"fs-{f.id[2:]}",
                kind=ShareKind.FEEDBACK,
                destination="contributors-email",
                subject_id=f.id,
                identity_level=IdentityLevel.NAMED,
                title="What happened with your story",
                body=f.message or "",
                idempotency_key=f"k-{f.id}",
                digest="0" * 64,
                planned_at=AT,
                story_ids=f.story_ids,
            )
        )
    return shares


@given(world=worlds())
def test_journey_never_shows_anyone_else(world: dict[str, Any]) -> None:
    subject = world["subject"]
    with tempfile.TemporaryDirectory() as folder:
        ledger = open_ledger(f"sqlite:///{Path(folder) / 'l.db'}", key="", actor="test")
        with ledger:
            ledger.add(world["records"])
            for share in world["shares"]:
                ledger.put_share(share, "delivered")
                ledger.add_receipt(
                    Receipt(
                        share_id=share.id,
                        destination=share.destination,
                        idempotency_key=share.idempotency_key,
                        action="deliver",
                        at=AT + dt.timedelta(hours=1),
                    )
                )
            j = journey(ledger, subject.id, moment=AT + dt.timedelta(days=2))
    shown = "\n".join(
        [
            json.dumps(j.to_json(), ensure_ascii=False),
            render_html(j),
            render_html(j, easy_read=True),
            *summary_lines(j),
        ]
    ).lower()
    for other in world["people"]:
        if other.id == subject.id:
            continue
        leaked = [t for t in _tokens(other) if t.lower() in shown]
        assert leaked == [], f"{other.id}'s identifiers appear in {subject.id}'s journey"
    # The subject's own stories are all there; others are only counted.
    own = [r for r in world["records"] if isinstance(r, Story) and subject.id in r.contributor_ids]
    assert [s.id for s in j.stories] == [s.id for s in own]
    for step, story in zip(j.stories, own, strict=True):
        assert step.other_tellers == len(story.contributor_ids) - 1
    for ins in j.insights:
        assert ins.other_stories + len(ins.story_ids) == len(
            next(r for r in world["records"] if getattr(r, "id", None) == ins.id).evidence
        )
    # Feedback shown is the subject's own only.
    assert {f.id for f in j.feedback} == {
        r.id for r in world["records"] if isinstance(r, Feedback) and r.contributor_id == subject.id
    }


def test_pool_words_are_distinct() -> None:
    lowered = [w.lower() for w in (*POOL, *VOCAB)]
    for a in lowered:
        assert not any(a != b and a in b for b in lowered), a
