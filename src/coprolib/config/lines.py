"""Where a key is written in a TOML file, so every configuration error can name its line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEYVAL = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")
_INLINE_KEY = re.compile(r"""(?:[{,]\s*)([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in a TOML text to the (1-based) line where it first appears."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(1))
            for i in range(1, len(table) + 1):
                lines.setdefault(table[:i], number)
            continue
        kv = _KEYVAL.match(line)
        if not kv:
            continue
        path = table + _parts(kv.group(1))
        for i in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:i], number)
        rest = line[kv.end() :]
        # Keys of an inline table on the same line, one level down (enough to point at a line).
        for inner in _INLINE_KEY.findall(rest):
            lines.setdefault((*path, inner.strip("\"'")), number)
    return lines


def lookup_line(table: Mapping[tuple[str, ...], int], key: str) -> int | None:
    """The line of ``key`` (``a.b[2].c``), or of the nearest table above it that is written."""
    parts = tuple(p for p in re.split(r"\.|\[\d+\]", key) if p)
    for n in range(len(parts), 0, -1):
        if parts[:n] in table:
            return table[parts[:n]]
    return None


_line_cache: dict[str, dict[tuple[str, ...], int]] = {}


def line_for(path: str | None, key: str) -> int | None:
    """The line of ``key`` in the file at ``path`` (read once, then remembered)."""
    if path is None:
        return None
    table = _line_cache.get(path)
    if table is None:
        try:
            table = key_lines(Path(path).read_text(encoding="utf-8"))
        except OSError:
            return None
        _line_cache[path] = table
    return lookup_line(table, key)


def forget(path: str) -> None:
    """Read the file at ``path`` again next time (it has just been loaded afresh)."""
    _line_cache.pop(path, None)
