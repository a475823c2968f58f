"""The small value types the ledger hands out: share status, outbox jobs and audit entries."""

from __future__ import annotations

import datetime as dt
import enum
import warnings
from collections.abc import Iterator

import attrs

from coprolib.records import Share


class ShareStatus(enum.StrEnum):
    """Where a share stands: planned, delivered, being retracted, retracted, cancelled, or dead."""

    PLANNED = "planned"
    DELIVERED = "delivered"
    RETRACT_PLANNED = "retract_planned"
    RETRACTED = "retracted"
    CANCELLED = "cancelled"
    DEAD = "dead"


class JobKind(enum.StrEnum):
    """What an outbox job does: deliver a share, or retract a delivered one."""

    DELIVER = "deliver"
    RETRACT = "retract"


class JobStatus(enum.StrEnum):
    """Where an outbox job stands. ``pending`` and ``claimed`` are open; the rest are ends."""

    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    DEAD = "dead"
    CANCELLED = "cancelled"


@attrs.frozen
class ShareRow:
    """A share as the ledger holds it: the share and where it stands (``ledger.get_share``,
    ``get_shares``, ``list_shares``)."""

    share: Share
    status: ShareStatus

    # Until 0.3 a row still unpacks and indexes like the ``(share, status)`` pair it replaces.
    def __iter__(self) -> Iterator[Share | ShareStatus]:
        _pair_used()
        return iter((self.share, self.status))

    def __getitem__(self, index: int) -> Share | ShareStatus:
        _pair_used()
        return (self.share, self.status)[index]


def _pair_used() -> None:
    warnings.warn(
        "ShareRow is no longer a (share, status) tuple: read row.share and row.status"
        " (unpacking and indexing go in 0.3)",
        DeprecationWarning,
        stacklevel=3,
    )


#: Job kinds and statuses the outbox knows (the enums' values).
JOB_KINDS = tuple(k.value for k in JobKind)
JOB_STATUSES = tuple(s.value for s in JobStatus)
#: Statuses ``finish_job`` accepts.
JOB_FINISH_STATUSES = ("done", "dead", "cancelled", "pending")


@attrs.frozen(kw_only=True)
class Job:
    """One outbox job: deliver or retract a share at a destination.

    ``attempts`` counts only requests that reached the destination (or may have: a timeout, a
    reset, a 5xx) and failed; throttling, pauses, configuration errors and work handed back
    unsent cost nothing. ``in_doubt`` is set, and stays set, once any such attempt may have left
    the share at the destination (a 5xx, a timeout or reset, a result that came back after the
    lease had passed, or a worker that stopped while sending): a ``dead`` job with ``in_doubt``
    may have arrived. ``token`` is the fencing token of the current claim: a claim's holder
    finishes the job only while the token is still the job's. ``sending_at`` is when the holder
    of the latest claim handed it to the adapter (None when no request is in flight).
    """

    id: int
    kind: JobKind
    destination: str
    share_id: str
    idempotency_key: str
    status: JobStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    claimed_by: str | None
    lease_until: dt.datetime | None = None
    token: int = 0
    in_doubt: bool = False
    sending_at: dt.datetime | None = None

    @property
    def may_have_arrived(self) -> bool:
        """Whether the destination may hold this share although no receipt says so: the job
        is not done and a request for it may have reached the destination."""
        return self.status != JobStatus.DONE and self.in_doubt


@attrs.frozen(kw_only=True)
class JobEvent:
    """One step in a job's history (``coprolib outbox show JOB``)."""

    job_id: int
    at: dt.datetime
    event: str
    worker: str | None
    detail: str | None


@attrs.frozen(kw_only=True)
class JobCounts:
    """One destination's jobs at a glance (``ledger.job_counts``): how many in each status (by
    the status's word), how many pending ones are in backoff (not due yet) and the earliest next
    attempt among them, the latest lease among claimed ones, and how many dead ones may have
    arrived."""

    counts: dict[str, int]
    backoff: int = 0
    next_attempt_at: dt.datetime | None = None
    lease_until: dt.datetime | None = None
    in_doubt_dead: int = 0


@attrs.frozen(kw_only=True)
class DestinationState:
    """What the outbox remembers about a destination as a whole: a pause every worker honours
    (throttled, unreachable, refused credentials) and the last error seen there."""

    destination: str
    paused_until: dt.datetime | None
    pause_reason: str | None
    failures: int
    last_error: str | None
    last_error_at: dt.datetime | None

    def paused(self, now: dt.datetime) -> bool:
        """Whether the destination is paused at ``now``."""
        return self.paused_until is not None and self.paused_until > now


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
