"""Benchmark: the delivery engine against a naive loop, and the engine's own overhead.

1. ``--shares`` (default 20,000) signed webhook deliveries to a local receiver on 127.0.0.1:
   ``coprolib.delivery.sync`` (SQLite ledger, receipts, consent re-check, pooled keep-alive
   connections, concurrent requests within each batch) against a naive loop (one
   ``requests.post`` per share, no session), in the same run. Prints shares per second for each
   and the ratio of the rates (target: at least 10x). The naive loop sends the first ``--naive``
   shares (default 2,000): at one share per ~40 ms, all 20,000 would take a quarter of an hour,
   and its rate does not change with the count.
2. ``--noop`` (default 100,000) shares through ``sync`` with an adapter that does nothing: the
   engine's overhead including every ledger write (target: under 5 s).

The receiver models a remote system rather than a loopback one, because a receiver that
answers in microseconds measures only Python's HTTP stack, not what pooling and concurrency buy:

* ``--latency`` (default 0.020 s) is added to every reply: a council-hosted endpoint reached
  across the UK internet is about 10 ms of network round trip away, and its receiver takes about
  as long again to store the message and answer; 20 ms is at the quick end of that.
* ``--handshake`` (default 0.020 s) is added to the first reply on each new connection: over
  the internet a new connection costs a TCP handshake and a TLS 1.3 handshake, two more round
  trips of ~10 ms, before the first request. The local receiver speaks plain HTTP, so without
  this a loop that opens a connection per share would pay nothing for it. ``--handshake 0``
  gives the (unrealistically favourable to the naive loop) figure without it.

Both are printed with the results, with the receiver's own ceiling (no modelled delay) and the
ceiling the model allows the engine's connections (``concurrency / latency``).

Run: ``python bench/delivery.py`` (needs ``pip install -e adapters/coprolib-webhook``);
``--shares 2000 --naive 200 --noop 10000`` for a quick look.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import requests

from coprolib.adapters import Adapter, Capabilities, DeliveryResult, Secret, Status
from coprolib.delivery import sync
from coprolib.ledger import open_ledger
from coprolib.records import Share
from coprolib.testing.shares import outbox_config, outbox_shares, plan_into, seed_consent

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


class _Receiver(BaseHTTPRequestHandler):
    """Answers 204 to every POST after the modelled delay (none under ``/raw``)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    latency = 0.0
    handshake = 0.0

    def setup(self) -> None:
        super().setup()
        self.fresh = True  # one handler per connection: its first reply pays the handshake

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.path.startswith("/raw"):
            delay = self.latency + (self.handshake if self.fresh else 0.0)
            if delay:
                time.sleep(delay)
        self.fresh = False
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def _serve(port: Any, latency: float, handshake: float) -> None:
    _Receiver.latency = latency
    _Receiver.handshake = handshake
    server = _Server(("127.0.0.1", 0), _Receiver)
    port.value = server.server_address[1]
    server.serve_forever()


def receiver_process(latency: float, handshake: float) -> tuple[multiprocessing.Process, str]:
    """A receiver in its own process, so it does not share the engine's interpreter lock."""
    port = multiprocessing.Value("i", 0)
    proc = multiprocessing.Process(target=_serve, args=(port, latency, handshake), daemon=True)
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
        session.post(f"{url}/raw", data=b'{"type":"insight.shared"}', timeout=10).close()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, range(count)))
    return count / (time.perf_counter() - started)


@attrs.frozen
class WebhookFigures:
    """Seconds for the engine and for the naive loop, and the receiver's raw ceiling."""

    engine: float
    naive: float
    naive_count: int
    ceiling: float
    concurrency: int


def bench_webhook(
    count: int, naive_count: int, folder: Path, latency: float, handshake: float
) -> WebhookFigures:
    """Deliver ``count`` shares with the engine and ``naive_count`` with the naive loop."""
    from coprolib_webhook import WebhookAdapter
    from coprolib_webhook.adapter import sign

    proc, url = receiver_process(latency, handshake)
    try:
        ledger, shares = _ledger(folder, "webhook.db", count, "hooks")
        adapter = WebhookAdapter(
            {"url": f"{url}/hook", "secrets": [Secret(SECRET)]}, destination="hooks"
        )
        started = time.perf_counter()
        summary = sync(ledger, outbox_config("hooks"), adapters={"hooks": adapter})
        engine = time.perf_counter() - started
        adapter.close()
        ledger.close()
        assert summary.delivered == count, summary.lines()

        keys = [base64.b64decode(SECRET[6:])]
        started = time.perf_counter()
        for share in shares[:naive_count]:
            body = json.dumps({"type": "insight.shared", "data": {"title": share.title}})
            stamp = int(time.time())
            headers = {
                "webhook-id": share.idempotency_key,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(keys, share.idempotency_key, stamp, body),
                "Content-Type": "application/json",
            }
            requests.post(f"{url}/hook", data=body.encode(), headers=headers, timeout=10)
        naive = time.perf_counter() - started
        ceiling = bench_ceiling(url, min(count, 5000))
    finally:
        proc.terminate()
    return WebhookFigures(
        engine=engine,
        naive=naive,
        naive_count=naive_count,
        ceiling=ceiling,
        concurrency=adapter.config.concurrency,
    )


def bench_noop(count: int, folder: Path) -> float:
    """Seconds for ``sync`` to push ``count`` shares through a do-nothing adapter."""
    ledger, shares = _ledger(folder, "noop.db", count, "noop")
    del shares  # a sync process holds none of them: do not make its collector rescan them
    started = time.perf_counter()
    summary = sync(
        ledger,
        outbox_config("noop"),
        adapters={"noop": NoopAdapter({}, destination="noop")},
        claim_size=1000,
    )
    elapsed = time.perf_counter() - started
    ledger.close()
    assert summary.delivered == count, summary.lines()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=20_000)
    parser.add_argument("--naive", type=int, default=2_000, help="shares for the naive loop")
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per reply")
    parser.add_argument(
        "--handshake", type=float, default=0.020, help="seconds more per new connection"
    )
    parser.add_argument("--noop", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.shares:
            naive_count = max(1, min(args.naive, args.shares))
            f = bench_webhook(args.shares, naive_count, folder, args.latency, args.handshake)
            engine_rate = args.shares / f.engine
            naive_rate = f.naive_count / f.naive
            modelled = f.concurrency / args.latency if args.latency else float("inf")
            print(
                f"webhook, {args.shares} shares to a local receiver modelling a remote one "
                f"({args.latency * 1000:.0f} ms per reply, {args.handshake * 1000:.0f} ms more "
                f"per new connection):"
            )
            print(f"  engine: {f.engine:.2f} s ({engine_rate:,.0f} shares/s)")
            print(
                f"  naive loop (requests.post, no session), first {f.naive_count} shares: "
                f"{f.naive:.2f} s ({naive_rate:,.0f} shares/s)"
            )
            print(f"  ratio: {engine_rate / naive_rate:.1f}x (target >= 10x)")
            print(
                f"  receiver ceiling (8 pooled keep-alive connections, no modelled delay, no "
                f"ledger, no signing): {f.ceiling:,.0f} requests/s"
            )
            print(
                f"  modelled ceiling for the engine's {f.concurrency} connections "
                f"({f.concurrency} / latency): {modelled:,.0f} requests/s; engine at "
                f"{engine_rate / min(modelled, f.ceiling):.0%} of the lower ceiling"
            )
        if args.noop:
            noop = bench_noop(args.noop, folder)
            print(
                f"no-op adapter, {args.noop} shares: {noop:.2f} s "
                f"({args.noop / noop:,.0f} shares/s; target < 5 s)"
            )


if __name__ == "__main__":
    main()
