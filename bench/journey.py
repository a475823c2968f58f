"""Benchmark: one contributor's journey in a 100k-story SQLite ledger.

Builds a fictional world (``coprolib.testing.synthetic_world``: 100k stories, 5k insights with
2-8 supporting stories each, outcomes, feedback, one delivered share per agreed insight with a
receipt, a blanket consent per contributor) in a SQLite ledger, then measures in the same run:

* ``coprolib.report.journey.journey(ledger, id)`` for contributors whose stories feed insights (so
  every part is read: stories, consents, insights, outcomes, shares, receipts, feedback,
  activities and the other people to keep out of the text), median of the runs;
* the same with the HTML page rendered (``render_html``);
* the baseline: ``ledger.get(Contributor, id)``, one indexed read of one record.

Target (issue 19): the journey under 100 ms. Times are CPU time of this process
(``time.process_time``), so other work on the machine does not skew them; wall time is printed
too. Run: ``python bench/journey.py [--stories 100000] [--runs 30] [--batch N]``
(``--batch 2000``: the ledger filled 2,000 records at a time, as an API would feed it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coprolib.ledger import open_ledger
from coprolib.records import Consent, ConsentEvent, ConsentTerms, Contributor, Receipt
from coprolib.records.enums import Audience, ConsentEventType, IdentityLevel, Purpose
from coprolib.report.journey import journey, render_html
from coprolib.testing.synthetic import synthetic_world

TARGET_MS = 100.0


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median CPU and wall milliseconds of ``fn`` over ``runs`` calls (after one warm-up)."""
    fn()
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def build(path: Path, stories: int, batch: int = 0) -> tuple[Any, list[str]]:
    """The ledger at ``path`` and a few contributors whose stories support insights. With
    ``batch`` the records go in that many at a time (a ledger fed gradually), else at once."""
    world = synthetic_world(stories=stories, insights=max(1, stories // 20), activities=40)
    terms = ConsentTerms(
        purposes=tuple(Purpose), audiences=tuple(Audience), identity_level=IdentityLevel.ANONYMOUS
    )
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    consents = [
        Consent(
            id=f"consent-{p.id}",
            contributor_id=p.id,
            events=(ConsentEvent(type=ConsentEventType.GIVEN, at=at, terms=terms),),
        )
        for p in world.contributors
    ]
    ledger = open_ledger(f"sqlite:///{path}", key="", actor="bench")
    t0 = time.perf_counter()
    records = [
        *world.contributors,
        *world.stories,
        *consents,
        *world.insights,
        *world.outcomes,
        *world.feedback,
        *world.activities,
    ]
    step = batch or len(records)
    for start in range(0, len(records), step):
        ledger.add(records[start : start + step])
    with ledger.transaction():
        for share, status in world.shares:
            ledger.put_share(share, status)
        ledger.add_receipts(
            [
                Receipt(
                    share_id=share.id,
                    destination=share.destination,
                    idempotency_key=share.idempotency_key,
                    action="deliver",
                    at=share.planned_at + dt.timedelta(minutes=5),
                )
                for share, _status in world.shares
            ]
        )
    print(f"built the ledger in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    by_id = {s.id: s for s in world.stories}
    picked: list[str] = []
    for insight in world.insights[1::97]:
        teller = by_id[insight.evidence[0].story_id].contributor_ids[0]
        if teller not in picked:
            picked.append(teller)
    return ledger, picked[:10]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--batch", type=int, default=0, help="add the records N at a time (default: one import)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        ledger, people = build(Path(folder) / "journey.db", args.stories, args.batch)
        with ledger:
            contributors = ledger.count(Contributor)
            shown = [journey(ledger, cid) for cid in people]
            parts = sum(len(j.stories) + len(j.insights) + len(j.feedback) for j in shown)
            per = [_timed(lambda cid=cid: journey(ledger, cid), args.runs) for cid in people]
            page = [
                _timed(lambda cid=cid: render_html(journey(ledger, cid)), args.runs)
                for cid in people
            ]
            base = [
                _timed(lambda cid=cid: ledger.get(Contributor, cid), args.runs) for cid in people
            ]
    cpu = statistics.median(p[0] for p in per)
    wall = statistics.median(p[1] for p in per)
    worst = max(p[0] for p in per)
    base_cpu = statistics.median(b[0] for b in base)
    page_cpu = statistics.median(p[0] for p in page)
    print(
        f"journey of one contributor, {args.stories} stories ({contributors} contributors) in SQLite,"
        f" {len(people)} contributors, {parts} stories+insights+feedback shown"
        + (f", added {args.batch} records at a time" if args.batch else "")
    )
    print(
        f"  journey():          {cpu:7.2f} ms CPU median ({wall:.2f} ms wall), worst contributor"
        f" {worst:.2f} ms; target < {TARGET_MS:.0f} ms: {'OK' if cpu < TARGET_MS else 'MISSED'}"
    )
    print(f"  journey() + HTML page: {page_cpu:5.2f} ms CPU median")
    print(f"  baseline ledger.get: {base_cpu:6.3f} ms CPU median")
    print(f"  ratio journey / get: {cpu / base_cpu:.0f}x")
    return 0 if cpu < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
