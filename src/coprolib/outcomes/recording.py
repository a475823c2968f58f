"""Outcomes in the ledger: add one or move it on, and record the feedback that owes, together.

Thin wrappers over the pure functions in :mod:`coprolib.outcomes`: each reads what it needs
from a :class:`coprolib.ledger.Ledger`, and writes the outcome and its new feedback
obligations in one transaction (all or nothing). Contributors whose every story behind the
outcome has had its consent withdrawn are not sent change updates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from coprolib.feedback.owed import owe_feedback
from coprolib.outcomes import DEFAULT_DUE_DAYS, advance, change_feedback
from coprolib.records import Contributor, Feedback, Insight, Outcome, RecordError, Story
from coprolib.records.enums import OutcomeStatus

__all__ = ["OutcomeChange", "add_outcome", "owed_feedback", "update_outcome"]


@attrs.frozen(kw_only=True)
class OutcomeChange:
    """What a call wrote: the outcome as stored and the feedback obligations it created."""

    outcome: Outcome
    feedback: tuple[Feedback, ...]


def _withdrawn(ledger: Any, story_id: str, now: dt.datetime) -> bool:
    consents = ledger.consents_for_story(story_id)
    return bool(consents) and all(c.state_at(now).status == "withdrawn" for c in consents)


def owed_feedback(
    ledger: Any, outcome: Outcome, *, due_days: int = DEFAULT_DUE_DAYS, now: dt.datetime
) -> list[Feedback]:
    """The obligations the outcome's latest status creates, with everything read from the
    ledger (not yet recorded; see :func:`coprolib.outcomes.change_feedback`)."""
    insights = [i for i in (ledger.get(Insight, iid) for iid in outcome.insight_ids) if i]
    story_ids = {sid for i in insights for sid in i.story_ids}
    stories = [s for s in (ledger.get(Story, sid) for sid in sorted(story_ids)) if s]
    people: dict[str, Contributor] = {}
    active: dict[str, bool] = {}
    for s in stories:
        live = not _withdrawn(ledger, s.id, now)
        for cid in s.contributor_ids:
            active[cid] = active.get(cid, False) or live
            if cid not in people:
                person = ledger.get(Contributor, cid)
                if person is not None:
                    people[cid] = person
    exclude = {cid for cid, live in active.items() if not live}
    return change_feedback(outcome, insights, stories, people, due_days, now=now, exclude=exclude)


def _record(ledger: Any, owed: Iterable[Feedback]) -> tuple[Feedback, ...]:
    """Record the obligations (one message per contributor per day, see
    :func:`coprolib.feedback.owed.owe_feedback`); returns those new or changed."""
    owed = list(owed)
    before = {
        f.id: f
        for cid in sorted({o.contributor_id for o in owed})
        for f in ledger.list(Feedback, contributor=cid)
    }
    stood = owe_feedback(ledger, owed)
    changed: dict[str, Feedback] = {}
    for f in stood:
        if before.get(f.id) != f:
            changed[f.id] = f
    return tuple(changed.values())


def add_outcome(
    ledger: Any,
    outcome: Outcome,
    *,
    due_days: int = DEFAULT_DUE_DAYS,
    now: dt.datetime | None = None,
) -> OutcomeChange:
    """Add a new outcome and the feedback its status owes, in one transaction.

    The ledger refuses an outcome whose id exists or whose insights it does not hold.
    """
    moment = now or dt.datetime.now(dt.UTC)
    with ledger.transaction():
        ledger.add(outcome)
        created = _record(ledger, owed_feedback(ledger, outcome, due_days=due_days, now=moment))
    return OutcomeChange(outcome=outcome, feedback=created)


def update_outcome(
    ledger: Any,
    outcome_id: str,
    status: OutcomeStatus | str,
    *,
    on: dt.date | None = None,
    note: str | None = None,
    by: str | None = None,
    evidence: Iterable[str] = (),
    due_days: int = DEFAULT_DUE_DAYS,
    now: dt.datetime | None = None,
) -> OutcomeChange:
    """Move a stored outcome to ``status`` (see :func:`coprolib.outcomes.advance`) and record
    the feedback that owes, in one transaction. ``on`` defaults to today (UTC)."""
    moment = now or dt.datetime.now(dt.UTC)
    with ledger.transaction():
        current = ledger.get(Outcome, outcome_id)
        if current is None:
            raise RecordError("outcome_id", f"there is no outcome {outcome_id!r} in the ledger")
        moved = advance(
            current, status, on=on or moment.date(), note=note, by=by, evidence=evidence
        )
        ledger.replace(moved)
        created = _record(ledger, owed_feedback(ledger, moved, due_days=due_days, now=moment))
    return OutcomeChange(outcome=moved, feedback=created)
