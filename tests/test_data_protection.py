"""Data protection end to end, on SQLite and PostgreSQL.

A contributor is imported with a distinctive string in every personal field. Their story is
planned and synced to a file destination and to a signed-webhook receiver whose error replies
echo what they rejected (so the words reach ``jobs.last_error``). Then:

- with a key set, none of the strings is in the database bytes, before any erasure;
- after ``erase``, none is in the database bytes (SQLite file and WAL after checkpoint, or a
  ``pg_dump`` of the test schema), an export, the board report, consent receipts, delivery
  receipts, or anything current at either destination; and both destinations received the
  retraction.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coprolib.adapters.file_destination import FileAdapter
from coprolib.config import Config, parse_config
from coprolib.delivery import sync
from coprolib.impact import measure_ledger
from coprolib.ledger import generate_key
from coprolib.planner import plan
from coprolib.records import (
    Accessibility,
    Consent,
    ConsentEvent,
    ConsentTerms,
    ContactDetails,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Quote,
    Story,
)
from coprolib.records.convert import unstructure
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    DecisionBasis,
    FeedbackChannel,
    FeedbackKind,
    IdentityLevel,
    InsightStatus,
    Purpose,
    SARDomain,
    StorySource,
    Support,
)
from coprolib.report import write_report
from coprolib.rights.erasure import erase_person
from coprolib.rights.receipts import consent_receipt
from coprolib.testing.fault_server import FaultServer, Reply, Request
from coprolib.testing.ledger_fixtures import LedgerTarget

pytest.importorskip("coprolib_webhook", reason="pip install -e 'adapters/coprolib-webhook[test]'")
from coprolib_webhook.testing import Receiver

SECRET = "whsec_" + base64.b64encode(b"fictional-protection-signing-k3y").decode()
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

# One distinctive, clearly fictional string per personal field.
QUOTED = "the plumbago lantern kept humming"
FIELDS = {
    "story": "Vantorell wharf flooded twice that winter",
    "quote": QUOTED,
    "title": "Orrisbeck tenancy notes",
    "name": "Zephyrine Quillfeather",
    "identifier": "Quillfeather-Z",
    "email": "zq.fictional@example.invalid",
    "phone": "07700 900417",
    "address": "12 Larkspur Mews, Nowhere NW0 0XX",
    "accessibility": "prefers Tamsorrel sign interpreter",
    "supporter": "Brannock Ellisandre",
    "recorder": "Oswine Fettercairn",
    "reason": "Thaddeus Wrenfield asked on her behalf",
    "feedback": "Dear Zephyrine, Halvergate outcome",
}


def _records() -> list[Any]:
    person = Contributor(
        id="p-q",
        display_name=FIELDS["name"],
        contact=ContactDetails(
            email=FIELDS["email"], phone=FIELDS["phone"], postal_address=FIELDS["address"]
        ),
        feedback_channel=FeedbackChannel.EMAIL,
        accessibility=Accessibility(notes=FIELDS["accessibility"]),
        known_identifiers=(FIELDS["identifier"],),
    )
    text = f"{FIELDS['story']}; {QUOTED} all night."
    start = text.index(QUOTED)
    story = Story(
        id="s-q",
        contributor_ids=("p-q",),
        text=text,
        title=FIELDS["title"],
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2026, 1, 2),
        themes=("housing",),
        quotes=(Quote(id="q1", start=start, end=start + len(QUOTED)),),
    )
    terms = ConsentTerms(
        purposes=(Purpose.BOARD_REPORTING, Purpose.TRAINING),
        audiences=(Audience.BOARD,),
        identity_level=IdentityLevel.ANONYMOUS,
        quotes_allowed=True,
    )
    consent = Consent(
        id="c-q",
        contributor_id="p-q",
        basis=DecisionBasis.SUPPORTED_DECISION,
        support=Support.ADVOCATE,
        supported_by=FIELDS["supporter"],
        events=(
            ConsentEvent(
                type=ConsentEventType.GIVEN, at=T0, recorded_by=FIELDS["recorder"], terms=terms
            ),
            # A narrowing: training withdrawn, board reporting still allowed.
            ConsentEvent(
                type=ConsentEventType.WITHDRAWN,
                at=T0 + dt.timedelta(hours=1),
                recorded_by=FIELDS["recorder"],
                reason=FIELDS["reason"],
                purposes=(Purpose.TRAINING,),
            ),
        ),
    )
    insight = Insight(
        id="i-q",
        title="Flood warnings reach tenants late",
        summary="Tenants heard of flooding after it happened.",
        recommendation="Text warnings to tenants the day before.",
        domain=SARDomain.INTERAGENCY_WORKING,
        themes=("housing",),
        evidence=(EvidenceRef(story_id="s-q", quote_ids=("q1",)),),
        status=InsightStatus.AGREED,
    )
    feedback = Feedback(
        id="f-q",
        contributor_id="p-q",
        kind=FeedbackKind.SCHEDULED,
        channel=FeedbackChannel.EMAIL,
        story_ids=("s-q",),
        message=FIELDS["feedback"],
    )
    return [person, story, consent, insight, feedback]


class EchoingReceiver(Receiver):
    """The Standard Webhooks test receiver, except that it refuses each share the first time,
    with an error reply that echoes the quotes it objected to."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.refused: set[str] = set()

    def app(self, request: Request) -> Reply:
        event = json.loads(request.body)
        msg_id = request.headers.get("webhook-id", "")
        if event.get("type") == "insight.shared" and msg_id not in self.refused:
            self.refused.add(msg_id)
            quotes = [q["text"] for q in event["data"].get("quotes", [])]
            return Reply.json(503, {"error": "quotes not accepted yet", "quotes": quotes})
        return super().app(request)


def _config(tmp_path: Path, url: str) -> Config:
    text = f"""
[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
max_identity = "anonymous"
quotes = true
min_contributors = 1
settings = {{ directory = "{tmp_path / "board-pack"}" }}

[destinations.case-system]
adapter = "webhook"
audience = "board"
purposes = ["board_reporting"]
max_identity = "anonymous"
quotes = true
min_contributors = 1
settings = {{ url = "{url}/hooks", secrets = ["$env:DP_WEBHOOK_SECRET"] }}
"""
    return parse_config(text, str(tmp_path / "coprolib.toml"))


def _database_bytes(target: LedgerTarget) -> bytes:
    if target.dialect == "sqlite":
        assert target.path is not None
        return b"".join(p.read_bytes() for p in target.path.parent.glob(target.path.name + "*"))
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "-n", str(target.schema), target.url],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dump.stdout


def _missing(blob: bytes | str, where: str) -> None:
    data = blob.encode("utf-8") if isinstance(blob, str) else blob
    found = [v for v in FIELDS.values() if v.encode("utf-8") in data]
    assert not found, f"{where} still holds {found}"


@pytest.fixture
def receiver() -> EchoingReceiver:
    return EchoingReceiver(SECRET)


@pytest.fixture
def server(receiver: EchoingReceiver) -> Iterator[FaultServer]:
    with FaultServer(receiver.app) as started:
        yield started


def _share_and_sync(ledger: Any, config: Config, receiver: EchoingReceiver) -> None:
    ledger.add(_records())
    result = plan(ledger, config, moment=T0 + dt.timedelta(days=1))
    assert {s.destination for s in result.deliver} == {"board-pack", "case-system"}
    assert all(
        q.text == QUOTED and q.story_ref == "story 1" for s in result.deliver for q in s.quotes
    )
    first = sync(ledger, config)  # the receiver refuses, echoing the quote
    assert first.delivered == 1
    errors = [j.last_error or "" for j in ledger.list_jobs(destination="case-system")]
    assert any(QUOTED in e for e in errors), errors
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    second = sync(ledger, config, clock=lambda: later)
    assert second.delivered == 1 and receiver.keys()


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "key"])
def test_erasure_leaves_no_byte_of_the_person_anywhere(
    ledger_target: LedgerTarget,
    tmp_path: Path,
    server: FaultServer,
    receiver: EchoingReceiver,
    monkeypatch: pytest.MonkeyPatch,
    keyed: bool,
) -> None:
    monkeypatch.setenv("DP_WEBHOOK_SECRET", SECRET)
    config = _config(tmp_path, server.url)
    files = FileAdapter({"directory": str(tmp_path / "board-pack")}, destination="board-pack")
    key = generate_key() if keyed else ""
    with ledger_target.open(key=key, actor="test") as ledger:
        _share_and_sync(ledger, config, receiver)
        before = _database_bytes(ledger_target)
        if keyed:
            _missing(before, "the encrypted database")
        else:  # the test can fail: the words are there until erasure
            assert QUOTED.encode() in before and FIELDS["reason"].encode() in before
        assert any(QUOTED in json.dumps(r) for r in files.records())

        report = erase_person(ledger, "p-q", config, moment=T0 + dt.timedelta(days=2))
        assert report.withdrawn == ("c-q",)
        assert {d for _, d in report.retractions} == {"board-pack", "case-system"}
        assert report.scrubbed["stories"] == 1 and report.scrubbed["consent_events"] == 3
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        done = sync(ledger, config, clock=lambda: later)
        assert done.retracted == 2

        _missing(_database_bytes(ledger_target), "the database")
        export = [unstructure(r) for r in ledger.export_records()]
        _missing(json.dumps(export, ensure_ascii=False), "the export")
        shares = [row.share for row in ledger.list_shares()]
        _missing(json.dumps([unstructure(s) for s in shares], ensure_ascii=False), "shares")
        delivery_receipts = [unstructure(r) for s in shares for r in ledger.receipts_for(s.id)]
        _missing(json.dumps(delivery_receipts, ensure_ascii=False), "delivery receipts")
        person = ledger.get(Contributor, "p-q")
        for consent in ledger.list(Consent, contributor="p-q"):
            _missing(consent_receipt(consent, person), f"the receipt of {consent.id}")
        html = write_report(
            measure_ledger(ledger, today=dt.date(2026, 2, 1)), tmp_path / "report.html"
        )
        _missing(html.read_bytes(), "the report")
        again = erase_person(ledger, "p-q", config)
        assert again.withdrawn == () and set(again.scrubbed.values()) == {0}
        assert ledger.verify_audit().ok
    # Nothing current at either destination, and both were told to retract.
    _missing(json.dumps(files.records(), ensure_ascii=False), "the file destination")
    _missing((tmp_path / "board-pack" / "board-pack.jsonl").read_bytes(), "the file")
    _missing(json.dumps(receiver.stored, ensure_ascii=False), "the webhook receiver")
    assert receiver.retracted and not receiver.keys()
    assert [r["status"] for r in files.rows()] == ["retracted"]
