"""Delivery you can leave running: fencing tokens, honest attempt counts, stored pauses, the
"may have arrived" flag, at-most-once for destinations that cannot drop duplicates, honest
exits and what `sync` / `outbox` say (text and JSON)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from coprolib.adapters import Adapter, Capabilities, DeliveryResult, Status
from coprolib.adapters.file_destination import FileAdapter
from coprolib.cli import build_cli
from coprolib.delivery import RetryPolicy, destination_status, sync
from coprolib.ledger import JobStatus, ShareStatus, open_ledger
from coprolib.records import ConsentEvent, Receipt, Share
from coprolib.records.enums import Audience, ConsentEventType
from coprolib.testing.fault_server import refused_url
from coprolib.testing.shares import (
    CONSENT_ID,
    outbox_config,
    outbox_shares,
    plan_into,
    seed_consent,
)

FAST = RetryPolicy(max_attempts=30, base=0.001, cap=0.01)
SECRET = "whsec_" + base64.b64encode(b"control-fictional-signing-key-01").decode()
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
BOARD = outbox_config("board")


@pytest.fixture
def ledger(ledger_target: Any) -> Iterator[Any]:
    """A ledger on SQLite and on PostgreSQL, with one fictional consent to rely on."""
    with ledger_target.open(actor="test") as opened:
        seed_consent(opened)
        yield opened


def _planned(ledger: Any, count: int, destination: str = "board") -> list[Share]:
    shares = outbox_shares(count, destination)
    plan_into(ledger, shares)
    return shares


def _receipt(share: Share) -> Receipt:
    return Receipt(
        share_id=share.id,
        destination=share.destination,
        idempotency_key=share.idempotency_key,
        action="deliver",
        at=T0,
        remote_id="r-1",
    )


# --- the ledger: fencing, history, pauses ---------------------------------------------------


def test_a_late_worker_cannot_finish_or_receipt_a_job_it_lost(ledger: Any) -> None:
    [share] = _planned(ledger, 1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    [first] = ledger.claim_jobs(worker="slow", now=later, lease_seconds=10)
    # The lease passes while "slow" is still sending; "quick" claims the job again.
    [second] = ledger.claim_jobs(worker="quick", now=later + dt.timedelta(seconds=11))
    assert (first.id, second.id) == (first.id, first.id)
    assert second.token == first.token + 1
    assert ledger.renew_leases([first], 60, later) == []
    assert ledger.settle_jobs([first], "pending", error="HTTP 500", count_attempt=True) == [first]
    late = ledger.record_delivered([(first, _receipt(share))])
    assert [j.id for j in late] == [first.id]
    assert ledger.receipts_for(share.id) == [], "a late result is never a receipt"
    job = ledger.get_job(first.id)
    assert (job.status, job.claimed_by, job.attempts) == (JobStatus.CLAIMED, "quick", 0)
    assert job.in_doubt and job.may_have_arrived
    # The current holder records the one receipt.
    assert ledger.record_delivered([(second, _receipt(share))]) == []
    assert len(ledger.receipts_for(share.id)) == 1
    assert ledger.get_job(first.id).status == JobStatus.DONE
    events = [e.event for e in ledger.job_history(first.id)]
    assert events[:2] == ["queued", "claimed"]
    assert events.count("late_result") == 2 and events[-1] == "done"
    assert ledger.verify_audit().ok


def test_a_lease_lapsing_while_sending_marks_the_job_in_doubt(ledger: Any) -> None:
    _planned(ledger, 2)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    a, b = ledger.claim_jobs(worker="w1", now=later, lease_seconds=5)
    [sending] = ledger.renew_leases([a], 5, later, sending=True)
    assert sending.sending_at == later
    back = ledger.claim_jobs(worker="w2", now=later + dt.timedelta(seconds=6))
    by_id = {j.id: j for j in back}
    assert by_id[a.id].in_doubt and by_id[a.id].sending_at is not None
    assert not by_id[b.id].in_doubt and by_id[b.id].sending_at is None
    history = ledger.job_history(a.id)
    assert any(e.event == "lease_lapsed" and "while sending" in (e.detail or "") for e in history)


def test_a_stored_pause_holds_for_every_worker(ledger: Any) -> None:
    _planned(ledger, 2)
    now = dt.datetime.now(dt.UTC)
    ledger.pause_destination("board", now + dt.timedelta(seconds=60), "throttled")
    assert ledger.claim_jobs(worker="w1", now=now + dt.timedelta(seconds=1)) == []
    assert len(ledger.claim_jobs(worker="w1", now=now + dt.timedelta(seconds=61))) == 2
    state = ledger.destination_states()["board"]
    assert (state.failures, state.pause_reason, state.last_error) == (1, "throttled", None)
    ledger.resume_destination("board")
    assert ledger.destination_states()["board"].paused_until is None


# --- the engine ---------------------------------------------------------------------------


class _Once(Adapter[Any]):
    """A destination that cannot drop duplicates (like email): counts every message sent."""

    name = "once"
    config_class = attrs.make_class("OnceConfig", {})
    capabilities = Capabilities(max_batch_size=10, can_retract=False, can_upsert=False)

    def __init__(self) -> None:
        super().__init__({}, destination="board")
        self.sent: list[str] = []

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        self.sent += [s.idempotency_key for s in shares]
        return [
            DeliveryResult(
                share_id=s.id, idempotency_key=s.idempotency_key, status=Status.OK, remote_id="m"
            )
            for s in shares
        ]


def test_a_non_idempotent_destination_never_gets_a_share_a_lapsed_worker_was_sending(
    ledger: Any,
) -> None:
    shares = _planned(ledger, 3)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    jobs = ledger.claim_jobs(worker="crashed", now=later, lease_seconds=1)
    ledger.renew_leases(jobs[:1], 1, later, sending=True)  # it died while sending the first
    adapter = _Once()
    summary = sync(
        ledger,
        BOARD,
        adapters={"board": adapter},
        policy=FAST,
        clock=lambda: later + dt.timedelta(seconds=5),
    )
    assert sorted(adapter.sent) == sorted(s.idempotency_key for s in shares[1:])
    [dead] = summary.dead
    assert dead.share_id == shares[0].id and dead.in_doubt
    assert "cannot drop duplicates" in dead.reason
    assert ledger.get_job(jobs[0].id).may_have_arrived
    assert not summary.ok


def test_throttling_costs_no_attempt(ledger: Any, tmp_path: Path) -> None:
    _planned(ledger, 3)
    out = FileAdapter(
        {"directory": str(tmp_path / "out"), "throttle_prob": 1.0, "throttle_seconds": 0},
        destination="board",
    )
    policy = RetryPolicy(max_attempts=3, base=0.001, cap=0.002)
    throttled = 0
    for _ in range(12):  # more runs than max_attempts: throttling never dead-letters
        time.sleep(0.01)  # the pause (a millisecond or two here) has passed
        summary = sync(ledger, BOARD, adapters={"board": out}, policy=policy)
        assert not summary.dead and not summary.ok
        throttled += summary.destinations["board"].throttled
    assert {j.attempts for j in ledger.list_jobs()} == {0}
    assert {j.status for j in ledger.list_jobs()} == {"pending"}
    assert throttled >= 12


def test_a_retryable_failure_counts_and_a_dead_letter_reads_right(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = open_ledger(url)
    seed_consent(ledger)
    _planned(ledger, 1)
    out = FileAdapter({"directory": str(tmp_path / "out"), "retry_prob": 1.0}, destination="board")
    summary = sync(
        ledger,
        BOARD,
        adapters={"board": out},
        policy=RetryPolicy(max_attempts=2, base=0.001, cap=0.001),
        max_wait=5,
    )
    [dead] = summary.dead
    assert dead.reason.startswith("gave up after 2 attempts: injected retryable failure")
    assert dead.in_doubt
    [job] = ledger.list_jobs()
    assert (job.attempts, job.may_have_arrived) == (2, True)
    ledger.close()
    (tmp_path / "coprolib.toml").write_text("", encoding="utf-8")
    text = CliRunner().invoke(
        build_cli(),
        ["outbox", "dead", "--ledger", url, "--config", str(tmp_path / "coprolib.toml")],
    )
    assert "2 failed attempts (may have arrived): gave up after 2 attempts" in text.output


# --- sync output and exit codes -------------------------------------------------------------


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'ledger = "sqlite:///{tmp_path / "l.db"}"\n'
        "[destinations.case-system]\n"
        'adapter = "webhook"\naudience = "board"\npurposes = ["board_reporting"]\n'
        f'settings = {{ url = "{url}", secrets = ["$env:CONTROL_SECRET"],'
        " http = { connect_timeout = 0.5, read_timeout = 0.5 } }\n"
        "[destinations.board]\n"
        'adapter = "file"\naudience = "board"\npurposes = ["board_reporting"]\n'
        f'settings = {{ directory = "{tmp_path / "out"}" }}\n',
        encoding="utf-8",
    )
    return path


def test_a_down_destination_is_named_with_its_last_error_and_next_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("coprolib_webhook")
    monkeypatch.setenv("CONTROL_SECRET", SECRET)
    path = _config(tmp_path, refused_url())
    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        seed_consent(ledger)
        plan_into(ledger, outbox_shares(3, "case-system"))
        plan_into(ledger, outbox_shares(2, "board", prefix="b"))
    cli = build_cli()
    runner = CliRunner()
    run = runner.invoke(cli, ["sync", "--config", str(path)])
    assert run.exit_code == 1, run.output
    assert "delivered 2" in run.output
    # Connection refused: the requests never left, so no share spends an attempt; the whole
    # destination is paused (stored) and the run says until when and why.
    assert "case-system: 0 failed attempt(s), throttled 0 time(s), unreachable" in run.output
    assert "last error: unreachable: connection failed" in run.output
    assert "case-system: paused until 20" in run.output
    assert "case-system: 3 job(s) waiting to retry, next attempt 20" in run.output

    as_json = runner.invoke(cli, ["sync", "--config", str(path), "--json"])
    assert as_json.exit_code == 0, as_json.output  # nothing was due: no work owed this run
    report = json.loads(as_json.output)["destinations"]["case-system"]
    assert report["waiting"] == 3 and report["pause_reason"].startswith("unreachable")

    status = runner.invoke(cli, ["outbox", "status", "--json", "--config", str(path)])
    assert status.exit_code == 0, status.output
    rows = {row["destination"]: row for row in json.loads(status.output)["destinations"]}
    down = rows["case-system"]
    assert down["last_error"].startswith("unreachable: connection failed")
    assert down["pending"] == down["in_backoff"] == 3 and down["due"] == 0
    assert down["paused_until"] == down["next_attempt_at"]
    assert dt.datetime.fromisoformat(down["next_attempt_at"]) > dt.datetime.now(dt.UTC)
    assert rows["board"]["done"] == 2 and rows["board"]["last_error"] is None

    text = runner.invoke(cli, ["outbox", "status", "--config", str(path)])
    assert "in backoff until" in text.output and "last error" in text.output
    dry = runner.invoke(cli, ["sync", "--config", str(path), "--dry-run"])
    assert "case-system: 3 job(s) not due yet (next attempt" in dry.output

    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        job_id = ledger.list_jobs(destination="case-system")[0].id
    show = runner.invoke(cli, ["outbox", "show", str(job_id), "--config", str(path)])
    assert show.exit_code == 0, show.output
    assert "0 failed attempts" in show.output and "released" in show.output
    shown = json.loads(
        runner.invoke(cli, ["outbox", "show", str(job_id), "--json", "--config", str(path)]).output
    )
    assert [e["event"] for e in shown["history"]] == ["queued", "claimed", "released"]
    assert shown["job"]["attempts"] == 0 and not shown["job"]["may_have_arrived"]


def test_refusals_before_sending_are_counted_per_destination(ledger: Any, tmp_path: Path) -> None:
    from coprolib.config import parse_config

    _planned(ledger, 2)
    ledger.append_consent_event(
        CONSENT_ID,
        ConsentEvent(
            type=ConsentEventType.WITHDRAWN,
            at=dt.datetime.now(dt.UTC),
            audiences=(Audience.BOARD,),
        ),
    )
    config = parse_config(
        "[destinations.board]\n"
        'adapter = "file"\naudience = "board"\npurposes = ["board_reporting"]\n'
        f'settings = {{ directory = "{tmp_path / "out"}" }}\n'
    )
    summary = sync(ledger, config)
    rep = summary.destinations["board"]
    assert len(rep.refused) == 2 and all("board" in reason for _, reason in rep.refused)
    text = "\n".join(summary.lines())
    assert "board: 2 share(s) refused before sending" in text
    assert summary.to_json()["destinations"]["board"]["refused"][0]["reason"]
    assert {ledger.get_share(s).status for s, _ in rep.refused} == {ShareStatus.CANCELLED}
    assert summary.ok, "a refusal is the consent gate working, not a failure"


def test_jobs_held_by_another_worker_are_named_and_the_run_is_not_ok(
    ledger: Any, tmp_path: Path
) -> None:
    _planned(ledger, 3)
    held = ledger.claim_jobs(worker="other-host:4242", limit=2, lease_seconds=300)
    out = FileAdapter({"directory": str(tmp_path / "out")}, destination="board")
    summary = sync(ledger, BOARD, adapters={"board": out})
    assert summary.delivered == 1
    rep = summary.destinations["board"]
    assert rep.held == {"other-host:4242": len(held)}
    assert not summary.ok
    assert any("claimed by worker other-host:4242" in line for line in summary.lines())
    status = {s.destination: s for s in destination_status(ledger)}
    assert status["board"].claimed == 2


def test_a_refused_connection_is_known_not_to_have_reached_the_destination() -> None:
    import requests

    from coprolib.adapters.http import HttpClient
    from coprolib.testing.fault_server import FaultServer

    client = HttpClient()
    with pytest.raises(Exception) as refused:
        client.request("POST", refused_url(), data=b"{}")
    assert getattr(refused.value, "reached", None) is False
    with FaultServer() as server:
        server.force("reset")  # the request was read: it may have been acted on
        with pytest.raises(Exception) as reset:
            client.request("POST", server.url, data=b"{}")
    assert getattr(reset.value, "reached", True) is None
    assert not isinstance(reset.value, requests.RequestException)
    client.close()


def test_sync_workers_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("coprolib_webhook")
    from coprolib.testing.fault_server import FaultServer

    monkeypatch.setenv("CONTROL_SECRET", SECRET)
    with FaultServer(latency=0.01) as server:
        path = _config(tmp_path, server.url)
        with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
            seed_consent(ledger)
            plan_into(ledger, outbox_shares(40, "case-system"))
        result = CliRunner().invoke(
            build_cli(),
            ["sync", "--config", str(path), "--workers", "3", "--claim-size", "5", "--json"],
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["ok"] and report["delivered"] == 40
        assert len(server.received) == 40
    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        workers = {j.claimed_by for j in ledger.list_jobs()}
    assert len(workers) >= 2, workers


def test_batches_in_flight_follow_the_adapters_declared_concurrency() -> None:
    """A destination's own limit (Capabilities.max_concurrency) bounds the batches in flight
    to it; --per-destination can only lower it; a destination that cannot drop duplicates
    gets one at a time."""
    import attrs as _attrs

    from coprolib.adapters import Capabilities
    from coprolib.delivery.engine import DestinationLimits

    class Limited(FileAdapter):
        capabilities = Capabilities(max_batch_size=10, max_concurrency=3)

    class NoRepeat(FileAdapter):
        capabilities = _attrs.evolve(Limited.capabilities, can_upsert=False)

    def room(gate: Any) -> int:
        n = 0
        while gate.acquire(blocking=False):
            n += 1
        return n

    settings = {"directory": "unused"}
    assert room(DestinationLimits().gate("a", Limited(settings, destination="a"))) == 3
    assert room(DestinationLimits(2).gate("b", Limited(settings, destination="b"))) == 2
    assert room(DestinationLimits(8).gate("c", Limited(settings, destination="c"))) == 3
    assert room(DestinationLimits().gate("d", NoRepeat(settings, destination="d"))) == 1
    assert DestinationLimits().gate("e", FileAdapter(settings, destination="e")) is None


def test_a_slow_request_keeps_its_lease_so_no_other_worker_claims_it(tmp_path: Path) -> None:
    """A request slower than the lease: its claim is renewed while it is in flight, so a second
    worker that starts meanwhile finds nothing to claim and each share arrives once."""
    import threading

    from coprolib.testing.shares import outbox_config

    url = f"sqlite:///{tmp_path / 'slow.db'}"
    received: list[str] = []

    class Slow(Adapter[Any]):
        name = "slow"
        config_class = dict
        capabilities = Capabilities(max_batch_size=10)

        def __init__(self) -> None:
            self.destination = "board"
            self.config = {}
            self._secrets = ()

        def deliver_one(self, share: Share) -> DeliveryResult:
            time.sleep(1.2)  # together the batch takes longer than the 2 s lease
            received.append(share.idempotency_key)
            return DeliveryResult(
                share_id=share.id, idempotency_key=share.idempotency_key, status=Status.OK
            )

    with open_ledger(url, actor="test") as ledger:
        seed_consent(ledger)
        plan_into(ledger, outbox_shares(3, "board"))
    config = outbox_config("board")
    first: list[Any] = []

    def worker_a() -> None:
        with open_ledger(url, actor="a") as ledger:
            first.append(sync(ledger, config, adapters={"board": Slow()}, lease_seconds=2))

    a = threading.Thread(target=worker_a)
    a.start()
    time.sleep(2.6)  # past the first lease: without renewal the jobs would be claimable now
    with open_ledger(url, actor="b") as ledger:
        second = sync(ledger, config, adapters={"board": Slow()}, lease_seconds=2)
    a.join(timeout=30)
    assert second.delivered == 0, second.lines()
    assert first and first[0].delivered == 3, first
    assert sorted(received) == sorted(set(received)) and len(received) == 3
