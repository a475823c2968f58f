"""Benchmark: batched delivery against one request per share, for Salesforce (sObject
Collections of up to 200) and ServiceNow (insertMultiple of up to 200, plus one read of the rows'
outcomes), each against its local stand-in on 127.0.0.1 in the same run.

Every reply is delayed by ``--latency`` seconds (default 50 ms) to stand for the round trip to a
real org or instance. Prints, for each service and each way, the HTTP requests sent and received
and the wall time, and the ratio. Shares carry production-shaped keys (``coprolib-<40 hex>``).
Needs ``coprolib-salesforce[test]`` and ``coprolib-servicenow[test]`` installed from a checkout
(the stand-ins are not in the published wheels).

Run: ``python bench/adapters_batching.py [--shares 400] [--latency 0.05]``.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from typing import Any

import attrs
from coprolib_salesforce import SalesforceAdapter
from coprolib_salesforce.testing import README_FIELDS, LocalSalesforce
from coprolib_servicenow import ServiceNowAdapter
from coprolib_servicenow.testing import README_COLUMNS, LocalServiceNow

from coprolib.adapters import Adapter, Secret
from coprolib.delivery.send import deliver_checked
from coprolib.records import Share
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import make_share

CLIENT_ID = "3MVG9benchmarkConsumerKey0000000000000000"
CLIENT_SECRET = "bench-secret-not-real-0123456789"


def _shares(count: int) -> list[Share]:
    return [
        attrs.evolve(
            make_share(f"bench-{i}", destination="bench"),
            idempotency_key="coprolib-" + hashlib.sha256(f"bench-{i}".encode()).hexdigest()[:40],
        )
        for i in range(count)
    ]


def _timed(adapter: Adapter[Any], shares: list[Share], stored: Callable[[], int]) -> float:
    """Deliver every share (the engine's way, in batches of ``max_batch_size``); seconds."""
    started = time.perf_counter()
    results = []
    size = type(adapter).capabilities.max_batch_size
    for start in range(0, len(shares), size):
        results += deliver_checked(adapter, shares[start : start + size])
    seconds = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} shares failed: {failed[0].message}")
    if stored() != len(shares):
        raise SystemExit(f"the stand-in holds {stored()} records for {len(shares)} shares")
    return seconds


def salesforce(shares: list[Share], batch_size: int, latency: float) -> dict[str, Any]:
    """Deliver to a fresh local org; requests sent, received and seconds."""
    local = LocalSalesforce(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, fields=list(README_FIELDS)
    )
    with FaultServer(local.app, latency=latency) as server:
        local.base_url = server.url
        settings = {
            "instance_url": server.url,
            "client_id": CLIENT_ID,
            "client_secret": Secret(CLIENT_SECRET),
            "batch_size": batch_size,
            "http": {"pool_maxsize": 1},
        }
        with SalesforceAdapter(settings, destination="bench") as adapter:
            adapter.credentials.token()  # sign in before timing
            seconds = _timed(adapter, shares, lambda: len(local.keys()))
            sent = adapter.requests_sent
    return {"requests": sent, "received": sum(local.requests.values()), "seconds": seconds}


def servicenow(shares: list[Share], batch_size: int, latency: float) -> dict[str, Any]:
    """Deliver to a fresh local instance; requests sent, received and seconds."""
    local = LocalServiceNow(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, columns=README_COLUMNS
    )
    with FaultServer(local.app, latency=latency) as server:
        settings = {
            "instance_url": server.url,
            "client_id": CLIENT_ID,
            "client_secret": Secret(CLIENT_SECRET),
            "batch_size": batch_size,
            "http": {"pool_maxsize": 1},
        }
        with ServiceNowAdapter(settings, destination="bench") as adapter:
            adapter.credentials.token()
            seconds = _timed(adapter, shares, lambda: len(local.keys()))
            sent = adapter.requests_sent
    return {"requests": sent, "received": sum(local.requests.values()), "seconds": seconds}


def main() -> None:
    """Run both services both ways and print the comparison."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shares", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per reply")
    args = parser.parse_args()
    shares = _shares(args.shares)
    print(f"shares: {args.shares}, added latency per reply: {args.latency * 1000:.0f} ms")
    for name, run, batched_label in (
        ("Salesforce", salesforce, "sObject Collections of up to 200"),
        ("ServiceNow", servicenow, "insertMultiple of up to 200"),
    ):
        single = run(shares, 1, args.latency)
        batched = run(shares, 200, args.latency)
        print(f"{name}:")
        print(
            f"  one request per share: {single['requests']} requests "
            f"({single['received']} received), {single['seconds']:.2f} s"
        )
        print(
            f"  {batched_label}: {batched['requests']} requests "
            f"({batched['received']} received), {batched['seconds']:.2f} s"
        )
        print(
            f"  ratio one-per-share / batched: requests {single['requests'] / batched['requests']:.0f}x, "
            f"wall time {single['seconds'] / batched['seconds']:.1f}x"
        )


if __name__ == "__main__":
    main()
