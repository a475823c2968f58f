"""Fixtures: real aiosmtpd servers on 127.0.0.1 (plain, STARTTLS, implicit TLS) and a
self-signed certificate made at test time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from coprolib_email import EmailAdapter
from coprolib_email.server import Mailbox, self_signed_cert, smtp_server

from coprolib.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.records import Recipient, Share
from coprolib.testing.shares import make_share

USER = "coprolib-relay"
PASSWORD = "fictional-smtp-password-5e1b"
TO = Recipient(name="Sam Example", email="sam@example.invalid")
EASY = Recipient(name="Jo Sample", email="jo@example.invalid", easy_read=True)


def feedback(share_id: str, recipient: Recipient = TO, **fields: Any) -> Share:
    """An email feedback share to ``recipient``."""
    base = make_share(share_id, kind=ShareKind.FEEDBACK, recipient=recipient, **fields)
    return attrs.evolve(base, channel=FeedbackChannel.EMAIL, feedback_kind=FeedbackKind.SHARED)


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def starttls_port(mailbox: Mailbox, cert: tuple[Path, Path]) -> Iterator[int]:
    with smtp_server(mailbox, security="starttls", cert=cert, credentials={USER: PASSWORD}) as port:
        yield port


@pytest.fixture
def plain_port(mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(mailbox) as port:
        yield port


def make_adapter(port: int, **settings: Any) -> EmailAdapter:
    """An adapter for 127.0.0.1:``port`` (settings override the plain defaults)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "feedback@sab.example.invalid",
        "from_name": "Exampleshire Safeguarding Adults Board",
        "organisation": "Exampleshire Safeguarding Adults Board",
        "timeout": 5.0,
    }
    values.update(settings)
    return EmailAdapter(values, destination="test")
