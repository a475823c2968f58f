"""End to end with the engine: the fictional Northdale example planned and synced into the local
CiviCRM, a contributor withdraws, and ``coprolib sync`` deletes the Activities."""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from civicrm_standin import LocalCiviCRM
from click.testing import CliRunner

from coprolib.cli import build_cli
from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records.bundle import load_bundle
from coprolib.testing.fault_server import FaultServer

# The example bundle coprolib ships (``coprolib demo`` reads it).
EXAMPLE = Path(str(importlib.resources.files("coprolib.examples") / "northdale.json"))
PERMISSIONS = {
    "access CiviCRM",
    "access AJAX API",
    "authenticate with api key",
    "delete activities",
}


@pytest.fixture
def setup(
    tmp_path: Path, civicrm: LocalCiviCRM, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, Path]]:
    if not EXAMPLE.exists():
        pytest.skip("the Northdale example is in the coprolib repository only")
    monkeypatch.setenv("E2E_CIVICRM_API_KEY", civicrm.add_contact(20417, PERMISSIONS))
    with FaultServer(civicrm.app) as http:
        path = tmp_path / "coprolib.toml"
        path.write_text(
            f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
            "[destinations.partner-crm]\n"
            'adapter = "civicrm"\naudience = "partners"\n'
            'purposes = ["service_improvement", "commissioning"]\n'
            'max_identity = "anonymous"\nmin_contributors = 1\n'
            "[destinations.partner-crm.settings]\n"
            f'url = "{http.url}/civicrm/ajax/api4"\napi_key = "$env:E2E_CIVICRM_API_KEY"\n',
            encoding="utf-8",
        )
        config = parse_config(path.read_text(encoding="utf-8"), str(path))
        ledger = open_ledger(config.ledger, actor="test")
        ledger.import_bundle(load_bundle(EXAMPLE))
        yield ledger, config, path
        ledger.close()


def test_sync_then_withdrawal_deletes_the_activities(
    setup: tuple[Any, Any, Path], civicrm: LocalCiviCRM
) -> None:
    ledger, config, path = setup
    planned = plan(ledger, config)
    assert planned.deliver, "the example plans shares for a partners destination"
    summary = sync(ledger, config)
    assert summary.ok and summary.delivered == len(planned.deliver)
    keys = sorted(s.idempotency_key for s in planned.deliver)
    assert sorted(civicrm.external_ids()) == keys
    assert all(re.fullmatch(r"coprolib-[0-9a-f]{40}", k) for k in keys)
    held = dict(civicrm.records)

    again = sync(ledger, config)
    assert again.delivered == 0 and civicrm.records == held, "a second sync changes nothing"

    share = planned.deliver[0]
    story_id = share.story_ids[0]
    contributor = next(iter(ledger.consents_for_story(story_id))).contributor_id
    withdraw(ledger, contributor, story_id, reason="changed my mind")
    assert plan(ledger, config, stories=[story_id]).retractions
    result = CliRunner().invoke(build_cli(), ["sync", "--config", str(path)])
    assert result.exit_code == 0, result.output

    gone = {s.idempotency_key for s in planned.deliver if story_id in s.story_ids}
    assert gone and not gone & set(civicrm.external_ids())
    assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
    assert [r.action for r in ledger.receipts_for(share.id)][-1] == "retract"
