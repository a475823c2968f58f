"""A local stand-in for the subset of Salesforce the adapter uses, for tests and benchmarks.

It lives in the source tree for tests and ``bench/`` but is left out of the built wheel: the
adapter never imports it. Serve :meth:`LocalSalesforce.app` with
:class:`coprolib.testing.fault_server.FaultServer` on 127.0.0.1 (so transport faults can be
injected too) and aim the adapter's ``instance_url`` at it.

What it implements, and the pages it follows:

* ``POST /services/oauth2/token`` with ``grant_type=client_credentials``: ``{"access_token",
  "instance_url", "id", "token_type", "issued_at", "signature"}`` (no ``expires_in``, as
  Salesforce sends none); ``400 {"error": "invalid_client", "error_description": "invalid
  client credentials"}`` for a wrong secret
  (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm).
* Every REST call needs ``Authorization: Bearer <token>``; otherwise ``401
  [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]``.
* ``PATCH /services/data/vXX.X/sobjects/<object>/<field>/<value>``: upsert by External ID, 201
  ``{"id", "success", "errors", "created": true}`` or 200 with ``created: false``; 404
  ``NOT_FOUND`` for an unknown object, a field that is not an External ID ("Provided external ID
  field does not exist or is not accessible"), or a value holding ``/`` or ending like a file
  extension; 400 ``INVALID_FIELD`` when the body holds ``Id`` or the External ID field, or an
  unknown field; 400 ``STRING_TOO_LONG`` past a field's length; 300 when two records match
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_upsert_patch.htm).
* ``DELETE`` the same address: 204, or 404 ``NOT_FOUND``; ``DELETE .../sobjects/<object>/<Id>``:
  204, 404 ``ENTITY_IS_DELETED`` for a deleted record.
* ``PATCH /services/data/vXX.X/composite/sobjects/<object>/<field>``: ``{"allOrNone",
  "records"}``, at most 200 records (400 ``EXCEEDED_ID_LIMIT`` past that), each needing
  ``attributes.type``; 200 with one result per record in order; ``allOrNone: true`` rolls all
  back after one failure (``ALL_OR_NONE_OPERATION_ROLLED_BACK``); API 46.0 or later
  (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html).
* ``GET /services/data/vXX.X/query?q=SELECT Id, <field> FROM <object> WHERE <field> IN
  ('<value>', ...)`` (that one shape of SOQL, with backslash escapes) and ``GET
  .../sobjects/<object>/describe``; ``DELETE /services/data/vXX.X/composite/sobjects?ids=...
  &allOrNone=false``: at most 200 Ids, one ``{id, success, errors}`` each
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_delete.htm).
* A request whose URI and headers pass 16,384 bytes answers 414 URI Too Long or 431
  (https://help.salesforce.com/s/articleView?id=000386264).
* ``GET /services/data/vXX.X/limits``: ``{"DailyApiRequests": {"Max", "Remaining"}}``
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm).
* Limits: :meth:`LocalSalesforce.limit_after` makes every call past a count answer ``403
  [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]``
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
* Record Ids are 18-character, case-safe Ids with the real checksum suffix; External ID
  matching is case-insensitive unless the field is case sensitive, as in Salesforce.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.parse
from collections import Counter
from typing import Any

import attrs

from coprolib.testing.fault_server import Reply, Request

MAX_COLLECTION = 200
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_QUERY = re.compile(r"^SELECT Id, (\w+) FROM (\w+) WHERE (\w+) IN \((.*)\)$", re.DOTALL)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'(?:,|$)", re.DOTALL)
#: Salesforce reads at most this many bytes of URI and headers together.
MAX_REQUEST_HEAD = 16_384
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def id18(id15: str) -> str:
    """The 18-character form of a 15-character record Id (the case-safe checksum suffix)."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += _ID_ALPHABET[bits]
    return id15 + suffix


@attrs.define
class FieldSpec:
    """One field of the stand-in's object."""

    name: str
    length: int = 255
    type: str = "string"
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    createable: bool = True
    updateable: bool = True


def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Reply:
    body = [{"message": message, "errorCode": code, "fields": fields or []}]
    return Reply.json(status, body)


class LocalSalesforce:
    """One org with one custom object, in memory. ``records`` maps record Id -> field values."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        sobject: str = "Coprolib_Share__c",
        fields: list[FieldSpec],
        key_prefix: str = "a0B",
        org_id: str = "00D8d000004XyZa",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.sobject = sobject
        # Copies: a test may change a field of its own org without touching the shared specs.
        self.fields = {
            f.name.lower(): attrs.evolve(f) for f in [FieldSpec(name="Name", length=80), *fields]
        }
        self.key_prefix = key_prefix
        self.org_id = org_id
        self.base_url = ""
        self.records: dict[str, dict[str, Any]] = {}
        self.deleted_ids: set[str] = set()
        self.created = self.updated = self.deleted = 0
        self.tokens: set[str] = set()
        self.token_requests = 0
        #: REST calls by kind ("PATCH", "collection", "DELETE", "query", ...).
        self.requests: Counter[str] = Counter()
        #: How many records each Collections request held.
        self.collection_sizes: list[int] = []
        #: Object permissions of the integration user (describe's createable/updateable/deletable).
        self.object_rights = {"createable": True, "updateable": True, "deletable": True}
        #: The org's rolling 24-hour API request allowance that ``/limits`` reports.
        self.daily_allowance = 15_000
        self._limit: int | None = None
        self._calls = 0
        self._serial = 0
        self._lock = threading.RLock()

    # --- knobs ----------------------------------------------------------------------------

    def limit_after(self, calls: int | None) -> None:
        """Answer ``REQUEST_LIMIT_EXCEEDED`` to every REST call after ``calls`` more (None: off)."""
        with self._lock:
            self._limit = None if calls is None else self._calls + calls

    def revoke_all(self) -> None:
        """Invalidate every issued access token (as a session timeout would)."""
        with self._lock:
            self.tokens.clear()

    def keys(self) -> list[str]:
        """The External ID of every record, duplicates included."""
        field = self.external_id.name
        with self._lock:
            return [str(r[field]) for r in self.records.values() if r.get(field) is not None]

    @property
    def external_id(self) -> FieldSpec:
        """The object's External ID field."""
        return next(f for f in self.fields.values() if f.external_id)

    # --- the app --------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        """Answer one HTTP request (use as a FaultServer app)."""
        head = len(request.path) + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
        if len(request.path) > MAX_REQUEST_HEAD:
            return Reply(status=414, body=b"URI Too Long")
        if head > MAX_REQUEST_HEAD:
            return Reply(status=431, body=b"Request Header Fields Too Large")
        split = urllib.parse.urlsplit(request.path)
        if split.path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request.body)
        header = request.headers.get("authorization", "")
        with self._lock:
            if not header.startswith("Bearer ") or header[7:] not in self.tokens:
                return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
            self._calls += 1
            if self._limit is not None and self._calls > self._limit:
                return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            match = re.match(r"^/services/data/v(\d+)\.0/(.*)$", split.path)
            if match is None:
                return _errors(404, "NOT_FOUND", "The requested resource does not exist")
            version, rest = int(match.group(1)), match.group(2)
            return self._route(request, version, rest.split("/"), split.query)

    def _token(self, body: bytes) -> Reply:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        with self._lock:
            self.token_requests += 1
            if form.get("grant_type") != "client_credentials":
                return Reply.json(
                    400,
                    {
                        "error": "unsupported_grant_type",
                        "error_description": "grant type not supported",
                    },
                )
            if (
                form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return Reply.json(
                    400,
                    {"error": "invalid_client", "error_description": "invalid client credentials"},
                )
            token = f"{self.org_id}!AQ0AQ{secrets.token_urlsafe(72)}"
            self.tokens.add(token)
        user = id18("0058d000006AbCd")
        return Reply.json(
            200,
            {
                "access_token": token,
                "signature": secrets.token_urlsafe(32),
                "scope": "api",
                "instance_url": self.base_url,
                "id": f"https://login.salesforce.com/id/{id18(self.org_id)}/{user}",
                "token_type": "Bearer",
                "issued_at": "1767225600000",
            },
        )

    def _route(self, request: Request, version: int, parts: list[str], query: str) -> Reply:
        method = request.method
        if parts == ["limits"] and method == "GET":
            self.requests["limits"] += 1
            remaining = max(0, self.daily_allowance - self._calls)
            return Reply.json(
                200, {"DailyApiRequests": {"Max": self.daily_allowance, "Remaining": remaining}}
            )
        if parts == ["query"] and method == "GET":
            self.requests["query"] += 1
            return self._query(dict(urllib.parse.parse_qsl(query)).get("q", ""))
        if parts[0] == "sobjects" and len(parts) >= 2:
            if parts[1] != self.sobject:
                return _errors(404, "NOT_FOUND", "The requested resource does not exist")
            if parts[2:] == ["describe"] and method == "GET":
                self.requests["describe"] += 1
                return Reply.json(200, self._describe())
            if len(parts) == 3 and method == "DELETE":
                self.requests["DELETE"] += 1
                return self._delete_id(parts[2])
            if len(parts) >= 4 and method in ("PATCH", "DELETE", "GET"):
                self.requests[method] += 1
                field = self.fields.get(parts[2].lower())
                if field is None or not field.external_id:
                    return _errors(
                        404,
                        "NOT_FOUND",
                        f"Provided external ID field does not exist or is not accessible: {parts[2]}",
                    )
                raw = "/".join(parts[3:])
                value = urllib.parse.unquote(raw)
                if "/" in value or _EXTENSION.search(value):
                    return _errors(404, "NOT_FOUND", "The requested resource does not exist")
                if method == "DELETE":
                    return self._delete_key(value)
                if method == "GET":
                    found = self._find(value)
                    if not found:
                        return _errors(404, "NOT_FOUND", "The requested resource does not exist")
                    return Reply.json(200, {"Id": found[0], **self.records[found[0]]})
                return self._upsert_one(request.body, value)
        if parts == ["composite", "sobjects"] and method == "DELETE":
            self.requests["collection delete"] += 1
            return self._delete_collection(query)
        if parts[:2] == ["composite", "sobjects"] and len(parts) == 4 and method == "PATCH":
            if version < 46:
                return _errors(404, "NOT_FOUND", "The requested resource does not exist")
            self.requests["collection"] += 1
            return self._collection(parts[2], parts[3], request.body)
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    # --- records --------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._serial += 1
        n, digits = self._serial, ""
        for _ in range(8):
            n, r = divmod(n, 62)
            digits = _BASE62[r] + digits
        return id18(f"{self.key_prefix}8d00{digits}")

    def _find(self, value: str) -> list[str]:
        field = self.external_id
        if field.case_sensitive:
            return [i for i, r in self.records.items() if r.get(field.name) == value]
        low = value.lower()
        return [i for i, r in self.records.items() if str(r.get(field.name, "")).lower() == low]

    def _invalid(
        self, values: dict[str, Any], *, body_key: bool
    ) -> tuple[str, str, list[str]] | None:
        """The first (errorCode, message, fields) wrong with these field values; None if fine."""
        key = self.external_id.name.lower()
        for name, value in values.items():
            field = self.fields.get(name.lower())
            if name == "Id" or (body_key and name.lower() == key):
                return (
                    "INVALID_FIELD",
                    f"Unable to create/update fields: {name}. Please check the security settings "
                    "of this field and verify that it is read/write for your profile or "
                    "permission set.",
                    [name],
                )
            if field is None:
                return (
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {self.sobject}",
                    [],
                )
            if (
                field.type in ("string", "textarea")
                and isinstance(value, str)
                and len(value) > field.length
            ):
                return (
                    "STRING_TOO_LONG",
                    f"{field.name}: data value too large: {value[:40]}... (max length={field.length})",
                    [field.name],
                )
        return None

    def _write(self, key: str, values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Upsert one record by External ID; (HTTP status, UpsertResult)."""
        found = self._find(key)
        if len(found) > 1:
            return 300, {}
        field = self.external_id.name
        if found:
            record_id = found[0]
            self.records[record_id].update(values)
            self.updated += 1
            return 200, {"id": record_id, "success": True, "errors": [], "created": False}
        record_id = self._new_id()
        self.records[record_id] = {field: key, **values}
        self.created += 1
        return 201, {"id": record_id, "success": True, "errors": [], "created": True}

    def _upsert_one(self, body: bytes, key: str) -> Reply:
        try:
            values = json.loads(body or b"{}")
        except ValueError:
            return _errors(400, "JSON_PARSER_ERROR", "Unexpected character in the request body")
        if not isinstance(values, dict):
            return _errors(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        wrong = self._invalid(values, body_key=True)
        if wrong is not None:
            return _errors(400, *wrong)
        too_long = self._invalid({self.external_id.name: key}, body_key=False)
        if too_long is not None:
            return _errors(400, *too_long)
        status, result = self._write(key, values)
        if status == 300:
            return Reply.json(
                300, [f"/services/data/v62.0/sobjects/{self.sobject}/{i}" for i in self._find(key)]
            )
        return Reply.json(status, result)

    def _delete_key(self, key: str) -> Reply:
        found = self._find(key)
        if not found:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        if len(found) > 1:
            return Reply.json(300, found)
        return self._delete_id(found[0])

    def _delete_id(self, record_id: str) -> Reply:
        if record_id in self.deleted_ids:
            return _errors(404, "ENTITY_IS_DELETED", "entity is deleted")
        if self.records.pop(record_id, None) is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        self.deleted_ids.add(record_id)
        self.deleted += 1
        return Reply(status=204)

    def _collection(self, sobject: str, field_name: str, body: bytes) -> Reply:
        if sobject != self.sobject:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        field = self.fields.get(field_name.lower())
        if field is None or not field.external_id:
            return _errors(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _errors(400, "JSON_PARSER_ERROR", "Unexpected character in the request body")
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list):
            return _errors(400, "INVALID_FIELD", "The records array is required")
        if len(records) > MAX_COLLECTION:
            return _errors(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {MAX_COLLECTION} records into "
                "this call",
            )
        self.collection_sizes.append(len(records))
        all_or_none = bool(payload.get("allOrNone", False))
        snapshot = (dict((k, dict(v)) for k, v in self.records.items()), self.created, self.updated)
        results: list[dict[str, Any]] = []
        for record in records:
            results.append(self._collection_item(record, field))
        if all_or_none and not all(r["success"] for r in results):
            self.records, self.created, self.updated = snapshot
            rolled = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
            results = [
                r if not r["success"] else {"id": None, "success": False, "errors": [rolled]}
                for r in results
            ]
        return Reply.json(200, results)

    def _collection_item(self, record: Any, field: FieldSpec) -> dict[str, Any]:
        def failed(code: str, message: str, fields: list[str]) -> dict[str, Any]:
            return {
                "success": False,
                "errors": [{"statusCode": code, "message": message, "fields": fields}],
            }

        if not isinstance(record, dict):
            return failed("INVALID_FIELD", "Each record must be a JSON object", [])
        attributes = record.get("attributes")
        if not isinstance(attributes, dict) or attributes.get("type") != self.sobject:
            return failed("INVALID_TYPE", "Each record needs attributes.type naming the object", [])
        values = {k: v for k, v in record.items() if k != "attributes"}
        key = next((v for k, v in values.items() if k.lower() == field.name.lower()), None)
        if not isinstance(key, str) or not key:
            return failed("MISSING_ARGUMENT", f"{field.name} not specified", [field.name])
        wrong = self._invalid(values, body_key=False)
        if wrong is not None:
            return failed(*wrong)
        values = {k: v for k, v in values.items() if k.lower() != field.name.lower()}
        status, result = self._write(key, values)
        if status == 300:
            return failed("DUPLICATE_EXTERNAL_ID", "more than one record found", [field.name])
        return result

    def _query(self, soql: str) -> Reply:
        match = _QUERY.match(soql.strip())
        if match is None:
            return _errors(
                400, "MALFORMED_QUERY", "unexpected token: this stand-in reads one query shape"
            )
        selected, sobject, field_name, listed = match.groups()
        if sobject != self.sobject:
            return _errors(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        for name in (selected, field_name):
            if name.lower() not in self.fields:
                return _errors(
                    400, "INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'."
                )
        literals = _LITERAL.findall(listed)
        if not literals:
            return _errors(400, "MALFORMED_QUERY", "unexpected token: IN needs a list of values")
        values = [
            re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), literal)
            for literal in literals
        ]
        field = self.fields[field_name.lower()]
        shown = self.fields[selected.lower()].name
        found = [i for v in values for i in self._find(v)] if field.external_id else []
        ids = list(dict.fromkeys(found))
        records = [
            {
                "attributes": {
                    "type": self.sobject,
                    "url": f"/services/data/v62.0/sobjects/{self.sobject}/{i}",
                },
                "Id": i,
                shown: self.records[i].get(shown),
            }
            for i in ids
        ]
        return Reply.json(200, {"totalSize": len(records), "done": True, "records": records})

    def _delete_collection(self, query: str) -> Reply:
        params = dict(urllib.parse.parse_qsl(query))
        ids = [i for i in params.get("ids", "").split(",") if i]
        if not ids:
            return _errors(400, "MISSING_ARGUMENT", "ids parameter is required")
        if len(ids) > MAX_COLLECTION:
            return _errors(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {MAX_COLLECTION} records into "
                "this call",
            )
        self.collection_sizes.append(len(ids))
        results = []
        for record_id in ids:
            reply = self._delete_id(record_id)
            if reply.status == 204:
                results.append({"id": record_id, "success": True, "errors": []})
            else:
                error = json.loads(reply.body)[0]
                results.append(
                    {
                        "id": record_id,
                        "success": False,
                        "errors": [
                            {
                                "statusCode": error["errorCode"],
                                "message": error["message"],
                                "fields": [],
                            }
                        ],
                    }
                )
        return Reply.json(200, results)

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self.sobject,
            "custom": True,
            "keyPrefix": self.key_prefix,
            **self.object_rights,
            "fields": [
                {
                    "name": f.name,
                    "type": f.type,
                    "length": f.length,
                    "externalId": f.external_id,
                    "unique": f.unique,
                    "caseSensitive": f.case_sensitive,
                    "createable": f.createable,
                    "updateable": f.updateable,
                }
                for f in self.fields.values()
            ],
        }


#: The object the README describes: Coprolib_Key__c is a Text(255) External ID, Unique, case
#: sensitive; the other fields' lengths follow the README's table.
README_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        name="Coprolib_Key__c", length=255, external_id=True, unique=True, case_sensitive=True
    ),
    FieldSpec(name="Body__c", length=131_072, type="textarea"),
    FieldSpec(name="Kind__c", length=40),
    FieldSpec(name="Identity_Level__c", length=40),
    FieldSpec(name="Domain__c", length=80),
    FieldSpec(name="Themes__c", length=32_768, type="textarea"),
    FieldSpec(name="Recommendation__c", length=32_768, type="textarea"),
    FieldSpec(name="Quotes__c", length=131_072, type="textarea"),
    FieldSpec(name="Digest__c", length=64),
    FieldSpec(name="Planned_At__c", length=0, type="datetime"),
    FieldSpec(name="Consent_Versions__c", length=32_768, type="textarea"),
)
