"""The CiviCRM adapter: APIv4 over REST, ``save`` matched on an external-id field, ``delete`` to
retract.

Every call is ``POST <url>/<Entity>/<action>`` with a form field ``params`` holding the JSON
parameters, authenticated by ``X-Civi-Auth: Bearer <api key>`` (the authx extension's "HTTP
X-Header" flow) and marked ``X-Requested-With: XMLHttpRequest`` as CiviCRM's AJAX end-point
expects of web-service clients. See https://docs.civicrm.org/dev/en/latest/api/v4/rest/ and
https://docs.civicrm.org/dev/en/latest/framework/authx/.

Replies, as CiviCRM's ``CRM_Api4_Page_AJAX`` sends them: 200 with ``{"values": [...], "count":
…}``; 401 ``text/plain`` ("HTTP 401 Invalid credential") when authx refuses the key; 403 when the
contact lacks a permission (an HTML page for the route's "access AJAX API", JSON for the entity's
own permissions); 400/405 for requests CiviCRM takes for cross-site forgery; 500 JSON with
``error_code``/``error_message`` for everything else, detailed only when the contact has "view
debug output"; 503 in maintenance mode.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import requests

from coprolib.adapters import (
    Adapter,
    AuthError,
    Capabilities,
    CheckResult,
    DeliveryResult,
    PermanentError,
    RetractRef,
    RetractResult,
    RetryableError,
    Secret,
    Status,
)
from coprolib.adapters.columns import FIELDS, check_mapping, fit, mapped_values
from coprolib.adapters.errors import AdapterError, error_for
from coprolib.adapters.http import (
    HttpClient,
    HttpOptions,
    check_endpoint,
    classify_status,
    parse_retry_after,
)
from coprolib.records import Share

#: The entity written to unless ``entity`` says otherwise: an Activity is what a voluntary-sector
#: CiviCRM already uses to record an interaction or a piece of work.
DEFAULT_ENTITY = "Activity"
#: The custom field holding the share's idempotency key (custom group "Coprolib", field
#: "External ID"; APIv4 names custom fields ``<group name>.<field name>``).
DEFAULT_MATCH_FIELD = "Coprolib.External_ID"
#: Share field -> Activity field, when ``entity`` is Activity and ``fields`` is not given.
ACTIVITY_FIELDS: Mapping[str, str] = {"title": "subject", "body": "details"}
#: Fixed values of every Activity written, when ``values`` is not given. ``user_contact_id`` is
#: APIv4's name for the contact the API key belongs to.
ACTIVITY_VALUES: Mapping[str, Any] = {
    "activity_type_id:name": "Lived experience insight",
    "status_id:name": "Completed",
    "source_contact_id": "user_contact_id",
}
#: ``civicrm_activity.subject`` is ``varchar(255)``: longer text is a database error.
ACTIVITY_MAX_LENGTHS: Mapping[str, int] = {"subject": 255}
#: Activity "details" is rich text shown as HTML in CiviCRM: plain text is escaped into it.
ACTIVITY_HTML_FIELDS: tuple[str, ...] = ("details",)

#: An Alphanumeric custom field holds 255 characters unless its "Database field length" is
#: raised (then list it in ``max_lengths``).
KEY_LENGTH = 255

_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?(:[a-z]+)?$")
_ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
#: Errors CiviCRM reports with a 500 that no retry can fix (seen when the API contact has
#: "view debug output"; otherwise CiviCRM hides the reason and a retry is the safe guess).
_PERMANENT_CODES = frozenset({"mandatory_missing"})
_PERMANENT_MESSAGE = re.compile(
    r"^(API? .* does not exist|Invalid field|Mandatory values missing|"
    r"DB Error: constraint violation)",
    re.IGNORECASE,
)
_MAX_DETAIL = 300


def _field_problem(name: str) -> str | None:
    if _FIELD_NAME.match(name):
        return None
    return "is not a CiviCRM APIv4 field name (such as subject or Custom_group.Field_name)"


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen(kw_only=True)
class CiviCRMConfig:
    """Settings of a ``civicrm`` destination.

    ``url``: the APIv4 REST end-point, ``https://<site>/civicrm/ajax/api4`` (see the README for
    WordPress and Joomla paths). ``api_key``: ``$env:NAME`` holding the integration contact's
    API key; ``site_key`` (optional): ``$env:NAME`` holding the site key, for sites whose
    authx guard asks for it. ``entity``: what to write (default Activity). ``match_field``: the
    field holding the share's idempotency key. ``fields``: share field -> CiviCRM field;
    ``values``: fixed values for every record (both have Activity defaults). ``max_lengths``:
    CiviCRM field -> most characters (longer text is cut with "…"). ``html_fields``: fields
    CiviCRM shows as HTML (text is escaped into paragraphs). ``batch_size``: records per
    ``save`` call.
    """

    url: str
    api_key: Secret
    site_key: Secret | None = None
    entity: str = DEFAULT_ENTITY
    match_field: str = DEFAULT_MATCH_FIELD
    fields: dict[str, str] | None = None
    values: dict[str, Any] | None = None
    max_lengths: dict[str, int] | None = None
    html_fields: tuple[str, ...] | None = None
    batch_size: int = attrs.field(default=25, validator=_positive)
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.url, "url")
        if not _ENTITY_NAME.match(self.entity):
            raise ValueError(
                f"entity: {self.entity!r} is not a CiviCRM entity name (e.g. Activity)"
            )
        if _field_problem(self.match_field) or ":" in self.match_field:
            raise ValueError(
                f"match_field: {self.match_field!r} is not a field name (such as "
                f"{DEFAULT_MATCH_FIELD}, the custom field holding the external id)"
            )
        if self.entity != DEFAULT_ENTITY and self.fields is None:
            raise ValueError(
                f"fields: say which {self.entity} fields receive the share (for example "
                '{title = "subject", body = "details"}); the defaults are for Activity'
            )
        check_mapping(self.fields or {}, _field_problem)
        for name in self.values or {}:
            problem = _field_problem(name)
            if problem:
                raise ValueError(f"values.{name}: {problem}")


class CiviCRMAdapter(Adapter[CiviCRMConfig]):
    """Writes each share as one CiviCRM record (an Activity by default) through APIv4."""

    name = "civicrm"
    config_class = CiviCRMConfig
    capabilities = Capabilities(max_batch_size=100, can_retract=True, can_upsert=True)

    def __init__(self, config: Any, *, destination: str | None = None) -> None:
        super().__init__(config, destination=destination)
        cfg = self.config
        activity = cfg.entity == DEFAULT_ENTITY
        self.fields: Mapping[str, str] = (
            cfg.fields if cfg.fields is not None else dict(ACTIVITY_FIELDS)
        )
        self.values: Mapping[str, Any] = (
            cfg.values if cfg.values is not None else (dict(ACTIVITY_VALUES) if activity else {})
        )
        self.max_lengths: Mapping[str, int] = (
            cfg.max_lengths
            if cfg.max_lengths is not None
            else (dict(ACTIVITY_MAX_LENGTHS) if activity else {})
        )
        self.html_fields: tuple[str, ...] = (
            cfg.html_fields
            if cfg.html_fields is not None
            else (ACTIVITY_HTML_FIELDS if activity else ())
        )
        headers = {
            "X-Civi-Auth": f"Bearer {cfg.api_key.reveal()}",
            "X-Requested-With": "XMLHttpRequest",
            "Accept": "application/json",
        }
        if cfg.site_key is not None:
            headers["X-Civi-Key"] = cfg.site_key.reveal()
        self.http = HttpClient(
            base_url=cfg.url, options=cfg.http, headers=headers, redact=self.redact
        )

    # --- APIv4 calls ----------------------------------------------------------------------

    def call(self, action: str, params: Mapping[str, Any], entity: str | None = None) -> Any:
        """One APIv4 call; the reply's ``values``, or a classified error in CiviCRM's words."""
        path = f"{entity or self.config.entity}/{action}"
        body = {"params": json.dumps(params, ensure_ascii=False, separators=(",", ":"))}
        response = self.http.send("POST", path, data=body)
        try:
            if response.status_code != 200:
                raise self._error(response, path)
            try:
                reply = response.json()
                values = reply["values"]
            except (ValueError, KeyError, TypeError):
                raise RetryableError(
                    f"CiviCRM sent an unreadable reply to {path} (HTTP 200): it may have been "
                    "applied; sending again is safe"
                ) from None
            return values
        finally:
            response.close()

    def _error(self, response: requests.Response, path: str) -> AdapterError:
        code = response.status_code
        status = classify_status(code)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        detail, error_code = _detail(response)
        if code == 401:
            return AuthError(
                f"CiviCRM refused the API key ({detail or 'HTTP 401'}): check the key, that "
                "the contact's role has 'authenticate with api key' (or set site_key), and that "
                "API Key is allowed for the HTTP X-Header flow"
            )
        if code == 403:
            if error_code is None:
                return AuthError(
                    f"CiviCRM denied {path} (HTTP 403): give the API key's contact 'access "
                    "AJAX API' and 'access CiviCRM'"
                )
            return AuthError(
                f"CiviCRM refused {path} for the API key's contact (HTTP 403, {detail}): give "
                "its role the permissions listed in the README"
            )
        if code in (400, 405):
            return PermanentError(f"CiviCRM refused the request to {path}: {detail}")
        if code == 404:
            return PermanentError(f"no CiviCRM APIv4 end-point at {path} (HTTP 404): check url")
        if code == 500 and (
            str(error_code) in _PERMANENT_CODES or _PERMANENT_MESSAGE.match(detail or "")
        ):
            return PermanentError(f"CiviCRM cannot do {path}: {detail}")
        text = f"CiviCRM answered HTTP {code} to {path}" + (f": {detail}" if detail else "")
        return error_for(status, text, retry_after=retry_after)

    # --- records --------------------------------------------------------------------------

    def record(self, share: Share) -> dict[str, Any]:
        """The record ``save`` writes for a share: fixed values, mapped fields and the key."""
        record: dict[str, Any] = dict(self.values)
        plain = {k: v for k, v in self.max_lengths.items() if k not in self.html_fields}
        for column, value in mapped_values(share, self.fields, plain, _date).items():
            if isinstance(value, str) and column in self.html_fields:
                value = _as_html(value)
                if column in self.max_lengths:  # the limit is on what CiviCRM stores
                    value = fit(value, self.max_lengths[column])
            record[column] = value
        record[self.config.match_field] = share.idempotency_key
        return record

    def _save(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        limit = self.max_lengths.get(self.config.match_field, KEY_LENGTH)
        fitting = [s for s in shares if len(s.idempotency_key) <= limit]
        results: dict[str, DeliveryResult] = {}
        if fitting:
            params = {
                "records": [self.record(share) for share in fitting],
                "match": [self.config.match_field],
            }
            saved = self.call("save", params)
            if not isinstance(saved, list) or len(saved) != len(fitting):
                raise RetryableError(
                    "CiviCRM's reply to save did not list one record per share; sending again "
                    "is safe"
                )
            for share, row in zip(fitting, saved, strict=True):
                results[share.id] = DeliveryResult(
                    share_id=share.id,
                    idempotency_key=share.idempotency_key,
                    status=Status.OK,
                    remote_id=str(row.get("id")) if isinstance(row, dict) else None,
                )
        too_long = PermanentError(
            f"the share's reference is longer than {self.config.match_field} holds ({limit} "
            "characters): lengthen the field in CiviCRM and set max_lengths"
        )
        return [results.get(s.id) or self.failed_delivery(s, too_long) for s in shares]

    def _delete(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        keys = sorted({ref.idempotency_key for ref in refs})
        deleted = self.call("delete", {"where": [[self.config.match_field, "IN", keys]]})
        note = None if deleted else "nothing held under this key (already deleted)"
        return [self.retracted(ref, note) for ref in refs]

    # --- the adapter API ------------------------------------------------------------------

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """``save`` up to ``batch_size`` records per call, matched on ``match_field``.

        A call is not a transaction in CiviCRM: when it fails part-way, the whole group is
        sent again, which the match makes safe."""
        return self.deliver_in_groups(shares, self.config.batch_size, self._save)

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """``delete`` where ``match_field`` is one of the keys; nothing matching is success."""
        return self.retract_in_groups(refs, self.config.batch_size, self._delete)

    def check(self) -> CheckResult:
        """Prove the key, the permissions, the fields and the option values (no record written)."""
        try:
            message = self._check()
        except Exception as exc:  # reported as the check result
            status, _, text = self.classify(exc)
            return CheckResult(ok=False, status=status, message=text)
        return CheckResult(ok=True, status=Status.OK, message=message)

    def _check(self) -> str:
        entity = self.config.entity
        wanted = [self.config.match_field, *self.fields.values()]
        wanted += [name.split(":", 1)[0] for name in self.values]
        fields = self.call(
            "getFields",
            {
                "action": "save",
                "select": ["name", "options"],
                "where": [["name", "IN", sorted(set(wanted))]],
                "loadOptions": ["name"],
            },
        )
        known = {f["name"]: f for f in fields if isinstance(f, dict) and "name" in f}
        for name in wanted:
            if name not in known:
                raise PermanentError(_missing_field(entity, name, self.config.match_field))
        for name, value in self.values.items():
            base, _, suffix = name.partition(":")
            options = known[base].get("options")
            names = {o.get("name") for o in options or () if isinstance(o, dict)}
            if suffix == "name" and isinstance(options, list) and value not in names:
                raise PermanentError(_missing_option(entity, base, value))
        access = self.call("checkAccess", {"action": "create", "values": dict(self.values)})
        if not (access and isinstance(access[0], dict) and access[0].get("access")):
            raise AuthError(
                f"the API key's contact may not create {entity} records: "
                f"{_permission_hint(entity, 'create')}"
            )
        # A delete that matches nothing proves the permission a retraction needs, and changes
        # nothing (checkAccess for delete would need an existing record's id).
        probe = f"coprolib-check-{secrets.token_hex(20)}"
        try:
            self.call("delete", {"where": [[self.config.match_field, "=", probe]]})
        except AuthError:
            raise AuthError(
                f"the API key's contact may not delete {entity} records: "
                f"{_permission_hint(entity, 'delete')}"
            ) from None
        return (
            f"API key accepted; {entity} has {self.config.match_field}; create and delete allowed"
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()


def _date(moment: Any) -> str:
    # APIv4 takes "YYYY-MM-DD HH:MM:SS"; coprolib's times are UTC.
    return str(moment.strftime("%Y-%m-%d %H:%M:%S"))


def _as_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\r?\n\s*\r?\n", text) if p.strip()] or [text]
    return "".join(
        "<p>" + html.escape(p).replace("\r\n", "<br />").replace("\n", "<br />") + "</p>"
        for p in paragraphs
    )


def _detail(response: requests.Response) -> tuple[str, Any]:
    """CiviCRM's own words for a failed call, and its ``error_code`` (None for non-JSON)."""
    text = response.text or ""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and ("error_message" in body or "error_code" in body):
        return str(body.get("error_message", ""))[:_MAX_DETAIL], body.get("error_code")
    if isinstance(body, dict) and "status_message" in body:
        return str(body["status_message"])[:_MAX_DETAIL], None
    if "html" in response.headers.get("Content-Type", ""):
        return "", None
    return " ".join(text.split())[:_MAX_DETAIL], None


def _missing_field(entity: str, name: str, match_field: str) -> str:
    if name == match_field:
        group, _, field = name.partition(".")
        return (
            f"CiviCRM has no field {name} on {entity}: create a custom field set named "
            f"{group or 'Coprolib'} used for {entity} records with an Alphanumeric text field "
            f"named {field or 'External_ID'} (Administer > Customize Data and Screens > Custom "
            "Fields), or set match_field"
        )
    return f"CiviCRM has no field {name} on {entity}: correct fields/values in the settings"


def _missing_option(entity: str, field: str, value: Any) -> str:
    if field == "activity_type_id":
        return (
            f"CiviCRM has no activity type named {value!r}: add it under Administer > "
            "Customize Data and Screens > Activity Types, or change values"
        )
    return f"CiviCRM has no option named {value!r} for {entity}.{field}"


def _permission_hint(entity: str, action: str) -> str:
    if entity == DEFAULT_ENTITY and action == "delete":
        return "give its role 'delete activities'"
    if entity == DEFAULT_ENTITY:
        return "give its role 'access CiviCRM' (and, where ACLs apply, edit access to contacts)"
    return f"give its role the permission CiviCRM asks for to {action} {entity}"


__all__ = ["FIELDS", "CiviCRMAdapter", "CiviCRMConfig"]
