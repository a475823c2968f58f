"""The outcome lifecycle, and the feedback a change of status owes to the people behind it.

An outcome moves ``proposed -> agreed -> in_progress -> implemented -> evidenced``, one step at a
time; from any status that is not final it may instead end as ``not_adopted``, which needs the
reason (contributors are told what was not done, and why). ``evidenced`` and ``not_adopted`` are
final.

Everything here is a pure function over records: :func:`advance` returns a new
:class:`~coprolib.records.Outcome`, :func:`change_feedback` returns the
:class:`~coprolib.records.Feedback` obligations the outcome's latest status creates. The
ledger-backed versions live in :mod:`coprolib.outcomes.recording`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Mapping

import attrs

from coprolib.records import (
    Contributor,
    Feedback,
    Insight,
    Outcome,
    OutcomeEvent,
    RecordError,
    Story,
)
from coprolib.records.enums import (
    ChangeDepth,
    FeedbackKind,
    FeedbackStatus,
    OutcomeKind,
    OutcomeStatus,
)

__all__ = [
    "DEFAULT_DUE_DAYS",
    "FINAL_STATUSES",
    "TRANSITIONS",
    "LifecycleError",
    "StatusSpan",
    "advance",
    "allowed_next",
    "change_feedback",
    "check_timeline",
    "contributors_behind",
    "propose",
    "reached",
    "time_in_status",
]

#: Days a contributor should wait at most, after a status change, to hear about it.
DEFAULT_DUE_DAYS = 28

_S = OutcomeStatus

#: The statuses each status may move to.
TRANSITIONS: Mapping[OutcomeStatus, frozenset[OutcomeStatus]] = {
    _S.PROPOSED: frozenset({_S.AGREED, _S.NOT_ADOPTED}),
    _S.AGREED: frozenset({_S.IN_PROGRESS, _S.NOT_ADOPTED}),
    _S.IN_PROGRESS: frozenset({_S.IMPLEMENTED, _S.NOT_ADOPTED}),
    _S.IMPLEMENTED: frozenset({_S.EVIDENCED, _S.NOT_ADOPTED}),
    _S.EVIDENCED: frozenset(),
    _S.NOT_ADOPTED: frozenset(),
}

#: Statuses an outcome cannot leave.
FINAL_STATUSES: frozenset[OutcomeStatus] = frozenset(s for s, n in TRANSITIONS.items() if not n)

_ORDER = (_S.PROPOSED, _S.AGREED, _S.IN_PROGRESS, _S.IMPLEMENTED, _S.EVIDENCED)

_WORDS = {
    _S.PROPOSED: "proposed",
    _S.AGREED: "agreed",
    _S.IN_PROGRESS: "in progress",
    _S.IMPLEMENTED: "implemented",
    _S.EVIDENCED: "evidenced (the change has been shown to make a difference)",
    _S.NOT_ADOPTED: "not adopted",
}


class LifecycleError(RecordError):
    """A status change the outcome lifecycle does not allow; ``field`` names what is wrong."""

    def __init__(self, outcome_id: str, field: str, message: str) -> None:
        super().__init__(field, f"outcome {outcome_id!r}: {message}")
        self.outcome_id = outcome_id


@attrs.frozen(kw_only=True)
class StatusSpan:
    """A stretch of an outcome's timeline in one status: from ``since`` to ``until`` (``None``
    while it is the current status), and its length in days up to ``until`` or today."""

    status: OutcomeStatus
    since: dt.date
    until: dt.date | None
    days: int


def time_in_status(outcome: Outcome, today: dt.date) -> tuple[StatusSpan, ...]:
    """Each step of the outcome's timeline as a :class:`StatusSpan`, in order: a step lasts
    until the next one; the last lasts until ``today`` unless it is final (``evidenced`` or
    ``not_adopted``), when it has no end and ``days`` is 0. A step dated after ``today``
    counts 0 days."""
    spans: list[StatusSpan] = []
    timeline = outcome.timeline
    for i, event in enumerate(timeline):
        until = timeline[i + 1].on if i + 1 < len(timeline) else None
        if until is not None:
            days = (until - event.on).days
        elif event.status in FINAL_STATUSES:
            days = 0
        else:
            days = max(0, (today - event.on).days)
        spans.append(StatusSpan(status=event.status, since=event.on, until=until, days=days))
    return tuple(spans)


def allowed_next(status: OutcomeStatus) -> tuple[OutcomeStatus, ...]:
    """The statuses ``status`` may move to, in lifecycle order (``not_adopted`` last)."""
    nxt = TRANSITIONS[status]
    return tuple(s for s in (*_ORDER, _S.NOT_ADOPTED) if s in nxt)


def reached(outcome: Outcome, status: OutcomeStatus) -> dt.date | None:
    """The date the outcome first reached ``status``, or ``None`` if it never did."""
    for event in outcome.timeline:
        if event.status is status:
            return event.on
    return None


def _transition_problem(current: OutcomeStatus, new: OutcomeStatus) -> str | None:
    if new in TRANSITIONS[current]:
        return None
    if current in FINAL_STATUSES:
        return f"is '{current}', which is final: it cannot become '{new}'"
    options = ", ".join(f"'{s}'" for s in allowed_next(current))
    return f"cannot go from '{current}' to '{new}'; from '{current}' it can go to {options}"


def check_timeline(outcome: Outcome) -> None:
    """Raise :class:`LifecycleError` unless the timeline starts at ``proposed`` and every step
    is an allowed transition (useful on imported outcomes)."""
    first = outcome.timeline[0].status
    if first is not _S.PROPOSED:
        raise LifecycleError(
            outcome.id, "timeline[0].status", f"starts at '{first}'; an outcome starts 'proposed'"
        )
    for i in range(1, len(outcome.timeline)):
        problem = _transition_problem(outcome.timeline[i - 1].status, outcome.timeline[i].status)
        if problem is not None:
            raise LifecycleError(outcome.id, f"timeline[{i}].status", problem)


def propose(
    *,
    id: str,
    title: str,
    kind: OutcomeKind | str,
    depth: ChangeDepth | str,
    insight_ids: Iterable[str],
    owner: str,
    on: dt.date,
    by: str | None = None,
    note: str | None = None,
    description: str | None = None,
    due: dt.date | None = None,
) -> Outcome:
    """A new outcome, ``proposed`` on ``on``."""
    return Outcome(
        id=id,
        title=title,
        kind=OutcomeKind(kind),
        depth=ChangeDepth(depth),
        insight_ids=tuple(insight_ids),
        owner=owner,
        timeline=(OutcomeEvent(on=on, status=_S.PROPOSED, note=note, by=by),),
        description=description,
        due=due,
    )


def advance(
    outcome: Outcome,
    status: OutcomeStatus | str,
    *,
    on: dt.date,
    note: str | None = None,
    by: str | None = None,
    evidence: Iterable[str] = (),
) -> Outcome:
    """The outcome with ``status`` appended to its timeline on ``on``.

    Raises :class:`LifecycleError` (a :class:`~coprolib.records.RecordError`) when the lifecycle
    does not allow the step, when ``on`` is before the latest entry, or when ``not_adopted`` has
    no reason in ``note``.
    """
    try:
        new = OutcomeStatus(status)
    except ValueError:
        options = ", ".join(f"'{s}'" for s in OutcomeStatus)
        raise LifecycleError(
            outcome.id, "status", f"{status!r} is not a status; use one of {options}"
        ) from None
    problem = _transition_problem(outcome.status, new)
    if problem is not None:
        raise LifecycleError(outcome.id, "status", problem)
    last = outcome.timeline[-1].on
    if on < last:
        raise LifecycleError(
            outcome.id,
            "on",
            f"{on.isoformat()} is before the latest timeline entry ({last.isoformat()})",
        )
    if new is _S.NOT_ADOPTED and not (note and note.strip()):
        raise LifecycleError(
            outcome.id, "note", "'not_adopted' needs the reason, so contributors hear why"
        )
    event = OutcomeEvent(on=on, status=new, note=note, by=by, evidence=tuple(evidence))
    return attrs.evolve(outcome, timeline=(*outcome.timeline, event))


def contributors_behind(
    outcome: Outcome, insights: Iterable[Insight], stories: Iterable[Story]
) -> dict[str, tuple[tuple[str, ...], str]]:
    """For each contributor behind the outcome: the ids of their stories it rests on and the
    first of the outcome's insights that used one of them."""
    by_insight = {i.id: i for i in insights if i.id in outcome.insight_ids}
    wanted: dict[str, str] = {}
    for insight_id in outcome.insight_ids:
        insight = by_insight.get(insight_id)
        if insight is None:
            continue
        for story_id in insight.story_ids:
            wanted.setdefault(story_id, insight_id)
    found: dict[str, tuple[list[str], str]] = {}
    for story in stories:
        used_by = wanted.get(story.id)
        if used_by is None:
            continue
        for cid in story.contributor_ids:
            entry = found.setdefault(cid, ([], used_by))
            entry[0].append(story.id)
    return {cid: (tuple(sorted(ids)), ins) for cid, (ids, ins) in found.items()}


def _message(outcome: Outcome, event: OutcomeEvent) -> str:
    when = event.on.isoformat()
    if event.status is _S.NOT_ADOPTED:
        return (
            f"Your story helped us look at a change: {outcome.title}. On {when} it was decided "
            f"not to go ahead. Why: {event.note}"
        )
    text = f"Your story helped bring about a change: {outcome.title}. On {when} it was "
    text += _WORDS[event.status] + "."
    if event.note:
        text += f" {event.note}"
    return text


def change_feedback(
    outcome: Outcome,
    insights: Iterable[Insight],
    stories: Iterable[Story],
    contributors: Iterable[Contributor] | Mapping[str, Contributor],
    due_days: int = DEFAULT_DUE_DAYS,
    *,
    now: dt.datetime | None = None,
    exclude: Container[str] = (),
) -> list[Feedback]:
    """The feedback obligations the outcome's latest status creates.

    One ``change_update`` (or ``not_done``, carrying the reason, when the outcome was not adopted)
    for each contributor whose story is evidence for one of the outcome's insights and who asked
    to hear back, through the channel they chose, due ``due_days`` after the status changed.
    Contributors in ``exclude`` (for example those who withdrew) and contributors not found (for
    example erased ones) are left out. Ids are deterministic (outcome, timeline step,
    contributor), so calling this twice for the same step yields the same obligations.
    """
    if due_days < 0:
        raise RecordError("due_days", f"is {due_days}; it cannot be negative")
    people = contributors if isinstance(contributors, Mapping) else {c.id: c for c in contributors}
    event = outcome.timeline[-1]
    step = len(outcome.timeline)
    kind = FeedbackKind.NOT_DONE if event.status is _S.NOT_ADOPTED else FeedbackKind.CHANGE_UPDATE
    message = _message(outcome, event)
    due = event.on + dt.timedelta(days=due_days)
    owed: list[Feedback] = []
    for cid, (story_ids, insight_id) in sorted(
        contributors_behind(outcome, insights, stories).items()
    ):
        person = people.get(cid)
        if person is None or not person.wants_feedback or cid in exclude:
            continue
        owed.append(
            Feedback(
                id=f"fb-{outcome.id}-{step}-{cid}",
                contributor_id=cid,
                kind=kind,
                channel=person.feedback_channel,
                status=FeedbackStatus.OWED,
                due=due,
                story_ids=story_ids,
                insight_id=insight_id,
                outcome_id=outcome.id,
                message=message,
                created_at=now,
                note=event.note if kind is FeedbackKind.NOT_DONE else None,
            )
        )
    return owed
