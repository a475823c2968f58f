"""End to end with the engine: feedback owed to a contributor is planned, sent through the local
Notify service and recorded sent; a feedback share that answers no obligation is refused at the
send boundary; a retraction records the compensating action for a person (Notify cannot recall
a message) and nothing more is sent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest
from coprolib_notify.testing import NotifyServer

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.feedback.owed import plan_feedback
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.records import ContactDetails, Contributor, Feedback
from coprolib.records.enums import FeedbackChannel, FeedbackKind, FeedbackStatus
from coprolib.testing.fault_server import FaultServer


def test_feedback_is_sent_once_forgeries_refused_and_retraction_compensated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify = NotifyServer()
    template = notify.add_template("email", "Dear ((name)), ((message))", subject="((title))")
    monkeypatch.setenv("E2E_NOTIFY_KEY", notify.api_key)
    with FaultServer(notify.app) as http:
        path = tmp_path / "coprolib.toml"
        path.write_text(
            f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
            "[destinations.contributors]\n"
            'adapter = "govuk-notify"\ncarries = "feedback"\nchannels = ["email"]\n'
            "[destinations.contributors.settings]\n"
            f'api_key = "$env:E2E_NOTIFY_KEY"\nbase_url = "{http.url}"\n'
            f'templates = {{ scheduled = {{ email = "{template}" }} }}\n',
            encoding="utf-8",
        )
        config = parse_config(path.read_text(encoding="utf-8"), str(path))
        now = dt.datetime.now(dt.UTC)
        person = Contributor(
            id="p-fictional-7",
            display_name="Sam Example",
            contact=ContactDetails(email="sam@example.invalid"),
        )
        owed = [
            Feedback(
                id=f"fb-{n:016x}",
                contributor_id=person.id,
                kind=FeedbackKind.SCHEDULED,
                channel=FeedbackChannel.EMAIL,
                due=now.date(),
                message=f"On {n} March your story will be shared with the board.",
                created_at=now,
            )
            for n in (2, 3)  # fb-...3 makes a key with nine digits in a row
        ]
        with open_ledger(config.ledger, actor="test") as ledger:
            ledger.add([person, *owed])
            planned = plan_feedback(ledger, config, now).deliver
            assert len(planned) == 2
            # A feedback share written by hand to someone else answers no obligation.
            forged = attrs.evolve(
                planned[0],
                id="sh-forged000000000000",
                subject_id="fb-not-recorded",
                idempotency_key="coprolib-" + "f" * 40,
            )
            ledger.put_share(forged)
            ledger.enqueue_job("deliver", "contributors", forged.id, forged.idempotency_key)

            first = sync(ledger, config)
            assert first.delivered == 2 and first.cancelled == 1, first
            assert len(notify.notifications) == 2
            assert {ledger.get(Feedback, f.id).status for f in owed} == {FeedbackStatus.SENT}
            assert sync(ledger, config).delivered == 0

            for share in planned:
                ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
                ledger.enqueue_job("retract", "contributors", share.id, share.idempotency_key)
            after = sync(ledger, config)
            assert after.ok and after.retracted == 2
            assert sorted(c.share_id for c in after.compensations) == sorted(s.id for s in planned)
            assert all("cannot recall" in c.action for c in after.compensations)
            for share in planned:
                assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
        assert len(notify.notifications) == 2, "nothing more was sent"
