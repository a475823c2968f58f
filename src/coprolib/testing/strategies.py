"""Hypothesis strategies for every coprolib record, for tests of coprolib and of plugins.

Each strategy builds valid records (validators pass). ``bundles()`` builds whole bundles whose
references hold. Example::

    from hypothesis import given
    from coprolib.testing import strategies as cst

    @given(cst.stories())
    def test_my_recogniser_never_crashes(story): ...
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import strategies as st

from coprolib.records import (
    Accessibility,
    Activity,
    Consent,
    ConsentEvent,
    ConsentTerms,
    ContactDetails,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Outcome,
    OutcomeEvent,
    Quote,
    Story,
    enums,
)
from coprolib.records.bundle import Bundle

__all__ = [
    "activities",
    "bundles",
    "consent_terms",
    "consents",
    "contributors",
    "dates",
    "datetimes",
    "feedback",
    "identifiers",
    "insights",
    "outcomes",
    "stories",
    "texts",
]

_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))


def identifiers(prefix: str = "") -> st.SearchStrategy[str]:
    """Record ids such as ``s-3f9a``."""
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8).map(
        lambda s: f"{prefix}{s}"
    )


def texts(min_size: int = 1, max_size: int = 200) -> st.SearchStrategy[str]:
    """Unicode text that is not blank."""
    return st.text(_ALPHABET, min_size=min_size, max_size=max_size).filter(lambda s: s.strip())


def dates() -> st.SearchStrategy[dt.date]:
    """Dates between 2015 and 2035."""
    return st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 31))


def datetimes() -> st.SearchStrategy[dt.datetime]:
    """Time-zone-aware UTC datetimes with whole seconds."""
    return st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2035, 12, 31)).map(
        lambda d: d.replace(microsecond=0, tzinfo=dt.UTC)
    )


def _opt(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | s


def _subset(enum_cls: Any, min_size: int = 0) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(st.sampled_from(list(enum_cls)), min_size=min_size, unique=True).map(tuple)


def contributors(id: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Contributor]:
    """Contributors with contact details and known identifiers."""
    return st.builds(
        Contributor,
        id=id if id is not None else identifiers("p-"),
        display_name=_opt(texts(max_size=30)),
        contact=st.builds(
            ContactDetails,
            email=_opt(st.emails()),
            phone=_opt(st.from_regex(r"07[0-9]{9}", fullmatch=True)),
            postal_address=_opt(texts(max_size=60)),
        ),
        wants_feedback=st.booleans(),
        feedback_channel=st.sampled_from(
            [c for c in enums.FeedbackChannel if c is not enums.FeedbackChannel.NONE]
        ),
        supporting_org=_opt(texts(max_size=30)),
        accessibility=st.builds(
            Accessibility, easy_read=st.booleans(), language=st.sampled_from(["en", "cy", "ur"])
        ),
        known_identifiers=st.lists(texts(max_size=20), max_size=3, unique=True).map(tuple),
    )


@st.composite
def _quotes(draw: st.DrawFn, text: str) -> tuple[Quote, ...]:
    n = draw(st.integers(0, min(3, len(text))))
    quotes = []
    for i in range(n):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        quotes.append(Quote(id=f"q{i}", start=start, end=end))
    return tuple(quotes)


@st.composite
def stories(
    draw: st.DrawFn,
    contributor_ids: tuple[str, ...] | None = None,
    id: st.SearchStrategy[str] | None = None,
) -> Story:
    """Stories whose quotes lie inside their text."""
    text = draw(texts(max_size=300))
    tellers = contributor_ids or tuple(
        draw(st.lists(identifiers("p-"), min_size=1, max_size=3, unique=True))
    )
    return Story(
        id=draw(id if id is not None else identifiers("s-")),
        contributor_ids=tellers,
        text=text,
        source=draw(st.sampled_from(list(enums.StorySource))),
        collected_on=draw(dates()),
        collected_by=draw(_opt(texts(max_size=20))),
        title=draw(_opt(texts(max_size=40))),
        themes=tuple(draw(st.lists(texts(max_size=20), max_size=4))),
        abuse_types=draw(_subset(enums.AbuseType)),
        risk_location=draw(_opt(st.sampled_from(list(enums.RiskLocation)))),
        risk_source=draw(_opt(st.sampled_from(list(enums.RiskSource)))),
        quotes=draw(_quotes(text)),
        disclosure=draw(st.booleans()),
    )


@st.composite
def consent_terms(draw: st.DrawFn) -> ConsentTerms:
    """Consent terms with at least one purpose and audience, and consistent dates."""
    not_before = draw(_opt(dates()))
    expires = draw(_opt(dates()))
    if not_before and expires and expires < not_before:
        not_before, expires = expires, not_before
    return ConsentTerms(
        purposes=draw(_subset(enums.Purpose, 1)),
        audiences=draw(_subset(enums.Audience, 1)),
        identity_level=draw(st.sampled_from(list(enums.IdentityLevel))),
        quotes_allowed=draw(st.booleans()),
        review_before_sharing=draw(st.booleans()),
        share_not_before=not_before,
        expires=expires,
        denied_destinations=tuple(draw(st.lists(identifiers("d-"), max_size=2, unique=True))),
    )


@st.composite
def consent_events(draw: st.DrawFn) -> tuple[ConsentEvent, ...]:
    """A valid event history: starts given or refused, in time order."""
    E = enums.ConsentEventType
    times = sorted(draw(st.lists(datetimes(), min_size=1, max_size=5)))
    events = []
    for i, at in enumerate(times):
        kind = draw(st.sampled_from([E.GIVEN, E.REFUSED] if i == 0 else list(E)))
        kwargs: dict[str, Any] = {}
        if kind in (E.GIVEN, E.RENEWED):
            kwargs["terms"] = draw(consent_terms())
        elif kind is E.WITHDRAWN:
            kwargs["purposes"] = draw(_subset(enums.Purpose))
            kwargs["audiences"] = draw(_subset(enums.Audience))
            kwargs["reason"] = draw(_opt(texts(max_size=40)))
        elif kind is E.OVERRIDE:
            kwargs["reason"] = draw(texts(max_size=40))
            kwargs["approver"] = draw(texts(max_size=20))
        elif kind is E.APPROVED:
            kwargs["insight_id"] = draw(identifiers("i-"))
            kwargs["text_digest"] = draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
        events.append(
            ConsentEvent(type=kind, at=at, recorded_by=draw(_opt(texts(max_size=20))), **kwargs)
        )
    return tuple(events)


@st.composite
def consents(
    draw: st.DrawFn, contributor_id: str | None = None, story_ids: tuple[str, ...] | None = None
) -> Consent:
    """Consents with a valid append-only history."""
    basis = draw(st.sampled_from(list(enums.DecisionBasis)))
    support = draw(st.sampled_from(list(enums.Support)))
    if basis is enums.DecisionBasis.SUPPORTED_DECISION and support is enums.Support.NONE:
        support = enums.Support.ADVOCATE
    return Consent(
        id=draw(identifiers("c-")),
        contributor_id=contributor_id or draw(identifiers("p-")),
        story_ids=story_ids if story_ids is not None else (),
        basis=basis,
        support=support,
        supported_by=draw(_opt(texts(max_size=20))),
        method=draw(st.sampled_from(list(enums.ConsentMethod))),
        events=draw(consent_events()),
    )


@st.composite
def insights(draw: st.DrawFn, story_ids: tuple[str, ...] | None = None) -> Insight:
    """Insights citing some of ``story_ids`` (invented ids when ``None``)."""
    ids = (
        list(story_ids)
        if story_ids is not None
        else draw(st.lists(identifiers("s-"), max_size=4, unique=True))
    )
    chosen = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    return Insight(
        id=draw(identifiers("i-")),
        title=draw(texts(max_size=60)),
        summary=draw(texts(max_size=200)),
        recommendation=draw(st.text(_ALPHABET, max_size=200)),
        domain=draw(st.sampled_from(list(enums.SARDomain))),
        themes=tuple(draw(st.lists(texts(max_size=20), max_size=3))),
        evidence=tuple(EvidenceRef(story_id=s) for s in chosen),
        status=draw(st.sampled_from(list(enums.InsightStatus))),
        authored_by=draw(_opt(texts(max_size=20))),
        created_on=draw(_opt(dates())),
    )


@st.composite
def outcomes(draw: st.DrawFn, insight_ids: tuple[str, ...] | None = None) -> Outcome:
    """Outcomes with a dated timeline in order."""
    days = sorted(draw(st.lists(dates(), min_size=1, max_size=4)))
    timeline = []
    for d in days:
        status = draw(st.sampled_from(list(enums.OutcomeStatus)))
        note = draw(texts(max_size=40)) if status is enums.OutcomeStatus.NOT_ADOPTED else None
        timeline.append(OutcomeEvent(on=d, status=status, note=note))
    ids = insight_ids or tuple(
        draw(st.lists(identifiers("i-"), min_size=1, max_size=3, unique=True))
    )
    return Outcome(
        id=draw(identifiers("o-")),
        title=draw(texts(max_size=60)),
        kind=draw(st.sampled_from(list(enums.OutcomeKind))),
        depth=draw(st.sampled_from(list(enums.ChangeDepth))),
        insight_ids=ids,
        owner=draw(texts(max_size=30)),
        timeline=tuple(timeline),
        description=draw(_opt(texts(max_size=100))),
        due=draw(_opt(dates())),
    )


@st.composite
def feedback(draw: st.DrawFn, contributor_id: str | None = None) -> Feedback:
    """Feedback records; sent or done ones carry the date they were sent."""
    status = draw(st.sampled_from(list(enums.FeedbackStatus)))
    sent = (
        draw(dates()) if status in (enums.FeedbackStatus.SENT, enums.FeedbackStatus.DONE) else None
    )
    return Feedback(
        id=draw(identifiers("f-")),
        contributor_id=contributor_id or draw(identifiers("p-")),
        kind=draw(st.sampled_from(list(enums.FeedbackKind))),
        channel=draw(st.sampled_from(list(enums.FeedbackChannel))),
        status=status,
        due=draw(_opt(dates())),
        message=draw(_opt(texts(max_size=100))),
        created_at=draw(_opt(datetimes())),
        sent_on=sent,
    )


def activities() -> st.SearchStrategy[Activity]:
    """Co-production activities on every rung of the ladder."""
    return st.builds(
        Activity,
        id=identifiers("a-"),
        title=texts(max_size=60),
        held_on=dates(),
        rung=st.sampled_from(list(enums.LadderRung)),
        decisions_held_by=st.sampled_from(list(enums.DecisionHolder)),
        described_as=_opt(texts(max_size=30)),
        participants=st.integers(0, 200),
        notes=_opt(texts(max_size=60)),
    )


@st.composite
def bundles(draw: st.DrawFn, max_contributors: int = 4) -> Bundle:
    """Whole bundles whose references all resolve."""
    people = draw(st.lists(contributors(), max_size=max_contributors, unique_by=lambda c: c.id))
    pids = [p.id for p in people]
    story_list: list[Story] = []
    if pids:
        for i in range(draw(st.integers(0, 5))):
            tellers = tuple(
                draw(st.lists(st.sampled_from(pids), min_size=1, max_size=2, unique=True))
            )
            story_list.append(draw(stories(contributor_ids=tellers, id=st.just(f"s-{i}"))))
    consent_list = []
    for s in story_list:
        for j, pid in enumerate(s.contributor_ids):
            if draw(st.booleans()):
                c = draw(consents(contributor_id=pid, story_ids=(s.id,)))
                consent_list.append(attrs.evolve(c, id=f"c-{s.id}-{j}"))
    sids = tuple(s.id for s in story_list)
    insight_list = [
        attrs.evolve(i, id=f"i-{n}")
        for n, i in enumerate(draw(st.lists(insights(story_ids=sids), max_size=3)))
    ]
    iids = tuple(i.id for i in insight_list)
    outcome_list = (
        [
            attrs.evolve(o, id=f"o-{n}")
            for n, o in enumerate(draw(st.lists(outcomes(insight_ids=iids[:1]), max_size=2)))
        ]
        if iids
        else []
    )
    feedback_list = (
        [
            attrs.evolve(f, id=f"f-{n}")
            for n, f in enumerate(draw(st.lists(feedback(contributor_id=pids[0]), max_size=2)))
        ]
        if pids
        else []
    )
    activity_list = [
        attrs.evolve(a, id=f"a-{n}") for n, a in enumerate(draw(st.lists(activities(), max_size=2)))
    ]
    return Bundle(
        contributors=tuple(people),
        stories=tuple(story_list),
        consents=tuple(consent_list),
        insights=tuple(insight_list),
        outcomes=tuple(outcome_list),
        feedback=tuple(feedback_list),
        activities=tuple(activity_list),
    )
