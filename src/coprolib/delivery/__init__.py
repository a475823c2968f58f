"""The delivery engine: outbox jobs from the ledger to destinations, exactly once in effect."""

from __future__ import annotations

from coprolib.delivery.send import chunks, deliver_checked, retract_checked

__all__ = ["chunks", "deliver_checked", "retract_checked"]
