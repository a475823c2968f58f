"""End to end with the engine: email feedback in the outbox is sent through the local Graph;
after the contributor withdraws, ``plan`` + ``sync`` record the compensating action for a person
(an email cannot be recalled) and nothing more is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from coprolib_graphmail.testing import LocalGraphMail, RolesEntra

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records import Recipient
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import CONTRIBUTOR_ID, STORY_ID, outbox_shares, plan_into, seed_consent


def test_feedback_is_sent_and_withdrawal_compensated(
    graph: tuple[LocalGraphMail, FaultServer],
    entra: RolesEntra,
    settings_for: Callable[..., dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local, server = graph
    settings = settings_for(server.url)
    monkeypatch.setenv("E2E_GRAPH_MAIL_SECRET", settings["client_secret"].reveal())
    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
        "[destinations.contributors]\n"
        'adapter = "graph-mail"\naudience = "board"\npurposes = ["board_reporting"]\n'
        "[destinations.contributors.settings]\n"
        f'tenant_id = "{settings["tenant_id"]}"\nclient_id = "{settings["client_id"]}"\n'
        'client_secret = "$env:E2E_GRAPH_MAIL_SECRET"\n'
        f'mailbox = "{settings["mailbox"]}"\ngraph_url = "{settings["graph_url"]}"\n'
        f'authority_host = "{entra.authority_host}"\ninstance_discovery = false\n'
        f'http = {{ ca_bundle = "{entra.ca_path}" }}\n',
        encoding="utf-8",
    )
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    to = Recipient(name="Sam Example", email="sam.example@example.invalid")
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
        assert sorted(local.keys()) == sorted(s.idempotency_key for s in shares)
        assert sync(ledger, config).delivered == 0

        withdraw(ledger, CONTRIBUTOR_ID, STORY_ID, reason="changed my mind")
        plan(ledger, config, stories=[STORY_ID])
        for share in shares:
            if ledger.get_share(share.id)[1] is not ShareStatus.RETRACT_PLANNED:
                ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
                ledger.enqueue_job("retract", "contributors", share.id, share.idempotency_key)
        after = sync(ledger, config)
        assert after.ok and after.retracted == 2
        assert [c.share_id for c in after.compensations] == [s.id for s in shares]
        assert all("cannot be recalled" in c.action for c in after.compensations)
        for share in shares:
            assert ledger.get_share(share.id)[1] is ShareStatus.RETRACTED
    assert len(local.sent) == 2, "nothing more was sent"
