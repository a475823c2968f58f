"""How records become ledger rows: kinds, protected fields, references and indexed columns.

Each record is stored as one JSON text (``coprolib.records.convert.unstructure``), with its protected
fields encrypted when the ledger has a key, plus the columns and reference rows the filters use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from coprolib.records import (
    RECORD_NAMES,
    Activity,
    Consent,
    Feedback,
    Insight,
    Involvement,
    LivedAnswer,
    Outcome,
    Proposal,
    Story,
)

_sha256 = hashlib.sha256

#: Record class by kind name (``"story"`` -> :class:`Story`).
CLASS_BY_KIND: dict[str, type[Any]] = {name: cls for cls, name in RECORD_NAMES.items()}
KIND_BY_CLASS: dict[type[Any], str] = dict(RECORD_NAMES)

#: Order that satisfies references when records of several kinds are written together.
KIND_ORDER = (
    "contributor",
    "activity",
    "story",
    "consent",
    "insight",
    "outcome",
    "feedback",
    "proposal",
    "lived_answer",
    "involvement",
)

#: Which protected fields each kind has, as paths into the unstructured data.
#: ``*`` means every item of a list. Every free-text field that can hold personal data is here:
#: encrypted when the ledger has a key, scrubbed by erasure where it is the erased person's.
#: ``consent_event`` is a row of ``consent_events``; a job's ``last_error`` column is protected
#: too (:data:`PROTECTED_COLUMNS`). docs/data_protection.md lists them; a test fails when a
#: record class gains a string field that is neither here nor in :data:`NOT_PERSONAL`.
PROTECTED: dict[str, tuple[tuple[str, ...], ...]] = {
    "contributor": (
        ("display_name",),
        ("contact", "email"),
        ("contact", "phone"),
        ("contact", "postal_address"),
        ("known_identifiers", "*"),
        ("accessibility", "notes"),
    ),
    "story": (("text",), ("title",), ("collected_by",)),
    "consent": (("supported_by",),),
    "consent_event": (("recorded_by",), ("reason",), ("approver",)),
    "insight": (("title",), ("summary",), ("recommendation",), ("authored_by",)),
    "outcome": (("description",), ("timeline", "*", "note"), ("timeline", "*", "by")),
    "feedback": (("message",), ("note",)),
    "activity": (("notes",),),
    "lived_answer": (("summary",),),
    "involvement": (("notes",),),
    "share": (
        ("title",),
        ("body",),
        ("recommendation",),
        ("quotes", "*", "text"),
        ("recipient", "name"),
        ("recipient", "email"),
        ("recipient", "phone"),
        ("recipient", "postal_address"),
    ),
}

#: Protected columns outside the JSON data: (table, column).
PROTECTED_COLUMNS: tuple[tuple[str, str], ...] = (("jobs", "last_error"),)

#: String fields that hold no personal data, by kind, with why: ids, digests, codes, labels
#: chosen from configuration, dates. Everything else that is text is in :data:`PROTECTED`.
NOT_PERSONAL: dict[str, dict[tuple[str, ...], str]] = {
    "contributor": {
        ("id",): "pseudonymous id",
        ("supporting_org",): "an organisation's name",
        ("accessibility", "language"): "a language code",
    },
    "story": {
        ("id",): "id",
        ("contributor_ids", "*"): "pseudonymous ids",
        ("themes", "*"): "theme codes",
        ("quotes", "*", "id"): "quote id",
        ("activity_id",): "id",
    },
    "consent": {
        ("id",): "id",
        ("contributor_id",): "pseudonymous id",
        ("story_ids", "*"): "ids",
    },
    "consent_event": {
        ("insight_id",): "id",
        ("story_ids", "*"): "ids of the stories a narrowing names",
        ("text_digest",): "a SHA-256 digest",
        ("terms", "denied_destinations", "*"): "destination names from configuration",
    },
    "insight": {
        ("id",): "id",
        ("themes", "*"): "theme codes",
        ("evidence", "*", "story_id"): "id",
        ("evidence", "*", "quote_ids", "*"): "ids",
    },
    "outcome": {
        ("id",): "id",
        ("title",): "the name of a service change (reported publicly)",
        ("owner",): "the team or organisation that owns the change",
        ("insight_ids", "*"): "ids",
        ("timeline", "*", "evidence", "*"): "links to public documents",
    },
    "feedback": {
        ("id",): "id",
        ("contributor_id",): "pseudonymous id",
        ("story_ids", "*"): "ids",
        ("insight_id",): "id",
        ("share_id",): "id",
        ("outcome_id",): "id",
        ("destination",): "destination name from configuration",
    },
    "activity": {
        ("id",): "id",
        ("title",): "the name of a co-production activity",
        ("described_as",): "how the activity was labelled (a ladder word)",
        ("contributor_ids", "*"): "pseudonymous ids",
    },
    "proposal": {
        ("id",): "id",
        ("title",): "what professionals proposed (a service change, reported to the board)",
        ("proposed_by",): "the professional group that proposed it",
        ("story_ids", "*"): "ids",
        ("activity_id",): "id",
    },
    "lived_answer": {
        ("id",): "id",
        ("proposal_id",): "id",
        ("story_ids", "*"): "ids",
        ("activity_id",): "id",
        ("insight_ids", "*"): "ids",
    },
    "involvement": {
        ("id",): "id",
        ("contributor_id",): "pseudonymous id",
        ("activity_id",): "id",
        ("supporting_org",): "an organisation's name",
    },
    "share": {
        ("id",): "id",
        ("destination",): "destination name",
        ("subject_id",): "id",
        ("idempotency_key",): "derived key",
        ("digest",): "a SHA-256 digest",
        ("themes", "*"): "theme codes",
        ("quotes", "*", "story_ref"): "a story id or 'story N' label",
        ("story_ids", "*"): "ids",
        ("consent_refs", "*", "consent_id"): "id",
        ("recipient", "language"): "a language code",
    },
    "receipt": {
        ("share_id",): "id",
        ("destination",): "destination name",
        ("idempotency_key",): "derived key",
        ("action",): "delivered / retracted",
        ("remote_id",): "the id the destination gave the record",
    },
}

#: Text that replaces erased story text and quotes.
ERASED = "[erased]"


def kind_of(record: Any) -> str:
    """The kind name of a record, or raise TypeError for anything else."""
    try:
        return KIND_BY_CLASS[type(record)]
    except KeyError:
        raise TypeError(
            f"the ledger stores coprolib records, not {type(record).__name__}"
        ) from None


def map_protected(kind: str, data: dict[str, Any], fn: Callable[[str, str], str]) -> dict[str, Any]:
    """Apply ``fn(field_path, value)`` to every protected text value in ``data`` (in place)."""

    def walk(node: Any, path: tuple[str, ...], shown: str) -> Any:
        if not path:
            return fn(shown, node) if isinstance(node, str) else node
        head, rest = path[0], path[1:]
        if head == "*":
            if isinstance(node, list):
                for i, item in enumerate(node):
                    node[i] = walk(item, rest, f"{shown}[{i}]")
            return node
        if isinstance(node, dict) and head in node:
            node[head] = walk(node[head], rest, f"{shown}.{head}" if shown else head)
        return node

    for path in PROTECTED.get(kind, ()):
        walk(data, path, "")
    return data


#: One encoder for every row: ``json.dumps`` with options builds a new encoder on each call.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def dumps(data: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept."""
    return _ENCODE(data)


def framed_digest(values: tuple[Any, ...]) -> str:
    """SHA-256 over values framed unambiguously (type tag and length before each value):
    ``None``, ``int`` and ``str`` only, so every backend's row gives the same digest."""
    parts: list[str] = []
    add = parts.append
    for v in values:  # a plain loop: the hot path of imports and audit verification
        if v is None:
            add("\x00N")
        elif type(v) is int:
            add(f"\x00I{v}")
        else:
            add(f"\x00S{len(v)}:{v}")
    return _sha256("".join(parts).encode("utf-8")).hexdigest()


def row_digest(table: str, values: tuple[Any, ...]) -> str:
    """The digest of a row's content: what the audit chain records and verify checks."""
    return framed_digest((table, *values))


Ref = tuple[str, str, str]  # (field, ref kind, ref id)


def references(record: Any) -> list[Ref]:
    """Every reference a record makes, with the field it is in (themes included)."""
    refs: list[Ref] = []
    if isinstance(record, Story):
        refs += [
            (f"contributor_ids[{i}]", "contributor", c)
            for i, c in enumerate(record.contributor_ids)
        ]
        if record.activity_id is not None:
            refs.append(("activity_id", "activity", record.activity_id))
        refs += [(f"themes[{i}]", "theme", t) for i, t in enumerate(record.themes)]
    elif isinstance(record, Consent):
        refs.append(("contributor_id", "contributor", record.contributor_id))
        refs += [(f"story_ids[{i}]", "story", s) for i, s in enumerate(record.story_ids)]
    elif isinstance(record, Insight):
        refs += [
            (f"evidence[{i}].story_id", "story", e.story_id) for i, e in enumerate(record.evidence)
        ]
        refs += [(f"themes[{i}]", "theme", t) for i, t in enumerate(record.themes)]
    elif isinstance(record, Outcome):
        refs += [(f"insight_ids[{i}]", "insight", s) for i, s in enumerate(record.insight_ids)]
    elif isinstance(record, Feedback):
        refs.append(("contributor_id", "contributor", record.contributor_id))
        refs += [(f"story_ids[{i}]", "story", s) for i, s in enumerate(record.story_ids)]
        if record.insight_id is not None:
            refs.append(("insight_id", "insight", record.insight_id))
        if record.outcome_id is not None:
            refs.append(("outcome_id", "outcome", record.outcome_id))
    elif isinstance(record, Activity):
        refs += [
            (f"contributor_ids[{i}]", "contributor", c)
            for i, c in enumerate(record.contributor_ids)
        ]
    elif isinstance(record, Proposal):
        refs += [(f"story_ids[{i}]", "story", s) for i, s in enumerate(record.story_ids)]
        if record.activity_id is not None:
            refs.append(("activity_id", "activity", record.activity_id))
    elif isinstance(record, LivedAnswer):
        if record.proposal_id is not None:
            refs.append(("proposal_id", "proposal", record.proposal_id))
        refs += [(f"story_ids[{i}]", "story", s) for i, s in enumerate(record.story_ids)]
        if record.activity_id is not None:
            refs.append(("activity_id", "activity", record.activity_id))
        refs += [(f"insight_ids[{i}]", "insight", s) for i, s in enumerate(record.insight_ids)]
    elif isinstance(record, Involvement):
        refs.append(("contributor_id", "contributor", record.contributor_id))
        refs.append(("activity_id", "activity", record.activity_id))
    return refs


def index_columns(record: Any) -> tuple[str | None, str | None]:
    """The ``status`` and ``domain`` columns of a record's row."""
    if isinstance(record, Insight):
        return str(record.status), str(record.domain)
    if isinstance(record, Outcome):
        return str(record.status), None
    if isinstance(record, Feedback):
        return str(record.status), None
    return None, None


def describe(kind: str, record_id: str) -> str:
    """How errors name a record: ``story 's-1'``."""
    return f"{kind} {record_id!r}"
