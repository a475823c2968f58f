"""A local stand-in for CiviCRM's APIv4 REST end-point, for tests only (never shipped).

It implements the documented subset the adapter uses, and refuses what CiviCRM refuses, with
CiviCRM's status codes and bodies:

* Route and call format: ``/civicrm/ajax/api4/<Entity>/<action>`` with the JSON parameters in
  the ``params`` field (form-encoded POST, or the query string for ``get*`` actions); a write
  by GET is 405 (https://docs.civicrm.org/dev/en/latest/api/v4/rest/, and
  ``CRM_Api4_Page_AJAX::checkRequestMethod``).
* Authentication (authx, https://docs.civicrm.org/dev/en/latest/framework/authx/):
  ``X-Civi-Auth: Bearer <api key>``; an unknown key is ``401 text/plain "HTTP 401 Invalid
  credential"``; the default guards (``site_key``, ``perm``) need the ``X-Civi-Key`` site key
  or the permission "authenticate with api key"; an api_key credential must be allowed for the
  X-Header flow. A request with neither authx nor ``X-Requested-With`` is 400 (CSRF guard).
* Permissions: the route needs "access CiviCRM" or "access AJAX API" (else an HTML 403); Activity
  delete needs "delete activities" (else a JSON 403, ``UnauthorizedException``).
* Errors: ``{"error_code", "error_message", "status"}``, detailed only for a contact with "view
  debug output", otherwise "Sorry an error occurred… (Error ID: …)" with ``error_code`` "1".
* ``save`` with ``match``: a record matching exactly one existing record updates it; none, or
  more than one, creates a new record (``MatchParamTrait::matchExisting``). Missing mandatory
  fields is ``mandatory_missing``; subject over 255 characters is a database error.
* ``delete`` needs ``where``; it returns the deleted ids (none matched: an empty list, 200).
* ``get``, ``getFields`` (with ``loadOptions``), ``checkAccess``.
* Maintenance mode: 503 ``{"status_code": 503, "status_message": …}``.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import unicodedata
import urllib.parse
from typing import Any

import attrs

from coprolib.testing.fault_server import Reply, Request

ENDPOINT = "/civicrm/ajax/api4/"
MATCH_FIELD = "Coprolib.External_ID"


def api_key() -> str:
    """A key shaped like CiviCRM's advice: 32 random bytes, base64 without ``+/=``."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


@attrs.define
class Contact:
    """The contact an API key belongs to, with its role's permissions."""

    id: int
    api_key: str
    permissions: set[str]


class CiviError(Exception):
    def __init__(self, message: str, code: Any = 0, status: int = 500) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


ACTIVITY_TYPES = {1: "Meeting", 2: "Phone Call", 3: "Email", 57: "Lived experience insight"}
ACTIVITY_STATUSES = {1: "Scheduled", 2: "Completed", 3: "Cancelled"}


class LocalCiviCRM:
    """One CiviCRM site with Activity records and a custom field set "Coprolib"."""

    def __init__(self, *, site_key: str | None = None) -> None:
        self.site_key = site_key or api_key()
        self.contacts: dict[str, Contact] = {}
        self.records: dict[int, dict[str, Any]] = {}
        self.next_id = 48213
        self.custom_field = True
        self.activity_types = dict(ACTIVITY_TYPES)
        self.guards = ("site_key", "perm")
        self.xheader_creds = ("jwt", "api_key")
        self.maintenance = False
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def add_contact(self, contact_id: int, permissions: set[str]) -> str:
        """Give contact ``contact_id`` a fresh API key and these permissions; returns the key."""
        key = api_key()
        self.contacts[key] = Contact(id=contact_id, api_key=key, permissions=set(permissions))
        return key

    def external_ids(self) -> list[str]:
        """The external id of every Activity, duplicates included."""
        return [r[MATCH_FIELD] for r in self.records.values() if r.get(MATCH_FIELD)]

    # --- HTTP ------------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        parts = urllib.parse.urlsplit(request.path)
        if not parts.path.startswith(ENDPOINT):
            return Reply(status=404, body=b"<html>Page not found</html>", headers=_HTML)
        route = parts.path[len(ENDPOINT) :].split("/")
        if len(route) != 2 or not all(route):
            return Reply(status=404, body=b"<html>Page not found</html>", headers=_HTML)
        entity, action = route
        contact, refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        if self.maintenance:
            return Reply.json(
                503,
                {"status_code": 503, "status_message": "Temporarily unavailable for maintenance."},
            )
        if contact is None and request.headers.get("x-requested-with") != "XMLHttpRequest":
            return Reply.json(
                400,
                {
                    "error_code": 400,
                    "error_message": "SECURITY ALERT: Ajax requests can only be issued by "
                    "javascript clients, eg. CRM.api4().",
                },
            )
        if request.method == "GET" and not action.lower().startswith(("get", "autocomplete")):
            return Reply.json(
                405,
                {
                    "error_code": 405,
                    "error_message": "SECURITY: All requests that modify the database must be "
                    "http POST, not GET.",
                },
            )
        perms = contact.permissions if contact else set()
        if not perms & {"access CiviCRM", "access AJAX API"}:
            return Reply(
                status=403,
                body=b"<html><body>You do not have permission to access this page.</body></html>",
                headers=_HTML,
            )
        if request.method == "POST":
            if request.headers.get("content-type", "").split(";")[0] not in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form: dict[str, list[str]] = {}  # PHP parses only form bodies into $_POST
            else:
                form = urllib.parse.parse_qs(request.body.decode())
        else:
            form = urllib.parse.parse_qs(parts.query)
        raw = (form.get("params") or [""])[0]
        try:
            params = json.loads(raw) if raw else {}
            if not isinstance(params, dict):
                raise CiviError("params must be an object")
            with self._lock:
                self.calls.append((entity, action, params))
                values = self._execute(contact, entity, action, params)
        except (ValueError, CiviError) as exc:
            return self._error(contact, exc)
        return Reply.json(
            200,
            {
                "values": values,
                "entity": entity,
                "action": action,
                "debug": None,
                "version": 4,
                "count": len(values),
                "countFetched": len(values),
            },
        )

    def _authenticate(self, request: Request) -> tuple[Contact | None, Reply | None]:
        credential = request.headers.get("x-civi-auth")
        if not credential:
            return None, None
        scheme, _, value = credential.partition(" ")
        contact = self.contacts.get(value.strip()) if scheme == "Bearer" else None
        if contact is None:
            return None, _text401("Invalid credential")
        if "api_key" not in self.xheader_creds:
            return None, _text401(
                'Authentication type "api_key" with flow "xheader" is not allowed for this '
                "principal."
            )
        site_ok = "site_key" in self.guards and request.headers.get("x-civi-key") == self.site_key
        perm_ok = "perm" in self.guards and "authenticate with api key" in contact.permissions
        if self.guards and not (site_ok or perm_ok):
            return None, _text401(
                f"Login not permitted. Must satisfy guard ({', '.join(self.guards)})."
            )
        return contact, None

    def _error(self, contact: Contact | None, exc: Exception) -> Reply:
        status = exc.status if isinstance(exc, CiviError) else 500
        if contact and "view debug output" in contact.permissions:
            if isinstance(exc, CiviError):
                body: dict[str, Any] = {"error_code": exc.code, "error_message": exc.message}
            else:
                body = {"error_code": 0, "error_message": f"{type(exc).__name__}: {exc}"}
        else:
            error_id = "-".join(secrets.token_hex(2).upper() for _ in range(3))
            body = {
                "error_code": "1",
                "error_message": "Sorry an error occurred and your request was not completed. "
                f"(Error ID: {error_id})",
            }
        body["status"] = status
        return Reply.json(status, body)

    # --- APIv4 ------------------------------------------------------------------------------

    def _fields(self) -> dict[str, dict[str, Any]]:
        fields: dict[str, dict[str, Any]] = {
            "id": {"name": "id", "type": "Field", "data_type": "Integer"},
            "activity_type_id": {
                "name": "activity_type_id",
                "type": "Field",
                "data_type": "Integer",
                "options": [{"id": k, "name": v} for k, v in self.activity_types.items()],
            },
            "status_id": {
                "name": "status_id",
                "type": "Field",
                "data_type": "Integer",
                "options": [{"id": k, "name": v} for k, v in ACTIVITY_STATUSES.items()],
            },
            "source_contact_id": {"name": "source_contact_id", "type": "Extra"},
            "subject": {"name": "subject", "type": "Field", "data_type": "String"},
            "details": {"name": "details", "type": "Field", "data_type": "Text"},
            "activity_date_time": {"name": "activity_date_time", "type": "Field"},
        }
        if self.custom_field:
            fields[MATCH_FIELD] = {"name": MATCH_FIELD, "type": "Custom", "data_type": "String"}
        return fields

    def _execute(
        self, contact: Contact | None, entity: str, action: str, params: dict[str, Any]
    ) -> list[Any]:
        if entity != "Activity":
            raise CiviError(
                f"API ({entity}, {action}) does not exist (join the API team and implement it!)"
            )
        handler = {
            "get": self._get,
            "save": self._save,
            "delete": self._delete,
            "getFields": self._get_fields,
            "checkAccess": self._check_access,
        }.get(action)
        if handler is None:
            raise CiviError(f"Api Activity::{action} does not exist.")
        assert contact is not None
        return handler(contact, params)

    def _resolve(self, contact: Contact, record: dict[str, Any]) -> dict[str, Any]:
        fields = self._fields()
        out: dict[str, Any] = {}
        for key, value in record.items():
            base, _, suffix = key.partition(":")
            if base not in fields:
                continue  # APIv4 ignores values for fields an entity does not have
            if suffix == "name":
                options = {o["name"]: o["id"] for o in fields[base].get("options", [])}
                value = options.get(value)
                if value is None:
                    continue  # an unknown option leaves the field unset
            if base == "source_contact_id" and value == "user_contact_id":
                value = contact.id
            out[base] = value
        return out

    def _matches(self, record: dict[str, Any], where: list[Any]) -> bool:
        """SQL comparison under MySQL's default ``utf8mb4_unicode_ci`` collation: case and
        accents are ignored, as are trailing spaces."""
        fields = self._fields()
        for clause in where:
            name, op, *rest = clause
            if name not in fields:
                raise CiviError(f"Invalid field '{name}' in where clause", status=500)
            value = _collate(record.get(name))
            target = rest[0] if rest else None
            if op == "=" and value != _collate(target):
                return False
            if op == "IN" and value not in [_collate(t) for t in target or []]:
                return False
            if op == "IS EMPTY" and value not in (None, ""):
                return False
            if op not in ("=", "IN", "IS EMPTY"):
                raise CiviError(f"Illegal operator '{op}'")
        return True

    def _get(self, contact: Contact, params: dict[str, Any]) -> list[Any]:
        where = params.get("where", [])
        found = [dict(r) for r in self.records.values() if self._matches(r, where)]
        limit = params.get("limit") or len(found)
        select = params.get("select")
        if select:
            found = [{k: r.get(k) for k in ["id", *select]} for r in found]
        return found[:limit]

    def _save(self, contact: Contact, params: dict[str, Any]) -> list[Any]:
        records = params.get("records")
        if not records:
            raise CiviError('Parameter "records" is required.')
        match = params.get("match") or []
        saved = []
        for given in records:
            raw = {**params.get("defaults", {}), **given}
            record = self._resolve(contact, raw)
            if match and "id" not in record:
                where = [[m, "=", raw[m]] for m in match if m in raw]
                if len(where) == len(match):
                    existing = [r for r in self.records.values() if self._matches(r, where)]
                    if len(existing) == 1:
                        record["id"] = existing[0]["id"]
            if "id" not in record:
                missing = [f for f in ("activity_type_id", "source_contact_id") if f not in record]
                if missing:
                    raise CiviError(
                        "Mandatory values missing from Api4 Activity::save: " + ", ".join(missing),
                        code="mandatory_missing",
                    )
            for column in ("subject", MATCH_FIELD):  # both varchar(255)
                text = record.get(column)
                if isinstance(text, str) and len(text) > 255:
                    raise CiviError("DB Error: unknown error")  # MySQL strict: data too long
            if "id" in record:
                self.records[record["id"]].update(record)
            else:
                record["id"] = self.next_id
                self.next_id += 1
                self.records[record["id"]] = record
            saved.append({**given, "id": record["id"]})
        return saved

    def _delete(self, contact: Contact, params: dict[str, Any]) -> list[Any]:
        if "delete activities" not in contact.permissions:
            raise CiviError("Authorization failed", status=403)
        where = params.get("where")
        if not where:
            raise CiviError('Parameter "where" is required.')
        gone = [rid for rid, r in self.records.items() if self._matches(r, where)]
        for rid in gone:
            del self.records[rid]
        return [{"id": rid} for rid in gone]

    def _get_fields(self, contact: Contact, params: dict[str, Any]) -> list[Any]:
        fields = list(self._fields().values())
        for name, op, value in params.get("where", []):
            if op == "IN":
                fields = [f for f in fields if f.get(name) in value]
            elif op == "=":
                fields = [f for f in fields if f.get(name) == value]
        if not params.get("loadOptions"):
            fields = [{k: v for k, v in f.items() if k != "options"} for f in fields]
        return fields

    def _check_access(self, contact: Contact, params: dict[str, Any]) -> list[Any]:
        action = params.get("action")
        if action == "delete":
            allowed = "delete activities" in contact.permissions
        else:
            allowed = "access CiviCRM" in contact.permissions
        return [{"access": allowed}]


_HTML = {"Content-Type": "text/html; charset=UTF-8"}


def _collate(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().rstrip(" ")


def _text401(message: str) -> Reply:
    return Reply(
        status=401,
        body=f"HTTP 401 {message}".encode(),
        headers={"Content-Type": "text/plain"},
    )
