"""Benchmark the consent gate and the planner on a synthetic, fictional world.

100k stories, 5k agreed insights (3-30 supporting stories each), 6 destinations. Prints:

- consent decisions per second through ``decide()``, the one decision, with its rules
  dispatched through pluggy (target >= 100k/s), against a baseline measured in the same run
  (folding each consent's events, the least any gate must do), and the same questions asked
  again through a ``DecisionCache`` (results cached, never rules);
- the full plan time (route + reconcile, target < 10 s), and with ``--ledger`` the time to record
  it in a SQLite ledger;
- the re-plan time after one withdrawal, touching only the affected insights (target < 100 ms);
- with ``--ledger``: ``plan --explain`` for a story and an insight (``explain_in_ledger``, target
  < 100 ms) and shares checked per second at the send boundary (``SendCheck``).

Times are CPU time of this process (time.process_time), so other work on the machine does not
skew them. Run: ``python bench/consent_plan.py [--stories N] [--insights N] [--ledger]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from coprolib.config import Config, Destination, FeedbackPolicy
from coprolib.consent import DecisionCache, ShareRequest, decide
from coprolib.planner import World, insight_text_digest, plan, reconcile, route, withdraw
from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentTerms,
    Contributor,
    EvidenceRef,
    Insight,
    Quote,
    Story,
)
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    IdentityLevel,
    InsightStatus,
    Purpose,
    SARDomain,
    StorySource,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
P = Purpose
WORDS = [
    *[
        "help",
        "came",
        "late",
        "agencies",
        "did",
        "not",
        "talk",
        "the",
        "worker",
        "listened",
        "trust",
        "grew",
        "slowly",
        "home",
    ],
    *[
        "visits",
        "stopped",
        "after",
        "six",
        "sessions",
        "nobody",
        "joined",
        "it",
        "up",
        "the",
        "form",
        "came",
        "first",
    ],
]

DESTINATIONS = [
    Destination(
        name="crm-partners",
        adapter="file",
        audience=Audience.PARTNERS,
        purposes=(P.SERVICE_IMPROVEMENT, P.COMMISSIONING),
        min_contributors=3,
        quotes=True,
    ),
    Destination(
        name="board-pack",
        adapter="file",
        audience=Audience.BOARD,
        purposes=(P.BOARD_REPORTING,),
        max_identity=IdentityLevel.PSEUDONYMOUS,
        quotes=True,
        min_contributors=2,
    ),
    Destination(
        name="training",
        adapter="file",
        audience=Audience.INTERNAL,
        purposes=(P.TRAINING,),
        max_identity=IdentityLevel.NAMED,
        quotes=True,
    ),
    Destination(
        name="fhir-record",
        adapter="file",
        audience=Audience.PARTNERS,
        purposes=(P.PRACTICE_GUIDANCE,),
        min_contributors=5,
    ),
    Destination(
        name="policy-team",
        adapter="file",
        audience=Audience.INTERNAL,
        purposes=(P.POLICY, P.SERVICE_IMPROVEMENT),
        quotes=False,
    ),
    Destination(
        name="public-site",
        adapter="file",
        audience=Audience.PUBLIC,
        purposes=(P.PUBLICATION,),
        min_contributors=10,
        feedback=FeedbackPolicy(scheduled_days=14, shared_days=60),
    ),
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def build(n_stories: int, n_insights: int, seed: int = 7) -> World:
    rng = random.Random(seed)
    n_people = int(n_stories * 0.6)
    people = [
        Contributor(
            id=f"p-{i}",
            known_identifiers=(f"Fictionalname{i}", f"{i} Imaginary Road"),
            wants_feedback=rng.random() < 0.7,
        )
        for i in range(n_people)
    ]
    stories = []
    consents = []
    all_p = tuple(Purpose)
    for i in range(n_stories):
        tellers = (f"p-{rng.randrange(n_people)}",)
        if rng.random() < 0.03:
            other = f"p-{rng.randrange(n_people)}"
            if other != tellers[0]:
                tellers = (*tellers, other)
        text = sentence(rng, 20) + f" Fictionalname{tellers[0][2:]} said so."
        stories.append(
            Story(
                id=f"s-{i}",
                contributor_ids=tellers,
                text=text,
                source=StorySource.INTERVIEW,
                collected_on=dt.date(2025, 1, 1),
                quotes=(Quote(id="q", start=0, end=20),),
                disclosure=rng.random() < 0.005,
            )
        )
        for j, who in enumerate(tellers):
            roll = rng.random()
            dates = rng.random()
            terms = ConsentTerms(
                purposes=all_p if roll < 0.8 else (P.TRAINING,),
                audiences=tuple(Audience) if roll < 0.7 else (Audience.INTERNAL, Audience.BOARD),
                identity_level=rng.choice(list(IdentityLevel)),
                quotes_allowed=rng.random() < 0.6,
                review_before_sharing=rng.random() < 0.03,
                share_not_before=dt.date(2027, 1, 1) if dates < 0.03 else None,
                expires=dt.date(2026, 1, 1) if 0.03 <= dates < 0.06 else None,
            )
            events = [
                ConsentEvent(
                    type=ConsentEventType.GIVEN, at=dt.datetime(2025, 1, 2, tzinfo=UTC), terms=terms
                )
            ]
            if rng.random() < 0.04:
                events.append(
                    ConsentEvent(
                        type=ConsentEventType.WITHDRAWN, at=dt.datetime(2026, 2, 1, tzinfo=UTC)
                    )
                )
            consents.append(
                Consent(
                    id=f"c-{i}-{j}", contributor_id=who, story_ids=(f"s-{i}",), events=tuple(events)
                )
            )
    insights = []
    for k in range(n_insights):
        chosen = rng.sample(range(n_stories), rng.randint(3, 30))
        insights.append(
            Insight(
                id=f"i-{k}",
                title=sentence(rng, 5),
                summary=sentence(rng, 25),
                recommendation=sentence(rng, 12),
                domain=rng.choice(list(SARDomain)),
                evidence=tuple(EvidenceRef(story_id=f"s-{c}", quote_ids=("q",)) for c in chosen),
                status=InsightStatus.AGREED,
            )
        )
    return World.from_records(
        stories=stories, consents=consents, insights=insights, contributors=people
    )


def rate(fn, n: int, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return n / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--insights", type=int, default=5_000)
    ap.add_argument("--ledger", action="store_true", help="also record the plan in SQLite")
    args = ap.parse_args()

    t = time.process_time()
    world = build(args.stories, args.insights)
    print(
        f"built {args.stories} stories, {args.insights} insights, {len(DESTINATIONS)} "
        f"destinations in {time.process_time() - t:.1f} s"
    )

    # --- decisions per second ---------------------------------------------------------------
    rng = random.Random(1)
    sample = [world.stories[f"s-{rng.randrange(args.stories)}"] for _ in range(50_000)]
    pairs = []
    for i, s in enumerate(sample):
        d = DESTINATIONS[i % len(DESTINATIONS)]
        req = ShareRequest(
            purpose=d.purposes[0],
            purposes=d.purposes[1:],
            audience=d.audience,
            destination=d.name,
            moment=NOW,
            identity_level=d.max_identity,
            quotes=d.quotes,
            insight_id="i-0",
            insight_text_digest=insight_text_digest(world.insights["i-0"]),
        )
        pairs.append((s, world.consents_for(s), req))
    n = len(pairs)

    def baseline() -> None:
        for _s, cs, req in pairs:
            for c in cs:
                c.state_at(req.moment)

    def deciding() -> None:
        for s, cs, req in pairs:
            decide(s, cs, req)

    cache = DecisionCache()

    def cached() -> None:
        for s, cs, req in pairs:
            decide(s, cs, req, cache=cache)

    base = rate(baseline, n)
    full = rate(deciding, n)
    again = rate(cached, n)
    allowed = sum(decide(s, cs, r).allowed for s, cs, r in pairs)
    print(f"baseline (fold consent events only): {base:,.0f}/s")
    print(
        f"decisions/s, decide(story, consents, request), rules through pluggy: {full:,.0f}/s "
        f"(target 100,000: x{full / 100_000:.2f}; {full / base:.2f} of baseline); "
        f"{allowed / n:.0%} allowed"
    )
    print(
        f"the same decisions asked again through a DecisionCache: {again:,.0f}/s "
        f"(x{again / 100_000:.2f} of target)"
    )

    # --- full plan ----------------------------------------------------------------------------
    dests = {d.name: d for d in DESTINATIONS}
    start = time.process_time()
    routed = route(world, DESTINATIONS, NOW)
    t_route = time.process_time() - start
    start = time.process_time()
    result = reconcile(routed, [], world, dests, NOW)
    t_rec = time.process_time() - start
    decisions = sum(len(r.decisions) for r in routed)
    total = t_route + t_rec
    print(
        f"full plan: {total:.2f} s (target 10 s: {total / 10:.2f} of budget) - "
        f"{decisions:,} decisions, {len(result.deliver):,} shares, "
        f"{len(result.not_sent()):,} not sent, {len(result.feedback):,} feedback owed "
        f"(route {t_route:.2f} s, reconcile {t_rec:.2f} s)"
    )

    # --- re-plan after one withdrawal -----------------------------------------------------
    recorded = [(s, "delivered") for s in result.deliver]
    by_insight: dict[str, list] = {}
    for pair in recorded:
        by_insight.setdefault(pair[0].subject_id, []).append(pair)
    times = []
    retracted = 0
    for trial in range(20):
        story_id = routed[trial * 37 % len(routed)].share
        target = next(iter(world.insights.values())) if story_id is None else None
        sid = story_id.story_ids[0] if story_id is not None else target.story_ids[0]  # type: ignore[union-attr]
        story = world.stories[sid]
        who = story.contributor_ids[0]
        old = world.consents_by_contributor[who]
        new = tuple(
            c.with_event(ConsentEvent(type=ConsentEventType.WITHDRAWN, at=NOW))
            if c.covers(sid)
            else c
            for c in old
        )
        w2 = World(
            stories=world.stories,
            contributors=world.contributors,
            insights=world.insights,
            consents_by_contributor={**world.consents_by_contributor, who: new},
        )
        later = NOW + dt.timedelta(minutes=1)
        start = time.process_time()
        scope = w2.insights_citing([sid])
        r2 = route(w2, DESTINATIONS, later, scope)
        rec = [p for i in scope for p in by_insight.get(i, ())]
        p2 = reconcile(r2, rec, w2, dests, later, scope=scope)
        times.append(time.process_time() - start)
        retracted += len(p2.retractions)
    med = statistics.median(times) * 1000
    print(
        f"re-plan after one withdrawal: median {med:.1f} ms, max {max(times) * 1000:.1f} ms "
        f"over 20 withdrawals (target 100 ms: {med / 100:.2f} of budget); "
        f"{retracted} retractions"
    )

    if args.ledger:
        from coprolib.ledger import open_ledger
        from coprolib.planner import apply_plan
        from coprolib.records.bundle import Bundle

        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            with open_ledger(url, actor="bench") as ledger:
                consents = [c for cs in world.consents_by_contributor.values() for c in cs]
                start = time.process_time()
                ledger.import_bundle(
                    Bundle(
                        contributors=tuple(world.contributors.values()),
                        stories=tuple(world.stories.values()),
                        consents=tuple(consents),
                        insights=tuple(world.insights.values()),
                    )
                )
                print(f"importing the world into SQLite: {time.process_time() - start:.1f} s")
                start = time.process_time()
                apply_plan(ledger, result)
                print(
                    f"recording the full plan in SQLite ({len(result.deliver):,} shares and jobs, "
                    f"{len(result.feedback):,} feedback): {time.process_time() - start:.1f} s"
                )
                config = Config(destinations=dests)
                times = []
                for trial in range(5):
                    share = result.deliver[trial * 101 % len(result.deliver)]
                    sid = share.story_ids[0]
                    who = world.stories[sid].contributor_ids[0]
                    later = NOW + dt.timedelta(hours=trial + 1)
                    # The delivery engine delivered what the affected insights had planned.
                    jobs = {j.share_id: j for j in ledger.list_jobs(status="pending")}
                    with ledger.transaction():
                        for iid in world.insights_citing([sid]):
                            for row in ledger.list_shares(subject_id=iid):
                                sh = row.share
                                if row.status == "planned":
                                    ledger.set_share_status(sh.id, "delivered")
                                    if sh.id in jobs:
                                        ledger.finish_job(jobs[sh.id].id, "done")
                    withdraw(ledger, who, story_id=sid, moment=later)
                    start = time.perf_counter()
                    p3 = plan(ledger, config, stories=[sid], moment=later)
                    times.append(time.perf_counter() - start)
                print(
                    f"re-plan after one withdrawal with the SQLite ledger (read, plan, record): "
                    f"median {statistics.median(times) * 1000:.0f} ms (wall clock; last one "
                    f"{len(p3.retractions)} retractions, {len(p3.deliver)} re-rendered)"
                )
                from coprolib.planner import SendCheck, explain_in_ledger

                for what, target in (
                    ("story", result.deliver[0].story_ids[0]),
                    ("insight", result.deliver[0].subject_id),
                ):
                    times = []
                    for _ in range(7):
                        start = time.perf_counter()
                        lines = explain_in_ledger(ledger, target, dests, NOW)
                        times.append(time.perf_counter() - start)
                    print(
                        f"plan --explain for a {what} ({target}, {len(lines or [])} lines): "
                        f"median {statistics.median(times) * 1000:.1f} ms (wall clock; "
                        f"target 100 ms)"
                    )
                checker = SendCheck(ledger, NOW + dt.timedelta(hours=12))
                sample = result.deliver[:2000]
                start = time.process_time()
                checker.preload(sample)  # one batch's reads, as sync does
                ok = sum(checker.check(sh, dests[sh.destination]).allowed for sh in sample)
                took = time.process_time() - start
                print(
                    f"send-boundary check: {len(sample) / took:,.0f} shares/s "
                    f"({ok} of {len(sample)} still allowed after the withdrawals above)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
