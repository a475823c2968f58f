"""The :class:`Ledger`: records, consent events, shares, receipts, jobs, audit, erasure, keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coprolib.convert import unstructure
from coprolib.ledger.audit import note_digest, parse_rows_list
from coprolib.ledger.codec import KIND_ORDER, PROTECTED
from coprolib.ledger.crypto import KeyRing
from coprolib.ledger.erasure import (
    erase_contributor_record,
    erase_feedback_record,
    erase_story_record,
    scrub_share,
)
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.outbox import OutboxStore, share_digest
from coprolib.ledger.record_store import _kind_of_cls, record_digest
from coprolib.ledger.types import AuditEntry, AuditVerification
from coprolib.ledger.verify import audit_rows, verify_chain
from coprolib.records import BUNDLE_TYPES, Contributor, Feedback, Share, Story


class Ledger(OutboxStore):
    """What the library remembers: records, consent, shares, receipts, jobs and the audit chain.

    Open one with :func:`coprolib.ledger.open_ledger`. Use it as a context manager, or call
    :meth:`close`. Group writes with :meth:`transaction` to make them all-or-nothing. A handle
    is one database connection: give each thread or process its own (several may write to the
    same ledger at once).
    """

    def __enter__(self) -> Ledger:
        return self

    # --- audit --------------------------------------------------------------------------

    def audit_entries(self) -> Iterator[AuditEntry]:
        """Every audit entry, oldest first."""
        last = 0
        while True:
            rows = self._db.query(
                "SELECT seq, at, actor, action, scope, ref, digest, prev_hash, hash FROM audit"
                " WHERE seq > ? ORDER BY seq LIMIT 1000",
                (last,),
            )
            for r in rows:
                yield AuditEntry(
                    seq=int(r[0]),
                    at=r[1],
                    actor=r[2],
                    action=r[3],
                    scope=r[4],
                    ref=r[5],
                    digest=r[6],
                    prev_hash=r[7],
                    hash=r[8],
                    rows=tuple(parse_rows_list(audit_rows(self._db, int(r[0])) or "[]"))
                    if r[4] == "rows"
                    else (),
                )
            if len(rows) < 1000:
                return
            last = int(rows[-1][0])

    def record_audit(self, action: str, ref: str, digest: str) -> None:
        """Append an entry for an action that changes no row (e.g. a consent override used).
        ``ref`` and ``digest`` must be ids and digests, never content."""
        if not action.strip() or not ref.strip():
            raise LedgerError("an audit entry needs an action and a reference")
        with self.transaction():
            self._audit(action, ref, digest, scope="note")

    def verify_audit(self) -> AuditVerification:
        """Recompute the chain and check every audited row against its latest entry."""
        return verify_chain(self._db)

    # --- export -------------------------------------------------------------------------

    def export_records(self, types: list[type[Any]] | None = None) -> Iterator[Any]:
        """Every record (of ``types``, default all) in an order that satisfies references."""
        by_kind = {_kind_of_cls(cls): cls for cls in BUNDLE_TYPES.values()}
        for kind in KIND_ORDER:
            cls = by_kind[kind]
            if types is None or cls in types:
                yield from self.list(cls)

    # --- erasure ------------------------------------------------------------------------

    def erase_contributor(self, contributor_id: str, *, compact: bool = True) -> dict[str, int]:
        """Erase a person for good: their contact details, identifiers and name, their stories'
        text, titles and quotes, the messages owed to them, and their quotes and contact details
        in share records. Ids stay as tombstones, so references, share records and the audit
        chain still line up. With ``compact`` the database then rewrites its files (SQLite:
        VACUUM and a WAL checkpoint) so the old content is gone from the disk too.
        Returns counts of what was erased."""
        where = f"contributor {contributor_id!r}"
        counts = {"contributors": 0, "stories": 0, "feedback": 0, "shares": 0}
        with self.transaction():
            person = self.get(Contributor, contributor_id)
            if person is None:
                raise LedgerError("there is no contributor with this id to erase", record=where)
            contact = {
                v
                for v in (person.contact.email, person.contact.phone, person.contact.postal_address)
                if v
            }
            self._overwrite(erase_contributor_record(person))
            counts["contributors"] = 1
            stories = list(self.list(Story, contributor=contributor_id))
            texts = [s.text for s in stories if not self.is_erased(Story, s.id)]
            texts += list(person.known_identifiers)
            for story in stories:
                self._overwrite(erase_story_record(story))
                counts["stories"] += 1
            feedback = list(self.list(Feedback, contributor=contributor_id))
            for fb in feedback:
                self._overwrite(erase_feedback_record(fb), erased=0)
                counts["feedback"] += 1
            story_ids = {s.id for s in stories}
            addressed = {fb.id for fb in feedback} | {fb.share_id for fb in feedback if fb.share_id}
            for share, status in list(self.list_shares()):
                to_person = share.id in addressed or share.subject_id in addressed
                if not (to_person or set(share.story_ids) & story_ids or share.recipient):
                    continue
                scrubbed = scrub_share(share, story_ids, texts, contact, to_person)
                if scrubbed is not None:
                    self._overwrite_share(scrubbed, status.value)
                    counts["shares"] += 1
            self._audit(
                "erase_contributor",
                f"contributor:{contributor_id}",
                note_digest(*(f"{k}={v}" for k, v in sorted(counts.items()))),
                scope="note",
            )
            if compact:
                self._compact_when_committed()
        return counts

    def _overwrite(self, record: Any, erased: int = 1) -> None:
        from coprolib.ledger.codec import index_columns, kind_of

        kind = kind_of(record)
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
        """Re-encrypt every protected field with the first key of ``new_keys``. The fields may
        be encrypted with any key of ``new_keys`` or of the key ring the ledger was opened with,
        or not encrypted yet. Returns how many rows were rewritten. All or nothing."""
        old_keys, old_id = self._keys, self._key_id
        readable = new_keys if old_keys is None else new_keys.union(old_keys)
        rewritten = 0
        try:
            with self.transaction():
                for table, kind in [("records", k) for k in PROTECTED if k != "share"] + [
                    ("shares", "share")
                ]:
                    if table == "records":
                        rows = self._db.query(
                            "SELECT id, data FROM records WHERE kind = ?", (kind,)
                        )
                    else:
                        rows = self._db.query("SELECT id, data FROM shares")
                    for rec_id, text in rows:
                        self._keys, self._key_id = readable, old_id
                        plain = self._plain(table, kind, rec_id, text)
                        self._keys, self._key_id = new_keys, new_keys.current_id
                        self._rewrite_row(
                            table, kind, rec_id, self._encode(table, kind, rec_id, plain)
                        )
                        rewritten += 1
                self._set_meta("key_id", new_keys.current_id)
                self._audit(
                    "rekey",
                    "ledger:key",
                    note_digest(old_id or "none", new_keys.current_id),
                    scope="note",
                )
        except BaseException:
            self._keys, self._key_id = old_keys, old_id
            raise
        self._keys, self._key_id = new_keys, new_keys.current_id
        return rewritten

    def _rewrite_row(self, table: str, kind: str, rec_id: str, text: str) -> None:
        if table == "records":
            self._db.execute(
                "UPDATE records SET data = ? WHERE kind = ? AND id = ?", (text, kind, rec_id)
            )
            row = self._db.query_one(
                "SELECT status, domain, erased FROM records WHERE kind = ? AND id = ?",
                (kind, rec_id),
            )
            if row is None:
                raise LedgerError("vanished during rekey", record=f"{kind} {rec_id!r}")
            self._audit(
                "rekey",
                f"{kind}:{rec_id}",
                record_digest(kind, rec_id, text, row[0], row[1], int(row[2])),
            )
        else:
            self._db.execute("UPDATE shares SET data = ? WHERE id = ?", (text, rec_id))
            row = self._db.query_one(
                "SELECT destination, subject_id, status FROM shares WHERE id = ?", (rec_id,)
            )
            if row is None:
                raise LedgerError("vanished during rekey", record=f"share {rec_id!r}")
            self._audit(
                "rekey", f"share:{rec_id}", share_digest(rec_id, text, row[0], row[1], row[2])
            )

    # --- schema -------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The schema version stored in the ledger."""
        value = self._get_meta("schema_version")
        return int(value) if value is not None else 0
