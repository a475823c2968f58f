"""End to end with the engine: the fictional Northdale example planned and synced into a real
sshd's drop folder, a contributor withdraws, and ``coprolib sync`` writes retraction manifests."""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sshd_server import LocalSshd

from coprolib.cli import build_cli
from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records.bundle import load_bundle

# The example bundle coprolib ships (``coprolib demo`` reads it).
EXAMPLE = Path(str(importlib.resources.files("coprolib.examples") / "northdale.json"))


@pytest.fixture
def setup(
    tmp_path: Path, sshd: LocalSshd, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, Path]]:
    if not EXAMPLE.exists():
        pytest.skip("the Northdale example is in the coprolib repository only")
    key_file = tmp_path / "sftp_ed25519"
    key_file.write_text(sshd.client_private)
    key_file.chmod(0o600)
    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'ledger = "sqlite:///{tmp_path / "ledger.db"}"\n'
        "[destinations.case-system]\n"
        'adapter = "sftp"\naudience = "partners"\n'
        'purposes = ["service_improvement", "commissioning"]\n'
        'max_identity = "anonymous"\nmin_contributors = 1\n'
        "[destinations.case-system.settings]\n"
        f'host = "127.0.0.1"\nport = {sshd.port}\nusername = "{sshd.user}"\n'
        f'directory = "{sshd.drop}"\nhost_keys = ["{sshd.host_public}"]\n'
        f'private_key_file = "{key_file}"\n',
        encoding="utf-8",
    )
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    ledger = open_ledger(config.ledger, actor="test")
    ledger.import_bundle(load_bundle(EXAMPLE))
    yield ledger, config, path
    ledger.close()


def _held(drop: Path, suffix: str) -> set[str]:
    return {
        json.loads(p.read_text(encoding="utf-8"))["idempotency_key"]
        for p in drop.glob(f"*{suffix}")
        if suffix != ".json" or not p.name.endswith(".retracted.json")
    }


def test_sync_then_withdrawal_writes_retraction_manifests(
    setup: tuple[Any, Any, Path], sshd: LocalSshd
) -> None:
    ledger, config, path = setup
    planned = plan(ledger, config)
    assert planned.deliver
    summary = sync(ledger, config)
    assert summary.ok and summary.delivered == len(planned.deliver)
    keys = {s.idempotency_key for s in planned.deliver}
    assert _held(sshd.drop, ".json") == keys
    assert {p.stem for p in sshd.drop.glob("*.txt")} == keys  # the key is the file name
    before = {p.name: p.stat().st_mtime_ns for p in sshd.drop.iterdir()}

    again = sync(ledger, config)
    assert again.delivered == 0
    assert {p.name: p.stat().st_mtime_ns for p in sshd.drop.iterdir()} == before

    share = planned.deliver[0]
    story_id = share.story_ids[0]
    contributor = next(iter(ledger.consents_for_story(story_id))).contributor_id
    withdraw(ledger, contributor, story_id, reason="changed my mind")
    assert plan(ledger, config, stories=[story_id]).retractions
    result = CliRunner().invoke(build_cli(), ["sync", "--config", str(path)])
    assert result.exit_code == 0, result.output

    gone = {s.idempotency_key for s in planned.deliver if story_id in s.story_ids}
    assert gone and gone <= _held(sshd.drop, ".retracted.json")
    assert not gone & _held(sshd.drop, ".json")
    assert not [p for p in sshd.drop.glob("*.txt") if p.stem in gone]
    assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
