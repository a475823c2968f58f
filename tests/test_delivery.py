"""The delivery engine on a real SQLite ledger: receipts, consent re-check, retries, dead
letters, throttling, retraction, dry run, hooks, and the sync/outbox commands."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprolib import hookimpl
from coprolib.adapters import (
    Adapter,
    Capabilities,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Status,
)
from coprolib.adapters.file_destination import FileAdapter
from coprolib.delivery import RetryPolicy, backoff_delay, delivered_receipt, sync
from coprolib.ledger import ShareStatus
from coprolib.plugins import get_plugin_manager
from coprolib.records import ConsentEvent, Share
from coprolib.records.enums import ConsentEventType
from coprolib.testing.shares import (
    CONSENT_ID,
    outbox_config,
    outbox_shares,
    plan_into,
    seed_consent,
)

#: The destination the tests deliver to, as a council would configure it.
CONFIG = outbox_config("board")

FAST = RetryPolicy(max_attempts=30, base=0.001, cap=0.01)


@pytest.fixture
def ledger(ledger_target: Any) -> Iterator[Any]:
    """A ledger on SQLite and on PostgreSQL, with one fictional consent to rely on."""
    with ledger_target.open(actor="test") as opened:
        seed_consent(opened)
        yield opened


def _file(tmp_path: Path, **knobs: Any) -> FileAdapter:
    return FileAdapter({"directory": str(tmp_path / "out"), **knobs}, destination="board")


def _planned(ledger: Any, count: int, destination: str = "board") -> list[Share]:
    shares = outbox_shares(count, destination)
    plan_into(ledger, shares)
    return shares


def _keys(adapter: FileAdapter) -> list[str]:
    return [row["key"] for row in adapter.records()]


def test_sync_delivers_records_receipts_and_finishes_jobs(ledger: Any, tmp_path: Path) -> None:
    shares = _planned(ledger, 7)
    out = _file(tmp_path)
    summary = sync(ledger, CONFIG, adapters={"board": out})
    assert (summary.delivered, summary.ok) == (7, True)
    assert sorted(_keys(out)) == sorted(s.idempotency_key for s in shares)
    for share in shares:
        assert ledger.get_share(share.id).status is ShareStatus.DELIVERED
        [receipt] = ledger.receipts_for(share.id)
        assert (receipt.idempotency_key, receipt.remote_id, receipt.action) == (
            share.idempotency_key,
            share.idempotency_key,
            "deliver",
        )
    assert {job.status for job in ledger.list_jobs()} == {"done"}
    assert ledger.verify_audit().ok


def test_second_sync_sends_nothing(ledger: Any, tmp_path: Path) -> None:
    _planned(ledger, 3)
    out = _file(tmp_path)
    sync(ledger, CONFIG, adapters={"board": out})
    again = sync(ledger, CONFIG, adapters={"board": out})
    assert again.delivered == 0
    assert len(out.rows()) == 3


def test_consent_withdrawn_after_planning_is_never_sent(ledger: Any, tmp_path: Path) -> None:
    shares = _planned(ledger, 3)
    ledger.append_consent_event(
        CONSENT_ID,
        ConsentEvent(type=ConsentEventType.WITHDRAWN, at=dt.datetime.now(dt.UTC)),
    )
    out = _file(tmp_path)
    summary = sync(ledger, CONFIG, adapters={"board": out})
    assert summary.delivered == 0 and summary.cancelled == 3
    assert out.rows() == []
    assert {ledger.get_share(s.id).status for s in shares} == {ShareStatus.CANCELLED}
    assert {job.status for job in ledger.list_jobs()} == {"cancelled"}
    assert all(job.last_error for job in ledger.list_jobs())


def test_flaky_destination_ends_with_each_share_once(ledger: Any, tmp_path: Path) -> None:
    shares = _planned(ledger, 60)
    out = _file(tmp_path, retry_prob=0.3, lost_reply_prob=0.2, seed=7)
    summary = sync(ledger, CONFIG, adapters={"board": out}, policy=FAST, max_wait=60)
    assert summary.ok and summary.delivered == 60
    assert summary.retried == 0 and summary.destinations["board"].failed_attempts > 0
    assert sorted(_keys(out)) == sorted(s.idempotency_key for s in shares)
    assert all(len(ledger.receipts_for(s.id)) == 1 for s in shares)


def test_permanent_failure_is_dead_lettered_with_the_reason(ledger: Any, tmp_path: Path) -> None:
    _planned(ledger, 2)
    summary = sync(ledger, CONFIG, adapters={"board": _file(tmp_path, fail_prob=1.0)})
    assert not summary.ok
    assert [d.reason for d in summary.dead] == [
        "permanent: injected permanent failure (fail_prob)"
    ] * 2
    assert [j.status for j in ledger.list_jobs()] == ["dead", "dead"]
    assert {row.status for row in ledger.list_shares()} == {ShareStatus.DEAD}


def test_too_many_attempts_is_dead_lettered(ledger: Any, tmp_path: Path) -> None:
    _planned(ledger, 1)
    policy = RetryPolicy(max_attempts=3, base=0.001, cap=0.001)
    summary = sync(
        ledger,
        CONFIG,
        adapters={"board": _file(tmp_path, retry_prob=1.0)},
        policy=policy,
        max_wait=5,
    )
    assert len(summary.dead) == 1
    assert summary.dead[0].reason.startswith("gave up after 3 attempts")
    [job] = ledger.list_jobs()
    assert (job.status, job.attempts, job.in_doubt) == ("dead", 3, True)
    assert not summary.ok


def test_throttling_pauses_the_destination(ledger: Any, tmp_path: Path) -> None:
    _planned(ledger, 4)
    out = _file(tmp_path, throttle_prob=1.0, throttle_seconds=30)
    summary = sync(ledger, CONFIG, adapters={"board": out}, policy=FAST)
    assert summary.delivered == 0 and summary.retried == 4
    pending = ledger.list_jobs(status="pending")
    assert len(pending) == 4
    soonest = min(job.next_attempt_at for job in pending)
    assert soonest > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=25)
    assert [job.attempts for job in pending] == [0, 0, 0, 0], "throttling costs no attempt"
    state = ledger.destination_states()["board"]
    assert state.paused_until > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=25)
    assert not summary.ok, "work this run should have done is left"
    # The pause holds across runs: nothing is tried again before Retry-After.
    again = sync(ledger, CONFIG, adapters={"board": _file(tmp_path)}, policy=FAST)
    assert (again.delivered, again.retried) == (0, 0)


class _NoDelete(Adapter[Any]):
    name = "no-delete"
    config_class = attrs.make_class("NoDeleteConfig", {})
    capabilities = Capabilities(max_batch_size=10, can_retract=False)
    sent: list[str]

    def deliver_one(self, share: Share) -> DeliveryResult:
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=f"case-{share.id}",
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=ref.remote_id,
            status=Status.OK,
            retracted=False,
            compensating_action=f"ask the records team to delete {ref.remote_id}",
        )


def _retract_all(ledger: Any, shares: Sequence[Share]) -> None:
    with ledger.transaction():
        for share in shares:
            ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
            ledger.enqueue_job("retract", share.destination, share.id, share.idempotency_key)


def test_retraction_removes_the_record(ledger: Any, tmp_path: Path) -> None:
    shares = _planned(ledger, 3)
    out = _file(tmp_path)
    sync(ledger, CONFIG, adapters={"board": out})
    _retract_all(ledger, shares[:2])
    summary = sync(ledger, CONFIG, adapters={"board": out})
    assert summary.retracted == 2
    assert _keys(out) == [shares[2].idempotency_key]
    assert [row["status"] for row in out.rows()].count("retracted") == 2
    assert [r.action for r in ledger.receipts_for(shares[0].id)] == ["deliver", "retract"]
    assert delivered_receipt(ledger, shares[0].id) is None
    assert delivered_receipt(ledger, shares[2].id).remote_id == shares[2].idempotency_key
    assert ledger.get_share(shares[0].id).status is ShareStatus.RETRACTED


def test_stale_delivery_job_leaves_a_retraction_alone(ledger: Any, tmp_path: Path) -> None:
    [share] = _planned(ledger, 1)
    ledger.set_share_status(share.id, ShareStatus.RETRACT_PLANNED)
    out = _file(tmp_path)
    summary = sync(ledger, CONFIG, adapters={"board": out})
    assert (summary.delivered, summary.cancelled, out.rows()) == (0, 1, [])
    assert ledger.get_share(share.id).status is ShareStatus.RETRACT_PLANNED


def test_destination_that_cannot_delete_records_the_compensation(ledger: Any) -> None:
    shares = _planned(ledger, 1)
    adapter = _NoDelete({}, destination="board")
    sync(ledger, CONFIG, adapters={"board": adapter})
    _retract_all(ledger, shares)
    summary = sync(ledger, CONFIG, adapters={"board": adapter})
    assert [c.action for c in summary.compensations] == [
        f"ask the records team to delete case-{shares[0].id}"
    ]
    assert any(e.action == "retraction_needs_person" for e in ledger.audit_entries())
    assert any("needs a person" in line for line in summary.lines())


def test_dry_run_changes_nothing(ledger: Any, tmp_path: Path) -> None:
    _planned(ledger, 3)
    out = _file(tmp_path)
    before = [(j.id, j.status, j.attempts) for j in ledger.list_jobs()]
    summary = sync(ledger, CONFIG, adapters={"board": out}, dry_run=True)
    assert len(summary.would_send) == 3
    assert [(j.id, j.status, j.attempts) for j in ledger.list_jobs()] == before
    assert out.rows() == []


class _Broken(Adapter[Any]):
    name = "broken"
    config_class = attrs.make_class("BrokenConfig", {})
    capabilities = Capabilities(max_batch_size=5)

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        raise RuntimeError("adapter bug")


def test_an_adapter_that_raises_never_crashes_the_sync(ledger: Any) -> None:
    _planned(ledger, 3)
    summary = sync(ledger, CONFIG, adapters={"board": _Broken({}, destination="board")})
    assert summary.retried == 3
    assert all("adapter bug" in (j.last_error or "") for j in ledger.list_jobs())


def test_unconfigured_destination_is_reported_and_kept(ledger: Any) -> None:
    _planned(ledger, 2, destination="nowhere")
    summary = sync(ledger)
    assert summary.blocked == {"nowhere": "not configured in coprolib.toml"}
    assert [j.status for j in ledger.list_jobs()] == ["pending", "pending"]


@given(
    attempt=st.integers(min_value=1, max_value=40),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e5),
    seed=st.integers(),
)
@settings(max_examples=200)
def test_backoff_is_bounded_jittered_and_honours_retry_after(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    policy = RetryPolicy(base=2.0, cap=600.0, jitter=0.5)
    delay = backoff_delay(attempt, policy, retry_after=retry_after, rng=random.Random(seed))
    ceiling = min(600.0, 2.0 * 2 ** (attempt - 1))
    assert delay >= ceiling * 0.5 or (retry_after is not None and delay >= retry_after)
    assert delay <= max(ceiling, retry_after or 0)
    if retry_after is not None:
        assert delay >= retry_after


def test_backoff_grows_until_the_cap() -> None:
    policy = RetryPolicy(base=1.0, cap=60.0, jitter=0.0)
    assert [backoff_delay(n, policy) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


# --- hooks ----------------------------------------------------------------------------------


class _Veto:
    @hookimpl
    def before_delivery(self, share: Share, destination: str) -> str | None:
        return "not on Fridays" if share.subject_id.endswith("-1") else None


def test_hook_before_delivery(ledger: Any, tmp_path: Path, fresh_plugins: None) -> None:
    get_plugin_manager().register(_Veto(), name="veto")
    shares = _planned(ledger, 3)
    out = _file(tmp_path)
    summary = sync(ledger, CONFIG, adapters={"board": out})
    assert summary.cancelled == 1 and summary.delivered == 2
    assert shares[1].idempotency_key not in _keys(out)
    assert summary.cancel_reasons == [(shares[1].id, "vetoed by plugin veto: not on Fridays")]


class _After:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    @hookimpl
    def after_delivery(self, share: Share, destination: str, receipt: Any) -> None:
        self.seen.append((share.id, destination, receipt.remote_id))


def test_hook_after_delivery(ledger: Any, tmp_path: Path, fresh_plugins: None) -> None:
    spy = _After()
    get_plugin_manager().register(spy, name="after")
    shares = _planned(ledger, 2)
    sync(ledger, CONFIG, adapters={"board": _file(tmp_path)})
    assert spy.seen == [(s.id, "board", s.idempotency_key) for s in shares]


class _Failed:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    @hookimpl
    def delivery_failed(self, share: Share, reason: str, final: bool) -> None:
        self.seen.append((reason, final))


def test_hook_delivery_failed(ledger: Any, tmp_path: Path, fresh_plugins: None) -> None:
    spy = _Failed()
    get_plugin_manager().register(spy, name="failed")
    _planned(ledger, 1)
    policy = RetryPolicy(max_attempts=2, base=0.001, cap=0.001)
    sync(
        ledger,
        CONFIG,
        adapters={"board": _file(tmp_path, retry_prob=1.0)},
        policy=policy,
        max_wait=5,
    )
    assert spy.seen == [
        ("injected retryable failure (retry_prob)", False),
        ("gave up after 2 attempts: injected retryable failure (retry_prob)", True),
    ]


class _Watcher:
    """Sees every delivery hook call; vetoes nothing."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def before_delivery(self, share: Share) -> str | None:
        self.seen.append(("before", share.id))
        return None

    @hookimpl
    def after_delivery(self, share: Share) -> None:
        self.seen.append(("after", share.id))

    @hookimpl
    def delivery_failed(self, share: Share, final: bool) -> None:
        self.seen.append(("failed" if final else "retrying", share.id))


class _RaisingDelivery:
    @hookimpl
    def before_delivery(self, share: Share) -> str | None:
        raise RuntimeError("before_delivery is broken")

    @hookimpl
    def after_delivery(self, share: Share) -> None:
        raise RuntimeError("after_delivery is broken")

    @hookimpl
    def delivery_failed(self, share: Share) -> None:
        raise RuntimeError("delivery_failed is broken")


def _watchers_around_a_broken_plugin() -> tuple[_Watcher, _Watcher]:
    """pluggy calls the last registered plugin first: the first watcher is reached only if the
    call goes on past the broken plugin; the last would see a share twice if it started again."""
    first, last = _Watcher(), _Watcher()
    pm = get_plugin_manager()
    pm.register(first, name="first-watcher")
    pm.register(_RaisingDelivery(), name="broken-delivery")
    pm.register(last, name="last-watcher")
    return first, last


def test_a_plugin_raising_in_a_delivery_hook_is_reported_and_the_others_still_run(
    ledger: Any, tmp_path: Path, fresh_plugins: None
) -> None:
    from coprolib.plugins import load_errors

    first, last = _watchers_around_a_broken_plugin()
    get_plugin_manager().register(_Veto(), name="veto")
    shares = _planned(ledger, 3)
    summary = sync(ledger, CONFIG, adapters={"board": _file(tmp_path)})
    # A plugin that raises in before_delivery does not veto; the veto of another still counts.
    assert summary.cancel_reasons == [(shares[1].id, "vetoed by plugin veto: not on Fridays")]
    sent = [shares[0].id, shares[2].id]
    for watcher in (first, last):
        assert sorted(i for kind, i in watcher.seen if kind == "after") == sorted(sent)
        assert sorted(i for kind, i in watcher.seen if kind == "before") == sorted(
            s.id for s in shares
        )
    errors = [e.error for e in load_errors() if e.name == "broken-delivery"]
    assert any("before_delivery is broken" in e for e in errors)
    assert any("after_delivery is broken" in e for e in errors)

    first.seen.clear()
    last.seen.clear()
    failing = _planned(ledger, 1, destination="board")
    policy = RetryPolicy(max_attempts=1, base=0.001, cap=0.001)
    sync(ledger, CONFIG, adapters={"board": _file(tmp_path, retry_prob=1.0)}, policy=policy)
    assert ("failed", failing[0].id) in first.seen and last.seen.count(
        ("failed", failing[0].id)
    ) == 1
    assert any("delivery_failed is broken" in e.error for e in load_errors())


def test_strict_mode_raises_naming_the_plugin_that_failed_in_a_delivery_hook(
    ledger: Any, tmp_path: Path, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coprolib.plugins import PluginLoadError

    _watchers_around_a_broken_plugin()
    _planned(ledger, 1)
    monkeypatch.setenv("COPROLIB_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="'broken-delivery' failed in before_delivery"):
        sync(ledger, CONFIG, adapters={"board": _file(tmp_path)})


def test_trace_plugins_shows_delivery_failed(
    ledger: Any,
    tmp_path: Path,
    fresh_plugins: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COPROLIB_TRACE_PLUGINS", "1")
    get_plugin_manager().register(_Failed(), name="failed")
    _planned(ledger, 1)
    policy = RetryPolicy(max_attempts=1, base=0.001, cap=0.001)
    sync(ledger, CONFIG, adapters={"board": _file(tmp_path, retry_prob=1.0)}, policy=policy)
    assert re.search(r"^\s*delivery_failed \[hook\]$", capsys.readouterr().err, flags=re.M)


def _board_config(tmp_path: Path) -> Any:
    from coprolib.config import parse_config

    return parse_config(
        "[destinations.board]\n"
        'adapter = "file"\naudience = "board"\npurposes = ["board_reporting"]\n'
        f'settings = {{ directory = "{tmp_path / "out"}" }}\n'
    )


def _later() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_consent_renewed_unchanged_is_checked_again_and_sent(ledger: Any, tmp_path: Path) -> None:
    from coprolib.records import Consent

    shares = _planned(ledger, 2)
    terms = ledger.get(Consent, CONSENT_ID).events[0].terms
    ledger.append_consent_event(
        CONSENT_ID, ConsentEvent(type=ConsentEventType.RENEWED, at=_later(), terms=terms)
    )
    summary = sync(ledger, _board_config(tmp_path))
    assert (summary.delivered, summary.cancelled) == (2, 0), summary.lines()
    assert {ledger.get_share(s.id).status for s in shares} == {ShareStatus.DELIVERED}


def test_consent_narrowed_away_from_the_audience_cancels(ledger: Any, tmp_path: Path) -> None:
    from coprolib.records.enums import Audience

    _planned(ledger, 2)
    ledger.append_consent_event(
        CONSENT_ID,
        ConsentEvent(type=ConsentEventType.WITHDRAWN, at=_later(), audiences=(Audience.BOARD,)),
    )
    summary = sync(ledger, _board_config(tmp_path))
    assert (summary.delivered, summary.cancelled) == (0, 2), summary.lines()
    reasons = [reason for _, reason in summary.cancel_reasons]
    assert all("board" in reason for reason in reasons), reasons
    assert not (tmp_path / "out" / "board.jsonl").exists()
