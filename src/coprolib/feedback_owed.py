"""Feedback owed to contributors: what is due, what is overdue, and marking it done.

The planner creates the obligations (``scheduled`` before a share goes, ``shared`` after it);
these functions are what ``coprolib feedback due`` and ``coprolib feedback done`` call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import attrs

from coprolib.enums import FeedbackStatus
from coprolib.records import Feedback

if TYPE_CHECKING:
    from coprolib.ledger import Ledger

__all__ = ["FeedbackNotFound", "feedback_done", "feedback_due"]


class FeedbackNotFound(LookupError):
    """No feedback obligation has this id."""


def feedback_due(
    ledger: Ledger, *, overdue: bool = False, today: dt.date | None = None
) -> list[Feedback]:
    """Feedback still owed, soonest due first; with ``overdue``, only what is past its due date."""
    today = today or dt.datetime.now(dt.UTC).date()
    owed = [f for f in ledger.list(Feedback) if f.status is FeedbackStatus.OWED]
    if overdue:
        owed = [f for f in owed if f.due is not None and f.due < today]
    return sorted(owed, key=lambda f: (f.due or dt.date.max, f.id))


def feedback_done(
    ledger: Ledger, feedback_id: str, note: str, *, on: dt.date | None = None
) -> Feedback:
    """Record that a feedback obligation was met, with a note of what was said."""
    if not note.strip():
        raise ValueError("note: say what the contributor was told")
    with ledger.transaction():
        found = ledger.get(Feedback, feedback_id)
        if found is None:
            raise FeedbackNotFound(f"feedback {feedback_id!r} is not in the ledger")
        done: Feedback = cast(Callable[..., Any], attrs.evolve)(
            found,
            status=FeedbackStatus.DONE,
            sent_on=on or dt.datetime.now(dt.UTC).date(),
            note=note,
        )
        ledger.replace(done)
    return done
