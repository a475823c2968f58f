"""Benchmark: delivery you can leave running, three measurements in one run.

1. **Engine vs a plain loop.** ``--shares`` (default 2,000) signed webhook deliveries to a local
   receiver that answers after ``--latency`` (default 0.050 s): ``coprolib.delivery.sync``
   (SQLite ledger, receipts, consent re-check, ``--concurrency`` requests in flight, default 50:
   the webhook adapter's batch size, so each batch goes out in one wave)
   against a plain loop of one ``requests.post`` per share over the first ``--naive`` shares
   (default 150), in the same run. Prints both rates and their ratio (target: at least 20x).
2. **Scale-out on PostgreSQL.** The same job with ``sync_workers`` and 1, 2 and 4 workers
   sharing one PostgreSQL outbox (``FOR UPDATE SKIP LOCKED``), each worker with
   ``--worker-concurrency`` requests in flight (default 2, so the receiver's latency, not this
   machine's two cores, is what more workers buy). Prints the rate of each and the ratio 4/1
   (target: at least 3x). Skipped when PostgreSQL is unreachable.
3. **The 30% fault run.** ``--fault-shares`` (default 1,000) through a receiver failing 30% of
   requests (8% HTTP 500, 5% 429 with Retry-After 1, 5% slower than the read timeout, 6%
   connection reset, 6% stored then reset) with ``sync(max_wait=600)``: prints shares lost,
   keys received more than once, duplicate receipts, dead letters and dead letters caused by
   throttling (targets: all 0).

Run: ``python bench/delivery_scale.py`` (needs ``pip install -e adapters/coprolib-webhook``
and, for part 2, PostgreSQL at ``$COPROLIB_TEST_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``); ``--shares 600 --naive 60 --fault-shares 300``
for a quick look.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery import receiver_process

from coprolib.adapters import Secret
from coprolib.delivery import RetryPolicy, sync, sync_workers
from coprolib.ledger import open_ledger
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import outbox_config, outbox_shares, plan_into, seed_consent

SECRET = "whsec_" + base64.b64encode(b"bench-signing-key-0123456789abcd").decode()
DEST = "hooks"


def _plan(ledger: Any, count: int) -> list[Any]:
    seed_consent(ledger)
    shares = outbox_shares(count, DEST)
    for start in range(0, count, 5000):
        plan_into(ledger, shares[start : start + 5000])
    return shares


def _webhook(url: str, concurrency: int, read_timeout: float = 30.0) -> Any:
    from coprolib_webhook import WebhookAdapter

    return WebhookAdapter(
        {
            "url": url,
            "secrets": [Secret(SECRET)],
            "concurrency": concurrency,
            "http": {"read_timeout": read_timeout, "pool_maxsize": concurrency},
        },
        destination=DEST,
    )


def naive_rate(url: str, shares: list[Any]) -> float:
    """Shares per second, one ``requests.post`` per share, no session, no concurrency."""
    from coprolib_webhook.adapter import sign

    from coprolib.records import convert

    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    started = time.perf_counter()
    for share in shares:
        body = requests.compat.json.dumps(convert.unstructure(share))
        ts = int(time.time())
        headers = {
            "webhook-id": share.idempotency_key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign([key], share.idempotency_key, ts, body),
            "Content-Type": "application/json",
        }
        requests.post(url, data=body.encode(), headers=headers, timeout=30).raise_for_status()
    return len(shares) / (time.perf_counter() - started)


def engine_rate(url: str, count: int, concurrency: int, folder: Path) -> float:
    with open_ledger(f"sqlite:///{folder / 'engine.db'}", actor="bench") as ledger:
        _plan(ledger, count)
        adapter = _webhook(url, concurrency)
        started = time.perf_counter()
        summary = sync(ledger, outbox_config(DEST), adapters={DEST: adapter}, claim_size=500)
        took = time.perf_counter() - started
        adapter.close()
    assert summary.ok and summary.delivered == count, summary.lines()[:20]
    return count / took


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A fresh schema on the test server, as a ledger URL (None when unreachable)."""
    import os

    url = os.environ.get("COPROLIB_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:
        print(f"PostgreSQL unreachable ({exc}); skipping the scale-out part")
        yield None
        return
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def fault_run(count: int, folder: Path, max_wait: float) -> dict[str, int]:
    from coprolib_webhook.testing import Receiver

    receiver = Receiver(SECRET)
    knobs = dict(
        fail_prob=0.08, throttle_prob=0.05, slow_prob=0.05, reset_prob=0.06, stored_reset_prob=0.06
    )
    with (
        FaultServer(receiver.app, seed=2026, slow_seconds=1.0, retry_after="1", **knobs) as server,
        open_ledger(f"sqlite:///{folder / 'faults.db'}", actor="bench") as ledger,
    ):
        shares = _plan(ledger, count)
        adapter = _webhook(server.url, 8, read_timeout=0.5)
        started = time.perf_counter()
        summary = sync(
            ledger,
            outbox_config(DEST),
            adapters={DEST: adapter},
            max_wait=max_wait,
            policy=RetryPolicy(),
        )
        took = time.perf_counter() - started
        adapter.close()
        keys = {s.idempotency_key for s in shares}
        receipts = 0
        for share in shares:
            receipts += sum(1 for r in ledger.receipts_for(share.id) if r.action == "deliver")
        dead = ledger.list_jobs(status="dead")
        return {
            "seconds": int(took),
            "faults injected": len(server.faults_served),
            "delivered": summary.delivered,
            "lost": len(keys - set(receiver.keys())),
            "keys the receiver saw again (a retry after a lost reply; it keeps one)": sum(
                1 for n in receiver.deliveries.values() if n > 1
            ),
            "duplicate receipts": receipts - summary.delivered,
            "dead letters": len(dead),
            "dead letters caused by throttling": sum(
                1 for j in dead if "throttl" in (j.last_error or "")
            ),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=int, default=2000)
    parser.add_argument("--naive", type=int, default=150)
    parser.add_argument("--latency", type=float, default=0.050)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--worker-shares", type=int, default=600)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--fault-shares", type=int, default=1000)
    parser.add_argument("--max-wait", type=float, default=600.0)
    parser.add_argument("--skip", choices=["workers", "faults"], action="append", default=[])
    args = parser.parse_args(argv)

    proc, url = receiver_process(args.latency, 0.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            plain = outbox_shares(args.naive, DEST, prefix="naive")
            naive = naive_rate(url, plain)
            engine = engine_rate(url, args.shares, args.concurrency, folder)
            print(f"receiver latency {args.latency * 1000:.0f} ms")
            print(f"plain requests.post loop: {naive:8.1f} shares/s ({args.naive} shares)")
            print(
                f"engine (concurrency {args.concurrency}): {engine:8.1f} shares/s "
                f"({args.shares} shares)"
            )
            print(f"ratio engine / plain loop: {engine / naive:.1f}x (target >= 20x)")
            if "workers" not in args.skip:
                rates = {}
                for n in (1, 2, 4):
                    rate = _workers(url, args.worker_shares, n, args.worker_concurrency)
                    if rate is None:
                        break
                    rates[n] = rate
                    print(
                        f"PostgreSQL, {n} worker(s) x concurrency {args.worker_concurrency}: "
                        f"{rate:8.1f} shares/s ({args.worker_shares} shares)"
                    )
                if len(rates) == 3:
                    print(f"ratio 4 workers / 1 worker: {rates[4] / rates[1]:.1f}x (target >= 3x)")
            if "faults" not in args.skip:
                print(f"30% fault run, {args.fault_shares} shares, max-wait {args.max_wait:.0f} s:")
                for name, value in fault_run(args.fault_shares, folder, args.max_wait).items():
                    print(f"  {name}: {value}")
    finally:
        proc.terminate()


def _workers(url: str, count: int, workers: int, concurrency: int) -> float | None:
    """``sync_workers`` on a fresh PostgreSQL outbox; adapters built from a config."""
    import os

    from coprolib.config import parse_config

    os.environ["BENCH_WEBHOOK_SECRET"] = SECRET
    config = parse_config(
        f"[destinations.{DEST}]\n"
        'adapter = "webhook"\naudience = "board"\npurposes = ["service_improvement"]\n'
        f'settings = {{ url = "{url}", secrets = ["$env:BENCH_WEBHOOK_SECRET"], concurrency = {concurrency} }}\n'
    )
    with postgres_schema() as ledger_url:
        if ledger_url is None:
            return None
        with open_ledger(ledger_url, actor="bench") as ledger:
            _plan(ledger, count)
        started = time.perf_counter()
        summary = sync_workers(
            lambda: open_ledger(ledger_url, actor="bench"), config, workers, claim_size=25
        )
        took = time.perf_counter() - started
    assert summary.ok and summary.delivered == count, summary.lines()[:20]
    return count / took


if __name__ == "__main__":
    main()
