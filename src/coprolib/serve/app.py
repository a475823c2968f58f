"""The ASGI application ``coprolib serve`` runs: routing, limits, auth, errors and metrics.

Each request borrows one ledger handle from a small pool (so a handle is used by one request at
a time), sets its audit actor to the caller's name, runs the operation in a worker thread and
gives the handle back. Errors the library raises on purpose become RFC 9457 problem documents;
logs name the route template, never the ids in the path or anything in the body.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coprolib.config import Config
from coprolib.errors import CoprolibError
from coprolib.ledger import LedgerLocation, open_ledger
from coprolib.ledger.api_store import find_replay, remember_replay
from coprolib.ledger.ledger import Ledger
from coprolib.serve.auth import EntraVerifier, Principal, authenticate, require, verify_webhook
from coprolib.serve.metrics import Metrics
from coprolib.serve.openapi import openapi_document
from coprolib.serve.operations import OPERATIONS, Call, Operation, record_withdrawal
from coprolib.serve.problems import PROBLEM_JSON, Problem
from coprolib.serve.settings import ServeSettings, serve_settings
from coprolib.serve.validation import WEBHOOK_SCHEMA, validate_body, validate_value

log = logging.getLogger("coprolib.serve")

#: The media types a request body may have.
JSON = "application/json"
NDJSON = "application/x-ndjson"


class LedgerPool:
    """Up to ``size`` open handles on one ledger, each lent to one request at a time."""

    def __init__(
        self, location: str | LedgerLocation, size: int, schema: str | None = None
    ) -> None:
        self.location = location
        self.schema = schema
        self._free: queue.LifoQueue[Ledger] = queue.LifoQueue()
        self._all: list[Ledger] = []
        self._size = size

    def _open(self) -> Ledger:
        ledger = open_ledger(self.location, actor="api", schema=self.schema, create=False)
        self._all.append(ledger)
        return ledger

    @contextmanager
    def borrow(self, actor: str) -> Iterator[Ledger]:
        """A handle whose audit entries name ``actor``, returned to the pool afterwards."""
        try:
            ledger = self._free.get_nowait()
        except queue.Empty:
            ledger = self._open() if len(self._all) < self._size else self._free.get(timeout=30)
        ledger.actor = actor
        try:
            yield ledger
        finally:
            ledger.actor = "api"
            self._free.put(ledger)

    def close(self) -> None:
        """Close every handle."""
        for ledger in self._all:
            ledger.close()
        self._all.clear()


def _problem_response(problem: Problem, path: str) -> Response:
    return Response(
        problem.body(path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _library_problem(exc: Exception, subject: str | None) -> Problem:
    """A refusal from the library as a problem naming the field it is about."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    field = getattr(exc, "field", None) or getattr(exc, "key", None)
    missing = (
        isinstance(exc, LookupError)
        or "not in the ledger" in message
        or ("there is no " in message)
    )
    if missing:
        return Problem(404, message, field=str(field or subject or "id"))
    return Problem(422, message, field=str(field or subject or "body"))


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class Api:
    """The state one app holds: settings, the ledger pool, the Entra verifier and metrics."""

    def __init__(
        self,
        location: str | LedgerLocation,
        config: Config,
        *,
        schema: str | None = None,
        settings: ServeSettings | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or serve_settings(config)
        self.pool = LedgerPool(location, self.settings.pool, schema=schema)
        self.entra = EntraVerifier(self.settings.entra) if self.settings.entra else None
        self.metrics = Metrics()
        self.openapi = openapi_document(self.settings)

    # --- reading a request ----------------------------------------------------------------

    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise Problem(413, f"the body is larger than {limit} bytes", field="body")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, f"the body is larger than {limit} bytes", field="body")
            chunks.append(chunk)
        return b"".join(chunks)

    def parse_body(self, op: Operation, raw: bytes, media: str) -> Any:
        if not raw.strip():
            if op.body_required:
                raise Problem(422, "the request needs a JSON body", field="body")
            return {}
        allowed = (JSON, *op.extra_media)
        if media not in allowed:
            raise Problem(415, f"send the body as {' or '.join(allowed)}", field="Content-Type")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Problem(400, f"the body is not UTF-8 (byte {exc.start})", field="body") from None
        if media != JSON:
            return None
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Problem(
                400, f"the body is not JSON (line {exc.lineno} column {exc.colno})", field="body"
            ) from None
        except RecursionError:
            raise Problem(400, "the body is nested too deeply", field="body") from None
        if op.body_schema is not None:
            validate_body(op.body_schema, body)
        return body

    # --- endpoints ------------------------------------------------------------------------

    def endpoint(self, op: Operation) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            raw = await self.read_body(request) if op.body_schema is not None else b""
            request_data = (
                {k: str(v) for k, v in request.path_params.items()},
                dict(request.query_params),
                dict(request.headers),
                raw,
                _media(request),
            )
            status, answer = await run_in_threadpool(self.run, op, *request_data)
            if op.writes and 200 <= status < 300:
                self.metrics.write(op.operation_id)
            return JSONResponse(answer, status_code=status)

        return handle

    def run(
        self,
        op: Operation,
        path: dict[str, str],
        query: dict[str, str],
        headers: dict[str, str],
        raw: bytes,
        media: str,
    ) -> tuple[int, Any]:
        """Authenticate, check the scope, check the request and run ``op`` on a borrowed
        ledger handle: a refused request never reaches the operation."""
        with self.pool.borrow("api") as ledger:
            principal: Principal = authenticate(headers, ledger, self.entra)
            if op.scope is not None:
                require(principal, op.scope)
            body = self.parse_body(op, raw, media) if op.body_schema is not None else None
            known = dict(op.query)
            for name, value in query.items():
                if name not in known:
                    raise Problem(400, f"unknown query parameter {name!r}", field=name or "query")
                validate_value(known[name], value, name)
            ledger.actor = principal.name
            call = Call(
                ledger=ledger,
                config=self.config,
                actor=principal.name,
                path=path,
                query=query,
                headers=headers,
                body=body,
                raw=raw,
                media_type=media,
            )
            try:
                return op.run(call)
            except Problem:
                raise
            except (CoprolibError, ValueError, LookupError) as exc:
                raise _library_problem(exc, op.subject) from None

    async def webhook(self, request: Request) -> Response:
        source_name = request.path_params["source"]
        source = self.settings.webhooks.get(source_name)
        if source is None:
            raise Problem(404, f"there is no webhook source {source_name!r}", field="source")
        raw = await self.read_body(request)
        msg_id = verify_webhook(source, dict(request.headers), raw)
        try:
            event = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Problem(400, "the body is not JSON", field="body") from None
        validate_body(WEBHOOK_SCHEMA, event)
        status, answer = await run_in_threadpool(self.run_webhook, source_name, msg_id, event)
        if status == 200 and not answer.get("replayed"):
            self.metrics.write("webhook")
        return JSONResponse(answer, status_code=status)

    def run_webhook(self, source: str, msg_id: str, event: dict[str, Any]) -> tuple[int, Any]:
        """Record a ``consent.withdrawn`` event once per webhook id."""
        actor = f"webhook:{source}"
        slot = f"webhook:{source}:{msg_id}"
        with self.pool.borrow(actor) as ledger:
            if find_replay(ledger, slot) is not None:
                return 200, {"webhook_id": msg_id, "replayed": True}
            data = event["data"]
            try:
                with ledger.transaction():
                    done = record_withdrawal(
                        ledger, self.config, data["contributor_id"], data, actor
                    )
                    answer = {"webhook_id": msg_id, "replayed": False, "withdrawal": done}
                    remember_replay(ledger, slot, msg_id, 200, json.dumps({}))
            except Problem:
                raise
            except (CoprolibError, ValueError, LookupError) as exc:
                if find_replay(ledger, slot) is not None:
                    return 200, {"webhook_id": msg_id, "replayed": True}
                raise _library_problem(exc, "data.contributor_id") from None
        return 200, answer

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        def check() -> dict[str, Any]:
            with self.pool.borrow("api") as ledger:
                return {"status": "ready", "schema_version": ledger.schema_version}

        try:
            return JSONResponse(await run_in_threadpool(check))
        except Exception as exc:
            problem = Problem(
                503, f"the ledger cannot be used: {type(exc).__name__}", field="ledger"
            )
            return _problem_response(problem, request.url.path)

    async def metrics_text(self, request: Request) -> Response:
        body, media = self.metrics.exposition()
        return Response(body, media_type=media)

    async def openapi_json(self, request: Request) -> Response:
        return JSONResponse(self.openapi)


def create_app(
    location: str | LedgerLocation,
    config: Config | None = None,
    *,
    schema: str | None = None,
    settings: ServeSettings | None = None,
) -> Starlette:
    """The ASGI app serving the ledger at ``location`` with ``config`` (its ``[plugins.serve]``
    table gives limits, CORS, Entra ID and webhook sources; see :mod:`coprolib.serve.settings`)."""
    api = Api(location, config or Config(), schema=schema, settings=settings)
    routes: list[Route] = [
        Route("/v1/health", api.health, methods=["GET"], name="health"),
        Route("/v1/ready", api.ready, methods=["GET"], name="ready"),
        Route("/v1/metrics", api.metrics_text, methods=["GET"], name="metrics"),
        Route("/v1/openapi.json", api.openapi_json, methods=["GET"], name="openapi"),
        Route("/v1/webhooks/{source}", api.webhook, methods=["POST"], name="webhook"),
    ]
    routes += [
        Route(op.path, api.endpoint(op), methods=[op.method], name=op.operation_id)
        for op in OPERATIONS
    ]
    middleware: list[Middleware] = []
    if api.settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(api.settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            )
        )

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return _problem_response(exc, request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        from starlette.exceptions import HTTPException

        assert isinstance(exc, HTTPException)
        field = "path" if exc.status_code == 404 else "method"
        problem = Problem(
            exc.status_code, str(exc.detail), field=field, headers=dict(exc.headers or {})
        )
        return _problem_response(problem, request.url.path)

    async def on_error(request: Request, exc: Exception) -> Response:
        # Only the kind of error and the route: its message may hold ids or words from a story.
        route = _route_template(request.scope)
        log.error("%s %s failed: %s", request.method, route, type(exc).__name__)
        problem = Problem(500, "the server could not complete the request", field="request")
        return _problem_response(problem, route)

    from starlette.exceptions import HTTPException

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            api.pool.close()

    middleware.insert(0, Middleware(Observed, api=api))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={Problem: on_problem, HTTPException: on_http, Exception: on_error},
        lifespan=lifespan,
    )
    app.state.api = api
    return app


class Observed:
    """ASGI middleware: count each request by route template and status, and log it without
    ids or bodies."""

    def __init__(self, app: Any, api: Api) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route_template(scope)
            elapsed = time.perf_counter() - started
            self.api.metrics.request(scope["method"], route, status[0], elapsed)
            log.info("%s %s %d %.1fms", scope["method"], route, status[0], elapsed * 1000)


def _route_template(scope: Any) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "(unknown)"
