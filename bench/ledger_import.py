"""Benchmark: import 100k stories with their contributors and consents (JSONL) into the ledger.

For SQLite and PostgreSQL, in the same run, it measures:

* the ledger's streaming import (``coprolib.ledger.importing.import_files``: parse, validate,
  check references, index, audit, commit once) in records/s and peak memory;
* the baseline: the same JSONL lines parsed with ``json.loads`` and written as
  ``(type, id, data)`` rows with one raw ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one
  transaction, with no validation, indexes or audit;
* the query "stories with theme X whose consent allows purpose Y" (``Ledger.story_ids_for``),
  median of 20 runs.

Each measurement runs in its own process so peak RSS (``resource.ru_maxrss``) is its own.
Targets (issue 3): within 2x of raw on SQLite, 3x on PostgreSQL; under 200 MB; query < 50 ms.
The data is fictional (random words). Run: ``python bench/ledger_import.py [--stories 100000]``
(PostgreSQL: ``COPROLIB_TEST_POSTGRES``, default postgresql://postgres@127.0.0.1:5432/test;
skipped with a note when unreachable).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

WORDS = [
    "trust",
    "help",
    "agency",
    "worker",
    "home",
    "phone",
    "visit",
    "plan",
    "contract",
    "stayed",
    "rang",
    "form",
    "door",
    "bus",
    "letter",
    "nurse",
    "kettle",
    "rota",
    "ward",
    "neighbour",
    "carer",
    "money",
    "key",
    "benefit",
]
THEMES = (
    "trust",
    "housing",
    "isolation",
    "money",
    "transport",
    "rock bottom",
    "joined-up",
    "self-neglect",
    "carers",
    "hospital discharge",
)
PURPOSES = ("service_improvement", "commissioning", "training", "board_reporting", "research")


def write_jsonl(path: Path, stories: int, seed: int = 11) -> int:
    """Write fictional contributors (one per two stories), their stories and one consent each."""
    rnd = random.Random(seed)
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for p in range(stories // 2):
            pid = f"p-{p}"
            fh.write(
                json.dumps(
                    {
                        "type": "contributor",
                        "id": pid,
                        "display_name": f"Wren {p}",
                        "contact": {"email": f"{pid}@example.invalid"},
                        "known_identifiers": [f"Quill-{p}"],
                    }
                )
                + "\n"
            )
            for k in range(2):
                text = " ".join(rnd.choice(WORDS) for _ in range(60))
                fh.write(
                    json.dumps(
                        {
                            "type": "story",
                            "id": f"s-{p}-{k}",
                            "contributor_ids": [pid],
                            "text": text,
                            "source": "interview",
                            "collected_on": "2025-02-01",
                            "themes": rnd.sample(THEMES, 2),
                            "quotes": [{"id": "q1", "start": 0, "end": 20}],
                        }
                    )
                    + "\n"
                )
            fh.write(
                json.dumps(
                    {
                        "type": "consent",
                        "id": f"c-{p}",
                        "contributor_id": pid,
                        "events": [
                            {
                                "type": "given",
                                "at": (at + dt.timedelta(minutes=p)).isoformat(),
                                "terms": {
                                    "purposes": rnd.sample(PURPOSES, 2),
                                    "audiences": ["internal", "partners"],
                                },
                            }
                        ],
                    }
                )
                + "\n"
            )
            n += 4
    return n


# --- children: one measurement each -------------------------------------------------------


def child_ledger(url: str, schema: str | None, path: str) -> dict[str, float]:
    from coprolib.ledger import open_ledger
    from coprolib.ledger.importing import import_files

    with open_ledger(url, actor="bench", key="", schema=schema) as ledger:
        t = time.perf_counter()
        counts = import_files(ledger, [path])
        seconds = time.perf_counter() - t
        times = []
        hits = 0
        for _ in range(20):
            q = time.perf_counter()
            hits = len(ledger.story_ids_for("housing", "training"))
            times.append(time.perf_counter() - q)
    return {
        "records": sum(counts.values()),
        "seconds": seconds,
        "query_ms": statistics.median(times) * 1000,
        "hits": hits,
    }


def child_validate(path: str) -> dict[str, float]:
    from coprolib.records.bundle import iter_jsonl

    t = time.perf_counter()
    with open(path, encoding="utf-8") as fh:
        n = sum(1 for _ in iter_jsonl(fh))
    return {"records": n, "seconds": time.perf_counter() - t}


def _raw_rows(path: str):  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            data = json.loads(line)
            kind = data.pop("type")
            yield kind, data["id"], json.dumps(data, separators=(",", ":"))


def child_raw_sqlite(db: str, path: str) -> dict[str, float]:
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE rows (kind TEXT, id TEXT, data TEXT, UNIQUE (kind, id))")
    t = time.perf_counter()
    conn.execute("BEGIN")
    cur = conn.executemany("INSERT INTO rows VALUES (?, ?, ?)", _raw_rows(path))
    conn.execute("COMMIT")
    seconds = time.perf_counter() - t
    n = conn.execute("SELECT count(*) FROM rows").fetchone()[0]
    del cur
    conn.close()
    return {"records": n, "seconds": seconds}


def child_raw_postgres(url: str, schema: str, path: str) -> dict[str, float]:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE rows (kind TEXT, id TEXT, data TEXT, UNIQUE (kind, id))")
        conn.commit()
        t = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY rows (kind, id, data) FROM STDIN") as copy:
            for row in _raw_rows(path):
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - t
        n = conn.execute("SELECT count(*) FROM rows").fetchone()[0]  # type: ignore[index]
    return {"records": n, "seconds": seconds}


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark step {args[0]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        result = {
            "ledger": child_ledger,
            "raw_sqlite": child_raw_sqlite,
            "raw_postgres": child_raw_postgres,
            "validate": child_validate,
        }[kind](*[r or None for r in rest])  # type: ignore[operator]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["peak_mb"] = usage.ru_maxrss / 1024
        result["cpu"] = usage.ru_utime + usage.ru_stime
        print(json.dumps(result))
        return

    tmp = Path(tempfile.mkdtemp(prefix="coprolib-bench-"))
    src = tmp / "stories.jsonl"
    n = write_jsonl(src, args.stories)
    print(f"{args.stories} stories, {n} records, {src.stat().st_size / 1e6:.0f} MB of JSONL")

    def show(label: str, r: dict[str, float], base: dict[str, float] | None) -> None:
        rate = r["records"] / r["seconds"]
        ratio = f"  {r['seconds'] / base['seconds']:.2f}x raw" if base else ""
        extra = (
            f"  query {r['query_ms']:.1f} ms ({int(r['hits'])} stories)" if "query_ms" in r else ""
        )
        print(
            f"  {label:<26} {r['seconds']:6.2f} s  {rate:7.0f} records/s  "
            f"peak {r['peak_mb']:4.0f} MB  (process CPU {r['cpu']:5.1f} s){ratio}{extra}"
        )

    show("parse+validate only", run_child("validate", str(src)), None)
    print("SQLite")
    raw = run_child("raw_sqlite", str(tmp / "raw.db"), str(src))
    show("raw executemany", raw, None)
    led = run_child("ledger", f"sqlite:///{tmp / 'ledger.db'}", "", str(src))
    show("ledger import", led, raw)

    url = os.environ.get("COPROLIB_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            pass
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}")
        return
    schemas = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        print("PostgreSQL")
        raw = run_child("raw_postgres", url, schemas[0], str(src))
        show("raw COPY", raw, None)
        led = run_child("ledger", url, schemas[1], str(src))
        show("ledger import", led, raw)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for s in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')


if __name__ == "__main__":
    main()
