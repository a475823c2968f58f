"""Benchmark: the delivery engine against a naive loop, and the engine's own overhead.

1. ``--shares`` (default 20,000) signed webhook deliveries to a local receiver on 127.0.0.1:
   ``coprolib.delivery.sync`` (SQLite ledger, receipts, consent re-check, pooled keep-alive
   connections, concurrent batches) against a naive loop (one ``requests.post`` per share, no
   session), measured in the same run. Prints shares per second for each and the ratio
   (target: at least 10x).
2. ``--noop`` (default 100,000) shares through ``sync`` with an adapter that does nothing: the
   engine's overhead including every ledger write (target: under 5 s).

Run: ``python bench/delivery.py`` (needs ``pip install -e adapters/coprolib-webhook``);
``--shares 2000 --noop 10000`` for a quick look.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import requests

from coprolib.adapters import Adapter, Capabilities, DeliveryResult, Secret, Status
from coprolib.delivery import sync
from coprolib.ledger import open_ledger
from coprolib.records import Share
from coprolib.testing.fault_server import FaultServer, Reply, Request
from coprolib.testing.shares import outbox_shares, plan_into, seed_consent

SECRET = "whsec_" + base64.b64encode(b"bench-signing-key-0123456789abcd").decode()


class NoopAdapter(Adapter[Any]):
    """Accepts every share at once and does nothing."""

    name = "noop"
    config_class = attrs.make_class("NoopConfig", {})
    capabilities = Capabilities(max_batch_size=1000)

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        return [
            DeliveryResult(share_id=s.id, idempotency_key=s.idempotency_key, status=Status.OK)
            for s in shares
        ]


def _ledger(folder: Path, name: str, count: int, destination: str) -> tuple[Any, list[Share]]:
    ledger = open_ledger(f"sqlite:///{folder / name}", actor="bench")
    seed_consent(ledger)
    shares = outbox_shares(count, destination)
    for start in range(0, count, 5000):
        plan_into(ledger, shares[start : start + 5000])
    return ledger, shares


def _accept(request: Request) -> Reply:
    return Reply(status=204)


def _serve(port: Any) -> None:
    server = FaultServer(_accept).start()
    port.value = int(server.url.rsplit(":", 1)[1])
    while True:
        time.sleep(3600)


def receiver_process() -> tuple[multiprocessing.Process, str]:
    """A receiver in its own process, so it does not share the engine's interpreter lock."""
    port = multiprocessing.Value("i", 0)
    proc = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    proc.start()
    while port.value == 0:
        time.sleep(0.01)
    return proc, f"http://127.0.0.1:{port.value}"


def bench_ceiling(url: str, count: int, workers: int = 8) -> float:
    """Requests per second the receiver takes through pooled keep-alive sessions with no ledger
    and no signing: the most any client could get from it on this machine."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))

    def post(_: int) -> None:
        session.post(f"{url}/hook", data=b'{"type":"insight.shared"}', timeout=10).close()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, range(count)))
    return count / (time.perf_counter() - started)


def bench_webhook(count: int, folder: Path) -> tuple[float, float, float]:
    """Seconds for the engine and for the naive loop to deliver ``count`` shares, and the
    receiver's ceiling in requests per second."""
    from coprolib_webhook import WebhookAdapter
    from coprolib_webhook.adapter import sign

    proc, url = receiver_process()
    server = type("Server", (), {"url": url})
    try:
        ledger, shares = _ledger(folder, "webhook.db", count, "hooks")
        adapter = WebhookAdapter(
            {"url": f"{server.url}/hook", "secrets": [Secret(SECRET)]}, destination="hooks"
        )
        started = time.perf_counter()
        summary = sync(ledger, adapters={"hooks": adapter})
        engine = time.perf_counter() - started
        adapter.close()
        ledger.close()
        assert summary.delivered == count, summary.lines()

        keys = [base64.b64decode(SECRET[6:])]
        started = time.perf_counter()
        for share in shares:
            body = json.dumps({"type": "insight.shared", "data": {"title": share.title}})
            stamp = int(time.time())
            headers = {
                "webhook-id": share.idempotency_key,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(keys, share.idempotency_key, stamp, body),
                "Content-Type": "application/json",
            }
            requests.post(f"{server.url}/hook", data=body.encode(), headers=headers, timeout=10)
        naive = time.perf_counter() - started
        ceiling = bench_ceiling(server.url, min(count, 5000))
    finally:
        proc.terminate()
    return engine, naive, ceiling


def bench_noop(count: int, folder: Path) -> float:
    """Seconds for ``sync`` to push ``count`` shares through a do-nothing adapter."""
    ledger, _ = _ledger(folder, "noop.db", count, "noop")
    started = time.perf_counter()
    summary = sync(ledger, adapters={"noop": NoopAdapter({}, destination="noop")}, claim_size=1000)
    elapsed = time.perf_counter() - started
    ledger.close()
    assert summary.delivered == count, summary.lines()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=20_000)
    parser.add_argument("--noop", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.shares:
            engine, naive, ceiling = bench_webhook(args.shares, folder)
            print(f"webhook, {args.shares} shares to a local receiver:")
            print(f"  engine: {engine:.2f} s ({args.shares / engine:,.0f} shares/s)")
            print(
                f"  naive loop (requests.post, no session): {naive:.2f} s "
                f"({args.shares / naive:,.0f} shares/s)"
            )
            print(f"  ratio: {naive / engine:.1f}x (target >= 10x)")
            print(
                f"  receiver ceiling (8 pooled keep-alive connections, no ledger, no signing): "
                f"{ceiling:,.0f} requests/s; engine at {args.shares / engine / ceiling:.0%} of it"
            )
        if args.noop:
            noop = bench_noop(args.noop, folder)
            print(
                f"no-op adapter, {args.noop} shares: {noop:.2f} s "
                f"({args.noop / noop:,.0f} shares/s; target < 5 s)"
            )


if __name__ == "__main__":
    main()
