"""Code examples in the docs run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PAGES = sorted((ROOT / "docs").glob("*.md"))


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _python_blocks(p)], ids=lambda p: p.name
)
def test_python_examples_in_docs_run(page: Path, tmp_path: Path) -> None:
    for i, block in enumerate(_python_blocks(page)):
        result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path, check=False)
        assert result.returncode == 0, f"{page.name} example {i + 1} failed:\n{result.stderr}"
