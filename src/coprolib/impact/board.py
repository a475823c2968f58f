"""The questions a Safeguarding Adults Board asks: how far off the bar were we, which changes
stalled, and was anyone "wheeled out"? Each measure is defined in docs/impact.md.

:func:`contributor_involvement` is one person's involvement over time with its warnings, for
their own journey; :func:`involvement_summary` counts the same over everyone, for the board.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from coprolib.impact.index import AGREED_OR_LATER, Index
from coprolib.impact.result import (
    ContributorInvolvement,
    ImpactWarning,
    InvolvementEntry,
    InvolvementSummary,
    OffTheBar,
    OutcomeTime,
    RoleRow,
    Stalled,
    StalledChange,
    StalledDepthRow,
)
from coprolib.outcomes import time_in_status
from coprolib.records import (
    Activity,
    Contributor,
    Feedback,
    Involvement,
    LivedAnswer,
    Outcome,
    Proposal,
    Story,
)
from coprolib.records.enums import (
    ChangeDepth,
    FeedbackStatus,
    InvolvementRole,
    LivedVerdict,
    OutcomeStatus,
    RecognitionKind,
)

#: Default days with no new status after which an open change counts as stalled.
DEFAULT_STALLED_AFTER_DAYS = 90
#: Default days after which a person involved once and not contacted since gets a warning.
DEFAULT_FOLLOW_UP_DAYS = 180

#: Statuses of a change not yet delivered nor ended: the ones that can stall.
OPEN_STATUSES = frozenset({OutcomeStatus.PROPOSED, OutcomeStatus.AGREED, OutcomeStatus.IN_PROGRESS})
_FROM_LIVED = frozenset({LivedVerdict.CHANGED, LivedVerdict.OVERTURNED, LivedVerdict.NEW})
_HEARD = frozenset({FeedbackStatus.SENT, FeedbackStatus.DONE})


def _first_agreed(outcome: Outcome) -> dt.date | None:
    for event in outcome.timeline:
        if event.status in AGREED_OR_LATER:
            return event.on
    return None


def off_the_bar(
    ix: Index, proposals: Iterable[Proposal], answers: Iterable[LivedAnswer]
) -> OffTheBar:
    """How far off the bar: proposals of the period, what lived experience said of each, and
    whether the adopted changes came from lived experience or the professionals' list."""
    answer_list = list(answers)
    by_proposal = {a.proposal_id: a for a in answer_list if a.proposal_id is not None}
    verdicts: Counter[LivedVerdict] = Counter()
    count = 0
    for p in proposals:
        if not ix.in_period(p.proposed_on):
            continue
        count += 1
        answer = by_proposal.get(p.id)
        if answer is not None:
            verdicts[answer.verdict] += 1
    new = sum(1 for a in answer_list if a.verdict is LivedVerdict.NEW and ix.in_period(a.heard_on))
    insight_verdicts: dict[str, set[LivedVerdict]] = defaultdict(set)
    for a in answer_list:
        for iid in a.insight_ids:
            insight_verdicts[iid].add(a.verdict)
    origin: Counter[str] = Counter()
    for o in ix.outcomes:
        agreed = _first_agreed(o)
        if agreed is None or o.status is OutcomeStatus.NOT_ADOPTED or not ix.in_period(agreed):
            continue
        said = set().union(*(insight_verdicts.get(i, set()) for i in o.insight_ids))
        if said & _FROM_LIVED:
            origin["lived"] += 1
        elif said:
            origin["professionals"] += 1
        else:
            origin["unlinked"] += 1
    heard = sum(verdicts.values())
    off = verdicts[LivedVerdict.CHANGED] + verdicts[LivedVerdict.OVERTURNED]
    linked = origin["lived"] + origin["professionals"]
    return OffTheBar(
        proposals=count,
        heard=heard,
        confirmed=verdicts[LivedVerdict.CONFIRMED],
        changed=verdicts[LivedVerdict.CHANGED],
        overturned=verdicts[LivedVerdict.OVERTURNED],
        new=new,
        off_rate=off / heard if heard else None,
        adopted=sum(origin.values()),
        adopted_from_lived_experience=origin["lived"],
        adopted_from_professionals=origin["professionals"],
        adopted_unlinked=origin["unlinked"],
        lived_share=origin["lived"] / linked if linked else None,
    )


def stalled_changes(ix: Index, after_days: int) -> Stalled:
    """Every outcome's days in each status, and the open changes (``proposed``, ``agreed`` or
    ``in_progress``) that stalled: no new status for more than ``after_days``, or past due."""
    titles = {i.id: i.title for i in ix.insights}
    rows: dict[ChangeDepth, Counter[str]] = {d: Counter() for d in ChangeDepth}
    changes: list[StalledChange] = []
    times: list[OutcomeTime] = []
    for o in ix.outcomes:
        spans = time_in_status(o, ix.today)
        days: dict[str, int] = {}
        for span in spans:
            days[span.status.value] = days.get(span.status.value, 0) + span.days
        times.append(
            OutcomeTime(outcome_id=o.id, depth=o.depth, status=o.status, days_in_status=days)
        )
        if o.status not in OPEN_STATUSES:
            continue
        rows[o.depth]["open"] += 1
        current = spans[-1]
        reasons: list[str] = []
        if current.days > after_days:
            reasons.append("no_progress")
        if o.due is not None and o.due < ix.today:
            reasons.append("past_due")
        if not reasons:
            continue
        rows[o.depth]["stalled"] += 1
        changes.append(
            StalledChange(
                outcome_id=o.id,
                title=o.title,
                depth=o.depth,
                owner=o.owner,
                status=o.status,
                since=current.since,
                days_in_status=current.days,
                due=o.due,
                reasons=tuple(reasons),
                insight_titles=tuple(titles[i] for i in o.insight_ids if i in titles),
                story_ids=tuple(sorted(ix.outcome_stories.get(o.id, ()))),
            )
        )
    changes.sort(key=lambda c: (-c.depth.rank, -c.days_in_status, c.outcome_id))
    by_depth = tuple(
        StalledDepthRow(depth=d, open=c["open"], stalled=c["stalled"]) for d, c in rows.items()
    )
    return Stalled(
        after_days=after_days,
        open=sum(r.open for r in by_depth),
        count=len(changes),
        by_depth=by_depth,
        changes=tuple(changes),
        outcomes=tuple(times),
    )


def _pounds(pence: int) -> str:
    return f"£{pence // 100}.{pence % 100:02d}"


def _untold_since(
    stories: Iterable[Story], heard: bool, wants: bool, today: dt.date, within_days: int
) -> dt.date | None:
    """ "Story taken, no feedback": the day of the person's first story older than
    ``within_days`` when they asked to hear back and never heard anything; else None."""
    if heard or not wants:
        return None
    cutoff = today - dt.timedelta(days=within_days)
    old = [s.collected_on for s in stories if s.collected_on <= cutoff and not s.disclosure]
    return min(old) if old else None


def contributor_involvement(
    contributor_id: str,
    *,
    involvements: Iterable[Involvement] = (),
    activities: Iterable[Activity] = (),
    stories: Iterable[Story] = (),
    feedback: Iterable[Feedback] = (),
    contributor: Contributor | None = None,
    today: dt.date,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
    within_days: int = 90,
    hourly_rates: Mapping[InvolvementRole, int] | None = None,
) -> ContributorInvolvement:
    """One person's involvement over time: the activities they took part in (an involvement
    record, or being listed on the activity), the role in each, the recognition offered and
    given against the hourly rates (pence) of the policy, the supporting organisations, when
    they were last contacted, and the warnings that together mean "wheeled out"."""
    rates = hourly_rates or {}
    by_activity = {a.id: a for a in activities}
    mine = [i for i in involvements if i.contributor_id == contributor_id]
    recorded = {i.activity_id for i in mine}
    entries: list[InvolvementEntry] = []
    for inv in mine:
        act = by_activity.get(inv.activity_id)
        if act is None:
            continue
        offered = sum(r.amount_pence or 0 for r in inv.recognition)
        given = sum(r.amount_pence or 0 for r in inv.recognition if r.given_on is not None)
        rate = rates.get(inv.role)
        entries.append(
            InvolvementEntry(
                activity_id=act.id,
                activity_title=act.title,
                held_on=act.held_on,
                role=inv.role,
                recorded=True,
                hours=inv.hours,
                supporting_org=inv.supporting_org,
                recognition=tuple(r.kind for r in inv.recognition),
                given=any(
                    r.given_on is not None and r.kind is not RecognitionKind.DECLINED
                    for r in inv.recognition
                ),
                offered_pence=offered,
                given_pence=given,
                policy_pence=None if rate is None or inv.hours is None else round(rate * inv.hours),
                methods=tuple(dict.fromkeys(r.method.value for r in inv.recognition if r.given_on)),
            )
        )
    for act in by_activity.values():
        if contributor_id in act.contributor_ids and act.id not in recorded:
            entries.append(
                InvolvementEntry(
                    activity_id=act.id,
                    activity_title=act.title,
                    held_on=act.held_on,
                    role=InvolvementRole.PARTICIPANT,
                    recorded=False,
                    hours=None,
                    supporting_org=None,
                    recognition=(),
                    given=False,
                    offered_pence=0,
                    given_pence=0,
                    policy_pence=None,
                    methods=(),
                )
            )
    entries.sort(key=lambda e: (e.held_on, e.activity_id))
    theirs = [s for s in stories if contributor_id in s.contributor_ids and not s.disclosure]
    heard = [
        f.sent_on
        for f in feedback
        if f.contributor_id == contributor_id and f.status in _HEARD and f.sent_on is not None
    ]
    contacts = [*(e.held_on for e in entries), *(s.collected_on for s in theirs), *heard]
    last_contact = max(contacts) if contacts else None
    orgs = [e.supporting_org for e in entries if e.supporting_org]
    if contributor is not None and contributor.supporting_org:
        orgs.insert(0, contributor.supporting_org)
    warnings: list[ImpactWarning] = []
    if len(entries) == 1 and last_contact is not None:
        only = entries[0]
        quiet = (today - last_contact).days
        if last_contact == only.held_on and quiet > follow_up_days:
            warnings.append(
                ImpactWarning(
                    code="involved_once",
                    subject_id=contributor_id,
                    title=only.activity_title,
                    message=(
                        f"{contributor_id} took part once ({only.activity_id} on "
                        f"{only.held_on.isoformat()}) and nobody has been in touch since "
                        f"({quiet} days)"
                    ),
                )
            )
    for e in entries:
        if not e.recognition:
            warnings.append(
                ImpactWarning(
                    code="no_recognition",
                    subject_id=contributor_id,
                    title=e.activity_title,
                    message=(
                        f"no recognition or payment is recorded for {contributor_id}'s part "
                        f"in {e.activity_id}"
                        + (
                            f" (the policy rate comes to {_pounds(e.policy_pence)})"
                            if e.policy_pence
                            else ""
                        )
                    ),
                )
            )
    wants = contributor is None or contributor.wants_feedback
    first = _untold_since(theirs, bool(heard), wants, today, within_days)
    if first is not None:
        warnings.append(
            ImpactWarning(
                code="story_no_feedback",
                subject_id=contributor_id,
                message=(
                    f"{contributor_id} gave their story on {first.isoformat()} and has never "
                    "heard anything back"
                ),
            )
        )
    return ContributorInvolvement(
        contributor_id=contributor_id,
        entries=tuple(entries),
        stories=len(theirs),
        last_contact=last_contact,
        supporting_orgs=tuple(dict.fromkeys(orgs)),
        warnings=tuple(warnings),
    )


def involvement_summary(
    ix: Index,
    *,
    involvements: Iterable[Involvement],
    activities: Iterable[Activity],
    stories: Iterable[Story],
    feedback: Iterable[Feedback],
    contributors: Iterable[Contributor],
    follow_up_days: int,
    within_days: int,
    hourly_rates: Mapping[InvolvementRole, int],
) -> InvolvementSummary:
    """Involvement over time as counts: everyone involved in an activity held in the period or
    with a cohort story, each measured by :func:`contributor_involvement`."""
    inv_list, act_list = list(involvements), list(activities)
    story_list, fb_list = list(stories), list(feedback)
    people_by_id = {c.id: c for c in contributors}
    in_period = {a.id for a in act_list if ix.in_period(a.held_on)}
    ids: dict[str, None] = {}
    for inv in inv_list:
        if inv.activity_id in in_period:
            ids[inv.contributor_id] = None
    for a in act_list:
        if a.id in in_period:
            ids.update(dict.fromkeys(a.contributor_ids))
    for sid in ix.collected:
        ids.update(dict.fromkeys(ix.story_people.get(sid, ())))
    inv_by: dict[str, list[Involvement]] = defaultdict(list)
    for inv in inv_list:
        inv_by[inv.contributor_id].append(inv)
    fb_by: dict[str, list[Feedback]] = defaultdict(list)
    for fb in fb_list:
        fb_by[fb.contributor_id].append(fb)
    story_by: dict[str, list[Story]] = defaultdict(list)
    for s in story_list:
        for cid in s.contributor_ids:
            story_by[cid].append(s)
    # Each person is measured over their own activities only, so the pass stays linear.
    act_by_id = {a.id: a for a in act_list}
    listed_on: dict[str, list[Activity]] = defaultdict(list)
    for a in act_list:
        for cid in a.contributor_ids:
            listed_on[cid].append(a)
    c: Counter[str] = Counter()
    roles: dict[InvolvementRole, Counter[str]] = {r: Counter() for r in InvolvementRole}
    for cid in ids:
        invs, listed = inv_by.get(cid, ()), listed_on.get(cid, ())
        if not invs and not listed:
            # Took part in nothing: only "story taken, no feedback" can apply.
            person_rec = people_by_id.get(cid)
            c["story_no_feedback"] += (
                _untold_since(
                    story_by.get(cid, ()),
                    bool(ix.heard_on.get(cid)),
                    person_rec is None or person_rec.wants_feedback,
                    ix.today,
                    within_days,
                )
                is not None
            )
            continue
        person = contributor_involvement(
            cid,
            involvements=invs,
            activities={
                **{a.id: a for a in listed},
                **{
                    i.activity_id: act_by_id[i.activity_id]
                    for i in invs
                    if i.activity_id in act_by_id
                },
            }.values(),
            stories=story_by.get(cid, ()),
            feedback=fb_by.get(cid, ()),
            contributor=people_by_id.get(cid),
            today=ix.today,
            follow_up_days=follow_up_days,
            within_days=within_days,
            hourly_rates=hourly_rates,
        )
        entries = [e for e in person.entries if e.activity_id in in_period]
        codes = {w.code for w in person.warnings}
        c["story_no_feedback"] += "story_no_feedback" in codes
        if not entries:
            continue
        c["people"] += 1
        c["involvements"] += len(entries)
        c["returned"] += len(person.entries) > 1
        c["once"] += len(person.entries) == 1
        c["supported"] += bool(person.supporting_orgs)
        c["involved_once"] += "involved_once" in codes
        for role in {e.role for e in entries}:
            roles[role]["people"] += 1
        for e in entries:
            roles[e.role]["involvements"] += 1
            kinds = set(e.recognition)
            c["declined"] += RecognitionKind.DECLINED in kinds
            c["offered"] += bool(kinds - {RecognitionKind.DECLINED})
            c["given"] += e.given
            c["none"] += not kinds
            c["offered_pence"] += e.offered_pence
            c["given_pence"] += e.given_pence
            c["policy_pence"] += e.policy_pence or 0
    return InvolvementSummary(
        follow_up_days=follow_up_days,
        people=c["people"],
        involvements=c["involvements"],
        returned=c["returned"],
        once=c["once"],
        supported=c["supported"],
        by_role=tuple(
            RoleRow(role=r, people=rc["people"], involvements=rc["involvements"])
            for r, rc in roles.items()
        ),
        recognition_offered=c["offered"],
        recognition_given=c["given"],
        recognition_declined=c["declined"],
        no_recognition=c["none"],
        offered_pence=c["offered_pence"],
        given_pence=c["given_pence"],
        policy_pence=c["policy_pence"],
        involved_once_not_contacted=c["involved_once"],
        story_no_feedback=c["story_no_feedback"],
    )


__all__ = [
    "DEFAULT_FOLLOW_UP_DAYS",
    "DEFAULT_STALLED_AFTER_DAYS",
    "contributor_involvement",
    "involvement_summary",
    "off_the_bar",
    "stalled_changes",
]
