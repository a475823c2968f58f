"""Property-based testing of ``coprolib serve`` against the OpenAPI document it serves
(schemathesis): no 5xx, every 4xx an RFC 9457 problem naming the field, the answers as the
document says, and the ledger unchanged after every refused request."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from coprolib.testing.ledger_fixtures import LedgerTarget, make_target
from tests.serve_support import ALL_SCOPES, bearer, fill, ledger_state, serving

#: Examples per operation: bounded so the whole run stays well under a minute.
EXAMPLES = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, LedgerTarget]]:
    target = make_target("sqlite", Path(tmp_path_factory.mktemp("schemathesis")))
    token = fill(target, ("fuzz", ALL_SCOPES))["fuzz"]
    with serving(target) as base:
        yield base, token, target


#: Ids the example ledger holds, so that generated requests also reach the functions behind.
KNOWN = {
    "contributor_id": "p-jo",
    "consent_id": "c-09",
    "record_id": "i-01",
    "feedback_id": "f-02",
    "outcome_id": "o-03",
    "source": "mosaic",
}


def _strategy(operation: Any) -> Any:
    known = {
        k: v for k, v in KNOWN.items() if "{" + k + "}" in operation.path
    }  # only this operation's own path parameters
    modes = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if known:
        modes.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    return st.one_of(modes)


def _check(case: Any, base: str, token: str, target: LedgerTarget) -> None:
    # Tokens are tested on their own (test_serve.py, test_serve_auth.py): here every request
    # carries one that may do everything, so the generated data reaches the functions behind.
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    headers.update(bearer(token))
    before = ledger_state(target)
    response = case.call(base_url=base, headers=headers)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if 400 <= response.status_code < 500:
        media = response.headers.get("content-type", [""])[0]
        assert media.startswith("application/problem+json"), (
            case.method,
            case.path,
            response.text,
        )
        problem = response.json()
        assert problem["status"] == response.status_code and problem["field"], problem
        assert ledger_state(target) == before, (case.method, case.path, response.text)


def test_the_api_keeps_its_served_document(served: tuple[str, str, LedgerTarget]) -> None:
    base, token, target = served
    document = requests.get(base + "/v1/openapi.json", timeout=30).json()
    api = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())
    for operation in operations:
        if operation.path.endswith("/journey") and find_spec("coprolib.report.journey") is None:
            continue  # 501 by design until coprolib.report.journey is installed

        @given(case=_strategy(operation))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            _check(case, base, token, target)

        run()
