"""Consent in the ledger: appending events, locking a consent, reading consents, and the
stories' theme/purpose index.

A consent's header is a row of ``records`` (see :mod:`coprolib.ledger.record_store`); its events
are rows of ``consent_events`` that are only ever appended. ``consent_state`` and
``consent_purposes`` hold the folded current terms, and ``story_access`` one row per (theme,
allowed purpose, story), so "stories with theme X whose consent allows purpose Y" is one indexed
range scan. The index is brought up to date just before each commit, for the stories the
transaction touched.
"""

from __future__ import annotations

import builtins
import datetime as dt
import itertools
import json
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from coprolib.ledger.audit import utc_text
from coprolib.ledger.codec import row_digest
from coprolib.ledger.core import LedgerCore
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.schema import ACCESS_ROWS
from coprolib.records import Consent, ConsentEvent, RecordError
from coprolib.records.convert import unstructure

if TYPE_CHECKING:
    from coprolib.ledger.record_store import RecordStore

#: More stories than this to re-index go through a temporary table in one pass.
_ACCESS_BULK = 2000

#: An import of more stories than this stops keeping them in memory for the access index
#: (about 0.5 KB each) and leaves the index to SQL at commit, so memory stays bounded.
_ACCESS_MODEL_MAX = 250_000

_INSERT_EVENT = "INSERT INTO consent_events (consent_id, version, at, data) VALUES (?, ?, ?, ?)"


def event_digest(consent_id: str, version: int, at: str, data: str) -> str:
    """The digest of a ``consent_events`` row."""
    return row_digest("consent_events", (consent_id, version, at, data))


_STATE_COLUMNS = ("consent_id", "contributor_id", "all_stories", "status", "version", "expires")
_PURPOSE_COLUMNS = ("consent_id", "purpose", "contributor_id", "all_stories", "expires")


def _consent_state_rows(
    consent: Consent,
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The folded current state of a consent, as a ``consent_state`` row and the
    ``consent_purposes`` rows of the purposes its terms allow now."""
    state = consent.state_at(consent.events[-1].at)
    all_stories = 0 if consent.story_ids else 1
    expires = None
    if state.terms is not None and state.terms.expires is not None:
        expires = state.terms.expires.isoformat()
    row = (consent.id, consent.contributor_id, all_stories, state.status, state.version, expires)
    purposes = []
    if state.terms is not None:
        purposes = [
            (consent.id, str(p), consent.contributor_id, all_stories, expires)
            for p in state.terms.purposes
        ]
    return row, purposes


#: (purpose, expires) that a consent's current terms allow.
_Grant = tuple[str, str | None]


class _AccessModel:
    """What a transaction wrote that ``story_access`` depends on, so rows for the stories it
    added can be computed without reading back what it has just written: each new story's
    themes and contributors, and the grants of each new consent (by contributor when it
    covers all their stories, else by story). Any other change to consent state or to a
    new story's refs makes it ``stale`` and every story goes through SQL."""

    def __init__(self) -> None:
        self.stories: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.by_contributor: dict[str, list[_Grant]] = {}
        self.by_story: dict[str, list[_Grant]] = {}
        self.stale = False
        # Themes repeat across stories: keep one string object per theme.
        self._names: dict[str, str] = {}

    def add_story(
        self, story_id: str, themes: tuple[str, ...], contributors: tuple[str, ...]
    ) -> None:
        if self.stale:
            return
        if len(self.stories) >= _ACCESS_MODEL_MAX:
            self.drop()
            return
        names = self._names
        unique = tuple(names.setdefault(t, t) for t in dict.fromkeys(themes))
        self.stories[story_id] = (unique, contributors)

    def drop(self) -> None:
        """Give up on the model (SQL computes every row) and free what it held."""
        self.stale = True
        self.stories, self.by_contributor, self.by_story = {}, {}, {}

    def add_consent(self, story_ids: tuple[str, ...], purposes: list[tuple[Any, ...]]) -> None:
        if self.stale:
            return
        for _cid, purpose, contributor_id, all_stories, expires in purposes:
            grant = (purpose, expires)
            if all_stories:
                self.by_contributor.setdefault(contributor_id, []).append(grant)
            else:
                for sid in story_ids:
                    self.by_story.setdefault(sid, []).append(grant)

    def rows(
        self, story_ids: Iterable[str], earlier: dict[str, list[_Grant]]
    ) -> Iterator[tuple[str, str, str, str | None]]:
        """``story_access`` rows of these (new) stories; ``earlier``: grants by contributor
        from the database, for contributors this transaction did not add. Same result as
        ``ACCESS_ROWS``: one row per (theme, purpose), expiring at the latest expiry of the
        grants for it, or never if any grant never expires."""
        by_contributor = self.by_contributor
        by_story = self.by_story
        for sid in story_ids:
            themes, contributors = self.stories[sid]
            if not themes:
                continue
            allowed: dict[str, str | None] = {}
            grants: list[_Grant] = list(by_story.get(sid, ()))
            for c in contributors:
                grants += by_contributor.get(c, ())
                grants += earlier.get(c, ())
            for purpose, expires in grants:
                if purpose in allowed:
                    have = allowed[purpose]
                    if have is None or expires is None:
                        allowed[purpose] = None
                    elif expires > have:
                        allowed[purpose] = expires
                else:
                    allowed[purpose] = expires
            for theme in themes:
                for purpose, expires in allowed.items():
                    yield (theme, purpose, sid, expires)


class ConsentStore:
    """Consent events, consent state and the stories' theme/purpose index, on the ledger's
    shared core. Consent headers are records: they are read through the ledger's
    :class:`~coprolib.ledger.record_store.RecordStore`, which in turn writes a new consent's
    events, state and index entries through this store."""

    def __init__(self, core: LedgerCore) -> None:
        # Weak, as in every store: the core (the ledger) holds the stores, not the reverse.
        self._core: LedgerCore = weakref.proxy(core)
        self._records_ref: weakref.ReferenceType[RecordStore] | None = None
        self.reset_tx()
        core._tx_hooks.append(self)

    def attach(self, records: RecordStore) -> None:
        """Read consent headers through ``records`` (which holds this store)."""
        self._records_ref = weakref.ref(records)

    @property
    def _records(self) -> RecordStore:
        records = None if self._records_ref is None else self._records_ref()
        if records is None:
            raise LedgerError("internal: the consent store has no record store")
        return records

    # Per transaction (set by reset_tx, which the core calls as every transaction begins).
    _access_model: _AccessModel

    def reset_tx(self) -> None:
        """The core's hook: forget what the last transaction wrote."""
        self._access_model = _AccessModel()

    def _event_row(
        self, consent_id: str, version: int, ev: ConsentEvent, plain: Any = None
    ) -> tuple[Any, ...]:
        """A ``consent_events`` row (free text encrypted when the ledger has a key);
        ``plain`` is ``ev`` already unstructured."""
        data = unstructure(ev) if plain is None else plain
        return (
            consent_id,
            version,
            utc_text(ev.at),
            self._core._encode("consent_events", "consent_event", f"{consent_id}:{version}", data),
        )

    def _audit_event(self, row: tuple[Any, ...]) -> None:
        consent_id, version, at, data = row
        self._core._audit(
            "consent_event",
            f"consent_event:{consent_id}:{version}",
            event_digest(consent_id, version, at, data),
        )

    def _write_consent_state(self, consent: Consent) -> None:
        self._access_model.drop()
        state, purposes = _consent_state_rows(consent)
        self._core._db.execute("DELETE FROM consent_state WHERE consent_id = ?", (consent.id,))
        self._core._db.execute("DELETE FROM consent_purposes WHERE consent_id = ?", (consent.id,))
        self._core._db.bulk_insert("consent_state", _STATE_COLUMNS, [state])
        self._core._db.bulk_insert("consent_purposes", _PURPOSE_COLUMNS, purposes)

    def _covered_stories(self, consents: builtins.list[Consent]) -> set[str]:
        """Ids of the stories the consents cover (listed, or all their contributor's)."""
        out: set[str] = set()
        # A contributor this transaction added has no stories but the ones it added, and
        # those are marked already.
        added = self._core._tx_ids.get("contributor", ())
        everyone = sorted(
            {
                c.contributor_id
                for c in consents
                if not c.story_ids and c.contributor_id not in added
            }
        )
        for c in consents:
            out.update(c.story_ids)
        out |= self._core._first_column_in(
            "SELECT id FROM record_refs WHERE ref_kind = 'contributor' AND kind = 'story'"
            " AND ref_id {in_}",
            (),
            everyone,
        )
        return out

    def refresh_access(self, story_ids: builtins.list[str]) -> None:
        """The core's hook before commit: recompute ``story_access`` rows for these stories (themes x allowed purposes).
        Stories this transaction added have no rows yet; theirs are computed from what it
        wrote (see :class:`_AccessModel`). The others go through SQL: in slices of ids for a
        few, in one set-based pass through a temporary table for many."""
        model = self._access_model
        if not model.stale and model.stories:
            new = [s for s in story_ids if s in model.stories]
            if new:
                self._insert_new_access(new)
                if len(new) == len(story_ids):
                    return
                known = model.stories
                story_ids = [s for s in story_ids if s not in known]
        self._refresh_access_sql(story_ids)

    def _insert_new_access(self, story_ids: builtins.list[str]) -> None:
        model = self._access_model
        added = self._core._tx_ids.get("contributor", set())
        older = sorted({c for s in story_ids for c in model.stories[s][1] if c not in added})
        earlier: dict[str, list[_Grant]] = {}
        if older:
            rows = self._core._db.query(
                "SELECT contributor_id, purpose, expires FROM consent_purposes"
                " WHERE all_stories = 1 AND contributor_id = ANY(?)"
                if self._core._db.dialect == "postgres"
                else "SELECT contributor_id, purpose, expires FROM consent_purposes"
                " WHERE all_stories = 1 AND contributor_id IN (SELECT value FROM json_each(?))",
                (older if self._core._db.dialect == "postgres" else json.dumps(older),),
            )
            for contributor_id, purpose, expires in rows:
                earlier.setdefault(contributor_id, []).append((purpose, expires))
        columns = ("theme", "purpose", "story_id", "expires")
        it = model.rows(story_ids, earlier)
        while True:
            batch = list(itertools.islice(it, 5000))
            if not batch:
                break
            self._core._db.bulk_insert("story_access", columns, batch)

    def _refresh_access_sql(self, story_ids: builtins.list[str]) -> None:
        if not story_ids:
            return
        if len(story_ids) > _ACCESS_BULK:
            self._core._db.analyze()
            self._core._db.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS access_dirty (story_id TEXT PRIMARY KEY)"
            )
            self._core._db.execute("DELETE FROM access_dirty")
            self._core._db.bulk_insert("access_dirty", ("story_id",), [(i,) for i in story_ids])
            every = "SELECT story_id FROM access_dirty"
            self._core._db.execute(f"DELETE FROM story_access WHERE story_id IN ({every})")
            # In primary-key order: the index then grows at its end instead of at random.
            self._core._db.execute(
                "INSERT INTO story_access (theme, purpose, story_id, expires)"
                + ACCESS_ROWS.format(ids=every)
                + " ORDER BY theme, purpose, story_id"
            )
            self._core._db.execute("DELETE FROM access_dirty")
            return
        for i in range(0, len(story_ids), 400):
            chunk = story_ids[i : i + 400]
            marks = ",".join("?" * len(chunk))
            self._core._db.execute(f"DELETE FROM story_access WHERE story_id IN ({marks})", chunk)
            self._core._db.execute(
                "INSERT INTO story_access (theme, purpose, story_id, expires)"
                + ACCESS_ROWS.format(ids=marks),
                (*chunk, *chunk),
            )

    def lock_consent(self, consent_id: str) -> Consent | None:
        """The consent, locked against other writers until the open transaction ends (call
        inside :meth:`transaction`), or None when there is none. A change read-then-written
        under this lock cannot miss another's event."""
        # Lock the consent's row in ``records``: it is updated in place, never deleted and
        # re-inserted as ``consent_state`` is, so on PostgreSQL a writer waiting here sees the
        # version the one before it wrote (a lock on a row that was replaced would be released
        # with no row, and two waiters would both write the same version). SQLite's write
        # transaction already holds the only write lock.
        self._core._db.query_one(
            f"SELECT seq FROM records WHERE kind = 'consent' AND id = ?{self._core._db.for_update}",
            (consent_id,),
        )
        return self._records.get(Consent, consent_id)

    def append_consent_event(self, consent_id: str, event: ConsentEvent) -> Consent:
        """Append an event to a consent (the only way a consent changes); returns the new
        version. Events must not be earlier than the consent's last event."""
        where = f"consent {consent_id!r}"
        if not isinstance(event, ConsentEvent):
            raise LedgerError(f"expected a ConsentEvent, got {type(event).__name__}", record=where)
        with self._core.transaction():
            consent = self.lock_consent(consent_id)
            if consent is None:
                raise LedgerError(
                    "there is no consent with this id to add an event to",
                    record=where,
                    field="consent_id",
                )
            try:
                new = consent.with_event(event)
            except RecordError as exc:
                raise LedgerError(
                    exc.message, record=where, field=f"events[{consent.version}].{exc.field}"
                ) from None
            row = self._event_row(consent_id, new.version, event)
            self._audit_event(row)
            self._core._db.execute(_INSERT_EVENT, row)
            self._write_consent_state(new)
            self._core._access_dirty.update(self._covered_stories([new]))
            return new

    def story_ids_for(self, theme: str, purpose: str) -> builtins.list[str]:
        """Ids (sorted) of stories with ``theme`` that a covering, unexpired consent allows
        for ``purpose`` now: one index range scan of ``story_access``. The planner still
        checks every consent in full before anything is shared."""
        rows = self._core._db.query(
            "SELECT story_id FROM story_access WHERE theme = ? AND purpose = ?"
            " AND (expires IS NULL OR expires >= ?) ORDER BY story_id",
            (theme, str(purpose), dt.date.today().isoformat()),
        )
        return [r[0] for r in rows]

    def consents_of(self, contributor_ids: Iterable[str]) -> builtins.list[Consent]:
        """Every consent of these contributors, in the order they were added."""
        ids = sorted(set(contributor_ids))
        found: list[tuple[int, Consent]] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._core._db.query(
                "SELECT r.seq, r.id, r.data FROM records r WHERE r.kind = 'consent' AND r.id IN"
                " (SELECT x.id FROM record_refs x WHERE x.kind = 'consent'"
                f" AND x.ref_kind = 'contributor' AND x.ref_id IN ({marks}))",
                chunk,
            )
            records = self._records._rows_to_records(
                Consent, "consent", [(r[1], r[2]) for r in rows]
            )
            found.extend(zip((r[0] for r in rows), records, strict=True))
        return [c for _, c in sorted(found, key=lambda pair: pair[0])]

    def consents_for_story(self, story_id: str) -> builtins.list[Consent]:
        """Every consent that covers the story: those listing it, and those of any of its
        contributors that cover all their stories."""
        return list(self._records.list(Consent, story=story_id))
