"""Local stand-ins for the Microsoft Graph list-item API and a Teams Workflows webhook, for tests
and demonstrations. Serve their ``app`` with :class:`coprolib.testing.fault_server.FaultServer`
on 127.0.0.1; tokens come from :class:`coprolib_entra.testing.LocalEntra`.

:class:`LocalGraphList` implements, under ``/v1.0``, what the ``sharepoint-list`` adapter uses:

* ``GET /sites/{site}/lists/{list}/items?$filter=fields/<col> eq '<v>'&$expand=fields(...)``:
  ``{"value": [{"id", "fields"}]}``; filtering a column that is not indexed answers ``400
  invalidRequest`` unless ``Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`` is sent
  (https://learn.microsoft.com/en-us/graph/api/listitem-list);
* ``POST .../items`` with ``{"fields": {...}}``: ``201`` and the item; an unknown column ``400``
  (https://learn.microsoft.com/en-us/onedrive/developer/rest-api/api/listitem_create);
* ``PATCH .../items/{id}/fields``: ``200``; ``DELETE .../items/{id}``: ``204``; a missing item
  ``404 itemNotFound``;
* ``POST /$batch``: at most 20 requests with unique ids, answered ``{"responses": [...]}`` with a
  status per request (https://learn.microsoft.com/en-ca/graph/json-batching);
* throttling: :meth:`LocalGraphList.throttle` (the whole request) and
  :meth:`LocalGraphList.throttle_items` (requests inside a batch) answer ``429`` with
  ``Retry-After`` and ``{"error": {"code": "TooManyRequests"}}``
  (https://learn.microsoft.com/graph/throttling).

:class:`LocalTeamsWorkflow` is a Workflows "When a Teams webhook request is received" trigger
whose "Who can trigger the flow" is *Anyone* (the signature in the URL is the only credential,
https://learn.microsoft.com/en-us/training/modules/http-connectors/4-http-request): ``POST`` to
its URL (with the ``sig`` in the query); a wrong signature ``401``, throttling ``429``; anything
else ``202 Accepted``, because the trigger only starts a flow run and answers before the "Post
card in a chat or channel" action runs. What the action then refuses makes the *run* fail, not
the request: over 28 KB ("Request Entity too large",
https://learn.microsoft.com/ja-jp/Connectors/teams/, a limit of the posting action) or not an
Adaptive Card (Workflows take Adaptive Cards only,
https://learn.microsoft.com/en-in/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using)
is recorded in :attr:`LocalTeamsWorkflow.failed_runs`, as the flow's run history would show it.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from coprolib_entra.testing import LocalService
from coprolib_entra.testing import error_reply as _error

from coprolib.testing.fault_server import Reply, Request

ROOT = "/v1.0"
MAX_BATCH = 20
TEAMS_LIMIT = 28 * 1024
UNINDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"
_ITEMS = re.compile(r"^/sites/([^/]+)/lists/([^/]+)/items(?:/([^/]+)(/fields)?)?$")
_FILTER = re.compile(r"^fields/([A-Za-z_][A-Za-z0-9_]*) eq '((?:[^']|'')*)'$")


class LocalGraphList(LocalService):
    """One SharePoint list in memory, reached through the Graph list-item API subset."""

    def __init__(
        self,
        *,
        site_id: str = "contoso.sharepoint.com,11111111-1111-4111-8111-111111111111,22222222-2222-4222-8222-222222222222",
        list_id: str = "33333333-3333-4333-8333-333333333333",
        columns: Mapping[str, int],
        indexed: frozenset[str] = frozenset({"CoprolibKey"}),
        token_check: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.site_id = site_id
        self.list_id = list_id
        #: column internal name -> most characters
        self.columns = {"CoprolibKey": 255, **columns}
        self.indexed = indexed
        self.token_check = token_check
        self.items: dict[str, dict[str, Any]] = {}
        self._next_id = 1

    def keys(self, column: str = "CoprolibKey") -> list[str]:
        """The key column of every item, duplicates included."""
        with self._lock:
            return [str(fields.get(column)) for fields in self.items.values()]

    # --- the app --------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        """Answer one HTTP request (use as a FaultServer app)."""
        retry_after = self.next_throttle()
        if retry_after is not None:
            return self._too_many(retry_after)
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not token or (self.token_check is not None and not self.token_check(token)):
            with self._lock:
                self.requests["unauthorised"] += 1
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        split = urllib.parse.urlsplit(request.path)
        if not split.path.startswith(ROOT):
            return _error(400, "BadRequest", "Invalid version.")
        path = split.path[len(ROOT) :]
        with self._lock:
            if path == "/$batch" and request.method == "POST":
                self.requests["batch"] += 1
                return self._batch(request.body)
            self.requests[request.method] += 1
            body = json.loads(request.body) if request.body else None
            return self._dispatch(request.method, path, split.query, request.headers, body)

    def _too_many(self, retry_after: str) -> Reply:
        return _error(
            429, "TooManyRequests", "Please retry again later.", {"Retry-After": retry_after}
        )

    def _dispatch(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: Any
    ) -> Reply:
        match = _ITEMS.match(urllib.parse.unquote(path))
        if match is None:
            return _error(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        site, list_id, item_id, fields = match.groups()
        if site != self.site_id or list_id != self.list_id:
            return _error(404, "itemNotFound", "The provided site or list was not found.")
        if item_id is None and method == "GET":
            return self._search(query, headers)
        if item_id is None and method == "POST":
            return self._create(body)
        if item_id is not None and fields and method == "PATCH":
            return self._update(item_id, body)
        if item_id is not None and not fields and method == "DELETE":
            return self._delete(item_id)
        return _error(405, "methodNotAllowed", f"{method} is not allowed on this resource.")

    def _search(self, query: str, headers: Mapping[str, str]) -> Reply:
        params = dict(urllib.parse.parse_qsl(query))
        matched = _FILTER.match(params.get("$filter", ""))
        if matched is None:
            return _error(400, "invalidRequest", "Invalid filter clause.")
        column, value = matched.group(1), matched.group(2).replace("''", "'")
        if column not in self.columns:
            return _error(400, "invalidRequest", f"Field '{column}' is not recognized.")
        prefer = {k.lower(): v for k, v in headers.items()}.get("prefer", "")
        if column not in self.indexed and UNINDEXED not in prefer:
            return _error(
                400,
                "invalidRequest",
                f"Field '{column}' cannot be referenced in filter or orderby as it is not "
                f"indexed. Provide the 'Prefer: {UNINDEXED}' header to allow this, but be "
                "warned that such queries may fail on large lists.",
            )
        found = [
            {"id": item_id, "fields": {"id": item_id, column: fields.get(column)}}
            for item_id, fields in self.items.items()
            if fields.get(column) == value
        ]
        return Reply.json(200, {"value": found})

    def _check_fields(self, fields: Any) -> Reply | None:
        if not isinstance(fields, dict):
            return _error(400, "invalidRequest", "Invalid request: fields must be an object.")
        for column, value in fields.items():
            if column not in self.columns:
                return _error(400, "invalidRequest", f"Field '{column}' is not recognized.")
            if isinstance(value, str) and len(value) > self.columns[column]:
                return _error(
                    400,
                    "invalidRequest",
                    f"The value of field '{column}' exceeds {self.columns[column]} characters.",
                )
        return None

    def _create(self, body: Any) -> Reply:
        fields = body.get("fields") if isinstance(body, dict) else None
        problem = self._check_fields(fields)
        if problem is not None or not isinstance(fields, dict):
            return problem or _error(400, "invalidRequest", "fields must be an object.")
        item_id = str(self._next_id)
        self._next_id += 1
        self.items[item_id] = dict(fields)
        self.created += 1
        return Reply.json(201, {"id": item_id, "fields": {"id": item_id, **fields}})

    def _update(self, item_id: str, body: Any) -> Reply:
        if item_id not in self.items:
            return _error(404, "itemNotFound", "The specified list item was not found.")
        problem = self._check_fields(body)
        if problem is not None:
            return problem
        self.items[item_id].update(body)
        self.updated += 1
        return Reply.json(200, {"id": item_id, **self.items[item_id]})

    def _delete(self, item_id: str) -> Reply:
        if self.items.pop(item_id, None) is None:
            return _error(404, "itemNotFound", "The specified list item was not found.")
        self.deleted += 1
        return Reply(status=204)

    def _batch(self, raw: bytes) -> Reply:
        try:
            requests = json.loads(raw)["requests"]
            ids = [str(r["id"]) for r in requests]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > MAX_BATCH:
            return _error(400, "BadRequest", f"The number of batch requests exceeds {MAX_BATCH}.")
        if len(set(ids)) != len(ids):
            return _error(400, "BadRequest", "Batch request ids must be unique.")
        self.batch_sizes.append(len(requests))
        responses = []
        for item in requests:
            item_retry_after = self.next_item_throttle()
            if item_retry_after is not None:
                reply = self._too_many(item_retry_after)
            else:
                url = urllib.parse.urlsplit(str(item["url"]))
                headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
                if item.get("body") is not None and "content-type" not in headers:
                    reply = _error(400, "BadRequest", "Content-Type header is required.")
                else:
                    reply = self._dispatch(
                        str(item["method"]), url.path, url.query, headers, item.get("body")
                    )
            responses.append(
                {
                    "id": str(item["id"]),
                    "status": reply.status,
                    "headers": reply.headers,
                    "body": json.loads(reply.body) if reply.body else None,
                }
            )
        responses.reverse()  # Graph may answer in any order
        return Reply.json(200, {"responses": responses})


class LocalTeamsWorkflow:
    """A Workflows webhook trigger that records the cards it would post to the channel."""

    def __init__(self, *, path: str = "/workflows/board/triggers/manual/paths/invoke") -> None:
        self.path = path
        self.signature = "sig-local-Yq3vT8"
        self.messages: list[dict[str, Any]] = []
        self.rejected: Counter[int] = Counter()
        #: Runs the trigger accepted (202) whose posting action failed: (reason, bytes).
        self.failed_runs: list[tuple[str, int]] = []
        self._throttle: list[str] = []
        self._lock = threading.Lock()

    def url(self, base: str) -> str:
        """The full webhook URL on a server at ``base`` (it includes the signature)."""
        query = urllib.parse.urlencode(
            {"api-version": "1", "sp": "/triggers/manual/run", "sig": self.signature}
        )
        return f"{base}{self.path}?{query}"

    def throttle(self, count: int = 1, retry_after: str = "1") -> None:
        """Answer the next ``count`` posts with 429."""
        with self._lock:
            self._throttle.extend([retry_after] * count)

    def keys(self, kind: str = "announcement") -> list[str]:
        """The reference of every card of ``kind`` posted, duplicates included."""
        with self._lock:
            return [m["key"] for m in self.messages if m["kind"] == kind]

    def app(self, request: Request) -> Reply:
        """Answer one HTTP request (use as a FaultServer app)."""
        split = urllib.parse.urlsplit(request.path)
        if request.method != "POST":
            return _error(405, "InvalidRequestMethod", "The trigger expects POST.")
        sig = dict(urllib.parse.parse_qsl(split.query)).get("sig")
        if split.path != self.path or sig != self.signature:
            return self._reject(401, "DirectApiAuthorizationRequired", "The signature is invalid.")
        with self._lock:
            if self._throttle:
                return _error(
                    429,
                    "TooManyRequests",
                    "Rate limit exceeded.",
                    {"Retry-After": self._throttle.pop(0)},
                )
        if len(request.body) > TEAMS_LIMIT:
            return self._failed_run("Request Entity too large", request)
        try:
            message = json.loads(request.body)
            attachment = message["attachments"][0]
            card = attachment["content"]
            valid = (
                message.get("type") == "message"
                and attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
                and card.get("type") == "AdaptiveCard"
                and isinstance(card.get("body"), list)
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            valid = False
        if not valid:
            return self._failed_run("The message is not an Adaptive Card.", request)
        facts = {
            fact["title"]: fact["value"]
            for block in card["body"]
            if block.get("type") == "FactSet"
            for fact in block["facts"]
        }
        heading = card["body"][0].get("text", "")
        with self._lock:
            self.messages.append(
                {
                    "kind": "withdrawal" if heading == "Insight withdrawn" else "announcement",
                    "key": facts.get("Reference", ""),
                    "bytes": len(request.body),
                    "card": card,
                }
            )
        return Reply(status=202)

    def _failed_run(self, reason: str, request: Request) -> Reply:
        with self._lock:
            self.failed_runs.append((reason, len(request.body)))
        return Reply(status=202)

    def _reject(self, status: int, code: str, message: str) -> Reply:
        with self._lock:
            self.rejected[status] += 1
        return _error(status, code, message)
