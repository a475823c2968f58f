"""ServiceNow error replies mapped to coprolib's error classes.

The REST APIs answer a failure with an HTTP status and ``{"error": {"message", "detail"},
"status": "failure"}`` (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_RESTAPI.html).
A rate limit rule answers ``429`` with ``Retry-After`` (seconds) beside ``X-RateLimit-Limit``,
``X-RateLimit-Reset`` (Unix time of the next reset) and ``X-RateLimit-Rule``
(https://www.servicenow.com/docs/r/api-reference/rest-api-explorer/inbound-REST-API-rate-limiting.html);
the whole destination pauses until then.

A Table API ``DELETE`` of a record that is not there answers ``404`` "No Record found"; so does
one the integration user's ACLs hide, which is why ``check()`` reads the target table first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    ConflictError,
    PermanentError,
    RetryableError,
    ThrottledError,
)
from coprolib.adapters.http import parse_retry_after

MESSAGE_LIMIT = 300
#: How long a 429 without ``Retry-After`` or ``X-RateLimit-Reset`` pauses the destination.
DEFAULT_THROTTLE_SECONDS = 60.0


class RecordMissingError(PermanentError):
    """404: no such record (for a delete: it is already gone)."""


def error_parts(body: Any) -> tuple[str, str]:
    """``(message, detail)`` of a ServiceNow error body; empty strings when it has none."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body) if body else None
        except ValueError:
            return "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return (
            str(error.get("message") or "")[:MESSAGE_LIMIT],
            str(error.get("detail") or "")[:MESSAGE_LIMIT],
        )
    return "", ""


def throttle_seconds(headers: Mapping[str, str], now: float) -> float:
    """How long to pause after a 429: ``Retry-After``, else until ``X-RateLimit-Reset``
    (``now`` is the Unix time), else :data:`DEFAULT_THROTTLE_SECONDS`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered.get("retry-after"))
    if retry_after is not None:
        return retry_after
    try:
        return max(0.0, float(lowered["x-ratelimit-reset"]) - now)
    except (KeyError, ValueError):
        return DEFAULT_THROTTLE_SECONDS


def classify(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    what: str,
    wall: Callable[[], float],
) -> AdapterError:
    """The coprolib error for a non-2xx ServiceNow reply to ``what`` (e.g. "import")."""
    message, detail = error_parts(body)
    text = f"ServiceNow {status}" + (f": {message}" if message else "")
    text += f" ({detail})" if detail else ""
    if status == 429:
        lowered = {k.lower(): v for k, v in headers.items()}
        rule = lowered.get("x-ratelimit-rule")
        limit = lowered.get("x-ratelimit-limit")
        extra = f"; rule {rule}, {limit} requests an hour" if rule and limit else ""
        return ThrottledError(
            f"{what}: rate limit reached, pausing ({text}{extra})",
            retry_after=throttle_seconds(headers, wall()),
        )
    if status == 401:
        return AuthError(f"{what}: not signed in ({text}); check the OAuth application")
    if status == 403:
        return AuthError(
            f"{what}: refused ({text}); give the OAuth application user the roles the README lists"
        )
    if status == 404:
        return RecordMissingError(f"{what}: no such record ({text})")
    if status in (409, 412):
        return ConflictError(f"{what}: {text}")
    if status == 408 or status >= 500:
        lowered = {k.lower(): v for k, v in headers.items()}
        return RetryableError(
            f"{what}: {text}", retry_after=parse_retry_after(lowered.get("retry-after"))
        )
    return PermanentError(f"{what}: {text}")
