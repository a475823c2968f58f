"""Benchmark: Dataverse delivery in ``$batch`` requests of up to 1,000 against one request per
share, both against the local Dataverse stand-in on 127.0.0.1 in the same run.

Prints the HTTP requests each way sent (and the server received), the wall time of each and the
ratio. ``--latency`` adds a delay to every reply to stand for the round trip to a real
environment (0 measures the local machine only). Needs ``coprolib-dataverse[test]``.

Run: ``python bench/dataverse_batching.py [--shares 2000] [--latency 0.005]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from coprolib_dataverse import DataverseAdapter
from coprolib_dataverse.columns import DEFAULT_COLUMNS
from coprolib_dataverse.testing import LocalDataverse
from coprolib_entra.testing import LocalEntra

from coprolib.adapters import Secret
from coprolib.delivery.send import deliver_checked
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import make_share

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-not-real"


def run(entra: LocalEntra, shares: list[Any], batch_size: int, latency: float) -> dict[str, Any]:
    """Deliver ``shares`` to a fresh local Dataverse with ``batch_size``; counts and seconds."""
    columns = {column: 1_048_576 for column in DEFAULT_COLUMNS.values()}
    local = LocalDataverse(columns=columns)
    with FaultServer(local.app, latency=latency) as server:
        local.base_url = server.url
        local.token_check = lambda token: entra.valid(token, f"{server.url}/.default")
        adapter = DataverseAdapter(
            {
                "url": server.url,
                "tenant_id": entra.tenant_id,
                "client_id": CLIENT_ID,
                "client_secret": Secret(CLIENT_SECRET),
                "entity_set": "coprolib_shares",
                "authority_host": entra.authority_host,
                "instance_discovery": False,
                "batch_size": batch_size,
                "http": {"ca_bundle": str(entra.ca_path), "pool_maxsize": 1},
            },
            destination="bench",
        )
        with adapter:
            adapter.credentials.token()  # sign in before timing
            started = time.perf_counter()
            results = deliver_checked(adapter, shares)
            seconds = time.perf_counter() - started
        failed = [r for r in results if not r.ok]
        if failed:
            raise SystemExit(f"{len(failed)} shares failed: {failed[0].message}")
        assert len(local.keys()) == len(shares)
        return {
            "requests": adapter.requests_sent,
            "received": sum(local.requests.values()),
            "seconds": seconds,
        }


def main() -> None:
    """Run both ways and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per reply")
    args = parser.parse_args()
    shares = [make_share(f"bench-{i}", destination="bench") for i in range(args.shares)]
    with tempfile.TemporaryDirectory() as tmp, LocalEntra(Path(tmp)) as entra:
        entra.register(CLIENT_ID, CLIENT_SECRET)
        single = run(entra, shares, batch_size=1, latency=args.latency)
        batched = run(entra, shares, batch_size=1000, latency=args.latency)
    print(f"shares: {args.shares}, added latency per reply: {args.latency * 1000:.1f} ms")
    print(
        f"one request per share: {single['requests']} requests "
        f"({single['received']} received), {single['seconds']:.2f} s"
    )
    print(
        f"$batch of up to 1000:  {batched['requests']} requests "
        f"({batched['received']} received), {batched['seconds']:.2f} s"
    )
    print(
        f"wall-time ratio (one per share / batched): {single['seconds'] / batched['seconds']:.1f}x"
    )


if __name__ == "__main__":
    main()
