"""Fixtures: a GOV.UK Notify API subset on 127.0.0.1 that verifies the client's JWTs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from coprolib_notify import NotifyAdapter
from coprolib_notify.server import NotifyServer

from coprolib.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.records import Recipient, Share
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import make_share

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
