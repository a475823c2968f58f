"""The delivery engine: outbox jobs from the ledger to destinations, exactly once in effect.

:func:`sync` claims due jobs, re-checks consent immediately before sending
(:func:`consent_reason`), batches by each adapter's size, retries with backoff
(:class:`RetryPolicy`, :func:`backoff_delay`), records receipts and dead-letters with reasons.
:func:`deliver_checked` is the ledger-free core the conformance suite also uses.
"""

from __future__ import annotations

from coprolib.delivery.backoff import RetryPolicy, backoff_delay
from coprolib.delivery.engine import (
    Compensation,
    DeadLetter,
    DestinationLimits,
    DestinationReport,
    DestinationStatus,
    SyncSummary,
    count_due,
    dead_letters,
    delivered_receipt,
    destination_status,
    outbox_status,
    retry_dead,
    sync,
    sync_workers,
    worker_id,
)
from coprolib.delivery.recheck import consent_reason
from coprolib.delivery.send import chunks, deliver_checked, retract_checked

__all__ = [
    "Compensation",
    "DeadLetter",
    "DestinationLimits",
    "DestinationReport",
    "DestinationStatus",
    "RetryPolicy",
    "SyncSummary",
    "backoff_delay",
    "chunks",
    "consent_reason",
    "count_due",
    "dead_letters",
    "deliver_checked",
    "delivered_receipt",
    "destination_status",
    "outbox_status",
    "retract_checked",
    "retry_dead",
    "sync",
    "sync_workers",
    "worker_id",
]
