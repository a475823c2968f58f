"""The result of measuring impact: :class:`Impact` and the rows and figures it holds."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from coprolib.enums import ChangeDepth, FeedbackKind, LadderRung, SARDomain


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


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
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
        return data
