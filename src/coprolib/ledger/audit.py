"""The audit chain: entries hashed in sequence, and the digests of the rows they describe.

Entry ``n`` stores ``prev_hash`` (the hash of entry ``n-1``; 64 zeros for the first) and ``hash``,
the SHA-256 of its own fields with ``prev_hash``. Editing, removing or reordering an entry breaks
the chain at that entry. Each row-changing entry also records the digest of the row as written,
so verification can recompute every current row against its latest entry.

An entry's ``scope`` says what its digest is: ``"row"``, the digest of the one row named by
``ref``; ``"note"``, a digest of ids for an action that changed no row; ``"rows"``, for a run of
two or more row changes with the same action written together (a bulk import, a batch of
deliveries), the SHA-256 of the JSON list of their ``[ref, digest]`` pairs (:func:`rows_list`),
stored in ``audit_rows`` under the entry's ``seq``. Every row change is still chained, at one
entry hash per batch instead of one per row, and any edit of the list breaks that entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from coprolib.ledger.codec import dumps, framed_digest

GENESIS = "0" * 64


def entry_hash(
    seq: int, at: str, actor: str, action: str, scope: str, ref: str, digest: str, prev_hash: str
) -> str:
    """The hash of one audit entry, chaining it to the previous one."""
    return framed_digest(("audit", seq, at, actor, action, scope, ref, digest, prev_hash))


def rows_list(changes: list[tuple[str, str]]) -> str:
    """The ``audit_rows`` text of a ``"rows"`` entry: its ``(ref, digest)`` pairs as JSON."""
    return dumps(changes)


def rows_digest(text: str) -> str:
    """The digest a ``"rows"`` entry records for its :func:`rows_list` text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_rows_list(text: str) -> list[tuple[str, str]]:
    """The ``(ref, digest)`` pairs of a :func:`rows_list` text."""
    return [(str(ref), str(digest)) for ref, digest in json.loads(text)]


def note_digest(*parts: str) -> str:
    """A digest for a note entry (ids and counts only go in)."""
    return hashlib.sha256(dumps(list(parts)).encode("utf-8")).hexdigest()


def utc_text(moment: dt.datetime) -> str:
    """A timestamp as fixed-width UTC text that sorts in time order."""
    if moment.tzinfo is None:
        raise ValueError("needs a time zone")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_utc_text(text: str) -> dt.datetime:
    """Parse :func:`utc_text` output back to an aware datetime."""
    if len(text) == 27 and text[10] == "T" and text[-1] == "Z":
        # the shape utc_text writes: fromisoformat reads it the same, many times faster
        return dt.datetime.fromisoformat(text)
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def now_text() -> str:
    """The current time as :func:`utc_text`."""
    return utc_text(dt.datetime.now(dt.UTC))
