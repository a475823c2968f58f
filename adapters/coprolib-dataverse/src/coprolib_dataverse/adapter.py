"""The Dataverse adapter: upsert by alternate key, ``$batch`` of up to 1,000, delete to retract.

Docs followed:

* Upsert: ``PATCH [org]/api/data/v9.2/<entityset>(<keycolumn>='<value>')`` without ``If-Match``
  creates the row or updates the one with that alternate key, answering ``204 No Content`` with
  ``OData-EntityId`` (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
  "Upsert a table row"; alternate keys:
  https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record).
* ``$batch``: at most 1,000 requests, answered in order; ``Prefer: odata.continue-on-error`` keeps
  going after a failed request
  (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).
* Service protection: ``429 Too Many Requests`` with ``Retry-After``; the whole client must wait
  (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits).
* Errors: ``{"error": {"code", "message"}}`` (see :mod:`coprolib_dataverse.errors`). A delete
  of a row that is already gone answers ``404`` with ``0x80060891`` ("A record with the specified
  key values does not exist"): the retraction is done.
* Key values: "If the data within a column that is used in an alternate key contains one of the
  following characters ``/ # < > * % & : \\ ? +`` then GET or PATCH actions won't work"
  (https://learn.microsoft.com/power-apps/maker/data-platform/define-alternate-keys-portal).
  The key column therefore holds :func:`key_value` of the idempotency key: letters, digits,
  ``-``, ``_`` and ``.`` as they are, any other character as ``~`` and the two hex digits of
  each of its UTF-8 bytes (``test:ins-7`` -> ``test~3Ains-7``). coprolib's own keys
  (``coprolib-<40 hex>``) are unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import requests
from coprolib_entra import DEFAULT_AUTHORITY_HOST, default_scope
from coprolib_entra.service import ServiceClient, credentials_for

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
from coprolib.adapters.errors import AdapterError, RetryableError
from coprolib.adapters.http import HttpClient, HttpOptions, check_endpoint
from coprolib.records import Share
from coprolib_dataverse import batch
from coprolib_dataverse.columns import (
    DEFAULT_COLUMNS,
    DEFAULT_MAX_LENGTHS,
    check_mapping,
    row_for,
)
from coprolib_dataverse.errors import RowMissingError, classify

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_ESCAPED = re.compile(r"(?:~[0-9A-F]{2})+")


def key_value(key: str) -> str:
    """The alternate-key value for an idempotency key: only ``A-Z a-z 0-9 - _ .`` and ``~``
    escapes, none of the characters Dataverse cannot read in a key (see the module docstring)."""
    return "".join(c if c in _KEY_SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in key)


def key_from_value(value: str) -> str:
    """The idempotency key a :func:`key_value` value was made from."""
    return _ESCAPED.sub(lambda m: bytes.fromhex(m.group(0).replace("~", "")).decode(), value)


_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


def _batch_size(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= batch.MAX_BATCH:
        raise ValueError(f"batch_size must be from 1 to {batch.MAX_BATCH}, got {value}")


@attrs.frozen(kw_only=True)
class DataverseConfig:
    """Settings of a ``dataverse`` destination (see the README's configuration reference).

    ``url``: the environment URL (``https://<org>.crm11.dynamics.com``). ``entity_set``: the
    table's entity set (plural) name. ``key_column``: the column of the alternate key that holds
    coprolib's idempotency key. ``columns``: share field -> column logical name.
    ``max_lengths``: column -> most characters it takes (longer text ends in "…").
    """

    url: str
    tenant_id: str
    client_id: str
    client_secret: Secret
    entity_set: str
    key_column: str = "coprolib_idempotencykey"
    columns: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_COLUMNS))
    max_lengths: dict[str, int] = attrs.field(factory=lambda: dict(DEFAULT_MAX_LENGTHS))
    api_version: str = "v9.2"
    batch_size: int = attrs.field(default=batch.MAX_BATCH, validator=_batch_size)
    authority_host: str = DEFAULT_AUTHORITY_HOST
    instance_discovery: bool = True
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.url, "url")
        for name in ("entity_set", "key_column"):
            if not _NAME.match(getattr(self, name)):
                raise ValueError(f"{name}: {getattr(self, name)!r} is not a logical name")
        check_mapping(self.columns, self.key_column)


class DataverseAdapter(Adapter[DataverseConfig]):
    """Shares as rows of a Dataverse table, keyed by an alternate key on the idempotency key."""

    name = "dataverse"
    config_class = DataverseConfig
    capabilities = Capabilities(max_batch_size=batch.MAX_BATCH, can_retract=True, can_upsert=True)

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
        self.credentials = credentials_for(cfg, default_scope(cfg.url), clock)
        self.http = HttpClient(
            options=cfg.http,
            token_source=self.credentials,
            redact=self.redact,
            headers={
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
            },
        )
        self.api_root = f"{cfg.url.rstrip('/')}/api/data/{cfg.api_version}"
        self.service = ServiceClient(
            service="Dataverse", http=self.http, classify=classify, redact=self.redact, clock=clock
        )

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent to Dataverse (not counting token requests), for benchmarks."""
        return self.service.requests_sent

    # --- addresses and rows ----------------------------------------------------------------

    def record_url(self, key: str) -> str:
        """The row addressed by its alternate key: ``.../<set>(<keycolumn>='<key value>')``."""
        literal = key_value(key)
        return f"{self.api_root}/{self.config.entity_set}({self.config.key_column}='{literal}')"

    def row(self, share: Share) -> dict[str, Any]:
        """The columns written for ``share`` (the URL's alternate key holds its idempotency key)."""
        return row_for(share, self.config.columns, self.config.max_lengths)

    # --- throttling ------------------------------------------------------------------------

    def paused_for(self) -> float:
        """Seconds this destination is still paused by a 429 (0 when not paused)."""
        return self.service.paused_for()

    # --- one request ----------------------------------------------------------------------

    def _send(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        """One request with auth (refreshed once on 401) and the destination-wide pause."""
        return self.service.send(method, url, what=what, **kwargs)

    def _noted(self, error: AdapterError) -> AdapterError:
        return self.service.note(error)

    # --- delivery -------------------------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Upsert one row by its alternate key."""
        response = self._send(
            "PATCH",
            self.record_url(share.idempotency_key),
            what="upsert",
            json=self.row(share),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        remote_id = _entity_id(response.headers.get("OData-EntityId"))
        response.close()
        return self._delivered(share, remote_id)

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Upsert in ``$batch`` requests of up to ``batch_size``; one result per share."""
        if len(shares) <= 1 or self.config.batch_size == 1:
            return super().deliver(shares)
        return self.deliver_in_groups(shares, self.config.batch_size, self._deliver_batch)

    def _deliver_batch(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        operations = [
            batch.Operation(
                method="PATCH", url=self.record_url(share.idempotency_key), body=self.row(share)
            )
            for share in shares
        ]
        parts = self._send_batch(operations)
        results = []
        for index, share in enumerate(shares):
            if index >= len(parts):
                results.append(self.failed_delivery(share, _not_processed()))
                continue
            part = parts[index]
            if 200 <= part.status < 300:
                results.append(
                    self._delivered(share, _entity_id(part.headers.get("odata-entityid")))
                )
            else:
                error = self._noted(classify(part.status, part.headers, part.body, what="upsert"))
                results.append(self.failed_delivery(share, error))
        return results

    def _send_batch(self, operations: Sequence[batch.Operation]) -> list[batch.PartResponse]:
        content_type, body = batch.build(operations)
        response = self._send(
            "POST",
            f"{self.api_root}/$batch",
            what="$batch",
            data=body,
            headers={"Content-Type": content_type, "Prefer": "odata.continue-on-error"},
        )
        try:
            return batch.parse(response.headers.get("Content-Type", ""), response.content)
        except (batch.BatchFormatError, requests.RequestException):
            raise RetryableError("Dataverse sent an unreadable $batch response") from None
        finally:
            response.close()

    def _delivered(self, share: Share, remote_id: str | None) -> DeliveryResult:
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=remote_id,
        )

    # --- retraction -----------------------------------------------------------------------

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Delete the row by its alternate key; a row that is already gone counts as retracted."""
        try:
            self._send("DELETE", self.record_url(ref.idempotency_key), what="delete").close()
        except RowMissingError:
            return self.retracted(ref, "already deleted at Dataverse")
        return self.retracted(ref)

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Delete in ``$batch`` requests of up to ``batch_size``; one result per ref."""
        if len(refs) <= 1 or self.config.batch_size == 1:
            return super().retract(refs)
        return self.retract_in_groups(refs, self.config.batch_size, self._retract_batch)

    def _retract_batch(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        operations = [
            batch.Operation(method="DELETE", url=self.record_url(ref.idempotency_key))
            for ref in refs
        ]
        parts = self._send_batch(operations)
        results = []
        for index, ref in enumerate(refs):
            if index >= len(parts):
                results.append(self.failed_retraction(ref, _not_processed()))
                continue
            part = parts[index]
            if 200 <= part.status < 300:
                results.append(self.retracted(ref))
                continue
            error = self._noted(classify(part.status, part.headers, part.body, what="delete"))
            if isinstance(error, RowMissingError):
                results.append(self.retracted(ref, "already deleted at Dataverse"))
            else:
                results.append(self.failed_retraction(ref, error))
        return results

    # --- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Sign in, call ``WhoAmI``, and read one row of the table through the key column."""
        try:
            self._send("GET", f"{self.api_root}/WhoAmI", what="WhoAmI").close()
            query = f"$select={self.config.key_column}&$top=1"
            self._send(
                "GET", f"{self.api_root}/{self.config.entity_set}?{query}", what="read table"
            ).close()
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        return CheckResult(
            ok=True,
            status=Status.OK,
            message=f"signed in; table {self.config.entity_set} and column "
            f"{self.config.key_column} readable",
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()


def _not_processed() -> RetryableError:
    return RetryableError("Dataverse did not process this request in the $batch")


def _entity_id(header: str | None) -> str | None:
    """The row id from an ``OData-EntityId`` header such as ``.../tables(0000-...)``."""
    if not header:
        return None
    found = _ENTITY_ID.search(header)
    return found.group(1) if found else None
