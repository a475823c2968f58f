"""The check made immediately before sending: :func:`consent_reason`, one share at a time.

It asks :class:`coprolib.planner.SendCheck`, which checks the share exactly as it will be sent
(DESIGN invariant 1): every cited story's current consent decision for that destination, the
identity level, quotes and number of people that the destination and every cited consent allow
now, and for feedback a recorded, still-owed obligation to that recipient on a channel the
destination reaches. Anything else, whoever queued it, is refused with the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from coprolib.config import Destination
from coprolib.planner.checking import SendCheck
from coprolib.records import Share

if TYPE_CHECKING:
    from coprolib.ledger import Ledger


class ConsentCache(SendCheck):
    """One batch's share checks (records read once, decisions cached). Make a new one for every
    batch: the check must stay fresh."""


def consent_reason(
    ledger: Ledger,
    share: Share,
    destination: Destination | None,
    now: dt.datetime,
    cache: SendCheck | None = None,
) -> str | None:
    """Why ``share`` must not be sent to ``destination`` now, or None if it may go as it is.

    ``destination`` is the configured :class:`coprolib.config.Destination` it goes to (None:
    not configured, refused). ``cache`` shares reads and decisions across one batch.
    """
    checker = cache if cache is not None else SendCheck(ledger, now)
    result = checker.check(share, destination)
    return None if result.allowed else "; ".join(result.reasons)
