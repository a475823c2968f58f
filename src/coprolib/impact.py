"""Impact measures: did stories lead to change, how deep did it go, and did people hear back?

:func:`measure` is a pure function over iterables of records (from a bundle, the ledger or
anywhere else) and returns an :class:`Impact`, whose :meth:`Impact.to_dict` is the ``--json``
output of ``coprolib impact`` and the data behind ``coprolib report``. Only ids, counts, dates and
labels appear in the result: never names, contact details or story text.

Periods. With ``since``, story measures (the funnel's story counts, days to first feedback, loop
closure, "soaked up") cover the *cohort* of stories collected on or after ``since`` and all that
followed from them; event counts (insights written, insights shared, outcomes agreed or
implemented, contributors told, activities held) count events dated on or after ``since``.
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


def _in(day: dt.date | None, since: dt.date | None) -> bool:
    return since is None or day is None or day >= since


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

    # --- stories: the cohort, and every story's contributors -----------------------------
    collected: dict[str, dt.date] = {}
    story_people: dict[str, tuple[str, ...]] = {}
    person_stories: dict[str, list[str]] = defaultdict(list)
    story_themes: dict[str, tuple[str, ...]] = {}
    disclosures = 0
    for s in stories:
        story_people[s.id] = s.contributor_ids
        for cid in s.contributor_ids:
            person_stories[cid].append(s.id)
        if s.disclosure:
            if _in(s.collected_on, since):
                disclosures += 1
            continue
        if since is None or s.collected_on >= since:
            collected[s.id] = s.collected_on
            story_themes[s.id] = s.themes

    # --- insights and shares -------------------------------------------------------------
    insight_list = list(insights)
    insight_stories: dict[str, tuple[str, ...]] = {i.id: i.story_ids for i in insight_list}
    insight_domain: dict[str, SARDomain] = {i.id: i.domain for i in insight_list}
    shared_on: dict[str, dt.date] = {}
    for share, status in _share_pairs(shares):
        if share.kind is ShareKind.INSIGHT and status in _SHARED_STATES:
            day = share.planned_at.date()
            if share.subject_id not in shared_on or day < shared_on[share.subject_id]:
                shared_on[share.subject_id] = day
    in_insight: set[str] = set()
    in_shared: set[str] = set()
    for i in insight_list:
        in_insight.update(i.story_ids)
        if i.id in shared_on:
            in_shared.update(i.story_ids)

    # --- outcomes ------------------------------------------------------------------------
    outcome_list = list(outcomes)
    outcome_stories: dict[str, set[str]] = {}
    in_agreed: set[str] = set()
    in_delivered: set[str] = set()
    for o in outcome_list:
        behind: set[str] = set()
        for iid in o.insight_ids:
            behind.update(insight_stories.get(iid, ()))
        outcome_stories[o.id] = behind
        seen = {e.status for e in o.timeline}
        if seen.intersection(_AGREED_OR_LATER):
            in_agreed.update(behind)
        if seen & _DELIVERED:
            in_delivered.update(behind)

    # --- feedback ------------------------------------------------------------------------
    heard_on: dict[str, list[dt.date]] = defaultdict(list)  # contributor -> sent feedback dates
    story_first: dict[str, dt.date] = {}  # story -> first feedback related to it
    told_what_happened: set[str] = set()
    told_stories: set[str] = set()
    told_in_period: set[str] = set()
    overdue: list[OverdueFeedback] = []
    for fb in feedback:
        if fb.status is FeedbackStatus.OWED and fb.due is not None and fb.due < today:
            overdue.append(
                OverdueFeedback(
                    feedback_id=fb.id,
                    contributor_id=fb.contributor_id,
                    kind=fb.kind,
                    due=fb.due,
                    days_overdue=(today - fb.due).days,
                    outcome_id=fb.outcome_id,
                    insight_id=fb.insight_id,
                )
            )
        if fb.status not in _HEARD or fb.sent_on is None:
            continue
        cid, sent = fb.contributor_id, fb.sent_on
        heard_on[cid].append(sent)
        if fb.kind in _WHAT_HAPPENED:
            told_what_happened.add(cid)
            if _in(sent, since):
                told_in_period.add(cid)
        related: Iterable[str]
        if fb.story_ids:
            related = fb.story_ids
        else:
            theirs = set(person_stories.get(cid, ()))
            if fb.insight_id is not None:
                related = theirs.intersection(insight_stories.get(fb.insight_id, ()))
            elif fb.outcome_id is not None:
                related = theirs & outcome_stories.get(fb.outcome_id, set())
            else:
                related = ()
        for sid in related:
            if sid not in collected or cid not in story_people.get(sid, ()):
                continue
            if sid not in story_first or sent < story_first[sid]:
                story_first[sid] = sent
            if fb.kind in _WHAT_HAPPENED:
                told_stories.add(sid)
    overdue.sort(key=lambda o: (o.due, o.feedback_id))

    # --- funnel --------------------------------------------------------------------------
    cohort = collected.keys()
    shared_in_period = sum(1 for d in shared_on.values() if _in(d, since))
    agreed_in_period = delivered_in_period = 0
    for o in outcome_list:
        agreed = _first(o, _AGREED_OR_LATER)
        if agreed is not None and _in(agreed, since):
            agreed_in_period += 1
        done = _first(o, tuple(_DELIVERED))
        if done is not None and _in(done, since):
            delivered_in_period += 1
    funnel = (
        FunnelStage(
            key="stories",
            label="Stories collected",
            count=len(collected),
            unit="stories",
            stories=len(collected),
        ),
        FunnelStage(
            key="insights",
            label="Drawn on by an insight",
            count=sum(1 for i in insight_list if _in(i.created_on, since)),
            unit="insights",
            stories=len(in_insight.intersection(cohort)),
        ),
        FunnelStage(
            key="shared",
            label="Shared where practitioners work",
            count=shared_in_period,
            unit="insights shared",
            stories=len(in_shared.intersection(cohort)),
        ),
        FunnelStage(
            key="agreed",
            label="Led to an agreed change",
            count=agreed_in_period,
            unit="outcomes agreed",
            stories=len(in_agreed.intersection(cohort)),
        ),
        FunnelStage(
            key="delivered",
            label="Change implemented or evidenced",
            count=delivered_in_period,
            unit="outcomes implemented",
            stories=len(in_delivered.intersection(cohort)),
        ),
        FunnelStage(
            key="told",
            label="Contributors told what happened",
            count=len(told_in_period),
            unit="contributors told",
            stories=len(told_stories),
        ),
    )

    # --- days to first feedback ----------------------------------------------------------
    waits = sorted(max(0, (story_first[sid] - collected[sid]).days) for sid in story_first)
    timing = FeedbackTiming(
        stories_heard=len(waits),
        stories_waiting=len(collected) - len(waits),
        median_days=float(statistics.median(waits)) if waits else None,
        p90_days=_nearest_rank(waits, 0.9) if waits else None,
    )

    # --- loop closure --------------------------------------------------------------------
    people = {c.id: c for c in contributors}
    first_story: dict[str, dt.date] = {}
    for sid, day in collected.items():
        for cid in story_people[sid]:
            if cid not in first_story or day < first_story[cid]:
                first_story[cid] = day
    counts: Counter[str] = Counter()
    warnings: list[ImpactWarning] = []
    for cid in sorted(first_story, key=_natural):
        person = people.get(cid)
        if person is not None and not person.wants_feedback:
            counts["opted_out"] += 1
            continue
        start = first_story[cid]
        dates = heard_on.get(cid)
        heard = min((d for d in dates if d >= start), default=None) if dates else None
        if heard is not None:
            counts["heard_within" if (heard - start).days <= within_days else "heard_later"] += 1
        elif (today - start).days <= within_days:
            counts["not_yet_due"] += 1
        else:
            counts["not_heard"] += 1
        if cid not in told_what_happened and (today - start).days > within_days:
            warnings.append(
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

    # --- change depth --------------------------------------------------------------------
    depth_counts: dict[ChangeDepth, Counter[str]] = {d: Counter() for d in ChangeDepth}
    outcome_group: dict[str, str] = {}
    outcome_insights = {o.id: o.insight_ids for o in outcome_list}
    for o in outcome_list:
        if since is not None and o.timeline[-1].on < since:
            continue
        group = (
            "not_adopted"
            if o.status is OutcomeStatus.NOT_ADOPTED
            else "delivered"
            if o.status in _DELIVERED
            else "underway"
        )
        outcome_group[o.id] = group
        depth_counts[o.depth][group] += 1
    depth_rows = tuple(
        DepthRow(
            depth=d, underway=c["underway"], delivered=c["delivered"], not_adopted=c["not_adopted"]
        )
        for d, c in depth_counts.items()
    )

    # --- soaked up -----------------------------------------------------------------------
    cutoff = today - dt.timedelta(days=soak_days)
    old_enough = [sid for sid, day in collected.items() if day <= cutoff]
    soaked = sorted((sid for sid in old_enough if sid not in in_insight), key=_natural)
    soaked_set = set(soaked)

    # --- themes and domains --------------------------------------------------------------
    theme_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for sid, themes in story_themes.items():
        for theme in themes:
            row = theme_counts[theme]
            row["stories"] += 1
            if sid in soaked_set:
                row["soaked_up"] += 1
    insight_themes: dict[str, tuple[str, ...]] = {}
    domain_counts: dict[SARDomain, Counter[str]] = {d: Counter() for d in SARDomain}
    for i in insight_list:
        insight_themes[i.id] = i.themes
        if not _in(i.created_on, since):
            continue
        for theme in i.themes:
            theme_counts[theme]["insights"] += 1
        domain_counts[i.domain]["insights"] += 1
        if i.id in shared_on:
            domain_counts[i.domain]["shared"] += 1
    for oid, group in outcome_group.items():
        o_themes: set[str] = set()
        o_domains: set[SARDomain] = set()
        for iid in outcome_insights[oid]:
            o_themes.update(insight_themes.get(iid, ()))
            if iid in insight_domain:
                o_domains.add(insight_domain[iid])
        if group == "not_adopted":
            continue
        for theme in o_themes:
            theme_counts[theme]["outcomes"] += 1
            if group == "delivered":
                theme_counts[theme]["delivered"] += 1
        for domain in o_domains:
            domain_counts[domain]["outcomes"] += 1
            if group == "delivered":
                domain_counts[domain]["delivered"] += 1
    theme_rows = tuple(
        sorted(
            (
                ThemeRow(
                    theme=t,
                    stories=c["stories"],
                    soaked_up=c["soaked_up"],
                    insights=c["insights"],
                    outcomes=c["outcomes"],
                    delivered=c["delivered"],
                )
                for t, c in theme_counts.items()
            ),
            key=lambda r: (-r.stories, -r.insights, r.theme),
        )
    )
    domain_rows = tuple(
        DomainRow(
            domain=d,
            insights=c["insights"],
            shared=c["shared"],
            outcomes=c["outcomes"],
            delivered=c["delivered"],
        )
        for d, c in domain_counts.items()
    )

    # --- the ladder ----------------------------------------------------------------------
    rung_counts: dict[LadderRung, Counter[str]] = {r: Counter() for r in LadderRung}
    activity_warnings: list[ImpactWarning] = []
    for a in activities:
        if not _in(a.held_on, since):
            continue
        c = rung_counts[a.rung]
        c["activities"] += 1
        c["participants"] += a.participants
        c[a.decisions_held_by.value] += 1
        called = bool(a.described_as and _CO_PRODUCTION.search(a.described_as))
        rung_label = f"ladder rung {int(a.rung)}: {RUNG_LABELS[a.rung].lower()}"
        if (a.rung >= LadderRung.CO_DESIGN or called) and (
            a.decisions_held_by is DecisionHolder.PROFESSIONALS
        ):
            activity_warnings.append(
                ImpactWarning(
                    code="professionals_held_decisions",
                    subject_id=a.id,
                    message=(
                        f"activity {a.id} is presented as co-production ({rung_label}) but "
                        "professionals alone held the decisions"
                    ),
                )
            )
        if called and a.rung < LadderRung.CO_DESIGN:
            activity_warnings.append(
                ImpactWarning(
                    code="called_co_production",
                    subject_id=a.id,
                    message=(
                        f"activity {a.id} is described as co-production but sits at {rung_label}"
                    ),
                )
            )
    ladder = tuple(
        RungRow(
            rung=r,
            label=RUNG_LABELS[r],
            activities=c["activities"],
            participants=c["participants"],
            professionals=c[DecisionHolder.PROFESSIONALS.value],
            shared=c[DecisionHolder.SHARED.value],
            lived_experience=c[DecisionHolder.LIVED_EXPERIENCE.value],
        )
        for r, c in rung_counts.items()
    )

    return Impact(
        as_of=today,
        since=since,
        funnel=funnel,
        disclosures=disclosures,
        feedback_timing=timing,
        loop_closure=loop,
        change_depth=depth_rows,
        soaked_up=SoakedUp(
            after_days=soak_days,
            count=len(soaked),
            eligible=len(old_enough),
            story_ids=tuple(soaked),
        ),
        themes=theme_rows,
        domains=domain_rows,
        ladder=ladder,
        warnings=(*activity_warnings, *warnings),
        overdue_feedback=tuple(overdue),
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
