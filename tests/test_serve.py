"""``coprolib serve`` over a real socket: every endpoint does what the matching command does,
refusals are problem documents naming the field and change nothing, writes are audited with
the token's name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

from coprolib.cli import build_cli
from coprolib.testing.ledger_fixtures import LedgerTarget, make_target
from tests.conftest import EXAMPLE_BUNDLE
from tests.serve_support import (
    ALL_SCOPES,
    assert_problem,
    fill,
    get,
    ledger_state,
    northdale_config,
    post,
    serving,
)


@pytest.fixture
def target(tmp_path: Path) -> LedgerTarget:
    return make_target("sqlite", tmp_path)


@pytest.fixture
def api(target: LedgerTarget) -> Iterator[tuple[str, dict[str, str]]]:
    tokens = fill(
        target,
        ("case-system", ALL_SCOPES),
        ("reader", ("read",)),
        ("consent-only", ("read", "consent:write")),
    )
    with serving(target) as base:
        yield base, tokens


def _audit_actors(target: LedgerTarget) -> list[str]:
    return [str(r[0]) for r in target.raw("SELECT actor FROM audit ORDER BY seq")]


def test_health_ready_and_the_openapi_document_validates(api: Any) -> None:
    base, _ = api
    assert get(base, "/v1/health").json() == {"status": "ok"}
    ready = get(base, "/v1/ready").json()
    assert ready["status"] == "ready" and ready["schema_version"] >= 6
    doc = get(base, "/v1/openapi.json").json()
    validate(doc)
    assert "/v1/contributors/{contributor_id}/withdraw" in doc["paths"]
    assert "/v1/contributors/{contributor_id}/journey" in doc["paths"]


def test_withdrawal_is_recorded_audited_with_the_token_name_and_explained(
    api: Any, target: LedgerTarget
) -> None:
    base, tokens = api
    before = get(base, "/v1/explain/s-04", tokens["reader"]).json()["explanation"]
    r = post(
        base,
        "/v1/contributors/p-leigh/withdraw",
        tokens["consent-only"],
        json={"reason": "asked on the phone"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["consent_ids"] == ["c-04"] and r.json()["narrowing"] is False
    assert "consent-only" in _audit_actors(target)
    events = get(base, "/v1/consents/c-04", tokens["reader"]).json()
    assert events["consent"]["events"][-1]["type"] == "withdrawn"
    assert events["consent"]["events"][-1]["recorded_by"] == "consent-only"
    after = get(base, "/v1/explain/s-04", tokens["reader"]).json()["explanation"]
    assert after != before and any("withdr" in line for line in after)


def test_narrowing_names_a_purpose_and_keeps_the_consent(api: Any) -> None:
    base, tokens = api
    r = post(
        base,
        "/v1/contributors/p-taylor/narrow",
        tokens["case-system"],
        json={"purposes": ["training"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["narrowing"] is True
    state = get(base, "/v1/consents/c-07", tokens["reader"]).json()
    assert state["consent"]["events"][-1]["type"] == "withdrawn"
    refused = post(base, "/v1/contributors/p-taylor/narrow", tokens["case-system"], json={})
    assert_problem(refused, 422, "purposes")


def test_give_renew_correct_approve_and_override(api: Any) -> None:
    base, tokens = api
    t = tokens["consent-only"]
    given = post(
        base,
        "/v1/consents",
        t,
        json={
            "contributor_id": "p-jo",
            "story_ids": ["s-09"],
            "consent_id": "c-09-api",
            "terms": {"purposes": ["training"], "audiences": ["internal"]},
        },
    )
    assert given.status_code == 201, given.text
    assert given.json()["consent"]["id"] == "c-09-api"
    renewed = post(
        base, "/v1/consents/c-09-api/renew", t, json={"terms": {"expires": "2030-01-31"}}
    )
    assert renewed.status_code == 200, renewed.text
    corrected = post(
        base,
        "/v1/consents/c-09-api/correct",
        t,
        json={"reason": "audience written wrongly", "terms": {"audiences": ["partners"]}},
    )
    assert corrected.status_code == 200, corrected.text
    types = [e["type"] for e in get(base, "/v1/consents/c-09-api", t).json()["consent"]["events"]]
    assert types == ["given", "renewed", "renewed"]
    approve = post(base, "/v1/consents/c-02/approve", t, json={"insight_id": "i-02"})
    assert approve.status_code == 200, approve.text
    assert approve.json()["consent"]["events"][-1]["insight_id"] == "i-02"
    nothing_of_theirs = post(base, "/v1/consents/c-02/approve", t, json={"insight_id": "i-04"})
    assert_problem(nothing_of_theirs, 422, "consent_id")
    override = post(
        base,
        "/v1/consents/c-11/override",
        t,
        json={"reason": "best interests meeting 2026-11-02", "approver": "Head of Safeguarding"},
    )
    assert override.status_code == 200, override.text
    assert override.json()["consent"]["events"][-1]["type"] == "override"
    not_bi = post(base, "/v1/consents/c-04/override", t, json={"reason": "x", "approver": "y"})
    assert_problem(not_bi, 422, "consent_id")


def test_refusals_are_problems_naming_the_field_and_change_nothing(
    api: Any, target: LedgerTarget
) -> None:
    base, tokens = api
    before = ledger_state(target)
    # No token, an unknown one, a token without the scope.
    assert_problem(post(base, "/v1/contributors/p-jo/withdraw"), 401, "Authorization")
    assert_problem(
        post(base, "/v1/contributors/p-jo/withdraw", "cpl_" + "A" * 43), 401, "Authorization"
    )
    assert_problem(
        post(base, "/v1/contributors/p-jo/withdraw", tokens["reader"]), 403, "Authorization"
    )
    # Bad bodies: an unknown field, a wrong enum value, a missing field, not JSON at all.
    t = tokens["case-system"]
    assert_problem(
        post(base, "/v1/contributors/p-jo/withdraw", t, json={"resaon": "x"}), 422, "resaon"
    )
    assert_problem(
        post(
            base,
            "/v1/consents",
            t,
            json={"contributor_id": "p-jo", "terms": {"purposes": ["marketing"]}},
        ),
        422,
        "terms.purposes[0]",
    )
    assert_problem(post(base, "/v1/feedback/f-02/done", t, json={}), 422, "note")
    assert_problem(
        post(
            base,
            "/v1/feedback/f-02/done",
            t,
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "body",
    )
    assert_problem(
        post(
            base,
            "/v1/feedback/f-02/done",
            t,
            data=b"note=x",
            headers={"Content-Type": "text/plain"},
        ),
        415,
        "Content-Type",
    )
    # Refused by the library: unknown ids, a date before the last event.
    assert_problem(post(base, "/v1/contributors/p-nobody/withdraw", t), 404, "contributor_id")
    assert_problem(post(base, "/v1/feedback/f-404/done", t, json={"note": "x"}), 404)
    assert_problem(get(base, "/v1/explain/i-404", t), 404, "record_id")
    assert_problem(get(base, "/v1/explain/i-01?colour=red", t), 400, "colour")
    assert_problem(
        post(base, "/v1/consents/c-04/renew", t, json={"at": "1999-01-01T00:00:00Z"}),
        422,
        "consent_id",
    )
    assert_problem(get(base, "/v1/nowhere", t), 404, "path")
    assert ledger_state(target) == before


def test_feedback_due_and_done(api: Any, target: LedgerTarget) -> None:
    base, tokens = api
    owed = get(base, "/v1/feedback/due", tokens["reader"]).json()
    assert "f-02" in [f["id"] for f in owed]
    forbidden = post(
        base, "/v1/feedback/f-02/done", tokens["consent-only"], json={"note": "told by phone"}
    )
    assert_problem(forbidden, 403)
    done = post(base, "/v1/feedback/f-02/done", tokens["case-system"], json={"note": "phoned"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert "f-02" not in [f["id"] for f in get(base, "/v1/feedback/due", tokens["reader"]).json()]


def test_outcome_status_change_owes_feedback(api: Any) -> None:
    base, tokens = api
    r = post(
        base,
        "/v1/outcomes/o-03/status",
        tokens["case-system"],
        json={"status": "implemented", "note": "new triage rota live"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"]["timeline"][-1]["status"] == "implemented"
    bad = post(base, "/v1/outcomes/o-04/status", tokens["case-system"], json={"status": "agreed"})
    assert_problem(bad, 422, "status")


def _new_records() -> dict[str, Any]:
    return {
        "coprolib_bundle": 1,
        "contributors": [{"id": "p-api-01", "display_name": "Robin (fictional)"}],
        "stories": [
            {
                "id": "s-api-01",
                "contributor_ids": ["p-api-01"],
                "text": "The out-of-hours line kept me on hold for an hour.",
                "source": "workshop",
                "collected_on": "2026-10-01",
                "themes": ["access"],
            }
        ],
    }


def test_import_with_an_idempotency_key_writes_once(api: Any, target: LedgerTarget) -> None:
    base, tokens = api
    bundle = json.loads(EXAMPLE_BUNDLE.read_text())
    body = {**_new_records(), "coprolib_bundle": bundle["coprolib_bundle"]}
    key = {"Idempotency-Key": "2f1c9a4e-6b0d-4c1e-9f59-1a7d3e0b8c21"}
    first = post(base, "/v1/records", tokens["case-system"], headers=key, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["imported"] == {"contributors": 1, "stories": 1}
    state = ledger_state(target)
    again = post(base, "/v1/records", tokens["case-system"], headers=key, json=body)
    assert again.status_code == 201
    assert again.json() == {**first.json(), "replayed": True}
    assert ledger_state(target) == state
    other = post(
        base, "/v1/records", tokens["case-system"], headers=key, json={**body, "stories": []}
    )
    assert_problem(other, 422, "Idempotency-Key")
    # JSONL, and a refused import writes nothing.
    line = json.dumps({"type": "contributor", "id": "p-api-02"})
    jsonl = post(
        base,
        "/v1/records",
        tokens["case-system"],
        data=line.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert jsonl.status_code == 201, jsonl.text
    state = ledger_state(target)
    dup = post(base, "/v1/records", tokens["case-system"], json=body)
    assert_problem(dup, 422)
    forbidden = post(base, "/v1/records", tokens["consent-only"], json=_new_records())
    assert_problem(forbidden, 403)
    assert ledger_state(target) == state


def test_size_limit_cors_metrics_and_logs_without_personal_data(
    target: LedgerTarget, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = fill(target, ("case-system", ALL_SCOPES))
    t = tokens["case-system"]
    caplog.set_level("INFO", logger="coprolib.serve")
    with serving(target) as base:
        big = post(base, "/v1/records", t, json={"x": "a" * (11 * 1024 * 1024)})
        assert_problem(big, 413, "body")
        pre = get(base, "/v1/health", headers={"Origin": "https://crm.example.org"})
        assert "access-control-allow-origin" not in pre.headers
        post(base, "/v1/contributors/p-jo/withdraw", t, json={"reason": "Robin said so"})
        metrics = get(base, "/v1/metrics").text
    assert 'route="/v1/contributors/{contributor_id}/withdraw",status="200"' in metrics
    assert 'coprolib_writes_total{operation="withdrawConsent"} 1.0' in metrics
    assert "p-jo" not in metrics and "Robin" not in metrics
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "coprolib.serve")
    assert "POST /v1/contributors/{contributor_id}/withdraw 200" in logged
    assert "p-jo" not in logged and "Robin" not in logged and t not in logged
    config = northdale_config(
        '[plugins.serve]\nmax_body_bytes = 2048\ncors_origins = ["https://crm.example.org"]\n'
    )
    with serving(target, config) as base:
        assert_problem(post(base, "/v1/records", t, json={"x": "a" * 4096}), 413, "body")
        r = get(base, "/v1/health", headers={"Origin": "https://crm.example.org"})
        assert r.headers["access-control-allow-origin"] == "https://crm.example.org"


def test_tokens_created_listed_revoked_from_the_command_line(target: LedgerTarget) -> None:
    fill(target)
    runner = CliRunner()
    made = runner.invoke(
        build_cli(),
        ["token", "create", "dynamics-flow", "--scope", "read", "--ledger", target.url, "--json"],
    )
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)["token"]
    assert token.startswith("cpl_") and len(token) == 47
    stored = target.raw("SELECT token_hash FROM api_tokens WHERE name = 'dynamics-flow'")
    assert token not in str(stored) and len(stored[0][0]) == 64
    listed = runner.invoke(build_cli(), ["token", "list", "--ledger", target.url, "--json"])
    assert json.loads(listed.output)[0]["name"] == "dynamics-flow"
    assert token not in listed.output
    with serving(target) as base:
        assert get(base, "/v1/feedback/due", token).status_code == 200
        revoked = runner.invoke(
            build_cli(), ["token", "revoke", "dynamics-flow", "--ledger", target.url]
        )
        assert revoked.exit_code == 0, revoked.output
        assert_problem(get(base, "/v1/feedback/due", token), 401, "Authorization")
    bad = runner.invoke(
        build_cli(), ["token", "create", "x y", "--scope", "read", "--ledger", target.url]
    )
    assert bad.exit_code != 0 and "token name" in bad.output
    actions = [str(r[0]) for r in target.raw("SELECT action FROM audit")]
    assert "token_create" in actions and "token_revoke" in actions
    verified = runner.invoke(build_cli(), ["audit", "verify", "--ledger", target.url])
    assert verified.exit_code == 0, verified.output


def test_openapi_v2_export_validates(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        build_cli(), ["serve", "--openapi-v2", "--public-host", "coprolib.northdale.example.org"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["swagger"] == "2.0"
    validate(doc, cls=OpenAPIV2SpecValidator)
    withdraw = doc["paths"]["/v1/contributors/{contributor_id}/withdraw"]["post"]
    assert {p["in"] for p in withdraw["parameters"]} == {"path", "body"}


def test_journey_route_calls_the_journey_function(api: Any, target: LedgerTarget) -> None:
    journeys = pytest.importorskip("coprolib.report.journey")
    import datetime as dt

    base, tokens = api
    at = "2026-12-01T12:00:00+00:00"
    from urllib.parse import quote

    r = get(base, f"/v1/contributors/p-rowan/journey?at={quote(at)}", tokens["reader"])
    assert r.status_code == 200, r.text
    with target.open(actor="test") as ledger:
        direct = journeys.journey(
            ledger, "p-rowan", config=northdale_config(), moment=dt.datetime.fromisoformat(at)
        ).to_json()
    assert r.json() == json.loads(json.dumps(direct, default=str))


def test_the_readme_curl_examples_work(api: Any, target: LedgerTarget) -> None:
    import re
    import shutil
    import subprocess

    from tests.conftest import ROOT

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    base, tokens = api
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [m for m in re.findall(r"^\$ (curl .*)$", readme, flags=re.M) if "/v1/" in m]
    assert len(lines) == 2 and "withdraw" in lines[0] and "journey" in lines[1]
    outputs = []
    for line in lines:
        command = line.replace("http://127.0.0.1:8080", base) + " --max-time 30 --silent"
        done = subprocess.run(
            ["bash", "-c", command],
            env={"COPROLIB_TOKEN": tokens["consent-only"], "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0]["consent_ids"] == ["c-02"]
    assert target.raw("SELECT count(*) FROM consent_events WHERE consent_id = 'c-02'")[0][0] == 3
    try:
        import coprolib.report.journey  # noqa: F401
    except ImportError:
        assert outputs[1]["status"] == 501
    else:
        assert "status" not in outputs[1] or outputs[1]["status"] != 501


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('[plugins.serve]\ncors_origins = "*"\n', "plugins.serve.cors_origins"),
        ("[plugins.serve]\nmax_body_bytes = 10\n", "plugins.serve.max_body_bytes"),
        ("[plugins.serve]\nlimit = 1\n", "plugins.serve.limit: unknown key"),
        (
            '[plugins.serve.webhooks.mosaic]\nsecret = "whsec_c2VjcmV0"\n',
            "write secrets as $env:NAME",
        ),
        (
            '[plugins.serve.webhooks.mosaic]\nsecret = "$env:COPROLIB_TEST_UNSET_SECRET"\n',
            "COPROLIB_TEST_UNSET_SECRET, which is not set",
        ),
        ('[plugins.serve.entra]\naudience = "api://x"\n', "plugins.serve.entra.tenant_id"),
        (
            '[plugins.serve.webhooks.mosaic]\nsecret = "$env:PATH"\n',
            "does not hold a signing secret",
        ),
    ],
)
def test_a_bad_serve_configuration_is_one_line_naming_the_key(
    tmp_path: Path, toml: str, says: str
) -> None:
    config = tmp_path / "coprolib.toml"
    config.write_text(toml)
    result = CliRunner().invoke(build_cli(), ["serve", "--openapi", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert "c2VjcmV0" not in result.output
