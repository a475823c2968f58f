"""Stories from a CSV file, for teams whose stories live in a spreadsheet.

The first row names the columns (order does not matter, names are case-insensitive):

=================  ========  =====================================================================
column             needed    what it holds
=================  ========  =====================================================================
``id``             yes       the story's id
``contributor_ids`` yes      contributor ids, separated by ``;``
``text``           yes       the story's words
``source``         yes       interview, workshop, drama_response, case_study, survey, written,
                             peer_group
``collected_on``   yes       date, ``YYYY-MM-DD``
``collected_by``   no        who collected it
``title``          no        a short title
``themes``         no        themes separated by ``;``
``abuse_types``    no        Care Act abuse types separated by ``;`` (e.g. ``self_neglect``)
``risk_location``  no        e.g. ``own_home``
``risk_source``    no        ``service_provider``, ``other_known`` or ``other_unknown``
``disclosure``     no        ``yes``/``no`` (also true/false, 1/0); a disclosure of current risk
``activity_id``    no        the co-production activity it came from
=================  ========  =====================================================================

Quotes cannot be marked in CSV; add them later in a bundle. Empty optional cells mean "not
given". Every problem names the line and column, and every problem in the file is listed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coprolib.ledger.errors import LedgerError
from coprolib.records import Story
from coprolib.records.convert import StructureError, structure

REQUIRED = ("id", "contributor_ids", "text", "source", "collected_on")
OPTIONAL = (
    "collected_by",
    "title",
    "themes",
    "abuse_types",
    "risk_location",
    "risk_source",
    "disclosure",
    "activity_id",
)
_LISTS = ("contributor_ids", "themes", "abuse_types")
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0", ""}


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


#: The most problems one error message lists (the count says how many there were).
MAX_LISTED = 50


def _header(p: Path, fieldnames: Any) -> tuple[list[str], list[str]]:
    header = [h.strip().lower() for h in (fieldnames or [])]
    problems = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(
            f"{p.name} line 1: missing column(s) {', '.join(missing)} "
            f"(needed: {', '.join(REQUIRED)})"
        )
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append(
            f"{p.name} line 1: unknown column(s) {', '.join(unknown)} "
            f"(known: {', '.join(REQUIRED + OPTIONAL)})"
        )
    return header, problems


def _row(p: Path, line: int, row: dict[Any, Any]) -> tuple[Story | None, list[str]]:
    """The story a row holds, or every problem with it."""
    problems: list[str] = []
    data: dict[str, Any] = {}
    for col, raw in row.items():
        if col is None:
            problems.append(f"{p.name} line {line}: more cells than columns")
            continue
        cell = (raw or "").strip()
        if col in _LISTS:
            data[col] = _split(cell)
        elif col == "disclosure":
            if cell.lower() not in _TRUE | _FALSE:
                problems.append(
                    f"{p.name} line {line} column disclosure: {cell!r} is not yes or no"
                )
            data[col] = cell.lower() in _TRUE
        elif cell or col in REQUIRED:
            data[col] = cell
    try:
        story = structure(data, Story, "$")
    except StructureError as exc:
        for problem in exc.problems:
            column = problem.path.removeprefix("$").lstrip(".")
            where = f"{p.name} line {line}" + (f" column {column}" if column else "")
            problems.append(f"{where}: {problem.message}")
        return None, problems
    return (None if problems else story), problems


def _read(p: Path, problems: list[str]) -> Iterator[Story]:
    """Stories from the rows without problems; every problem is added to ``problems``."""
    try:
        fh = p.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        problems.append(f"{p.name}: cannot read the file: {exc.strerror}")
        return
    with fh:
        reader = csv.DictReader(fh)
        try:
            header, bad = _header(p, reader.fieldnames)
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(f"{p.name} line 1: not a readable CSV file: {exc}")
            return
        if bad:
            problems.extend(bad)
            return
        reader.fieldnames = header
        seen: dict[str, int] = {}
        try:
            for row in reader:
                line = reader.line_num
                story, bad = _row(p, line, row)
                problems.extend(bad)
                if story is None:
                    continue
                if story.id in seen:
                    problems.append(
                        f"{p.name} line {line} column id: {story.id!r} is already the id of "
                        f"the story on line {seen[story.id]}"
                    )
                    continue
                seen[story.id] = line
                yield story
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(f"{p.name} line {reader.line_num}: not readable as CSV: {exc}")


def _error(problems: list[str]) -> LedgerError:
    if len(problems) == 1:
        return LedgerError(problems[0])
    listed = problems[:MAX_LISTED]
    more = len(problems) - len(listed)
    return LedgerError(
        f"{len(problems)} problems:\n"
        + "\n".join(listed)
        + (f"\n... and {more} more" if more else "")
    )


def story_csv_problems(path: str | Path) -> list[str]:
    """Every problem in a stories CSV file, each naming the file, line and column; an empty
    list when every row is a valid story. References to contributors are not checked (the
    ledger checks them on import)."""
    problems: list[str] = []
    for _story in _read(Path(path), problems):
        pass
    return problems


def iter_story_csv(path: str | Path) -> Iterator[Story]:
    """Yield a :class:`Story` per row of a CSV file (see the module docstring for columns).

    Rows are read to the end even after a bad one; then, if any row had a problem,
    :class:`LedgerError` lists every problem with its file, line and column (so an import,
    being one transaction, writes nothing)."""
    problems: list[str] = []
    yield from _read(Path(path), problems)
    if problems:
        raise _error(problems)
