"""A local stand-in for the subset of the Dataverse Web API the adapter uses, for tests and the
benchmark. Serve :meth:`LocalDataverse.app` with :class:`coprolib.testing.fault_server.FaultServer`
on 127.0.0.1 (so transport faults can be injected too), with tokens from
:class:`coprolib_entra.testing.LocalEntra`.

What it implements, and the pages it follows:

* ``PATCH /api/data/v9.2/<set>(<key>='<value>')``: upsert by alternate key; creates when no row
  has the key, otherwise updates; ``204 No Content`` with ``OData-EntityId``. ``If-Match: *``
  forbids the create (404), ``If-None-Match: *`` forbids the update (412).
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api
* ``DELETE`` the same address: ``204``, or ``404`` with code ``0x80060891`` ("A record with the
  specified key values does not exist in <table> entity") when no row has the key, as Dataverse
  answers for a row addressed by an alternate key (``0x80040217`` is its answer for a primary
  key). ``If-Match: *`` on a missing row gives the same.
* Key values: "If the data within a column that is used in an alternate key contains one of the
  following characters /, #, <, >, *, %, &, :, \\, ?, + then GET or PATCH actions won't work"
  (https://learn.microsoft.com/power-apps/maker/data-platform/define-alternate-keys-portal): a
  key value holding one of them is refused, ``400`` with code ``0x80060888``.
* ``GET /api/data/v9.2/WhoAmI`` and ``GET <set>?$select=...&$top=n``.
* ``POST /api/data/v9.2/$batch``: ``multipart/mixed`` of up to 1,000 requests, answered in order
  in a ``multipart/mixed`` ``batchresponse``; without ``Prefer: odata.continue-on-error`` it stops
  at the first failure and the batch itself answers ``400 Bad Request`` ("Handling errors" on the
  page below), with it every request is tried, the batch answers ``200`` and
  ``Preference-Applied`` says so.
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
* Errors as ``{"error": {"code": "0x...", "message": ...}}``: an unknown table ``404 0x8006088a``,
  an unknown column ``400 0x0`` ("Could not find a property named ..."), text longer than the
  column ``400``.
  https://learn.microsoft.com/en-us/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors
* Service protection: :meth:`LocalDataverse.throttle` makes the next requests answer ``429`` with
  ``Retry-After`` and code ``0x80072322``; :meth:`LocalDataverse.throttle_items` does the same to
  requests inside a ``$batch``.
  https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
* Auth: every request needs ``Authorization: Bearer <token>`` that the local Entra issued for
  ``<this server>/.default``; otherwise ``401`` with ``WWW-Authenticate``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from coprolib_entra.testing import LocalService, error_reply

from coprolib.testing.fault_server import Reply, Request

MAX_BATCH = 1000
API = "/api/data/v9.2"
_RECORD = re.compile(r"^/([A-Za-z_][A-Za-z0-9_]*)\(([A-Za-z_][A-Za-z0-9_]*)='(.*)'\)$")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
#: Characters an alternate-key value must not hold (define-alternate-keys-portal, above).
UNREADABLE_IN_KEYS = frozenset("/#<>*%&:\\?+")
KEY_DOES_NOT_EXIST = "0x80060891"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return error_reply(
        status, code, message, headers, content_type="application/json; odata.metadata=minimal"
    )


class LocalDataverse(LocalService):
    """One table with an alternate key, in memory. ``rows`` maps key -> ``{"id", "row"}``."""

    def __init__(
        self,
        *,
        entity_set: str = "coprolib_shares",
        key_column: str = "coprolib_idempotencykey",
        columns: Mapping[str, int],
        token_check: Any = None,
    ) -> None:
        super().__init__()
        self.entity_set = entity_set
        self.key_column = key_column
        #: column logical name -> most characters it takes
        self.columns = {key_column: 100, **columns}
        #: ``token_check(token) -> bool``; None accepts any bearer token
        self.token_check = token_check
        self.base_url = ""
        self.rows: dict[str, dict[str, Any]] = {}

    # --- knobs ----------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """The alternate key of every row (unique by construction, as in Dataverse)."""
        with self._lock:
            return list(self.rows)

    # --- the app --------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        """Answer one HTTP request (use as a FaultServer app)."""
        retry_after = self.next_throttle()
        if retry_after is not None:
            return _error(
                429,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                {"Retry-After": retry_after},
            )
        if not self._authorised(request.headers.get("authorization", "")):
            with self._lock:
                self.requests["unauthorised"] += 1
            return Reply(
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        split = urllib.parse.urlsplit(request.path)
        if not split.path.startswith(API):
            return _error(404, "0x8006088a", f"Resource not found for the segment '{split.path}'.")
        path = split.path[len(API) :]
        if path == "/$batch" and request.method == "POST":
            return self._batch(request)
        with self._lock:
            self.requests[request.method] += 1
            return self._operation(request.method, path, split.query, request.headers, request.body)

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        return self.token_check is None or bool(self.token_check(header[len("Bearer ") :]))

    def _operation(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        if path == "/WhoAmI" and method == "GET":
            return Reply.json(
                200,
                {
                    "BusinessUnitId": "00000000-0000-4000-8000-000000000001",
                    "UserId": "00000000-0000-4000-8000-000000000002",
                    "OrganizationId": "00000000-0000-4000-8000-000000000003",
                },
            )
        if path == f"/{self.entity_set}" and method == "GET":
            return self._list(query)
        match = _RECORD.match(path)
        if match is None or match.group(1) != self.entity_set:
            segment = (match.group(1) if match else path.strip("/")) or "/"
            return _error(404, "0x8006088a", f"Resource not found for the segment '{segment}'.")
        if match.group(2) != self.key_column:
            return _error(
                400, "0x80060888", f"'{match.group(2)}' is not a valid alternate key attribute."
            )
        key = urllib.parse.unquote(match.group(3)).replace("''", "'")
        unreadable = sorted(set(key) & UNREADABLE_IN_KEYS)
        if unreadable:
            return _error(
                400,
                "0x80060888",
                "Bad Request - Error in query syntax: the key value holds "
                f"{' '.join(unreadable)}, which an alternate key cannot be read with.",
            )
        if method == "PATCH":
            return self._upsert(key, headers, body)
        if method == "DELETE":
            return self._delete(key)
        return _error(405, "0x80060888", f"The HTTP method '{method}' is not allowed here.")

    def _list(self, query: str) -> Reply:
        params = dict(urllib.parse.parse_qsl(query))
        select = [c for c in params.get("$select", "").split(",") if c]
        for column in select:
            if column not in self.columns:
                return self._unknown_column(column)
        top = int(params.get("$top", "5000"))
        rows = [
            {c: entry["row"].get(c) for c in select} if select else dict(entry["row"])
            for entry in list(self.rows.values())[:top]
        ]
        return Reply.json(200, {"@odata.context": "local", "value": rows})

    def _unknown_column(self, column: str) -> Reply:
        return _error(
            400,
            "0x0",
            f"Could not find a property named '{column}' on type "
            f"'Microsoft.Dynamics.CRM.{self.entity_set.rstrip('s')}'.",
        )

    def _upsert(self, key: str, headers: Mapping[str, str], body: bytes) -> Reply:
        try:
            row = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "0x0", "The request body is not valid JSON.")
        if not isinstance(row, dict):
            return _error(400, "0x0", "The request body must be a JSON object.")
        for column, value in row.items():
            if column not in self.columns:
                return self._unknown_column(column)
            if isinstance(value, str) and len(value) > self.columns[column]:
                return _error(
                    400,
                    "0x80044331",
                    f"A validation error occurred. The length of the '{column}' attribute of "
                    f"the '{self.entity_set}' entity exceeded the maximum allowed length of "
                    f"'{self.columns[column]}'.",
                )
        if row.get(self.key_column, key) != key:
            return _error(400, "0x80060888", "The key in the body differs from the key in the URL.")
        lowered = {k.lower(): v for k, v in headers.items()}
        existing = self.rows.get(key)
        if existing is None and lowered.get("if-match") == "*":
            return self._no_such_key()
        if existing is not None and lowered.get("if-none-match") == "*":
            return _error(412, "0x80040237", "A record with matching key values already exists.")
        if existing is None:
            existing = {"id": str(uuid.uuid4()), "row": {self.key_column: key}}
            self.rows[key] = existing
            self.created += 1
        else:
            self.updated += 1
        existing["row"].update(row)
        entity_id = f"{self.base_url}{API}/{self.entity_set}({existing['id']})"
        return Reply(status=204, headers={"OData-EntityId": entity_id})

    def _delete(self, key: str) -> Reply:
        if self.rows.pop(key, None) is None:
            return self._no_such_key()
        self.deleted += 1
        return Reply(status=204)

    def _no_such_key(self) -> Reply:
        return _error(
            404,
            KEY_DOES_NOT_EXIST,
            "A record with the specified key values does not exist in "
            f"{self.entity_set.rstrip('s')} entity",
        )

    # --- $batch ---------------------------------------------------------------------------

    def _batch(self, request: Request) -> Reply:
        found = _BOUNDARY.search(request.headers.get("content-type", ""))
        if found is None:
            return _error(400, "0x0", "A $batch request needs Content-Type multipart/mixed.")
        try:
            operations = _parse_requests(found.group(1), request.body)
        except ValueError as exc:
            return _error(400, "0x0", f"The batch request is malformed: {exc}")
        if len(operations) > MAX_BATCH:
            return _error(
                400, "0x0", f"The number of requests in a batch is limited to {MAX_BATCH}."
            )
        keep_going = "odata.continue-on-error" in request.headers.get("prefer", "")
        boundary = f"batchresponse_{uuid.uuid4()}"
        parts: list[bytes] = []
        stopped = False
        with self._lock:
            self.requests["batch"] += 1
            self.batch_sizes.append(len(operations))
            for method, url, headers, body in operations:
                split = urllib.parse.urlsplit(url)
                path = split.path[len(API) :] if split.path.startswith(API) else split.path
                item_retry_after = self.next_item_throttle()
                if item_retry_after is not None:
                    reply = _error(
                        429,
                        "0x80072322",
                        "Number of requests exceeded the limit.",
                        {"Retry-After": item_retry_after},
                    )
                else:
                    reply = self._operation(method, path, split.query, headers, body)
                parts.append(_response_part(boundary, reply))
                if reply.status >= 400 and not keep_going:
                    stopped = True
                    break
        body_out = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        if keep_going:
            headers["Preference-Applied"] = "odata.continue-on-error"
        return Reply(status=400 if stopped else 200, body=body_out, headers=headers)


def _response_part(boundary: str, reply: Reply) -> bytes:
    reason = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found"}.get(
        reply.status, "Status"
    )
    lines = [
        f"--{boundary}",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        f"HTTP/1.1 {reply.status} {reason}",
        *[f"{name}: {value}" for name, value in reply.headers.items()],
        "",
    ]
    return ("\r\n".join(lines) + "\r\n").encode() + reply.body + b"\r\n"


def _parse_requests(boundary: str, body: bytes) -> list[tuple[str, str, dict[str, str], bytes]]:
    delimiter = b"--" + boundary.encode()
    if delimiter + b"--" not in body:
        raise ValueError("no closing boundary")
    operations = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        text = chunk.replace(b"\r\n", b"\n").strip(b"\n")
        _, _, embedded = text.partition(b"\n\n")
        request_line, _, rest = embedded.partition(b"\n")
        method, url, _version = request_line.decode().split(" ", 2)
        head, _, payload = rest.partition(b"\n\n")
        headers = {}
        for line in head.decode().split("\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        operations.append((method, url, headers, payload.strip(b"\n")))
    return operations
