"""Benchmark: requests per second over HTTP on one ``coprolib serve`` instance.

The fictional Northdale example is imported into a fresh SQLite ledger (or a PostgreSQL schema
with ``--postgres``), ``coprolib serve`` runs it on 127.0.0.1 in its own process (as deployed;
a server thread in the client's process would share its interpreter lock), and one client with
a kept-alive connection sends, in the same run:

* the baseline: ``GET /v1/health`` (no token, no ledger);
* an explain: ``GET /v1/explain/i-01`` (a token lookup, then ``explain_in_ledger`` over every
  destination of the example's configuration);
* a consent event: ``POST /v1/consents/c-07/renew`` (a token lookup, then ``renew_consent`` in
  one transaction with its audit entry).

It prints requests/s for each and the ratio against the baseline. Run:
``python bench/serve.py [--requests 300] [--postgres]``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.serve_support import fill  # noqa: E402

from coprolib.testing.ledger_fixtures import LedgerTarget, drop_target, make_target  # noqa: E402


@contextmanager
def _served(target: LedgerTarget, config: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = target.url
    if target.schema:
        url += f"?options=-csearch_path%3D{target.schema}"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "coprolib", "serve", "--port", str(port)),
            *("--ledger", url, "--config", str(config)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/v1/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("coprolib serve did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _rate(session: requests.Session, n: int, send: Any) -> float:
    for _ in range(min(10, n)):
        send(session)  # warm up: connection, pool handles, caches
    started = time.perf_counter()
    for _ in range(n):
        send(session)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--postgres", action="store_true", help="serve a PostgreSQL ledger")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target: LedgerTarget = (
            make_target("postgres", Path(tmp))
            if args.postgres
            else make_target("sqlite", Path(tmp))
        )
        try:
            token = fill(target, ("bench", ("read", "consent:write")))["bench"]
            auth = {"Authorization": f"Bearer {token}"}
            config = Path(tmp) / "coprolib.toml"
            config.write_text((ROOT / "examples" / "coprolib.toml").read_text(encoding="utf-8"))
            with _served(target, config) as base, requests.Session() as session:

                def health(s: requests.Session) -> None:
                    r = s.get(base + "/v1/health", timeout=30)
                    assert r.status_code == 200, r.text

                def explain(s: requests.Session) -> None:
                    r = s.get(base + "/v1/explain/i-01", headers=auth, timeout=30)
                    assert r.status_code == 200, r.text

                def renew(s: requests.Session) -> None:
                    body = {"reason": f"renewed on the phone ({uuid.uuid4().hex[:6]})"}
                    r = s.post(
                        base + "/v1/consents/c-07/renew", headers=auth, json=body, timeout=30
                    )
                    assert r.status_code == 200, r.text

                rates = {
                    "health (baseline)": _rate(session, args.requests, health),
                    "explain i-01": _rate(session, args.requests, explain),
                    "consent event (renew)": _rate(session, args.requests, renew),
                }
        finally:
            drop_target(target)
    baseline = rates["health (baseline)"]
    print(f"coprolib serve on {target.dialect}, one client, {args.requests} requests each")
    for name, rate in rates.items():
        print(f"  {name:24s} {rate:8.1f} requests/s   {rate / baseline:6.3f} x health")


if __name__ == "__main__":
    main()
