"""End to end with the engine: feedback owed to a contributor is planned, sent through the local
Graph and recorded sent; a retraction records the compensating action for a person (an email
cannot be recalled) and nothing more is sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from coprolib_graphmail.testing import LocalGraphMail, RolesEntra

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.feedback.owed import plan_feedback
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.records import ContactDetails, Contributor, Feedback
from coprolib.records.enums import FeedbackChannel, FeedbackKind, FeedbackStatus
from coprolib.testing.fault_server import FaultServer


def test_feedback_is_sent_once_and_retraction_compensated(
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
        'adapter = "graph-mail"\ncarries = "feedback"\nchannels = ["email"]\n'
        "[destinations.contributors.settings]\n"
        f'tenant_id = "{settings["tenant_id"]}"\nclient_id = "{settings["client_id"]}"\n'
        'client_secret = "$env:E2E_GRAPH_MAIL_SECRET"\n'
        f'mailbox = "{settings["mailbox"]}"\ngraph_url = "{settings["graph_url"]}"\n'
        f'authority_host = "{entra.authority_host}"\ninstance_discovery = false\n'
        f'http = {{ ca_bundle = "{entra.ca_path}" }}\n',
        encoding="utf-8",
    )
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    now = dt.datetime.now(dt.UTC)
    person = Contributor(
        id="p-fictional-9",
        display_name="Sam Example",
        contact=ContactDetails(email="sam.example@example.invalid"),
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
        for n in (3, 5)
    ]
    with open_ledger(config.ledger, actor="test") as ledger:
        ledger.add([person, *owed])
        planned = plan_feedback(ledger, config, now).deliver
        assert len(planned) == 2
        first = sync(ledger, config)
        assert first.ok and first.delivered == 2, first
        assert sorted(local.keys()) == sorted(s.idempotency_key for s in planned)
        assert all(m.to == ["sam.example@example.invalid"] for m in local.sent)
        assert {ledger.get(Feedback, f.id).status for f in owed} == {FeedbackStatus.SENT}
        assert sync(ledger, config).delivered == 0

        for share in planned:
            ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
            ledger.enqueue_job("retract", "contributors", share.id, share.idempotency_key)
        after = sync(ledger, config)
        assert after.ok and after.retracted == 2
        assert sorted(c.share_id for c in after.compensations) == sorted(s.id for s in planned)
        assert all("cannot be recalled" in c.action for c in after.compensations)
        for share in planned:
            assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
    assert len(local.sent) == 2, "nothing more was sent"
