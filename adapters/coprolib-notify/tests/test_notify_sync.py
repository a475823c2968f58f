"""End to end with the engine: feedback shares in the outbox are synced to the local Notify
service; after the contributor withdraws, ``plan`` + ``sync`` record the compensating action for
a person (Notify cannot recall a message) and nothing more is sent."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from coprolib_notify.server import NotifyServer

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records import Recipient
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import CONTRIBUTOR_ID, STORY_ID, outbox_shares, plan_into, seed_consent


def test_withdrawal_records_the_compensating_action(
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
            'adapter = "govuk-notify"\naudience = "board"\npurposes = ["board_reporting"]\n'
            "[destinations.contributors.settings]\n"
            f'api_key = "$env:E2E_NOTIFY_KEY"\nbase_url = "{http.url}"\n'
            f'templates = {{ shared = {{ email = "{template}" }} }}\n',
            encoding="utf-8",
        )
        config = parse_config(path.read_text(encoding="utf-8"), str(path))
        to = Recipient(name="Sam Example", email="sam@example.invalid")
        shares = [
            attrs.evolve(
                s,
                kind=ShareKind.FEEDBACK,
                channel=FeedbackChannel.EMAIL,
                feedback_kind=FeedbackKind.SHARED,
                recipient=to,
            )
            for s in outbox_shares(2, "contributors", prefix="fb")
        ]
        with open_ledger(config.ledger, actor="test") as ledger:
            seed_consent(ledger)
            plan_into(ledger, shares)
            first = sync(ledger, config)
            assert first.ok and first.delivered == 2, first
            assert sorted(notify.references()) == sorted(s.idempotency_key for s in shares)
            assert sync(ledger, config).delivered == 0

            withdraw(ledger, CONTRIBUTOR_ID, STORY_ID, reason="changed my mind")
            plan(ledger, config, stories=[STORY_ID])
            for share in shares:
                if ledger.get_share(share.id)[1] is not ShareStatus.RETRACT_PLANNED:
                    # The planner retracts shares it planned from insights; these feedback
                    # shares were put in the outbox directly, so queue their retraction here.
                    ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
                    ledger.enqueue_job("retract", "contributors", share.id, share.idempotency_key)
            after = sync(ledger, config)
            assert after.ok and after.retracted == 2
            assert [c.share_id for c in after.compensations] == [s.id for s in shares]
            assert all("cannot recall" in c.action for c in after.compensations)
            for share in shares:
                assert ledger.get_share(share.id)[1] is ShareStatus.RETRACTED
        assert len(notify.notifications) == 2, "nothing more was sent"
