"""Verifying what the audit chain does not hash row by row but what still decides.

The chain covers ``records``, ``consent_events``, ``shares``, ``receipts`` and ``jobs`` row by
row (:mod:`coprolib.ledger.verify`). Everything else that can change a decision is checked here:

- derived tables, rebuilt from the chained rows and compared: ``record_refs`` (from each
  record's references), ``consent_state`` and ``consent_purposes`` (each consent folded from
  its header and events), ``story_access`` (from ``record_refs`` and ``consent_purposes`` with
  the same query that maintains it) and ``share_stories`` (from each share's ``story_ids``);
- ``coprolib_migrations``, compared with the migrations this code knows, up to the stored
  schema version; and ``coprolib_meta``: the ledger marker, the schema version, and the key id
  against the last key change in the chain (``audit_head`` is checked with the chain).

Tables are compared by a fingerprint of their rows (count and sum of row hashes), so memory
stays flat however big the ledger, and the records are read once for all three tables derived
from them; only when a table differs is it read again to name a row.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from coprolib.ledger import schema
from coprolib.ledger.backends import Backend
from coprolib.ledger.codec import CLASS_BY_KIND, references
from coprolib.ledger.consent_store import _consent_state_rows
from coprolib.ledger.schema import _ALL_STORIES, ACCESS_ROWS, LEDGER_MARK
from coprolib.records.convert import StructureError, converter, structure

#: The keys ``coprolib_meta`` may hold.
META_KEYS = frozenset({"ledger", "schema_version", "audit_head", "key_id"})

_PAGE = 1000

Row = tuple[Any, ...]


class _Broken(Exception):
    """A chained row that does not load, so nothing can be derived from it."""


def _fingerprint(rows: Iterable[Row]) -> tuple[int, int]:
    """Count and sum of row hashes: equal for equal multisets of rows. Python's own hash is
    keyed per process (both sides are hashed in this one), so edits cannot be made to
    collide on purpose."""
    count, total = 0, 0
    for row in rows:
        count += 1
        total += hash(row)
    return count, total & 0xFFFFFFFFFFFFFFFF


def _first_difference(expected: Iterable[Row], actual: Iterable[Row]) -> str:
    want = Counter(expected)
    have = Counter(actual)
    extra = sorted(have - want, key=repr)
    if extra:
        return f"the row {list(extra[0])!r} is not derived from the chained records"
    missing = sorted(want - have, key=repr)
    if missing:
        return f"the row {list(missing[0])!r} is missing"
    return "its rows differ from the chained records"


def _compare(
    table: str,
    expected: Callable[[], Iterator[Row]],
    actual: Callable[[], Iterator[Row]],
    known: tuple[int, int] | None = None,
) -> str | None:
    """``known``: the expected fingerprint, when a shared pass computed it already."""
    if (known or _fingerprint(expected())) == _fingerprint(actual()):
        return None
    return f"{table}: {_first_difference(expected(), actual())} (was it edited by hand?)"


def _records(db: Backend) -> Iterator[tuple[str, str, Any]]:
    """``(kind, id, record)`` for every chained record; consents with their events."""
    last = 0
    while True:
        rows = db.query(
            f"SELECT seq, kind, id, data FROM records WHERE seq > ? ORDER BY seq LIMIT {_PAGE}",
            (last,),
        )
        consent_ids = [r[2] for r in rows if r[1] == "consent"]
        events: dict[str, list[Any]] = {}
        if consent_ids:
            marks = ",".join("?" * len(consent_ids))
            for cid, text in db.query(
                f"SELECT consent_id, data FROM consent_events WHERE consent_id IN ({marks})"
                " ORDER BY consent_id, version",
                consent_ids,
            ):
                events.setdefault(cid, []).append(json.loads(text))
        for _seq, kind, rec_id, text in rows:
            cls = CLASS_BY_KIND.get(kind)
            try:
                data = json.loads(text)
                if kind == "consent":
                    data["events"] = events.get(rec_id, [])
                if cls is None:
                    raise StructureError([])
                try:
                    record = converter.get_structure_hook(cls)(data, cls)
                except Exception:  # the slow path names the problem, or loads after all
                    record = structure(data, cls, kind)
            except (ValueError, TypeError, StructureError):
                raise _Broken(f"records: the row {kind}:{rec_id} does not load") from None
            yield kind, rec_id, record
        if len(rows) < _PAGE:
            return
        last = int(rows[-1][0])


def _expected_refs(db: Backend) -> Iterator[Row]:
    for kind, rec_id, record in _records(db):
        seen = dict.fromkeys((ref_kind, ref_id) for _f, ref_kind, ref_id in references(record))
        for ref_kind, ref_id in seen:
            yield (kind, rec_id, ref_kind, ref_id)


def _expected_state(db: Backend) -> Iterator[Row]:
    for kind, _id, record in _records(db):
        if kind == "consent":
            yield _consent_state_rows(record)[0]


def _expected_purposes(db: Backend) -> Iterator[Row]:
    for kind, _id, record in _records(db):
        if kind == "consent":
            yield from _consent_state_rows(record)[1]


def _expected_share_stories(db: Backend) -> Iterator[Row]:
    for share_id, text in db.stream("SELECT id, data FROM shares"):
        try:
            story_ids = json.loads(text).get("story_ids", [])
        except (ValueError, AttributeError):
            raise _Broken(f"shares: the row share:{share_id} does not load") from None
        for sid in dict.fromkeys(story_ids):
            yield (sid, share_id)


def _table(db: Backend, sql: str) -> Callable[[], Iterator[Row]]:
    return lambda: (tuple(r) for r in db.stream(sql))


def _record_fingerprints(db: Backend) -> dict[str, tuple[int, int]]:
    """The expected fingerprints of the tables derived from records, in one pass over them."""
    refs, state, purposes = [0, 0], [0, 0], [0, 0]
    for kind, rec_id, record in _records(db):
        seen = dict.fromkeys((ref_kind, ref_id) for _f, ref_kind, ref_id in references(record))
        refs[0] += len(seen)
        refs[1] += sum(hash((kind, rec_id, rk, ri)) for rk, ri in seen)
        if kind == "consent":
            row, rows = _consent_state_rows(record)
            state[0] += 1
            state[1] += hash(row)
            purposes[0] += len(rows)
            purposes[1] += sum(hash(r) for r in rows)
    mask = 0xFFFFFFFFFFFFFFFF
    return {
        "record_refs": (refs[0], refs[1] & mask),
        "consent_state": (state[0], state[1] & mask),
        "consent_purposes": (purposes[0], purposes[1] & mask),
    }


def check_derived(db: Backend) -> str | None:
    """The first derived table, migration or meta row that does not match what the chained
    records and this code say it must be, as a one-line reason naming the table; or None."""
    try:
        known = _record_fingerprints(db)
    except _Broken as exc:
        return str(exc)
    checks: list[tuple[str, Callable[[], Iterator[Row]], Callable[[], Iterator[Row]]]] = [
        (
            "record_refs",
            lambda: _expected_refs(db),
            _table(db, "SELECT kind, id, ref_kind, ref_id FROM record_refs"),
        ),
        (
            "consent_state",
            lambda: _expected_state(db),
            _table(
                db,
                "SELECT consent_id, contributor_id, all_stories, status, version, expires"
                " FROM consent_state",
            ),
        ),
        (
            "consent_purposes",
            lambda: _expected_purposes(db),
            _table(
                db,
                "SELECT consent_id, purpose, contributor_id, all_stories, expires"
                " FROM consent_purposes",
            ),
        ),
        (
            "story_access",
            _table(db, ACCESS_ROWS.format(ids=_ALL_STORIES)),
            _table(db, "SELECT theme, purpose, story_id, expires FROM story_access"),
        ),
        (
            "share_stories",
            lambda: _expected_share_stories(db),
            _table(db, "SELECT story_id, share_id FROM share_stories"),
        ),
    ]
    try:
        for table, expected, actual in checks:
            reason = _compare(table, expected, actual, known.get(table))
            if reason is not None:
                return reason
    except _Broken as exc:
        return str(exc)
    return _check_schema(db)


def _check_schema(db: Backend) -> str | None:
    meta = dict(db.query("SELECT key, value FROM coprolib_meta"))
    unknown = sorted(set(meta) - META_KEYS)
    if unknown:
        return f"coprolib_meta: the key {unknown[0]!r} is not one the ledger writes"
    if meta.get("ledger") != LEDGER_MARK:
        return "coprolib_meta: the ledger marker was changed"
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        return "coprolib_meta: the schema version is not a number"
    known = {m.version: m.name for m in schema.MIGRATIONS}
    expected = [(v, known[v]) for v in range(1, version + 1) if v in known]
    if len(expected) != version:
        return f"coprolib_meta: schema version {version} is not one this coprolib wrote"
    reason = _compare(
        "coprolib_migrations",
        lambda: iter(expected),
        _table(db, "SELECT version, name FROM coprolib_migrations"),
    )
    if reason is not None:
        return reason
    return _check_key_id(db, meta.get("key_id"))


def _check_key_id(db: Backend, stored: str | None) -> str | None:
    """The stored key id against the last key change the chain records."""
    row = db.query_one(
        "SELECT ref FROM audit WHERE action IN ('encryption_on', 'rekey') AND scope = 'note'"
        " ORDER BY seq DESC LIMIT 1"
    )
    if row is None:
        if stored is not None:
            return "coprolib_meta: a key id is set but no key change is in the audit chain"
        return None
    ref = str(row[0])
    if stored is None:
        return "coprolib_meta: the key id was removed (the audit chain records a key)"
    prefix = "ledger:key:"
    if ref.startswith(prefix) and ref[len(prefix) :] != stored:
        return (
            f"coprolib_meta: the key id is {stored} but the audit chain's last key change "
            f"set {ref[len(prefix) :]}"
        )
    return None
