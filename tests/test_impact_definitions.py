"""One test per definition in docs/impact.md, named after it: if the code and the words part,
one of these fails. The cases are small, fictional and built by hand so each answer can be
checked by reading; the funnel's narrowing is also a property over generated worlds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.impact import contributor_involvement, measure, measure_bundle
from coprolib.outcomes import time_in_status
from coprolib.records import (
    Activity,
    Consent,
    ConsentEvent,
    ConsentRef,
    ConsentTerms,
    Contributor,
    Feedback,
    Involvement,
    LivedAnswer,
    Proposal,
    Recognition,
    Share,
)
from coprolib.records.enums import (
    Audience,
    ChangeDepth,
    ConsentEventType,
    DecisionHolder,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    InvolvementRole,
    LadderRung,
    LivedVerdict,
    OutcomeStatus,
    PaymentMethod,
    Purpose,
    RecognitionKind,
)
from coprolib.testing.synthetic import synthetic_world

from .test_impact import TODAY, day, insight, outcome, sent, share, story

DOCS = Path(__file__).resolve().parents[1] / "docs" / "impact.md"
DEFINED = (
    "The cohort",
    "Shared",
    "Heard back",
    "Told what happened",
    "Funnel",
    "Days to first feedback",
    "Loop closure",
    "Change depth",
    "Soaked up",
    "Themes and domains",
    "Ladder of co-production",
    "Warnings",
    "Overdue feedback",
    "Quarterly trend",
    "How far off the bar",
    "Time in status",
    "Stalled changes",
    "Involvement over time",
    "Wheeled out",
)


def test_every_definition_is_written_once_in_the_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in DEFINED:
        assert text.count(f"**{name}.**") == 1, name
        test = "test_" + name.lower().replace(" ", "_").replace("-", "_")
        assert test in globals(), f"no test for the definition {name!r}"


def test_the_cohort() -> None:
    impact = measure(
        stories=[
            story("s-1", "c-1", 100),
            story("s-2", "c-2", 10),
            story("s-3", "c-3", 5, disclosure=True),
        ],
        today=TODAY,
        since=day(50),
    )
    assert impact.stage("stories").stories == 1  # s-2: in the period, not a disclosure
    assert impact.disclosures == 1


def _consent(cid: str, *, withdrawn_ago: int | None = None) -> Consent:
    given_at = dt.datetime.combine(day(300), dt.time(9), tzinfo=dt.UTC)
    events = [
        ConsentEvent(
            type=ConsentEventType.GIVEN,
            at=given_at,
            terms=ConsentTerms(purposes=(Purpose.BOARD_REPORTING,), audiences=(Audience.BOARD,)),
        )
    ]
    if withdrawn_ago is not None:
        at = dt.datetime.combine(day(withdrawn_ago), dt.time(9), tzinfo=dt.UTC)
        events.append(ConsentEvent(type=ConsentEventType.WITHDRAWN, at=at))
    return Consent(
        id=f"k-{cid}", contributor_id=cid, story_ids=(f"s-{cid[2:]}",), events=tuple(events)
    )


def _relying(iid: str, consent_id: str) -> Share:
    import attrs

    made: Share = attrs.evolve(
        share(iid, 150),
        id=f"sh-{iid}",
        consent_refs=(ConsentRef(consent_id=consent_id, version=1),),
    )
    return made


def test_shared() -> None:
    stories = [story(f"s-{n}", f"c-{n}", 200) for n in range(1, 6)]
    insights = [insight(f"i-{n}", f"s-{n}") for n in range(1, 6)]
    impact = measure(
        stories=stories,
        insights=insights,
        shares=[
            (_relying("i-1", "k-c-1"), "delivered"),  # delivered, consent in force: shared
            (_relying("i-2", "k-c-2"), "delivered"),  # delivered, consent withdrawn since: not
            (_relying("i-3", "k-c-3"), "retract_planned"),  # being taken back: not
            (_relying("i-4", "k-c-4"), "retracted"),
            (_relying("i-5", "k-c-5"), "planned"),
        ],
        consents=[
            _consent("c-1"),
            _consent("c-2", withdrawn_ago=20),
            _consent("c-3"),
            _consent("c-4"),
            _consent("c-5"),
        ],
        today=TODAY,
    )
    assert impact.stage("shared").stories == 1 and impact.stage("shared").count == 1
    shared_by_domain = sum(r.shared for r in impact.domains)
    assert shared_by_domain == 1
    # A bare share (as in a bundle) counts as delivered.
    bare = measure(
        stories=stories[:1], insights=insights[:1], shares=[share("i-1", 150)], today=TODAY
    )
    assert bare.stage("shared").stories == 1


def test_heard_back() -> None:
    owed = Feedback(
        id="f-owed",
        contributor_id="c-2",
        kind=FeedbackKind.SHARED,
        channel=FeedbackChannel.EMAIL,
        status=FeedbackStatus.OWED,
        story_ids=("s-2",),
    )
    impact = measure(
        stories=[story("s-1", "c-1", 200), story("s-2", "c-2", 200)],
        feedback=[sent("f-1", "c-1", 150, kind=FeedbackKind.SCHEDULED, story_ids=("s-1",)), owed],
        contributors=[Contributor(id="c-1"), Contributor(id="c-2")],
        today=TODAY,
        within_days=90,
    )
    assert impact.feedback_timing.stories_heard == 1  # only sent or done counts
    assert impact.loop_closure.heard_within == 1 and impact.loop_closure.not_heard == 1


def test_told_what_happened() -> None:
    stories = [story("s-1", "c-1", 300), story("s-2", "c-2", 300)]
    feedback = [
        sent("f-1", "c-1", 20, kind=FeedbackKind.CHANGE_UPDATE, story_ids=("s-1",)),
        sent("f-2", "c-2", 20, kind=FeedbackKind.SCHEDULED, story_ids=("s-2",)),
    ]
    impact = measure(
        stories=stories,
        feedback=feedback,
        contributors=[Contributor(id="c-1"), Contributor(id="c-2")],
        today=TODAY,
    )
    never = [w.subject_id for w in impact.warnings if w.code == "never_told"]
    assert never == ["c-2"]  # heard back, but a schedule is not what happened


def _world_with_every_stage() -> dict[str, object]:
    stories = [story(f"s-{n}", f"c-{n}", 300) for n in range(1, 6)]
    insights = [insight("i-1", "s-1", "s-2", "s-3"), insight("i-2", "s-4")]
    agreed = outcome(
        "o-1",
        "i-1",
        [(OutcomeStatus.AGREED, 200), (OutcomeStatus.IN_PROGRESS, 150)],
        ChangeDepth.SERVICE,
    )
    done = outcome(
        "o-2",
        "i-2",
        [
            (OutcomeStatus.AGREED, 200),
            (OutcomeStatus.IN_PROGRESS, 150),
            (OutcomeStatus.IMPLEMENTED, 100),
        ],
        ChangeDepth.SYSTEM,
    )
    return {
        "stories": stories,
        "insights": insights,
        "outcomes": [agreed, done],
        # i-2 was never shared: o-2 rests on an unshared insight, so s-4 stops at "drawn on".
        "shares": [(share("i-1", 250), "delivered")],
        "feedback": [sent("f-1", "c-1", 90, kind=FeedbackKind.CHANGE_UPDATE, outcome_id="o-1")],
        "contributors": [Contributor(id=f"c-{n}") for n in range(1, 6)],
    }


def test_funnel() -> None:
    impact = measure(**_world_with_every_stage(), today=TODAY)  # type: ignore[arg-type]
    got = {s.key: (s.stories, s.count) for s in impact.funnel}
    assert got == {
        "stories": (5, 5),
        "insights": (4, 2),  # s-1..s-4; i-1 and i-2
        "shared": (3, 1),  # i-1's stories
        "agreed": (3, 1),  # o-1 rests on them (o-2 rests on s-4, which was never shared)
        "delivered": (0, 0),  # o-1 is in progress; o-2's story stopped at "drawn on"
        "told": (0, 0),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), since_ago=st.none() | st.integers(0, 400))
def test_funnel_only_narrows(seed: int, since_ago: int | None) -> None:
    world = synthetic_world(stories=60, insights=8, seed=seed)
    since = None if since_ago is None else world.today - dt.timedelta(days=since_ago)
    stages = measure_bundle(world, today=world.today, since=since).funnel
    counts = [s.stories for s in stages]
    assert counts == sorted(counts, reverse=True), counts


def test_days_to_first_feedback() -> None:
    impact = measure(
        stories=[story("s-1", "c-1", 100), story("s-2", "c-2", 100), story("s-3", "c-3", 100)],
        feedback=[
            sent("f-1", "c-1", 90, story_ids=("s-1",)),  # 10 days
            sent("f-2", "c-2", 70, story_ids=("s-2",)),  # 30 days
            sent("f-3", "c-2", 95, story_ids=("s-1",)),  # not a teller of s-1: ignored
        ],
        today=TODAY,
    )
    timing = impact.feedback_timing
    assert (timing.stories_heard, timing.stories_waiting) == (2, 1)
    assert timing.median_days == 20.0 and timing.p90_days == 30


def test_loop_closure() -> None:
    impact = measure(
        stories=[
            story("s-1", "c-1", 200),
            story("s-2", "c-2", 200),
            story("s-3", "c-3", 200),
            story("s-4", "c-4", 10),
            story("s-5", "c-5", 200),
        ],
        feedback=[sent("f-1", "c-1", 150), sent("f-2", "c-2", 50)],
        contributors=[
            *(Contributor(id=f"c-{n}") for n in range(1, 5)),
            Contributor(id="c-5", wants_feedback=False, feedback_channel=FeedbackChannel.NONE),
        ],
        today=TODAY,
        within_days=90,
    )
    loop = impact.loop_closure
    assert (loop.heard_within, loop.heard_later, loop.not_heard) == (1, 1, 1)
    assert (loop.not_yet_due, loop.opted_out, loop.eligible) == (1, 1, 3)
    assert loop.rate == 1 / 3


def test_change_depth() -> None:
    world = _world_with_every_stage()
    impact = measure(**world, today=TODAY, since=day(120))  # type: ignore[arg-type]
    rows = {r.depth: r for r in impact.change_depth}
    # o-2's latest step (implemented, day 100) is in the period; o-1's (day 150) is not.
    assert rows[ChangeDepth.SYSTEM].delivered == 1
    assert rows[ChangeDepth.SERVICE].total == 0


def test_soaked_up() -> None:
    impact = measure(
        stories=[story("s-1", "c-1", 200), story("s-2", "c-2", 200), story("s-3", "c-3", 30)],
        insights=[insight("i-1", "s-1")],
        today=TODAY,
        soak_days=90,
    )
    s = impact.soaked_up
    assert (s.story_ids, s.eligible) == (("s-2",), 2)


def test_themes_and_domains() -> None:
    impact = measure(**_world_with_every_stage(), today=TODAY)  # type: ignore[arg-type]
    [theme] = impact.themes  # the test insights all carry "isolation"; the stories none
    assert (theme.theme, theme.insights, theme.outcomes, theme.delivered) == ("isolation", 2, 2, 1)
    domains = {r.domain.value: r for r in impact.domains}
    direct = domains["direct_practice"]
    assert (direct.insights, direct.shared, direct.outcomes, direct.delivered) == (2, 1, 2, 1)


def _activity(
    aid: str, rung: LadderRung, held_by: DecisionHolder, described: str | None
) -> Activity:
    return Activity(
        id=aid,
        title=f"Fictional workshop {aid}",
        held_on=day(30),
        rung=rung,
        decisions_held_by=held_by,
        described_as=described,
        participants=8,
    )


def test_ladder_of_co_production() -> None:
    impact = measure(
        stories=[],
        activities=[
            _activity("a-1", LadderRung.CO_PRODUCTION, DecisionHolder.LIVED_EXPERIENCE, None),
            _activity("a-2", LadderRung.CONSULTATION, DecisionHolder.PROFESSIONALS, None),
            _activity("a-old", LadderRung.CO_DESIGN, DecisionHolder.SHARED, None),
        ],
        today=TODAY,
        since=day(60),
    )
    rungs = {r.rung: r for r in impact.ladder}
    assert (
        rungs[LadderRung.CO_PRODUCTION].activities,
        rungs[LadderRung.CO_PRODUCTION].lived_experience,
    ) == (1, 1)
    assert rungs[LadderRung.CONSULTATION].participants == 8
    assert rungs[LadderRung.CO_DESIGN].activities == 1  # held on day(30): in the period


def test_warnings() -> None:
    impact = measure(
        stories=[story("s-1", "c-1", 200)],
        activities=[
            _activity("a-1", LadderRung.CO_DESIGN, DecisionHolder.PROFESSIONALS, None),
            _activity("a-2", LadderRung.CONSULTATION, DecisionHolder.SHARED, "A co-production day"),
        ],
        contributors=[Contributor(id="c-1")],
        today=TODAY,
    )
    found = {(w.code, w.subject_id): w for w in impact.warnings}
    held = found[("professionals_held_decisions", "a-1")]
    assert held.title == "Fictional workshop a-1"
    assert found[("called_co_production", "a-2")].title == "Fictional workshop a-2"
    never = found[("never_told", "c-1")]
    assert never.title is None, "a person is named by id only"


def test_overdue_feedback() -> None:
    world = _world_with_every_stage()

    def owed(fid: str, due_ago: int, **about: str) -> Feedback:
        return Feedback(
            id=fid,
            contributor_id="c-1",
            kind=FeedbackKind.CHANGE_UPDATE,
            channel=FeedbackChannel.EMAIL,
            due=day(due_ago),
            **about,  # type: ignore[arg-type]
        )

    world["feedback"] = [
        owed("f-late", 10, outcome_id="o-1", insight_id="i-1"),
        owed("f-later", 30, insight_id="i-2"),
        owed("f-not-yet", -5, outcome_id="o-1"),
    ]
    impact = measure(**world, today=TODAY)  # type: ignore[arg-type]
    rows = [(o.feedback_id, o.title, o.days_overdue) for o in impact.overdue_feedback]
    assert rows == [("f-later", "i-2", 30), ("f-late", "o-1", 10)]  # titles: outcome, else insight


def test_quarterly_trend() -> None:
    today = dt.date(2026, 11, 27)
    impact = measure(
        stories=[story("s-1", "c-1", (today - dt.date(2026, 2, 10)).days)],
        insights=[insight("i-1", "s-1")],
        shares=[share("i-1", (today - dt.date(2026, 5, 1)).days)],
        outcomes=[
            outcome(
                "o-1",
                "i-1",
                [(OutcomeStatus.AGREED, (today - dt.date(2026, 6, 30)).days)],
                ChangeDepth.PRACTICE,
            )
        ],
        feedback=[sent("f-1", "c-1", (today - dt.date(2026, 10, 1)).days, outcome_id="o-1")],
        today=today,
    )
    got = [
        (q.quarter, q.stories, q.insights_shared, q.outcomes_agreed, q.contributors_told)
        for q in impact.trend
    ]
    # The outcome's proposal (day 300 before TODAY) opens the first quarter: 2026 Q1.
    assert got == [
        ("2026 Q1", 1, 0, 0, 0),
        ("2026 Q2", 0, 1, 1, 0),
        ("2026 Q3", 0, 0, 0, 0),
        ("2026 Q4", 0, 0, 0, 1),
    ]


def test_report_names_the_organisation_from_the_config(tmp_path: Path) -> None:
    from coprolib.cli import build_cli

    from .conftest import EXAMPLE_BUNDLE as path

    config = tmp_path / "coprolib.toml"
    config.write_text(
        'organisation = "Fictional Vale Safeguarding Adults Board"\n', encoding="utf-8"
    )
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        build_cli(),
        ["report", "--html", str(out), "--bundle", str(path)],
        env={"COPROLIB_CONFIG": str(config)},
    )
    assert result.exit_code == 0, result.output
    assert '<p class="meta">Fictional Vale Safeguarding Adults Board</p>' in out.read_text()
    again = CliRunner().invoke(
        build_cli(),
        ["report", "--html", str(out), "--bundle", str(path), "--organisation", "Override"],
        env={"COPROLIB_CONFIG": str(config)},
    )
    assert again.exit_code == 0 and '<p class="meta">Override</p>' in out.read_text()


def test_shared_counts_a_story_withdrawn_on_its_own_as_not_consented() -> None:
    # One consent covers s-1 and s-2; a withdrawal naming s-1 leaves s-2 in force.
    stories = [story("s-1", "c-1", 200), story("s-2", "c-1", 200)]
    insights = [insight("i-1", "s-1"), insight("i-2", "s-2")]
    given = _consent("c-1")
    both = Consent(
        id="k-c-1",
        contributor_id="c-1",
        story_ids=("s-1", "s-2"),
        events=(
            *given.events,
            ConsentEvent(
                type=ConsentEventType.WITHDRAWN,
                at=dt.datetime.combine(day(20), dt.time(9), tzinfo=dt.UTC),
                story_ids=("s-1",),
            ),
        ),
    )
    impact = measure(
        stories=stories,
        insights=insights,
        shares=[
            (_relying("i-1", "k-c-1"), "delivered"),
            (_relying("i-2", "k-c-1"), "delivered"),
        ],
        consents=[both],
        today=TODAY,
    )
    assert impact.stage("shared").count == 1


def _proposal(pid: str, ago: int) -> Proposal:
    return Proposal(id=pid, title=pid, proposed_by="Case review group", proposed_on=day(ago))


def _answer(aid: str, verdict: LivedVerdict, pid: str | None, *insights: str) -> LivedAnswer:
    return LivedAnswer(
        id=aid, verdict=verdict, heard_on=day(50), proposal_id=pid, insight_ids=insights
    )


def test_how_far_off_the_bar() -> None:
    agreed = [(OutcomeStatus.AGREED, 40)]
    impact = measure(
        stories=[story("s-1", "c-1", 300)],
        insights=[insight(i, "s-1") for i in ("i-1", "i-2", "i-3", "i-4")],
        outcomes=[
            outcome("o-1", "i-1", agreed, ChangeDepth.SYSTEM),  # overturned: lived experience
            outcome("o-2", "i-2", agreed, ChangeDepth.PRACTICE),  # confirmed: professionals
            outcome("o-3", "i-3", agreed, ChangeDepth.SERVICE),  # new: lived experience
            outcome("o-4", "i-4", agreed, ChangeDepth.SERVICE),  # no answer: not traced
            outcome("o-5", "i-1", [(OutcomeStatus.NOT_ADOPTED, 40)], ChangeDepth.SYSTEM),
            outcome("o-6", "i-1", [], ChangeDepth.SYSTEM),  # only proposed: not adopted yet
        ],
        proposals=[
            _proposal("p-1", 200),
            _proposal("p-2", 200),
            _proposal("p-3", 200),
            _proposal("p-4", 200),  # not heard yet
            _proposal("p-old", 400),  # before the period
        ],
        answers=[
            _answer("a-1", LivedVerdict.OVERTURNED, "p-1", "i-1"),
            _answer("a-2", LivedVerdict.CONFIRMED, "p-2", "i-2"),
            _answer("a-3", LivedVerdict.CHANGED, "p-3"),
            _answer("a-4", LivedVerdict.NEW, None, "i-3"),
            _answer("a-5", LivedVerdict.OVERTURNED, "p-old"),
        ],
        today=TODAY,
        since=day(365),
    )
    bar = impact.off_the_bar
    assert bar is not None
    assert (bar.proposals, bar.heard) == (4, 3)
    assert (bar.confirmed, bar.changed, bar.overturned, bar.new) == (1, 1, 1, 1)
    assert bar.off_rate == 2 / 3
    assert bar.adopted == 4
    assert bar.adopted_from_lived_experience == 2
    assert bar.adopted_from_professionals == 1
    assert bar.adopted_unlinked == 1
    assert bar.lived_share == 2 / 3
    assert impact.to_dict()["off_the_bar"]["off_rate"] == 2 / 3


def test_time_in_status() -> None:
    o = outcome(
        "o-1",
        "i-1",
        [(OutcomeStatus.AGREED, 200), (OutcomeStatus.IN_PROGRESS, 50)],
        ChangeDepth.SYSTEM,
    )
    spans = time_in_status(o, TODAY)
    assert [(x.status, x.days) for x in spans] == [
        (OutcomeStatus.PROPOSED, 100),
        (OutcomeStatus.AGREED, 150),
        (OutcomeStatus.IN_PROGRESS, 50),
    ]
    assert spans[-1].until is None and spans[0].until == day(200)
    ended = outcome("o-2", "i-1", [(OutcomeStatus.NOT_ADOPTED, 100)], ChangeDepth.SYSTEM)
    assert [x.days for x in time_in_status(ended, TODAY)] == [200, 0]
    impact = measure(stories=[], insights=[insight("i-1")], outcomes=[o, ended], today=TODAY)
    assert impact.stalled is not None
    times = {t.outcome_id: t.days_in_status for t in impact.stalled.outcomes}
    assert times["o-1"] == {"proposed": 100, "agreed": 150, "in_progress": 50}
    assert times["o-2"] == {"proposed": 200, "not_adopted": 0}


def test_stalled_changes() -> None:
    stuck = outcome("o-1", "i-1", [(OutcomeStatus.AGREED, 120)], ChangeDepth.SYSTEM)
    late = attrs.evolve(
        outcome("o-2", "i-1", [(OutcomeStatus.AGREED, 10)], ChangeDepth.SYSTEM), due=day(1)
    )
    moving = outcome("o-3", "i-1", [(OutcomeStatus.AGREED, 30)], ChangeDepth.PRACTICE)
    done = outcome("o-4", "i-1", [(OutcomeStatus.AGREED, 290)], ChangeDepth.PRACTICE)
    done = attrs.evolve(done, timeline=(*done.timeline[:1],))  # proposed 300 days ago: open
    delivered = outcome(
        "o-5",
        "i-1",
        [
            (OutcomeStatus.AGREED, 290),
            (OutcomeStatus.IN_PROGRESS, 280),
            (OutcomeStatus.IMPLEMENTED, 270),
        ],
        ChangeDepth.SERVICE,
    )
    impact = measure(
        stories=[story("s-1", "c-1", 400)],
        insights=[insight("i-1", "s-1")],
        outcomes=[stuck, late, moving, done, delivered],
        today=TODAY,
        stalled_after_days=100,
    )
    s = impact.stalled
    assert s is not None
    assert (s.open, s.count) == (4, 3)
    rows = {r.depth: r for r in s.by_depth}
    assert (rows[ChangeDepth.SYSTEM].open, rows[ChangeDepth.SYSTEM].stalled) == (2, 2)
    assert (rows[ChangeDepth.PRACTICE].open, rows[ChangeDepth.PRACTICE].stalled) == (2, 1)
    assert rows[ChangeDepth.SERVICE].open == 0 and rows[ChangeDepth.SERVICE].rate is None
    by_id = {c.outcome_id: c for c in s.changes}
    assert by_id["o-1"].reasons == ("no_progress",) and by_id["o-1"].days_in_status == 120
    assert by_id["o-2"].reasons == ("past_due",)
    assert by_id["o-4"].status is OutcomeStatus.PROPOSED
    assert by_id["o-1"].owner == "x" and by_id["o-1"].story_ids == ("s-1",)
    assert [c.outcome_id for c in s.changes][:2] == ["o-1", "o-2"]  # deepest, longest first
    # The threshold is the config's: a year lets the no-progress ones off, not the late one.
    relaxed = measure(
        stories=[],
        insights=[insight("i-1")],
        outcomes=[stuck, late],
        today=TODAY,
        stalled_after_days=365,
    )
    assert relaxed.stalled is not None
    assert [c.outcome_id for c in relaxed.stalled.changes] == ["o-2"]


def _involvement(
    iid: str, cid: str, aid: str, role: InvolvementRole, *recognition: Recognition
) -> Involvement:
    return Involvement(
        id=iid,
        contributor_id=cid,
        activity_id=aid,
        role=role,
        hours=2.0,
        recognition=recognition,
    )


_PAID = Recognition(
    kind=RecognitionKind.PAYMENT,
    amount_pence=4000,
    offered_on=day(300),
    given_on=day(290),
    method=PaymentMethod.BANK_TRANSFER,
)
_OFFERED = Recognition(kind=RecognitionKind.VOUCHER, amount_pence=2000, offered_on=day(100))


def _held(aid: str, ago: int) -> Activity:
    return attrs.evolve(
        _activity(aid, LadderRung.CO_PRODUCTION, DecisionHolder.SHARED, None), held_on=day(ago)
    )


def _involvement_world() -> dict[str, object]:
    return {
        "stories": [story("s-1", "c-1", 300)],
        "contributors": [Contributor(id=c) for c in ("c-1", "c-2", "c-3", "c-4")],
        "activities": [
            _held("a-1", 300),
            _held("a-2", 100),
            attrs.evolve(
                _held("a-3", 250),
                contributor_ids=("c-4",),
            ),
        ],
        "involvements": [
            _involvement("v-1", "c-1", "a-1", InvolvementRole.PARTICIPANT, _PAID),
            _involvement("v-2", "c-1", "a-2", InvolvementRole.TRAINER, _OFFERED),
            _involvement("v-3", "c-2", "a-1", InvolvementRole.PARTICIPANT),
            _involvement(
                "v-4",
                "c-3",
                "a-2",
                InvolvementRole.CO_FACILITATOR,
                Recognition(kind=RecognitionKind.DECLINED),
            ),
        ],
    }


def test_involvement_over_time() -> None:
    impact = measure(
        **_involvement_world(),  # type: ignore[arg-type]
        today=TODAY,
        hourly_rates={InvolvementRole.TRAINER: 3000, InvolvementRole.PARTICIPANT: 2000},
    )
    v = impact.involvement
    assert v is not None
    assert (v.people, v.involvements, v.returned, v.once) == (4, 5, 1, 3)
    roles = {r.role: r for r in v.by_role}
    assert (
        roles[InvolvementRole.PARTICIPANT].people,
        roles[InvolvementRole.PARTICIPANT].involvements,
    ) == (3, 3)
    assert roles[InvolvementRole.TRAINER].people == 1
    assert (v.recognition_offered, v.recognition_given, v.recognition_declined) == (2, 1, 1)
    assert v.no_recognition == 2  # c-2 at a-1, and c-4 listed on a-3 with nothing recorded
    assert (v.offered_pence, v.given_pence) == (6000, 4000)
    assert v.policy_pence == 2000 * 2 * 2 + 3000 * 2  # two participants' 2 hours, a trainer's
    # Only the activities held in the period count; a came-back person stays one who came back.
    later = measure(**_involvement_world(), today=TODAY, since=day(200))  # type: ignore[arg-type]
    assert later.involvement is not None
    assert (later.involvement.people, later.involvement.involvements) == (2, 2)  # a-2 only
    assert later.involvement.returned == 1  # c-1 came back (a-1 was before the period)
    # One person's own record, for their journey.
    mine = contributor_involvement(
        "c-1",
        **{k: v for k, v in _involvement_world().items() if k in ("involvements", "activities")},  # type: ignore[arg-type]
        today=TODAY,
        hourly_rates={InvolvementRole.TRAINER: 3000},
    )
    assert [(e.activity_id, e.role, e.given) for e in mine.entries] == [
        ("a-1", InvolvementRole.PARTICIPANT, True),
        ("a-2", InvolvementRole.TRAINER, False),
    ]
    assert mine.entries[1].policy_pence == 6000 and mine.entries[0].methods == ("bank_transfer",)


def test_wheeled_out() -> None:
    world = _involvement_world()
    impact = measure(**world, today=TODAY, follow_up_days=180)  # type: ignore[arg-type]
    v = impact.involvement
    assert v is not None
    # c-2 took part once, 300 days ago, and nobody has been in touch since; c-4 once, 250 days
    # ago; c-1 came back and c-3's only time was 100 days ago.
    assert v.involved_once_not_contacted == 2
    # c-1 gave a story 300 days ago, asked to hear back and never heard anything.
    assert v.story_no_feedback == 1
    assert v.warnings == (
        "2 people took part once and nobody has been in touch since (more than 180 days)",
        "2 times someone took part with no recognition or payment recorded",
        "1 person gave their story and never heard anything back",
    )
    assert impact.to_dict()["involvement"]["warnings"] == list(v.warnings)
    # Feedback sent to c-1 and a story from c-2 after their activity clear both warnings.
    fed = measure(
        **{**world, "stories": [story("s-1", "c-1", 300), story("s-2", "c-2", 10)]},  # type: ignore[arg-type]
        feedback=[sent("f-1", "c-1", 20)],
        today=TODAY,
    )
    assert fed.involvement is not None
    assert (fed.involvement.involved_once_not_contacted, fed.involvement.story_no_feedback) == (
        1,
        0,
    )
    person = contributor_involvement(
        "c-2",
        involvements=world["involvements"],
        activities=world["activities"],  # type: ignore[arg-type]
        today=TODAY,
    )
    assert {w.code for w in person.warnings} == {"involved_once", "no_recognition"}
    assert "c-2 took part once (a-1 on" in person.warnings[0].message
