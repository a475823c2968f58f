"""Bundles and JSONL: round trips, exact errors with paths, and the JSON Schema."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprolib.records.bundle import (
    Bundle,
    BundleError,
    bundle_from_data,
    bundle_to_data,
    dumps_bundle,
    iter_jsonl,
    load_bundle,
    loads_bundle,
    write_jsonl,
)
from coprolib.records.convert import structure, unstructure
from coprolib.records.schema import bundle_schema, bundle_schema_text
from coprolib.testing import strategies as cst

from .conftest import EXAMPLE_BUNDLE, ROOT

RECORD_STRATEGIES = [
    cst.contributors(),
    cst.stories(),
    cst.consents(),
    cst.insights(),
    cst.outcomes(),
    cst.feedback(),
    cst.activities(),
    cst.consent_terms(),
]


@pytest.mark.parametrize("strategy", RECORD_STRATEGIES, ids=lambda s: repr(s)[:30])
def test_every_type_round_trips_through_json_text(strategy: st.SearchStrategy[Any]) -> None:
    @given(strategy)
    def check(record: Any) -> None:
        text = json.dumps(unstructure(record))
        assert structure(json.loads(text), type(record)) == record

    check()


@given(cst.bundles())
def test_whole_bundles_round_trip_and_validate_against_the_schema(bundle: Bundle) -> None:
    text = dumps_bundle(bundle)
    assert loads_bundle(text) == bundle
    jsonschema.Draft202012Validator(bundle_schema()).validate(json.loads(text))


@given(cst.bundles())
def test_jsonl_round_trip(bundle: Bundle) -> None:
    buf = io.StringIO()
    write_jsonl(bundle.records(), buf)
    assert list(iter_jsonl(buf.getvalue().splitlines())) == list(bundle.records())


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "docs" / "schema" / "bundle.schema.json").read_text(encoding="utf-8")
    assert committed == bundle_schema_text(), (
        "docs/schema/bundle.schema.json is stale: run "
        "`coprolib schema > docs/schema/bundle.schema.json`"
    )


def test_example_bundle_loads_and_validates() -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    assert bundle.counts()["stories"] >= 10
    jsonschema.Draft202012Validator(bundle_schema()).validate(
        json.loads(EXAMPLE_BUNDLE.read_text(encoding="utf-8"))
    )


def _example_data() -> dict[str, Any]:
    return copy.deepcopy(bundle_to_data(load_bundle(EXAMPLE_BUNDLE)))


def test_every_problem_is_listed_with_its_path() -> None:
    data = _example_data()
    data["stories"][3]["themes"][0] = 5
    data["consents"][0]["events"][0]["terms"]["purposes"][1] = "marketing"
    data["insights"][1]["colour"] = "blue"
    data["activities"][0]["rung"] = 8
    with pytest.raises(BundleError) as err:
        bundle_from_data(data)
    messages = [str(p) for p in err.value.problems]
    assert "stories[3].themes[0]: expected a string, got 5" in messages
    assert any(
        m.startswith(
            "consents[0].events[0].terms.purposes[1]: 'marketing' is not a purpose (one of:"
        )
        for m in messages
    )
    assert any(m.startswith("insights[1].colour: unknown field") for m in messages)
    assert "activities[0].rung: 8 is not a ladder rung (one of: 1, 2, 3, 4, 5, 6, 7)" in messages
    assert len(messages) == 4


def test_validation_errors_inside_records_carry_the_record_path() -> None:
    data = _example_data()
    data["stories"][0]["quotes"][0]["end"] = 10_000
    data["consents"][2]["events"].append({"type": "override", "at": "2026-02-01T00:00:00Z"})
    with pytest.raises(BundleError) as err:
        bundle_from_data(data)
    paths = [p.path for p in err.value.problems]
    assert "stories[0].quotes[0]" in paths
    assert "consents[2].events[2].reason" in paths


def test_unknown_versions_and_sections_name_what_is_supported() -> None:
    with pytest.raises(BundleError, match="reads bundle version 1"):
        bundle_from_data({"coprolib_bundle": 7})
    with pytest.raises(BundleError, match="is missing"):
        bundle_from_data({"stories": []})
    with pytest.raises(BundleError, match=r"unknown section \(known: contributors"):
        bundle_from_data({"coprolib_bundle": 1, "people": []})


def test_references_and_duplicate_ids_are_checked() -> None:
    data = _example_data()
    data["stories"][1]["contributor_ids"] = ["p-nobody"]
    data["insights"].append(copy.deepcopy(data["insights"][0]))
    with pytest.raises(BundleError) as err:
        bundle_from_data(data)
    messages = [str(p) for p in err.value.problems]
    assert (
        "stories[1].contributor_ids[0]: 'p-nobody' is not one of the bundle's contributors"
        in messages
    )
    assert any(m.startswith(f"insights[{len(data['insights']) - 1}].id:") for m in messages)


def test_invalid_json_and_bad_jsonl_lines_name_the_line() -> None:
    with pytest.raises(BundleError, match="line 1 column"):
        loads_bundle("{not json")
    lines = ['{"type": "contributor", "id": "p-1"}', '{"type": "widget"}']
    with pytest.raises(BundleError, match=r"line 2\.type: 'widget' is not a record type"):
        list(iter_jsonl(lines))
