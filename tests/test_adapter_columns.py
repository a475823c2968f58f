"""Shares as table rows: mappable fields, checking a mapping, rendering values, fitting text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprolib.adapters import columns
from coprolib.records import ConsentRef, Share, SharedQuote
from coprolib.records.enums import FeedbackChannel, IdentityLevel, SARDomain
from coprolib.testing.shares import PLANNED_AT, canonical_shares, make_share


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _no_rule(column: str) -> str | None:
    return None


def test_fields_are_every_share_field_but_the_key_and_the_recipient() -> None:
    names = [a.name for a in attrs.fields(Share)]
    assert set(columns.FIELDS) == set(names) - {"idempotency_key", "recipient"}
    assert list(columns.FIELDS) == [n for n in names if n in columns.FIELDS]
    assert "idempotency_key" not in columns.FIELDS
    assert "recipient" not in columns.FIELDS


def test_check_mapping_accepts_every_field() -> None:
    columns.check_mapping({field: f"col_{field}" for field in columns.FIELDS}, _no_rule)


@pytest.mark.parametrize("field", ["nonsense", "idempotency_key", "recipient", ""])
def test_check_mapping_names_a_field_that_is_not_mappable(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^columns\.{field}: not a share field \(one of id, "):
        columns.check_mapping({"title": "t", field: "x"}, _no_rule)


def test_check_mapping_reports_the_adapters_column_rule() -> None:
    seen: list[str] = []

    def rule(column: str) -> str | None:
        seen.append(column)
        return "is not allowed" if column.startswith("bad") else None

    with pytest.raises(ValueError, match=r"^columns\.body: 'bad_body' is not allowed$"):
        columns.check_mapping({"title": "ok", "body": "bad_body", "digest": "bad_too"}, rule)
    assert seen == ["ok", "bad_body"]


def test_render_values_of_each_kind() -> None:
    stamp = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert columns.render(None, _iso) is None
    assert columns.render(IdentityLevel.NAMED, _iso) == "named"
    assert columns.render(SARDomain.DIRECT_PRACTICE, _iso) == SARDomain.DIRECT_PRACTICE.value
    assert columns.render(FeedbackChannel.EMAIL, _iso) == "email"
    assert columns.render(stamp, _iso) == "2026-03-02T09:30:00Z"
    assert columns.render(stamp, lambda m: m.date().isoformat()) == "2026-03-02"
    assert columns.render(7, _iso) == 7
    assert columns.render("text", _iso) == "text"
    assert columns.render((), _iso) is None
    assert columns.render(("a", "b"), _iso) == "a\nb"
    quotes = (SharedQuote(text="one", story_ref="s1"), SharedQuote(text="two", story_ref="s2"))
    assert columns.render(quotes, _iso) == "one\ntwo"
    refs = (ConsentRef(consent_id="c-1", version=3), ConsentRef(consent_id="c-2", version=1))
    assert columns.render(refs, _iso) == "c-1@v3\nc-2@v1"
    assert columns.render((stamp, IdentityLevel.ANONYMOUS), _iso) == (
        "2026-03-02T09:30:00Z\nanonymous"
    )


@settings(max_examples=200)
@given(text=st.text(max_size=60), limit=st.integers(min_value=0, max_value=80))
def test_fit_keeps_short_text_and_cuts_long_text_with_an_ellipsis(text: str, limit: int) -> None:
    fitted = columns.fit(text, limit)
    if len(text) <= limit:
        assert fitted == text
    else:
        assert fitted.endswith(columns.ELLIPSIS)
        assert len(fitted) == max(1, limit)
        assert text.startswith(fitted[:-1])


def test_mapped_values_render_fit_and_keep_the_mapping_order() -> None:
    share = make_share(
        "s-9",
        title="A title that is too long",
        quotes=(SharedQuote(text="said so", story_ref="st-1"),),
        consent_version=2,
    )
    mapping = {"planned_at": "When", "title": "Title", "quotes": "Quotes", "consent_refs": "Refs"}
    values = columns.mapped_values(share, mapping, {"Title": 8, "Quotes": 100}, _iso)
    assert list(values) == ["When", "Title", "Quotes", "Refs"]
    assert values == {
        "When": _iso(PLANNED_AT),
        "Title": "A title…",
        "Quotes": "said so",
        "Refs": "c-1@v2",
    }


def test_mapped_values_of_every_field_of_the_canonical_shares() -> None:
    mapping = {field: field.upper() for field in columns.FIELDS}
    for share in canonical_shares():
        values = columns.mapped_values(share, mapping, {"BODY": 50}, _iso)
        assert set(values) == {field.upper() for field in columns.FIELDS}
        assert values["ID"] == share.id
        assert values["CONTRIBUTOR_COUNT"] == share.contributor_count
        assert values["PLANNED_AT"] == _iso(share.planned_at)
        assert len(values["BODY"]) <= 50
        for value in values.values():
            assert value is None or isinstance(value, str | int)


def _share_with(**changes: Any) -> Share:
    return attrs.evolve(make_share("s-1"), **changes)


def test_mapped_values_leave_none_and_numbers_unfitted() -> None:
    share = _share_with(recommendation=None, contributor_count=123456)
    values = columns.mapped_values(
        share, {"recommendation": "R", "contributor_count": "N"}, {"R": 1, "N": 1}, _iso
    )
    assert values == {"R": None, "N": 123456}
