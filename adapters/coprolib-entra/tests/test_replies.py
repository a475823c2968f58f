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


def test_error_reply_is_read_back_by_read_error() -> None:
    from coprolib_entra.testing import error_reply

    reply = error_reply(429, "TooManyRequests", "Slow down", {"Retry-After": "3"})
    assert reply.headers["Content-Type"] == "application/json"
    parsed = read_error("Graph", reply.status, reply.headers, reply.body)
    assert (parsed.code, parsed.message, parsed.retry_after) == ("TooManyRequests", "Slow down", 3)
    odata = error_reply(400, "0x0", "m", content_type="application/json; odata.metadata=minimal")
    assert odata.headers == {"Content-Type": "application/json; odata.metadata=minimal"}


def test_local_service_throttles_in_order_and_counts_whole_requests() -> None:
    from coprolib_entra.testing import LocalService

    service = LocalService()
    assert service.next_throttle() is None and service.next_item_throttle() is None
    service.throttle(2, retry_after="5")
    service.throttle(1, retry_after="9")
    service.throttle_items(1, retry_after="2")
    assert [service.next_throttle() for _ in range(4)] == ["5", "5", "9", None]
    assert service.requests["throttled"] == 3
    assert [service.next_item_throttle(), service.next_item_throttle()] == ["2", None]
    assert service.requests["throttled"] == 3
