"""End to end with the engine: shares in the outbox are synced to the local org in sObject
Collections; a request limit mid-run pauses the destination without dead letters; after the
contributor withdraws, ``plan`` + ``sync`` delete every record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from coprolib_salesforce.testing import LocalSalesforce

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import CONTRIBUTOR_ID, STORY_ID, outbox_shares, plan_into, seed_consent


def test_sync_delivers_pauses_on_the_limit_and_retracts(
    org: tuple[LocalSalesforce, FaultServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, server = org
    monkeypatch.setenv("E2E_SALESFORCE_SECRET", local.client_secret)
    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
        "[destinations.council-crm]\n"
        'adapter = "salesforce"\naudience = "board"\npurposes = ["service_improvement"]\n'
        "[destinations.council-crm.settings]\n"
        f'instance_url = "{server.url}"\nclient_id = "{local.client_id}"\n'
        'client_secret = "$env:E2E_SALESFORCE_SECRET"\nbatch_size = 5\n',
        encoding="utf-8",
    )
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    # Rendered by the planner (coprolib-<40 hex> keys): the send boundary refuses others.
    shares = outbox_shares(12, "council-crm")
    with open_ledger(config.ledger, actor="test") as ledger:
        seed_consent(ledger)
        plan_into(ledger, shares)
        local.limit_after(1)  # the org's daily limit runs out after the first Collections request
        first = sync(ledger, config)
        assert first.delivered >= 1 and not first.dead, first
        assert len(local.keys()) == first.delivered
        assert first.retried >= 1, "the rest were put back for after the pause"
        local.limit_after(None)
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
                ledger.enqueue_job("retract", "council-crm", share.id, share.idempotency_key)
        after = sync(ledger, config)
        assert after.ok and after.retracted == 12, after
        assert local.keys() == []
