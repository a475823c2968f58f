"""Feedback that makes sense to the person: nothing more is owed to someone erased, one
withdrawal confirmation however often they withdraw, one message for the outcome changes of a
day, and a "what we will share" message worded from the share as it is when it is sent.
Everyone here is fictional."""

from __future__ import annotations

import datetime as dt
from typing import Any

from coprolib.config import parse_config
from coprolib.delivery.recheck import consent_reason
from coprolib.feedback.owed import (
    cancel_owed_feedback,
    feedback_due,
    is_about_outcome,
    owe_feedback,
    plan_feedback,
    scheduled_message,
)
from coprolib.ledger import ShareStatus
from coprolib.outcomes.recording import add_outcome, update_outcome
from coprolib.planner import plan, withdraw
from coprolib.records import (
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
    Story,
)
from coprolib.records.enums import (
    Audience,
    ChangeDepth,
    ConsentEventType,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    OutcomeKind,
    OutcomeStatus,
    Purpose,
    SARDomain,
    StorySource,
)

T0 = dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC)

CONFIG = parse_config(
    """\
[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
max_identity = "pseudonymous"
quotes = true
settings = { directory = "board" }

[destinations.contributors-email]
adapter = "email"
carries = "feedback"
channels = ["email"]
settings = { host = "127.0.0.1", from_address = "feedback@sab.example.invalid" }
""",
    "coprolib.toml",
)


def seed(ledger: Any, people: tuple[str, ...] = ("rowan", "sam")) -> None:
    terms = ConsentTerms(
        purposes=(Purpose.BOARD_REPORTING,),
        audiences=(Audience.BOARD,),
        identity_level=IdentityLevel.ANONYMOUS,
    )
    records: list[Any] = []
    for pid in people:
        records += [
            Contributor(
                id=pid,
                display_name=f"{pid.title()} Fictional",
                contact=ContactDetails(email=f"{pid}@example.invalid"),
                feedback_channel=FeedbackChannel.EMAIL,
            ),
            Story(
                id=f"s-{pid}",
                contributor_ids=(pid,),
                text="A fictional account: the carer's visit was cancelled without a call.",
                source=StorySource.WORKSHOP,
                collected_on=T0.date(),
            ),
            Consent(
                id=f"c-{pid}",
                contributor_id=pid,
                story_ids=(f"s-{pid}",),
                events=(ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=terms),),
            ),
        ]
    records.append(
        Insight(
            id="i-calls",
            title="Cancelled visits need a call",
            summary="People were left waiting when visits were cancelled.",
            recommendation="Call the person whenever a visit is cancelled.",
            domain=SARDomain.DIRECT_PRACTICE,
            evidence=tuple(EvidenceRef(story_id=f"s-{pid}") for pid in people),
            status=InsightStatus.AGREED,
        )
    )
    ledger.add(records)


def owed_to(ledger: Any, pid: str, kind: FeedbackKind | None = None) -> list[Feedback]:
    return [
        f
        for f in feedback_due(ledger, today=dt.date(2030, 1, 1))
        if f.contributor_id == pid and (kind is None or f.kind is kind)
    ]


def test_cancel_owed_feedback_cancels_only_what_is_owed_and_stops_what_is_queued(
    ledger: Any,
) -> None:
    seed(ledger)
    plan(ledger, CONFIG, moment=T0)
    ledger.add(
        Feedback(
            id="fb-told",
            contributor_id="rowan",
            kind=FeedbackKind.CHANGE_UPDATE,
            channel=FeedbackChannel.EMAIL,
            status=FeedbackStatus.SENT,
            sent_on=T0.date(),
            message="Fictional: sent already.",
        )
    )
    queued = plan_feedback(ledger, CONFIG, T0 + dt.timedelta(hours=1)).deliver
    rowan_share = next(s for s in queued if s.recipient and s.recipient.email.startswith("rowan"))
    before = owed_to(ledger, "rowan")
    assert len(before) >= 2  # "we will share" and "what happened"

    cancelled = cancel_owed_feedback(ledger, "rowan", reason="erased", on=T0.date())

    assert sorted(cancelled) == sorted(f.id for f in before)
    assert owed_to(ledger, "rowan") == []
    assert owed_to(ledger, "sam"), "someone else's obligations are untouched"
    assert ledger.get(Feedback, "fb-told").status is FeedbackStatus.SENT
    for fid in cancelled:
        stored = ledger.get(Feedback, fid)
        assert stored.status is FeedbackStatus.CANCELLED and stored.note == "erased on 2026-10-05"
    # The message already queued for them is refused at the send boundary.
    dest = CONFIG.destination("contributors-email")
    reason = consent_reason(ledger, rowan_share, dest, T0 + dt.timedelta(hours=2))
    assert reason is not None and "cancelled, not owed" in reason
    assert cancel_owed_feedback(ledger, "rowan") == (), "calling it again cancels nothing more"
    later = plan_feedback(ledger, CONFIG, T0 + dt.timedelta(days=1), apply=False)
    assert all(s.subject_id not in cancelled for s in later.deliver)


def test_withdrawing_twice_owes_one_confirmation(ledger: Any) -> None:
    seed(ledger)
    first = withdraw(ledger, "rowan", "s-rowan", moment=T0 + dt.timedelta(days=1))
    second = withdraw(ledger, "rowan", "s-rowan", moment=T0 + dt.timedelta(days=2))
    owed = owed_to(ledger, "rowan", FeedbackKind.WITHDRAWAL_CONFIRMED)
    assert len(owed) == 1
    assert first.confirmation == second.confirmation == owed[0].id
    # Once it is sent, withdrawing the same again still owes nothing new.
    ledger.replace(
        Feedback(
            **{
                **{a.name: getattr(owed[0], a.name) for a in Feedback.__attrs_attrs__},
                "status": FeedbackStatus.SENT,
                "sent_on": T0.date(),
            }
        )
    )
    withdraw(ledger, "rowan", "s-rowan", moment=T0 + dt.timedelta(days=3))
    assert owed_to(ledger, "rowan", FeedbackKind.WITHDRAWAL_CONFIRMED) == []


def test_a_confirmation_still_owed_takes_in_a_wider_withdrawal(ledger: Any) -> None:
    seed(ledger)
    ledger.add(
        Story(
            id="s-other",
            contributor_ids=("rowan",),
            text="A second fictional account: the respite booking was lost.",
            source=StorySource.INTERVIEW,
            collected_on=T0.date(),
        )
    )
    confirmation = Feedback(
        id="fb-w1",
        contributor_id="rowan",
        kind=FeedbackKind.WITHDRAWAL_CONFIRMED,
        channel=FeedbackChannel.EMAIL,
        story_ids=("s-rowan",),
        message="Fictional: we recorded story s-rowan.",
        created_at=T0,
    )
    wider = Feedback(
        id="fb-w2",
        contributor_id="rowan",
        kind=FeedbackKind.WITHDRAWAL_CONFIRMED,
        channel=FeedbackChannel.EMAIL,
        story_ids=("s-rowan", "s-other"),
        message="Fictional: we recorded all your stories.",
        created_at=T0 + dt.timedelta(days=1),
    )
    assert owe_feedback(ledger, [confirmation]) == (confirmation,)
    (stood,) = owe_feedback(ledger, [wider])
    assert stood.id == "fb-w1" and set(stood.story_ids) == {"s-rowan", "s-other"}
    assert stood.message == "Fictional: we recorded all your stories."
    assert ledger.get(Feedback, "fb-w2") is None
    assert owe_feedback(ledger, [wider]) == (stood,), "recording again changes nothing"


def outcome() -> Outcome:
    return Outcome(
        id="o-calls",
        title="Cancellation calls added to the home care contract",
        kind=OutcomeKind.CONTRACT_SPECIFICATION,
        depth=ChangeDepth.SYSTEM,
        insight_ids=("i-calls",),
        owner="Fictional commissioning lead",
        timeline=(OutcomeEvent(status=OutcomeStatus.PROPOSED, on=T0.date()),),
    )


def test_outcome_changes_on_one_day_are_one_message(ledger: Any) -> None:
    seed(ledger)
    day = T0 + dt.timedelta(days=7)
    add_outcome(ledger, outcome(), now=day)
    update_outcome(ledger, "o-calls", OutcomeStatus.AGREED, on=day.date(), now=day)
    update_outcome(
        ledger, "o-calls", OutcomeStatus.IN_PROGRESS, on=day.date(), now=day + dt.timedelta(hours=3)
    )
    for pid in ("rowan", "sam"):
        (message,) = owed_to(ledger, pid, FeedbackKind.CHANGE_UPDATE)
        assert message.message is not None
        assert message.message.count("Your story helped bring about a change") == 3
    # Another outcome changed the same day joins the same message, and says so for staff.
    other = Outcome(
        id="o-rota",
        title="Visit rota shared with families",
        kind=OutcomeKind.SERVICE_DESIGN,
        depth=ChangeDepth.SERVICE,
        insight_ids=("i-calls",),
        owner="Fictional service manager",
        timeline=(OutcomeEvent(status=OutcomeStatus.PROPOSED, on=day.date()),),
    )
    add_outcome(ledger, other, now=day + dt.timedelta(hours=5))
    (message,) = owed_to(ledger, "rowan", FeedbackKind.CHANGE_UPDATE)
    assert message.message is not None and "Visit rota shared with families" in message.message
    assert message.note is not None and "also about outcome o-rota" in message.note
    assert is_about_outcome(message, "o-rota") and is_about_outcome(message, "o-calls")
    assert not is_about_outcome(message, "o-elsewhere")
    # The next day's change is a message of its own.
    update_outcome(
        ledger,
        "o-calls",
        OutcomeStatus.IMPLEMENTED,
        on=(day + dt.timedelta(days=1)).date(),
        now=day + dt.timedelta(days=1),
    )
    assert len(owed_to(ledger, "rowan", FeedbackKind.CHANGE_UPDATE)) == 2


def test_scheduled_message_is_worded_from_the_share_as_it_is_when_sent(ledger: Any) -> None:
    seed(ledger, people=("rowan",))
    plan(ledger, CONFIG, moment=T0)
    (scheduled,) = owed_to(ledger, "rowan", FeedbackKind.SCHEDULED)
    assert scheduled.message and '"Cancelled visits need a call"' in scheduled.message
    # The insight is reworded and planned again: the share it describes is re-rendered.
    old = ledger.get(Insight, "i-calls")
    retitled = Insight(
        **{
            **{a.name: getattr(old, a.name) for a in Insight.__attrs_attrs__},
            "title": "Every cancelled visit gets a phone call",
        }
    )
    ledger.replace(retitled)
    later = T0 + dt.timedelta(days=1)
    plan(ledger, CONFIG, moment=later)
    live = [
        row.share
        for row in ledger.list_shares(destination="board-pack", subject_id="i-calls")
        if row.status is ShareStatus.PLANNED
    ]
    assert live and live[-1].id != scheduled.share_id, "the share was re-rendered"

    sent = plan_feedback(ledger, CONFIG, later + dt.timedelta(hours=1))
    (share,) = [s for s in sent.deliver if s.subject_id == scheduled.id]
    expected = scheduled_message(
        live[-1], CONFIG.destination("board-pack"), live[-1].planned_at.date()
    )
    assert share.body == expected
    assert '"Every cancelled visit gets a phone call"' in share.body
    assert "Cancelled visits need a call" not in share.body
    stored = ledger.get(Feedback, scheduled.id)
    assert stored.message == share.body and stored.share_id == live[-1].id


def test_a_queued_scheduled_message_is_refused_once_its_share_is_re_rendered(
    ledger: Any,
) -> None:
    seed(ledger, people=("rowan",))
    plan(ledger, CONFIG, moment=T0)
    (first,) = plan_feedback(ledger, CONFIG, T0 + dt.timedelta(hours=1)).deliver
    dest = CONFIG.destination("contributors-email")
    assert consent_reason(ledger, first, dest, T0 + dt.timedelta(hours=1)) is None
    # Before it is sent, the insight is reworded and planned again.
    old = ledger.get(Insight, "i-calls")
    ledger.replace(
        Insight(
            **{
                **{a.name: getattr(old, a.name) for a in Insight.__attrs_attrs__},
                "title": "Every cancelled visit gets a phone call",
            }
        )
    )
    later = T0 + dt.timedelta(days=1)
    plan(ledger, CONFIG, moment=later)
    (second,) = plan_feedback(ledger, CONFIG, later + dt.timedelta(hours=1)).deliver
    assert second.id != first.id and "Every cancelled visit" in second.body
    # At the send boundary the message worded from the old share is refused; the new one goes.
    now = later + dt.timedelta(hours=2)
    stale = consent_reason(ledger, first, dest, now)
    assert stale is not None and "re-rendered" in stale
    assert consent_reason(ledger, second, dest, now) is None
    # Planning again plans nothing more.
    assert plan_feedback(ledger, CONFIG, now, apply=False).deliver == ()
