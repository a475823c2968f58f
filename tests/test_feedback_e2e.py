"""End to end, through the command line: ``coprolib plan`` turns owed feedback into shares for a
feedback destination, ``coprolib sync`` sends them with the real email adapter to a real aiosmtpd
server on 127.0.0.1, the feedback is marked sent, and planning and syncing again sends nothing
more. A contributor who withdrew hears only that their withdrawal was recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("aiosmtpd")
pytest.importorskip("coprolib_email")

from coprolib_email.testing import KEY_HEADER, Mailbox, smtp_server

from coprolib.cli import build_cli
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import withdraw
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
    StorySource,
)

GIVEN = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)


def _seed(url: str) -> None:
    terms = ConsentTerms(
        purposes=(Purpose.BOARD_REPORTING,),
        audiences=(Audience.BOARD,),
        identity_level=IdentityLevel.ANONYMOUS,
    )
    records: list[Any] = []
    for pid, email in (("robin", "robin@example.invalid"), ("kit", "kit@example.invalid")):
        records += [
            Contributor(
                id=pid,
                display_name=f"{pid.title()} Fictional",
                contact=ContactDetails(email=email, phone="07700 900999"),
                feedback_channel=FeedbackChannel.EMAIL,
                accessibility=Accessibility(easy_read=pid == "kit"),
            ),
            Story(
                id=f"s-{pid}",
                contributor_ids=(pid,),
                text="A fictional account: the respite booking was lost twice.",
                source=StorySource.WORKSHOP,
                collected_on=GIVEN.date(),
            ),
            Consent(
                id=f"c-{pid}",
                contributor_id=pid,
                story_ids=(f"s-{pid}",),
                events=(ConsentEvent(type=ConsentEventType.GIVEN, at=GIVEN, terms=terms),),
            ),
            Feedback(
                id=f"fb-{pid}",
                contributor_id=pid,
                kind=FeedbackKind.CHANGE_UPDATE,
                channel=FeedbackChannel.EMAIL,
                story_ids=(f"s-{pid}",),
                due=dt.date(2026, 12, 20),
                message=f"Fictional news for {pid}: respite bookings are now confirmed by text.",
            ),
        ]
    with open_ledger(url, actor="test") as ledger:
        ledger.add(records)
        # Kit withdraws: their change update must not go, the confirmation must.
        withdraw(ledger, "kit", "s-kit", reason="fictional: no longer wishes to take part")


def test_plan_then_sync_sends_feedback_by_email_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("COPROLIB_LEDGER", "COPROLIB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _seed(url)
    mailbox = Mailbox()
    cli = build_cli()

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    with smtp_server(mailbox) as port:
        (tmp_path / "coprolib.toml").write_text(
            f'ledger = "{url}"\n'
            "[destinations.contributors-email]\n"
            'adapter = "email"\ncarries = "feedback"\nchannels = ["email"]\n'
            "[destinations.contributors-email.settings]\n"
            f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5.0\n'
            'from_address = "feedback@sab.example.invalid"\n'
            'organisation = "Exampleshire Safeguarding Adults Board"\n',
            encoding="utf-8",
        )
        planned = invoke("plan")
        assert "2 feedback message(s) to send" in planned, planned
        assert "waiting   fb-kit: contributor kit withdrew consent for story s-kit" in planned
        synced = invoke("sync")
        assert "delivered 2" in synced, synced

        messages = list(mailbox.messages.values())
        assert sorted(str(m["To"]) for m in messages) == [
            "Kit Fictional <kit@example.invalid>",
            "Robin Fictional <robin@example.invalid>",
        ]
        by_to = {str(m["To"]).split("<")[1].rstrip(">"): m for m in messages}
        robin = by_to["robin@example.invalid"].get_body(preferencelist=("plain",))
        assert robin is not None
        assert "respite bookings are now confirmed by text" in robin.get_content()
        kit = by_to["kit@example.invalid"].get_body(preferencelist=("plain",))
        assert kit is not None
        assert "no longer want story s-kit used" in kit.get_content()
        assert "respite" not in kit.get_content()
        assert "07700" not in str(messages)  # only what email needs left the ledger

        with open_ledger(url, actor="test") as ledger:
            sent = ledger.get(Feedback, "fb-robin")
            assert sent.status is FeedbackStatus.SENT
            (receipt,) = ledger.receipts_for(
                next(r.share.id for r in ledger.list_shares() if r.share.subject_id == "fb-robin")
            )
            assert sent.sent_on == receipt.at.date()
            assert ledger.get(Feedback, "fb-kit").status is FeedbackStatus.OWED
            confirmations = [
                f for f in ledger.list(Feedback) if f.kind is FeedbackKind.WITHDRAWAL_CONFIRMED
            ]
            assert [f.status for f in confirmations] == [FeedbackStatus.SENT]
            assert {r.status for r in ledger.list_shares()} == {ShareStatus.DELIVERED}
            keys = sorted(r.share.idempotency_key for r in ledger.list_shares())
        assert sorted(mailbox.keys()) == keys == sorted(str(m[KEY_HEADER]) for m in messages)

        again = invoke("plan")
        assert "feedback message(s) to send" not in again, again
        assert "delivered 0" in invoke("sync")
    assert mailbox.transactions == 2, "nothing more was sent"
