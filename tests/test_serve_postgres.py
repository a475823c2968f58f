"""Two ``coprolib serve`` processes on one PostgreSQL ledger, as behind a load balancer: what
one records the other sees, concurrent writes keep one audit chain, and an Idempotency-Key
sent to both imports once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from coprolib.testing.ledger_fixtures import LedgerTarget, drop_target, make_target
from tests.conftest import ROOT
from tests.serve_support import ALL_SCOPES, fill, get, post

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[LedgerTarget]:
    target = make_target("postgres", tmp_path)
    try:
        yield target
    finally:
        drop_target(target)


@pytest.fixture
def two_instances(pg: LedgerTarget, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    token = fill(pg, ("case-system", ALL_SCOPES))["case-system"]
    url = f"{pg.url}?options=-csearch_path%3D{pg.schema}"
    config = tmp_path / "coprolib.toml"
    config.write_text((ROOT / "examples" / "coprolib.toml").read_text(encoding="utf-8"))
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for _ in range(2):
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "coprolib", "serve", "--port", str(port)),
                        *("--ledger", url, "--config", str(config)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, "coprolib serve exited"
                try:
                    if requests.get(base + "/v1/ready", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "coprolib serve did not start"
                time.sleep(0.1)
        yield bases, token
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def test_two_instances_share_one_ledger(
    two_instances: tuple[list[str], str], pg: LedgerTarget
) -> None:
    (a, b), token = two_instances
    r = post(a, "/v1/contributors/p-leigh/withdraw", token, json={"reason": "by phone"})
    assert r.status_code == 200, r.text
    seen = get(b, "/v1/consents/c-04", token).json()
    assert seen["consent"]["events"][-1]["type"] == "withdrawn"

    # Concurrent consent events through both instances, on different consents and all on one:
    # no 5xx, every event that was accepted is in the ledger with its own version, and the
    # audit is still one chain.
    renewals = ["c-01", "c-02", "c-05", "c-06", "c-08", "c-09"]

    def renew(i: int) -> requests.Response:
        base = (a, b)[i % 2]
        cid = renewals[i % len(renewals)] if i < 12 else "c-07"
        return post(base, f"/v1/consents/{cid}/renew", token, json={"reason": f"call {i}"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(renew, range(24)))
    assert [r.status_code for r in answers[:12]] == [200] * 12, [r.text for r in answers[:12]]
    for r in answers[12:]:
        # Two events for one consent at the same moment: the later-dated one may commit first,
        # and the other is then refused as dated before the consent's last event.
        assert r.status_code == 200 or (
            r.status_code == 422 and "append-only" in r.json()["detail"]
        ), r.text
    accepted = sum(r.status_code == 200 for r in answers[12:])
    versions = pg.raw("SELECT version FROM consent_events WHERE consent_id = 'c-07' ORDER BY 1")
    assert [v[0] for v in versions] == list(range(1, 2 + accepted))
    with pg.open(actor="test") as ledger:
        assert ledger.verify_audit().ok


def test_an_idempotency_key_sent_to_both_instances_imports_once(
    two_instances: tuple[list[str], str], pg: LedgerTarget
) -> None:
    (a, b), token = two_instances
    body = json.dumps(
        {"coprolib_bundle": 1, "contributors": [{"id": "p-lb-01", "display_name": "Ash"}]}
    )
    headers = {"Idempotency-Key": "9a0c5e7d-31f4-4b8a-a2d6-7e5f1c0b3d94"}

    def send(base: str) -> requests.Response:
        return post(
            base,
            "/v1/records",
            token,
            headers={**headers, "Content-Type": "application/json"},
            data=body,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(send, [a, b, a, b]))
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    assert {json.dumps(r.json()["imported"]) for r in answers} == {'{"contributors": 1}'}
    assert sum(not r.json()["replayed"] for r in answers) == 1
    held = pg.raw("SELECT count(*) FROM records WHERE kind = 'contributor' AND id = 'p-lb-01'")
    assert held[0][0] == 1
