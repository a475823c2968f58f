"""Every command in docs/tutorial.md runs, in order, in a fresh folder, and succeeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"tutorial command failed: {command}\n{result.stdout}\n{result.stderr}")
    assert any((tmp_path / "board-pack").iterdir())
    assert "<svg" in (tmp_path / "report.html").read_text(encoding="utf-8")
