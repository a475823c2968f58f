"""The planner without a ledger: routing the Northdale example (every kind of refusal and its
reason), rendering (redaction, quotes, ids), reconciling (retractions, feedback owed), and a
state machine of grants, narrowings, withdrawals, approvals and plans."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coprolib.config import Config, Destination, load_config
from coprolib.planner import (
    Plan,
    World,
    explain,
    insight_text_digest,
    reconcile,
    route,
    share_identity,
)
from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentTerms,
    Contributor,
    EvidenceRef,
    Insight,
    Quote,
    Share,
    Story,
)
from coprolib.records.bundle import Bundle, load_bundle
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    FeedbackKind,
    IdentityLevel,
    InsightStatus,
    Purpose,
    SARDomain,
    StorySource,
)
from tests.conftest import EXAMPLE_BUNDLE, ROOT

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def example() -> tuple[Bundle, Config, World]:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    config = load_config(ROOT / "examples" / "coprolib.toml")
    world = World.from_records(
        stories=bundle.stories,
        consents=bundle.consents,
        insights=bundle.insights,
        contributors=bundle.contributors,
    )
    return bundle, config, world


def _explain(example: tuple[Bundle, Config, World], target: str) -> str:
    _bundle, config, world = example
    routed = route(world, config.destinations.values(), NOW)
    return "\n".join(explain(target, routed, world, config.destinations, NOW))


# --- the example bundle: every kind of refusal, with its reason ----------------------------


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("s-03", "p-dev withdrew consent c-03 on 2026-01-15"),
        ("s-04", "consent c-04 expired on 2026-05-10"),
        ("s-05", "consent c-05 says not before 2027-03-01"),
        ("s-06", "consent c-06 allows audience 'internal' only; destination 'dynamics-partners'"),
        ("s-07", "consent c-07 allows purposes 'training' only"),
        ("s-02", "approved an earlier text of insight i-02, which has changed since (review"),
        ("s-12", "insight i-03 is not yet approved (review pending)"),
        ("s-09", "safeguarding disclosure"),
        ("s-11", "best-interests decision, so it stays internal"),
        ("i-02", "too few contributors: only 1 distinct contributor's story may go to"),
        ("i-05", "insight i-05 is draft"),
    ],
)
def test_explain_gives_the_reason_for_each_kind_of_refusal(
    example: tuple[Bundle, Config, World], target: str, words: str
) -> None:
    assert words in _explain(example, target)


def test_example_shares_hold_only_what_consent_allows(
    example: tuple[Bundle, Config, World],
) -> None:
    bundle, config, world = example
    routed = {
        (r.insight_id, r.destination): r for r in route(world, config.destinations.values(), NOW)
    }
    i01 = routed[("i-01", "dynamics-partners")].share
    assert i01 is not None
    assert set(i01.story_ids) == {"s-01", "s-08", "s-10"}  # s-06 is internal only
    assert i01.identity_level is IdentityLevel.ANONYMOUS
    assert {r.consent_id for r in i01.consent_refs} == {"c-01", "c-08", "c-05b"}
    # i-01 goes internally with s-06 too (Sam agreed to internal).
    assert "s-06" in routed[("i-01", "training-portal")].share.story_ids  # type: ignore[union-attr]
    # Nothing of i-03 goes anywhere; i-02 only internally; draft i-05 is not routed.
    assert all(routed[("i-03", d)].share is None for d in config.insight_destinations())
    assert routed[("i-02", "dynamics-partners")].share is None
    assert ("i-05", "training-portal") not in routed
    people = {p.id: p for p in bundle.contributors}
    for r in routed.values():
        if r.share is None or r.share.identity_level is IdentityLevel.NAMED:
            continue
        text = " ".join([r.share.title, r.share.body, *(q.text for q in r.share.quotes)])
        for sid in world.insights[r.insight_id].story_ids:
            for cid in world.stories[sid].contributor_ids:
                for ident in people[cid].known_identifiers:
                    assert ident.lower() not in text.lower()


def test_quotes_only_where_consent_and_destination_allow(
    example: tuple[Bundle, Config, World],
) -> None:
    _bundle, config, world = example
    no_quotes = attrs.evolve(config.destination("sab-board-pack"), quotes=False)
    (r,) = route(world, [no_quotes], NOW, ["i-01"])
    assert r.share is not None and r.share.quotes == ()
    (r,) = route(world, [config.destination("sab-board-pack")], NOW, ["i-01"])
    assert r.share is not None
    assert "Nobody joined it up." in [q.text for q in r.share.quotes]


# --- rendering and redaction --------------------------------------------------------------


def _world(text: str, identifiers: tuple[str, ...], level: IdentityLevel) -> World:
    person = Contributor(id="p-1", known_identifiers=identifiers)
    story = Story(
        id="s-1",
        contributor_ids=("p-1",),
        text=text,
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2025, 1, 1),
        quotes=(Quote(id="q", start=0, end=len(text)),),
    )
    terms = ConsentTerms(
        purposes=(Purpose.TRAINING,),
        audiences=(Audience.INTERNAL,),
        identity_level=level,
        quotes_allowed=True,
    )
    consent = Consent(
        id="c-1",
        contributor_id="p-1",
        events=(
            ConsentEvent(type=ConsentEventType.GIVEN, at=NOW - dt.timedelta(days=9), terms=terms),
        ),
    )
    insight = Insight(
        id="i-1",
        title="Kestrel Rise needed a lead worker",
        summary="Told by Amber Wildermere of Kestrel Rise.",
        recommendation="Ask first.",
        domain=SARDomain.DIRECT_PRACTICE,
        evidence=(EvidenceRef(story_id="s-1", quote_ids=("q",)),),
        status=InsightStatus.AGREED,
    )
    return World.from_records(
        stories=[story], consents=[consent], insights=[insight], contributors=[person]
    )


TRAINING = Destination(
    name="training",
    adapter="file",
    audience=Audience.INTERNAL,
    purposes=(Purpose.TRAINING,),
    max_identity=IdentityLevel.NAMED,
    quotes=True,
)


@pytest.mark.parametrize("level", [IdentityLevel.ANONYMOUS, IdentityLevel.PSEUDONYMOUS])
def test_known_identifiers_never_leave_below_named(level: IdentityLevel) -> None:
    world = _world(
        "Amber Wildermere said KESTREL  RISE was cold.", ("Amber Wildermere", "Kestrel Rise"), level
    )
    (r,) = route(world, [TRAINING], NOW)
    assert r.share is not None and r.share.identity_level is level
    out = " ".join([r.share.title, r.share.body, r.share.quotes[0].text]).lower()
    assert "wildermere" not in out and "kestrel" not in out
    assert "[" in r.share.quotes[0].text


def test_named_keeps_the_name() -> None:
    world = _world("Amber Wildermere said it.", ("Amber Wildermere",), IdentityLevel.NAMED)
    (r,) = route(world, [TRAINING], NOW)
    assert r.share is not None and r.share.quotes[0].text == "Amber Wildermere said it."


def test_share_ids_and_keys_are_deterministic_and_follow_content() -> None:
    a = share_identity("insight", "i-1", "crm", "d1")
    assert a == share_identity("insight", "i-1", "crm", "d1")
    assert a[0] != share_identity("insight", "i-1", "crm", "d2")[0]
    assert a[1] != share_identity("insight", "i-1", "other", "d1")[1]
    world = _world("Words.", (), IdentityLevel.NAMED)
    (r1,) = route(world, [TRAINING], NOW)
    (r2,) = route(world, [TRAINING], NOW + dt.timedelta(hours=5))
    assert r1.share is not None and r2.share is not None
    assert (r1.share.id, r1.share.idempotency_key, r1.share.digest) == (
        r2.share.id,
        r2.share.idempotency_key,
        r2.share.digest,
    )


def test_insight_text_digest_changes_with_words() -> None:
    world = _world("Words.", (), IdentityLevel.NAMED)
    insight = world.insights["i-1"]
    assert insight_text_digest(insight) == insight_text_digest(attrs.evolve(insight))
    assert insight_text_digest(insight) != insight_text_digest(
        attrs.evolve(insight, summary="Other words.")
    )


# --- reconciling ----------------------------------------------------------------------------


def test_reconcile_is_idempotent_and_owes_feedback_once(
    example: tuple[Bundle, Config, World],
) -> None:
    _bundle, config, world = example
    routed = route(world, config.destinations.values(), NOW)
    first = reconcile(routed, [], world, config.destinations, NOW)
    assert first.deliver and not first.retractions and not first.unchanged
    kinds = {f.kind for f in first.feedback}
    assert kinds == {FeedbackKind.SCHEDULED, FeedbackKind.SHARED}
    # Leigh does not want feedback; nobody gets it twice for the same insight+destination.
    assert all(f.contributor_id != "p-leigh" for f in first.feedback)
    keys = [(f.contributor_id, f.insight_id, f.destination, f.kind) for f in first.feedback]
    assert len(keys) == len(set(keys))
    sched = next(f for f in first.feedback if f.kind is FeedbackKind.SCHEDULED)
    assert sched.due == NOW.date() + dt.timedelta(days=7)
    assert sched.destination in (sched.message or "")
    recorded = [(s, "delivered") for s in first.deliver]
    fb = {f.id for f in first.feedback}
    again = reconcile(
        routed, recorded, world, config.destinations, NOW, feedback_exists=fb.__contains__
    )
    assert again.deliver == () and again.retractions == () and again.feedback == ()
    assert set(again.unchanged) == {s.id for s in first.deliver}


def test_withdrawal_retracts_and_rerenders(example: tuple[Bundle, Config, World]) -> None:
    bundle, config, world = example
    routed = route(world, config.destinations.values(), NOW)
    first = reconcile(routed, [], world, config.destinations, NOW)
    recorded = [(s, "delivered") for s in first.deliver]
    later = NOW + dt.timedelta(days=1)
    # Morgan withdraws s-10 (told with Amber): every share that carried it comes back.
    consents = [
        c.with_event(ConsentEvent(type=ConsentEventType.WITHDRAWN, at=later))
        if c.id == "c-05b"
        else c
        for c in bundle.consents
    ]
    w2 = World.from_records(
        stories=bundle.stories,
        consents=consents,
        insights=bundle.insights,
        contributors=bundle.contributors,
    )
    scope = w2.insights_citing(["s-10"])
    assert scope == ["i-01"]
    second = reconcile(
        route(w2, config.destinations.values(), later, scope),
        recorded,
        w2,
        config.destinations,
        later,
        scope=scope,
    )
    carried = {s.id for s in first.deliver if "s-10" in s.story_ids}
    assert carried and {r.share_id for r in second.retractions} == carried
    assert all("s-10" not in s.story_ids for s in second.deliver)
    by_dest = {r.destination: r for r in second.retractions}
    # Without s-10, i-01 has 2 contributors: still enough for the board (2), not partners (3).
    assert "too few contributors" in by_dest["dynamics-partners"].reason
    assert "p-morgan withdrew" in by_dest["dynamics-partners"].reason
    assert {s.destination for s in second.deliver} == {"sab-board-pack", "training-portal"}


def test_retired_insight_is_retracted(example: tuple[Bundle, Config, World]) -> None:
    bundle, config, world = example
    first = reconcile(
        route(world, config.destinations.values(), NOW), [], world, config.destinations, NOW
    )
    recorded = [(s, "delivered") for s in first.deliver if s.subject_id == "i-04"]
    insights = [
        attrs.evolve(i, status=InsightStatus.RETIRED) if i.id == "i-04" else i
        for i in bundle.insights
    ]
    w2 = World.from_records(
        stories=bundle.stories,
        consents=bundle.consents,
        insights=insights,
        contributors=bundle.contributors,
    )
    plan2 = reconcile(
        route(w2, config.destinations.values(), NOW), recorded, w2, config.destinations, NOW
    )
    assert {r.share_id for r in plan2.retractions} == {s.id for s, _ in recorded}
    assert all("retired" in r.reason for r in plan2.retractions)


# --- the state machine ----------------------------------------------------------------------

PURPOSES = (Purpose.SERVICE_IMPROVEMENT, Purpose.TRAINING)
AUDIENCES = (Audience.INTERNAL, Audience.PARTNERS)
DESTS = {
    "crm": Destination(
        name="crm",
        adapter="file",
        audience=Audience.PARTNERS,
        purposes=(Purpose.SERVICE_IMPROVEMENT,),
        min_contributors=2,
        quotes=True,
    ),
    "training": Destination(
        name="training",
        adapter="file",
        audience=Audience.INTERNAL,
        purposes=(Purpose.TRAINING,),
        max_identity=IdentityLevel.NAMED,
    ),
}
N_STORIES = 6
STORY_IDS = [f"s-{i}" for i in range(N_STORIES)]
INSIGHTS = {
    "i-a": ("s-0", "s-1", "s-2"),
    "i-b": ("s-2", "s-3", "s-4", "s-5"),
    "i-c": ("s-5", "s-0"),
}


def _teller(sid: str) -> str:
    return f"p-{int(sid[2:]) % 4}"


class PlanningMachine(RuleBasedStateMachine):
    """Consents change; plans follow. Live shares must always be exactly what consent allows,
    and every share that carried a withdrawn story must be retracted by the next plan."""

    @initialize()
    def setup(self) -> None:
        self.moment = dt.datetime(2026, 1, 1, tzinfo=UTC)
        self.stories = {
            sid: Story(
                id=sid,
                contributor_ids=(_teller(sid),),
                text=f"Story {sid} text.",
                source=StorySource.INTERVIEW,
                collected_on=dt.date(2025, 1, 1),
            )
            for sid in STORY_IDS
        }
        self.insights = {
            iid: Insight(
                id=iid,
                title=f"Insight {iid}",
                summary="Summary.",
                recommendation="Do it.",
                domain=SARDomain.DIRECT_PRACTICE,
                evidence=tuple(EvidenceRef(story_id=s) for s in sids),
                status=InsightStatus.AGREED,
            )
            for iid, sids in INSIGHTS.items()
        }
        broad = ConsentTerms(purposes=PURPOSES, audiences=AUDIENCES)
        self.consents = {
            sid: Consent(
                id=f"c-{sid}",
                contributor_id=_teller(sid),
                story_ids=(sid,),
                events=(ConsentEvent(type=ConsentEventType.GIVEN, at=self.moment, terms=broad),),
            )
            for sid in STORY_IDS
        }
        # The model: what each story's consent allows now, independently of the code under test.
        self.model: dict[str, tuple[set[Purpose], set[Audience], bool] | None] = {
            sid: (set(PURPOSES), set(AUDIENCES), False) for sid in STORY_IDS
        }
        self.approved: set[tuple[str, str]] = set()
        self.recorded: dict[str, tuple[Share, str]] = {}
        self.withdrawn_since_plan: set[str] = set()
        self.last_plan: Plan | None = None

    def _tick(self) -> dt.datetime:
        self.moment += dt.timedelta(minutes=1)
        return self.moment

    def _append(self, sid: str, event: ConsentEvent) -> None:
        self.consents[sid] = self.consents[sid].with_event(event)

    @rule(
        sid=st.sampled_from(STORY_IDS),
        purposes=st.sets(st.sampled_from(PURPOSES), min_size=1),
        audiences=st.sets(st.sampled_from(AUDIENCES), min_size=1),
        review=st.booleans(),
    )
    def grant(
        self, sid: str, purposes: set[Purpose], audiences: set[Audience], review: bool
    ) -> None:
        terms = ConsentTerms(
            purposes=tuple(p for p in PURPOSES if p in purposes),
            audiences=tuple(a for a in AUDIENCES if a in audiences),
            review_before_sharing=review,
        )
        self._append(sid, ConsentEvent(type=ConsentEventType.RENEWED, at=self._tick(), terms=terms))
        self.model[sid] = (set(purposes), set(audiences), review)
        self.withdrawn_since_plan.discard(sid)

    @rule(sid=st.sampled_from(STORY_IDS), audience=st.sampled_from(AUDIENCES))
    def narrow(self, sid: str, audience: Audience) -> None:
        self._append(
            sid,
            ConsentEvent(type=ConsentEventType.WITHDRAWN, at=self._tick(), audiences=(audience,)),
        )
        m = self.model[sid]
        if m is not None:
            auds = m[1] - {audience}
            self.model[sid] = (m[0], auds, m[2]) if auds else None
            if not auds:
                self.withdrawn_since_plan.add(sid)

    @rule(sid=st.sampled_from(STORY_IDS))
    def withdraw(self, sid: str) -> None:
        self._append(sid, ConsentEvent(type=ConsentEventType.WITHDRAWN, at=self._tick()))
        self.model[sid] = None
        self.withdrawn_since_plan.add(sid)

    @rule(sid=st.sampled_from(STORY_IDS), iid=st.sampled_from(sorted(INSIGHTS)))
    def approve(self, sid: str, iid: str) -> None:
        digest = insight_text_digest(self.insights[iid])
        self._append(
            sid,
            ConsentEvent(
                type=ConsentEventType.APPROVED, at=self._tick(), insight_id=iid, text_digest=digest
            ),
        )
        self.approved.add((sid, iid))

    def _allowed(self, sid: str, iid: str, dest: Destination) -> bool:
        m = self.model[sid]
        if m is None:
            return False
        purposes, audiences, review = m
        return (
            dest.audience in audiences
            and all(p in purposes for p in dest.purposes)
            and (not review or (sid, iid) in self.approved)
        )

    @rule()
    def plan(self) -> None:
        moment = self._tick()
        world = World.from_records(
            stories=self.stories.values(),
            consents=self.consents.values(),
            insights=self.insights.values(),
        )
        before = dict(self.recorded)
        result = reconcile(
            route(world, DESTS.values(), moment),
            list(before.values()),
            world,
            DESTS,
            moment,
        )
        # Planned shares are exactly what the consents allow.
        for r in result.routed:
            dest = DESTS[r.destination]
            allowed = {s for s in INSIGHTS[r.insight_id] if self._allowed(s, r.insight_id, dest)}
            people = {_teller(s) for s in allowed}
            if allowed and len(people) >= dest.min_contributors:
                assert r.share is not None, (r.insight_id, r.destination, r.reasons)
                assert set(r.share.story_ids) == allowed
            else:
                assert r.share is None, (r.insight_id, r.destination, allowed)
        # Every live share that carried a story withdrawn since the last plan is retracted.
        retracted = {x.share_id for x in result.retractions}
        for share_id, (share, status) in before.items():
            if status == "delivered" and set(share.story_ids) & self.withdrawn_since_plan:
                assert share_id in retracted, (share_id, share.story_ids)
        # The world after delivery: new shares delivered, retractions done.
        for share in result.deliver:
            self.recorded[share.id] = (share, "delivered")
        for x in result.retractions:
            self.recorded[x.share_id] = (self.recorded[x.share_id][0], "retracted")
        self.withdrawn_since_plan = set()
        self.last_plan = result
        # After the plan, every live share carries only stories consent allows.
        for share, status in self.recorded.values():
            if status == "delivered":
                dest = DESTS[share.destination]
                assert all(self._allowed(s, share.subject_id, dest) for s in share.story_ids)

    @invariant()
    def one_live_share_per_insight_and_destination(self) -> None:
        live: dict[tuple[str, str], int] = {}
        for share, status in self.recorded.values():
            if status == "delivered":
                key = (share.subject_id, share.destination)
                live[key] = live.get(key, 0) + 1
        assert all(n == 1 for n in live.values()), live


TestPlanningMachine = PlanningMachine.TestCase
TestPlanningMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
