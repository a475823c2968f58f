"""Salesforce error replies mapped to coprolib's error classes.

A failed REST API request answers with an HTTP status and a JSON array of errors,
``[{"message": "...", "errorCode": "NOT_FOUND", "fields": [...]}]``; an item of an sObject
Collections reply carries ``{"statusCode", "message", "fields"}`` in its ``errors`` instead
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm,
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html).

``REQUEST_LIMIT_EXCEEDED`` (HTTP 403) means the org's API request limit is used up: the whole
destination pauses, as for a 429. ``NOT_FOUND`` to a delete by External ID means the record is
already gone, unless the message says the External ID *field* is unknown (a set-up fault).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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

#: How much of Salesforce's message goes into ours.
MESSAGE_LIMIT = 300

#: Item or request error codes after which the same request may succeed later.
TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}
)
#: Codes meaning another record already holds a unique value.
DUPLICATE_CODES = frozenset({"DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID", "DUPLICATES_DETECTED"})
#: Codes meaning the record is not there (any more).
GONE_CODES = frozenset({"NOT_FOUND", "ENTITY_IS_DELETED"})
#: The start of the message Salesforce gives when the External ID field in the URL is unknown.
UNKNOWN_FIELD_MESSAGE = "Provided external ID field does not exist"


class RecordMissingError(PermanentError):
    """No record has that External ID (for a delete: it is already gone)."""


def error_parts(body: Any) -> tuple[str, str, list[str]]:
    """``(errorCode, message, fields)`` of the first error in a reply body (bytes, text or parsed
    JSON); empty when there is none or it cannot be read."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body) if body else None
        except ValueError:
            return "", "", []
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if not isinstance(body, dict):
        return "", "", []
    code = str(body.get("errorCode") or body.get("statusCode") or "")
    message = str(body.get("message") or "")[:MESSAGE_LIMIT]
    fields = [str(f) for f in body.get("fields") or [] if isinstance(f, str)]
    return code, message, fields


def _detail(status: int | None, code: str, message: str, fields: list[str]) -> str:
    where = f" [{', '.join(fields)}]" if fields else ""
    head = f"Salesforce {status}" if status is not None else "Salesforce"
    return f"{head} {code}: {message}{where}".replace(" : ", ": ").strip()


def classify_code(
    code: str,
    message: str,
    fields: list[str],
    *,
    what: str,
    status: int | None = None,
    retry_after: float | None = None,
    limit_pause: float = 3600.0,
) -> AdapterError:
    """The coprolib error for a Salesforce error code (from a whole reply or one item)."""
    detail = _detail(status, code, message, fields)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return ThrottledError(
            f"{what}: the org's API request limit is reached, pausing ({detail})",
            retry_after=limit_pause if retry_after is None else retry_after,
        )
    if code in TRANSIENT_CODES:
        return RetryableError(f"{what}: {detail}", retry_after=retry_after)
    if code in DUPLICATE_CODES:
        return ConflictError(f"{what}: another record holds this value ({detail})")
    if code in GONE_CODES and not message.startswith(UNKNOWN_FIELD_MESSAGE):
        return RecordMissingError(f"{what}: no such record ({detail})")
    if code == "INVALID_SESSION_ID":
        return AuthError(f"{what}: access token refused ({detail}); check the connected app")
    if code in ("INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "API_DISABLED_FOR_ORG"):
        return AuthError(
            f"{what}: permission denied ({detail}); give the integration user a permission set "
            "with Create, Read, Edit and Delete on the object and its fields"
        )
    return PermanentError(f"{what}: {detail}")


def classify(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    what: str,
    limit_pause: float = 3600.0,
) -> AdapterError:
    """The coprolib error for a non-2xx Salesforce reply to ``what`` (e.g. "upsert")."""
    code, message, fields = error_parts(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered.get("retry-after"))
    detail = _detail(status, code, message, fields)
    if status == 429:
        return ThrottledError(
            f"{what}: Salesforce asked us to slow down ({detail})",
            retry_after=60.0 if retry_after is None else retry_after,
        )
    if code:
        error = classify_code(
            code,
            message,
            fields,
            what=what,
            status=status,
            retry_after=retry_after,
            limit_pause=limit_pause,
        )
        if not (isinstance(error, PermanentError) and type(error) is PermanentError):
            return error
        if status >= 500:
            return RetryableError(f"{what}: {detail}", retry_after=retry_after)
        return error
    if status == 300:
        return ConflictError(f"{what}: more than one record has this External ID ({detail})")
    if status == 401:
        return AuthError(f"{what}: access token refused ({detail})")
    if status == 403:
        return AuthError(f"{what}: request refused ({detail}); check the integration user")
    if status in (409, 412):
        return ConflictError(f"{what}: the record disagrees with this share ({detail})")
    if status == 408 or status >= 500:
        return RetryableError(f"{what}: {detail}", retry_after=retry_after)
    return PermanentError(f"{what}: {detail}")
