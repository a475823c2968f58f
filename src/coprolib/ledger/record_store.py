"""Records in the ledger: add, import, get, list with filters, replace.

A record is one row of ``records`` (JSON data plus ``status``/``domain`` columns) with its
references and themes in ``record_refs``. A consent's header is written once, here; its events,
folded state and the stories' theme/purpose index are the consent store's
(:mod:`coprolib.ledger.consent_store`), which this store writes through when it adds consents
and stories.
"""

from __future__ import annotations

import builtins
import datetime as dt
import itertools
import json
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import attrs

from coprolib.ledger.backends import is_integrity_error
from coprolib.ledger.codec import (
    CLASS_BY_KIND,
    KIND_ORDER,
    index_columns,
    kind_of,
    references,
    row_digest,
)
from coprolib.ledger.consent_store import (
    _PURPOSE_COLUMNS,
    _STATE_COLUMNS,
    ConsentStore,
    _consent_state_rows,
)
from coprolib.ledger.core import LedgerCore
from coprolib.ledger.errors import LedgerError
from coprolib.records import BUNDLE_TYPES
from coprolib.records.convert import converter, unstructure

T = TypeVar("T")

#: Which ``list`` filters apply to which kinds of record.
FILTERS: dict[str, frozenset[str]] = {
    "contributor": frozenset({"story", "activity", "consent", "feedback", "involvement"}),
    "story": frozenset({"consent", "insight", "feedback"}),
    "theme": frozenset({"story", "insight"}),
    "status": frozenset({"consent", "insight", "outcome", "feedback"}),
    "domain": frozenset({"insight"}),
    "insight": frozenset({"outcome", "feedback"}),
    "purpose": frozenset({"story"}),
}

_CHUNK = 2000
#: A stream this long has the planner's statistics refreshed, then again each time it grows 4x.
_ANALYZE_FROM = 6000
_PAGE = 500


def record_digest(
    kind: str, rec_id: str, data: str, status: str | None, domain: str | None, erased: int
) -> str:
    """The digest of a ``records`` row."""
    return row_digest("records", (kind, rec_id, data, status, domain, erased))


_RECORD_COLUMNS = ("kind", "id", "data", "status", "domain", "erased")


class RecordStore:
    """Records on the ledger's shared core (connection, transactions, field encryption,
    audit): adding, importing, reading, filtering and replacing them. A consent's events and
    state and the stories' index go through the :class:`ConsentStore` it is given."""

    def __init__(self, core: LedgerCore, consent: ConsentStore) -> None:
        # Weak, so a ledger holding this store is freed (and its connection closed) as soon as
        # nothing else holds it; no reference cycle. The core holds this store strongly, to
        # call its per-transaction hooks.
        self._core: LedgerCore = weakref.proxy(core)
        #: Where a consent's events, state and index entries are written.
        self._consent = consent
        consent.attach(self)
        self.reset_tx()
        core._tx_hooks.append(self)

    # Per transaction (set by reset_tx, which the core calls as every transaction begins).
    _held: dict[str, bool]

    def reset_tx(self) -> None:
        """The core's hook: forget what the last transaction wrote."""
        self._held = {}

    def refresh_access(self, story_ids: builtins.list[str]) -> None:
        """The core's hook before commit: the index is the consent store's."""

    def _held_before(self, kind: str) -> bool:
        """Whether the ledger held records of ``kind`` when this transaction first wrote one:
        if not, every id it could clash with is one this transaction wrote (``_tx_ids``), and
        a concurrent writer's is caught by the unique key."""
        held = self._held.get(kind)
        if held is None:
            row = self._core._db.query_one("SELECT 1 FROM records WHERE kind = ? LIMIT 1", (kind,))
            held = self._held[kind] = row is not None
        return held

    # --- writing ------------------------------------------------------------------------

    def add(self, records: Any) -> dict[str, int]:
        """Add one record or an iterable of records, all or nothing.

        Raises :class:`LedgerError` naming the record and field for a duplicate id or a reference
        to a contributor, story, activity, insight or outcome the ledger does not hold (records
        added in the same call or transaction count). Returns counts per bundle key."""
        if attrs.has(type(records)):
            records = (records,)
        with self._core.transaction():
            return self._add_stream(records, None)

    def import_bundle(self, bundle: Any) -> dict[str, int]:
        """Import a :class:`~coprolib.records.bundle.Bundle` (or anything with a tuple per bundle key),
        all or nothing. Returns counts per bundle key."""
        ordered = itertools.chain.from_iterable(
            getattr(bundle, key, ()) for key in _bundle_keys_in_order()
        )
        with self._core.transaction():
            return self._add_stream(ordered, None)

    def import_records(
        self, records: Iterable[Any], progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Import a stream of records (e.g. from :func:`coprolib.records.bundle.iter_jsonl`) in one
        transaction without holding them all in memory. ``progress(n)`` is called with the
        number of records written so far after each chunk."""
        with self._core.transaction():
            return self._add_stream(records, progress)

    def _add_stream(
        self, records: Iterable[Any], progress: Callable[[int], None] | None
    ) -> dict[str, int]:
        counts = {key: 0 for key in BUNDLE_TYPES}
        key_of = _KEY_BY_KIND
        done = 0
        next_analyze = _ANALYZE_FROM
        it = iter(records)
        while True:
            chunk = list(itertools.islice(it, _CHUNK))
            if not chunk:
                break
            by_kind: dict[str, list[Any]] = {}
            for rec in chunk:
                try:
                    kind = kind_of(rec)
                except TypeError as exc:
                    raise LedgerError(str(exc)) from None
                by_kind.setdefault(kind, []).append(rec)
            for kind in KIND_ORDER:
                recs = by_kind.get(kind)
                if recs:
                    self._insert_kind(kind, recs)
                    counts[key_of[kind]] += len(recs)
            self._core._access_dirty.update(s.id for s in by_kind.get("story", ()))
            self._core._access_dirty.update(
                self._consent._covered_stories(by_kind.get("consent", []))
            )
            done += len(chunk)
            if done >= next_analyze:
                self._core._db.analyze()
                next_analyze = done * 4
            if progress is not None:
                progress(done)
        return counts

    def _insert_kind(self, kind: str, recs: list[Any]) -> None:
        seen = self._core._tx_ids.setdefault(kind, set())
        fresh: list[str] = []
        for rec in recs:
            if rec.id in seen:
                raise LedgerError(
                    f"the id {rec.id!r} is already used by another {kind}",
                    record=f"{kind} {rec.id!r}",
                    field="id",
                )
            seen.add(rec.id)
            fresh.append(rec.id)
        clash = self._core._existing_ids(kind, fresh) if self._held_before(kind) else set()
        if clash:
            first = next(r.id for r in recs if r.id in clash)
            raise LedgerError(
                f"the id {first!r} is already used by another {kind} in the ledger",
                record=f"{kind} {first!r}",
                field="id",
            )
        rows = []
        ref_rows: list[tuple[str, str, str, str]] = []
        event_rows = []
        state_rows: list[tuple[Any, ...]] = []
        purpose_rows: list[tuple[Any, ...]] = []
        audit = self._core._audit
        encode = self._core._encode
        model = self._consent._access_model
        for rec in recs:
            rec_id = rec.id
            plain = unstructure(rec)
            # A consent's header row leaves out its events, which were unstructured with it
            # and become rows of their own below.
            events = plain.pop("events") if kind == "consent" else None
            data = encode("records", kind, rec_id, plain)
            status, domain = index_columns(rec)
            rows.append((kind, rec_id, data, status, domain, 0))
            audit("add", f"{kind}:{rec_id}", record_digest(kind, rec_id, data, status, domain, 0))
            ref_rows.extend(self._ref_rows(kind, rec))
            if kind == "story":
                model.add_story(rec_id, rec.themes, rec.contributor_ids)
            if events is not None:
                for version, (ev, ev_data) in enumerate(zip(rec.events, events, strict=True), 1):
                    event_rows.append(self._consent._event_row(rec_id, version, ev, ev_data))
                state, purposes = _consent_state_rows(rec)
                state_rows.append(state)
                purpose_rows.extend(purposes)
                model.add_consent(rec.story_ids, purposes)
        # After the records' entries, not between them: a run of one action is one audit entry.
        for row in event_rows:
            self._consent._audit_event(row)
        try:
            self._core._db.bulk_insert("records", _RECORD_COLUMNS, rows)
        except Exception as exc:
            if is_integrity_error(exc):  # another writer got there between check and insert
                raise LedgerError(
                    f"an id in this batch of {kind} records is already used "
                    "(added by another writer at the same time)"
                ) from None
            raise
        self._core._db.bulk_insert("record_refs", ("kind", "id", "ref_kind", "ref_id"), ref_rows)
        if kind == "consent":
            self._core._db.bulk_insert(
                "consent_events", ("consent_id", "version", "at", "data"), event_rows
            )
            self._core._db.bulk_insert("consent_state", _STATE_COLUMNS, state_rows)
            self._core._db.bulk_insert("consent_purposes", _PURPOSE_COLUMNS, purpose_rows)

    def _ref_rows(self, kind: str, rec: Any) -> list[tuple[str, str, str, str]]:
        out: list[tuple[str, str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        known = self._core._tx_ids
        for field, ref_kind, ref_id in references(rec):
            if (ref_kind, ref_id) in seen:
                continue
            seen.add((ref_kind, ref_id))
            out.append((kind, rec.id, ref_kind, ref_id))
            if ref_kind != "theme" and ref_id not in known.get(ref_kind, ()):
                self._core._pending.append((kind, rec.id, field, ref_kind, ref_id))
        return out

    def replace(self, record: Any) -> None:
        """Store a new version of an existing record (not a consent: append events instead)."""
        kind = kind_of(record)
        where = f"{kind} {record.id!r}"
        if kind == "consent":
            raise LedgerError(
                "a consent is never replaced; append an event with append_consent_event",
                record=where,
            )
        with self._core.transaction():
            row = self._core._db.query_one(
                f"SELECT erased FROM records WHERE kind = ? AND id = ?{self._core._db.for_update}",
                (kind, record.id),
            )
            if row is None:
                raise LedgerError(f"there is no {kind} with this id to replace", record=where)
            if row[0]:
                raise LedgerError(
                    "was erased; an erased record cannot be given new content", record=where
                )
            data = self._core._encode("records", kind, record.id, unstructure(record))
            status, domain = index_columns(record)
            self._core._db.execute(
                "UPDATE records SET data = ?, status = ?, domain = ? WHERE kind = ? AND id = ?",
                (data, status, domain, kind, record.id),
            )
            self._core._db.execute(
                "DELETE FROM record_refs WHERE kind = ? AND id = ?", (kind, record.id)
            )
            self._core._db.bulk_insert(
                "record_refs", ("kind", "id", "ref_kind", "ref_id"), self._ref_rows(kind, record)
            )
            if kind == "story":
                self._core._access_dirty.add(record.id)
                self._consent._access_model.drop()
            self._core._audit(
                "replace",
                f"{kind}:{record.id}",
                record_digest(kind, record.id, data, status, domain, 0),
            )

    # --- reading ------------------------------------------------------------------------

    def get(self, cls: type[T], record_id: str) -> T | None:
        """The record of type ``cls`` with this id, or ``None``."""
        kind = _kind_of_cls(cls)
        row = self._core._db.query_one(
            "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, record_id)
        )
        if row is None:
            return None
        return self._rows_to_records(cls, kind, [(record_id, row[0])])[0]  # type: ignore[no-any-return]

    def _rows_to_records(self, cls: type[Any], kind: str, rows: list[tuple[str, str]]) -> list[Any]:
        events: dict[str, list[Any]] = {}
        if kind == "consent" and rows:
            ids = [r[0] for r in rows]
            marks = ",".join("?" * len(ids))
            for cid, version, text in self._core._db.query(
                "SELECT consent_id, version, data FROM consent_events"
                f" WHERE consent_id IN ({marks}) ORDER BY consent_id, version",
                ids,
            ):
                events.setdefault(cid, []).append(
                    self._core._plain("consent_events", "consent_event", f"{cid}:{version}", text)
                    if self._core._key_id is not None
                    else _json(text)
                )
        out = []
        # The converter's hook for the class, looked up once per page rather than per row;
        # a row it rejects goes through _load, which names the record and the problem.
        hook = converter.get_structure_hook(cls)
        plain = self._core._plain if self._core._key_id is not None else None
        loads = json.loads
        for rec_id, text in rows:
            data = loads(text) if plain is None else plain("records", kind, rec_id, text)
            if kind == "consent":
                data["events"] = events.get(rec_id, [])
            try:
                out.append(hook(data, cls))
            except Exception:
                out.append(self._core._load(cls, kind, rec_id, data))
        return out

    def list(
        self,
        cls: type[T],
        *,
        contributor: str | None = None,
        story: str | None = None,
        theme: str | None = None,
        status: str | None = None,
        domain: str | None = None,
        insight: str | None = None,
        purpose: str | None = None,
    ) -> Iterator[T]:
        """Records of type ``cls`` in the order they were added, filtered.

        ``contributor``: stories, activities, consents, feedback of that contributor.
        ``story``: consents covering the story (listed, or all of a contributor's stories),
        insights with it as evidence, feedback about it. ``theme``: stories and insights.
        ``status``: consents (current status), insights, outcomes (latest), feedback.
        ``domain``: insights. ``insight``: outcomes and feedback. ``purpose``: stories with at
        least one covering consent whose current terms allow that purpose and have not expired.
        A filter that does not apply to ``cls`` raises :class:`LedgerError`."""
        kind = _kind_of_cls(cls)
        given = {
            "contributor": contributor,
            "story": story,
            "theme": theme,
            "status": status,
            "domain": domain,
            "insight": insight,
            "purpose": purpose,
        }
        where = ["r.kind = ?"]
        params: list[Any] = [kind]
        for name, value in given.items():
            if value is None:
                continue
            if kind not in FILTERS[name]:
                raise LedgerError(f"cannot filter {kind} records by {name}")
            clause, args = self._filter(kind, name, str(value))
            where.append(clause)
            params.extend(args)
        sql = (
            f"SELECT r.seq, r.id, r.data FROM records r WHERE {' AND '.join(where)}"
            f" AND r.seq > ? ORDER BY r.seq LIMIT {_PAGE}"
        )
        return self._pages(cls, kind, sql, params)

    def _pages(
        self, cls: type[Any], kind: str, sql: str, params: builtins.list[Any]
    ) -> Iterator[Any]:
        last = 0
        while True:
            rows = self._core._db.query(sql, (*params, last))
            if not rows:
                return
            last = rows[-1][0]
            yield from self._rows_to_records(cls, kind, [(r[1], r[2]) for r in rows])
            if len(rows) < _PAGE:
                return

    def _filter(self, kind: str, name: str, value: str) -> tuple[str, builtins.list[Any]]:
        ref_in = (
            "r.id IN (SELECT x.id FROM record_refs x WHERE x.ref_kind = ?"
            " AND x.ref_id = ? AND x.kind = ?)"
        )
        if name == "status" and kind == "consent":
            return (
                "r.id IN (SELECT cs.consent_id FROM consent_state cs WHERE cs.status = ?)",
                [value],
            )
        if name == "status":
            return "r.status = ?", [value]
        if name == "domain":
            return "r.domain = ?", [value]
        if name == "story" and kind == "consent":
            return (
                "(" + ref_in + " OR r.id IN (SELECT cs.consent_id FROM consent_state cs"
                " JOIN record_refs sc ON sc.ref_id = cs.contributor_id"
                " WHERE sc.kind = 'story' AND sc.id = ? AND sc.ref_kind = 'contributor'"
                " AND cs.all_stories = 1))",
                ["story", value, kind, value],
            )
        if name == "purpose":
            today = dt.date.today().isoformat()
            return (
                "(EXISTS (SELECT 1 FROM record_refs cr JOIN consent_purposes cp"
                " ON cp.consent_id = cr.id WHERE cr.ref_kind = 'story' AND cr.ref_id = r.id"
                " AND cr.kind = 'consent' AND cp.purpose = ?"
                " AND (cp.expires IS NULL OR cp.expires >= ?))"
                " OR EXISTS (SELECT 1 FROM record_refs sc JOIN consent_purposes cp"
                " ON cp.contributor_id = sc.ref_id WHERE sc.kind = 'story' AND sc.id = r.id"
                " AND sc.ref_kind = 'contributor' AND cp.purpose = ? AND cp.all_stories = 1"
                " AND (cp.expires IS NULL OR cp.expires >= ?)))",
                [value, today, value, today],
            )
        return ref_in, [name, value, kind]

    def get_many(self, cls: type[T], record_ids: Iterable[str]) -> dict[str, T]:
        """The records of type ``cls`` with these ids, by id (ids not found are left out): one
        query per 500 ids."""
        kind = _kind_of_cls(cls)
        ids = sorted(set(record_ids))
        out: dict[str, T] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._core._db.query(
                f"SELECT id, data FROM records WHERE kind = ? AND id IN ({marks})", (kind, *chunk)
            )
            for record in self._rows_to_records(cls, kind, [(r[0], r[1]) for r in rows]):
                out[record.id] = record
        return out

    def count(self, cls: type[Any]) -> int:
        """How many records of this type the ledger holds (erased tombstones included)."""
        row = self._core._db.query_one(
            "SELECT count(*) FROM records WHERE kind = ?", (_kind_of_cls(cls),)
        )
        return int(row[0]) if row else 0

    def is_erased(self, cls: type[Any], record_id: str) -> bool:
        """Whether the record is an erasure tombstone."""
        row = self._core._db.query_one(
            "SELECT erased FROM records WHERE kind = ? AND id = ?", (_kind_of_cls(cls), record_id)
        )
        return bool(row and row[0])


def _json(text: str) -> Any:
    return json.loads(text)


def _bundle_keys_in_order() -> list[str]:
    by_kind = {_kind_of_cls(cls): key for key, cls in BUNDLE_TYPES.items()}
    return [by_kind[k] for k in KIND_ORDER]


def _kind_of_cls(cls: type[Any]) -> str:
    for kind, c in CLASS_BY_KIND.items():
        if c is cls:
            return kind
    raise LedgerError(f"the ledger stores coprolib records, not {getattr(cls, '__name__', cls)}")


#: Bundle key by record kind (``"story"`` -> ``"stories"``).
_KEY_BY_KIND: dict[str, str] = {_kind_of_cls(cls): key for key, cls in BUNDLE_TYPES.items()}
