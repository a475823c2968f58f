"""End to end with the engine: shares in the outbox are synced to the local instance with
insertMultiple; a rate limit rule mid-run pauses the destination without dead letters; after the
contributor withdraws, ``plan`` + ``sync`` delete every record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from coprolib_servicenow.testing import LocalServiceNow

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import CONTRIBUTOR_ID, STORY_ID, outbox_shares, plan_into, seed_consent


def test_sync_delivers_pauses_on_the_rate_limit_and_retracts(
    instance: tuple[LocalServiceNow, FaultServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, server = instance
    monkeypatch.setenv("E2E_SERVICENOW_SECRET", local.client_secret)
    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
        "[destinations.council-itsm]\n"
        'adapter = "servicenow"\naudience = "board"\npurposes = ["service_improvement"]\n'
        "[destinations.council-itsm.settings]\n"
        f'instance_url = "{server.url}"\nclient_id = "{local.client_id}"\n'
        'client_secret = "$env:E2E_SERVICENOW_SECRET"\nbatch_size = 5\n',
        encoding="utf-8",
    )
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    # Rendered by the planner (coprolib-<40 hex> keys): the send boundary refuses others.
    shares = outbox_shares(12, "council-itsm")
    with open_ledger(config.ledger, actor="test") as ledger:
        seed_consent(ledger)
        plan_into(ledger, shares)
        local.rate_limit(2)  # an hourly rule: one insertMultiple and the read of its rows
        first = sync(ledger, config)
        assert first.delivered >= 1 and not first.dead, first
        assert len(local.keys()) == first.delivered
        assert first.retried >= 1, "the rest were put back for after the pause"
        local.rate_limit(None)
        hours_later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
        later = sync(ledger, config, clock=lambda: hours_later)
        assert later.ok and first.delivered + later.delivered == 12, later
        assert sorted(local.keys()) == sorted(s.idempotency_key for s in shares)
        assert sync(ledger, config).delivered == 0, "nothing is sent twice"

        withdraw(ledger, CONTRIBUTOR_ID, STORY_ID, reason="changed my mind")
        plan(ledger, config, stories=[STORY_ID])
        for share in shares:
            if ledger.get_share(share.id).status is not ShareStatus.RETRACT_PLANNED:
                ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
                ledger.enqueue_job("retract", "council-itsm", share.id, share.idempotency_key)
        after = sync(ledger, config)
        assert after.ok and after.retracted == 12, after
        assert local.keys() == []
