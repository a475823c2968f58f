"""A FHIR R4 server subset on 127.0.0.1 for tests, benchmarks and demonstrations.

Use :meth:`FhirServer.app` as the app of a :class:`coprolib.testing.fault_server.FaultServer`
(which adds transport faults on demand). It implements, for ``Communication`` only:

* ``GET [base]/metadata``: a CapabilityStatement (fhirVersion 4.0.1) listing read, create,
  update, delete and search-type, conditional create/update and single conditional delete
  (https://hl7.org/fhir/R4/capabilitystatement.html, https://hl7.org/fhir/R4/http.html#capabilities).
* ``POST [base]`` with a ``batch`` or ``transaction`` Bundle
  (https://hl7.org/fhir/R4/http.html#transaction, https://hl7.org/fhir/R4/bundle.html#transaction):
  a ``batch-response``/``transaction-response`` with one entry per request entry, in order, each
  with ``response.status`` as a status line, ``location`` and, on failure, an
  ``OperationOutcome`` in ``response.outcome``. A transaction is all or nothing: on the first
  failing entry nothing is kept and the server answers that entry's status with an
  OperationOutcome. Entries of a transaction are processed DELETE, POST, PUT, GET (the order the
  specification gives).
* Conditional create (``ifNoneExist`` / ``If-None-Exist``: 0 matches creates ``201``, 1 match
  answers ``200`` with the existing resource, more answers ``412``), conditional update (``PUT
  Communication?identifier=…``: 0 creates, 1 updates, more ``412``), conditional delete (``DELETE
  Communication?identifier=…``: 0 or 1 match ``204``, more ``412``), reads and ``identifier``
  searches (token escaping per https://hl7.org/fhir/R4/search.html#escaping).
* Errors as ``OperationOutcome`` bodies (https://hl7.org/fhir/R4/operationoutcome.html) with
  IssueType codes (``structure``, ``code-invalid``, ``multiple-matches``, ``login``,
  ``throttled``, ``too-costly``, ``not-supported``).
* A batch size limit (``max_entries``): a larger Bundle gets ``413`` with an OperationOutcome
  coded ``too-costly``; the specification leaves the limit to the server.
* Rate limiting: :meth:`throttle` makes the next requests get ``429`` with ``Retry-After`` and
  an OperationOutcome coded ``throttled``.
* Auth (optional): a static bearer token, or OAuth 2.0 client credentials at ``POST /token``
  (RFC 6749 section 4.4) with a client secret, or with a signed client assertion as SMART
  Backend Services asks (https://hl7.org/fhir/smart-app-launch/backend-services.html):
  ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and a JWT
  verified (PyJWT) against the JWK Set registered for the client with :meth:`register_jwks`:
  header ``alg`` RS384 or ES384 and a ``kid`` found in the set, ``iss`` = ``sub`` = the client id,
  ``aud`` = this token URL, ``exp`` present and at most five minutes ahead, a ``jti`` never seen
  before; anything else ``401 invalid_client`` (RFC 6749 section 5.2). A missing or unknown
  access token on a FHIR request gets ``401`` coded ``login``.

Every resource written is validated with the ``fhir.resources`` models (install
``coprolib-fhir[test]``); a resource that does not validate is refused with ``400`` and counted
in :attr:`FhirServer.invalid`. Without ``fhir.resources`` a server asked to validate refuses to
start (``RuntimeError`` naming the import that failed): it never skips validation quietly.
Only ``validate=False``, given on purpose (benchmarks), turns it off.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from coprolib.testing.fault_server import Reply, Request
from coprolib_fhir.smart import ASSERTION_TYPE

EVENT_STATUS = frozenset(
    {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    }
)
_METHOD_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}
FHIR_JSON = "application/fhir+json"


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """An ``OperationOutcome`` with one issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


class EntryFailed(Exception):
    """One interaction failed with an HTTP status and an OperationOutcome."""

    def __init__(self, status: int, code: str, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.outcome = operation_outcome(code, diagnostics)


def split_token(value: str) -> tuple[str | None, str]:
    """``system|value`` (FHIR-escaped) split into its unescaped parts; no ``|`` means any
    system."""
    parts: list[str] = []
    current = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == "|" and not parts:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], parts[1]


def _validator() -> Callable[[dict[str, Any]], None]:
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError as exc:
        raise RuntimeError(
            f"the FHIR stand-in validates every resource with fhir.resources, which cannot be "
            f"imported ({exc}): pip install 'coprolib-fhir[test]', or pass validate=False "
            "knowing nothing is checked"
        ) from exc

    def validate(resource: dict[str, Any]) -> None:
        get_fhir_model_class(str(resource.get("resourceType"))).model_validate(resource)

    return validate


class FhirServer:
    """The in-memory store and request handling; see the module docstring."""

    def __init__(
        self,
        *,
        base_path: str = "/fhir",
        max_entries: int = 100,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime: int = 3600,
        validate: bool = True,
        fhir_version: str = "4.0.1",
    ) -> None:
        self.base_path = base_path.rstrip("/")
        self.max_entries = max_entries
        self.static_token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.fhir_version = fhir_version
        self._validate = _validator() if validate else None
        #: client id -> the JWK Set of its public keys (SMART Backend Services)
        self.jwks: dict[str, dict[str, Any]] = {}
        self._jtis: set[str] = set()
        self.assertion_failures: list[str] = []
        self.store: dict[str, dict[str, Any]] = {}
        self.deleted: list[dict[str, Any]] = []
        self.validated: Counter[str] = Counter()
        self.invalid: list[str] = []
        self.requests: Counter[str] = Counter()
        self.retry_after = "2"
        self._throttle = 0
        self._tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._token_ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- knobs and inspection -----------------------------------------------------------

    def throttle(self, count: int, retry_after: str = "2") -> None:
        """Answer the next ``count`` requests with 429 and ``Retry-After``."""
        with self._lock:
            self._throttle = count
            self.retry_after = retry_after

    def register_jwks(self, client_id: str, jwks: dict[str, Any]) -> None:
        """Register a SMART Backend Services client by the JWK Set of its public keys."""
        with self._lock:
            self.jwks[client_id] = jwks

    def revoke_tokens(self) -> None:
        """Forget every issued token (the next request with one gets 401)."""
        with self._lock:
            self._tokens.clear()

    def keys(self, system: str | None = None) -> list[str]:
        """The identifier value of every stored Communication (duplicates included)."""
        with self._lock:
            return [
                ident["value"]
                for resource in self.store.values()
                for ident in resource.get("identifier") or []
                if system is None or ident.get("system") == system
            ]

    def by_key(self, value: str) -> list[dict[str, Any]]:
        """Stored Communications with this identifier value."""
        with self._lock:
            return [
                copy.deepcopy(r)
                for r in self.store.values()
                if any(i.get("value") == value for i in r.get("identifier") or [])
            ]

    # --- HTTP ----------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        """Handle one HTTP request (the FaultServer app)."""
        parts = urlsplit(request.path)
        path = parts.path
        if path == "/token" and request.method == "POST":
            self.requests["token"] += 1
            return self._token(request)
        if not (path == self.base_path or path.startswith(self.base_path + "/")):
            return self._outcome(404, "not-found", f"no FHIR endpoint at {path}")
        rest = path[len(self.base_path) :].strip("/")
        with self._lock:
            self.requests[f"{request.method} {rest.split('/')[0] or 'base'}"] += 1
            if self._throttle > 0:
                self._throttle -= 1
                reply = self._outcome(429, "throttled", "rate limit: slow down")
                reply.headers["Retry-After"] = self.retry_after
                return reply
        if rest == "metadata" and request.method == "GET":
            return self._json(200, self.capability_statement())
        if not self._authorised(request):
            return self._outcome(401, "login", "missing or unknown bearer token")
        try:
            if rest == "" and request.method == "POST":
                return self._bundle(request)
            body = json.loads(request.body) if request.body else None
            url = rest + (f"?{parts.query}" if parts.query else "")
            with self._lock:
                status, location, resource = self._interact(
                    request.method, url, body, request.headers.get("if-none-exist")
                )
        except EntryFailed as failed:
            return self._json(failed.status, failed.outcome)
        except ValueError:
            return self._outcome(400, "structure", "the body is not JSON")
        headers = {"Location": location} if location else {}
        reply = self._json(status, resource) if resource is not None else Reply(status=status)
        reply.headers.update(headers)
        return reply

    def capability_statement(self) -> dict[str, Any]:
        """What this server supports."""
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-01-01",
            "kind": "instance",
            "fhirVersion": self.fhir_version,
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "resource": [
                        {
                            "type": "Communication",
                            "interaction": [
                                {"code": c}
                                for c in ("read", "create", "update", "delete", "search-type")
                            ],
                            "conditionalCreate": True,
                            "conditionalUpdate": True,
                            "conditionalDelete": "single",
                            "searchParam": [{"name": "identifier", "type": "token"}],
                        }
                    ],
                    "interaction": [{"code": "batch"}, {"code": "transaction"}],
                }
            ],
        }

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return self._json(400, {"error": "unsupported_grant_type"})
        if "client_assertion" in form or "client_assertion_type" in form:
            refused = self._check_assertion(form, request)
            if refused is not None:
                with self._lock:
                    self.assertion_failures.append(refused)
                return self._json(401, {"error": "invalid_client", "error_description": refused})
            return self._issue()
        if (
            self.client_id is None
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return self._json(401, {"error": "invalid_client"})
        return self._issue()

    def _issue(self) -> Reply:
        token = f"access-{next(self._token_ids)}"
        with self._lock:
            self._tokens.add(token)
        return self._json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime},
        )

    def _check_assertion(self, form: dict[str, str], request: Request) -> str | None:
        """Why a SMART client assertion is refused, or None when it is good."""
        import jwt

        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return "client_assertion_type must be " + ASSERTION_TYPE
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return "client_assertion is not a JWT"
        client_id = str(unverified.get("iss", ""))
        with self._lock:
            jwks = self.jwks.get(client_id)
        if jwks is None:
            return "no JWK Set is registered for this client"
        algorithm = header.get("alg")
        if algorithm not in ("RS384", "ES384"):
            return "alg must be RS384 or ES384"
        matching = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
        if not matching:
            return "no registered key has this kid"
        host = request.headers.get("host", "")
        path = urlsplit(request.path).path
        audiences = [f"http://{host}{path}", f"https://{host}{path}"]
        try:
            key = jwt.PyJWK(matching[0], algorithm=algorithm).key
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[algorithm],
                audience=audiences,
                issuer=client_id,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWKError:
            return "the registered key does not suit the alg"
        except jwt.InvalidTokenError as exc:
            return f"client_assertion refused: {exc}"
        if claims["sub"] != client_id:
            return "sub must equal iss (the client id)"
        if float(claims["exp"]) > time.time() + 300 + 5:
            return "exp is more than five minutes ahead"
        with self._lock:
            if claims["jti"] in self._jtis:
                return "jti was used before"
            self._jtis.add(str(claims["jti"]))
        return None

    def _authorised(self, request: Request) -> bool:
        if self.static_token is None and self.client_id is None:
            return True
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        with self._lock:
            return token == self.static_token or token in self._tokens

    def _json(self, status: int, data: Any) -> Reply:
        return Reply(
            status=status,
            body=json.dumps(data, ensure_ascii=False).encode(),
            headers={"Content-Type": FHIR_JSON},
        )

    def _outcome(self, status: int, code: str, diagnostics: str) -> Reply:
        return self._json(status, operation_outcome(code, diagnostics))

    # --- Bundles ---------------------------------------------------------------------------

    def _bundle(self, request: Request) -> Reply:
        try:
            body = json.loads(request.body)
        except ValueError:
            return self._outcome(400, "structure", "the body is not JSON")
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            return self._outcome(400, "structure", "POST to the base URL takes a Bundle")
        kind = body.get("type")
        if kind not in ("batch", "transaction"):
            return self._outcome(400, "not-supported", f"Bundle.type {kind!r} is not processed")
        entries = body.get("entry") or []
        if len(entries) > self.max_entries:
            return self._outcome(
                413, "too-costly", f"at most {self.max_entries} entries per Bundle"
            )
        try:
            self._check(body)
        except EntryFailed as failed:
            return self._json(failed.status, failed.outcome)
        with self._lock:
            if kind == "transaction":
                return self._transaction(entries)
            return self._json(
                200,
                {
                    "resourceType": "Bundle",
                    "type": "batch-response",
                    "entry": [self._entry(e) for e in entries],
                },
            )

    def _transaction(self, entries: list[dict[str, Any]]) -> Reply:
        saved = (copy.deepcopy(self.store), list(self.deleted))
        order = sorted(
            range(len(entries)),
            key=lambda i: _METHOD_ORDER.get(entries[i].get("request", {}).get("method"), 9),
        )
        done: dict[int, dict[str, Any]] = {}
        try:
            for index in order:
                done[index] = self._respond(entries[index])
        except EntryFailed as failed:
            self.store, self.deleted = saved
            return self._json(failed.status, failed.outcome)
        return self._json(
            200,
            {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [done[i] for i in range(len(entries))],
            },
        )

    def _entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._respond(entry)
        except EntryFailed as failed:
            return {
                "response": {
                    "status": f"{failed.status} {_REASONS.get(failed.status, '')}".strip(),
                    "outcome": failed.outcome,
                }
            }

    def _respond(self, entry: dict[str, Any]) -> dict[str, Any]:
        request = entry.get("request") or {}
        status, location, resource = self._interact(
            str(request.get("method")),
            str(request.get("url", "")),
            entry.get("resource"),
            request.get("ifNoneExist"),
        )
        response: dict[str, Any] = {"status": f"{status} {_REASONS.get(status, '')}".strip()}
        if location:
            response["location"] = location
        out: dict[str, Any] = {"response": response}
        if resource is not None and request.get("method") == "GET":
            out["resource"] = resource
        return out

    def _check(self, resource: dict[str, Any]) -> None:
        kind = str(resource.get("resourceType"))
        if self._validate is not None:
            try:
                self._validate(resource)
            except Exception as exc:
                self.invalid.append(f"{kind}: {exc}")
                raise EntryFailed(400, "structure", f"{kind} does not validate: {exc}") from None
            self.validated[kind] += 1
        if kind == "Communication" and resource.get("status") not in EVENT_STATUS:
            raise EntryFailed(400, "code-invalid", f"status {resource.get('status')!r} unknown")

    # --- interactions -----------------------------------------------------------------------

    def _interact(
        self, method: str, url: str, resource: Any, if_none_exist: str | None
    ) -> tuple[int, str | None, dict[str, Any] | None]:
        path, _, query = url.partition("?")
        segments = [s for s in path.split("/") if s]
        if not segments or segments[0] != "Communication":
            raise EntryFailed(404, "not-supported", f"resource type {path!r} is not served here")
        logical = segments[1] if len(segments) > 1 else None
        if method == "GET":
            if logical:
                found = self.store.get(logical)
                if found is None:
                    raise EntryFailed(404, "not-found", f"Communication/{logical} not found")
                return 200, None, copy.deepcopy(found)
            return 200, None, self._search(query)
        if method in ("POST", "PUT"):
            if not isinstance(resource, dict) or resource.get("resourceType") != "Communication":
                raise EntryFailed(400, "structure", "expected a Communication resource")
            self._check(resource)
        if method == "POST" and logical is None:
            if if_none_exist:
                matches = self._matches(if_none_exist)
                if len(matches) > 1:
                    raise EntryFailed(412, "multiple-matches", "ifNoneExist matched several")
                if matches:
                    return 200, self._location(matches[0]), None
            return 201, self._save(None, resource), None
        if method == "PUT":
            if logical is None:
                matches = self._matches(query)
                if len(matches) > 1:
                    raise EntryFailed(412, "multiple-matches", "conditional update matched several")
                logical = matches[0] if matches else None
            if logical is not None and resource.get("id") not in (None, logical):
                raise EntryFailed(400, "invalid", "resource id does not match the URL")
            created = logical is None or logical not in self.store
            return (201 if created else 200), self._save(logical, resource), None
        if method == "DELETE":
            targets = [logical] if logical else self._matches(query)
            if len(targets) > 1:
                raise EntryFailed(412, "multiple-matches", "conditional delete matched several")
            for target in targets:
                gone = self.store.pop(target, None)
                if gone is not None:
                    self.deleted.append(gone)
            return 204, None, None
        raise EntryFailed(405, "not-supported", f"{method} {url} is not supported")

    def _matches(self, query: str) -> list[str]:
        params = parse_qs(query, keep_blank_values=True)
        unknown = set(params) - {"identifier", "_summary"}
        if unknown or "identifier" not in params:
            raise EntryFailed(400, "not-supported", f"search by {sorted(unknown) or 'nothing'}")
        system, value = split_token(params["identifier"][0])  # parse_qs decoded it once
        return [
            logical
            for logical, resource in self.store.items()
            if any(
                i.get("value") == value and (system is None or i.get("system") == system)
                for i in resource.get("identifier") or []
            )
        ]

    def _search(self, query: str) -> dict[str, Any]:
        matches = self._matches(query)
        result: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
        }
        if "_summary=count" not in query:
            result["entry"] = [
                {
                    "fullUrl": f"{self.base_path}/Communication/{m}",
                    "resource": copy.deepcopy(self.store[m]),
                    "search": {"mode": "match"},
                }
                for m in matches
            ]
        return result

    def _save(self, logical: str | None, resource: dict[str, Any]) -> str:
        logical = logical or str(next(self._ids))
        previous = self.store.get(logical)
        version = int((previous or {}).get("meta", {}).get("versionId", "0")) + 1
        stored = {**copy.deepcopy(resource), "id": logical}
        stored["meta"] = {"versionId": str(version), "lastUpdated": "2026-03-02T09:30:00Z"}
        self.store[logical] = stored
        return f"Communication/{logical}/_history/{version}"

    def _location(self, logical: str) -> str:
        version = self.store[logical].get("meta", {}).get("versionId", "1")
        return f"Communication/{logical}/_history/{version}"
