"""Impact measures: did stories lead to change, how deep did it go, and did people hear back?

:func:`measure` is a pure function over iterables of records (from a bundle, the ledger or
anywhere else) and returns an :class:`Impact`, whose :meth:`Impact.to_dict` is the ``--json``
output of ``coprolib impact`` and the data behind ``coprolib report``. Only ids, counts, dates and
labels appear in the result: never names, contact details or story text.

Periods. With ``since``, story measures (the funnel's story counts, days to first feedback, loop
closure, "soaked up") cover the *cohort* of stories collected on or after ``since`` and all that
followed from them; event counts (insights written, insights shared, outcomes agreed or
implemented, contributors told, activities held) count events dated on or after ``since``
(an insight with no ``created_on`` counts in every period).
Overdue feedback is always everything owed and past due on ``today``.

Definitions.

- A disclosure story is a safeguarding concern, never insight: it is counted apart and left out
  of every other story measure.
- An insight is *shared* when a share of it reached a destination (status ``delivered``, or later
  ``retract_planned``/``retracted``; a bare :class:`~coprolib.records.Share` counts as delivered).
- A contributor *heard back* when a feedback to them is ``sent`` or ``done`` (with ``sent_on``).
  A story's feedback is one naming the story, or about an insight or outcome resting on it.
- *Told what happened* means feedback of kind ``shared``, ``change_update`` or ``not_done``.
- Percentiles use the nearest-rank method on whole days.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from coprolib.enums import (
    ChangeDepth,
    DecisionHolder,
    FeedbackKind,
    FeedbackStatus,
    LadderRung,
    OutcomeStatus,
    SARDomain,
    ShareKind,
)
from coprolib.records import (
    Activity,
    Contributor,
    Feedback,
    Insight,
    Outcome,
    RecordError,
    Share,
    Story,
)

__all__ = [
    "DEFAULT_SOAK_DAYS",
    "DEFAULT_WITHIN_DAYS",
    "DepthRow",
    "DomainRow",
    "FeedbackTiming",
    "FunnelStage",
    "Impact",
    "ImpactWarning",
    "LoopClosure",
    "OverdueFeedback",
    "RungRow",
    "SoakedUp",
    "ThemeRow",
    "format_text",
    "measure",
    "measure_bundle",
    "measure_ledger",
]

#: Default period within which a contributor should first hear back, in days.
DEFAULT_WITHIN_DAYS = 90
#: Default age, in days, after which a story with no insight counts as "soaked up".
DEFAULT_SOAK_DAYS = 90


_SHARED_STATES = frozenset({"delivered", "retract_planned", "retracted"})
_HEARD = frozenset({FeedbackStatus.SENT, FeedbackStatus.DONE})
_WHAT_HAPPENED = frozenset({FeedbackKind.SHARED, FeedbackKind.CHANGE_UPDATE, FeedbackKind.NOT_DONE})
_DELIVERED = frozenset({OutcomeStatus.IMPLEMENTED, OutcomeStatus.EVIDENCED})
# An imported timeline may skip steps: reaching any of these means the change was agreed.
_AGREED_OR_LATER = (OutcomeStatus.AGREED, OutcomeStatus.IN_PROGRESS, *_DELIVERED)
_CO_PRODUCTION = re.compile(r"\bco[\s-]?(produc|design)", re.IGNORECASE)

RUNG_LABELS: Mapping[LadderRung, str] = {
    LadderRung.COERCION: "Coercion",
    LadderRung.EDUCATING: "Educating",
    LadderRung.INFORMING: "Informing",
    LadderRung.CONSULTATION: "Consultation",
    LadderRung.ENGAGEMENT: "Engagement",
    LadderRung.CO_DESIGN: "Co-design",
    LadderRung.CO_PRODUCTION: "Co-production",
}


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
    """Something a board should look at: ``code`` says what, ``subject_id`` which record."""

    code: str
    subject_id: str
    message: str


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


_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> list[str | int]:
    """A sort key that puts ``s-2`` before ``s-10`` (text and numbers alternate)."""
    parts: list[str | int] = list(_DIGITS.split(text))
    parts[1::2] = [int(p) for p in parts[1::2]]
    return parts


def _nearest_rank(sorted_values: list[int], pct: float) -> int:
    return sorted_values[max(0, math.ceil(pct * len(sorted_values)) - 1)]


def _share_pairs(shares: Iterable[Share | tuple[Share, str]]) -> Iterable[tuple[Share, str]]:
    for item in shares:
        if isinstance(item, tuple):
            yield item[0], str(item[1])
        else:
            yield item, "delivered"


@attrs.define
class _Index:
    """What one pass over the records learns, shared by the measures below (internal)."""

    today: dt.date
    since: dt.date | None
    collected: dict[str, dt.date] = attrs.Factory(dict)  # the cohort: story -> collected on
    story_people: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    person_stories: dict[str, list[str]] = attrs.Factory(lambda: defaultdict(list))
    story_themes: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    disclosures: int = 0
    insights: list[Insight] = attrs.Factory(list)
    insight_stories: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    shared_on: dict[str, dt.date] = attrs.Factory(dict)  # insight -> first delivered share
    in_insight: set[str] = attrs.Factory(set)
    in_shared: set[str] = attrs.Factory(set)
    outcomes: list[Outcome] = attrs.Factory(list)
    outcome_stories: dict[str, set[str]] = attrs.Factory(dict)
    in_agreed: set[str] = attrs.Factory(set)
    in_delivered: set[str] = attrs.Factory(set)
    heard_on: dict[str, list[dt.date]] = attrs.Factory(lambda: defaultdict(list))
    story_first: dict[str, dt.date] = attrs.Factory(dict)  # story -> first related feedback
    told_what_happened: set[str] = attrs.Factory(set)
    told_stories: set[str] = attrs.Factory(set)
    told_in_period: set[str] = attrs.Factory(set)
    overdue: list[OverdueFeedback] = attrs.Factory(list)

    def in_period(self, day: dt.date | None) -> bool:
        """Whether an event on ``day`` falls in the period (undated events always do)."""
        return self.since is None or day is None or day >= self.since

    def add_stories(self, stories: Iterable[Story]) -> None:
        """Index every story's contributors; keep the period's non-disclosure stories."""
        for s in stories:
            self.story_people[s.id] = s.contributor_ids
            for cid in s.contributor_ids:
                self.person_stories[cid].append(s.id)
            if s.disclosure:
                self.disclosures += self.in_period(s.collected_on)
                continue
            if self.since is None or s.collected_on >= self.since:
                self.collected[s.id] = s.collected_on
                self.story_themes[s.id] = s.themes

    def add_insights(
        self, insights: Iterable[Insight], shares: Iterable[Share | tuple[Share, str]]
    ) -> None:
        """Index insights, which of them were shared and when, and the stories behind them."""
        self.insights = list(insights)
        self.insight_stories = {i.id: i.story_ids for i in self.insights}
        for share, status in _share_pairs(shares):
            if share.kind is ShareKind.INSIGHT and status in _SHARED_STATES:
                day = share.planned_at.date()
                if share.subject_id not in self.shared_on or day < self.shared_on[share.subject_id]:
                    self.shared_on[share.subject_id] = day
        for i in self.insights:
            self.in_insight.update(i.story_ids)
            if i.id in self.shared_on:
                self.in_shared.update(i.story_ids)

    def add_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        """Index outcomes and the stories behind those agreed and delivered."""
        self.outcomes = list(outcomes)
        for o in self.outcomes:
            behind: set[str] = set()
            for iid in o.insight_ids:
                behind.update(self.insight_stories.get(iid, ()))
            self.outcome_stories[o.id] = behind
            seen = {e.status for e in o.timeline}
            if seen.intersection(_AGREED_OR_LATER):
                self.in_agreed.update(behind)
            if seen & _DELIVERED:
                self.in_delivered.update(behind)

    def add_feedback(self, feedback: Iterable[Feedback]) -> None:
        """Index what is overdue, who heard back when, and which stories it was about."""
        for fb in feedback:
            if fb.status is FeedbackStatus.OWED and fb.due is not None and fb.due < self.today:
                self.overdue.append(
                    OverdueFeedback(
                        feedback_id=fb.id,
                        contributor_id=fb.contributor_id,
                        kind=fb.kind,
                        due=fb.due,
                        days_overdue=(self.today - fb.due).days,
                        outcome_id=fb.outcome_id,
                        insight_id=fb.insight_id,
                    )
                )
            if fb.status in _HEARD and fb.sent_on is not None:
                self._heard(fb, fb.sent_on)
        self.overdue.sort(key=lambda o: (o.due, o.feedback_id))

    def _heard(self, fb: Feedback, sent: dt.date) -> None:
        cid = fb.contributor_id
        self.heard_on[cid].append(sent)
        what_happened = fb.kind in _WHAT_HAPPENED
        if what_happened:
            self.told_what_happened.add(cid)
            if self.in_period(sent):
                self.told_in_period.add(cid)
        related: Iterable[str]
        if fb.story_ids:
            related = fb.story_ids
        else:
            theirs = set(self.person_stories.get(cid, ()))
            if fb.insight_id is not None:
                related = theirs.intersection(self.insight_stories.get(fb.insight_id, ()))
            elif fb.outcome_id is not None:
                related = theirs & self.outcome_stories.get(fb.outcome_id, set())
            else:
                related = ()
        for sid in related:
            if sid not in self.collected or cid not in self.story_people.get(sid, ()):
                continue
            if sid not in self.story_first or sent < self.story_first[sid]:
                self.story_first[sid] = sent
            if what_happened:
                self.told_stories.add(sid)


def _funnel(ix: _Index) -> tuple[FunnelStage, ...]:
    cohort = ix.collected.keys()
    agreed = delivered = 0
    for o in ix.outcomes:
        day = _first(o, _AGREED_OR_LATER)
        agreed += day is not None and ix.in_period(day)
        day = _first(o, tuple(_DELIVERED))
        delivered += day is not None and ix.in_period(day)
    stages = (
        ("stories", "Stories collected", len(cohort), "stories", len(cohort)),
        (
            "insights",
            "Drawn on by an insight",
            sum(1 for i in ix.insights if ix.in_period(i.created_on)),
            "insights",
            len(ix.in_insight.intersection(cohort)),
        ),
        (
            "shared",
            "Shared where practitioners work",
            sum(1 for d in ix.shared_on.values() if ix.in_period(d)),
            "insights shared",
            len(ix.in_shared.intersection(cohort)),
        ),
        (
            "agreed",
            "Led to an agreed change",
            agreed,
            "outcomes agreed",
            len(ix.in_agreed.intersection(cohort)),
        ),
        (
            "delivered",
            "Change implemented or evidenced",
            delivered,
            "outcomes implemented",
            len(ix.in_delivered.intersection(cohort)),
        ),
        (
            "told",
            "Contributors told what happened",
            len(ix.told_in_period),
            "contributors told",
            len(ix.told_stories),
        ),
    )
    return tuple(
        FunnelStage(key=k, label=label, count=n, unit=unit, stories=s)
        for k, label, n, unit, s in stages
    )


def _timing(ix: _Index) -> FeedbackTiming:
    waits = sorted(max(0, (ix.story_first[sid] - ix.collected[sid]).days) for sid in ix.story_first)
    return FeedbackTiming(
        stories_heard=len(waits),
        stories_waiting=len(ix.collected) - len(waits),
        median_days=float(statistics.median(waits)) if waits else None,
        p90_days=_nearest_rank(waits, 0.9) if waits else None,
    )


def _loop_closure(
    ix: _Index, contributors: Iterable[Contributor], within_days: int
) -> tuple[LoopClosure, list[ImpactWarning]]:
    people = {c.id: c for c in contributors}
    first_story: dict[str, dt.date] = {}
    for sid, day in ix.collected.items():
        for cid in ix.story_people[sid]:
            if cid not in first_story or day < first_story[cid]:
                first_story[cid] = day
    counts: Counter[str] = Counter()
    never_told: list[ImpactWarning] = []
    for cid in sorted(first_story, key=_natural):
        person = people.get(cid)
        if person is not None and not person.wants_feedback:
            counts["opted_out"] += 1
            continue
        start = first_story[cid]
        dates = ix.heard_on.get(cid)
        heard = min((d for d in dates if d >= start), default=None) if dates else None
        if heard is not None:
            counts["heard_within" if (heard - start).days <= within_days else "heard_later"] += 1
        elif (ix.today - start).days <= within_days:
            counts["not_yet_due"] += 1
        else:
            counts["not_heard"] += 1
        if cid not in ix.told_what_happened and (ix.today - start).days > within_days:
            never_told.append(
                ImpactWarning(
                    code="never_told",
                    subject_id=cid,
                    message=(
                        f"contributor {cid} asked to hear back, shared a story on "
                        f"{start.isoformat()} and has not been told what happened"
                    ),
                )
            )
    eligible = counts["heard_within"] + counts["heard_later"] + counts["not_heard"]
    loop = LoopClosure(
        within_days=within_days,
        eligible=eligible,
        heard_within=counts["heard_within"],
        heard_later=counts["heard_later"],
        not_heard=counts["not_heard"],
        not_yet_due=counts["not_yet_due"],
        opted_out=counts["opted_out"],
        rate=counts["heard_within"] / eligible if eligible else None,
    )
    return loop, never_told


def _outcome_groups(ix: _Index) -> dict[str, str]:
    """Outcomes that moved in the period: ``underway``, ``delivered`` or ``not_adopted``."""
    groups: dict[str, str] = {}
    for o in ix.outcomes:
        if ix.since is not None and o.timeline[-1].on < ix.since:
            continue
        if o.status is OutcomeStatus.NOT_ADOPTED:
            groups[o.id] = "not_adopted"
        else:
            groups[o.id] = "delivered" if o.status in _DELIVERED else "underway"
    return groups


def _change_depth(ix: _Index, groups: Mapping[str, str]) -> tuple[DepthRow, ...]:
    counts: dict[ChangeDepth, Counter[str]] = {d: Counter() for d in ChangeDepth}
    for o in ix.outcomes:
        if o.id in groups:
            counts[o.depth][groups[o.id]] += 1
    return tuple(
        DepthRow(
            depth=d, underway=c["underway"], delivered=c["delivered"], not_adopted=c["not_adopted"]
        )
        for d, c in counts.items()
    )


def _soaked_up(ix: _Index, soak_days: int) -> SoakedUp:
    cutoff = ix.today - dt.timedelta(days=soak_days)
    old_enough = [sid for sid, day in ix.collected.items() if day <= cutoff]
    soaked = sorted((sid for sid in old_enough if sid not in ix.in_insight), key=_natural)
    return SoakedUp(
        after_days=soak_days, count=len(soaked), eligible=len(old_enough), story_ids=tuple(soaked)
    )


def _themes_and_domains(
    ix: _Index, groups: Mapping[str, str], soaked: SoakedUp
) -> tuple[tuple[ThemeRow, ...], tuple[DomainRow, ...]]:
    soaked_ids = set(soaked.story_ids)
    themes: dict[str, Counter[str]] = defaultdict(Counter)
    for sid, story_themes in ix.story_themes.items():
        for theme in story_themes:
            themes[theme]["stories"] += 1
            themes[theme]["soaked_up"] += sid in soaked_ids
    domains: dict[SARDomain, Counter[str]] = {d: Counter() for d in SARDomain}
    by_id = {i.id: i for i in ix.insights}
    for i in ix.insights:
        if not ix.in_period(i.created_on):
            continue
        for theme in i.themes:
            themes[theme]["insights"] += 1
        domains[i.domain]["insights"] += 1
        domains[i.domain]["shared"] += i.id in ix.shared_on
    for o in ix.outcomes:
        group = groups.get(o.id)
        if group is None or group == "not_adopted":
            continue
        used = [by_id[iid] for iid in o.insight_ids if iid in by_id]
        for theme in {t for i in used for t in i.themes}:
            themes[theme]["outcomes"] += 1
            themes[theme]["delivered"] += group == "delivered"
        for domain in {i.domain for i in used}:
            domains[domain]["outcomes"] += 1
            domains[domain]["delivered"] += group == "delivered"
    theme_rows = sorted(
        (
            ThemeRow(
                theme=t,
                stories=c["stories"],
                soaked_up=c["soaked_up"],
                insights=c["insights"],
                outcomes=c["outcomes"],
                delivered=c["delivered"],
            )
            for t, c in themes.items()
        ),
        key=lambda r: (-r.stories, -r.insights, r.theme),
    )
    domain_rows = tuple(
        DomainRow(
            domain=d,
            insights=c["insights"],
            shared=c["shared"],
            outcomes=c["outcomes"],
            delivered=c["delivered"],
        )
        for d, c in domains.items()
    )
    return tuple(theme_rows), domain_rows


def _ladder(
    activities: Iterable[Activity], ix: _Index
) -> tuple[tuple[RungRow, ...], list[ImpactWarning]]:
    rungs: dict[LadderRung, Counter[str]] = {r: Counter() for r in LadderRung}
    warnings: list[ImpactWarning] = []
    for a in activities:
        if not ix.in_period(a.held_on):
            continue
        c = rungs[a.rung]
        c["activities"] += 1
        c["participants"] += a.participants
        c[a.decisions_held_by.value] += 1
        called = bool(a.described_as and _CO_PRODUCTION.search(a.described_as))
        where = f"ladder rung {int(a.rung)}: {RUNG_LABELS[a.rung].lower()}"
        if (a.rung >= LadderRung.CO_DESIGN or called) and (
            a.decisions_held_by is DecisionHolder.PROFESSIONALS
        ):
            warnings.append(
                ImpactWarning(
                    code="professionals_held_decisions",
                    subject_id=a.id,
                    message=(
                        f"activity {a.id} is presented as co-production ({where}) but "
                        "professionals alone held the decisions"
                    ),
                )
            )
        if called and a.rung < LadderRung.CO_DESIGN:
            warnings.append(
                ImpactWarning(
                    code="called_co_production",
                    subject_id=a.id,
                    message=f"activity {a.id} is described as co-production but sits at {where}",
                )
            )
    rows = tuple(
        RungRow(
            rung=r,
            label=RUNG_LABELS[r],
            activities=c["activities"],
            participants=c["participants"],
            professionals=c[DecisionHolder.PROFESSIONALS.value],
            shared=c[DecisionHolder.SHARED.value],
            lived_experience=c[DecisionHolder.LIVED_EXPERIENCE.value],
        )
        for r, c in rungs.items()
    )
    return rows, warnings


def measure(
    *,
    stories: Iterable[Story],
    insights: Iterable[Insight] = (),
    outcomes: Iterable[Outcome] = (),
    feedback: Iterable[Feedback] = (),
    activities: Iterable[Activity] = (),
    contributors: Iterable[Contributor] = (),
    shares: Iterable[Share | tuple[Share, str]] = (),
    today: dt.date,
    since: dt.date | None = None,
    within_days: int = DEFAULT_WITHIN_DAYS,
    soak_days: int = DEFAULT_SOAK_DAYS,
) -> Impact:
    """Compute every impact measure from the records given (see the module docs for the
    definitions). ``shares`` may be bare shares or ``(share, status)`` pairs as the ledger lists
    them. Runs in one pass over each input."""
    if within_days < 0:
        raise RecordError("within_days", f"is {within_days}; it cannot be negative")
    if soak_days < 0:
        raise RecordError("soak_days", f"is {soak_days}; it cannot be negative")
    if since is not None and since > today:
        raise RecordError("since", f"{since.isoformat()} is after today ({today.isoformat()})")
    ix = _Index(today=today, since=since)
    ix.add_stories(stories)
    ix.add_insights(insights, shares)
    ix.add_outcomes(outcomes)
    ix.add_feedback(feedback)
    loop, never_told = _loop_closure(ix, contributors, within_days)
    groups = _outcome_groups(ix)
    soaked = _soaked_up(ix, soak_days)
    themes, domains = _themes_and_domains(ix, groups, soaked)
    ladder, activity_warnings = _ladder(activities, ix)
    return Impact(
        as_of=today,
        since=since,
        funnel=_funnel(ix),
        disclosures=ix.disclosures,
        feedback_timing=_timing(ix),
        loop_closure=loop,
        change_depth=_change_depth(ix, groups),
        soaked_up=soaked,
        themes=themes,
        domains=domains,
        ladder=ladder,
        warnings=(*activity_warnings, *never_told),
        overdue_feedback=tuple(ix.overdue),
    )


def _first(outcome: Outcome, statuses: tuple[OutcomeStatus, ...]) -> dt.date | None:
    for event in outcome.timeline:
        if event.status in statuses:
            return event.on
    return None


def measure_bundle(bundle: Any, **options: Any) -> Impact:
    """:func:`measure` over anything with record tuples as attributes (``stories``,
    ``insights``, ``outcomes``, ``feedback``, ``activities``, ``contributors``, optionally
    ``shares``), such as a loaded bundle. ``options`` go to :func:`measure`."""
    return measure(
        stories=bundle.stories,
        insights=getattr(bundle, "insights", ()),
        outcomes=getattr(bundle, "outcomes", ()),
        feedback=getattr(bundle, "feedback", ()),
        activities=getattr(bundle, "activities", ()),
        contributors=getattr(bundle, "contributors", ()),
        shares=getattr(bundle, "shares", ()),
        **options,
    )


def measure_ledger(ledger: Any, **options: Any) -> Impact:
    """:func:`measure` over everything in a :class:`coprolib.ledger.Ledger` (its stories,
    insights, outcomes, feedback, activities, contributors and shares with their status).
    ``options`` go to :func:`measure`."""
    return measure(
        stories=ledger.list(Story),
        insights=ledger.list(Insight),
        outcomes=ledger.list(Outcome),
        feedback=ledger.list(Feedback),
        activities=ledger.list(Activity),
        contributors=ledger.list(Contributor),
        shares=ledger.list_shares(),
        **options,
    )


def format_text(impact: Impact) -> str:
    """A short plain-text summary of an :class:`Impact` (what ``coprolib impact`` prints)."""
    period = f"since {impact.since.isoformat()}" if impact.since else "all records"
    lines = [f"Impact as of {impact.as_of.isoformat()} ({period})", ""]
    first = impact.funnel[0]
    lines.append(
        f"{first.label}: {first.stories} (disclosures, handled apart as safeguarding "
        f"concerns: {impact.disclosures})"
    )
    for stage in impact.funnel[1:]:
        lines.append(f"  {stage.label}: {stage.stories} stories ({stage.count} {stage.unit})")
    loop, timing = impact.loop_closure, impact.feedback_timing
    rate = "n/a" if loop.rate is None else f"{loop.rate * 100:.0f}%"
    lines.append(
        f"Heard back within {loop.within_days} days: {rate} ({loop.heard_within} of "
        f"{loop.eligible}; {loop.heard_later} later, {loop.not_heard} not heard; "
        f"{loop.not_yet_due} not yet due)"
    )
    if timing.median_days is not None:
        lines.append(
            f"Days from story to first feedback: median {timing.median_days:g}, "
            f"90th percentile {timing.p90_days}"
        )
    depth = ", ".join(f"{r.depth.value} {r.total}" for r in impact.change_depth)
    lines.append(f"Change depth (outcomes): {depth}")
    soaked = impact.soaked_up
    lines.append(
        f"Soaked up (no insight after {soaked.after_days} days): {soaked.count} of "
        f"{soaked.eligible} stories"
    )
    rungs = ", ".join(
        f"rung {int(r.rung)} ({r.label.lower()}): {r.activities}"
        for r in impact.ladder
        if r.activities
    )
    lines.append(f"Activities by ladder rung: {rungs or 'none'}")
    lines.append(f"Feedback overdue: {len(impact.overdue_feedback)}")
    never = sum(1 for w in impact.warnings if w.code == "never_told")
    lines.append(f"Warnings: {len(impact.warnings)} ({never} contributors never told)")
    lines.extend(f"  {w.message}" for w in impact.warnings if w.code != "never_told")
    return "\n".join(lines)
