"""What each endpoint does: a thin layer over the functions the ``coprolib`` commands call.

Every operation is declared once, with its path, scope and request schema; the router, the
request validation and the OpenAPI document (:mod:`coprolib.serve.openapi`) are all built from
this table, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from coprolib.config import Config, ConfigError
from coprolib.feedback.owed import feedback_done, feedback_due
from coprolib.ledger.api_store import find_replay, remember_replay
from coprolib.ledger.ledger import Ledger
from coprolib.outcomes.recording import update_outcome
from coprolib.planner import withdraw
from coprolib.planner.explanation import explain_in_ledger
from coprolib.records.bundle import BundleError, iter_jsonl, loads_bundle
from coprolib.records.convert import unstructure
from coprolib.records.enums import (
    Audience,
    ConsentMethod,
    DecisionBasis,
    IdentityLevel,
    OutcomeStatus,
    Purpose,
    Support,
)
from coprolib.report.journey import journey
from coprolib.rights.changes import (
    ConsentTimeline,
    approve_insight,
    consent_timeline,
    correct_consent,
    give_consent,
    record_override,
    renew_consent,
    terms_with,
)
from coprolib.serve.problems import Problem


@attrs.frozen(kw_only=True)
class Call:
    """One request as an operation sees it (already authenticated and validated)."""

    ledger: Ledger
    config: Config
    actor: str
    path: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    raw: bytes
    media_type: str


#: What an operation answers: status and JSON body.
Answer = tuple[int, Any]


@attrs.frozen(kw_only=True)
class Operation:
    """One endpoint: ``scope`` None means no token is needed."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    scope: str | None
    run: Callable[[Call], Answer]
    body_schema: Mapping[str, Any] | None = None
    body_required: bool = True
    query: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    headers: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    status: int = 200
    writes: bool = False
    extra_media: tuple[str, ...] = ()
    #: The path parameter a "not in the ledger" refusal is about.
    subject: str | None = None
    #: The schema of a successful answer (default: an object).
    answer_schema: Mapping[str, Any] | None = None


# --- shared schema pieces ---------------------------------------------------------------------

_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}
_DATE = {"type": "string", "format": "date", "example": "2027-03-31"}
_MOMENT = {"type": "string", "format": "date-time", "example": "2026-11-27T12:00:00Z"}
_PURPOSES = {"type": "array", "items": {"type": "string", "enum": [p.value for p in Purpose]}}
_AUDIENCES = {"type": "array", "items": {"type": "string", "enum": [a.value for a in Audience]}}

_TERMS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "purposes": _PURPOSES,
        "audiences": _AUDIENCES,
        "identity_level": {"type": "string", "enum": [i.value for i in IdentityLevel]},
        "quotes_allowed": {"type": "boolean"},
        "review_before_sharing": {"type": "boolean"},
        "share_not_before": _DATE,
        "expires": _DATE,
        "denied_destinations": {"type": "array", "items": _ID},
    },
}

_EVENT = {"at": _MOMENT, "recorded_by": _TEXT}


def _obj(props: Mapping[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": dict(props),
    }
    if required:
        schema["required"] = list(required)
    return schema


# --- helpers ----------------------------------------------------------------------------------


def _moment(value: Any, field: str = "at") -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise Problem(422, f"{value!r} is not a date/time", field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _date(value: Any, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Problem(422, f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


def _changes(terms: Mapping[str, Any] | None) -> dict[str, Any]:
    """Terms in a request as :func:`coprolib.rights.changes.terms_with` takes them."""
    changes = dict(terms or {})
    for key in ("share_not_before", "expires"):
        if key in changes:
            changes[key] = _date(changes[key], f"terms.{key}")
    for key in ("purposes", "audiences", "denied_destinations"):
        if key in changes:
            changes[key] = tuple(changes[key]) or None
    return {k: v for k, v in changes.items() if v is not None}


def _timeline(consent: Any) -> dict[str, Any]:
    last = consent.events[-1].at
    return ConsentTimeline(consent=consent, state=consent.state_at(last), moment=last).to_json()


def _who(call: Call) -> str:
    """``recorded_by`` as given, else the token's name."""
    given = call.body.get("recorded_by") if isinstance(call.body, dict) else None
    return str(given) if given else call.actor


# --- records ----------------------------------------------------------------------------------


def _request_digest(call: Call) -> str:
    return hashlib.sha256(call.media_type.encode() + b"\n" + call.raw).hexdigest()


def import_records(call: Call) -> Answer:
    """POST /v1/records: a bundle (JSON) or typed records (JSONL), all or nothing."""
    key = call.headers.get("idempotency-key")
    slot = f"idem:{call.actor}:{key}" if key else None
    digest = _request_digest(call)
    ledger = call.ledger

    def replayed() -> Answer | None:
        if slot is None:
            return None
        found = find_replay(ledger, slot)
        if found is None:
            return None
        if found.request_digest != digest:
            raise Problem(
                422,
                "this Idempotency-Key was used for a different request body",
                field="Idempotency-Key",
            )
        return found.status, {**json.loads(found.body), "replayed": True}

    earlier = replayed()
    if earlier is not None:
        return earlier
    text = call.raw.decode("utf-8", errors="strict")
    try:
        with ledger.transaction():
            if call.media_type == "application/json":
                counts = ledger.import_bundle(loads_bundle(text, "request body"))
            else:
                records = iter_jsonl(text.splitlines(), source="request body")
                counts = ledger.import_records(records)
            answer = {"imported": {k: n for k, n in counts.items() if n}}
            if slot is not None:
                remember_replay(ledger, slot, digest, 201, json.dumps(answer))
    except BundleError as exc:
        first = exc.problems[0] if exc.problems else None
        field = str(getattr(first, "path", "")) or "body"
        raise Problem(422, str(exc).replace("\n", "; "), field=field) from None
    except Exception:
        # Another instance may have answered the same key meanwhile: give its answer.
        earlier = replayed()
        if earlier is not None:
            return earlier
        raise
    return 201, {**answer, "replayed": False}


# --- consent ----------------------------------------------------------------------------------


def give(call: Call) -> Answer:
    """POST /v1/consents: :func:`coprolib.rights.changes.give_consent`."""
    b = call.body
    terms = terms_with(None, **_changes(b.get("terms")))
    consent = give_consent(
        call.ledger,
        b["contributor_id"],
        terms,
        consent_id=b.get("consent_id"),
        story_ids=b.get("story_ids", ()),
        basis=b.get("basis", DecisionBasis.OWN_CONSENT.value),
        support=b.get("support", Support.NONE.value),
        supported_by=b.get("supported_by"),
        method=b.get("method", ConsentMethod.WRITTEN.value),
        moment=_moment(b.get("at")),
        recorded_by=_who(call),
    )
    return 201, _timeline(consent)


def renew(call: Call) -> Answer:
    """POST /v1/consents/{consent_id}/renew: :func:`coprolib.rights.changes.renew_consent`."""
    b = call.body or {}
    consent = renew_consent(
        call.ledger,
        call.path["consent_id"],
        changes=_changes(b.get("terms")),
        moment=_moment(b.get("at")),
        recorded_by=_who(call),
        reason=b.get("reason"),
    )
    return 200, _timeline(consent)


def correct(call: Call) -> Answer:
    """POST /v1/consents/{consent_id}/correct: :func:`coprolib.rights.changes.correct_consent`."""
    b = call.body
    consent = correct_consent(
        call.ledger,
        call.path["consent_id"],
        b["reason"],
        changes=_changes(b.get("terms")),
        moment=_moment(b.get("at")),
        recorded_by=_who(call),
    )
    return 200, _timeline(consent)


def approve(call: Call) -> Answer:
    """POST /v1/consents/{consent_id}/approve: :func:`coprolib.rights.changes.approve_insight`."""
    b = call.body
    consent = approve_insight(
        call.ledger,
        call.path["consent_id"],
        b["insight_id"],
        moment=_moment(b.get("at")),
        recorded_by=_who(call),
    )
    return 200, _timeline(consent)


def override(call: Call) -> Answer:
    """POST /v1/consents/{consent_id}/override: :func:`coprolib.rights.changes.record_override`."""
    b = call.body
    consent = record_override(
        call.ledger,
        call.path["consent_id"],
        b["reason"],
        b["approver"],
        moment=_moment(b.get("at")),
        recorded_by=_who(call),
    )
    return 200, _timeline(consent)


def show_consent(call: Call) -> Answer:
    """GET /v1/consents/{consent_id}: :func:`coprolib.rights.changes.consent_timeline`."""
    timeline = consent_timeline(call.ledger, call.path["consent_id"], _moment(call.query.get("at")))
    return 200, timeline.to_json()


def _withdrawal_json(w: Any) -> dict[str, Any]:
    return {
        "contributor_id": w.contributor_id,
        "consent_ids": list(w.consent_ids),
        "story_ids": list(w.story_ids),
        "narrowing": w.narrowing,
        "cancelled_feedback": list(w.cancelled_feedback),
        "confirmation": w.confirmation,
    }


def record_withdrawal(
    ledger: Ledger,
    config: Config,
    contributor_id: str,
    body: Mapping[str, Any],
    recorded_by: str,
) -> dict[str, Any]:
    """:func:`coprolib.planner.withdraw` with the fields of a request or webhook body."""
    w = withdraw(
        ledger,
        contributor_id,
        story_id=body.get("story_id"),
        reason=body.get("reason"),
        purposes=body.get("purposes", ()),
        audiences=body.get("audiences", ()),
        moment=_moment(body.get("at")),
        recorded_by=recorded_by,
        config=config,
    )
    return _withdrawal_json(w)


def withdraw_consent(call: Call) -> Answer:
    """POST /v1/contributors/{contributor_id}/withdraw: :func:`coprolib.planner.withdraw`."""
    body = call.body or {}
    return 200, record_withdrawal(
        call.ledger, call.config, call.path["contributor_id"], body, _who(call)
    )


def narrow(call: Call) -> Answer:
    """POST /v1/contributors/{contributor_id}/narrow: a withdrawal naming a story, purposes or
    audiences (the consent stays in force for the rest)."""
    b = call.body
    if not (b.get("story_id") or b.get("purposes") or b.get("audiences")):
        raise Problem(422, "name a story_id, purposes or audiences to narrow", field="purposes")
    return 200, record_withdrawal(
        call.ledger, call.config, call.path["contributor_id"], b, _who(call)
    )


# --- explain, feedback, outcomes, journey -----------------------------------------------------


def explain(call: Call) -> Answer:
    """GET /v1/explain/{record_id}: :func:`coprolib.planner.explanation.explain_in_ledger`."""
    rid = call.path["record_id"]
    name = call.query.get("destination")
    if name:
        try:
            dests = {name: call.config.destination(name)}
        except ConfigError:
            raise Problem(404, f"there is no destination {name!r}", field="destination") from None
    else:
        dests = call.config.insight_destinations()
    moment = _moment(call.query.get("at")) or dt.datetime.now(dt.UTC)
    lines = explain_in_ledger(call.ledger, rid, dests, moment)
    if lines is None:
        raise Problem(404, f"there is no story or insight {rid!r} in the ledger", field="record_id")
    return 200, {"id": rid, "explanation": lines}


def due(call: Call) -> Answer:
    """GET /v1/feedback/due: :func:`coprolib.feedback.owed.feedback_due`."""
    overdue = call.query.get("overdue", "false") == "true"
    return 200, [unstructure(f) for f in feedback_due(call.ledger, overdue=overdue)]


def done(call: Call) -> Answer:
    """POST /v1/feedback/{feedback_id}/done: :func:`coprolib.feedback.owed.feedback_done`."""
    b = call.body
    f = feedback_done(call.ledger, call.path["feedback_id"], b["note"], on=_date(b.get("on"), "on"))
    return 200, unstructure(f)


def outcome_status(call: Call) -> Answer:
    """POST /v1/outcomes/{outcome_id}/status: :func:`coprolib.outcomes.recording.update_outcome`."""
    b = call.body
    change = update_outcome(
        call.ledger,
        call.path["outcome_id"],
        b["status"],
        on=_date(b.get("on"), "on"),
        note=b.get("note"),
        by=b.get("by") or call.actor,
        evidence=b.get("evidence", ()),
        due_days=b.get("due_days", 28),
    )
    return 200, {
        "outcome": unstructure(change.outcome),
        "feedback": [f.id for f in change.feedback],
    }


def contributor_journey(call: Call) -> Answer:
    """GET /v1/contributors/{contributor_id}/journey: :func:`coprolib.report.journey.journey`."""
    result = journey(
        call.ledger,
        call.path["contributor_id"],
        config=call.config,
        moment=_moment(call.query.get("at")),
    )
    return 200, result.to_json()


# --- the table --------------------------------------------------------------------------------

_AT_QUERY = ("at", _MOMENT)
_IDEMPOTENCY = ("Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 200})

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        method="POST",
        path="/v1/records",
        operation_id="importRecords",
        summary="Import a bundle (JSON) or typed records (JSONL), all or nothing",
        tag="records",
        scope="records:write",
        run=import_records,
        body_schema={"type": "object"},
        extra_media=("application/x-ndjson",),
        headers=(_IDEMPOTENCY,),
        status=201,
        writes=True,
    ),
    Operation(
        method="POST",
        path="/v1/consents",
        operation_id="giveConsent",
        summary="Record a new consent (a 'given' event with the terms agreed)",
        tag="consent",
        scope="consent:write",
        run=give,
        body_schema=_obj(
            {
                "contributor_id": _ID,
                "consent_id": _ID,
                "story_ids": {"type": "array", "items": _ID},
                "basis": {"type": "string", "enum": [b.value for b in DecisionBasis]},
                "support": {"type": "string", "enum": [s.value for s in Support]},
                "supported_by": _TEXT,
                "method": {"type": "string", "enum": [m.value for m in ConsentMethod]},
                "terms": _TERMS,
                **_EVENT,
            },
            ("contributor_id", "terms"),
        ),
        status=201,
        writes=True,
        subject="contributor_id",
    ),
    Operation(
        method="POST",
        path="/v1/consents/{consent_id}/renew",
        operation_id="renewConsent",
        summary="Record that they agreed again (on the terms given, or those last agreed)",
        tag="consent",
        scope="consent:write",
        run=renew,
        body_schema=_obj({"terms": _TERMS, "reason": _TEXT, **_EVENT}),
        body_required=False,
        writes=True,
        subject="consent_id",
    ),
    Operation(
        method="POST",
        path="/v1/consents/{consent_id}/correct",
        operation_id="correctConsent",
        summary="Correct the terms recorded for a consent in force",
        tag="consent",
        scope="consent:write",
        run=correct,
        body_schema=_obj({"terms": _TERMS, "reason": _TEXT, **_EVENT}, ("reason", "terms")),
        writes=True,
        subject="consent_id",
    ),
    Operation(
        method="POST",
        path="/v1/consents/{consent_id}/approve",
        operation_id="approveInsight",
        summary="Record the teller's approval of an insight's current words",
        tag="consent",
        scope="consent:write",
        run=approve,
        body_schema=_obj({"insight_id": _ID, **_EVENT}, ("insight_id",)),
        writes=True,
        subject="consent_id",
    ),
    Operation(
        method="POST",
        path="/v1/consents/{consent_id}/override",
        operation_id="overrideConsent",
        summary="Record a best-interests override",
        tag="consent",
        scope="consent:write",
        run=override,
        body_schema=_obj({"reason": _TEXT, "approver": _TEXT, **_EVENT}, ("reason", "approver")),
        writes=True,
        subject="consent_id",
    ),
    Operation(
        method="GET",
        path="/v1/consents/{consent_id}",
        operation_id="showConsent",
        summary="A consent's timeline: every event in order, and its state",
        tag="consent",
        scope="read",
        run=show_consent,
        query=(_AT_QUERY,),
        subject="consent_id",
    ),
    Operation(
        method="POST",
        path="/v1/contributors/{contributor_id}/withdraw",
        operation_id="withdrawConsent",
        summary="Record a withdrawal of consent (all their stories, or one)",
        tag="consent",
        scope="consent:write",
        run=withdraw_consent,
        body_schema=_obj({"story_id": _ID, "reason": _TEXT, **_EVENT}),
        body_required=False,
        writes=True,
        subject="contributor_id",
    ),
    Operation(
        method="POST",
        path="/v1/contributors/{contributor_id}/narrow",
        operation_id="narrowConsent",
        summary="Narrow a consent: withdraw one story, some purposes or some audiences",
        tag="consent",
        scope="consent:write",
        run=narrow,
        body_schema=_obj(
            {
                "story_id": _ID,
                "purposes": _PURPOSES,
                "audiences": _AUDIENCES,
                "reason": _TEXT,
                **_EVENT,
            }
        ),
        writes=True,
        subject="contributor_id",
    ),
    Operation(
        method="GET",
        path="/v1/contributors/{contributor_id}/journey",
        operation_id="contributorJourney",
        summary="One contributor's journey: their stories, shares, changes and feedback",
        tag="contributors",
        scope="read",
        run=contributor_journey,
        query=(_AT_QUERY,),
        subject="contributor_id",
    ),
    Operation(
        method="GET",
        path="/v1/explain/{record_id}",
        operation_id="explain",
        summary="Explain what happens to a story or insight at each destination, and why",
        tag="sharing",
        scope="read",
        run=explain,
        query=(("destination", _ID), _AT_QUERY),
        subject="record_id",
    ),
    Operation(
        method="GET",
        path="/v1/feedback/due",
        operation_id="feedbackDue",
        summary="Feedback owed to contributors, soonest due first",
        tag="feedback",
        scope="read",
        run=due,
        query=(("overdue", {"type": "string", "enum": ["true", "false"]}),),
        answer_schema={"type": "array", "items": {"type": "object"}},
    ),
    Operation(
        method="POST",
        path="/v1/feedback/{feedback_id}/done",
        operation_id="feedbackDone",
        summary="Mark a feedback obligation as met",
        tag="feedback",
        scope="feedback:write",
        run=done,
        body_schema=_obj({"note": _TEXT, "on": _DATE}, ("note",)),
        writes=True,
        subject="feedback_id",
    ),
    Operation(
        method="POST",
        path="/v1/outcomes/{outcome_id}/status",
        operation_id="outcomeStatus",
        summary="Move an outcome to a new status and owe its contributors an update",
        tag="outcomes",
        scope="records:write",
        run=outcome_status,
        body_schema=_obj(
            {
                "status": {"type": "string", "enum": [s.value for s in OutcomeStatus]},
                "on": _DATE,
                "note": _TEXT,
                "by": _TEXT,
                "evidence": {"type": "array", "items": _TEXT},
                "due_days": {"type": "integer", "minimum": 0, "maximum": 3650},
            },
            ("status",),
        ),
        writes=True,
        subject="outcome_id",
    ),
)
