"""The whole chain on the embedded default, in one call: ``coprolib demo``.

Creates a SQLite ledger in a folder, imports the fictional Northdale bundle, plans what consent
allows, syncs to a file destination and to a signed-webhook receiver started on 127.0.0.1,
records a withdrawal and syncs the retraction, advances an outcome, lists the feedback owed,
writes the board report, and narrates each step. Nothing is left running afterwards.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import importlib.resources
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from coprolib.config import load_config
from coprolib.delivery import sync
from coprolib.feedback.owed import feedback_due
from coprolib.impact import measure_ledger
from coprolib.ledger import open_ledger
from coprolib.outcomes.recording import update_outcome
from coprolib.planner import plan, withdraw
from coprolib.records.bundle import loads_bundle
from coprolib.records.enums import OutcomeStatus
from coprolib.report import write_report
from coprolib.testing.fault_server import FaultServer, Reply

#: The environment variable the demo's webhook destination reads its signing secret from.
SECRET_ENV = "COPROLIB_DEMO_WEBHOOK_SECRET"

#: Whose story the demo withdraws, and which outcome it advances (both in the example bundle).
WITHDRAW_CONTRIBUTOR, WITHDRAW_STORY = "p-amber", "s-01"
ADVANCE_OUTCOME, ADVANCE_TO = "o-03", OutcomeStatus.IMPLEMENTED


@attrs.frozen(kw_only=True)
class DemoResult:
    """What the demo wrote and counted."""

    directory: Path
    ledger: Path
    config: Path
    report: Path
    board_pack: Path
    delivered: int
    retracted: int
    webhook_records: int | None
    feedback_owed: int


def example_bundle_text() -> str:
    """The fictional Northdale bundle shipped with coprolib."""
    return (
        importlib.resources.files("coprolib.examples")
        .joinpath("northdale.json")
        .read_text(encoding="utf-8")
    )


def _config_text(directory: Path, webhook_url: str | None) -> str:
    board_pack = (directory / "board-pack").as_posix()
    text = f"""\
# Written by `coprolib demo`. Secrets are never stored here: "$env:NAME" is read when sending.
ledger = "sqlite:///{(directory / "coprolib.db").as_posix()}"

[feedback]
scheduled_days = 7
shared_days = 42

# What the board report calls a stalled change, and the involvement payment policy.
[impact]
stalled_after_days = 90
follow_up_days = 180
hourly_rates = {{ participant = 20, co_facilitator = 25, trainer = 30, paid_peer_worker = 15 }}

# The SAB's board pack: a folder of JSONL records (the embedded default destination).
[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting", "service_improvement"]
max_identity = "pseudonymous"
quotes = true
min_contributors = 2
settings = {{ directory = "{board_pack}" }}
"""
    if webhook_url:
        text += f"""
# A partner's case-management middleware, reached by a signed webhook (Standard Webhooks v1).
[destinations.partner-webhook]
adapter = "webhook"
audience = "partners"
purposes = ["service_improvement", "commissioning"]
max_identity = "anonymous"
quotes = true
min_contributors = 2
settings = {{ url = "{webhook_url}/hooks/coprolib", secrets = ["$env:{SECRET_ENV}"] }}
"""
    return text


class _Receiver:
    """A partner's webhook endpoint: checks each signature, stores by ``webhook-id``, deletes on
    ``insight.retracted``. Signatures are checked by recomputing the HMAC (Standard Webhooks)."""

    def __init__(self, secret: str) -> None:
        self._key = base64.b64decode(secret.removeprefix("whsec_"))
        self.stored: dict[str, Any] = {}
        self.rejected = 0

    def _valid(self, headers: dict[str, str], body: bytes) -> bool:
        signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
        expected = base64.b64encode(hmac.digest(self._key, signed, "sha256")).decode()
        offered = [s.split(",", 1)[-1] for s in headers.get("webhook-signature", "").split()]
        return any(hmac.compare_digest(expected, s) for s in offered)

    def app(self, request: Any) -> Any:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not self._valid(headers, request.body):
            self.rejected += 1
            return Reply.json(401, {"error": "bad signature"})
        event = json.loads(request.body)
        if event["type"] == "insight.retracted":
            self.stored.pop(event["data"].get("idempotency_key"), None)
        elif event["type"].startswith("insight."):
            self.stored[headers["webhook-id"]] = event["data"]
        return Reply.json(200, {"received": headers["webhook-id"]})


@contextmanager
def _webhook_receiver(
    say: Callable[[str], None],
) -> Iterator[tuple[_Receiver, str] | tuple[None, None]]:
    try:
        import coprolib_webhook  # noqa: F401
    except ImportError:
        say(
            "(coprolib-webhook is not installed, so the webhook step is skipped: "
            "pip install -e adapters/coprolib-webhook)"
        )
        yield None, None
        return
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    receiver = _Receiver(secret)
    previous = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret
    try:
        with FaultServer(receiver.app) as server:
            yield receiver, server.url
    finally:
        if previous is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = previous


def run_demo(directory: str | os.PathLike[str], say: Callable[[str], None] = print) -> DemoResult:
    """Run the story -> insight -> change -> feedback chain end to end in ``directory``.

    ``directory`` must not already hold a demo ledger. ``say`` receives the narration.
    """
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "coprolib.db"
    if db.exists():
        raise FileExistsError(f"{db} already exists: give the demo an empty folder (--dir)")

    with _webhook_receiver(say) as (receiver, url):
        config_path = folder / "coprolib.toml"
        config_path.write_text(_config_text(folder, url), encoding="utf-8")
        config = load_config(config_path)
        say(f"1. Ledger: {db} (SQLite, the embedded default); config: {config_path}")

        with open_ledger(f"sqlite:///{db}", actor="coprolib-demo") as ledger:
            counts = ledger.import_bundle(loads_bundle(example_bundle_text(), "northdale.json"))
            say(
                "2. Imported the fictional Northdale bundle: "
                + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            )

            first = plan(ledger, config)
            refused = len(first.not_sent())
            say(
                f"3. Planned {len(first.deliver)} share(s) that consent allows; "
                f"{refused} insight/destination pair(s) refused, each with its reason "
                "(`coprolib plan --explain ID` shows them); "
                f"{len(first.feedback)} feedback obligation(s) created."
            )

            sent = sync(ledger, config, max_wait=10.0)
            webhook_note = (
                f"; the partner's receiver holds {len(receiver.stored)} signed record(s)"
                if receiver is not None
                else ""
            )
            say(
                f"4. Synced: {sent.delivered} delivered to the board pack"
                f"{' and the partner webhook' if receiver is not None else ''}{webhook_note}."
            )

            withdrawal = withdraw(
                ledger,
                WITHDRAW_CONTRIBUTOR,
                WITHDRAW_STORY,
                reason="Changed their mind (fictional demo)",
                config=config,
            )
            second = plan(ledger, config, stories=withdrawal.story_ids)
            back = sync(ledger, config, max_wait=10.0)
            say(
                f"5. {WITHDRAW_CONTRIBUTOR} withdrew consent for {WITHDRAW_STORY}: the re-plan "
                f"made {len(second.retractions)} retraction(s) and re-rendered "
                f"{len(second.deliver)} share(s) without the story; the sync retracted "
                f"{back.retracted} and delivered {back.delivered}"
                + (f"; the receiver now holds {len(receiver.stored)}" if receiver else "")
                + "."
            )

            change = update_outcome(
                ledger,
                ADVANCE_OUTCOME,
                ADVANCE_TO,
                note="Same-day response live in two localities (fictional)",
                by="SAB prevention sub-group chair",
            )
            say(
                f"6. Outcome {ADVANCE_OUTCOME} moved to '{ADVANCE_TO}': "
                f"{len(change.feedback)} contributor(s) are owed a change update."
            )

            owed = feedback_due(ledger)
            say(
                f"7. Feedback owed: {len(owed)} (`coprolib feedback due` lists them; "
                "soonest first):"
            )
            for fb in owed[:5]:
                say(f"     {fb.id}  {fb.kind}  to {fb.contributor_id} by {fb.due}")

            policy = config.impact
            impact = measure_ledger(
                ledger,
                today=dt.date.today(),
                stalled_after_days=policy.stalled_after_days,
                follow_up_days=policy.follow_up_days,
                hourly_rates=policy.hourly_rates,
            )
            report = write_report(impact, folder / "report.html")
            say(f"8. Board report: {report}")
            verify = ledger.verify_audit()
            say(
                f"9. Audit chain: {verify.checked} entries, "
                f"{'verified' if verify.ok else 'FAILED at ' + str(verify.first_bad)}."
            )
            webhook_records = len(receiver.stored) if receiver is not None else None

    board_pack = folder / "board-pack"
    say(f"Wrote: {db}, {config_path}, {board_pack}/, {report}. Nothing is left running.")
    return DemoResult(
        directory=folder,
        ledger=db,
        config=config_path,
        report=report,
        board_pack=board_pack,
        delivered=sent.delivered + back.delivered,
        retracted=back.retracted,
        webhook_records=webhook_records,
        feedback_owed=len(owed),
    )
