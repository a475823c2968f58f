"""Dataverse's defaults for the column mapping (which Share field goes into which column, and
how long each column is), its rule for column names, and how it wants a date and time. The
mapping itself is checked and rendered by :mod:`coprolib.adapters.columns`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from coprolib.adapters import columns as share_columns
from coprolib.records import Share

#: The default mapping for a table made as the README describes (publisher prefix ``coprolib_``).
DEFAULT_COLUMNS: Mapping[str, str] = {
    "title": "coprolib_name",
    "body": "coprolib_body",
    "kind": "coprolib_kind",
    "identity_level": "coprolib_identitylevel",
    "domain": "coprolib_domain",
    "themes": "coprolib_themes",
    "recommendation": "coprolib_recommendation",
    "quotes": "coprolib_quotes",
    "digest": "coprolib_digest",
    "planned_at": "coprolib_plannedat",
    "consent_refs": "coprolib_consentversions",
}

#: Column lengths of the README's table (single line of text 400 for the name, multiple lines of
#: text up to the 1,048,576-character maximum for the body and quotes).
DEFAULT_MAX_LENGTHS: Mapping[str, int] = {
    "coprolib_name": 400,
    "coprolib_body": 1_048_576,
    "coprolib_quotes": 1_048_576,
    "coprolib_themes": 4000,
    "coprolib_recommendation": 4000,
}


def timestamp(moment: dt.datetime) -> str:
    """A date and time as Dataverse's Web API takes it: ISO 8601 in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_mapping(columns: Mapping[str, str], key_column: str) -> None:
    """Raise ``ValueError`` naming the first bad entry of a column mapping."""

    def column_problem(column: str) -> str | None:
        if not column or not column.replace("_", "").isalnum():
            return "is not a column logical name"
        if column == key_column:
            return "is the key column, which always holds the idempotency key"
        return None

    share_columns.check_mapping(columns, column_problem)


def row_for(
    share: Share,
    columns: Mapping[str, str],
    max_lengths: Mapping[str, int],
) -> dict[str, Any]:
    """The JSON body of the upsert: every mapped column.

    The key column is not in the body: the upsert's URL names it, and Dataverse sets it from
    there when it creates the row.
    """
    return share_columns.mapped_values(share, columns, max_lengths, timestamp)
