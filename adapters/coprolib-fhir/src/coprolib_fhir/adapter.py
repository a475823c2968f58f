"""The FHIR R4 adapter: insight shares as ``Communication`` resources, written in batch or
transaction Bundles with conditional create or conditional update, retracted by marking them
``entered-in-error`` and then a conditional ``DELETE``.

Follows https://hl7.org/fhir/R4/http.html (batch/transaction, conditional create/update/delete,
status codes), https://hl7.org/fhir/R4/bundle.html#transaction (batch-response entries, one per
request entry, in order) and https://hl7.org/fhir/R4/communication.html.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
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
from coprolib.adapters.errors import AdapterError, RetryableError
from coprolib.adapters.http import (
    ClientCredentials,
    HttpClient,
    HttpOptions,
    StaticToken,
    TokenSource,
    check_endpoint,
    parse_retry_after,
)
from coprolib.records import Share
from coprolib_fhir import outcome, smart
from coprolib_fhir.resources import (
    DEFAULT_CATEGORY_SYSTEM,
    DEFAULT_IDENTIFIER_SYSTEM,
    Coding,
    bundle,
    communication,
    create_entry,
    delete_entry,
    identifier_query,
    logical_id,
    put_entry,
    search_entry,
    update_entry,
)

FHIR_JSON = "application/fhir+json"
#: Statuses after which the rest of a batch is not sent (the whole destination must wait).
_STOP = frozenset({Status.THROTTLED, Status.AUTH, Status.DISABLED})


def _one_of(*allowed: str) -> Callable[[Any, attrs.Attribute[str], str], None]:
    def check(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in allowed:
            raise ValueError(f"{attribute.name} must be one of {', '.join(allowed)}, not {value!r}")

    return check


def _batch_size(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= FhirAdapter.capabilities.max_batch_size:
        raise ValueError(
            f"{attribute.name} must be 1 to {FhirAdapter.capabilities.max_batch_size}, not {value}"
        )


def _default_category() -> tuple[Coding, ...]:
    return (Coding(system=DEFAULT_CATEGORY_SYSTEM, code="insight", display="Prevention insight"),)


@attrs.frozen(kw_only=True)
class FhirConfig:
    """Settings of a ``fhir`` destination (see the README's configuration reference).

    Authentication: ``token`` (a static bearer token); or ``token_url`` + ``client_id`` and
    either ``client_secret`` (OAuth 2.0 client credentials) or ``private_key`` + ``key_id``
    (SMART Backend Services: a client assertion signed with ``algorithm`` RS384 or ES384, see
    :mod:`coprolib_fhir.smart`), with optional ``scope``; or none of them for an open test server.
    """

    url: str
    recipients: tuple[str, ...] = ()
    sender: str | None = None
    identifier_system: str = DEFAULT_IDENTIFIER_SYSTEM
    category: tuple[Coding, ...] = attrs.field(factory=_default_category)
    bundle_type: str = attrs.field(default="batch", validator=_one_of("batch", "transaction"))
    write: str = attrs.field(default="update", validator=_one_of("update", "create"))
    batch_size: int = attrs.field(default=50, validator=_batch_size)
    token: Secret | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    private_key: Secret | None = None
    key_id: str | None = None
    algorithm: str = attrs.field(default="RS384", validator=_one_of(*smart.ALGORITHMS))
    scope: str | None = None
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.url, "url")
        if self.client_secret is not None and self.private_key is not None:
            raise ValueError("give either client_secret or private_key (SMART), not both")
        if self.private_key is not None:
            if not (self.token_url and self.client_id and self.key_id):
                raise ValueError(
                    "SMART Backend Services needs token_url, client_id, private_key and key_id"
                )
            check_endpoint(self.token_url, "token_url")
            smart.load_private_key(self.private_key, self.algorithm)
        else:
            oauth = (self.token_url, self.client_id, self.client_secret)
            if any(v is not None for v in oauth) and not all(v is not None for v in oauth):
                raise ValueError(
                    "client credentials need all of token_url, client_id and client_secret "
                    "(or private_key and key_id for SMART Backend Services)"
                )
        if self.token is not None and (
            self.client_secret is not None or self.private_key is not None
        ):
            raise ValueError("give either token or client credentials, not both")


def _token_source(config: FhirConfig) -> TokenSource | None:
    if config.token is not None:
        return StaticToken(config.token)
    if config.private_key is not None and config.token_url and config.client_id:
        return smart.BackendServicesToken(
            config.token_url,
            config.client_id,
            config.private_key,
            key_id=str(config.key_id),
            algorithm=config.algorithm,
            scope=config.scope,
            timeout=(config.http.connect_timeout, config.http.read_timeout),
            verify=config.http.ca_bundle or True,
        )
    if config.token_url and config.client_id and config.client_secret is not None:
        return ClientCredentials(
            config.token_url,
            config.client_id,
            config.client_secret,
            scope=config.scope,
            timeout=(config.http.connect_timeout, config.http.read_timeout),
        )
    return None


class _TooLarge(Exception):
    """The server refused the Bundle for its size."""


class FhirAdapter(Adapter[FhirConfig]):
    """Insight shares as FHIR R4 ``Communication`` resources, one Bundle per batch."""

    name = "fhir"
    config_class = FhirConfig
    capabilities = Capabilities(max_batch_size=100, can_retract=True, can_upsert=True)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(config, destination=destination)
        self._clock = clock
        self._batch = self.config.batch_size
        self.requests_sent = 0
        self.http = HttpClient(
            base_url=self.config.url,
            options=self.config.http,
            token_source=_token_source(self.config),
            headers={"Accept": FHIR_JSON},
            redact=self.redact,
        )

    # --- resources ------------------------------------------------------------------------

    def resource(self, share: Share, *, status: str = "completed") -> dict[str, Any]:
        """The ``Communication`` JSON for ``share``."""
        return communication(
            share,
            identifier_system=self.config.identifier_system,
            category=self.config.category,
            recipients=self.config.recipients,
            sender=self.config.sender,
            sent=self._clock(),
            status=status,
        )

    def entry(self, share: Share) -> dict[str, Any]:
        """The Bundle entry that writes ``share`` (conditional update or conditional create)."""
        make = update_entry if self.config.write == "update" else create_entry
        return make(
            self.resource(share),
            self.config.identifier_system,
            share.idempotency_key,
            f"urn:uuid:{uuid.uuid4()}",
        )

    # --- talking to the server ------------------------------------------------------------

    def post_bundle(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """POST a Bundle to the base URL; the response entries, one per request entry.

        Raises a classified error (with the ``OperationOutcome`` diagnostics) when the whole
        Bundle fails, and :class:`_TooLarge` when the server refuses it for its size.
        """
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": FHIR_JSON}
        response = self._send("POST", "", data=data, headers=headers)
        with response:
            if not 200 <= response.status_code < 300:
                raise self._failure(response)
            try:
                reply = response.json()
            except (ValueError, requests.exceptions.RequestException):
                raise RetryableError("the FHIR server sent an unreadable Bundle") from None
        entries = reply.get("entry") if isinstance(reply, dict) else None
        wanted = f"{body['type']}-response"
        if (
            not isinstance(reply, dict)
            or reply.get("resourceType") != "Bundle"
            or reply.get("type") != wanted
            or not isinstance(entries, list)
            or len(entries) != len(body["entry"])
            or not all(isinstance(e, dict) for e in entries)
        ):
            raise RetryableError(f"the FHIR server did not answer with a {wanted} Bundle")
        return entries

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.requests_sent += 1
        response = self.http.send(method, path, **kwargs)
        if response.status_code == 401 and self.http.token_source is not None:
            response.close()
            self.requests_sent += 1
            response = self.http.send(method, path, _refresh=True, **kwargs)
        return response

    def _failure(self, response: requests.Response) -> Exception:
        try:
            body = response.json()
        except ValueError:
            body = None
        codes = {str(i.get("code")) for i in outcome.issues(body)}
        if response.status_code == 413 or "too-costly" in codes:
            return _TooLarge()
        return outcome.error(
            response.status_code,
            body,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    # --- delivery -------------------------------------------------------------------------

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Write the shares in Bundles of ``batch_size``; one result per share, in order."""
        results: dict[str, DeliveryResult] = {}
        stop: DeliveryResult | None = None
        start = 0
        while start < len(shares):
            chunk = list(shares[start : start + self._batch])
            start += len(chunk)
            if stop is not None:
                for share in chunk:
                    results[share.id] = attrs.evolve(
                        stop, share_id=share.id, idempotency_key=share.idempotency_key
                    )
                continue
            for result in self._deliver_chunk(chunk):
                results[result.share_id] = result
                if result.status in _STOP:
                    stop = result
        return [self._clean_delivery(results[share.id]) for share in shares]

    def _deliver_chunk(self, chunk: list[Share]) -> list[DeliveryResult]:
        try:
            entries = self.post_bundle(
                bundle(self.config.bundle_type, [self.entry(s) for s in chunk])
            )
        except _TooLarge:
            if len(chunk) == 1:
                return [
                    self.failed_delivery(
                        chunk[0],
                        AdapterError(
                            "the FHIR server refuses even a one-entry Bundle as too large"
                        ),
                    )
                ]
            self._batch = max(1, len(chunk) // 2)
            return self._halves(chunk)
        except AdapterError as exc:
            if (
                self.config.bundle_type == "transaction"
                and len(chunk) > 1
                and exc.status in (Status.PERMANENT, Status.CONFLICT)
            ):
                return self._halves(chunk)
            return [self.failed_delivery(share, exc) for share in chunk]
        except Exception as exc:
            return [self.failed_delivery(share, exc) for share in chunk]
        return [
            self._entry_result(share, entry) for share, entry in zip(chunk, entries, strict=True)
        ]

    def _halves(self, chunk: list[Share]) -> list[DeliveryResult]:
        middle = len(chunk) // 2
        first = self._deliver_chunk(chunk[:middle])
        if any(r.status in _STOP for r in first):
            stop = next(r for r in first if r.status in _STOP)
            return first + [
                attrs.evolve(stop, share_id=s.id, idempotency_key=s.idempotency_key)
                for s in chunk[middle:]
            ]
        return first + self._deliver_chunk(chunk[middle:])

    def _entry_result(self, share: Share, entry: dict[str, Any]) -> DeliveryResult:
        response = entry.get("response") or {}
        code = outcome.status_code(response.get("status"))
        if code is None:
            return self.failed_delivery(
                share, RetryableError("a batch-response entry had no status")
            )
        if 200 <= code < 300:
            resource = entry.get("resource") or {}
            remote = logical_id(response.get("location")) or (
                f"Communication/{resource['id']}" if resource.get("id") else None
            )
            return DeliveryResult(
                share_id=share.id,
                idempotency_key=share.idempotency_key,
                status=Status.OK,
                remote_id=remote,
            )
        return self.failed_delivery(share, outcome.error(code, response.get("outcome")))

    # --- retraction -----------------------------------------------------------------------

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Find each Communication by identifier, mark it ``entered-in-error``, then delete it
        with a conditional ``DELETE``; three batch Bundles per group of refs."""
        results: list[RetractResult] = []
        for start in range(0, len(refs), self._batch):
            chunk = list(refs[start : start + self._batch])
            try:
                results.extend(self._retract_chunk(chunk))
            except Exception as exc:
                results.extend(self.failed_retraction(ref, exc) for ref in chunk)
        return [self._clean_retraction(r) for r in results]

    def _retract_chunk(self, refs: list[RetractRef]) -> list[RetractResult]:
        system = self.config.identifier_system
        found = self.post_bundle(
            bundle("batch", [search_entry(system, r.idempotency_key) for r in refs])
        )
        done: dict[int, RetractResult] = {}
        marks: list[tuple[int, dict[str, Any]]] = []
        for index, (ref, entry) in enumerate(zip(refs, found, strict=True)):
            code = outcome.status_code((entry.get("response") or {}).get("status"))
            if code is None or not 200 <= code < 300:
                done[index] = self.failed_retraction(
                    ref, outcome.error(code or 502, (entry.get("response") or {}).get("outcome"))
                )
                continue
            matches = [
                e["resource"]
                for e in ((entry.get("resource") or {}).get("entry") or [])
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            ]
            if not matches:
                done[index] = self._retracted(ref, ref.remote_id, "no Communication held")
                continue
            for match in matches:
                if match.get("id"):
                    marked = {**match, "status": "entered-in-error"}
                    marked.pop("meta", None)
                    marks.append((index, put_entry(marked, str(match["id"]), self.config.url)))
        if marks:
            marked_entries = self.post_bundle(bundle("batch", [m for _, m in marks]))
            for (index, _), entry in zip(marks, marked_entries, strict=True):
                code = outcome.status_code((entry.get("response") or {}).get("status")) or 502
                if not 200 <= code < 300:
                    exc = outcome.error(code, (entry.get("response") or {}).get("outcome"))
                    if exc.status in (Status.RETRYABLE, Status.THROTTLED) and index not in done:
                        done[index] = self.failed_retraction(refs[index], exc)
        pending = [i for i in range(len(refs)) if i not in done]
        if pending:
            deleted = self.post_bundle(
                bundle("batch", [delete_entry(system, refs[i].idempotency_key) for i in pending])
            )
            for index, entry in zip(pending, deleted, strict=True):
                response = entry.get("response") or {}
                code = outcome.status_code(response.get("status")) or 502
                if 200 <= code < 300 or code in (404, 410):
                    done[index] = self._retracted(refs[index], refs[index].remote_id, None)
                else:
                    done[index] = self.failed_retraction(
                        refs[index], outcome.error(code, response.get("outcome"))
                    )
        return [done[i] for i in range(len(refs))]

    def _retracted(self, ref: RetractRef, remote: str | None, message: str | None) -> RetractResult:
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=remote,
            status=Status.OK,
            retracted=True,
            message=message,
        )

    # --- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Read the CapabilityStatement (FHIR version, Communication interactions), then run an
        authenticated search to prove the credentials work."""
        try:
            response = self._send("GET", "metadata")
            with response:
                if not 200 <= response.status_code < 300:
                    raise self._failure(response)
                statement = response.json()
            problem = self._capability_problem(statement)
            if problem:
                return CheckResult(ok=False, status=Status.PERMANENT, message=problem)
            query = identifier_query(self.config.identifier_system, "coprolib-check")
            response = self._send("GET", f"Communication?{query}&_summary=count")
            with response:
                if not 200 <= response.status_code < 300:
                    raise self._failure(response)
        except _TooLarge:
            return CheckResult(ok=False, status=Status.PERMANENT, message="unexpected 413")
        except ValueError:
            return CheckResult(
                ok=False,
                status=Status.RETRYABLE,
                message=f"{self.config.url}/metadata did not return JSON: is this a FHIR base URL?",
            )
        except Exception as exc:
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        return CheckResult(
            ok=True, status=Status.OK, message="FHIR R4 server reachable; credentials accepted"
        )

    def _capability_problem(self, statement: Any) -> str | None:
        if (
            not isinstance(statement, dict)
            or statement.get("resourceType") != "CapabilityStatement"
        ):
            return (
                f"{self.config.url}/metadata is not a CapabilityStatement: is this a FHIR base URL?"
            )
        version = str(statement.get("fhirVersion", ""))
        if not version.startswith(("4.0", "4.3")):
            return (
                f"the server speaks FHIR {version or '(unknown)'}; this adapter writes R4 (4.0.1)"
            )
        wanted = {"update" if self.config.write == "update" else "create", "delete", "search-type"}
        listed = [
            resource
            for rest in statement.get("rest") or []
            for resource in rest.get("resource") or []
        ]
        if listed and not any(r.get("type") == "Communication" for r in listed):
            return "the server does not offer the Communication resource"
        for resource in listed:
            if resource.get("type") != "Communication":
                continue
            have = {i.get("code") for i in resource.get("interaction") or []}
            missing = sorted(wanted - have)
            if missing:
                return "the server does not allow Communication " + ", ".join(missing)
            flag = "conditionalUpdate" if self.config.write == "update" else "conditionalCreate"
            if resource.get(flag) is False:
                return f"the server does not support {flag} on Communication (see write)"
            if resource.get("conditionalDelete") == "not-supported":
                return "the server does not support conditional delete on Communication"
        return None

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
