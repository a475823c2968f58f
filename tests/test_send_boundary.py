"""The send boundary: nothing leaves unless the consent decision allows it at the moment it is
sent, whoever queued it (DESIGN invariant 1).

- The command-line example: after ``withdraw --story s-01`` and ``sync`` with no re-plan, no file
  or request at any destination carries s-01 or its quotes, and the receipt says it was withdrawn.
- Forged shares, written through every public write path of the ledger, are refused by ``sync``
  with a reason, and never reach a destination.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from coprolib.adapters.file_destination import FileAdapter
from coprolib.cli import build_cli
from coprolib.config import parse_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus
from coprolib.planner import plan
from coprolib.records import ConsentRef, Recipient, Share, SharedQuote, Story
from coprolib.records.bundle import load_bundle
from coprolib.records.enums import (
    FeedbackChannel,
    FeedbackKind,
    IdentityLevel,
    ShareKind,
)
from coprolib.testing.fault_server import FaultServer, Reply
from tests.conftest import EXAMPLE_BUNDLE

SECRET_ENV = "SEND_BOUNDARY_WEBHOOK_SECRET"


class _Recorder:
    """A webhook receiver that keeps every request body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def app(self, request: Any) -> Any:
        self.bodies.append(bytes(request.body))
        return Reply.json(200, {"ok": True})


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_Recorder, str]]:
    monkeypatch.setenv(SECRET_ENV, "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    recorder = _Recorder()
    with FaultServer(recorder.app) as server:
        yield recorder, server.url


def _config(folder: Path, url: str) -> str:
    return f"""\
ledger = "sqlite:///{(folder / "coprolib.db").as_posix()}"

[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
max_identity = "pseudonymous"
quotes = true
settings = {{ directory = "{(folder / "out").as_posix()}" }}

[destinations.partners-files]
adapter = "file"
audience = "partners"
purposes = ["service_improvement"]
max_identity = "anonymous"
quotes = true
settings = {{ directory = "{(folder / "out").as_posix()}" }}

[destinations.partner-webhook]
adapter = "webhook"
audience = "partners"
purposes = ["service_improvement", "commissioning"]
max_identity = "anonymous"
quotes = true
settings = {{ url = "{url}/hooks", secrets = ["$env:{SECRET_ENV}"] }}
"""


def _s01_quotes() -> list[str]:
    (story,) = [s for s in load_bundle(EXAMPLE_BUNDLE).stories if s.id == "s-01"]
    return [story.quote(q.id) for q in story.quotes]


def test_withdrawing_one_story_holds_at_sync_without_replanning(
    tmp_path: Path, receiver: tuple[_Recorder, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, url = receiver
    (tmp_path / "coprolib.toml").write_text(_config(tmp_path, url), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cli = build_cli()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("import", str(EXAMPLE_BUNDLE))
    planned = run("plan", "--json")
    assert "s-01" in planned, "the example plans shares citing s-01 before the withdrawal"
    run("withdraw", "--contributor", "p-amber", "--story", "s-01", "--reason", "changed my mind")
    out = run("sync")
    assert "s-01" in out, out  # the refusals are named, with their reason

    sent = [p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*")]
    sent += [b.decode("utf-8") for b in recorder.bodies]
    assert sent, "shares that do not cite s-01 were still delivered"
    for text in sent:
        assert "s-01" not in text
        for quote in _s01_quotes():
            assert quote not in text

    receipt = run("consent", "receipt", "c-01")
    assert "s-01: withdrawn on" in receipt and "s-10: in force" in receipt, receipt
    assert "you withdrew s-01" in receipt
    data = json.loads(run("consent", "receipt", "c-01", "--json"))
    assert data["processing"]["story_status"] == {"s-01": "withdrawn", "s-10": "active"}


# --- forged shares ----------------------------------------------------------------------


@pytest.fixture
def planned_ledger(ledger: Any, tmp_path: Path) -> tuple[Any, Any]:
    """The example imported and planned for a board-pack destination that allows at most
    pseudonymous identity and quotes, and an anonymous, no-quotes, min-3 partners destination."""
    config = parse_config(
        f"""\
[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
max_identity = "pseudonymous"
quotes = true
settings = {{ directory = "{(tmp_path / "out").as_posix()}" }}

[destinations.strict]
adapter = "file"
audience = "partners"
purposes = ["service_improvement"]
max_identity = "anonymous"
quotes = false
min_contributors = 3
settings = {{ directory = "{(tmp_path / "out").as_posix()}" }}

[destinations.letters]
adapter = "file"
carries = "feedback"
channels = ["email"]
settings = {{ directory = "{(tmp_path / "out").as_posix()}" }}
"""
    )
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    plan(ledger, config)
    return ledger, config


def _forgeries(ledger: Any) -> list[tuple[str, Share]]:
    """Shares nobody planned, each wrong in one way the send boundary must catch."""
    genuine = next(
        r.share
        for r in ledger.list_shares(destination="board-pack")
        if r.status is ShareStatus.PLANNED
    )
    s01: Story = ledger.get(Story, "s-01")
    raw_quote = SharedQuote(text=s01.quote(s01.quotes[0].id), story_ref="s-01")

    def forged(name: str, **changes: Any) -> tuple[str, Share]:
        base = attrs.evolve(
            genuine,
            id=f"sh-forged-{name}",
            idempotency_key=f"coprolib-{secrets.token_hex(20)}",
            **changes,
        )
        return name, base

    return [
        forged(
            "named-full-text",
            destination="strict",
            identity_level=IdentityLevel.NAMED,
            body=s01.text,
            quotes=(raw_quote,),
        ),
        forged("other-persons-consent", consent_refs=(ConsentRef(consent_id="c-03", version=1),)),
        forged("edited-body", body=genuine.body + " Amber Wildermere said so."),
        forged("named-level", identity_level=IdentityLevel.NAMED),
        forged("extra-quote", quotes=(*genuine.quotes, raw_quote)),
        forged("unknown-insight", subject_id="i-nope"),
        forged("min-contributors", destination="strict"),
        forged(
            "feedback-no-obligation",
            kind=ShareKind.FEEDBACK,
            destination="letters",
            subject_id="fb-made-up",
            consent_refs=(),
            feedback_kind=FeedbackKind.SCHEDULED,
            channel=FeedbackChannel.EMAIL,
            recipient=Recipient(name="A Stranger", email="stranger@example.invalid"),
        ),
        forged("not-configured", destination="nowhere"),
    ]


#: Every public way a share reaches the outbox: ``put_share`` + ``enqueue_job`` (alone or in one
#: transaction, as ``plan_into`` does), and a refused share brought back with
#: ``set_share_statuses`` and queued again.
WRITE_PATHS = ["put_share", "put_share_in_transaction", "plan_into", "revived"]


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_forged_shares_are_refused_with_a_reason(
    planned_ledger: tuple[Any, Any], tmp_path: Path, path: str
) -> None:
    ledger, config = planned_ledger
    forgeries = _forgeries(ledger)
    shares = [share for _, share in forgeries]
    if path == "put_share":
        for share in shares:
            ledger.put_share(share)
            ledger.enqueue_job("deliver", share.destination, share.id, share.idempotency_key)
    elif path == "put_share_in_transaction":
        with ledger.transaction():
            for share in shares:
                ledger.put_share(share, status=ShareStatus.PLANNED)
                ledger.enqueue_job("deliver", share.destination, share.id, share.idempotency_key)
    elif path == "plan_into":
        from coprolib.testing.shares import plan_into

        plan_into(ledger, shares)
    out = tmp_path / "out"
    adapters = {
        name: FileAdapter({"directory": str(out)}, destination=name)
        for name in ("board-pack", "strict", "letters", "nowhere")
    }
    if path == "revived":
        for share in shares:
            ledger.put_share(share)
            ledger.enqueue_job("deliver", share.destination, share.id, share.idempotency_key)
        sync(ledger, config, adapters=adapters)
        ledger.set_share_statuses([(s.id, ShareStatus.PLANNED) for s in shares])
        for share in shares:
            ledger.enqueue_job("deliver", share.destination, share.id, share.idempotency_key)
    summary = sync(ledger, config, adapters=adapters)
    refused = dict(summary.cancel_reasons)
    for name, share in forgeries:
        assert share.id in refused, (name, summary.lines())
        assert refused[share.id].strip(), name
    sent = "".join(p.read_text(encoding="utf-8") for p in out.glob("*")) if out.exists() else ""
    for name, share in forgeries:
        assert share.idempotency_key not in sent, name
    assert "Amber Wildermere" not in sent
    # The shares the planner made for these destinations were delivered.
    assert any(r.status is ShareStatus.DELIVERED for r in ledger.list_shares())


def test_consent_narrow_and_withdraw_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = build_cli()
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'n.db'}"

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, [*args, "--ledger", url])
        assert result.exit_code == code, result.output
        return result.output

    run("import", str(EXAMPLE_BUNDLE))
    assert "--story, --purpose or --audience" in run(
        "consent", "narrow", "--contributor", "p-amber", code=2
    )
    data = json.loads(
        run("consent", "narrow", "--contributor", "p-amber", "--story", "s-10", "--json")
    )
    assert data["consent_ids"] == ["c-01"] and data["story_ids"] == ["s-10"] and data["narrowing"]
    shown = json.loads(run("consent", "show", "c-01", "--json"))
    assert shown["consent"]["events"][-1]["story_ids"] == ["s-10"], shown
    out = run("consent", "withdraw", "--contributor", "p-amber")
    assert out.startswith("withdrawn: consent c-01")
    receipt = run("consent", "receipt", "c-01")
    assert "you withdrew s-10; your other stories are unchanged" in receipt


def test_a_share_allowed_again_after_its_retraction_is_sent_with_a_fresh_key(
    planned_ledger: tuple[Any, Any], tmp_path: Path
) -> None:
    import datetime as dt

    from coprolib.planner import withdraw
    from coprolib.records import Consent, ConsentEvent
    from coprolib.records.enums import ConsentEventType

    ledger, config = planned_ledger
    out = tmp_path / "out"
    adapters = {
        name: FileAdapter({"directory": str(out)}, destination=name)
        for name in ("board-pack", "strict", "letters")
    }
    first = sync(ledger, config, adapters=adapters)
    assert first.delivered > 0 and not first.cancel_reasons, first.lines()
    carried = {r.share.id for r in ledger.list_shares() if "s-01" in r.share.story_ids}
    assert carried
    withdraw(ledger, "p-amber", story_id="s-01")
    plan(ledger, config)
    sync(ledger, config, adapters=adapters)
    assert {r.status for r in ledger.list_shares() if r.share.id in carried} == {
        ShareStatus.RETRACTED
    }
    terms = ledger.get(Consent, "c-01").events[0].terms
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    ledger.append_consent_event(
        "c-01", ConsentEvent(type=ConsentEventType.RENEWED, at=later, terms=terms)
    )
    again = plan(ledger, config, moment=later + dt.timedelta(seconds=1))
    back = [s for s in again.deliver if s.id in carried]
    assert back, "the same content is planned again"
    resent = sync(ledger, config, adapters=adapters, clock=lambda: later + dt.timedelta(seconds=2))
    assert not resent.cancel_reasons, resent.lines()
    for share in back:
        stored = ledger.get_share(share.id)
        assert stored.status is ShareStatus.DELIVERED
        assert stored.share.idempotency_key != share.idempotency_key  # a fresh key, not the old one
