"""The ``sharepoint-list`` adapter: shares as items of a SharePoint list, through Microsoft Graph.

SharePoint has no upsert, so delivery is *search, then create or update*: the list has a text
column (``key_column``, indexed) holding coprolib's idempotency key; a share whose key is found is
updated in place (``PATCH items/{id}/fields``), otherwise created (``POST items``). Both steps go
in Graph JSON batches of up to 20, so 20 shares cost two requests. Retraction searches the same
way and deletes every item with the key.

Docs followed:
https://learn.microsoft.com/en-us/graph/api/listitem-list (``$filter`` on ``fields/<column>``;
filtering a column that is not indexed needs ``Prefer: HonorNonIndexedQueriesWarningMayFailRandomly``),
https://learn.microsoft.com/en-us/onedrive/developer/rest-api/api/listitem_create (``POST items``
with ``{"fields": {...}}``, 201 with the item), ``PATCH .../items/{id}/fields`` and
``DELETE .../items/{id}`` (204), https://learn.microsoft.com/en-ca/graph/json-batching (20 per
batch, per-request status), https://learn.microsoft.com/graph/throttling (429 and
``Retry-After``: wait, and send nothing meanwhile).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import requests
from coprolib_entra import DEFAULT_AUTHORITY_HOST
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
from coprolib.adapters import columns as share_columns
from coprolib.adapters.errors import AdapterError, RetryableError
from coprolib.adapters.http import HttpClient, HttpOptions, check_endpoint
from coprolib.records import Share
from coprolib_sharepoint import graph

GRAPH = "https://graph.microsoft.com/v1.0"
UNINDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"

#: The default mapping for a list made as the README describes.
DEFAULT_COLUMNS: Mapping[str, str] = {
    "title": "Title",
    "body": "InsightBody",
    "recommendation": "Recommendation",
    "domain": "LearningDomain",
    "themes": "Themes",
    "identity_level": "IdentityLevel",
    "quotes": "Quotes",
    "planned_at": "SharedOn",
    "digest": "ContentDigest",
}

#: SharePoint single line of text holds 255 characters; multiple lines 63,999 (plain text).
DEFAULT_MAX_LENGTHS: Mapping[str, int] = {
    "Title": 255,
    "InsightBody": 63_999,
    "Recommendation": 63_999,
    "Quotes": 63_999,
    "Themes": 255,
    "LearningDomain": 255,
    "IdentityLevel": 255,
    "ContentDigest": 255,
}

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_batch(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= graph.MAX_BATCH:
        raise ValueError(f"batch_size must be from 1 to {graph.MAX_BATCH}, got {value}")


@attrs.frozen(kw_only=True)
class SharePointListConfig:
    """Settings of a ``sharepoint-list`` destination (see the README's configuration reference)."""

    site_id: str
    list_id: str
    tenant_id: str
    client_id: str
    client_secret: Secret
    key_column: str = "CoprolibKey"
    columns: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_COLUMNS))
    max_lengths: dict[str, int] = attrs.field(factory=lambda: dict(DEFAULT_MAX_LENGTHS))
    allow_unindexed_filter: bool = False
    batch_size: int = attrs.field(default=graph.MAX_BATCH, validator=_check_batch)
    graph_url: str = GRAPH
    authority_host: str = DEFAULT_AUTHORITY_HOST
    instance_discovery: bool = True
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.graph_url, "graph_url")
        if not _COLUMN.match(self.key_column):
            raise ValueError(f"key_column: {self.key_column!r} is not a column internal name")
        share_columns.check_mapping(self.columns, self._column_problem)

    def _column_problem(self, column: str) -> str | None:
        if not _COLUMN.match(column) or column == self.key_column:
            return "cannot be used as a column"
        return None


def timestamp(moment: dt.datetime) -> str:
    """A date and time as Graph takes it for a list item's date column: ISO 8601 in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SharePointListAdapter(Adapter[SharePointListConfig]):
    """Shares as SharePoint list items keyed by an indexed external-key column."""

    name = "sharepoint-list"
    config_class = SharePointListConfig
    capabilities = Capabilities(max_batch_size=graph.MAX_BATCH, can_retract=True, can_upsert=True)

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
        split = urllib.parse.urlsplit(cfg.graph_url)
        self.credentials = credentials_for(cfg, f"{split.scheme}://{split.netloc}/.default", clock)
        self.http = HttpClient(
            base_url=cfg.graph_url,
            options=cfg.http,
            token_source=self.credentials,
            redact=self.redact,
            headers={"Accept": "application/json"},
        )
        site = urllib.parse.quote(cfg.site_id, safe=",:")
        self.items_path = f"/sites/{site}/lists/{urllib.parse.quote(cfg.list_id, safe='')}/items"
        self.service = ServiceClient(
            service="Microsoft Graph",
            http=self.http,
            classify=graph.classify,
            redact=self.redact,
            clock=clock,
        )

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent to Graph (not counting token requests)."""
        return self.service.requests_sent

    # --- items ----------------------------------------------------------------------------

    def fields(self, share: Share) -> dict[str, Any]:
        """The list item's fields for ``share`` (the key column holds its idempotency key)."""
        cfg = self.config
        return {
            cfg.key_column: share.idempotency_key,
            **share_columns.mapped_values(share, cfg.columns, cfg.max_lengths, timestamp),
        }

    def search_request(self, key: str) -> graph.SubRequest:
        """The GET that finds the items holding ``key`` in the key column."""
        literal = key.replace("'", "''")
        query = urllib.parse.urlencode(
            {
                "$filter": f"fields/{self.config.key_column} eq '{literal}'",
                "$select": "id",
                "$expand": f"fields($select={self.config.key_column})",
            },
            quote_via=urllib.parse.quote,
        )
        headers = {"Prefer": UNINDEXED} if self.config.allow_unindexed_filter else {}
        return graph.SubRequest(method="GET", url=f"{self.items_path}?{query}", headers=headers)

    # --- throttling and sending -----------------------------------------------------------

    def paused_for(self) -> float:
        """Seconds this destination is still paused by a 429 (0 when not paused)."""
        return self.service.paused_for()

    def _noted(self, error: AdapterError) -> AdapterError:
        return self.service.note(error)

    def _send(self, sub: graph.SubRequest, *, what: str) -> Any:
        """One request to Graph: the parsed JSON body (None for 204); raises classified errors."""
        kwargs: dict[str, Any] = {"headers": dict(sub.headers)}
        if sub.body is not None:
            kwargs["json"] = sub.body
        response = self.service.send(sub.method, sub.url, what=what, **kwargs)
        try:
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except (ValueError, requests.RequestException):
                raise RetryableError(f"{what}: Graph sent an unreadable reply") from None
        finally:
            response.close()

    def _run(self, subs: Sequence[graph.SubRequest], *, what: str) -> list[Any]:
        """Each sub-request's outcome in order: a body (dict or None) or an AdapterError.

        One request goes on its own; more go in one JSON batch.
        """
        if len(subs) == 1:
            try:
                return [self._send(subs[0], what=what)]
            except AdapterError as exc:
                return [exc]
        data = self._send(
            graph.SubRequest(method="POST", url="/$batch", body=graph.batch_body(subs)),
            what=f"{what} $batch",
        )
        try:
            responses = graph.read_batch(data, len(subs))
        except ValueError:
            raise RetryableError(f"{what}: Graph sent an unreadable $batch reply") from None
        outcomes: list[Any] = []
        for response in responses:
            if response is None:
                outcomes.append(RetryableError(f"{what}: Graph did not answer this request"))
            elif response.status >= 300:
                outcomes.append(
                    self._noted(
                        graph.classify(response.status, response.headers, response.body, what=what)
                    )
                )
            else:
                outcomes.append(response.body)
        return outcomes

    def _found_ids(self, outcome: Any) -> list[str]:
        if isinstance(outcome, AdapterError):
            raise outcome
        values = outcome.get("value") if isinstance(outcome, dict) else None
        if not isinstance(values, list):
            raise RetryableError("search: Graph sent an unreadable list of items")
        return sorted((str(item["id"]) for item in values if "id" in item), key=_numeric)

    # --- delivery -------------------------------------------------------------------------

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Search, then create or update, in JSON batches of up to ``batch_size``."""
        return self.deliver_in_groups(shares, self.config.batch_size, self._deliver_group)

    def _deliver_group(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        found = self._run([self.search_request(s.idempotency_key) for s in shares], what="search")
        results: dict[int, DeliveryResult] = {}
        writes: list[tuple[int, graph.SubRequest, str | None]] = []
        for index, (share, outcome) in enumerate(zip(shares, found, strict=True)):
            try:
                ids = self._found_ids(outcome)
            except Exception as exc:
                results[index] = self.failed_delivery(share, exc)
                continue
            fields = self.fields(share)
            if ids:
                sub = graph.SubRequest(
                    method="PATCH", url=f"{self.items_path}/{ids[0]}/fields", body=fields
                )
                writes.append((index, sub, ids[0]))
            else:
                sub = graph.SubRequest(method="POST", url=self.items_path, body={"fields": fields})
                writes.append((index, sub, None))
        if writes:
            outcomes = self._run([sub for _, sub, _ in writes], what="write")
            for (index, _, item_id), outcome in zip(writes, outcomes, strict=True):
                share = shares[index]
                if isinstance(outcome, AdapterError):
                    results[index] = self.failed_delivery(share, outcome)
                    continue
                created = outcome.get("id") if isinstance(outcome, dict) else None
                results[index] = DeliveryResult(
                    share_id=share.id,
                    idempotency_key=share.idempotency_key,
                    status=Status.OK,
                    remote_id=item_id or (str(created) if created is not None else None),
                )
        return [results[i] for i in range(len(shares))]

    # --- retraction -----------------------------------------------------------------------

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Search by key and delete every item found, in JSON batches of up to ``batch_size``."""
        return self.retract_in_groups(refs, self.config.batch_size, self._retract_group)

    def _retract_group(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        found = self._run([self.search_request(r.idempotency_key) for r in refs], what="search")
        results: dict[int, RetractResult] = {}
        deletes: list[tuple[int, graph.SubRequest]] = []
        for index, (ref, outcome) in enumerate(zip(refs, found, strict=True)):
            try:
                ids = self._found_ids(outcome)
            except Exception as exc:
                results[index] = self.failed_retraction(ref, exc)
                continue
            if not ids:
                results[index] = self.retracted(ref, "no item held this key")
            for item_id in ids:
                deletes.append(
                    (index, graph.SubRequest(method="DELETE", url=f"{self.items_path}/{item_id}"))
                )
        for start in range(0, len(deletes), graph.MAX_BATCH):
            chunk = deletes[start : start + graph.MAX_BATCH]
            outcomes = self._run([sub for _, sub in chunk], what="delete")
            for (index, _), outcome in zip(chunk, outcomes, strict=True):
                ref = refs[index]
                if isinstance(outcome, AdapterError) and not isinstance(
                    outcome, graph.NotFoundError
                ):
                    results[index] = self.failed_retraction(ref, outcome)
                elif index not in results:
                    results[index] = self.retracted(ref)
        return [results[i] for i in range(len(refs))]

    # --- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Sign in and run the key search once (proves the site, list, column and index)."""
        try:
            self._send(self.search_request("coprolib-check"), what="check")
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        return CheckResult(
            ok=True,
            status=Status.OK,
            message=f"signed in; list reachable and {self.config.key_column} searchable",
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()


def _numeric(item_id: str) -> tuple[int, str]:
    return (int(item_id), item_id) if item_id.isdigit() else (1 << 62, item_id)
