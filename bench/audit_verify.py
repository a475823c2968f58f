"""Benchmark: what ``audit verify``'s check of the derived tables, migrations and meta costs.

One ledger of fictional stories (``bench/ledger_import.py``'s generator: a contributor per two
stories, one consent each) is imported, then, in the same run and on the same ledger:

* the baseline: ``verify_chain(db, derived=False)``, the chain and every chained row;
* the full check ``audit verify`` runs: the same plus rebuilding ``record_refs``,
  ``consent_state``, ``consent_purposes``, ``story_access`` and ``share_stories`` and comparing.

It prints the median of 3 runs of each and their ratio. Run:
``python bench/audit_verify.py [--stories 20000] [--postgres]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_import import write_jsonl

from coprolib.ledger import open_ledger
from coprolib.ledger.importing import import_files
from coprolib.ledger.verify import verify_chain


def _median(fn, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        assert result.ok, result.reason
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stories", type=int, default=20000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "stories.jsonl"
        write_jsonl(data, args.stories)
        if args.postgres:
            url, schema = "postgresql://postgres@127.0.0.1:5432/test", f"b_{uuid.uuid4().hex[:12]}"
        else:
            url, schema = f"sqlite:///{Path(tmp) / 'bench.db'}", None
        with open_ledger(url, key="", schema=schema) as ledger:
            import_files(ledger, [data])
            db = ledger._db
            chain = _median(lambda: verify_chain(db, derived=False))
            full = _median(lambda: verify_chain(db))
            if schema is not None:
                db.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"{args.stories} stories on {'PostgreSQL' if args.postgres else 'SQLite'}")
    print(f"  chain and chained rows (baseline): {chain:.2f} s")
    print(f"  plus derived tables, migrations, meta: {full:.2f} s")
    print(f"  ratio: {full / chain:.2f}x")


if __name__ == "__main__":
    main()
