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
given". Every problem names the line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coprolib.convert import StructureError, structure
from coprolib.ledger.errors import LedgerError
from coprolib.records import Story

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


def iter_story_csv(path: str | Path) -> Iterator[Story]:
    """Yield a :class:`Story` per row of a CSV file (see the module docstring for columns).
    Raises :class:`LedgerError` naming the file, line and column of the first problem."""
    p = Path(path)
    try:
        yield from _iter_rows(p)
    except UnicodeDecodeError as exc:
        raise LedgerError(
            f"{p.name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV"
        ) from None
    except csv.Error as exc:
        # The limit is process-wide (csv.field_size_limit): a library must not raise it.
        raise LedgerError(f"{p.name}: not a CSV file coprolib can read: {exc}") from None


def _iter_rows(p: Path) -> Iterator[Story]:
    with p.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise LedgerError(
                f"{p.name} line 1: missing column(s) {', '.join(missing)} "
                f"(needed: {', '.join(REQUIRED)})"
            )
        unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
        if unknown:
            raise LedgerError(
                f"{p.name} line 1: unknown column(s) {', '.join(unknown)} "
                f"(known: {', '.join(REQUIRED + OPTIONAL)})"
            )
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num
            data: dict[str, Any] = {}
            for col, raw in row.items():
                if col is None:
                    raise LedgerError(f"{p.name} line {line}: more cells than columns")
                cell = (raw or "").strip()
                if col in _LISTS:
                    data[col] = _split(cell)
                elif col == "disclosure":
                    if cell.lower() not in _TRUE | _FALSE:
                        raise LedgerError(
                            f"{p.name} line {line} column disclosure: {cell!r} is not yes or no"
                        )
                    data[col] = cell.lower() in _TRUE
                elif cell or col in REQUIRED:
                    data[col] = cell
            try:
                yield structure(data, Story, "$")
            except StructureError as exc:
                first = exc.problems[0]
                column = first.path.removeprefix("$").lstrip(".")
                where = f"{p.name} line {line}" + (f" column {column}" if column else "")
                raise LedgerError(f"{where}: {first.message}") from None
