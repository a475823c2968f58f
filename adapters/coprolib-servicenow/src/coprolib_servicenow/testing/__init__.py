"""A local stand-in for the subset of a ServiceNow instance the adapter uses, for tests and
benchmarks.

It lives in the source tree for tests and ``bench/`` but is left out of the built wheel: the
adapter never imports it. Serve :meth:`LocalServiceNow.app` with
:class:`coprolib.testing.fault_server.FaultServer` on 127.0.0.1.

What it implements, and the pages it follows:

* ``POST /oauth_token.do`` with ``grant_type=client_credentials`` (only while the
  ``glide.oauth.inbound.client.credential.grant_type.enabled`` property is true):
  ``{"access_token", "scope", "token_type", "expires_in"}``; a wrong client answers ``401
  {"error": "server_error", "error_description": "access_denied"}``
  (https://www.servicenow.com/docs/r/platform-security/authentication/client-credentials.html).
* Every REST call needs ``Authorization: Bearer <token>``; otherwise ``401 {"error":
  {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
  "status": "failure"}``.
* ``POST /api/now/import/{staging}``: one staging row (values stored as strings, unknown columns
  ignored, text cut to the column's length), transformed at once: the transform map coalesces
  on the key column when ``coalesce`` is on (else every row inserts); ``201`` with
  ``{"import_set", "staging_table", "result": [{"transform_map", "table", "display_name",
  "display_value", "record_link", "status", "sys_id"}]}``.
* ``POST /api/now/import/{staging}/insertMultiple`` with ``{"records": [...]}``: ``201
  {"import_set_id", "multi_import_set_id"}``; rows are transformed at once when
  ``insert_multiple_synchronous`` (the REST Insert Multiple record set to synchronous), else they
  stay ``pending`` (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_ImportSetAPI.html).
* ``GET /api/now/table/{table}`` with ``sysparm_query`` (``field=value``,
  ``fieldSTARTSWITHvalue``, joined by ``^``), ``sysparm_fields``, ``sysparm_limit`` and
  ``sysparm_exclude_reference_link``, over the staging table, the target table and
  ``sys_transform_entry``; ``DELETE /api/now/table/{target}/{sys_id}``: ``204``, or ``404
  {"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the
  record retrieval"}, "status": "failure"}``
  (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html).
* Rate limits: :meth:`LocalServiceNow.rate_limit` sets a rule of N requests an hour; matching
  replies carry ``X-RateLimit-Limit``, ``X-RateLimit-Reset`` and ``X-RateLimit-Rule``, and past
  the limit ``429`` with ``Retry-After`` and ``{"error": {"message": "Rate limit exceeded",
  "detail": "Rate limit of N requests per hour for ... exceeded"}, "status": "failure"}``
  (https://www.servicenow.com/docs/r/api-reference/rest-api-explorer/inbound-REST-API-rate-limiting.html).
* Record ids are 32-hex sys_ids.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from coprolib.testing.fault_server import Reply, Request

_CONDITION = re.compile(r"^([a-z_][a-z0-9_.]*?)(STARTSWITH|=)(.*)$", re.DOTALL)


def _failure(
    status: int, message: str, detail: str | None, headers: dict[str, str] | None = None
) -> Reply:
    body = {"error": {"message": message, "detail": detail}, "status": "failure"}
    reply = Reply.json(status, body)
    return Reply(status=status, body=reply.body, headers={**reply.headers, **(headers or {})})


class LocalServiceNow:
    """One instance with one import set table, its transform map and target table, in memory."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        staging_table: str = "u_coprolib_share_import",
        target_table: str = "u_coprolib_share",
        key_column: str = "u_coprolib_key",
        target_key_field: str = "u_coprolib_key",
        columns: Mapping[str, int],
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.staging_table = staging_table
        self.target_table = target_table
        self.key_column = key_column
        self.target_key_field = target_key_field
        #: staging column -> max length (the transform copies each to the same-named field).
        self.columns = {key_column: 255, **columns}
        #: Knobs for the set-up the README describes.
        self.client_credentials_enabled = True
        self.coalesce = True
        self.insert_multiple_synchronous = True
        self.delete_allowed = True
        self.transform_entries_readable = True
        self.staging: list[dict[str, Any]] = []
        self.target: dict[str, dict[str, Any]] = {}
        self.created = self.updated = self.deleted = 0
        self.tokens: set[str] = set()
        self.token_requests = 0
        #: REST calls by kind ("import", "insertMultiple", "GET", "DELETE", "throttled").
        self.requests: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self._import_sets = 0
        self._rule: tuple[int, str] | None = None
        self._rule_count = 0
        self._rule_reset = 0
        self._lock = threading.RLock()

    # --- knobs ----------------------------------------------------------------------------

    def rate_limit(self, per_hour: int | None, rule: str | None = None) -> None:
        """A rate limit rule of ``per_hour`` requests for all users (None removes it)."""
        with self._lock:
            self._rule = None if per_hour is None else (per_hour, rule or uuid.uuid4().hex)
            self._rule_count = 0
            self._rule_reset = int(time.time() // 3600 + 1) * 3600

    def revoke_all(self) -> None:
        """Invalidate every issued access token."""
        with self._lock:
            self.tokens.clear()

    def keys(self) -> list[str]:
        """The key of every target record, duplicates included."""
        with self._lock:
            return [str(r.get(self.target_key_field)) for r in self.target.values()]

    # --- the app --------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        """Answer one HTTP request (use as a FaultServer app)."""
        split = urllib.parse.urlsplit(request.path)
        if split.path == "/oauth_token.do" and request.method == "POST":
            return self._token(request.body)
        header = request.headers.get("authorization", "")
        with self._lock:
            if not header.startswith("Bearer ") or header[7:] not in self.tokens:
                return _failure(
                    401, "User Not Authenticated", "Required to provide Auth information"
                )
            limited = self._count()
            if limited is not None:
                return limited
            reply = self._route(request.method, split.path, split.query, request.body)
            if self._rule is not None:
                headers = {**reply.headers, **self._rule_headers()}
                reply = Reply(status=reply.status, body=reply.body, headers=headers)
            return reply

    def _rule_headers(self) -> dict[str, str]:
        assert self._rule is not None
        return {
            "X-RateLimit-Limit": str(self._rule[0]),
            "X-RateLimit-Reset": str(self._rule_reset),
            "X-RateLimit-Rule": self._rule[1],
        }

    def _count(self) -> Reply | None:
        if self._rule is None:
            return None
        self._rule_count += 1
        if self._rule_count <= self._rule[0]:
            return None
        self.requests["throttled"] += 1
        retry_after = max(1, self._rule_reset - int(time.time()))
        return _failure(
            429,
            "Rate limit exceeded",
            f"Rate limit of {self._rule[0]} requests per hour for Import Set API exceeded",
            {**self._rule_headers(), "Retry-After": str(retry_after)},
        )

    def _token(self, body: bytes) -> Reply:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        with self._lock:
            self.token_requests += 1
            if (
                not self.client_credentials_enabled
                or form.get("grant_type") != "client_credentials"
                or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return Reply.json(
                    401, {"error": "server_error", "error_description": "access_denied"}
                )
            token = secrets.token_urlsafe(64)
            self.tokens.add(token)
        return Reply.json(
            200,
            {
                "access_token": token,
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": 1799,
            },
        )

    def _route(self, method: str, path: str, query: str, body: bytes) -> Reply:
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "now", "import"] and method == "POST" and len(parts) in (4, 5):
            if parts[3] != self.staging_table:
                return _failure(400, f"Invalid table {parts[3]}", None)
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return _failure(
                    400, "Exception while reading request", "The payload is not valid JSON."
                )
            if len(parts) == 5 and parts[4] == "insertMultiple":
                self.requests["insertMultiple"] += 1
                return self._insert_multiple(payload)
            if len(parts) == 4:
                self.requests["import"] += 1
                return self._import_one(payload)
        if parts[:3] == ["api", "now", "table"] and len(parts) in (4, 5):
            table = parts[3]
            if method == "GET" and len(parts) == 4:
                self.requests["GET"] += 1
                return self._list(table, params)
            if method == "DELETE" and len(parts) == 5:
                self.requests["DELETE"] += 1
                return self._delete(table, parts[4])
        return _failure(400, "Requested URI does not represent any resource", None)

    # --- import and transform -------------------------------------------------------------

    def _new_import_set(self) -> tuple[str, str]:
        self._import_sets += 1
        return uuid.uuid4().hex, f"ISET{10000 + self._import_sets:07d}"

    def _stage(self, values: Any, import_set: str) -> dict[str, Any]:
        row: dict[str, Any] = {"sys_id": uuid.uuid4().hex, "sys_import_set": import_set}
        if isinstance(values, dict):
            for column, value in values.items():
                if column not in self.columns:
                    continue  # an import set row silently drops unknown columns
                text = value if isinstance(value, str) else json.dumps(value).replace(":", "=")
                row[column] = text[: self.columns[column]]
        row.update(sys_import_state="pending", sys_import_state_comment="", sys_target_sys_id="")
        self.staging.append(row)
        return row

    def _transform(self, row: dict[str, Any]) -> None:
        key = row.get(self.key_column, "")
        values = {c: row[c] for c in self.columns if c in row}
        values[self.target_key_field] = values.pop(self.key_column, key)
        match = None
        if self.coalesce:
            match = next(
                (i for i, r in self.target.items() if r.get(self.target_key_field) == key), None
            )
        if match is None:
            sys_id = uuid.uuid4().hex
            self.target[sys_id] = values
            self.created += 1
            state = "inserted"
        else:
            sys_id = match
            state = (
                "ignored"
                if all(self.target[match].get(c) == v for c, v in values.items())
                else "updated"
            )
            self.target[match].update(values)
            self.updated += 1
        row.update(sys_import_state=state, sys_target_sys_id=sys_id)

    def _import_one(self, payload: Any) -> Reply:
        set_id, number = self._new_import_set()
        row = self._stage(payload, set_id)
        self._transform(row)
        sys_id = row["sys_target_sys_id"]
        return Reply.json(
            201,
            {
                "import_set": number,
                "staging_table": self.staging_table,
                "result": [
                    {
                        "transform_map": "coprolib share",
                        "table": self.target_table,
                        "display_name": "number",
                        "display_value": f"CPS{len(self.target):07d}",
                        "record_link": f"https://instance.service-now.com/api/now/table/{self.target_table}/{sys_id}",
                        "status": row["sys_import_state"],
                        "sys_id": sys_id,
                    }
                ],
            },
        )

    def _insert_multiple(self, payload: Any) -> Reply:
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list):
            return _failure(400, "Exception while reading request", "records array is required")
        set_id, _ = self._new_import_set()
        self.batch_sizes.append(len(records))
        for values in records:
            row = self._stage(values, set_id)
            if self.insert_multiple_synchronous:
                self._transform(row)
        return Reply.json(201, {"import_set_id": set_id, "multi_import_set_id": uuid.uuid4().hex})

    # --- Table API ------------------------------------------------------------------------

    def _rows(self, table: str) -> list[dict[str, Any]] | None:
        if table == self.staging_table:
            return self.staging
        if table == self.target_table:
            return [{"sys_id": i, **r} for i, r in self.target.items()]
        if table == "sys_transform_entry":
            if not self.coalesce:
                return []
            return [
                {
                    "sys_id": "5a1f0c2e9b3d4e7f8a6b5c4d3e2f1a0b",
                    "map.source_table": self.staging_table,
                    "target_field": self.target_key_field,
                    "coalesce": "true",
                }
            ]
        return None

    def _list(self, table: str, params: dict[str, str]) -> Reply:
        if table == "sys_transform_entry" and not self.transform_entries_readable:
            return _failure(
                403, "Operation Failed", "ACL Exception Read Failed due to security constraints"
            )
        rows = self._rows(table)
        if rows is None:
            return _failure(400, f"Invalid table {table}", None)
        conditions = [c for c in params.get("sysparm_query", "").split("^") if c]
        for condition in conditions:
            match = _CONDITION.match(condition)
            if match is None:
                continue  # ServiceNow ignores a condition it cannot read
            field, operator, value = match.groups()
            if operator == "=":
                rows = [r for r in rows if str(r.get(field, "")) == value]
            else:
                rows = [r for r in rows if str(r.get(field, "")).startswith(value)]
        limit = int(params.get("sysparm_limit") or 10_000)
        fields = [f for f in params.get("sysparm_fields", "").split(",") if f]
        plain = params.get("sysparm_exclude_reference_link") == "true"
        out = []
        for row in rows[:limit]:
            shown = {f: row.get(f, "") for f in fields} if fields else dict(row)
            if not plain and shown.get("sys_target_sys_id"):
                target = shown["sys_target_sys_id"]
                shown["sys_target_sys_id"] = {
                    "link": f"https://instance.service-now.com/api/now/table/{self.target_table}/{target}",
                    "value": target,
                }
            out.append(shown)
        return Reply.json(200, {"result": out})

    def _delete(self, table: str, sys_id: str) -> Reply:
        if table != self.target_table:
            return _failure(400, f"Invalid table {table}", None)
        if not self.delete_allowed:
            return _failure(
                403, "Operation Failed", "ACL Exception Delete Failed due to security constraints"
            )
        if self.target.pop(sys_id, None) is None:
            return _failure(
                404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            )
        self.deleted += 1
        return Reply(status=204)


#: The staging columns the README describes, with their max lengths.
README_COLUMNS: Mapping[str, int] = {
    "u_title": 255,
    "u_body": 65_000,
    "u_kind": 40,
    "u_identity_level": 40,
    "u_domain": 80,
    "u_themes": 4000,
    "u_recommendation": 4000,
    "u_quotes": 65_000,
    "u_digest": 64,
    "u_planned_at": 40,
    "u_consent_versions": 4000,
}
