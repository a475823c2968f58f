"""The small value types the ledger hands out: share status, outbox jobs and audit entries."""

from __future__ import annotations

import datetime as dt
import enum

import attrs


class ShareStatus(enum.StrEnum):
    """Where a share stands: planned, delivered, being retracted, retracted, cancelled, or dead."""

    PLANNED = "planned"
    DELIVERED = "delivered"
    RETRACT_PLANNED = "retract_planned"
    RETRACTED = "retracted"
    CANCELLED = "cancelled"
    DEAD = "dead"


#: Job kinds and statuses the outbox knows.
JOB_KINDS = ("deliver", "retract")
JOB_STATUSES = ("pending", "claimed", "done", "dead", "cancelled")
#: Statuses ``finish_job`` accepts.
JOB_FINISH_STATUSES = ("done", "dead", "cancelled", "pending")


@attrs.frozen(kw_only=True)
class Job:
    """One outbox job: deliver or retract a share at a destination."""

    id: int
    kind: str
    destination: str
    share_id: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    claimed_by: str | None


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One link in the audit chain. Holds ids and digests only, never content.

    ``scope`` is ``"row"`` when ``digest`` is the digest of the ledger row named by ``ref`` as it
    stood after the change (``verify`` recomputes it), ``"rows"`` when the entry covers several
    row changes with the same action, listed in ``rows`` as ``(ref, digest)`` pairs, or
    ``"note"`` for other recorded actions.
    """

    seq: int
    at: str
    actor: str
    action: str
    scope: str
    ref: str
    digest: str
    prev_hash: str
    hash: str
    rows: tuple[tuple[str, str], ...] = ()

    def changes(self) -> tuple[tuple[str, str], ...]:
        """The ``(ref, digest)`` of every row change this entry records (none for a note)."""
        if self.scope == "row":
            return ((self.ref, self.digest),)
        return self.rows


@attrs.frozen(kw_only=True)
class AuditVerification:
    """The result of checking the audit chain and every ledger row against it."""

    ok: bool
    checked: int
    first_bad: int | None = None
    reason: str | None = None
