"""``coprolib demo`` (the README's main command) runs the whole chain and leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from coprolib.cli.demo import run_demo
from coprolib.ledger import open_ledger
from coprolib.records import Feedback


def test_demo_command_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "coprolib", "demo", "--dir", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for step in range(1, 10):
        assert f"\n{step}. " in "\n" + text, f"step {step} missing from:\n{text}"
    assert "verified" in text and "Nothing is left running" in text
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.lower().startswith("<!doctype html>")
    for key, chart in (
        ("stalled", "chart-stalled"),
        ("bar", "chart-bar"),
        ("involvement", "chart-involvement"),
    ):
        assert f'<section id="{key}"' in html and f'id="{chart}"' in html, key
    rows = [
        json.loads(line)
        for f in (out / "board-pack").glob("*.jsonl")
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    statuses = {row["status"] for row in rows}
    assert statuses == {"shared", "retracted"}, statuses


def test_demo_retracts_the_withdrawn_story_everywhere(tmp_path: Path) -> None:
    pytest.importorskip("coprolib_webhook", reason="the webhook step needs coprolib-webhook")
    before = set(threading.enumerate())
    lines: list[str] = []
    result = run_demo(tmp_path, say=lines.append)
    started = [t for t in threading.enumerate() if t not in before]
    for t in started:  # a server thread may take a moment to notice it was shut down
        t.join(timeout=5)
    left = [t.name for t in started if t.is_alive()]
    assert not left, f"the demo left threads running: {left}"
    assert result.retracted >= 1 and result.delivered >= 2
    assert result.webhook_records is not None and result.webhook_records >= 1
    with open_ledger(f"sqlite:///{result.ledger}") as ledger:
        assert ledger.verify_audit().ok
        shares = list(ledger.list_shares(story_id="s-01"))
        assert shares and all(str(row.status) != "delivered" for row in shares)
        owed = [f for f in ledger.list(Feedback) if f.contributor_id == "p-amber"]
        assert any(f.kind == "withdrawal_confirmed" for f in owed)


def test_demo_refuses_a_folder_that_already_has_a_ledger(tmp_path: Path) -> None:
    (tmp_path / "coprolib.db").write_bytes(b"")
    with pytest.raises(FileExistsError, match="empty folder"):
        run_demo(tmp_path, say=lambda _: None)
