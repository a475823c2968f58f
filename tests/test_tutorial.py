"""Every command in docs/tutorial.md runs, in order, in a fresh folder, and succeeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coprolib.ledger import open_ledger

from .conftest import ROOT

TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    commands = []
    for block in re.findall(r"```console\n(.*?)```", TUTORIAL, flags=re.S):
        if not block.startswith("$ "):
            continue
        # A command runs from its "$ " line to the next one (heredocs span several lines).
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            commands.append(chunk.rstrip("\n"))
    return commands


def test_tutorial_commands_run_in_order(tmp_path: Path) -> None:
    commands = [c for c in _commands() if not c.startswith("pip install")]
    assert len(commands) >= 12
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPROLIB_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    home = tmp_path / "home"  # the key goes under ~, out of the project folder
    home.mkdir()
    env["HOME"] = str(home)
    work = tmp_path / "work"
    work.mkdir()
    for command in commands:
        exported = re.match(r"export ([A-Z_]+)=", command)
        if exported:
            # A shell keeps what `export` sets for the commands after it; so does this test.
            name = exported.group(1)
            command = f'{command} && printf %s "${name}"'
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"tutorial command failed: {command}\n{result.stdout}\n{result.stderr}")
        if exported:
            env[exported.group(1)] = result.stdout
    assert any((work / "board-pack").iterdir())
    assert "<svg" in (work / "report.html").read_text(encoding="utf-8")
    # The tutorial's ledger is encrypted, and its key is nowhere in the project folder.
    key = env["COPROLIB_KEY"]
    with open_ledger(f"sqlite:///{work / 'council.db'}", key=key) as ledger:
        assert ledger.encrypted
    for path in work.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
