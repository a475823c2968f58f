"""Benchmark: how long ``import coprolib`` takes (target under 150 ms), against ``import json``
measured the same way in the same run. Run: ``python bench/import_time.py``."""

from __future__ import annotations

import statistics
import subprocess
import sys


def cumulative_us(module: str) -> int:
    """The cumulative import time of ``module`` in microseconds, from ``-X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for line in reversed(out.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def main() -> None:
    ours = statistics.median(cumulative_us("coprolib") for _ in range(7))
    base = statistics.median(cumulative_us("json") for _ in range(7))
    print(f"import coprolib: {ours / 1000:.1f} ms (median of 7; target < 150 ms)")
    print(f"import json:     {base / 1000:.1f} ms; ratio {ours / base:.1f}x")


if __name__ == "__main__":
    main()
