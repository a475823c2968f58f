"""Shares as table rows: the Share fields a column mapping may name, how a field's value is
written into a column, and how text is cut to a column's length.

Adapters for tables and lists (Dataverse, SharePoint lists, ...) take a mapping of share field
to column name from their configuration. What differs per destination stays in the adapter: its
default column names and lengths, which column names it accepts, and how its API wants a date
and time (passed here as ``dates``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from coprolib.records import ConsentRef, Share, SharedQuote

#: Share fields that never go through a column mapping: the idempotency key always has a column
#: of its own (the destination's key), and the recipient is contact detail, not content.
UNMAPPED: frozenset[str] = frozenset({"idempotency_key", "recipient"})

#: The Share fields a column mapping may name, in the record's order.
FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(Share) if a.name not in UNMAPPED)

#: What ends text that :func:`fit` cut.
ELLIPSIS = "…"

#: How an adapter writes a date and time (e.g. ISO 8601 in UTC).
DateWriter = Callable[[dt.datetime], Any]


def check_mapping(columns: Mapping[str, str], column_problem: Callable[[str], str | None]) -> None:
    """Raise ``ValueError`` naming the first bad entry of a field -> column mapping.

    A field must be one of :data:`FIELDS`. ``column_problem(column)`` is the adapter's own rule for
    column names: it returns what is wrong (``"is not a column logical name"``), or ``None``.
    """
    for field, column in columns.items():
        if field not in FIELDS:
            raise ValueError(f"columns.{field}: not a share field (one of {', '.join(FIELDS)})")
        problem = column_problem(column)
        if problem is not None:
            raise ValueError(f"columns.{field}: {column!r} {problem}")


def render(value: Any, dates: DateWriter) -> Any:
    """A share field's value for a column: enums by value, dates by ``dates``, tuples as one
    line per item (``None`` when empty), ``None`` kept, anything else as it is."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return dates(value)
    if isinstance(value, tuple):
        return "\n".join(str(render_item(item, dates)) for item in value) or None
    return value


def render_item(item: Any, dates: DateWriter) -> Any:
    """One element of a tuple field: a quote by its text, a consent ref as ``id@vN``."""
    if isinstance(item, SharedQuote):
        return item.text
    if isinstance(item, ConsentRef):
        return f"{item.consent_id}@v{item.version}"
    return render(item, dates)


def fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with :data:`ELLIPSIS` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def mapped_values(
    share: Share,
    columns: Mapping[str, str],
    max_lengths: Mapping[str, int],
    dates: DateWriter,
) -> dict[str, Any]:
    """Every mapped column of ``share`` -> its rendered value, text fitted to ``max_lengths``."""
    values: dict[str, Any] = {}
    for field, column in columns.items():
        value = render(getattr(share, field), dates)
        if isinstance(value, str) and column in max_lengths:
            value = fit(value, max_lengths[column])
        values[column] = value
    return values
