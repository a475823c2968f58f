"""The :class:`Ledger`: records, consent events, shares, receipts, jobs, audit, erasure, keys."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from coprolib.ledger.audit import note_digest
from coprolib.ledger.audit_store import AuditStore
from coprolib.ledger.backends import Backend
from coprolib.ledger.codec import ERASED, KIND_ORDER, PROTECTED, dumps
from coprolib.ledger.consent_store import ConsentStore, event_digest
from coprolib.ledger.core import LedgerCore
from coprolib.ledger.crypto import KeyRing
from coprolib.ledger.delegate import Via
from coprolib.ledger.erasure import (
    erase_answer_summary,
    erase_consent_record,
    erase_contributor_record,
    erase_feedback_record,
    erase_involvement_record,
    erase_story_record,
    scrub_share,
)
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.outbox import OutboxStore, share_digest
from coprolib.ledger.record_store import RecordStore, _kind_of_cls, record_digest
from coprolib.records import (
    BUNDLE_TYPES,
    Consent,
    Contributor,
    Feedback,
    Involvement,
    LivedAnswer,
    Share,
    Story,
)
from coprolib.records.convert import unstructure

T = TypeVar("T")


class Ledger(LedgerCore):
    """What the library remembers: records, consent, shares, receipts, jobs and the audit chain.

    Open one with :func:`coprolib.ledger.open_ledger`. Use it as a context manager, or call
    :meth:`close`. Group writes with :meth:`transaction` to make them all-or-nothing. A handle
    is one database connection: give each thread or process its own (several may write to the
    same ledger at once).

    It is composed of stores that share its connection, transactions, encryption and audit
    buffer (:class:`~coprolib.ledger.core.LedgerCore`): records in :attr:`records`
    (:class:`~coprolib.ledger.record_store.RecordStore`); consent events and state and the
    stories' theme/purpose index in :attr:`consent`
    (:class:`~coprolib.ledger.consent_store.ConsentStore`); shares, receipts, jobs
    and destination pauses in :attr:`outbox`
    (:class:`~coprolib.ledger.outbox.OutboxStore`), reading, noting and verifying the audit chain
    in :attr:`audit` (:class:`~coprolib.ledger.audit_store.AuditStore`). The ledger's methods of
    the same names hand off to them (:class:`~coprolib.ledger.delegate.Via`), so either spelling
    works; a store is usable only while its ledger is.
    """

    def __init__(self, backend: Backend, *, actor: str, keys: KeyRing | None) -> None:
        super().__init__(backend, actor=actor, keys=keys)
        #: Consent events and state, and the stories' theme/purpose index.
        self.consent = ConsentStore(self)
        #: Records (a consent's header among them).
        self.records = RecordStore(self, self.consent)
        #: Shares, receipts, outbox jobs and destination pauses.
        self.outbox = OutboxStore(self)
        #: The audit chain: reading it, notes, verifying it.
        self.audit = AuditStore(self)

    add = Via("records", RecordStore.add)
    import_bundle = Via("records", RecordStore.import_bundle)
    import_records = Via("records", RecordStore.import_records)
    replace = Via("records", RecordStore.replace)
    lock_consent = Via("consent", ConsentStore.lock_consent)
    append_consent_event = Via("consent", ConsentStore.append_consent_event)
    story_ids_for = Via("consent", ConsentStore.story_ids_for)
    consents_of = Via("consent", ConsentStore.consents_of)
    consents_for_story = Via("consent", ConsentStore.consents_for_story)
    count = Via("records", RecordStore.count)
    is_erased = Via("records", RecordStore.is_erased)
    put_share = Via("outbox", OutboxStore.put_share)
    get_share = Via("outbox", OutboxStore.get_share)
    get_shares = Via("outbox", OutboxStore.get_shares)
    list_shares = Via("outbox", OutboxStore.list_shares)
    set_share_status = Via("outbox", OutboxStore.set_share_status)
    set_share_statuses = Via("outbox", OutboxStore.set_share_statuses)
    add_receipt = Via("outbox", OutboxStore.add_receipt)
    add_receipts = Via("outbox", OutboxStore.add_receipts)
    record_delivered = Via("outbox", OutboxStore.record_delivered)
    delivered_receipt = Via("outbox", OutboxStore.delivered_receipt)
    receipts_for = Via("outbox", OutboxStore.receipts_for)
    enqueue_job = Via("outbox", OutboxStore.enqueue_job)
    claim_jobs = Via("outbox", OutboxStore.claim_jobs)
    renew_leases = Via("outbox", OutboxStore.renew_leases)
    settle_jobs = Via("outbox", OutboxStore.settle_jobs)
    finish_job = Via("outbox", OutboxStore.finish_job)
    finish_jobs = Via("outbox", OutboxStore.finish_jobs)
    get_job = Via("outbox", OutboxStore.get_job)
    job_history = Via("outbox", OutboxStore.job_history)
    list_jobs = Via("outbox", OutboxStore.list_jobs)
    job_counts = Via("outbox", OutboxStore.job_counts)
    destination_states = Via("outbox", OutboxStore.destination_states)
    pause_destination = Via("outbox", OutboxStore.pause_destination)
    note_destination_error = Via("outbox", OutboxStore.note_destination_error)
    resume_destination = Via("outbox", OutboxStore.resume_destination)
    audit_entries = Via("audit", AuditStore.audit_entries)
    record_audit = Via("audit", AuditStore.record_audit)
    verify_audit = Via("audit", AuditStore.verify_audit)

    def __enter__(self) -> Ledger:
        return self

    # --- records: generic, so handed off by hand (a descriptor would fix ``T``) ---------

    def get(self, cls: type[T], record_id: str) -> T | None:
        """The record of type ``cls`` with this id, or ``None``."""
        return self.records.get(cls, record_id)

    def get_many(self, cls: type[T], record_ids: Iterable[str]) -> dict[str, T]:
        """The records of type ``cls`` with these ids, by id (ids not found are left out): one
        query per 500 ids."""
        return self.records.get_many(cls, record_ids)

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
        return self.records.list(
            cls,
            contributor=contributor,
            story=story,
            theme=theme,
            status=status,
            domain=domain,
            insight=insight,
            purpose=purpose,
        )

    def export_records(self, types: builtins.list[type[Any]] | None = None) -> Iterator[Any]:
        """Every record (of ``types``, default all) in an order that satisfies references.
        An involvement leaves the ledger only when the person agreed (``agreed_to_share``)."""
        by_kind = {_kind_of_cls(cls): cls for cls in BUNDLE_TYPES.values()}
        for kind in KIND_ORDER:
            cls = by_kind[kind]
            if types is None or cls in types:
                if kind == "involvement":
                    yield from (r for r in self.list(cls) if r.agreed_to_share)
                else:
                    yield from self.list(cls)

    # --- erasure ------------------------------------------------------------------------

    def erase_contributor(self, contributor_id: str, *, compact: bool = True) -> dict[str, int]:
        """Erase a person for good, finding what is theirs by reference: their name, contact
        details, identifiers and notes; their stories' text, titles, quotes and collector;
        their involvements' notes, and the summary of any lived-experience answer drawn from
        their stories;
        their consents' free text (who supported the decision; each event's recorder, reason
        and approver); the messages owed to them; their quotes in share records (by the
        quote's story reference, whatever the identity level), and the recipient and message
        of shares addressed to them; and the error text of every job for those shares (a
        destination's error reply can echo the share). Ids stay as tombstones, so references,
        share records and the audit chain still line up. It does not retract anything:
        :func:`coprolib.rights.erasure.erase_person` withdraws and plans the retractions first.

        With ``compact`` the database then rewrites its files (SQLite: checkpoint, VACUUM and
        an emptied WAL; PostgreSQL: VACUUM FULL of the tables that hold content) so the old
        text is gone from the disk too. Returns counts of the records changed; running it
        again changes nothing and counts zeros."""
        where = f"contributor {contributor_id!r}"
        counts = dict.fromkeys(
            (
                "contributors",
                "stories",
                "consents",
                "consent_events",
                "feedback",
                "involvements",
                "answers",
                "shares",
                "jobs",
            ),
            0,
        )
        with self.transaction():
            person = self.get(Contributor, contributor_id)
            if person is None:
                raise LedgerError("there is no contributor with this id to erase", record=where)
            if self._overwrite(person, erase_contributor_record(person)):
                counts["contributors"] += 1
            stories = self._stories_of(contributor_id)
            for story in stories:
                if self._overwrite(story, erase_story_record(story)):
                    counts["stories"] += 1
            for consent in self._consents_of(contributor_id):
                header, events = self._overwrite_consent(consent, erase_consent_record(consent))
                counts["consents"] += header
                counts["consent_events"] += events
            feedback = [
                fb
                for fb in self.list(Feedback, contributor=contributor_id)
                if fb.contributor_id == contributor_id
            ]
            for fb in feedback:
                if self._overwrite(fb, erase_feedback_record(fb), erased=0):
                    counts["feedback"] += 1
            story_ids = {s.id for s in stories}
            for inv in self.list(Involvement, contributor=contributor_id):
                if inv.contributor_id == contributor_id and self._overwrite(
                    inv, erase_involvement_record(inv)
                ):
                    counts["involvements"] += 1
            for answer in self.list(LivedAnswer):
                drawn = answer.summary is not None and story_ids.intersection(answer.story_ids)
                if drawn and self._overwrite(answer, erase_answer_summary(answer), erased=0):
                    counts["answers"] += 1
            addressed = {fb.id for fb in feedback} | {fb.share_id for fb in feedback if fb.share_id}
            touched: builtins.list[str] = []
            for row in list(self.list_shares()):
                share = row.share
                to_person = share.id in addressed or share.subject_id in addressed
                if not (to_person or set(share.story_ids) & story_ids):
                    continue
                touched.append(share.id)
                scrubbed = scrub_share(share, story_ids, to_person)
                if scrubbed is not None:
                    self._overwrite_share(scrubbed, row.status.value)
                    counts["shares"] += 1
            counts["jobs"] = self._erase_job_errors(touched)
            self._audit(
                "erase_contributor",
                f"contributor:{contributor_id}",
                note_digest(*(f"{k}={v}" for k, v in sorted(counts.items()))),
                scope="note",
            )
            if compact:
                self._compact_when_committed()
        return counts

    def _stories_of(self, contributor_id: str) -> builtins.list[Story]:
        """The person's stories: by the reference index, and by the stories' own
        ``contributor_ids`` (so a damaged index cannot hide one)."""
        found = {s.id: s for s in self.list(Story, contributor=contributor_id)}
        pattern = "%" + _like_escape(dumps(contributor_id)) + "%"
        for (sid,) in self._db.query(
            "SELECT id FROM records WHERE kind = 'story' AND data LIKE ? ESCAPE '\\'", (pattern,)
        ):
            if sid not in found:
                story = self.get(Story, sid)
                if story is not None:
                    found[sid] = story
        return [s for s in found.values() if contributor_id in s.contributor_ids]

    def _consents_of(self, contributor_id: str) -> builtins.list[Consent]:
        ids = {c.id for c in self.list(Consent, contributor=contributor_id)}
        ids.update(
            r[0]
            for r in self._db.query(
                "SELECT consent_id FROM consent_state WHERE contributor_id = ?", (contributor_id,)
            )
        )
        out = []
        for cid in sorted(ids):
            consent = self.get(Consent, cid)
            if consent is not None and consent.contributor_id == contributor_id:
                out.append(consent)
        return out

    def _overwrite(self, old: Any, record: Any, erased: int = 1) -> bool:
        """Store ``record`` over ``old`` as an erasure (audited); False when nothing changes."""
        from coprolib.ledger.codec import index_columns, kind_of

        kind = kind_of(record)
        if old == record and (not erased or self.is_erased(type(record), record.id)):
            return False
        data = self._encode("records", kind, record.id, unstructure(record))
        status, domain = index_columns(record)
        self._db.execute(
            "UPDATE records SET data = ?, status = ?, domain = ?, erased = ?"
            " WHERE kind = ? AND id = ?",
            (data, status, domain, erased, kind, record.id),
        )
        self._audit(
            "erase",
            f"{kind}:{record.id}",
            record_digest(kind, record.id, data, status, domain, erased),
        )
        return True

    def _overwrite_consent(self, old: Consent, new: Consent) -> tuple[int, int]:
        """Store a consent's scrubbed header and events; how many of each changed."""
        header = 0
        if old.supported_by != new.supported_by:
            plain = unstructure(new)
            plain.pop("events")
            data = self._encode("records", "consent", new.id, plain)
            self._db.execute(
                "UPDATE records SET data = ? WHERE kind = 'consent' AND id = ?", (data, new.id)
            )
            row = self._db.query_one(
                "SELECT status, domain, erased FROM records WHERE kind = 'consent' AND id = ?",
                (new.id,),
            )
            assert row is not None
            self._audit(
                "erase",
                f"consent:{new.id}",
                record_digest("consent", new.id, data, row[0], row[1], int(row[2])),
            )
            header = 1
        events = 0
        for version, (was, ev) in enumerate(zip(old.events, new.events, strict=True), 1):
            if was == ev:
                continue
            row_ = self.consent._event_row(new.id, version, ev)
            self._db.execute(
                "UPDATE consent_events SET data = ? WHERE consent_id = ? AND version = ?",
                (row_[3], new.id, version),
            )
            self._audit(
                "erase",
                f"consent_event:{new.id}:{version}",
                event_digest(new.id, version, *row_[2:]),
            )
            events += 1
        return header, events

    def _erase_job_errors(self, share_ids: builtins.list[str]) -> int:
        """Replace the error text of every job for these shares; how many jobs changed."""
        from coprolib.ledger.outbox import _JOB_COLUMNS, job_digest

        changed = 0
        for i in range(0, len(share_ids), 500):
            chunk = share_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.query(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE share_id IN ({marks})"
                " AND last_error IS NOT NULL",
                chunk,
            )
            for row in rows:
                job_id = int(row[0])
                if self._unseal(f"jobs:job:{job_id}:last_error", row[8]) == ERASED:
                    continue
                sealed = self._seal(f"jobs:job:{job_id}:last_error", ERASED)
                self._db.execute("UPDATE jobs SET last_error = ? WHERE id = ?", (sealed, job_id))
                self._audit("erase", f"job:{job_id}", job_digest((*row[:8], sealed, *row[9:])))
                changed += 1
        return changed

    def _overwrite_share(self, share: Share, status: str) -> None:
        data = self._encode("shares", "share", share.id, unstructure(share))
        self._db.execute("UPDATE shares SET data = ? WHERE id = ?", (data, share.id))
        self._audit(
            "erase",
            f"share:{share.id}",
            share_digest(share.id, data, share.destination, share.subject_id, status),
        )

    # --- keys ---------------------------------------------------------------------------

    def rekey(self, new_keys: KeyRing) -> int:
        """Re-encrypt every protected field (records, consent events, shares, job errors) with
        the first key of ``new_keys``. The fields may be encrypted with any key of ``new_keys``
        or of the key ring the ledger was opened with, or not encrypted yet. Returns how many
        rows were rewritten. All or nothing; other handles see the new key id inside their next
        write transaction and refuse to write unless they hold the new key."""
        from coprolib.ledger.outbox import _JOB_COLUMNS, job_digest

        old_keys, old_id = self._keys, self._key_id
        readable = new_keys if old_keys is None else new_keys.union(old_keys)
        rewritten = 0

        def recode(table: str, kind: str, rec_id: str, text: str) -> str:
            self._keys, self._key_id = readable, old_id
            plain = self._plain(table, kind, rec_id, text, lenient=True)
            self._keys, self._key_id = new_keys, new_keys.current_id
            return self._encode(table, kind, rec_id, plain)

        self._key_setup = True
        try:
            with self.transaction():
                self._lock_for_rekey()
                self._set_meta("key_id", new_keys.current_id)
                kinds = [k for k in PROTECTED if k not in ("share", "consent_event")]
                for kind in kinds:
                    for rec_id, text, status, domain, erased in self._db.query(
                        "SELECT id, data, status, domain, erased FROM records WHERE kind = ?",
                        (kind,),
                    ):
                        data = recode("records", kind, rec_id, text)
                        self._db.execute(
                            "UPDATE records SET data = ? WHERE kind = ? AND id = ?",
                            (data, kind, rec_id),
                        )
                        digest = record_digest(kind, rec_id, data, status, domain, int(erased))
                        self._audit("rekey", f"{kind}:{rec_id}", digest)
                        rewritten += 1
                for cid, version, at, text in self._db.query(
                    "SELECT consent_id, version, at, data FROM consent_events"
                ):
                    data = recode("consent_events", "consent_event", f"{cid}:{version}", text)
                    self._db.execute(
                        "UPDATE consent_events SET data = ? WHERE consent_id = ? AND version = ?",
                        (data, cid, version),
                    )
                    self._audit(
                        "rekey",
                        f"consent_event:{cid}:{version}",
                        event_digest(cid, int(version), at, data),
                    )
                    rewritten += 1
                for rec_id, text, destination, subject_id, status in self._db.query(
                    "SELECT id, data, destination, subject_id, status FROM shares"
                ):
                    data = recode("shares", "share", rec_id, text)
                    self._db.execute("UPDATE shares SET data = ? WHERE id = ?", (data, rec_id))
                    self._audit(
                        "rekey",
                        f"share:{rec_id}",
                        share_digest(rec_id, data, destination, subject_id, status),
                    )
                    rewritten += 1
                for row in self._db.query(
                    f"SELECT {_JOB_COLUMNS} FROM jobs WHERE last_error IS NOT NULL"
                ):
                    context = f"jobs:job:{row[0]}:last_error"
                    self._keys, self._key_id = readable, old_id
                    plain = self._unseal(context, row[8], lenient=True)
                    self._keys, self._key_id = new_keys, new_keys.current_id
                    sealed = self._seal(context, plain)
                    self._db.execute(
                        "UPDATE jobs SET last_error = ? WHERE id = ?", (sealed, row[0])
                    )
                    self._audit("rekey", f"job:{row[0]}", job_digest((*row[:8], sealed, *row[9:])))
                    rewritten += 1
                self._audit(
                    "rekey",
                    f"ledger:key:{new_keys.current_id}",
                    note_digest(old_id or "none", new_keys.current_id),
                    scope="note",
                )
                # The old ciphertext (or plaintext) must not stay in free pages or the WAL.
                self._compact_when_committed()
        except BaseException:
            self._keys, self._key_id = old_keys, old_id
            raise
        finally:
            self._key_setup = False
        self._keys, self._key_id = new_keys, new_keys.current_id
        return rewritten

    # --- schema -------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The schema version stored in the ledger."""
        value = self._get_meta("schema_version")
        return int(value) if value is not None else 0


def _like_escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as the escape character."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
