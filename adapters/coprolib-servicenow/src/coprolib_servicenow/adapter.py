"""The ServiceNow adapter: the Import Set API with a transform map that coalesces on the
idempotency key (the Table API has no upsert), ``insertMultiple`` for batches, Table API
``DELETE`` to retract, OAuth 2.0 client credentials.

Docs followed:

* ``POST /api/now/import/{stagingTableName}``: inserts one staging row and transforms it at once;
  ``201`` with ``{"import_set", "staging_table", "result": [{"table", "sys_id", "status",
  "status_message", "error_message", ...}]}``, status ``inserted``, ``updated``, ``ignored``,
  ``skipped`` or ``error``. Values are name-value pairs of strings.
* ``POST /api/now/import/{stagingTableName}/insertMultiple`` with ``{"records": [...]}``:
  ``201 {"import_set_id", "multi_import_set_id"}``; each row's outcome is then read from the
  staging table (``sys_import_state``, ``sys_import_state_comment``, ``sys_target_sys_id``),
  which is synchronous when the REST Insert Multiple record says so
  (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_ImportSetAPI.html; 200 records a
  request, as the insertMultiple guidance recommends:
  https://www.servicenow.com/docs/r/api-reference/web-services/r_InsertMultiple.html).
* ``DELETE /api/now/table/{tableName}/{sys_id}``: ``204``; ``404`` when no record is there; and
  ``GET /api/now/table/{tableName}?sysparm_query=...`` to find records by key
  (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html).
* Sign-in: ``POST /oauth_token.do`` with ``grant_type=client_credentials`` (enabled by the
  ``glide.oauth.inbound.client.credential.grant_type.enabled`` property and an OAuth
  Application User; https://www.servicenow.com/docs/r/platform-security/authentication/client-credentials.html).
* Rate limits and errors: :mod:`coprolib_servicenow.errors`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
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
from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RetryableError,
)
from coprolib.adapters.http import (
    ClientCredentials,
    HttpClient,
    HttpOptions,
    ServiceClient,
    check_endpoint,
)
from coprolib.records import Share
from coprolib_servicenow.errors import RecordMissingError, classify

#: The most rows one insertMultiple request carries.
MAX_BATCH = 200

#: Default staging columns of the import set table the README describes.
DEFAULT_COLUMNS: Mapping[str, str] = {
    "title": "u_title",
    "body": "u_body",
    "kind": "u_kind",
    "identity_level": "u_identity_level",
    "domain": "u_domain",
    "themes": "u_themes",
    "recommendation": "u_recommendation",
    "quotes": "u_quotes",
    "digest": "u_digest",
    "planned_at": "u_planned_at",
    "consent_refs": "u_consent_versions",
}

#: Max lengths of the README's staging columns.
DEFAULT_MAX_LENGTHS: Mapping[str, int] = {
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

#: The most characters of a key the README's key columns hold.
MAX_KEY = 255

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
#: Import set row states that mean the target record now holds the row.
_DONE = frozenset({"inserted", "updated", "ignored"})


def _batch_size(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= MAX_BATCH:
        raise ValueError(f"batch_size must be from 1 to {MAX_BATCH}, got {value}")


def _table_name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(f"{attribute.name}: {value!r} is not a ServiceNow table or column name")


@attrs.frozen(kw_only=True)
class ServiceNowConfig:
    """Settings of a ``servicenow`` destination (see the README's configuration reference)."""

    instance_url: str
    client_id: str
    client_secret: Secret
    staging_table: str = attrs.field(default="u_coprolib_share_import", validator=_table_name)
    target_table: str = attrs.field(default="u_coprolib_share", validator=_table_name)
    key_column: str = attrs.field(default="u_coprolib_key", validator=_table_name)
    target_key_field: str = attrs.field(default="u_coprolib_key", validator=_table_name)
    columns: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_COLUMNS))
    max_lengths: dict[str, int] = attrs.field(factory=lambda: dict(DEFAULT_MAX_LENGTHS))
    batch_size: int = attrs.field(default=MAX_BATCH, validator=_batch_size)
    token_url: str | None = None
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.instance_url, "instance_url")
        if self.token_url is not None:
            check_endpoint(self.token_url, "token_url")

        def problem(column: str) -> str | None:
            if not _NAME.match(column):
                return "is not a column name (lower case, such as u_title)"
            if column == self.key_column:
                return "is the key column, which always holds the idempotency key"
            return None

        share_columns.check_mapping(self.columns, problem)

    @property
    def effective_token_url(self) -> str:
        """``token_url``, or ``<instance_url>/oauth_token.do``."""
        return self.token_url or f"{self.instance_url.rstrip('/')}/oauth_token.do"


def timestamp(moment: dt.datetime) -> str:
    """A date and time as an import set column takes it (``yyyy-MM-dd HH:mm:ss``, UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class ServiceNowAdapter(Adapter[ServiceNowConfig]):
    """Shares as ServiceNow records, written through an import set table whose transform map
    coalesces on the idempotency key."""

    name = "servicenow"
    config_class = ServiceNowConfig
    capabilities = Capabilities(max_batch_size=MAX_BATCH, can_retract=True, can_upsert=True)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, destination=destination)
        cfg = self.config
        self.clock = clock
        self.wall = wall
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
            base_url=f"{cfg.instance_url.rstrip('/')}/api/now",
            options=cfg.http,
            token_source=self.credentials,
            redact=self.redact,
            headers={"Accept": "application/json"},
        )
        self.service = ServiceClient(
            service="ServiceNow",
            http=self.http,
            classify=functools.partial(classify, wall=self.wall),
            redact=self.redact,
            clock=clock,
        )

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

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RetryableError(f"ServiceNow sent an unreadable {what} reply") from None
        finally:
            response.close()

    # --- rows -----------------------------------------------------------------------------

    def row(self, share: Share) -> dict[str, str]:
        """The staging row for ``share``: every mapped column as a string, and the key."""
        values = share_columns.mapped_values(
            share, self.config.columns, self.config.max_lengths, timestamp
        )
        row = {column: str(value) for column, value in values.items() if value is not None}
        row[self.config.key_column] = share.idempotency_key
        return row

    def _checked(self, share: Share) -> Share:
        if not share.idempotency_key or len(share.idempotency_key) > MAX_KEY:
            raise PermanentError(
                f"idempotency key of {len(share.idempotency_key)} characters does not fit the "
                f"key column (1 to {MAX_KEY})"
            )
        return share

    # --- delivery -------------------------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Import one row; the transform map coalesces on the key and reports what it did."""
        self._checked(share)
        response = self.call(
            "POST", f"import/{self.config.staging_table}", what="import", json=self.row(share)
        )
        body = self._json(response, "import")
        results = body.get("result") if isinstance(body, dict) else None
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise RetryableError("ServiceNow sent no transform result for the row")
        ours = [r for r in results if r.get("table") == self.config.target_table] or results
        item = ours[0]
        state = str(item.get("status") or "")
        comment = str(item.get("error_message") or item.get("status_message") or "")
        return self._row_result(share, state, comment, str(item.get("sys_id") or ""))

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Import rows ``batch_size`` at a time with insertMultiple; one result per share."""
        if len(shares) <= 1 or self.config.batch_size == 1:
            return super().deliver(shares)
        return self.deliver_in_groups(shares, self.config.batch_size, self._insert_multiple)

    def _insert_multiple(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        cfg = self.config
        results: list[DeliveryResult | None] = [None] * len(shares)
        rows, positions = [], []
        for index, share in enumerate(shares):
            try:
                rows.append(self.row(self._checked(share)))
                positions.append(index)
            except AdapterError as exc:
                results[index] = self.failed_delivery(share, exc)
        if rows:
            response = self.call(
                "POST",
                f"import/{cfg.staging_table}/insertMultiple",
                what="insertMultiple",
                json={"records": rows},
            )
            body = self._json(response, "insertMultiple")
            import_set = body.get("import_set_id") if isinstance(body, dict) else None
            if not import_set:
                raise RetryableError("ServiceNow sent no import set id for the rows")
            states = self._row_states(str(import_set), len(rows))
            for index in positions:
                share = shares[index]
                found = states.get(share.idempotency_key)
                if found is None:
                    results[index] = self.failed_delivery(
                        share, RetryableError("ServiceNow holds no staging row for this share")
                    )
                else:
                    results[index] = self._row_result(share, *found)
        return [r for r in results if r is not None]

    def _row_states(self, import_set: str, count: int) -> dict[str, tuple[str, str, str]]:
        """key -> (state, comment, target sys_id) of the staging rows of one import set."""
        cfg = self.config
        fields = f"{cfg.key_column},sys_import_state,sys_import_state_comment,sys_target_sys_id"
        response = self.call(
            "GET",
            f"table/{cfg.staging_table}",
            what="read import rows",
            params={
                "sysparm_query": f"sys_import_set={import_set}",
                "sysparm_fields": fields,
                "sysparm_exclude_reference_link": "true",
                "sysparm_limit": str(count),
            },
        )
        body = self._json(response, "import rows")
        rows = body.get("result") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise RetryableError("ServiceNow sent an unreadable import rows reply")
        return {
            str(r.get(cfg.key_column)): (
                str(r.get("sys_import_state") or ""),
                str(r.get("sys_import_state_comment") or ""),
                str(r.get("sys_target_sys_id") or ""),
            )
            for r in rows
            if isinstance(r, dict)
        }

    def _row_result(
        self, share: Share, state: str, comment: str, target_sys_id: str
    ) -> DeliveryResult:
        remote_id = target_sys_id if _SYS_ID.match(target_sys_id) else None
        if state in _DONE:
            return DeliveryResult(
                share_id=share.id,
                idempotency_key=share.idempotency_key,
                status=Status.OK,
                remote_id=remote_id,
                message=None if state != "ignored" else "unchanged at ServiceNow",
            )
        if state == "pending":
            return DeliveryResult(
                share_id=share.id,
                idempotency_key=share.idempotency_key,
                status=Status.OK,
                message="accepted; ServiceNow transforms it later (set the REST Insert Multiple "
                "record to synchronous to see row errors)",
            )
        reason = comment or f"import row state {state or 'unknown'}"
        return self.failed_delivery(
            share, PermanentError(f"the transform did not write the record: {reason}")
        )

    # --- retraction -----------------------------------------------------------------------

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Delete the target record (by its sys_id, else found by key); gone counts as done."""
        ids = (
            [ref.remote_id]
            if ref.remote_id and _SYS_ID.match(ref.remote_id)
            else self.record_ids(ref.idempotency_key)
        )
        deleted = 0
        for sys_id in ids:
            try:
                self.call(
                    "DELETE", f"table/{self.config.target_table}/{sys_id}", what="delete"
                ).close()
                deleted += 1
            except RecordMissingError:
                continue
        return self.retracted(ref, None if deleted else "already deleted at ServiceNow")

    def record_ids(self, key: str) -> list[str]:
        """The sys_ids of target records whose key field is exactly ``key``.

        An encoded query cannot carry ``^`` inside a value, so such a key is looked up by the
        text before its first ``^`` and matched exactly here.
        """
        cfg = self.config
        field = cfg.target_key_field
        query = f"{field}STARTSWITH{key.split('^', 1)[0]}" if "^" in key else f"{field}={key}"
        response = self.call(
            "GET",
            f"table/{cfg.target_table}",
            what="find record",
            params={"sysparm_query": query, "sysparm_fields": f"sys_id,{field}"},
        )
        body = self._json(response, "find record")
        rows = body.get("result") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise RetryableError("ServiceNow sent an unreadable table reply")
        return [
            str(r["sys_id"])
            for r in rows
            if isinstance(r, dict) and r.get(field) == key and r.get("sys_id")
        ]

    # --- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Sign in, read the target table, and confirm a transform map coalesces on the key."""
        cfg = self.config
        try:
            self.call(
                "GET",
                f"table/{cfg.target_table}",
                what="read target table",
                params={"sysparm_limit": "1", "sysparm_fields": f"sys_id,{cfg.target_key_field}"},
            ).close()
            try:
                response = self.call(
                    "GET",
                    "table/sys_transform_entry",
                    what="read transform map",
                    params={
                        "sysparm_query": f"map.source_table={cfg.staging_table}"
                        f"^target_field={cfg.target_key_field}^coalesce=true",
                        "sysparm_fields": "sys_id",
                        "sysparm_limit": "1",
                    },
                )
            except AuthError:
                return CheckResult(
                    ok=True,
                    status=Status.OK,
                    message=f"signed in; {cfg.target_table} readable (the coalesce on "
                    f"{cfg.target_key_field} could not be confirmed: no read on "
                    "sys_transform_entry)",
                )
            body = self._json(response, "transform map")
            entries = body.get("result") if isinstance(body, dict) else None
            if not isinstance(entries, list):
                raise RetryableError("ServiceNow sent an unreadable transform map reply")
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        if not entries:
            return CheckResult(
                ok=False,
                status=Status.PERMANENT,
                message=f"no transform map from {cfg.staging_table} coalesces on "
                f"{cfg.target_key_field}: open the transform map, edit the field map for the key "
                "and tick Coalesce (without it every delivery adds a record)",
            )
        return CheckResult(
            ok=True,
            status=Status.OK,
            message=f"signed in; {cfg.target_table} readable and the transform map from "
            f"{cfg.staging_table} coalesces on {cfg.target_key_field}",
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
        self.credentials.session.close()
