"""Microsoft's JSON error replies, read the same way for every Microsoft adapter.

Dataverse's Web API and Microsoft Graph both answer a failed request with an HTTP status, maybe a
``Retry-After`` header, and a body ``{"error": {"code": "...", "message": "..."}}`` (Dataverse:
"Troubleshoot Dataverse Web API client errors"; Graph: "Microsoft Graph error responses and
resource types"). :func:`read_error` reads those parts once; what a status or code *means* (which
coprolib error class, what to check) stays in each adapter's ``classify``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from coprolib.adapters.http import parse_retry_after

__all__ = ["ErrorReply", "error_parts", "read_error"]

#: How much of a service's error message goes into ours.
MESSAGE_LIMIT = 300


@attrs.frozen(kw_only=True)
class ErrorReply:
    """The parts of one failed reply: ``service`` names who answered (``"Graph"``)."""

    service: str
    status: int
    code: str
    message: str
    retry_after: float | None

    @property
    def detail(self) -> str:
        """``"<service> <status> <code>: <message>"``, leaving out what is empty."""
        code = f" {self.code}" if self.code else ""
        message = f": {self.message}" if self.message else ""
        return f"{self.service} {self.status}{code}{message}"


def error_parts(body: Any) -> tuple[str, str]:
    """``(code, message)`` of an error body (JSON text, bytes or already parsed); empty strings
    when it has none or cannot be read. The message is cut to :data:`MESSAGE_LIMIT` characters."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body) if body else None
        except ValueError:
            return "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("code") or ""), str(error.get("message") or "")[:MESSAGE_LIMIT]
    return "", ""


def read_error(service: str, status: int, headers: Mapping[str, str], body: Any) -> ErrorReply:
    """The parts of a non-2xx reply: status, error code and message, and ``Retry-After``."""
    code, message = error_parts(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    return ErrorReply(
        service=service,
        status=status,
        code=code,
        message=message,
        retry_after=parse_retry_after(lowered.get("retry-after")),
    )
