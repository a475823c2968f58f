"""Proposals, lived-experience answers and involvements: validation naming the field, bundles and
their schema, the ledger (stored, exported only with agreement, audited), the [impact] config
section and `coprolib impact --json`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.config import ConfigError, parse_config
from coprolib.impact import involvement_of, measure_ledger
from coprolib.ledger import LedgerError
from coprolib.records import Involvement, LivedAnswer, Proposal, Recognition, RecordError
from coprolib.records.bundle import (
    BundleError,
    bundle_from_data,
    dumps_bundle,
    load_bundle,
    loads_bundle,
)
from coprolib.records.enums import (
    InvolvementRole,
    LivedVerdict,
    PaymentMethod,
    RecognitionKind,
    StorySource,
)
from coprolib.records.schema import bundle_schema
from tests.conftest import EXAMPLE_BUNDLE

TODAY = dt.date(2026, 12, 5)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (
            lambda: LivedAnswer(
                id="a", verdict=LivedVerdict.NEW, heard_on=TODAY, proposal_id="pr-1"
            ),
            "proposal_id",
        ),
        (
            lambda: LivedAnswer(id="a", verdict=LivedVerdict.CHANGED, heard_on=TODAY),
            "proposal_id",
        ),
        (lambda: Recognition(kind=RecognitionKind.PAYMENT), "amount_pence"),
        (
            lambda: Recognition(kind=RecognitionKind.PAYMENT, amount_pence=500, given_on=TODAY),
            "method",
        ),
        (lambda: Recognition(kind=RecognitionKind.GIFT, amount_pence=-1), "amount_pence"),
        (
            lambda: Recognition(
                kind=RecognitionKind.GIFT, offered_on=TODAY, given_on=TODAY - dt.timedelta(1)
            ),
            "given_on",
        ),
        (
            lambda: Involvement(id="v", contributor_id="c", activity_id="a", hours=200.0),
            "hours",
        ),
        (
            lambda: Proposal(id="p", title=" ", proposed_by="Case review", proposed_on=TODAY),
            "title",
        ),
    ],
)
def test_bad_records_name_the_field(build: Any, field: str) -> None:
    with pytest.raises(RecordError) as err:
        build()
    assert err.value.field == field


def test_northdale_round_trips_and_satisfies_the_schema() -> None:
    text = EXAMPLE_BUNDLE.read_text(encoding="utf-8")
    bundle = load_bundle(EXAMPLE_BUNDLE)
    assert bundle.proposals and bundle.answers and bundle.involvements
    assert loads_bundle(dumps_bundle(bundle)) == bundle
    jsonschema.Draft202012Validator(bundle_schema()).validate(json.loads(text))
    assert bundle.counts()["involvements"] == len(bundle.involvements)


def test_bundle_references_are_checked() -> None:
    data = json.loads(EXAMPLE_BUNDLE.read_text(encoding="utf-8"))
    data["answers"].append(dict(data["answers"][0], id="la-99"))  # a second answer to pr-01
    data["answers"].append(dict(data["answers"][1], id="la-98", proposal_id="pr-nope"))
    data["involvements"][0]["activity_id"] = "a-nope"
    with pytest.raises(BundleError) as err:
        bundle_from_data(data)
    where = {p.path for p in err.value.problems}
    assert "answers[6].proposal_id" in where  # pr-01 already answered
    assert "answers[7].proposal_id" in where  # no such proposal
    assert "involvements[0].activity_id" in where


def test_bundle_field_errors_name_the_path() -> None:
    data = json.loads(EXAMPLE_BUNDLE.read_text(encoding="utf-8"))
    data["answers"][0]["verdict"] = "sort of"
    data["involvements"][1]["recognition"][0]["amount_pence"] = None
    with pytest.raises(BundleError) as err:
        bundle_from_data(data)
    text = str(err.value)
    assert "answers[0].verdict" in text
    assert "involvements[1].recognition[0]" in text and "amount_pence" in text


def test_ledger_stores_audits_and_exports_only_agreed_involvement(ledger: Any) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    counts = ledger.import_bundle(bundle)
    assert counts["proposals"] == 6 and counts["answers"] == 6 and counts["involvements"] == 9
    assert ledger.verify_audit().ok
    assert list(ledger.list(LivedAnswer)) == list(bundle.answers)
    exported = [r for r in ledger.export_records() if isinstance(r, Involvement)]
    assert exported and all(r.agreed_to_share for r in exported)
    assert {r.id for r in exported} == {i.id for i in bundle.involvements if i.agreed_to_share}
    # The measures read the same from the ledger as from the bundle.
    from coprolib.impact import measure_bundle

    assert (
        measure_ledger(ledger, today=TODAY).to_dict()
        == measure_bundle(bundle, today=TODAY).to_dict()
    )
    # One person's involvement, for their journey.
    amber = involvement_of(ledger, "p-amber", today=TODAY, hourly_rates={})
    assert [e.role for e in amber.entries] == [
        InvolvementRole.PARTICIPANT,
        InvolvementRole.TRAINER,
        InvolvementRole.CO_FACILITATOR,
    ]
    assert amber.entries[1].given_pence == 12000
    assert amber.entries[1].methods == (PaymentMethod.BANK_TRANSFER.value,)
    assert amber.supporting_orgs == ("Northdale Women's Aid (fictional)",)
    json.dumps(amber.to_dict())


def test_ledger_refuses_an_answer_to_a_proposal_it_does_not_hold(ledger: Any) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    ledger.import_bundle(attrs.evolve(bundle, proposals=(), answers=(), involvements=()))
    orphan = LivedAnswer(
        id="la-x", verdict=LivedVerdict.CONFIRMED, heard_on=TODAY, proposal_id="pr-missing"
    )
    with pytest.raises(LedgerError) as err:
        ledger.add(orphan)
    assert "proposal_id" in str(err.value)
    assert not list(ledger.list(LivedAnswer))


def test_impact_config_section() -> None:
    policy = parse_config(
        "[impact]\nstalled_after_days = 30\nhourly_rates = { trainer = 30.5, participant = 20 }\n"
    ).impact
    assert policy.stalled_after_days == 30 and policy.follow_up_days == 180
    assert policy.hourly_rates == {InvolvementRole.TRAINER: 3050, InvolvementRole.PARTICIPANT: 2000}
    for text, key in (
        ("[impact]\nstalled_after_days = -1\n", "impact.stalled_after_days"),
        ("[impact]\nstalled = 3\n", "impact.stalled"),
        ("[impact]\nhourly_rates = { boss = 3 }\n", "impact.hourly_rates.boss"),
        ("[impact]\nhourly_rates = { trainer = 'lots' }\n", "impact.hourly_rates.trainer"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config(text)
        assert key in str(err.value)


def test_impact_json_carries_the_board_measures(tmp_path: Path) -> None:
    from coprolib.cli import build_cli

    config = tmp_path / "coprolib.toml"
    config.write_text("[impact]\nstalled_after_days = 285\n", encoding="utf-8")
    args = ["impact", "--json", "--bundle", str(EXAMPLE_BUNDLE), "--today", TODAY.isoformat()]
    runner = CliRunner()
    default = runner.invoke(build_cli(), args)
    assert default.exit_code == 0, default.output
    data = json.loads(default.output)
    bar = data["off_the_bar"]
    assert (bar["heard"], bar["changed"] + bar["overturned"], bar["off_rate"]) == (5, 4, 0.8)
    assert bar["adopted_from_lived_experience"] == 5 and bar["adopted_from_professionals"] == 1
    depth = {r["depth"]: (r["open"], r["stalled"]) for r in data["stalled"]["by_depth"]}
    assert depth == {"tinkering": (0, 0), "practice": (1, 0), "service": (2, 2), "system": (1, 1)}
    assert [c["outcome_id"] for c in data["stalled"]["changes"]] == ["o-05", "o-03", "o-08"]
    warnings = data["involvement"]["warnings"]
    assert any("took part once" in w for w in warnings)
    assert any("no recognition" in w for w in warnings)
    assert "p-" not in json.dumps(data["involvement"]), "involvement is counts only"
    # The config's threshold: o-03 (279 days in progress) and o-08 (270 days proposed) are no
    # longer without progress, but o-08 is past due; o-05 is both.
    relaxed = runner.invoke(build_cli(), [*args, "--config", str(config)])
    assert relaxed.exit_code == 0, relaxed.output
    changes = json.loads(relaxed.output)["stalled"]["changes"]
    assert [(c["outcome_id"], c["reasons"]) for c in changes] == [
        ("o-05", ["no_progress", "past_due"]),
        ("o-08", ["past_due"]),
    ]


def test_erasure_reaches_involvement_notes_and_answer_summaries(ledger: Any) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    involvements = tuple(
        attrs.evolve(i, notes="Rowan-private-note-71") if i.contributor_id == "p-rowan" else i
        for i in bundle.involvements
    )
    ledger.import_bundle(attrs.evolve(bundle, involvements=involvements))
    counts = ledger.erase_contributor("p-rowan", compact=False)
    # la-02 rests on s-02, Rowan's story; inv-04 and inv-05 are Rowan's.
    assert counts["involvements"] == 2 and counts["answers"] == 1
    assert all(i.notes is None for i in ledger.list(Involvement, contributor="p-rowan"))
    answers = {a.id: a for a in ledger.list(LivedAnswer)}
    assert answers["la-02"].summary is None and answers["la-01"].summary is not None
    assert answers["la-02"].verdict is LivedVerdict.CHANGED  # the count a board sees stays
    assert set(ledger.erase_contributor("p-rowan", compact=False).values()) == {0}
    assert ledger.verify_audit().ok


_DAY0 = dt.date(2026, 1, 1)


@st.composite
def _board_world(draw: st.DrawFn) -> dict[str, Any]:
    """A small world of stories, insights, outcomes at any stage, proposals with or without an
    answer, new answers, activities and involvements with any recognition."""
    from coprolib.outcomes import advance, propose
    from coprolib.records import Activity, Contributor, EvidenceRef, Insight, Story
    from coprolib.records.enums import (
        ChangeDepth,
        DecisionHolder,
        LadderRung,
        OutcomeKind,
        SARDomain,
    )
    from coprolib.records.enums import OutcomeStatus as S

    def on(n: int) -> dt.date:
        return _DAY0 + dt.timedelta(days=n)

    people = [Contributor(id=f"c-{n}") for n in range(3)]
    stories = [
        Story(
            id=f"s-{n}",
            contributor_ids=(f"c-{n % 3}",),
            text="Fictional.",
            source=StorySource.WORKSHOP,
            collected_on=on(draw(st.integers(0, 300))),
        )
        for n in range(4)
    ]
    insights = [
        Insight(
            id=f"i-{n}",
            title=f"i-{n}",
            summary="s",
            recommendation="r",
            domain=SARDomain.DIRECT_PRACTICE,
            evidence=(EvidenceRef(story_id=f"s-{n}"),),
        )
        for n in range(4)
    ]
    path = [S.AGREED, S.IN_PROGRESS, S.IMPLEMENTED, S.EVIDENCED]
    outcomes = []
    for n in range(draw(st.integers(0, 6))):
        o = propose(
            id=f"o-{n}",
            title=f"o-{n}",
            kind=OutcomeKind.SERVICE_DESIGN,
            depth=draw(st.sampled_from(list(ChangeDepth))),
            insight_ids=(f"i-{draw(st.integers(0, 3))}",),
            owner="Fictional team",
            on=on(draw(st.integers(0, 100))),
            due=draw(st.none() | st.builds(on, st.integers(0, 400))),
        )
        day = o.timeline[0].on
        for status in path[: draw(st.integers(0, 4))]:
            day += dt.timedelta(days=draw(st.integers(0, 120)))
            o = advance(o, status, on=day)
        if draw(st.booleans()) and o.status not in (S.EVIDENCED,):
            o = advance(o, S.NOT_ADOPTED, on=day, note="no budget")
        outcomes.append(o)
    proposals = [
        Proposal(id=f"p-{n}", title="t", proposed_by="g", proposed_on=on(draw(st.integers(0, 300))))
        for n in range(draw(st.integers(0, 5)))
    ]
    answers = []
    for p in proposals:
        verdict = draw(
            st.none() | st.sampled_from([v for v in LivedVerdict if v is not LivedVerdict.NEW])
        )
        if verdict is not None:
            answers.append(
                LivedAnswer(
                    id=f"a-{p.id}",
                    verdict=verdict,
                    heard_on=p.proposed_on,
                    proposal_id=p.id,
                    insight_ids=tuple({f"i-{draw(st.integers(0, 3))}"}),
                )
            )
    for n in range(draw(st.integers(0, 2))):
        answers.append(
            LivedAnswer(
                id=f"a-new-{n}", verdict=LivedVerdict.NEW, heard_on=on(50), insight_ids=("i-0",)
            )
        )
    activities = [
        Activity(
            id=f"act-{n}",
            title="t",
            held_on=on(draw(st.integers(0, 330))),
            rung=LadderRung.CO_PRODUCTION,
            decisions_held_by=DecisionHolder.SHARED,
            contributor_ids=tuple(
                draw(st.lists(st.sampled_from(["c-0", "c-1", "c-2"]), unique=True, max_size=2))
            ),
        )
        for n in range(3)
    ]
    recognition = st.lists(
        st.builds(
            Recognition,
            kind=st.sampled_from(
                [RecognitionKind.GIFT, RecognitionKind.DECLINED, RecognitionKind.CERTIFICATE]
            ),
            given_on=st.none() | st.just(on(10)),
        ),
        max_size=2,
    )
    involvements = [
        Involvement(
            id=f"v-{n}",
            contributor_id=f"c-{draw(st.integers(0, 2))}",
            activity_id=f"act-{draw(st.integers(0, 2))}",
            role=draw(st.sampled_from(list(InvolvementRole))),
            hours=draw(st.none() | st.floats(0, 10)),
            recognition=tuple(draw(recognition)),
        )
        for n in range(draw(st.integers(0, 5)))
    ]
    return {
        "stories": stories,
        "contributors": people,
        "insights": insights,
        "outcomes": outcomes,
        "proposals": proposals,
        "answers": answers,
        "activities": activities,
        "involvements": involvements,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    world=_board_world(), today_at=st.integers(300, 700), since_at=st.none() | st.integers(0, 300)
)
def test_board_measures_hold_together(
    world: dict[str, Any], today_at: int, since_at: int | None
) -> None:
    from coprolib.impact import measure

    today = _DAY0 + dt.timedelta(days=today_at)
    since = None if since_at is None else _DAY0 + dt.timedelta(days=since_at)
    impact = measure(
        **world, today=today, since=since, hourly_rates={InvolvementRole.TRAINER: 2500}
    )
    bar, stalled, inv = impact.off_the_bar, impact.stalled, impact.involvement
    assert bar is not None and stalled is not None and inv is not None
    assert bar.heard == bar.confirmed + bar.changed + bar.overturned <= bar.proposals
    assert bar.off_rate is None or 0 <= bar.off_rate <= 1
    assert bar.adopted == (
        bar.adopted_from_lived_experience + bar.adopted_from_professionals + bar.adopted_unlinked
    )
    assert all(r.stalled <= r.open for r in stalled.by_depth)
    assert stalled.count == len(stalled.changes) == sum(r.stalled for r in stalled.by_depth)
    assert all(c.reasons for c in stalled.changes)
    assert len(stalled.outcomes) == len(world["outcomes"])
    assert all(d >= 0 for t in stalled.outcomes for d in t.days_in_status.values())
    assert inv.returned + inv.once == inv.people
    assert inv.no_recognition <= inv.involvements
    assert sum(r.involvements for r in inv.by_role) == inv.involvements
    assert inv.given_pence <= inv.offered_pence
    json.dumps(impact.to_dict())


def test_the_docs_jsonl_example_holds_valid_records() -> None:
    import re

    from coprolib.records.bundle import iter_jsonl

    text = (Path(__file__).resolve().parents[1] / "docs" / "impact.md").read_text(encoding="utf-8")
    block = re.findall(r"```text\n(\{\"type\".*?)```", text, flags=re.S)[0]
    records = list(iter_jsonl(block.splitlines(), source="docs/impact.md"))
    assert [type(r) for r in records] == [Proposal, LivedAnswer, Involvement]
