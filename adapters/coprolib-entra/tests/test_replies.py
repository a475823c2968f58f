"""Reading Microsoft's JSON error replies (shared by the Dataverse and Graph adapters)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from coprolib_entra.replies import MESSAGE_LIMIT, error_parts, read_error


def _body(code: Any, message: Any) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _body("0x80040237", "A record with matching key values already exists."),
            ("0x80040237", "A record with matching key values already exists."),
        ),
        (
            _body("itemNotFound", "The resource could not be found.").decode(),
            ("itemNotFound", "The resource could not be found."),
        ),
        (
            {"error": {"code": "TooManyRequests", "message": "Please retry."}},
            ("TooManyRequests", "Please retry."),
        ),
        (_body(None, None), ("", "")),
        (b"", ("", "")),
        (None, ("", "")),
        (b"<html>proxy error</html>", ("", "")),
        (b"\xff\xfe", ("", "")),
        (b'["error"]', ("", "")),
        (b'{"error": "flat string"}', ("", "")),
        (b'"text"', ("", "")),
        ({"other": 1}, ("", "")),
    ],
)
def test_error_parts(body: Any, expected: tuple[str, str]) -> None:
    assert error_parts(body) == expected


def test_error_parts_cuts_a_long_message() -> None:
    code, message = error_parts(_body("x", "m" * 1000))
    assert (code, len(message)) == ("x", MESSAGE_LIMIT)


def test_read_error_reads_retry_after_whatever_the_header_case() -> None:
    reply = read_error("Graph", 429, {"RETRY-AFTER": "17"}, _body("TooManyRequests", "Slow down"))
    assert reply.retry_after == 17.0
    assert reply.detail == "Graph 429 TooManyRequests: Slow down"
    assert read_error("Graph", 503, {}, b"").retry_after is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (_body("0x0", "Bad column"), "Dataverse 400 0x0: Bad column"),
        (_body("", "Bad column"), "Dataverse 400: Bad column"),
        (_body("0x0", ""), "Dataverse 400 0x0"),
        (b"", "Dataverse 400"),
    ],
)
def test_detail_leaves_out_what_is_empty(body: bytes, detail: str) -> None:
    assert read_error("Dataverse", 400, {}, body).detail == detail
