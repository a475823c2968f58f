"""coprolib-email against real aiosmtpd servers on 127.0.0.1: STARTTLS with login, implicit TLS,
a server that refuses a recipient and one that drops the connection."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from coprolib_email import EmailAdapter
from coprolib_email.adapter import EXCHANGE_SCOPE, classify_smtp
from coprolib_email.message import KEY_HEADER, message_id
from coprolib_email.testing import (
    Mailbox,
    OAuthMailbox,
    free_port,
    self_signed_cert,
    smtp_server,
)
from coprolib_entra.testing import LocalEntra

from coprolib.adapters import ConfigError, RetractRef, Status, build_adapter
from coprolib.records import Recipient, Share
from coprolib.records.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.shares import canonical_shares, make_share

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


class TestEmailConformance(AdapterConformance):
    """The standard suite over STARTTLS with login; the mailbox keeps one copy per Message-ID,
    as mailbox providers do."""

    @pytest.fixture
    def adapter(
        self,
        mailbox: Mailbox,
        starttls_port: int,
        cert: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[EmailAdapter]:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
        self.mailbox = mailbox
        made = make_adapter(
            starttls_port,
            security="starttls",
            ca_file=str(cert[0]),
            username=USER,
            password="$env:TEST_SMTP_PASSWORD",
        )
        yield made
        made.close()

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.mailbox.keys()

    def shares(self) -> list[Share]:
        return [
            feedback(s.id, EASY if i % 2 else TO, title=s.title, body=s.body)
            for i, s in enumerate(canonical_shares(self.destination))
        ]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return feedback(share_id, **fields)


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    made = build_adapter(
        "email",
        {
            "host": "smtp.council.example",
            "from_address": "feedback@council.example",
            "username": "u",
            "password": "$env:SMTP_PW",
        },
    )
    assert isinstance(made, EmailAdapter) and made.config.effective_port == 587
    assert PASSWORD not in str(made.describe())


def test_starttls_login_and_both_alternatives(
    mailbox: Mailbox, starttls_port: int, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", PASSWORD)
    share = canonical_shares()[-1]  # the canonical feedback share (Easy Read recipient)
    with make_adapter(
        starttls_port,
        security="starttls",
        ca_file=str(cert[0]),
        username=USER,
        password="$env:PW",
    ) as adapter:
        result = adapter.deliver([share])[0]
    assert result.ok, result.message
    assert mailbox.logins == [USER]
    [msg] = mailbox.messages.values()
    assert (
        msg["Message-ID"].strip()
        == result.remote_id
        == message_id(share.idempotency_key, "sab.example.invalid")
    )
    assert msg[KEY_HEADER] == share.idempotency_key
    assert msg["Subject"] == share.title
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    text, markup = plain.get_content(), rich.get_content()
    assert text.startswith("Dear Sam Example,")
    assert "Thank you for sharing your story" in text, "Easy Read wording"
    assert "font-size: 20px" in markup and "<h1" in markup


def test_easy_read_only_when_needed(mailbox: Mailbox, plain_port: int) -> None:
    with make_adapter(plain_port) as adapter:
        adapter.deliver(
            [feedback("std", TO, body="One. Two."), feedback("er", EASY, body="One. Two.")]
        )
    by_key = {m[KEY_HEADER]: m for m in mailbox.messages.values()}
    std = by_key["test:std"].get_body(preferencelist=("plain",)).get_content()
    easy = by_key["test:er"].get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert "One. Two." in std
    assert "One.\n\nTwo." in easy


def test_implicit_tls(mailbox: Mailbox, cert: tuple[Path, Path]) -> None:
    with (
        smtp_server(mailbox, security="tls", cert=cert) as port,
        make_adapter(port, security="tls", ca_file=str(cert[0])) as adapter,
    ):
        assert adapter.check().ok
        assert adapter.deliver([feedback("tls")])[0].ok
    assert mailbox.keys() == ["test:tls"]


def test_untrusted_certificate_is_refused_not_ignored(
    mailbox: Mailbox, cert: tuple[Path, Path], tmp_path: Path
) -> None:
    stranger, _ = self_signed_cert(tmp_path)
    with smtp_server(mailbox, security="tls", cert=cert) as port:
        for ca_file in (None, str(stranger)):
            with make_adapter(port, security="tls", ca_file=ca_file) as adapter:
                result = adapter.deliver([feedback("untrusted")])[0]
                checked = adapter.check()
            assert result.status is Status.PERMANENT
            assert "certificate is not trusted" in (result.message or "")
            assert not checked.ok and "ca_file" in checked.message
    assert mailbox.messages == {}


def test_refused_recipient_is_permanent_and_others_still_go(
    mailbox: Mailbox, plain_port: int
) -> None:
    mailbox.refuse.add("gone@example.invalid")
    gone = feedback("gone", Recipient(name="Gone", email="gone@example.invalid"))
    with make_adapter(plain_port) as adapter:
        results = adapter.deliver([feedback("a"), gone, feedback("b")])
    assert [r.status for r in results] == [Status.OK, Status.PERMANENT, Status.OK]
    assert "refused the recipient address (550" in (results[1].message or "")
    assert "gone@example.invalid" not in (results[1].message or ""), "no address in the ledger"
    assert sorted(mailbox.keys()) == ["test:a", "test:b"]


def test_deferred_recipient_is_retryable(mailbox: Mailbox, plain_port: int) -> None:
    mailbox.defer.add(TO.email or "")
    with make_adapter(plain_port) as adapter:
        result = adapter.deliver([feedback("later")])[0]
    assert result.status is Status.RETRYABLE and "451" in (result.message or "")


def test_dropped_connection_is_retryable_then_recovers(mailbox: Mailbox, plain_port: int) -> None:
    mailbox.drop_next = 1
    with make_adapter(plain_port) as adapter:
        results = adapter.deliver([feedback("dropped"), feedback("after")])
        retry = adapter.deliver([feedback("dropped")])
    assert results[0].status is Status.RETRYABLE
    assert results[1].ok, "a new connection is opened after the drop"
    assert retry[0].ok
    assert sorted(mailbox.keys()) == ["test:after", "test:dropped"]


def test_a_retry_carries_the_same_message_id(mailbox: Mailbox, plain_port: int) -> None:
    with make_adapter(plain_port) as adapter:
        first = adapter.deliver([feedback("twice")])[0]
        second = adapter.deliver([feedback("twice")])[0]
    assert first.remote_id == second.remote_id
    assert mailbox.transactions == 2 and mailbox.duplicates == 1
    assert mailbox.keys() == ["test:twice"]


def test_wrong_password_is_auth(
    mailbox: Mailbox, starttls_port: int, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", "not-the-password")
    with make_adapter(
        starttls_port, security="starttls", ca_file=str(cert[0]), username=USER, password="$env:PW"
    ) as adapter:
        result = adapter.deliver([feedback("x")])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH and "not-the-password" not in (result.message or "")
    assert not checked.ok and checked.status is Status.AUTH


def test_nothing_listening_is_retryable() -> None:
    with make_adapter(free_port()) as adapter:
        result = adapter.deliver([feedback("nobody")])[0]
        checked = adapter.check()
    assert result.status is Status.RETRYABLE
    assert not checked.ok and "connection refused" in checked.message


def test_cannot_retract_and_records_what_to_do(plain_port: int) -> None:
    with make_adapter(plain_port) as adapter:
        sent = adapter.deliver([feedback("r")])[0]
        [done] = adapter.retract(
            [
                RetractRef(
                    share_id="r", idempotency_key=sent.idempotency_key, remote_id=sent.remote_id
                )
            ]
        )
    assert done.ok and not done.retracted
    assert sent.remote_id and sent.remote_id in (done.compensating_action or "")


def test_shares_email_cannot_carry_are_permanent(plain_port: int) -> None:
    with make_adapter(plain_port) as adapter:
        results = adapter.deliver([canonical_shares()[0], feedback("x", Recipient(name="No"))])
    assert [r.status for r in results] == [Status.PERMANENT, Status.PERMANENT]


def test_line_breaks_in_a_title_or_name_make_one_header_line_not_a_retry(
    mailbox: Mailbox, plain_port: int
) -> None:
    # A title typed over two lines, and one trying to add a header: neither may split the
    # header, and neither is worth retrying (the same share builds the same message).
    broken = Recipient(name="Sam\r\nExample", email="sam@example.invalid")
    shares = [
        feedback("a", title="What changed\nafter your story"),
        feedback("b", broken, title="Update\r\nBcc: someone@example.invalid"),
    ]
    with make_adapter(plain_port) as adapter:
        results = adapter.deliver(shares)
    assert [r.status for r in results] == [Status.OK, Status.OK], [r.message for r in results]
    subjects = sorted(str(m["Subject"]) for m in mailbox.messages.values())
    assert subjects == ["Update Bcc: someone@example.invalid", "What changed after your story"]
    assert all(m["Bcc"] is None for m in mailbox.messages.values())
    [to_sam] = [m for m in mailbox.messages.values() if str(m["Subject"]).startswith("Update")]
    assert str(to_sam["To"]) == "Sam Example <sam@example.invalid>"


def test_a_message_that_cannot_be_built_is_permanent(plain_port: int) -> None:
    bad = Recipient(name="Sam Example", email="sam@exa mple.invalid")
    with make_adapter(plain_port) as adapter:
        [result] = adapter.deliver([feedback("c", bad)])
    assert result.status is Status.PERMANENT
    assert "exa mple" not in (result.message or "")


def test_clear_text_only_to_a_local_relay() -> None:
    with pytest.raises(ConfigError, match="only for a relay on this machine"):
        EmailAdapter(
            {"host": "smtp.council.example", "security": "none", "from_address": "a@b.example"}
        )


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (smtplib.SMTPResponseException(421, b"Too many connections"), Status.THROTTLED),
        (smtplib.SMTPDataError(552, b"Message too big"), Status.PERMANENT),
        (smtplib.SMTPDataError(451, b"try later"), Status.RETRYABLE),
        (smtplib.SMTPSenderRefused(553, b"not permitted", "a@b"), Status.PERMANENT),
        (TimeoutError(), Status.RETRYABLE),
    ],
)
def test_smtp_replies_are_classified(exc: BaseException, status: Status) -> None:
    assert classify_smtp(exc).status is status


# --- OAuth 2.0 (SMTP AUTH XOAUTH2) as Exchange Online asks: a server that takes only XOAUTH2 and
# checks each token with a local Entra ID (HTTPS on 127.0.0.1) that issued it for Exchange
# Online's scope.

CLIENT_ID = "5d7f0c2e-8a41-4b9e-9a53-0f6c1e2d3b4a"
CLIENT_SECRET = "fictional-entra-secret~Q8v.Jm2"
MAILBOX = "feedback@sab.example.invalid"


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntra]:
    with LocalEntra(Path(tmp_path_factory.mktemp("entra"))) as started:
        started.register(CLIENT_ID, CLIENT_SECRET)
        yield started


@pytest.fixture
def exchange(entra: LocalEntra) -> OAuthMailbox:
    """Takes a token Entra issued for Exchange Online, for the one mailbox that may send."""
    return OAuthMailbox(lambda user, token: user == MAILBOX and entra.valid(token, EXCHANGE_SCOPE))


@pytest.fixture
def port(exchange: OAuthMailbox, cert: tuple[Path, Path]) -> Iterator[int]:
    with smtp_server(exchange, security="starttls", cert=cert) as started:
        yield started


def oauth_adapter(
    port: int, cert: tuple[Path, Path], entra: LocalEntra, **oauth: Any
) -> EmailAdapter:
    settings = {
        "tenant_id": entra.tenant_id,
        "client_id": CLIENT_ID,
        "client_secret": "$env:SMTP_CLIENT_SECRET",
        "authority_host": entra.authority_host,
        "instance_discovery": False,
        "http": {"ca_bundle": str(entra.ca_path)},
        **oauth,
    }
    return make_adapter(
        port, security="starttls", ca_file=str(cert[0]), username=MAILBOX, oauth=settings
    )


@pytest.fixture
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_CLIENT_SECRET", CLIENT_SECRET)


@pytest.mark.usefixtures("_secret")
class TestEmailOAuthConformance(AdapterConformance):
    """The standard suite, signed in with XOAUTH2."""

    @pytest.fixture
    def adapter(
        self, exchange: OAuthMailbox, port: int, cert: tuple[Path, Path], entra: LocalEntra
    ) -> Iterator[EmailAdapter]:
        self.mailbox = exchange
        made = oauth_adapter(port, cert, entra)
        yield made
        made.close()
        assert exchange.refused_tokens == 0

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.mailbox.keys()

    def shares(self) -> list[Share]:
        return [
            feedback(s.id, EASY if i % 2 else TO, title=s.title, body=s.body)
            for i, s in enumerate(canonical_shares(self.destination))
        ]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return feedback(share_id, **fields)


@pytest.mark.usefixtures("_secret")
def test_sends_with_a_token_and_never_a_password(
    exchange: OAuthMailbox, port: int, cert: tuple[Path, Path], entra: LocalEntra
) -> None:
    with oauth_adapter(port, cert, entra) as adapter:
        checked = adapter.check()
        result = adapter.deliver([feedback("oauth-1")])[0]
    assert checked.ok and "OAuth token" in checked.message
    assert result.ok, result.message
    assert exchange.logins == [MAILBOX, MAILBOX] and exchange.refused_tokens == 0
    assert CLIENT_SECRET not in repr(adapter.describe())


def test_a_password_is_refused_where_basic_auth_is_off(
    port: int, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", "a-password-exchange-no-longer-takes")
    with make_adapter(
        port, security="starttls", ca_file=str(cert[0]), username=MAILBOX, password="$env:PW"
    ) as adapter:
        result = adapter.deliver([feedback("basic")])[0]
    assert result.status is Status.AUTH, result.message


@pytest.mark.usefixtures("_secret")
def test_a_revoked_token_is_fetched_again_once(
    exchange: OAuthMailbox, port: int, cert: tuple[Path, Path], entra: LocalEntra
) -> None:
    with oauth_adapter(port, cert, entra) as adapter:
        assert adapter.deliver([feedback("before")])[0].ok
        adapter.close()  # the next share opens a new connection and signs in again
        entra.revoke_all()
        after = adapter.deliver([feedback("after")])[0]
    assert after.ok, after.message
    assert exchange.refused_tokens == 1 and exchange.logins == [MAILBOX, MAILBOX]


@pytest.mark.usefixtures("_secret")
def test_a_token_for_the_wrong_resource_is_auth_with_advice(
    exchange: OAuthMailbox, port: int, cert: tuple[Path, Path], entra: LocalEntra
) -> None:
    with oauth_adapter(port, cert, entra, scope="https://graph.microsoft.com/.default") as adapter:
        result = adapter.deliver([feedback("wrong-scope")])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH and "SMTP.SendAsApp" in (result.message or "")
    assert not checked.ok and checked.status is Status.AUTH
    assert exchange.messages == {}
    assert CLIENT_SECRET not in (result.message or "") + checked.message


@pytest.mark.usefixtures("_secret")
def test_a_wrong_client_secret_is_auth(
    port: int, cert: tuple[Path, Path], entra: LocalEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_CLIENT_SECRET", "not-the-secret")
    with oauth_adapter(port, cert, entra) as adapter:
        result = adapter.deliver([feedback("bad-secret")])[0]
    assert result.status is Status.AUTH and "not-the-secret" not in (result.message or "")


@pytest.mark.usefixtures("_secret")
def test_oauth_settings_are_checked() -> None:
    base = {"host": "smtp.office365.com", "from_address": MAILBOX}
    oauth = {"tenant_id": "t", "client_id": "c", "client_secret": "$env:SMTP_CLIENT_SECRET"}
    with pytest.raises(ConfigError, match="username"):
        EmailAdapter({**base, "oauth": oauth})
    with pytest.raises(ConfigError, match="no password"):
        EmailAdapter(
            {**base, "oauth": oauth, "username": MAILBOX, "password": "$env:SMTP_CLIENT_SECRET"}
        )
    made = EmailAdapter({**base, "oauth": oauth, "username": MAILBOX})
    assert made.config.oauth is not None and made.config.oauth.scope == EXCHANGE_SCOPE
