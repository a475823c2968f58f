"""Construction-time validation of the core records: messages a person understands."""

from __future__ import annotations

import datetime as dt

import pytest

from coprolib.records import (
    Activity,
    Consent,
    ConsentEvent,
    ConsentTerms,
    Outcome,
    OutcomeEvent,
    Quote,
    RecordError,
    Story,
)
from coprolib.records.enums import (
    Audience,
    ChangeDepth,
    ConsentEventType,
    DecisionBasis,
    DecisionHolder,
    IdentityLevel,
    LadderRung,
    OutcomeKind,
    OutcomeStatus,
    Purpose,
    StorySource,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def terms(**kw: object) -> ConsentTerms:
    base: dict[str, object] = {"purposes": (Purpose.TRAINING,), "audiences": (Audience.INTERNAL,)}
    return ConsentTerms(**{**base, **kw})  # type: ignore[arg-type]


def test_quote_outside_story_text_names_the_quote() -> None:
    with pytest.raises(RecordError) as err:
        Story(
            id="s-1",
            contributor_ids=("p-1",),
            text="short",
            source=StorySource.INTERVIEW,
            collected_on=dt.date(2025, 1, 1),
            quotes=(Quote(id="q-1", start=2, end=40),),
        )
    assert err.value.field == "quotes[0]"
    assert "q-1" in str(err.value) and "5 characters" in str(err.value)


def test_quote_must_end_after_it_starts() -> None:
    with pytest.raises(RecordError, match="must end after it starts"):
        Quote(id="q", start=4, end=4)


def test_expiry_before_share_not_before() -> None:
    with pytest.raises(RecordError) as err:
        terms(share_not_before=dt.date(2026, 1, 1), expires=dt.date(2025, 1, 1))
    assert err.value.field == "expires"
    assert "nothing could ever be shared" in str(err.value)


def test_override_without_reason_or_approver() -> None:
    with pytest.raises(RecordError, match="reason: an override must record why"):
        ConsentEvent(type=ConsentEventType.OVERRIDE, at=T0, approver="Head of Service")
    with pytest.raises(RecordError, match="approver"):
        ConsentEvent(type=ConsentEventType.OVERRIDE, at=T0, reason="Board asked")


def test_ladder_rung_outside_one_to_seven() -> None:
    with pytest.raises(ValueError, match="8 is not a valid LadderRung"):
        Activity(
            id="a",
            title="t",
            held_on=dt.date(2025, 1, 1),
            rung=LadderRung(8),
            decisions_held_by=DecisionHolder.SHARED,
        )


def test_given_event_needs_terms_and_naive_times_are_refused() -> None:
    with pytest.raises(RecordError, match="must say what was agreed"):
        ConsentEvent(type=ConsentEventType.GIVEN, at=T0)
    with pytest.raises(RecordError, match="time zone"):
        ConsentEvent(type=ConsentEventType.REFUSED, at=dt.datetime(2025, 1, 1))


def test_supported_decision_must_name_support() -> None:
    with pytest.raises(RecordError, match="who supported"):
        Consent(
            id="c",
            contributor_id="p",
            basis=DecisionBasis.SUPPORTED_DECISION,
            events=(ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=terms()),),
        )


def test_consent_state_folds_narrowing_and_withdrawal() -> None:
    given = ConsentEvent(
        type=ConsentEventType.GIVEN,
        at=T0,
        terms=terms(
            purposes=(Purpose.TRAINING, Purpose.POLICY),
            audiences=(Audience.INTERNAL, Audience.BOARD),
        ),
    )
    narrowed = ConsentEvent(
        type=ConsentEventType.WITHDRAWN, at=T0 + dt.timedelta(days=1), audiences=(Audience.BOARD,)
    )
    gone = ConsentEvent(type=ConsentEventType.WITHDRAWN, at=T0 + dt.timedelta(days=2))
    c = Consent(id="c", contributor_id="p", events=(given, narrowed, gone))
    mid = c.state_at(T0 + dt.timedelta(days=1, hours=1))
    assert mid.active and mid.terms is not None
    assert mid.terms.audiences == (Audience.INTERNAL,)
    assert mid.terms.purposes == (Purpose.TRAINING, Purpose.POLICY)
    end = c.state_at(T0 + dt.timedelta(days=3))
    assert not end.active and end.status == "withdrawn" and end.version == 3
    assert c.state_at(T0 - dt.timedelta(days=1)).status == "none"


def test_consent_events_are_in_time_order() -> None:
    given = ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=terms())
    early = ConsentEvent(type=ConsentEventType.WITHDRAWN, at=T0 - dt.timedelta(days=1))
    with pytest.raises(RecordError, match="time order"):
        Consent(id="c", contributor_id="p", events=(given, early))


def test_not_adopted_needs_a_reason_and_timeline_is_dated_in_order() -> None:
    with pytest.raises(RecordError, match="needs the reason"):
        OutcomeEvent(on=dt.date(2025, 1, 1), status=OutcomeStatus.NOT_ADOPTED)
    with pytest.raises(RecordError, match="date order"):
        Outcome(
            id="o",
            title="t",
            kind=OutcomeKind.POLICY,
            depth=ChangeDepth.SYSTEM,
            insight_ids=("i",),
            owner="x",
            timeline=(
                OutcomeEvent(on=dt.date(2025, 2, 1), status=OutcomeStatus.AGREED),
                OutcomeEvent(on=dt.date(2025, 1, 1), status=OutcomeStatus.PROPOSED),
            ),
        )


def test_identity_levels_and_change_depth_are_ordered() -> None:
    assert IdentityLevel.ANONYMOUS < IdentityLevel.PSEUDONYMOUS < IdentityLevel.NAMED
    assert min(IdentityLevel.NAMED, IdentityLevel.ANONYMOUS) is IdentityLevel.ANONYMOUS
    assert ChangeDepth.TINKERING < ChangeDepth.SYSTEM
    assert sorted([ChangeDepth.SYSTEM, ChangeDepth.TINKERING])[0] is ChangeDepth.TINKERING
