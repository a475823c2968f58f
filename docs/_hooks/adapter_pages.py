"""MkDocs hook: one docs page per adapter, taken from ``adapters/<name>/README.md``.

The README in each adapter's folder is what PyPI shows; the docs publish the same text instead of
a copy that could drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]


def adapter_readmes() -> list[Path]:
    """The README of every adapter distribution, sorted by folder name."""
    return sorted((ROOT / "adapters").glob("*/README.md"))


def on_files(files: Files, config: Any) -> Files:
    """Add ``adapters/<name>.md`` for each adapter README."""
    for readme in adapter_readmes():
        name = readme.parent.name
        files.append(
            File.generated(config, f"adapters/{name}.md", content=readme.read_text("utf-8"))
        )
    return files
