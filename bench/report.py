"""Benchmark: the impact measures and the HTML board report over 100k stories and 5k insights.

Target: measures + report under 5 s. Prints the time of each step and the ratio against a bare
pass over the same records (reading every record's id once), measured in the same run.
With ``--ledger`` the records are first imported into a fresh SQLite ledger (not timed) and
the report is then built from the ledger, as ``coprolib report`` does.

Run: ``python bench/report.py`` (options: ``--stories``, ``--insights``, ``--ledger``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coprolib.impact import Impact, measure_bundle
from coprolib.report import render_html, write_report
from coprolib.testing.synthetic import SyntheticWorld, synthetic_world

TARGET_S = 5.0


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """The median wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bare_pass(world: SyntheticWorld) -> int:
    """The baseline: touch every record once."""
    n = 0
    for group in (
        world.stories,
        world.insights,
        world.outcomes,
        world.feedback,
        world.activities,
        world.contributors,
    ):
        for record in group:
            n += len(record.id)
    return n + len(world.shares)


def bench_records(world: SyntheticWorld, out: Path) -> float:
    base, _ = timed(lambda: bare_pass(world), repeat=3)
    t_measure, impact = timed(lambda: measure_bundle(world, today=world.today), repeat=3)
    t_render, html = timed(lambda: render_html(impact), repeat=3)
    t_write, _ = timed(lambda: write_report(impact, out))
    total = t_measure + t_render + t_write
    print(f"bare pass over the records (baseline): {base * 1000:8.1f} ms")
    print(f"measure():                             {t_measure * 1000:8.1f} ms")
    print(f"render_html() ({len(html) // 1024} KiB):              {t_render * 1000:8.1f} ms")
    print(f"write_report():                        {t_write * 1000:8.1f} ms")
    print(
        f"records -> report: {total:.2f} s (target < {TARGET_S:.0f} s: "
        f"{'ok' if total < TARGET_S else 'MISSED'}); {total / base:.0f}x the bare pass"
    )
    return total


def bench_ledger(world: SyntheticWorld, out: Path, folder: Path) -> float:
    from coprolib.impact import measure_ledger
    from coprolib.ledger import open_ledger

    url = f"sqlite:///{folder / 'bench.db'}"
    start = time.perf_counter()
    with open_ledger(url, actor="bench") as ledger, ledger.transaction():
        ledger.add(world.contributors)
        ledger.add(world.stories)
        ledger.add(world.insights)
        ledger.add(world.outcomes)
        ledger.add(world.feedback)
        ledger.add(world.activities)
        for share, status in world.shares:
            ledger.put_share(share, status=status)
    print(f"(import into SQLite ledger, not timed: {time.perf_counter() - start:.1f} s)")

    def from_ledger() -> Impact:
        with open_ledger(url, actor="bench") as ledger:
            impact = measure_ledger(ledger, today=world.today)
        write_report(impact, out)
        return impact

    total, _ = timed(from_ledger)
    print(
        f"ledger -> report: {total:.2f} s (target < {TARGET_S:.0f} s: "
        f"{'ok' if total < TARGET_S else 'MISSED'})"
    )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--insights", type=int, default=5_000)
    parser.add_argument("--ledger", action="store_true", help="also build it from a SQLite ledger")
    args = parser.parse_args()
    start = time.perf_counter()
    world = synthetic_world(stories=args.stories, insights=args.insights)
    print(
        f"{len(world.stories)} stories, {len(world.insights)} insights, {len(world.outcomes)} "
        f"outcomes, {len(world.feedback)} feedback, {len(world.contributors)} contributors "
        f"(generated in {time.perf_counter() - start:.1f} s, not timed)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_records(world, folder / "report.html")
        if args.ledger:
            bench_ledger(world, folder / "report-ledger.html", folder)


if __name__ == "__main__":
    main()
