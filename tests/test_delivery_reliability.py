"""Reliability, bounded in time: a receiver failing 30% of requests at random, ``kill -9`` of
``coprolib sync`` at random moments, and two sync processes at once on PostgreSQL. Each ends
with every planned share at the receiver exactly once by key and nothing lost."""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coprolib.adapters import Secret
from coprolib.config import parse_config
from coprolib.delivery import RetryPolicy, sync
from coprolib.ledger import ShareStatus, open_ledger
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.ledger_fixtures import require_postgres
from coprolib.testing.shares import outbox_config, outbox_shares, plan_into, seed_consent

coprolib_webhook = pytest.importorskip(
    "coprolib_webhook", reason="install it: pip install -e 'adapters/coprolib-webhook[test]'"
)
from coprolib_webhook import WebhookAdapter  # noqa: E402
from coprolib_webhook.receiver import Receiver  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"reliability-fictional-signing-k").decode()
DEST = "hooks"
CONFIG = outbox_config(DEST)


def _assert_exactly_once(ledger: Any, receiver: Receiver, keys: set[str]) -> None:
    assert set(receiver.keys()) == keys, "every planned share at the receiver"
    assert len(receiver.keys()) == len(keys)
    assert receiver.bad_signatures == 0
    jobs = ledger.list_jobs(destination=DEST)
    assert {job.status for job in jobs} == {"done"}, "nothing left pending, dead or claimed"
    shares = list(ledger.list_shares(destination=DEST))
    assert {status for _, status in shares} == {ShareStatus.DELIVERED}
    for share, _ in shares:
        receipts = [r for r in ledger.receipts_for(share.id) if r.action == "deliver"]
        assert len(receipts) == 1, f"{share.id}: one receipt, not {len(receipts)}"
    assert ledger.verify_audit().ok


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(SECRET)


def test_receiver_failing_30_percent_at_random(tmp_path: Path, receiver: Receiver) -> None:
    knobs = dict(fail_prob=0.1, throttle_prob=0.08, reset_prob=0.06, slow_prob=0.06)
    with (
        FaultServer(receiver.app, seed=11, slow_seconds=0.5, retry_after="0", **knobs) as server,
        open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger,
    ):
        seed_consent(ledger)
        shares = outbox_shares(200, DEST)
        plan_into(ledger, shares)
        adapter = WebhookAdapter(
            {"url": server.url, "secrets": [Secret(SECRET)], "http": {"read_timeout": 0.25}},
            destination=DEST,
        )
        policy = RetryPolicy(max_attempts=40, base=0.01, cap=0.2)
        summary = sync(ledger, CONFIG, adapters={DEST: adapter}, policy=policy, max_wait=60)
        assert summary.ok, summary.lines()
        assert summary.retried > 0
        served = server.faults_served
        assert len(served) >= 40, f"faults injected: {len(served)}"
        assert {"500", "429", "reset", "slow"} <= set(served)
        _assert_exactly_once(ledger, receiver, {s.idempotency_key for s in shares})


def _config_text(ledger_url: str, url: str) -> str:
    return (
        f'ledger = "{ledger_url}"\n'
        f"[destinations.{DEST}]\n"
        'adapter = "webhook"\naudience = "board"\npurposes = ["board_reporting"]\n'
        f'settings = {{ url = "{url}", secrets = ["$env:RELIABILITY_SECRET"] }}\n'
    )


def _sync_process(config: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RELIABILITY_SECRET": SECRET}
    command = [sys.executable, "-m", "coprolib", "sync", "--config", str(config), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_at_random_moments_then_a_final_sync(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELIABILITY_SECRET", SECRET)
    rng = random.Random(2026)
    ledger_url = f"sqlite:///{tmp_path / 'l.db'}"
    # A slow receiver (50 ms a request, 8 in flight) keeps each run sending for seconds.
    with FaultServer(receiver.app, latency=0.05) as server:
        config = tmp_path / "coprolib.toml"
        config.write_text(_config_text(ledger_url, server.url), encoding="utf-8")
        keys: set[str] = set()
        with open_ledger(ledger_url) as ledger:
            seed_consent(ledger)
        kills = rounds = 0
        while kills < 5 and rounds < 20:
            rounds += 1
            with open_ledger(ledger_url) as ledger:
                if not ledger.list_jobs(status="pending"):
                    more = outbox_shares(300, DEST, prefix=f"round{rounds}")
                    plan_into(ledger, more)
                    keys |= {s.idempotency_key for s in more}
            proc = _sync_process(config, "--lease-seconds", "1", "--max-wait", "5")
            time.sleep(rng.uniform(0.5, 2.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        assert kills >= 5, f"only {kills} kills landed mid-sync in {rounds} rounds"
        time.sleep(1.2)  # the killed runs' leases run out
        with open_ledger(ledger_url) as ledger:
            final = sync(
                ledger,
                parse_config(config.read_text(encoding="utf-8")),
                lease_seconds=1,
                max_wait=10,
                policy=RetryPolicy(base=0.01, cap=0.1),
            )
            assert final.ok, final.lines()
            _assert_exactly_once(ledger, receiver, keys)


@pytest.fixture
def postgres_ledger_url() -> Iterator[str]:
    url = require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_two_sync_processes_at_once_on_postgres_send_nothing_twice(
    tmp_path: Path, receiver: Receiver, postgres_ledger_url: str
) -> None:
    with FaultServer(receiver.app, latency=0.005) as server:
        config = tmp_path / "coprolib.toml"
        config.write_text(_config_text(postgres_ledger_url, server.url), encoding="utf-8")
        with open_ledger(postgres_ledger_url) as ledger:
            seed_consent(ledger)
            shares = outbox_shares(400, DEST)
            plan_into(ledger, shares)
        # Small claims so both processes keep coming back for more at the same time.
        procs = [_sync_process(config, "--max-wait", "5", "--claim-size", "10") for _ in range(2)]
        errors = [proc.communicate(timeout=120)[1].decode() for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], errors
        assert max(receiver.deliveries.values()) == 1, "a share was sent twice"
        assert sum(receiver.deliveries.values()) == len(shares)
        with open_ledger(postgres_ledger_url) as ledger:
            _assert_exactly_once(ledger, receiver, {s.idempotency_key for s in shares})
            claimants = {job.claimed_by for job in ledger.list_jobs()}
        assert len(claimants) == 2, f"both processes should have sent some: {claimants}"
