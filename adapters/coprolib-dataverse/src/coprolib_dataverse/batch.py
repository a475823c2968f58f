"""OData ``$batch`` bodies: build a ``multipart/mixed`` request of independent operations and read
the ``multipart/mixed`` response back into one :class:`PartResponse` per operation, in order.

Format (OData 4.0 Part 1 section 11.7, as Dataverse documents it in "Execute batch operations
using the Web API",
https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api)::

    --batch_<id>
    Content-Type: application/http
    Content-Transfer-Encoding: binary

    PATCH https://org.crm11.dynamics.com/api/data/v9.2/tables(key='k') HTTP/1.1
    Content-Type: application/json

    {"column": "value"}
    --batch_<id>--

The response repeats the structure with ``--batchresponse_<id>`` boundaries and an embedded
``HTTP/1.1 204 No Content`` (plus headers such as ``OData-EntityId``) or an error status with a
JSON ``{"error": {"code", "message"}}`` body in each part. A change set inside the response
(``multipart/mixed; boundary=changesetresponse_...``) is read recursively.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

import attrs

from coprolib.errors import CoprolibError

#: The most operations Dataverse accepts in one ``$batch`` request.
MAX_BATCH = 1000

CRLF = "\r\n"


@attrs.frozen(kw_only=True)
class Operation:
    """One request inside a batch: method, absolute URL, headers and an optional JSON body."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class PartResponse:
    """One operation's response inside a batch response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None when empty or unreadable)."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None


def build(operations: Sequence[Operation], boundary: str | None = None) -> tuple[str, bytes]:
    """The ``Content-Type`` header value and the body of a batch of independent operations."""
    if len(operations) > MAX_BATCH:
        raise ValueError(f"a $batch holds at most {MAX_BATCH} operations, got {len(operations)}")
    boundary = boundary or f"batch_{uuid.uuid4().hex}"
    lines: list[str] = []
    for number, op in enumerate(operations, start=1):
        lines += [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {number}",
            "",
            f"{op.method} {op.url} HTTP/1.1",
        ]
        headers = dict(op.headers)
        payload = ""
        if op.body is not None:
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            payload = json.dumps(op.body, ensure_ascii=False, separators=(",", ":"))
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["", payload]
    lines.append(f"--{boundary}--")
    lines.append("")
    return f"multipart/mixed; boundary={boundary}", CRLF.join(lines).encode()


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})")


class BatchFormatError(CoprolibError, ValueError):
    """The batch response could not be read."""


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a ``multipart/mixed`` content type."""
    found = _BOUNDARY.search(content_type or "")
    if not found or "multipart/mixed" not in content_type.lower():
        raise BatchFormatError(f"not a multipart/mixed batch response ({content_type!r})")
    return found.group(1).strip()


def parse(content_type: str, body: bytes) -> list[PartResponse]:
    """Every operation response in a batch response body, in order (change sets flattened)."""
    boundary = boundary_of(content_type).encode()
    delimiter = b"--" + boundary
    if delimiter + b"--" not in body:
        raise BatchFormatError("the batch response ended early (no closing boundary)")
    responses: list[PartResponse] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        part_headers, part_body = _split_headers(chunk.lstrip(b"\r\n"))
        kind = part_headers.get("content-type", "")
        if kind.lower().startswith("multipart/mixed"):
            responses.extend(parse(kind, part_body))
            continue
        responses.append(_embedded_response(part_body))
    return responses


def _split_headers(block: bytes) -> tuple[dict[str, str], bytes]:
    block = block.replace(b"\r\n", b"\n")
    head, _, rest = block.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _embedded_response(block: bytes) -> PartResponse:
    block = block.replace(b"\r\n", b"\n").lstrip(b"\n")
    first, _, rest = block.partition(b"\n")
    match = _STATUS_LINE.match(first.decode("utf-8", "replace"))
    if match is None:
        raise BatchFormatError("a batch response part has no HTTP status line")
    headers, body = _split_headers(rest if rest.strip() else b"")
    if not rest.strip():
        headers, body = {}, b""
    return PartResponse(status=int(match.group(1)), headers=headers, body=body.rstrip(b"\n"))
