"""End to end with the engine: the fictional Northdale example planned and synced to the local
FHIR server, a contributor withdraws, ``plan`` + ``sync`` (and ``coprolib sync``) remove the
Communication from the server, and a second sync creates nothing new."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from coprolib_fhir.testing import FhirServer

from coprolib.cli import build_cli
from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records.bundle import load_bundle
from coprolib.testing.fault_server import FaultServer

# The example bundle coprolib ships (``coprolib demo`` reads it).
EXAMPLE = Path(str(importlib.resources.files("coprolib.examples") / "northdale.json"))
TOKEN = "fictional-northdale-fhir-token"


@pytest.fixture
def fhir() -> FhirServer:
    return FhirServer(token=TOKEN)


@pytest.fixture
def setup(
    tmp_path: Path, fhir: FhirServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, Path]]:
    if not EXAMPLE.exists():
        pytest.skip("the Northdale example is in the coprolib repository only")
    monkeypatch.setenv("E2E_FHIR_TOKEN", TOKEN)
    with FaultServer(fhir.app) as http:
        path = tmp_path / "coprolib.toml"
        path.write_text(
            f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
            "[destinations.shared-care-record]\n"
            'adapter = "fhir"\naudience = "partners"\n'
            'purposes = ["service_improvement", "commissioning"]\n'
            'max_identity = "anonymous"\nmin_contributors = 1\n'
            "[destinations.shared-care-record.settings]\n"
            f'url = "{http.url}/fhir"\ntoken = "$env:E2E_FHIR_TOKEN"\n'
            'recipients = ["Organization/northdale-sab"]\n',
            encoding="utf-8",
        )
        config = parse_config(path.read_text(encoding="utf-8"), str(path))
        ledger = open_ledger(config.ledger, actor="test")
        ledger.import_bundle(load_bundle(EXAMPLE))
        yield ledger, config, path
        ledger.close()


def test_withdrawal_then_sync_removes_the_communication(
    setup: tuple[Any, Any, Path], fhir: FhirServer
) -> None:
    ledger, config, path = setup
    planned = plan(ledger, config)
    assert planned.deliver, "the example plans shares for a partners destination"
    summary = sync(ledger, config)
    assert summary.ok and summary.delivered == len(planned.deliver)
    assert sorted(fhir.keys()) == sorted(s.idempotency_key for s in planned.deliver)
    held = set(fhir.store)

    again = sync(ledger, config)
    assert again.delivered == 0 and set(fhir.store) == held, "a second sync creates nothing"

    share = planned.deliver[0]
    story_id = share.story_ids[0]
    contributor = next(iter(ledger.consents_for_story(story_id))).contributor_id
    withdraw(ledger, contributor, story_id, reason="changed my mind")
    assert plan(ledger, config, stories=[story_id]).retractions
    result = CliRunner().invoke(build_cli(), ["sync", "--config", str(path)])
    assert result.exit_code == 0, result.output

    gone = {s.idempotency_key for s in planned.deliver if story_id in s.story_ids}
    assert gone and not gone & set(fhir.keys())
    assert {d["status"] for d in fhir.deleted} == {"entered-in-error"}
    assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
    assert [r.action for r in ledger.receipts_for(share.id)][-1] == "retract"
    assert fhir.invalid == []
