"""Microsoft Graph plumbing for the SharePoint list adapter: JSON batching and error replies.

JSON batching (https://learn.microsoft.com/en-ca/graph/json-batching): ``POST /$batch`` with
``{"requests": [{"id", "method", "url", "headers", "body"}]}``, at most 20 requests, each URL
relative to the version root; the reply is ``{"responses": [{"id", "status", "headers", "body"}]}``
in any order, one per request, each with its own status (a throttled request has its own 429 and
``Retry-After``).

Errors (https://learn.microsoft.com/graph/throttling and the Graph error format): a status and
``{"error": {"code": "itemNotFound", "message": ...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from coprolib_entra.replies import read_error

from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    ConflictError,
    PermanentError,
    RetryableError,
    ThrottledError,
)

#: The most requests Graph takes in one JSON batch.
MAX_BATCH = 20

#: When a 429 carries no ``Retry-After``, how long the destination pauses (seconds).
DEFAULT_THROTTLE_SECONDS = 30.0


@attrs.frozen(kw_only=True)
class SubRequest:
    """One request of a JSON batch (``url`` relative to the Graph version root)."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class SubResponse:
    """One response of a JSON batch."""

    status: int
    headers: dict[str, str]
    body: Any


class NotFoundError(PermanentError):
    """404: the item (or list, or site) does not exist."""


def batch_body(requests: Sequence[SubRequest]) -> dict[str, Any]:
    """The JSON body of a batch; ids are the 1-based positions."""
    if len(requests) > MAX_BATCH:
        raise ValueError(f"a Graph JSON batch holds at most {MAX_BATCH} requests")
    items = []
    for number, request in enumerate(requests, start=1):
        item: dict[str, Any] = {"id": str(number), "method": request.method, "url": request.url}
        headers = dict(request.headers)
        if request.body is not None:
            headers.setdefault("Content-Type", "application/json")
            item["body"] = request.body
        if headers:
            item["headers"] = headers
        items.append(item)
    return {"requests": items}


def read_batch(data: Any, count: int) -> list[SubResponse | None]:
    """Responses in request order (None where the reply has none for a request)."""
    if not isinstance(data, dict) or not isinstance(data.get("responses"), list):
        raise ValueError("not a Graph batch response")
    by_id: dict[str, SubResponse] = {}
    for item in data["responses"]:
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError("a batch response item has no id")
        headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        by_id[str(item["id"])] = SubResponse(
            status=int(item.get("status", 0)), headers=headers, body=item.get("body")
        )
    return [by_id.get(str(number)) for number in range(1, count + 1)]


#: Graph's error code for a query it will not run. To the key search (a ``$filter`` on the key
#: column, the only filter the adapter sends) it means the column is not indexed, or missing.
FILTER_REFUSED = "invalidRequest"
#: The ``what`` of the requests that are key searches.
KEY_SEARCHES = frozenset({"search", "check"})


def classify(status: int, headers: Mapping[str, str], body: Any, *, what: str) -> AdapterError:
    """The coprolib error for a non-2xx Graph reply to ``what``.

    A refused key search is recognised by its error code and the request it answers, never by
    the wording of the message (which Graph may change or translate).
    """
    reply = read_error("Graph", status, headers, body)
    detail, retry_after = reply.detail, reply.retry_after
    if status == 429:
        return ThrottledError(
            f"{what}: Microsoft Graph is throttling, pausing ({detail})",
            retry_after=DEFAULT_THROTTLE_SECONDS if retry_after is None else retry_after,
        )
    if status == 401:
        return AuthError(f"{what}: token refused ({detail}); check the app registration")
    if status == 403:
        return AuthError(
            f"{what}: access denied ({detail}); grant the app Sites.Selected write access to "
            "the site (or Sites.ReadWrite.All) and admin consent"
        )
    if status == 404:
        return NotFoundError(f"{what}: not found ({detail}); check site_id and list_id")
    if status in (409, 412):
        return ConflictError(f"{what}: {detail}")
    if status == 400 and reply.code == FILTER_REFUSED and what in KEY_SEARCHES:
        return PermanentError(
            f"{what}: {detail}. The list refused the filter on the key column: check the column "
            "exists (its internal name), then Index the key column in the list settings "
            "(recommended) or set allow_unindexed_filter = true"
        )
    if status in (408, 423) or status >= 500:
        return RetryableError(f"{what}: {detail}", retry_after=retry_after)
    return PermanentError(f"{what}: {detail}")
