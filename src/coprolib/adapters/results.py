"""What an adapter says about each share or retraction: the result types and their classes.

A failure is a *result*, not only an exception: an adapter returns one result per share, each with
a :class:`Status` that tells the engine what to do next (retry later, pause the destination,
refresh credentials, ask a person, give up).
"""

from __future__ import annotations

import enum

import attrs


class Status(enum.StrEnum):
    """How one delivery, retraction or check ended, and so what the engine does next."""

    #: Done: the remote holds (or no longer holds) the record.
    OK = "ok"
    #: A passing fault (timeout, 5xx, reset): try again later, after ``retry_after`` if given.
    RETRYABLE = "retryable"
    #: The remote asked us to slow down: pause the whole destination for ``retry_after``.
    THROTTLED = "throttled"
    #: Credentials were refused even after one refresh: stop and fix the configuration.
    AUTH = "auth"
    #: The remote holds something that disagrees with this share: a person must decide.
    CONFLICT = "conflict"
    #: The request can never succeed as it is: dead-letter it with the reason.
    PERMANENT = "permanent"
    #: The destination says it is gone (for example HTTP 410): stop sending to it at all.
    DISABLED = "disabled"
    #: Not sent: consent changed or a plugin vetoed it before sending.
    CANCELLED = "cancelled"


#: The statuses after which the same request may succeed later without anyone changing anything.
TRANSIENT: frozenset[Status] = frozenset({Status.RETRYABLE, Status.THROTTLED})


@attrs.frozen(kw_only=True)
class Capabilities:
    """What an adapter's destination can do, declared once on the adapter class.

    ``max_batch_size``: the most shares one ``deliver`` (or refs one ``retract``) call takes.
    ``can_retract``: the remote can delete a record; if not, ``retract`` records a compensating
    action for a person. ``can_upsert``: delivering a key again updates the same remote record
    (False where the remote cannot recognise a repeat, such as email or SMS).
    ``max_concurrency``: the most batches one process may have in flight to the destination at
    once (None: no limit of its own; ``sync --per-destination`` sets one for every destination).
    """

    max_batch_size: int = attrs.field(default=1)
    can_retract: bool = True
    can_upsert: bool = True
    max_concurrency: int | None = None

    @max_batch_size.validator
    def _positive(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {value}")


@attrs.frozen(kw_only=True)
class DeliveryResult:
    """The outcome of delivering one share: its status, the remote id, and when to retry."""

    share_id: str
    idempotency_key: str
    status: Status
    remote_id: str | None = None
    retry_after: float | None = None
    message: str | None = None
    #: False when the request certainly never reached the destination (connection refused,
    #: connect timeout, name not found): such a failure costs the share no attempt.
    reached: bool | None = None

    @property
    def ok(self) -> bool:
        """Whether the share is now at the destination."""
        return self.status is Status.OK


@attrs.frozen(kw_only=True)
class RetractRef:
    """What identifies a delivered record for retraction: the share, its key and remote id."""

    share_id: str
    idempotency_key: str
    remote_id: str | None = None


@attrs.frozen(kw_only=True)
class RetractResult:
    """The outcome of retracting one record.

    ``retracted`` is true when the remote record is gone. An adapter that cannot delete returns
    ``status=OK, retracted=False`` with ``compensating_action`` saying what it did instead (a
    retraction notice sent) and what a person must do.
    """

    share_id: str
    idempotency_key: str
    status: Status
    remote_id: str | None = None
    retracted: bool = False
    compensating_action: str | None = None
    retry_after: float | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the retraction is finished (deleted, or compensated and recorded)."""
        return self.status is Status.OK


@attrs.frozen(kw_only=True)
class CheckResult:
    """Whether a destination is reachable and accepts our credentials."""

    ok: bool
    status: Status
    message: str = ""
