"""The configurable column mapping: which Share field goes into which Dataverse column, and how
each value is written (text, whole number, date and time)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from coprolib.records import Share

#: Share fields a mapping may name, and how each is rendered.
FIELDS: tuple[str, ...] = (
    "id",
    "kind",
    "destination",
    "subject_id",
    "identity_level",
    "title",
    "body",
    "digest",
    "planned_at",
    "domain",
    "themes",
    "recommendation",
    "quotes",
    "story_ids",
    "contributor_count",
    "consent_refs",
    "feedback_kind",
    "channel",
)

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

ELLIPSIS = "…"


def check_mapping(columns: Mapping[str, str], key_column: str) -> None:
    """Raise ``ValueError`` naming the first bad entry of a column mapping."""
    for field, column in columns.items():
        if field not in FIELDS:
            raise ValueError(f"columns.{field}: not a share field (one of {', '.join(FIELDS)})")
        if not column or not column.replace("_", "").isalnum():
            raise ValueError(f"columns.{field}: {column!r} is not a column logical name")
        if column == key_column:
            raise ValueError(
                f"columns.{field}: {column!r} is the key column, which always holds the "
                "idempotency key"
            )


def render(value: Any) -> Any:
    """A share field's value as Dataverse takes it (text, number, ISO 8601 UTC, or null)."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, tuple):
        return "\n".join(str(render_item(item)) for item in value) or None
    return value


def render_item(item: Any) -> Any:
    """One element of a tuple field: quotes by their text, consent refs as ``id@vN``."""
    if hasattr(item, "text") and hasattr(item, "story_ref"):
        return item.text
    if hasattr(item, "consent_id") and hasattr(item, "version"):
        return f"{item.consent_id}@v{item.version}"
    return render(item)


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def row_for(
    share: Share,
    columns: Mapping[str, str],
    max_lengths: Mapping[str, int],
) -> dict[str, Any]:
    """The JSON body of the upsert: every mapped column.

    The key column is not in the body: the upsert's URL names it, and Dataverse sets it from
    there when it creates the row.
    """
    row: dict[str, Any] = {}
    for field, column in columns.items():
        value = render(getattr(share, field))
        if isinstance(value, str) and column in max_lengths:
            value = fit(value, max_lengths[column])
        row[column] = value
    return row


def share_fields() -> tuple[str, ...]:
    """The Share attribute names (to keep :data:`FIELDS` honest in tests)."""
    return tuple(a.name for a in attrs.fields(Share))
