"""Owed feedback becomes feedback shares: feedback destinations in coprolib.toml, plan_feedback
(once, only what each channel needs, the rest for a person), the re-check before sending
(withdrawn contributors get only their withdrawal confirmation). All people are fictional."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from coprolib.config import ConfigError, parse_config
from coprolib.delivery.recheck import consent_reason
from coprolib.feedback.owed import feedback_done, feedback_share_identity, plan_feedback
from coprolib.ledger import ShareStatus
from coprolib.planner import plan, request_for, withdraw
from coprolib.records import (
    Accessibility,
    Consent,
    ConsentEvent,
    ConsentTerms,
    ContactDetails,
    Contributor,
    Feedback,
    Story,
)
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    Purpose,
    ShareKind,
    StorySource,
)

T0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)

CONFIG = """\
ledger = "sqlite:///unused.db"

[destinations.board-file]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
settings = { directory = "board" }

[destinations.contributors-email]
adapter = "email"
carries = "feedback"
channels = ["email", "sms"]
settings = { host = "127.0.0.1", from_address = "feedback@sab.example.invalid" }
"""


def config_with(text: str = CONFIG) -> Any:
    return parse_config(text, "coprolib.toml")


# --- configuration ------------------------------------------------------------------------------


def test_feedback_destination_needs_no_insight_settings() -> None:
    config = config_with()
    fb = config.destination("contributors-email")
    assert fb.carries_feedback and fb.audience is None and fb.purposes == ()
    assert fb.channels == (FeedbackChannel.EMAIL, FeedbackChannel.SMS)
    assert set(config.feedback_destinations()) == {"contributors-email"}
    assert set(config.insight_destinations()) == {"board-file"}
    board = config.destination("board-file")
    assert not board.carries_feedback and board.audience is Audience.BOARD
    assert config.describe()["destinations"]["contributors-email"]["carries"] == "feedback"
    with pytest.raises(ValueError, match="carries feedback"):
        request_for(fb, None, T1)


@pytest.mark.parametrize(
    ("change", "key", "line", "words"),
    [
        (
            ('carries = "feedback"', 'carries = "gossip"'),
            "contributors-email.carries",
            11,
            "one of",
        ),
        (('channels = ["email", "sms"]', 'channels = ["fax"]'), "channels", 12, "not one of"),
        (('channels = ["email", "sms"]', 'channels = ["phone"]'), "channels", 12, "by a person"),
        (('channels = ["email", "sms"]', "channels = []"), "channels", 12, "non-empty"),
        (
            ('channels = ["email", "sms"]', 'channels = ["sms", "sms"]'),
            "channels",
            12,
            "more than once",
        ),
        (('channels = ["email", "sms"]', ""), "destinations.contributors-email", 9, "missing"),
        (
            ('channels = ["email", "sms"]', 'channels = ["email"]\naudience = "board"'),
            "contributors-email.audience",
            13,
            "carry insights",
        ),
        (
            ('purposes = ["board_reporting"]', 'purposes = ["board_reporting"]\nchannels = []'),
            "board-file.channels",
            7,
            "only a destination",
        ),
    ],
)
def test_feedback_destination_errors_name_key_and_line(
    change: tuple[str, str], key: str, line: int, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        config_with(CONFIG.replace(*change))
    assert key in str(err.value) and words in str(err.value)
    assert err.value.line == line, str(err.value)


# --- planning feedback shares -------------------------------------------------------------------


def _terms() -> ConsentTerms:
    return ConsentTerms(
        purposes=(Purpose.BOARD_REPORTING,),
        audiences=(Audience.BOARD,),
        identity_level=IdentityLevel.ANONYMOUS,
    )


def person(pid: str, channel: FeedbackChannel, **contact: str) -> Contributor:
    return Contributor(
        id=pid,
        display_name=f"{pid.title()} Fictional",
        contact=ContactDetails(**contact),
        feedback_channel=channel,
        accessibility=Accessibility(easy_read=pid == "alex", language="cy"),
    )


def owed(fid: str, pid: str, channel: FeedbackChannel, **fields: Any) -> Feedback:
    values: dict[str, Any] = {
        "kind": FeedbackKind.CHANGE_UPDATE,
        "story_ids": (f"s-{pid}",),
        "message": f"Fictional update for {pid}: the day centre now phones ahead.",
        "due": dt.date(2026, 12, 1),
    }
    values.update(fields)
    return Feedback(id=fid, contributor_id=pid, channel=channel, **values)


ALL_CONTACT = {
    "email": "alex@example.invalid",
    "phone": "07700 900123",
    "postal_address": "1 Fictional Road, Exampletown",
}


@pytest.fixture
def seeded(ledger: Any) -> Any:
    people = [
        person("alex", FeedbackChannel.EMAIL, **ALL_CONTACT),
        person("bo", FeedbackChannel.SMS, email="bo@example.invalid"),  # no phone
        person("cy", FeedbackChannel.VIA_SUPPORTER, email="cy@example.invalid"),
        person("dee", FeedbackChannel.LETTER, postal_address="2 Fictional Road"),
        person("eve", FeedbackChannel.SMS, phone="07700 900456"),
    ]
    stories = [
        Story(
            id=f"s-{p.id}",
            contributor_ids=(p.id,),
            text="A fictional account of a missed visit.",
            source=StorySource.WORKSHOP,
            collected_on=T0.date(),
        )
        for p in people
    ]
    consents = [
        Consent(
            id=f"c-{p.id}",
            contributor_id=p.id,
            story_ids=(f"s-{p.id}",),
            events=(ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=_terms()),),
        )
        for p in people
    ]
    feedback = [
        owed("fb-alex", "alex", FeedbackChannel.EMAIL),
        owed("fb-alex-quiet", "alex", FeedbackChannel.EMAIL, message=None),
        owed(
            "fb-alex-shared",
            "alex",
            FeedbackChannel.EMAIL,
            kind=FeedbackKind.SHARED,
            share_id="sh-not-delivered",
        ),
        owed("fb-alex-done", "alex", FeedbackChannel.EMAIL),
        owed("fb-bo", "bo", FeedbackChannel.SMS),
        owed("fb-cy", "cy", FeedbackChannel.VIA_SUPPORTER),
        owed("fb-dee", "dee", FeedbackChannel.LETTER),
        owed("fb-eve", "eve", FeedbackChannel.SMS),
    ]
    ledger.add([*people, *stories, *consents, *feedback])
    feedback_done(ledger, "fb-alex-done", "Told Alex at the drop-in", on=T0.date())
    return ledger


def test_plan_feedback_sends_what_a_channel_can_carry_once(seeded: Any) -> None:
    config = config_with()
    result = plan_feedback(seeded, config, T1)
    shares = {s.subject_id: s for s in result.deliver}
    assert set(shares) == {"fb-alex", "fb-eve"}
    alex = shares["fb-alex"]
    assert alex.kind is ShareKind.FEEDBACK and alex.destination == "contributors-email"
    assert alex.feedback_kind is FeedbackKind.CHANGE_UPDATE
    assert alex.channel is FeedbackChannel.EMAIL
    assert alex.body == "Fictional update for alex: the day centre now phones ahead."
    # Only what the channel needs: an email address for email, a phone number for SMS.
    r = alex.recipient
    assert r is not None and r.email == "alex@example.invalid"
    assert r.phone is None and r.postal_address is None
    assert r.easy_read is True and r.language == "cy" and r.name == "Alex Fictional"
    eve = shares["fb-eve"].recipient
    assert eve is not None and eve.phone == "07700 900456" and eve.email is None
    assert eve.easy_read is False
    assert (alex.id, alex.idempotency_key) == feedback_share_identity("fb-alex", alex.destination)
    assert alex.consent_refs == () and alex.story_ids == ()
    jobs = seeded.list_jobs(status="pending")
    assert sorted((j.kind, j.share_id, j.idempotency_key) for j in jobs) == sorted(
        ("deliver", s.id, s.idempotency_key) for s in result.deliver
    )
    people = {p.feedback_id: p.reason for p in result.for_a_person}
    assert set(people) == {"fb-bo", "fb-cy", "fb-dee"}
    assert "no phone number" in people["fb-bo"]
    assert "given by a person" in people["fb-cy"]
    assert "reaches letter" in people["fb-dee"]
    assert dict(result.waiting) == {
        "fb-alex-shared": "share sh-not-delivered has not been delivered yet"
    }
    # Planning again plans nothing new and queues nothing more.
    again = plan_feedback(seeded, config, T1 + dt.timedelta(hours=1))
    assert again.deliver == ()
    assert len(seeded.list_jobs()) == len(jobs)


def test_dry_run_records_nothing(seeded: Any) -> None:
    result = plan_feedback(seeded, config_with(), T1, apply=False)
    assert len(result.deliver) == 2
    assert seeded.list_jobs() == [] and list(seeded.list_shares()) == []


def test_insight_planning_leaves_feedback_destinations_alone(seeded: Any) -> None:
    config = config_with()
    plan_feedback(seeded, config, T1)
    before = sorted((r.share.id, str(r.status)) for r in seeded.list_shares())
    result = plan(seeded, config, moment=T1)
    assert {r.destination for r in result.routed} <= {"board-file"}
    assert result.retractions == ()
    assert plan(seeded, config, destination="contributors-email", moment=T1).routed == ()
    assert sorted((r.share.id, str(r.status)) for r in seeded.list_shares()) == before


def test_withdrawn_contributor_gets_only_the_confirmation(seeded: Any) -> None:
    config = config_with()
    first = plan_feedback(seeded, config, T1)
    alex_share = next(s for s in first.deliver if s.subject_id == "fb-alex")
    dest = config.destination("contributors-email")
    assert consent_reason(seeded, alex_share, dest, T1) is None  # no sharing consent needed
    later = T1 + dt.timedelta(hours=2)
    # A feedback share about a story whose consent is withdrawn is refused at sending time, even
    # if withdraw() did not cancel the obligation (it cancels only scheduled/shared ones).
    withdraw(seeded, "alex", "s-alex", reason="fictional: changed their mind", moment=later)
    now = later + dt.timedelta(minutes=1)
    reason = consent_reason(seeded, alex_share, dest, now)
    assert reason == "contributor alex withdrew consent for story s-alex"
    after = plan_feedback(seeded, config, now)
    kinds = {s.subject_id: s.feedback_kind for s in after.deliver}
    assert list(kinds.values()) == [FeedbackKind.WITHDRAWAL_CONFIRMED]
    # Stopped at sending (the engine cancels the share): a person is told, every plan.
    seeded.set_share_status(alex_share.id, ShareStatus.CANCELLED)
    stopped = plan_feedback(seeded, config, now, apply=False)
    assert (
        "stopped before sending"
        in {p.feedback_id: p.reason for p in stopped.for_a_person}["fb-alex"]
    )
    (confirmation,) = after.deliver
    assert consent_reason(seeded, confirmation, dest, now) is None
    # Feedback no longer owed (given by hand meanwhile) is not sent either.
    eve = next(s for s in first.deliver if s.subject_id == "fb-eve")
    feedback_done(seeded, "fb-eve", "Rang Eve instead", on=now.date())
    assert consent_reason(seeded, eve, dest, now) == "feedback fb-eve is done, not owed"
    assert seeded.get(Feedback, "fb-eve").status is FeedbackStatus.DONE


def test_shared_feedback_goes_to_a_person_never_as_written(seeded: Any) -> None:
    # The planner's "shared" message is a note to staff ("tell them what happened"): once its
    # share is out, a person must write to the contributor, so it is never sent as it stands.
    seeded.add(owed("fb-alex-told", "alex", FeedbackChannel.EMAIL, kind=FeedbackKind.SHARED))
    result = plan_feedback(seeded, config_with(), T1)
    assert "fb-alex-told" not in {s.subject_id for s in result.deliver}
    people = {p.feedback_id: p.reason for p in result.for_a_person}
    assert "how it was received" in people["fb-alex-told"]
