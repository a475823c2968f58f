"""Benchmark: FHIR delivery in batch Bundles against one request per share, in the same run.

Both runs deliver the same shares through ``coprolib-fhir`` to its FHIR-subset server on
127.0.0.1 (with a fixed per-request latency standing in for the network), then the script prints
each run's HTTP request count and wall time, and the ratio. Run (needs
``pip install -e adapters/coprolib-fhir``)::

    python bench/fhir_batching.py [--shares 400] [--batch 50] [--latency 0.005]
"""

from __future__ import annotations

import argparse
import time

from coprolib_fhir import FhirAdapter
from coprolib_fhir.testing import FhirServer

from coprolib.delivery.send import deliver_checked
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import make_share


def run(batch_size: int, shares: int, latency: float) -> tuple[int, float, int]:
    """Deliver ``shares`` in Bundles of ``batch_size``: (requests, seconds, resources held)."""
    fhir = FhirServer(validate=False)
    with FaultServer(fhir.app, latency=latency) as http:
        adapter = FhirAdapter({"url": f"{http.url}/fhir", "batch_size": batch_size})
        items = [make_share(f"bench-{i}", destination="bench") for i in range(shares)]
        start = time.perf_counter()
        with adapter:
            results = deliver_checked(adapter, items)
        elapsed = time.perf_counter() - start
        if not all(r.ok for r in results):
            raise SystemExit(f"delivery failed: {[r.message for r in results if not r.ok][:3]}")
        return sum(fhir.requests.values()), elapsed, len(fhir.store)


def main() -> None:
    """Run both modes and print the request counts and the wall-time ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=400)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per request")
    args = parser.parse_args()
    single_requests, single_time, single_held = run(1, args.shares, args.latency)
    batch_requests, batch_time, batch_held = run(args.batch, args.shares, args.latency)
    assert single_held == batch_held == args.shares
    print(f"shares: {args.shares}, latency per request: {args.latency * 1000:.1f} ms")
    print(f"one request per share : {single_requests:5d} requests  {single_time:7.3f} s")
    print(f"batch of {args.batch:<3d}          : {batch_requests:5d} requests  {batch_time:7.3f} s")
    print(f"requests ratio (single/batch): {single_requests / batch_requests:.1f}x")
    print(f"wall-time ratio (single/batch): {single_time / batch_time:.1f}x")


if __name__ == "__main__":
    main()
