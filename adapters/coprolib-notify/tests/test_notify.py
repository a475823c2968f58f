"""coprolib-notify through the official notifications-python-client against a Notify API subset
on 127.0.0.1 that verifies every JWT (``iss`` = service id, ``iat`` within 30 seconds)."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from coprolib_notify import NotifyAdapter
from coprolib_notify.adapter import (
    CLOCK_MESSAGE,
    address_lines,
    key_for,
    reference_for,
    seconds_to_midnight,
)
from coprolib_notify.testing import PERSONAL_LOOKING, NotifyServer
from hypothesis import given
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Status, build_adapter
from coprolib.records import Recipient, Share
from coprolib.records.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

EMAIL_BODY = "Dear ((name)),\n\n((title))\n\n((message))\n\n((board))"
SMS_BODY = "((name)): ((title)). ((message))"
LETTER_BODY = "Dear ((name)), ((message))"

#: Fictional recipients on reserved domains and Ofcom's drama number range.
EMAIL_TO = Recipient(name="Sam Example", email="sam@example.invalid")
EASY_READ_TO = Recipient(name="Jo Sample", email="jo@example.invalid", easy_read=True)
SMS_TO = Recipient(name="Ali Test", phone="07700 900123")
LETTER_TO = Recipient(
    name="Chris Placeholder", postal_address="1 Fictional Row\nExampletown\nTestshire\nZZ99 9ZZ"
)


def feedback(share_id: str, recipient: Recipient = EMAIL_TO, **fields: Any) -> Share:
    """A feedback share to ``recipient`` by the channel its details suit."""
    channel = (
        FeedbackChannel.EMAIL
        if recipient.email
        else FeedbackChannel.SMS
        if recipient.phone
        else FeedbackChannel.LETTER
    )
    base = make_share(share_id, kind=ShareKind.FEEDBACK, recipient=recipient, **fields)
    return attrs.evolve(base, channel=channel, feedback_kind=FeedbackKind.SHARED)


@pytest.fixture
def notify() -> NotifyServer:
    return NotifyServer()


@pytest.fixture
def http(notify: NotifyServer) -> Iterator[FaultServer]:
    with FaultServer(notify.app) as started:
        yield started


def templates(notify: NotifyServer) -> dict[str, Any]:
    """Templates for the ``shared`` and ``withdrawal_confirmed`` kinds on every channel."""
    ids = {
        "email": notify.add_template("email", EMAIL_BODY, subject="((title))"),
        "sms": notify.add_template("sms", SMS_BODY),
        "letter": notify.add_template("letter", LETTER_BODY),
        "email_easy_read": notify.add_template("email", "Easy Read: " + EMAIL_BODY, "((title))"),
    }
    return {"shared": ids, "withdrawal_confirmed": {"email": ids["email"]}}


def make_adapter(url: str, notify: NotifyServer, **settings: Any) -> NotifyAdapter:
    """An adapter for the test service, its key given through ``$env:TEST_NOTIFY_KEY``."""
    values: dict[str, Any] = {
        "api_key": "$env:TEST_NOTIFY_KEY",
        "base_url": url,
        "templates": templates(notify),
        "personalisation": {"board": "Exampleshire Safeguarding Adults Board"},
        "timeout": 5.0,
    }
    values.update(settings)
    return NotifyAdapter(values, destination="test")


@pytest.fixture(autouse=True)
def _key(notify: NotifyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_NOTIFY_KEY", notify.api_key)


class TestNotifyConformance(AdapterConformance):
    """The standard suite with feedback shares by email, text and letter."""

    @pytest.fixture
    def adapter(self, notify: NotifyServer, http: FaultServer) -> Iterator[NotifyAdapter]:
        self.server = notify
        made = make_adapter(http.url, notify)
        yield made
        made.close()
        assert notify.auth_failures == []

    def remote_keys(self, adapter: Any) -> list[str]:
        return [key_for(reference) for reference in self.server.references()]

    def shares(self) -> list[Share]:
        recipients = [EMAIL_TO, SMS_TO, LETTER_TO, EASY_READ_TO]
        return [
            feedback(s.id, recipients[i % len(recipients)], title=s.title, body=s.body)
            for i, s in enumerate(canonical_shares(self.destination))
        ]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return feedback(share_id, EMAIL_TO, **fields)

    def http_adapter(self, base_url: str, *, read_timeout: float) -> NotifyAdapter:
        return make_adapter(base_url, NotifyServer(), timeout=read_timeout)


@pytest.fixture
def adapter(notify: NotifyServer, http: FaultServer) -> Iterator[NotifyAdapter]:
    made = make_adapter(http.url, notify)
    yield made
    made.close()


def test_registered_by_entry_point(notify: NotifyServer) -> None:
    made = build_adapter(
        "govuk-notify",
        {"api_key": "$env:TEST_NOTIFY_KEY", "templates": {"shared": {"email": "t-1"}}},
    )
    assert isinstance(made, NotifyAdapter)
    assert notify.secret not in str(made.describe())


def test_each_channel_sends_with_its_template_and_personalisation(
    adapter: NotifyAdapter, notify: NotifyServer
) -> None:
    shares = [feedback("e", EMAIL_TO), feedback("s", SMS_TO), feedback("l", LETTER_TO)]
    results = adapter.deliver(shares)
    assert all(r.ok for r in results), [r.message for r in results]
    by_type = {n["type"]: n for n in notify.notifications}
    assert by_type["email"]["email_address"] == "sam@example.invalid"
    assert by_type["email"]["body"].startswith("Dear Sam Example,")
    assert "Exampleshire Safeguarding Adults Board" in by_type["email"]["body"]
    assert by_type["sms"]["phone_number"] == "07700 900123"
    letter = by_type["letter"]["personalisation"]
    assert letter["address_line_1"] == "1 Fictional Row"
    assert letter["address_line_4"] == "ZZ99 9ZZ"
    assert [n["reference"] for n in notify.notifications] == [s.idempotency_key for s in shares]
    assert [r.remote_id for r in results] == [n["id"] for n in notify.notifications]


def test_reference_never_looks_like_personal_data(
    adapter: NotifyAdapter, notify: NotifyServer
) -> None:
    """A production key with a run of nine digits was refused by Notify; its reference is sent."""
    key = "coprolib-3f1e2d4c5b6a7980123456789abcdef0123456789"
    share = attrs.evolve(feedback("p1", EMAIL_TO), idempotency_key=key)
    other = feedback("p2", SMS_TO)
    results = adapter.deliver([share, other])
    assert all(r.ok for r in results), [r.message for r in results]
    assert results[0].idempotency_key == key
    references = notify.references()
    assert references[0] == "coprolib-3f1e2d4c5b6a79801234_56789abcdef01234567_89"
    assert [key_for(r) for r in references] == [key, other.idempotency_key]
    for reference in references:
        assert not PERSONAL_LOOKING.search(reference)
        assert "07700" not in reference
    again = adapter.deliver([share])[0]
    assert again.ok and again.message == "already sent (found by reference)"
    assert len(notify.notifications) == 2


def test_the_stand_in_refuses_a_reference_that_looks_like_personal_data(
    adapter: NotifyAdapter, notify: NotifyServer
) -> None:
    """What the adapter used to send (the key itself) is refused, as Notify refused it."""
    template = adapter.config.templates["shared"].email
    for reference in ("coprolib-a123456789b", "sam@example.invalid", "call 07700 900123"):
        with pytest.raises(Exception, match="personal information") as caught:
            adapter.client.send_email_notification(
                email_address="sam@example.invalid",
                template_id=template,
                personalisation={"name": "Sam", "title": "t", "message": "m", "board": "b"},
                reference=reference,
            )
        assert caught.value.status_code == 400  # type: ignore[attr-defined]
    assert notify.notifications == []


@given(st.text())
def test_reference_round_trips_and_never_looks_personal(key: str) -> None:
    reference = reference_for(key)
    assert key_for(reference) == key
    assert not PERSONAL_LOOKING.search(reference)


def test_easy_read_template_is_used_when_needed(
    adapter: NotifyAdapter, notify: NotifyServer
) -> None:
    adapter.deliver([feedback("er", EASY_READ_TO), feedback("std", EMAIL_TO)])
    bodies = [n["body"] for n in notify.notifications]
    assert bodies[0].startswith("Easy Read: ") and not bodies[1].startswith("Easy Read")


def test_retry_after_a_lost_reply_does_not_send_twice(
    notify: NotifyServer, http: FaultServer
) -> None:
    """The POST reaches Notify but its reply is lost (the client times out first): the retry
    finds the notification by reference and sends nothing."""
    share = feedback("lost")
    original = http.app
    http.slow_seconds = 0.6

    def slow_next_post(request: Any) -> Any:
        if request.method == "GET":
            http.force("slow")
        return original(request)

    http.app = slow_next_post
    with make_adapter(http.url, notify, timeout=0.3) as adapter:
        first = adapter.deliver([share])[0]
        http.app = original
        time.sleep(0.6)
        second = adapter.deliver([share])[0]
    assert first.status is Status.RETRYABLE, first.message
    assert second.ok and second.message == "already sent (found by reference)"
    assert Counter(notify.references())[share.idempotency_key] == 1
    assert second.remote_id == notify.notifications[0]["id"]
    assert notify.requests["POST /v2/notifications/email"] == 1


def test_cannot_retract_and_says_what_a_person_must_do(
    adapter: NotifyAdapter, notify: NotifyServer
) -> None:
    delivered = adapter.deliver([feedback("r1", EMAIL_TO), feedback("r2", LETTER_TO)])
    refs = [
        RetractRef(share_id=r.share_id, idempotency_key=r.idempotency_key, remote_id=r.remote_id)
        for r in delivered
    ]
    email, letter = adapter.retract(refs)
    assert email.ok and not email.retracted and "cannot recall" in (email.compensating_action or "")
    assert "withdrawal_confirmed" in (email.compensating_action or "")
    assert letter.ok and "Cancel sending this letter" in (letter.compensating_action or "")
    assert len(notify.notifications) == 2, "nothing new was sent"


def test_clock_out_by_more_than_30_seconds_is_a_clear_error(
    http: FaultServer, notify: NotifyServer
) -> None:
    notify.clock = lambda: time.time() + 45
    with make_adapter(http.url, notify) as adapter:
        result = adapter.deliver([feedback("clock")])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH
    assert result.message == CLOCK_MESSAGE and "fix the system clock" in CLOCK_MESSAGE
    assert not checked.ok and "clock" in checked.message
    assert notify.auth_failures and set(notify.auth_failures) == {"iat"}


def test_wrong_key_is_auth(http: FaultServer, notify: NotifyServer, monkeypatch: Any) -> None:
    other = NotifyServer(service_id=notify.service_id)
    monkeypatch.setenv("OTHER_KEY", other.api_key)
    with make_adapter(http.url, notify, api_key="$env:OTHER_KEY") as adapter:
        result = adapter.deliver([feedback("k")])[0]
    assert result.status is Status.AUTH and other.secret not in (result.message or "")


def test_rate_limit_and_daily_limit_are_throttled(
    http: FaultServer, notify: NotifyServer, adapter: NotifyAdapter
) -> None:
    notify.throttle(1)
    limited = adapter.deliver([feedback("rl")])[0]
    assert limited.status is Status.THROTTLED and limited.retry_after == 60
    notify.daily_limit = 1
    results = adapter.deliver([feedback("d1"), feedback("d2")])
    assert results[0].ok
    assert results[1].status is Status.THROTTLED
    assert "daily sending limit" in (results[1].message or "")
    assert (results[1].retry_after or 0) >= 60


def test_daily_limit_waits_until_london_midnight() -> None:
    winter = dt.datetime(2026, 1, 10, 23, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 10, 22, 0, tzinfo=dt.UTC)
    assert seconds_to_midnight(winter) == 3600
    assert seconds_to_midnight(summer) == 3600


def test_team_only_key_and_bad_template_are_permanent_with_advice(
    http: FaultServer, notify: NotifyServer, adapter: NotifyAdapter
) -> None:
    notify.team_only = {"someone-else@example.invalid"}
    result = adapter.deliver([feedback("team")])[0]
    assert result.status is Status.PERMANENT and "live key" in (result.message or "")
    notify.team_only = None
    with make_adapter(http.url, notify, templates={"shared": {"email": "missing"}}) as broken:
        bad = broken.deliver([feedback("tmpl")])[0]
        checked = broken.check()
    assert bad.status is Status.PERMANENT and "Template not found" in (bad.message or "")
    assert not checked.ok and "does not exist" in checked.message


def test_check_catches_a_template_of_the_wrong_type(
    http: FaultServer, notify: NotifyServer
) -> None:
    sms = notify.add_template("sms", "hi ((name))")
    with make_adapter(http.url, notify, templates={"shared": {"email": sms}}) as adapter:
        checked = adapter.check()
    assert not checked.ok and "sms template" in checked.message


def test_shares_notify_cannot_send_are_permanent(adapter: NotifyAdapter) -> None:
    insight = canonical_shares()[0]
    phone = attrs.evolve(feedback("ph"), channel=FeedbackChannel.PHONE)
    no_address = feedback("na", Recipient(name="No Email"))
    results = adapter.deliver([insight, phone, no_address])
    assert [r.status for r in results] == [Status.PERMANENT] * 3
    assert "feedback shares only" in (results[0].message or "")
    assert "a person must contact them" in (results[1].message or "")


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="templates"):
        NotifyAdapter({"api_key": "$env:TEST_NOTIFY_KEY", "templates": {"sharde": {}}})
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        NotifyAdapter({"api_key": "$env:NOT_SET_ANYWHERE", "templates": {"shared": {}}})


def test_address_lines() -> None:
    assert address_lines("a, b, c") == {
        "address_line_1": "a",
        "address_line_2": "b",
        "address_line_3": "c",
    }
    many = address_lines(",".join(f"l{i}" for i in range(9)))
    assert len(many) == 7 and many["address_line_7"] == "l8"
