"""The impact measures, each from the one-pass index, and :func:`measure` that runs them all."""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from coprolib.impact.board import (
    DEFAULT_FOLLOW_UP_DAYS,
    DEFAULT_STALLED_AFTER_DAYS,
    involvement_summary,
    off_the_bar,
    stalled_changes,
)
from coprolib.impact.index import AGREED_OR_LATER, DELIVERED, Index
from coprolib.impact.result import (
    DepthRow,
    DomainRow,
    FeedbackTiming,
    FunnelStage,
    Impact,
    ImpactWarning,
    LoopClosure,
    QuarterRow,
    RungRow,
    SoakedUp,
    ThemeRow,
)
from coprolib.records import (
    Activity,
    Consent,
    Contributor,
    Feedback,
    Insight,
    Involvement,
    LivedAnswer,
    Outcome,
    Proposal,
    RecordError,
    Share,
    Story,
)
from coprolib.records.enums import (
    ChangeDepth,
    DecisionHolder,
    InvolvementRole,
    LadderRung,
    OutcomeStatus,
    SARDomain,
)

#: Default period within which a contributor should first hear back, in days.
DEFAULT_WITHIN_DAYS = 90
#: Default age, in days, after which a story with no insight counts as "soaked up".
DEFAULT_SOAK_DAYS = 90


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


_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> list[str | int]:
    """A sort key that puts ``s-2`` before ``s-10`` (text and numbers alternate)."""
    parts: list[str | int] = list(_DIGITS.split(text))
    parts[1::2] = [int(p) for p in parts[1::2]]
    return parts


def _nearest_rank(sorted_values: list[int], pct: float) -> int:
    return sorted_values[max(0, math.ceil(pct * len(sorted_values)) - 1)]


def _funnel(ix: Index) -> tuple[FunnelStage, ...]:
    """Each stage's stories are those of the stage before that also reached it, so the funnel
    can only narrow; each stage also counts its own unit among the records resting on them."""
    cohort = set(ix.collected)
    drawn = cohort & ix.in_insight
    shared = drawn & ix.in_shared
    agreed = shared & ix.in_agreed
    delivered = agreed & ix.in_delivered
    told = delivered & ix.told_stories

    def resting_on(
        story_ids: set[str], ids_and_stories: Iterable[tuple[str, Iterable[str]]]
    ) -> int:
        return sum(1 for _, behind in ids_and_stories if story_ids.intersection(behind))

    insights = [(i.id, i.story_ids) for i in ix.insights]
    agreed_outcomes = [
        (o.id, ix.outcome_stories[o.id])
        for o in ix.outcomes
        if {e.status for e in o.timeline}.intersection(AGREED_OR_LATER)
    ]
    delivered_outcomes = [
        (o.id, ix.outcome_stories[o.id])
        for o in ix.outcomes
        if {e.status for e in o.timeline}.intersection(DELIVERED)
    ]
    tellers = {cid for sid in told for cid in ix.story_people[sid] if cid in ix.told_what_happened}
    stages = (
        ("stories", "Stories collected", len(cohort), "stories", cohort),
        ("insights", "Drawn on by an insight", resting_on(drawn, insights), "insights", drawn),
        (
            "shared",
            "Shared, and still consented",
            resting_on(shared, [(i, s) for i, s in insights if i in ix.shared_on]),
            "insights shared",
            shared,
        ),
        (
            "agreed",
            "Led to an agreed change",
            resting_on(agreed, agreed_outcomes),
            "outcomes agreed",
            agreed,
        ),
        (
            "delivered",
            "Change implemented or evidenced",
            resting_on(delivered, delivered_outcomes),
            "outcomes implemented",
            delivered,
        ),
        ("told", "Tellers told what changed", len(tellers), "contributors told", told),
    )
    return tuple(
        FunnelStage(key=k, label=label, count=n, unit=unit, stories=len(s))
        for k, label, n, unit, s in stages
    )


def _quarter(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _trend(ix: Index) -> tuple[QuarterRow, ...]:
    """Per calendar quarter, from the first event to ``today``: stories collected (the cohort),
    insights first shared, outcomes first agreed and first delivered, contributors first told
    what happened; each counted in the quarter of the day it happened."""
    counts: dict[dt.date, Counter[str]] = defaultdict(Counter)
    for day in ix.collected.values():
        counts[_quarter(day)]["stories"] += 1
    for day in ix.shared_on.values():
        if ix.in_period(day):
            counts[_quarter(day)]["insights_shared"] += 1
    for o in ix.outcomes:
        for key, statuses in (
            ("outcomes_agreed", AGREED_OR_LATER),
            ("outcomes_delivered", tuple(DELIVERED)),
        ):
            first = _first(o, statuses)
            if first is not None and ix.in_period(first):
                counts[_quarter(first)][key] += 1
    for day in ix.told_on.values():
        if ix.in_period(day):
            counts[_quarter(day)]["contributors_told"] += 1
    if not counts:
        return ()
    rows: list[QuarterRow] = []
    quarter, last = min(counts), _quarter(max(max(counts), ix.today))
    while quarter <= last:
        c = counts.get(quarter, Counter())
        rows.append(
            QuarterRow(
                quarter=f"{quarter.year} Q{(quarter.month - 1) // 3 + 1}",
                start=quarter,
                stories=c["stories"],
                insights_shared=c["insights_shared"],
                outcomes_agreed=c["outcomes_agreed"],
                outcomes_delivered=c["outcomes_delivered"],
                contributors_told=c["contributors_told"],
            )
        )
        month = quarter.month + 3
        quarter = dt.date(quarter.year + (month > 12), (month - 1) % 12 + 1, 1)
    return tuple(rows)


def _timing(ix: Index) -> FeedbackTiming:
    waits = sorted(max(0, (ix.story_first[sid] - ix.collected[sid]).days) for sid in ix.story_first)
    return FeedbackTiming(
        stories_heard=len(waits),
        stories_waiting=len(ix.collected) - len(waits),
        median_days=float(statistics.median(waits)) if waits else None,
        p90_days=_nearest_rank(waits, 0.9) if waits else None,
    )


def _loop_closure(
    ix: Index, contributors: Iterable[Contributor], within_days: int
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


def _outcome_groups(ix: Index) -> dict[str, str]:
    """Outcomes that moved in the period: ``underway``, ``delivered`` or ``not_adopted``."""
    groups: dict[str, str] = {}
    for o in ix.outcomes:
        if ix.since is not None and o.timeline[-1].on < ix.since:
            continue
        if o.status is OutcomeStatus.NOT_ADOPTED:
            groups[o.id] = "not_adopted"
        else:
            groups[o.id] = "delivered" if o.status in DELIVERED else "underway"
    return groups


def _change_depth(ix: Index, groups: Mapping[str, str]) -> tuple[DepthRow, ...]:
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


def _soaked_up(ix: Index, soak_days: int) -> SoakedUp:
    cutoff = ix.today - dt.timedelta(days=soak_days)
    old_enough = [sid for sid, day in ix.collected.items() if day <= cutoff]
    soaked = sorted((sid for sid in old_enough if sid not in ix.in_insight), key=_natural)
    return SoakedUp(
        after_days=soak_days, count=len(soaked), eligible=len(old_enough), story_ids=tuple(soaked)
    )


def _themes_and_domains(
    ix: Index, groups: Mapping[str, str], soaked: SoakedUp
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
    activities: Iterable[Activity], ix: Index
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
                    title=a.title,
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
                    title=a.title,
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
    consents: Iterable[Consent] = (),
    proposals: Iterable[Proposal] = (),
    answers: Iterable[LivedAnswer] = (),
    involvements: Iterable[Involvement] = (),
    today: dt.date,
    since: dt.date | None = None,
    within_days: int = DEFAULT_WITHIN_DAYS,
    soak_days: int = DEFAULT_SOAK_DAYS,
    stalled_after_days: int = DEFAULT_STALLED_AFTER_DAYS,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
    hourly_rates: Mapping[InvolvementRole, int] | None = None,
) -> Impact:
    """Compute every impact measure from the records given (see the module docs for the
    definitions). ``shares`` may be bare shares or ``(share, status)`` pairs as the ledger lists
    them; ``consents`` let a delivered share whose consent has since been withdrawn stop
    counting as shared. ``proposals`` and ``answers`` give how far off the bar,
    ``stalled_after_days`` when an open change counts as stalled, and ``involvements``,
    ``follow_up_days`` and ``hourly_rates`` (pence an hour by role) involvement over time."""
    for name, value in (
        ("within_days", within_days),
        ("stalled_after_days", stalled_after_days),
        ("follow_up_days", follow_up_days),
    ):
        if value < 0:
            raise RecordError(name, f"is {value}; it cannot be negative")
    if soak_days < 0:
        raise RecordError("soak_days", f"is {soak_days}; it cannot be negative")
    if since is not None and since > today:
        raise RecordError("since", f"{since.isoformat()} is after today ({today.isoformat()})")
    ix = Index(today=today, since=since)
    stories = list(stories)
    feedback = list(feedback)
    activities = list(activities)
    contributors = list(contributors)
    ix.add_stories(stories)
    ix.add_insights(insights, shares, consents)
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
        trend=_trend(ix),
        off_the_bar=off_the_bar(ix, proposals, answers),
        stalled=stalled_changes(ix, stalled_after_days),
        involvement=involvement_summary(
            ix,
            involvements=involvements,
            activities=activities,
            stories=stories,
            feedback=feedback,
            contributors=contributors,
            follow_up_days=follow_up_days,
            within_days=within_days,
            hourly_rates=hourly_rates or {},
        ),
    )


def _first(outcome: Outcome, statuses: tuple[OutcomeStatus, ...]) -> dt.date | None:
    for event in outcome.timeline:
        if event.status in statuses:
            return event.on
    return None
