"""The result of measuring impact: :class:`Impact` and the rows and figures it holds."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from coprolib.records.enums import (
    ChangeDepth,
    FeedbackKind,
    InvolvementRole,
    LadderRung,
    OutcomeStatus,
    RecognitionKind,
    SARDomain,
)


@attrs.frozen(kw_only=True)
class FunnelStage:
    """One stage of the funnel: ``count`` of its own unit in the period, and how many of the
    cohort's stories reached it."""

    key: str
    label: str
    count: int
    unit: str
    stories: int


@attrs.frozen(kw_only=True)
class FeedbackTiming:
    """Days from a story being collected to its contributors first hearing back."""

    stories_heard: int
    stories_waiting: int
    median_days: float | None
    p90_days: int | None


@attrs.frozen(kw_only=True)
class LoopClosure:
    """Contributors who asked to hear back, and how many did within ``within_days``.

    ``eligible`` leaves out people whose period has not ended yet and who have not heard back
    (``not_yet_due``); ``rate`` is ``heard_within / eligible`` (``None`` when nobody is eligible).
    """

    within_days: int
    eligible: int
    heard_within: int
    heard_later: int
    not_heard: int
    not_yet_due: int
    opted_out: int
    rate: float | None


@attrs.frozen(kw_only=True)
class DepthRow:
    """Outcomes of one change depth, by where they stand."""

    depth: ChangeDepth
    underway: int
    delivered: int
    not_adopted: int

    @property
    def total(self) -> int:
        """All outcomes of this depth."""
        return self.underway + self.delivered + self.not_adopted


@attrs.frozen(kw_only=True)
class SoakedUp:
    """Stories older than ``after_days`` that no insight draws on."""

    after_days: int
    count: int
    eligible: int
    story_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ThemeRow:
    """One theme: its stories, insights and outcomes."""

    theme: str
    stories: int
    soaked_up: int
    insights: int
    outcomes: int
    delivered: int


@attrs.frozen(kw_only=True)
class DomainRow:
    """One SAR learning domain: its insights and the outcomes they led to."""

    domain: SARDomain
    insights: int
    shared: int
    outcomes: int
    delivered: int


@attrs.frozen(kw_only=True)
class RungRow:
    """Activities on one rung of the ladder of co-production, and who held the decisions."""

    rung: LadderRung
    label: str
    activities: int
    participants: int
    professionals: int
    shared: int
    lived_experience: int


@attrs.frozen(kw_only=True)
class ImpactWarning:
    """Something a board should look at: ``code`` says what, ``subject_id`` which record, and
    ``title`` its title when it has one (an activity's; never a person's name)."""

    code: str
    subject_id: str
    message: str
    title: str | None = None


@attrs.frozen(kw_only=True)
class OverdueFeedback:
    """A feedback obligation past its due date (ids only)."""

    feedback_id: str
    contributor_id: str
    kind: FeedbackKind
    due: dt.date
    days_overdue: int
    outcome_id: str | None
    insight_id: str | None
    #: What it is about, in words: the outcome's title, else the insight's, else None.
    title: str | None = None


@attrs.frozen(kw_only=True)
class QuarterRow:
    """One calendar quarter of the trend: what happened in it, counted by the day it happened."""

    quarter: str  # "2026 Q2"
    start: dt.date
    stories: int
    insights_shared: int
    outcomes_agreed: int
    outcomes_delivered: int
    contributors_told: int


@attrs.frozen(kw_only=True)
class OffTheBar:
    """How far off the bar the professionals were: their proposals of the period and what lived
    experience said of them, and where the adopted changes came from."""

    proposals: int
    heard: int
    confirmed: int
    changed: int
    overturned: int
    new: int
    #: (changed + overturned) / heard; None when no proposal has been heard.
    off_rate: float | None
    adopted: int
    adopted_from_lived_experience: int
    adopted_from_professionals: int
    adopted_unlinked: int
    #: from lived experience / (from lived experience + from the professionals' list).
    lived_share: float | None


@attrs.frozen(kw_only=True)
class OutcomeTime:
    """One outcome's days in each status of its timeline (ids and labels only)."""

    outcome_id: str
    depth: ChangeDepth
    status: OutcomeStatus
    days_in_status: dict[str, int]


@attrs.frozen(kw_only=True)
class StalledChange:
    """A change that stalled: ``reasons`` are ``no_progress`` and/or ``past_due``; the stories
    behind it by id and the insights by title (never story text or names)."""

    outcome_id: str
    title: str
    depth: ChangeDepth
    owner: str
    status: OutcomeStatus
    since: dt.date
    days_in_status: int
    due: dt.date | None
    reasons: tuple[str, ...]
    insight_titles: tuple[str, ...]
    story_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class StalledDepthRow:
    """Open changes of one depth, and how many of them stalled."""

    depth: ChangeDepth
    open: int
    stalled: int

    @property
    def rate(self) -> float | None:
        """stalled / open (None when none is open)."""
        return self.stalled / self.open if self.open else None


@attrs.frozen(kw_only=True)
class Stalled:
    """Changes not yet delivered, and those that stalled: no new status for ``after_days``,
    or past their due date."""

    after_days: int
    open: int
    count: int
    by_depth: tuple[StalledDepthRow, ...]
    changes: tuple[StalledChange, ...]
    outcomes: tuple[OutcomeTime, ...]


@attrs.frozen(kw_only=True)
class RoleRow:
    """People who took one role, and how many times."""

    role: InvolvementRole
    people: int
    involvements: int


@attrs.frozen(kw_only=True)
class InvolvementSummary:
    """Involvement over time, as counts only (never who)."""

    follow_up_days: int
    people: int
    involvements: int
    returned: int
    once: int
    supported: int
    by_role: tuple[RoleRow, ...]
    recognition_offered: int
    recognition_given: int
    recognition_declined: int
    no_recognition: int
    offered_pence: int
    given_pence: int
    #: What the hourly rates in the policy come to for the hours recorded.
    policy_pence: int
    involved_once_not_contacted: int
    story_no_feedback: int

    @property
    def warnings(self) -> tuple[str, ...]:
        """The "wheeled out" warnings in plain words, as counts (never who)."""

        def people(n: int) -> str:
            return "1 person" if n == 1 else f"{n} people"

        out: list[str] = []
        if self.involved_once_not_contacted:
            out.append(
                f"{people(self.involved_once_not_contacted)} took part once and nobody has "
                f"been in touch since (more than {self.follow_up_days} days)"
            )
        if self.no_recognition:
            n = self.no_recognition
            out.append(
                f"{n} time{'s' if n != 1 else ''} someone took part with no recognition or "
                "payment recorded"
            )
        if self.story_no_feedback:
            out.append(
                f"{people(self.story_no_feedback)} gave their story and never heard anything back"
            )
        return tuple(out)


@attrs.frozen(kw_only=True)
class InvolvementEntry:
    """One activity a person took part in: role, hours, recognition offered and given."""

    activity_id: str
    activity_title: str
    held_on: dt.date
    role: InvolvementRole
    recorded: bool
    hours: float | None
    supporting_org: str | None
    recognition: tuple[RecognitionKind, ...]
    given: bool
    offered_pence: int
    given_pence: int
    policy_pence: int | None
    methods: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ContributorInvolvement:
    """One person's involvement over time, with the plain-words warnings about it. For the
    person's own journey and the people supporting them, never for the board report."""

    contributor_id: str
    entries: tuple[InvolvementEntry, ...]
    stories: int
    last_contact: dt.date | None
    supporting_orgs: tuple[str, ...]
    warnings: tuple[ImpactWarning, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data: dict[str, Any] = _plain(self)
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@attrs.frozen(kw_only=True)
class Impact:
    """Every impact measure for one period, as of ``as_of``."""

    as_of: dt.date
    since: dt.date | None
    funnel: tuple[FunnelStage, ...]
    disclosures: int
    feedback_timing: FeedbackTiming
    loop_closure: LoopClosure
    change_depth: tuple[DepthRow, ...]
    soaked_up: SoakedUp
    themes: tuple[ThemeRow, ...]
    domains: tuple[DomainRow, ...]
    ladder: tuple[RungRow, ...]
    warnings: tuple[ImpactWarning, ...]
    overdue_feedback: tuple[OverdueFeedback, ...]
    trend: tuple[QuarterRow, ...] = ()
    off_the_bar: OffTheBar | None = None
    stalled: Stalled | None = None
    involvement: InvolvementSummary | None = None

    def stage(self, key: str) -> FunnelStage:
        """The funnel stage with this key."""
        for s in self.funnel:
            if s.key == key:
                return s
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: enums as their values, dates as ISO text."""
        data: dict[str, Any] = _plain(self)
        for row, src in zip(data["change_depth"], self.change_depth, strict=True):
            row["total"] = src.total
        if self.stalled is not None:
            for row, srow in zip(data["stalled"]["by_depth"], self.stalled.by_depth, strict=True):
                row["rate"] = srow.rate
        if self.involvement is not None:
            data["involvement"]["warnings"] = list(self.involvement.warnings)
        return data
