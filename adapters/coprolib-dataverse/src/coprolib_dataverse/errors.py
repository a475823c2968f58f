"""Dataverse error replies mapped to coprolib's error classes.

Dataverse answers a failed Web API request with an HTTP status and a body
``{"error": {"code": "0x80040237", "message": "..."}}`` (see "Troubleshoot Dataverse Web API
client errors",
https://learn.microsoft.com/en-us/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors,
and "Service protection API limits",
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits). The HTTP status decides
the class; a few codes refine it and every message says what a council IT officer should check.
"""

from __future__ import annotations

from collections.abc import Mapping

from coprolib_entra.replies import read_error

from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    ConflictError,
    PermanentError,
    RetryableError,
    ThrottledError,
)

#: Service protection limit codes (number of requests, execution time, concurrent requests).
SERVICE_PROTECTION = frozenset({"0x80072322", "0x80072321", "0x80072326"})
#: "Resource not found for the segment": the entity set name is wrong.
UNKNOWN_SEGMENT = "0x8006088a"
#: "A record with matching key values already exists."
DUPLICATE_KEY = "0x80040237"
#: "Entity ... With Ids = ... Does Not Exist." (a row addressed by its primary key)
DOES_NOT_EXIST = "0x80040217"
#: "A record with the specified key values does not exist in <table> entity" (a row addressed by
#: an alternate key, as this adapter addresses every row)
KEY_DOES_NOT_EXIST = "0x80060891"

#: When nothing says otherwise, how long a throttled destination pauses (seconds).
DEFAULT_THROTTLE_SECONDS = 60.0


class RowMissingError(PermanentError):
    """404: no row has that key (for a delete: it is already gone)."""


def classify(
    status: int, headers: Mapping[str, str], body: bytes | str | None, *, what: str
) -> AdapterError:
    """The coprolib error for a non-2xx Dataverse reply to ``what`` (e.g. "upsert")."""
    reply = read_error("Dataverse", status, headers, body)
    code, detail, retry_after = reply.code, reply.detail, reply.retry_after
    if status == 429 or code in SERVICE_PROTECTION:
        return ThrottledError(
            f"{what}: service protection limit reached, pausing ({detail})",
            retry_after=DEFAULT_THROTTLE_SECONDS if retry_after is None else retry_after,
        )
    if status == 401:
        return AuthError(f"{what}: token refused ({detail}); check the app registration")
    if status == 403:
        return AuthError(
            f"{what}: permission denied ({detail}); give the application user a security role "
            "with create, write and delete on the table"
        )
    if code == UNKNOWN_SEGMENT:
        return PermanentError(f"{what}: no such table ({detail}); check entity_set")
    if status == 404 and code in ("", DOES_NOT_EXIST, KEY_DOES_NOT_EXIST):
        return RowMissingError(f"{what}: no such row ({detail})")
    if code == DUPLICATE_KEY or status in (409, 412):
        return ConflictError(f"{what}: the record disagrees with this share ({detail})")
    if status == 408 or status >= 500:
        return RetryableError(f"{what}: {detail}", retry_after=retry_after)
    return PermanentError(f"{what}: {detail}")
