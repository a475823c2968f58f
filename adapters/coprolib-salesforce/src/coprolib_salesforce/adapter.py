"""The Salesforce adapter: upsert by External ID, sObject Collections batches of up to 200,
delete by the same External ID to retract, OAuth 2.0 client-credentials sign-in.

Docs followed:

* Upsert: ``PATCH /services/data/vXX.X/sobjects/<object>/<field>/<value>`` creates the record
  (201) or updates the one with that External ID (200; 204 before API 46); the body must not hold
  ``Id`` or the External ID field; a value that looks like a file extension (``.inc``) or holds a
  ``/`` answers 404, so such keys go through the body-based Collections request and a query
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_upsert_patch.htm).
* sObject Collections: ``PATCH /services/data/vXX.X/composite/sobjects/<object>/<field>`` with
  ``{"allOrNone": false, "records": [...]}``, at most 200 records, each with
  ``attributes.type``; ``200`` with one ``{id, success, errors, created}`` per record, in order
  (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html).
* Delete: ``DELETE`` the same External ID address answers 204, or 404 ``NOT_FOUND`` when no
  record has the value
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_upsert_delete.htm).
* Sign-in: the OAuth 2.0 client credentials flow, ``POST <My Domain>/services/oauth2/token``
  (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm).
* Errors and limits: see :mod:`coprolib_salesforce.errors`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import requests

from coprolib.adapters import (
    Adapter,
    Capabilities,
    CheckResult,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Secret,
    Status,
)
from coprolib.adapters import columns as share_columns
from coprolib.adapters.errors import AdapterError, PermanentError, RetryableError
from coprolib.adapters.http import (
    ClientCredentials,
    HttpClient,
    HttpOptions,
    ServiceClient,
    check_endpoint,
)
from coprolib.records import Share
from coprolib_salesforce.errors import RecordMissingError, classify, classify_code, error_parts

#: The most records one sObject Collections request takes.
MAX_COLLECTION = 200
#: The most characters a Text External ID field holds.
MAX_EXTERNAL_ID = 255
#: The most bytes of URL-encoded keys in one SOQL ``IN`` list: Salesforce takes at most 16,384
#: bytes of URI and headers (414 URI Too Long past that), so a query stays well under it
#: (https://help.salesforce.com/s/articleView?id=000386264).
MAX_IN = 8000

#: Default mapping for the custom object the README describes (``Coprolib_Share__c``).
DEFAULT_FIELDS: Mapping[str, str] = {
    "title": "Name",
    "body": "Body__c",
    "kind": "Kind__c",
    "identity_level": "Identity_Level__c",
    "domain": "Domain__c",
    "themes": "Themes__c",
    "recommendation": "Recommendation__c",
    "quotes": "Quotes__c",
    "digest": "Digest__c",
    "planned_at": "Planned_At__c",
    "consent_refs": "Consent_Versions__c",
}

#: Field lengths of the README's object (Name is Text(80); long text areas up to 131,072).
DEFAULT_MAX_LENGTHS: Mapping[str, int] = {
    "Name": 80,
    "Body__c": 131_072,
    "Kind__c": 40,
    "Identity_Level__c": 40,
    "Domain__c": 80,
    "Themes__c": 32_768,
    "Recommendation__c": 32_768,
    "Quotes__c": 131_072,
    "Digest__c": 64,
    "Consent_Versions__c": 32_768,
}

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_VERSION = re.compile(r"^v\d{2,3}\.0$")
#: External ID values sent in a URL path: nothing Salesforce could read as a path separator or
#: a file extension.
_PATH_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def _batch_size(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= MAX_COLLECTION:
        raise ValueError(f"batch_size must be from 1 to {MAX_COLLECTION}, got {value}")


def _api_name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not _API_NAME.match(value):
        raise ValueError(f"{attribute.name}: {value!r} is not a Salesforce API name")


@attrs.frozen(kw_only=True)
class SalesforceConfig:
    """Settings of a ``salesforce`` destination (see the README's configuration reference)."""

    instance_url: str
    client_id: str
    client_secret: Secret
    sobject: str = attrs.field(default="Coprolib_Share__c", validator=_api_name)
    external_id_field: str = attrs.field(default="Coprolib_Key__c", validator=_api_name)
    fields: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_FIELDS))
    max_lengths: dict[str, int] = attrs.field(factory=lambda: dict(DEFAULT_MAX_LENGTHS))
    api_version: str = "v62.0"
    batch_size: int = attrs.field(default=MAX_COLLECTION, validator=_batch_size)
    token_url: str | None = None
    limit_pause: float = 3600.0
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.instance_url, "instance_url")
        if self.token_url is not None:
            check_endpoint(self.token_url, "token_url")
        if not _VERSION.match(self.api_version) or int(self.api_version[1:-2]) < 46:
            raise ValueError(
                f"api_version: {self.api_version!r} must look like v62.0 and be v46.0 or later "
                "(sObject Collections upsert needs 46.0)"
            )

        def problem(field: str) -> str | None:
            if not _API_NAME.match(field):
                return "is not a field API name"
            if field.lower() == self.external_id_field.lower():
                return "is the External ID field, which always holds the idempotency key"
            return None

        share_columns.check_mapping(self.fields, problem)

    @property
    def effective_token_url(self) -> str:
        """``token_url``, or ``<instance_url>/services/oauth2/token``."""
        return self.token_url or f"{self.instance_url.rstrip('/')}/services/oauth2/token"


def timestamp(moment: dt.datetime) -> str:
    """A date and time as Salesforce's REST API takes a DateTime: ISO 8601 in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def soql_literal(value: str) -> str:
    """``value`` as a quoted SOQL string literal (backslash escapes, as SOQL requires)."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
        .replace('"', '\\"')
    )
    return f"'{escaped}'"


class SalesforceAdapter(Adapter[SalesforceConfig]):
    """Shares as records of one Salesforce object, keyed by an External ID field."""

    name = "salesforce"
    config_class = SalesforceConfig
    capabilities = Capabilities(max_batch_size=MAX_COLLECTION, can_retract=True, can_upsert=True)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, destination=destination)
        cfg = self.config
        self.clock = clock
        token_session = requests.Session()
        token_session.verify = cfg.http.ca_bundle or True
        self.credentials = ClientCredentials(
            cfg.effective_token_url,
            cfg.client_id,
            cfg.client_secret,
            session=token_session,
            timeout=(cfg.http.connect_timeout, cfg.http.read_timeout),
            clock=clock,
        )
        self.http = HttpClient(
            base_url=f"{cfg.instance_url.rstrip('/')}/services/data/{cfg.api_version}",
            options=cfg.http,
            token_source=self.credentials,
            redact=self.redact,
            headers={"Accept": "application/json"},
        )
        self.service = ServiceClient(
            service="Salesforce",
            http=self.http,
            classify=functools.partial(classify, limit_pause=self.config.limit_pause),
            redact=self.redact,
            clock=clock,
        )
        self._object_confirmed = False

    # --- one request ----------------------------------------------------------------------

    def paused_for(self) -> float:
        """Seconds this destination is still paused by a limit or 429 (0 when not paused)."""
        return self.service.paused_for()

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent to the REST API (token requests not counted), for benchmarks."""
        return self.service.requests_sent

    def call(self, method: str, path: str, *, what: str, **kwargs: Any) -> requests.Response:
        """One REST request through :class:`coprolib.adapters.http.ServiceClient`: the token
        refreshed once on 401, nothing sent while paused; the 2xx response, or the classified
        error raised (a 429 or an exhausted limit pauses the destination)."""
        return self.service.send(method, path, what=what, **kwargs)

    # --- addresses and records ------------------------------------------------------------

    def record_path(self, key: str) -> str:
        """``sobjects/<object>/<External ID field>/<key>``."""
        cfg = self.config
        return f"sobjects/{cfg.sobject}/{cfg.external_id_field}/{urllib.parse.quote(key, safe='')}"

    def values(self, share: Share) -> dict[str, Any]:
        """The mapped fields of ``share`` (the External ID is not among them)."""
        return share_columns.mapped_values(
            share, self.config.fields, self.config.max_lengths, timestamp
        )

    def _checked_key(self, key: str) -> str:
        if not key or len(key) > MAX_EXTERNAL_ID:
            raise PermanentError(
                f"idempotency key of {len(key)} characters does not fit the External ID field "
                f"(1 to {MAX_EXTERNAL_ID})"
            )
        return key

    # --- delivery -------------------------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Upsert one record by External ID (through Collections when the key cannot be a path)."""
        key = self._checked_key(share.idempotency_key)
        if not _PATH_SAFE.match(key):
            return self._collection([share])[0]
        response = self.call("PATCH", self.record_path(key), what="upsert", json=self.values(share))
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        finally:
            response.close()
        remote_id = body.get("id") if isinstance(body, dict) else None
        return self._delivered(share, str(remote_id) if remote_id else None)

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Upsert in sObject Collections requests of up to ``batch_size``; one result per share."""
        if len(shares) <= 1 or self.config.batch_size == 1:
            return super().deliver(shares)
        return self.deliver_in_groups(shares, self.config.batch_size, self._collection)

    def _collection(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        cfg = self.config
        results: list[DeliveryResult | None] = [None] * len(shares)
        records, positions = [], []
        for index, share in enumerate(shares):
            try:
                key = self._checked_key(share.idempotency_key)
            except AdapterError as exc:
                results[index] = self.failed_delivery(share, exc)
                continue
            record = {"attributes": {"type": cfg.sobject}, cfg.external_id_field: key}
            record.update(self.values(share))
            records.append(record)
            positions.append(index)
        if records:
            response = self.call(
                "PATCH",
                f"composite/sobjects/{cfg.sobject}/{cfg.external_id_field}",
                what="collection upsert",
                json={"allOrNone": False, "records": records},
            )
            try:
                items = response.json()
            except ValueError:
                raise RetryableError("Salesforce sent an unreadable Collections reply") from None
            finally:
                response.close()
            if not isinstance(items, list):
                raise RetryableError("Salesforce sent an unreadable Collections reply")
            for n, index in enumerate(positions):
                item = items[n] if n < len(items) and isinstance(items[n], dict) else None
                results[index] = self._item_result(shares[index], item)
        return [r for r in results if r is not None]

    def _item_result(self, share: Share, item: dict[str, Any] | None) -> DeliveryResult:
        if item is None:
            return self.failed_delivery(
                share, RetryableError("Salesforce gave no result for this record")
            )
        if item.get("success"):
            return self._delivered(share, str(item["id"]) if item.get("id") else None)
        code, message, fields = error_parts(item.get("errors") or [])
        error = classify_code(
            code or "UNKNOWN_EXCEPTION",
            message,
            fields,
            what="upsert",
            limit_pause=self.config.limit_pause,
        )
        return self.failed_delivery(share, self.service.note(error))

    def _delivered(self, share: Share, remote_id: str | None) -> DeliveryResult:
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=remote_id,
        )

    # --- retraction -----------------------------------------------------------------------

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Delete the record by External ID; a record already gone counts as retracted."""
        key = ref.idempotency_key
        if _PATH_SAFE.match(key) and len(key) <= MAX_EXTERNAL_ID:
            try:
                self.call("DELETE", self.record_path(key), what="delete").close()
            except RecordMissingError:
                self._confirm_object()
                return self.retracted(ref, "already deleted at Salesforce")
            return self.retracted(ref)
        ids = self.record_ids(key)
        for record_id in ids:
            try:
                self.call(
                    "DELETE", f"sobjects/{self.config.sobject}/{record_id}", what="delete"
                ).close()
            except RecordMissingError:
                continue
        return self.retracted(ref, None if ids else "already deleted at Salesforce")

    def _confirm_object(self) -> None:
        """Make sure the object exists before a ``NOT_FOUND`` is read as "already deleted".

        Salesforce gives the same ``NOT_FOUND`` for an unknown object as for a missing record;
        a withdrawal must never be recorded as done because ``sobject`` is wrong. Asked once.
        """
        if self._object_confirmed:
            return
        try:
            self.call("GET", f"sobjects/{self.config.sobject}/describe", what="describe").close()
        except RecordMissingError:
            raise PermanentError(
                f"delete: Salesforce has no object {self.config.sobject} (check sobject); the "
                "record was not confirmed deleted"
            ) from None
        self._object_confirmed = True

    def record_ids(self, key: str) -> list[str]:
        """The Ids of the records whose External ID is exactly ``key``."""
        return self.ids_by_key([key]).get(key, [])

    def ids_by_key(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """External ID -> Ids of its records, for ``keys`` (SOQL ``IN`` queries short enough for
        a request URL; the match is made exact here)."""
        cfg = self.config
        found: dict[str, list[str]] = {}
        chunk: list[str] = []
        size = 0
        for key in [*keys, None]:
            literal = soql_literal(key) if key is not None else ""
            encoded = len(urllib.parse.quote(literal, safe="")) + 3  # and the comma, as %2C
            if chunk and (key is None or size + encoded > MAX_IN):
                soql = (
                    f"SELECT Id, {cfg.external_id_field} FROM {cfg.sobject} "
                    f"WHERE {cfg.external_id_field} IN ({','.join(chunk)})"
                )
                response = self.call("GET", "query", what="query", params={"q": soql})
                try:
                    records = response.json().get("records") or []
                except (ValueError, AttributeError):
                    raise RetryableError("Salesforce sent an unreadable query reply") from None
                finally:
                    response.close()
                for record in records:
                    if isinstance(record, dict) and record.get("Id"):
                        value = str(record.get(cfg.external_id_field))
                        found.setdefault(value, []).append(str(record["Id"]))
                chunk, size = [], 0
            if key is not None:
                chunk.append(literal)
                size += encoded
        wanted = set(keys)
        return {k: v for k, v in found.items() if k in wanted}

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Retract ``batch_size`` at a time: one query for the records' Ids, one sObject
        Collections delete; one result per ref."""
        if len(refs) <= 1 or self.config.batch_size == 1:
            return super().retract(refs)
        return self.retract_in_groups(refs, self.config.batch_size, self._retract_group)

    def _retract_group(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        ids = self.ids_by_key([ref.idempotency_key for ref in refs])
        everyone = [i for ref in refs for i in ids.get(ref.idempotency_key, [])]
        outcome: dict[str, AdapterError | None] = {}
        if everyone:
            response = self.call(
                "DELETE",
                "composite/sobjects",
                what="collection delete",
                params={"ids": ",".join(everyone), "allOrNone": "false"},
            )
            try:
                items = response.json()
            except ValueError:
                raise RetryableError("Salesforce sent an unreadable Collections reply") from None
            finally:
                response.close()
            for n, record_id in enumerate(everyone):
                item = items[n] if isinstance(items, list) and n < len(items) else None
                outcome[record_id] = self._deleted_item(item)
        results = []
        for ref in refs:
            errors = [outcome[i] for i in ids.get(ref.idempotency_key, []) if outcome[i]]
            if errors:
                results.append(self.failed_retraction(ref, errors[0]))  # type: ignore[arg-type]
            elif ids.get(ref.idempotency_key):
                results.append(self.retracted(ref))
            else:
                results.append(self.retracted(ref, "already deleted at Salesforce"))
        return results

    def _deleted_item(self, item: Any) -> AdapterError | None:
        """None when the record is gone (deleted now or before); else the item's error."""
        if not isinstance(item, dict):
            return RetryableError("Salesforce gave no result for this record")
        if item.get("success"):
            return None
        code, message, fields = error_parts(item.get("errors") or [])
        error = classify_code(
            code or "UNKNOWN_EXCEPTION",
            message,
            fields,
            what="delete",
            limit_pause=self.config.limit_pause,
        )
        return None if isinstance(error, RecordMissingError) else self.service.note(error)

    # --- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Sign in, describe the object, confirm the External ID field and mapped fields, and say
        how much of the org's daily API request allowance is left (when the user may read it)."""
        cfg = self.config
        try:
            response = self.call("GET", f"sobjects/{cfg.sobject}/describe", what="describe")
            try:
                described = response.json()
            except ValueError:
                raise RetryableError("Salesforce sent an unreadable describe reply") from None
            finally:
                response.close()
            problem = describe_problem(described, cfg)
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        if problem:
            return CheckResult(ok=False, status=Status.PERMANENT, message=problem)
        message = (
            f"signed in; {cfg.sobject} can be created, edited and deleted, and "
            f"{cfg.external_id_field} is a unique, case-sensitive External ID"
        )
        allowance = self.daily_api_requests()
        if allowance is None:
            return CheckResult(ok=True, status=Status.OK, message=message)
        remaining, most = allowance
        message += f"; {remaining} of {most} API requests left in the last 24 hours"
        if remaining <= 0:
            return CheckResult(
                ok=False,
                status=Status.THROTTLED,
                message=message + ": the org's limit is used up, so nothing can be sent now",
            )
        return CheckResult(ok=True, status=Status.OK, message=message)

    def daily_api_requests(self) -> tuple[int, int] | None:
        """``(remaining, max)`` of the org's rolling 24-hour API request allowance
        (``GET /limits``, ``DailyApiRequests``), or None when it cannot be read."""
        try:
            response = self.call("GET", "limits", what="read limits")
            try:
                daily = response.json()["DailyApiRequests"]
                return int(daily["Remaining"]), int(daily["Max"])
            finally:
                response.close()
        except (AdapterError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
        self.credentials.session.close()


def describe_problem(described: Any, cfg: SalesforceConfig) -> str | None:
    """What is wrong with the object for this adapter, from its describe reply; None if nothing."""
    if not isinstance(described, dict):
        return "Salesforce sent an unreadable describe reply"
    missing = [
        right
        for right, flag in (
            ("create", "createable"),
            ("edit", "updateable"),
            ("delete", "deletable"),
        )
        if not described.get(flag)
    ]
    if missing:
        return (
            f"the integration user cannot {', '.join(missing)} {cfg.sobject} records: add those "
            "object permissions to its permission set"
        )
    fields = {
        str(f.get("name", "")).lower(): f
        for f in described.get("fields") or []
        if isinstance(f, dict)
    }
    key = fields.get(cfg.external_id_field.lower())
    if key is None:
        return f"{cfg.sobject} has no field {cfg.external_id_field} the integration user can see"
    if not key.get("externalId"):
        return f"{cfg.external_id_field} is not marked External ID: edit the field and tick it"
    if not key.get("unique") or not key.get("caseSensitive"):
        return (
            f'{cfg.external_id_field} must be Unique and case sensitive ("Treat ABC and abc as '
            'different values"): edit the field and set both'
        )
    if int(key.get("length") or 0) < MAX_EXTERNAL_ID:
        return f"{cfg.external_id_field} must hold {MAX_EXTERNAL_ID} characters"
    for name in cfg.fields.values():
        field = fields.get(name.lower())
        if field is None:
            return f"{cfg.sobject} has no field {name} the integration user can see"
        if not field.get("createable") or not field.get("updateable"):
            return f"the integration user cannot edit {name}: give it Edit field access"
    return None
