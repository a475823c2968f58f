"""End to end on the fictional Northdale example: plan, sync to the file destination and to a
signed-webhook receiver, withdraw, plan again, sync: the record is removed and the receiver is
sent ``insight.retracted``. Also the ``coprolib sync`` and ``coprolib outbox`` commands."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coprolib.adapters.file_destination import FileAdapter
from coprolib.cli import build_cli
from coprolib.config import Config, parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.planner import plan, withdraw
from coprolib.records.bundle import load_bundle
from coprolib.testing.fault_server import FaultServer

from .conftest import EXAMPLE_BUNDLE, ROOT

coprolib_webhook = pytest.importorskip(
    "coprolib_webhook", reason="install it: pip install -e 'adapters/coprolib-webhook[test]'"
)
from coprolib_webhook.testing import Receiver  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"northdale-fictional-signing-key!").decode()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(SECRET)


@pytest.fixture
def server(receiver: Receiver) -> Iterator[FaultServer]:
    with FaultServer(receiver.app) as started:
        yield started


def _toml(tmp_path: Path, url: str, extra: str = "") -> str:
    return f"""
ledger = "sqlite:///{tmp_path / "ledger.db"}"

[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
max_identity = "pseudonymous"
quotes = true
min_contributors = 1
settings = {{ directory = "{tmp_path / "board-pack"}" }}

[destinations.case-system]
adapter = "webhook"
audience = "board"
purposes = ["board_reporting"]
max_identity = "anonymous"
min_contributors = 1
settings = {{ url = "{url}/hooks", secrets = ["$env:E2E_WEBHOOK_SECRET"] }}
{extra}"""


@pytest.fixture
def setup(
    tmp_path: Path, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Config, Path]:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = tmp_path / "coprolib.toml"
    path.write_text(_toml(tmp_path, server.url), encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"), str(path))
    ledger = open_ledger(config.ledger, actor="test")
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    return ledger, config, path


def test_example_synced_then_withdrawal_retracts_everywhere(
    setup: tuple[Any, Config, Path], receiver: Receiver, tmp_path: Path
) -> None:
    ledger, config, _ = setup
    planned = plan(ledger, config)
    assert planned.deliver, "the example plans shares for these destinations"
    summary = sync(ledger, config)
    assert summary.ok and summary.delivered == len(planned.deliver)
    board = FileAdapter({"directory": str(tmp_path / "board-pack")}, destination="board-pack")
    to_board = [s for s in planned.deliver if s.destination == "board-pack"]
    to_hooks = [s for s in planned.deliver if s.destination == "case-system"]
    assert sorted(r["key"] for r in board.records()) == sorted(s.idempotency_key for s in to_board)
    assert sorted(receiver.keys()) == sorted(s.idempotency_key for s in to_hooks)
    assert receiver.bad_signatures == 0

    # A contributor whose story went to both places withdraws.
    shared = next(s for s in to_hooks if any(set(s.story_ids) & set(b.story_ids) for b in to_board))
    story_id = shared.story_ids[0]
    contributor = next(c for c in ledger.consents_for_story(story_id)).contributor_id
    withdraw(ledger, contributor, story_id, reason="changed my mind")
    replanned = plan(ledger, config, stories=[story_id])
    assert replanned.retractions
    again = sync(ledger, config)
    assert again.ok and again.retracted >= 2

    gone = {s.idempotency_key for s in planned.deliver if story_id in s.story_ids}
    assert not gone & {r["key"] for r in board.records()}
    assert not gone & set(receiver.keys())
    assert receiver.types["insight.retracted"] >= 1
    for share in planned.deliver:
        if story_id in share.story_ids:
            assert ledger.get_share(share.id).status is ShareStatus.RETRACTED
            assert [r.action for r in ledger.receipts_for(share.id)][-1] == "retract"
    assert ledger.verify_audit().ok
    ledger.close()


def test_cli_sync_outbox_and_exit_codes(
    setup: tuple[Any, Config, Path], server: FaultServer, tmp_path: Path
) -> None:
    ledger, config, path = setup
    plan(ledger, config)
    ledger.close()
    cli = build_cli()
    runner = CliRunner()
    dry = runner.invoke(cli, ["sync", "--config", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would be sent, nothing changed" in dry.output
    status = runner.invoke(cli, ["outbox", "status", "--config", str(path)])
    assert "pending" in status.output and "case-system" in status.output

    server.force(*["410"] * 50)  # the receiver is gone: the destination stops, jobs stay
    gone = runner.invoke(cli, ["sync", "--config", str(path)])
    assert gone.exit_code == 1
    assert "destination case-system stopped: disabled" in gone.output

    ok = runner.invoke(cli, ["sync", "--config", str(path), "--destination", "board-pack"])
    assert ok.exit_code == 0, ok.output
    assert "dead-lettered 0" in ok.output
    dead_cmd = runner.invoke(cli, ["outbox", "dead", "--config", str(path)])
    assert "no dead letters" in dead_cmd.output


def test_cli_dead_letters_then_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from coprolib.testing.shares import outbox_shares, plan_into, seed_consent

    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'ledger = "sqlite:///{tmp_path / "l.db"}"\n'
        '[destinations.board]\nadapter = "file"\naudience = "board"\n'
        'purposes = ["board_reporting"]\n'
        f'settings = {{ directory = "{tmp_path / "out"}", fail_prob = 1.0 }}\n',
        encoding="utf-8",
    )
    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        seed_consent(ledger)
        plan_into(ledger, outbox_shares(2, "board"))
    cli = build_cli()
    runner = CliRunner()
    result = runner.invoke(cli, ["sync", "--config", str(path)])
    assert result.exit_code == 1
    assert "dead-lettered 2" in result.output
    dead = runner.invoke(cli, ["outbox", "dead", "--config", str(path)])
    assert "injected permanent failure" in dead.output
    job_id = dead.output.split()[0]
    again = runner.invoke(cli, ["outbox", "retry", job_id, "--config", str(path)])
    assert again.exit_code == 0 and "queued again" in again.output
    missing = runner.invoke(cli, ["outbox", "retry", "999", "--config", str(path)])
    assert missing.exit_code != 0 and "no dead-lettered job with id 999" in missing.output


def test_example_config_builds_its_file_and_webhook_adapters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coprolib.adapters import build_adapter
    from coprolib.config import load_config

    monkeypatch.setenv("NORTHDALE_TRAINING_KEY", SECRET)
    config = load_config(ROOT / "examples" / "coprolib.toml")
    for name, dest in config.destinations.items():
        if dest.adapter in ("file", "webhook"):
            made = build_adapter(dest.adapter, dest.settings, destination=name)
            assert SECRET not in str(made.describe())
            made.close()
