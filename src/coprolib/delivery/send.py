"""Sending one group of shares through an adapter, safely: the part of the engine that needs no
ledger, so the conformance suite and the engine share it.

:func:`deliver_checked` re-checks each share immediately before sending, splits the rest into the
adapter's batch size, and always returns exactly one result per share, in order, whatever the
adapter does (raises, returns too few results, returns them out of order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from coprolib.adapters import (
    Adapter,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Status,
)
from coprolib.records import Share

#: Given a share about to be sent, the reason it must not be (consent changed, vetoed) or None.
Recheck = Callable[[Share], str | None]

#: What to hold open while a request is in flight (the engine keeps its claim's lease alive).
InFlight = Callable[[], AbstractContextManager[object]]

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive groups of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def deliver_checked(
    adapter: Adapter[object],
    shares: Sequence[Share],
    *,
    recheck: Recheck | None = None,
    in_flight: InFlight = nullcontext,
) -> list[DeliveryResult]:
    """Deliver ``shares`` through ``adapter``, skipping any that ``recheck`` now refuses.

    Shares go in groups of the adapter's batch size; each group is re-checked just before it is
    sent. A refused share gets a ``CANCELLED`` result with the reason and never reaches the
    adapter. ``in_flight()`` is held open around each call to the adapter (and only then).
    """
    results: dict[str, DeliveryResult] = {}
    for group in chunks(shares, adapter.capabilities.max_batch_size):
        to_send: list[Share] = []
        for share in group:
            reason = recheck(share) if recheck is not None else None
            if reason:
                results[share.id] = DeliveryResult(
                    share_id=share.id,
                    idempotency_key=share.idempotency_key,
                    status=Status.CANCELLED,
                    message=reason,
                )
            else:
                to_send.append(share)
        if not to_send:
            continue
        try:
            with in_flight():
                got = adapter.deliver(to_send)
        except Exception as exc:
            got = [adapter.failed_delivery(share, exc) for share in to_send]
        by_id = {r.share_id: r for r in got if isinstance(r, DeliveryResult)}
        for share in to_send:
            results[share.id] = by_id.get(share.id) or _missing(share)
    return [results[share.id] for share in shares]


def retract_checked(
    adapter: Adapter[object], refs: Sequence[RetractRef], *, in_flight: InFlight = nullcontext
) -> list[RetractResult]:
    """Retract ``refs`` through ``adapter`` in batches: exactly one result per ref, in order
    (``in_flight()`` held open around each call to the adapter)."""
    results: dict[str, RetractResult] = {}
    for group in chunks(refs, adapter.capabilities.max_batch_size):
        try:
            with in_flight():
                got = adapter.retract(group)
        except Exception as exc:
            got = [adapter.failed_retraction(ref, exc) for ref in group]
        by_key = {r.idempotency_key: r for r in got if isinstance(r, RetractResult)}
        for ref in group:
            results[ref.idempotency_key] = by_key.get(ref.idempotency_key) or RetractResult(
                share_id=ref.share_id,
                idempotency_key=ref.idempotency_key,
                remote_id=ref.remote_id,
                status=Status.RETRYABLE,
                message="the adapter returned no result for this retraction",
            )
    return [results[ref.idempotency_key] for ref in refs]


def _missing(share: Share) -> DeliveryResult:
    return DeliveryResult(
        share_id=share.id,
        idempotency_key=share.idempotency_key,
        status=Status.RETRYABLE,
        message="the adapter returned no result for this share",
    )
