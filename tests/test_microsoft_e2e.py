"""End to end on the fictional Northdale example with the Microsoft adapters: plan, ``sync`` to a
local Dataverse, a local SharePoint list (through a local Graph) and a local Teams Workflows
webhook, then a withdrawal and another ``sync``: the Dataverse row and the list item are deleted,
and Teams, which cannot delete, gets a withdrawal card and a compensating action in the summary.
Everything listens on 127.0.0.1; tokens come from a local HTTPS Entra ID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records.bundle import load_bundle
from coprolib.testing.fault_server import FaultServer

from .conftest import EXAMPLE_BUNDLE

pytest.importorskip(
    "coprolib_dataverse", reason="pip install -e 'adapters/coprolib-dataverse[test]'"
)
pytest.importorskip(
    "coprolib_sharepoint", reason="pip install -e 'adapters/coprolib-sharepoint[test]'"
)
pytest.importorskip("cryptography", reason="pip install -e 'adapters/coprolib-entra[test]'")

from coprolib_dataverse.columns import DEFAULT_COLUMNS as DV_COLUMNS
from coprolib_dataverse.testing import LocalDataverse
from coprolib_entra.testing import LocalEntra
from coprolib_sharepoint.sharepoint import DEFAULT_COLUMNS as SP_COLUMNS
from coprolib_sharepoint.testing import LocalGraphList, LocalTeamsWorkflow

CLIENT_ID = "e2e-client"
CLIENT_SECRET = "e2e-client-secret-fictional"


@pytest.fixture
def remotes(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with LocalEntra(tmp_path / "entra") as entra:
        entra.register(CLIENT_ID, CLIENT_SECRET)
        dataverse = LocalDataverse(columns={c: 1_048_576 for c in DV_COLUMNS.values()})
        sp_list = LocalGraphList(columns={c: 63_999 for c in SP_COLUMNS.values()})
        teams = LocalTeamsWorkflow()
        with (
            FaultServer(dataverse.app) as dv_server,
            FaultServer(sp_list.app) as sp_server,
            FaultServer(teams.app) as teams_server,
        ):
            dataverse.base_url = dv_server.url
            dataverse.token_check = lambda t: entra.valid(t, f"{dv_server.url}/.default")
            sp_list.token_check = lambda t: entra.valid(t, f"{sp_server.url}/.default")
            yield {
                "entra": entra,
                "dataverse": dataverse,
                "dv_url": dv_server.url,
                "list": sp_list,
                "sp_url": sp_server.url,
                "teams": teams,
                "teams_url": teams.url(teams_server.url),
            }


def _toml(tmp_path: Path, r: dict[str, Any]) -> str:
    entra: LocalEntra = r["entra"]
    sp_list: LocalGraphList = r["list"]
    common = (
        f'tenant_id = "{entra.tenant_id}"\nclient_id = "{CLIENT_ID}"\n'
        f'client_secret = "$env:E2E_ENTRA_SECRET"\nauthority_host = "{entra.authority_host}"\n'
        f'instance_discovery = false\nhttp = {{ ca_bundle = "{entra.ca_path}" }}\n'
    )
    board = (
        'audience = "board"\npurposes = ["board_reporting"]\nmax_identity = "anonymous"\n'
        "min_contributors = 1\n"
    )
    return f"""
ledger = "sqlite:///{tmp_path / "ledger.db"}"

[destinations.board-crm]
adapter = "dataverse"
{board}
[destinations.board-crm.settings]
url = "{r["dv_url"]}"
entity_set = "coprolib_shares"
{common}
[destinations.board-list]
adapter = "sharepoint-list"
{board}
[destinations.board-list.settings]
site_id = "{sp_list.site_id}"
list_id = "{sp_list.list_id}"
graph_url = "{r["sp_url"]}/v1.0"
{common}
[destinations.board-teams]
adapter = "teams-workflow"
{board}
[destinations.board-teams.settings]
webhook_url = "$env:E2E_TEAMS_URL"
board = "Northdale Safeguarding Adults Board"
state_file = "{tmp_path / "teams.jsonl"}"
"""


def test_sync_then_withdrawal_removes_records_and_teams_records_the_compensation(
    remotes: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2E_ENTRA_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("E2E_TEAMS_URL", remotes["teams_url"])
    path = tmp_path / "coprolib.toml"
    path.write_text(_toml(tmp_path, remotes), encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    ledger = open_ledger(config.ledger, actor="test")
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    dataverse: LocalDataverse = remotes["dataverse"]
    sp_list: LocalGraphList = remotes["list"]
    teams: LocalTeamsWorkflow = remotes["teams"]

    planned = plan(ledger, config)
    by_dest = {
        name: [s for s in planned.deliver if s.destination == name]
        for name in ("board-crm", "board-list", "board-teams")
    }
    assert all(by_dest.values()), "the example plans shares for every destination"
    summary = sync(ledger, config)
    assert summary.ok, summary.lines()
    assert summary.delivered == len(planned.deliver)
    assert sorted(dataverse.keys()) == sorted(s.idempotency_key for s in by_dest["board-crm"])
    assert sorted(sp_list.keys()) == sorted(s.idempotency_key for s in by_dest["board-list"])
    assert sorted(teams.keys()) == sorted(s.idempotency_key for s in by_dest["board-teams"])

    # A second sync sends nothing new anywhere.
    created = (dataverse.created, sp_list.created, len(teams.messages))
    assert sync(ledger, config).delivered == 0
    assert (dataverse.created, sp_list.created, len(teams.messages)) == created

    # A contributor whose story reached all three withdraws.
    crm_stories = {story for s in by_dest["board-crm"] for story in s.story_ids}
    story_id = next(
        story
        for share in by_dest["board-list"]
        for story in share.story_ids
        if story in crm_stories and any(story in t.story_ids for t in by_dest["board-teams"])
    )
    contributor = next(iter(ledger.consents_for_story(story_id))).contributor_id
    withdraw(ledger, contributor, story_id, reason="changed my mind")
    replanned = plan(ledger, config, stories=[story_id])
    assert replanned.retractions
    again = sync(ledger, config)
    assert again.ok, again.lines()

    gone = {s.idempotency_key for s in planned.deliver if story_id in s.story_ids}
    assert not gone & set(dataverse.keys()), "the Dataverse row was not deleted"
    assert not gone & set(sp_list.keys()), "the SharePoint item was not deleted"
    assert dataverse.deleted >= 1 and sp_list.deleted >= 1
    withdrawn_cards = set(teams.keys("withdrawal"))
    teams_gone = {s.idempotency_key for s in by_dest["board-teams"] if story_id in s.story_ids}
    assert withdrawn_cards == teams_gone
    needs_person = [c for c in again.compensations if c.destination == "board-teams"]
    assert {c.share_id for c in needs_person} == {
        s.id for s in by_dest["board-teams"] if story_id in s.story_ids
    }
    assert all("delete the card" in c.action for c in needs_person)
    assert not [c for c in again.compensations if c.destination != "board-teams"]
    for share in planned.deliver:
        if story_id in share.story_ids:
            assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
    assert CLIENT_SECRET not in "\n".join(again.lines())
    assert ledger.verify_audit().ok
    ledger.close()
