"""A real HTTP server on 127.0.0.1 that injects faults, for testing adapters and the engine.

Knobs (change them at any time; draws come from ``seed``):

* ``fail_prob``: answer 500.
* ``throttle_prob``: answer 429 with ``Retry-After: <retry_after>``.
* ``reset_prob``: read the request, then reset the connection (TCP RST).
* ``stored_reset_prob``: hand the request to the app (it is stored), then reset the connection
  instead of answering: the client cannot tell it arrived.
* ``slow_prob`` / ``slow_seconds``: wait before answering (longer than a read timeout).
* ``malformed_prob``: answer 200 with a truncated JSON body.
* ``latency``: added to every reply.

:meth:`FaultServer.force` queues faults that happen next, in order, before any random draw:
``"500"``, ``"502"``, ``"503"``, ``"504"``, ``"410"``, ``"401"``, ``"429"``, ``"reset"``,
``"slow"``, ``"malformed"``. Requests that get no fault go to ``app(request) -> Reply`` (by
default: record and answer ``200 {"id": "<n>"}``). ``received`` lists the requests that reached
the app, as :class:`Request` objects: ``path`` holds the query string too, header names are
lower-cased.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import attrs

FAULTS = (
    "500",
    "502",
    "503",
    "504",
    "410",
    "401",
    "429",
    "reset",
    "stored_reset",
    "slow",
    "malformed",
)


@attrs.frozen(kw_only=True)
class Request:
    """A request as the server saw it.

    ``method``: ``"GET"``, ``"POST"``…; ``path``: the request target exactly as sent, query
    string included and percent-encoding kept (``/v2/notifications?reference=coprolib-1f…``;
    split it with :func:`urllib.parse.urlsplit` and decode with :func:`urllib.parse.unquote`);
    ``headers``: name -> value with every name lower-cased (``request.headers["content-type"]``;
    of a repeated header the last value); ``body``: the raw bytes (``b""`` when none).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@attrs.frozen(kw_only=True)
class Reply:
    """What the app answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(cls, status: int, data: Any) -> Reply:
        """A JSON reply."""
        return cls(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )


App = Callable[[Request], Reply]


class FaultServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with fault knobs; use as a context manager.

    With ``ssl_context`` (a server-side :class:`ssl.SSLContext` holding a certificate for
    127.0.0.1) it serves HTTPS, and :attr:`url` starts with ``https://``. Stand-ins for real
    services subclass it or pass their ``app``: the server plumbing is this one.
    """

    def __init__(
        self,
        app: App | None = None,
        *,
        seed: int = 0,
        fail_prob: float = 0.0,
        throttle_prob: float = 0.0,
        reset_prob: float = 0.0,
        stored_reset_prob: float = 0.0,
        slow_prob: float = 0.0,
        malformed_prob: float = 0.0,
        latency: float = 0.0,
        slow_seconds: float = 2.0,
        retry_after: str = "1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app or self._default_app
        self.fail_prob = fail_prob
        self.throttle_prob = throttle_prob
        self.reset_prob = reset_prob
        self.stored_reset_prob = stored_reset_prob
        self.slow_prob = slow_prob
        self.malformed_prob = malformed_prob
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.received: list[Request] = []
        self.faults_served: list[str] = []
        self._queue: deque[str] = deque()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counter = 0
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "http" if ssl_context is None else "https"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` when serving TLS)."""
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def force(self, *faults: str) -> None:
        """Make the next requests meet these faults, in order."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")
        with self._lock:
            self._queue.extend(faults)

    def next_fault(self) -> str | None:
        """The fault for the request being handled (queued first, then random draws)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            roll = self._rng.random()
            for fault, chance in (
                ("500", self.fail_prob),
                ("429", self.throttle_prob),
                ("reset", self.reset_prob),
                ("stored_reset", self.stored_reset_prob),
                ("slow", self.slow_prob),
                ("malformed", self.malformed_prob),
            ):
                if roll < chance:
                    return fault
                roll -= chance
            return None

    def record(self, request: Request) -> int:
        """Add a request to ``received``; returns its 1-based number."""
        with self._lock:
            self.received.append(request)
            self._counter += 1
            return self._counter

    def _default_app(self, request: Request) -> Reply:
        number = self.record(request)
        return Reply.json(200, {"id": str(number)})

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Clients that vanish mid-request (killed, timed out) are expected here: no tracebacks."""

    # socketserver listens with a backlog of 5: several workers opening pooled connections at
    # once overflowed it, the kernel dropped the connection attempts, and a client retrying a
    # second later had already hit a short connect timeout. A real server takes a burst.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def _handler_for(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client went away mid-request: nothing to answer
                self.close_connection = True
                return
            request = Request(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            if server.latency:
                time.sleep(server.latency)
            fault = server.next_fault()
            if fault is not None:
                server.faults_served.append(fault)
            if fault == "reset":
                self._reset()
                return
            if fault == "stored_reset":
                server.app(request)
                self._reset()
                return
            if fault == "slow":
                time.sleep(server.slow_seconds)
                fault = None
            if fault == "malformed":
                self._send(Reply(status=200, body=b'{"id": "trunc', headers=_JSON))
            elif fault == "429":
                self._send(Reply(status=429, headers={"Retry-After": server.retry_after}))
            elif fault is not None:
                self._send(Reply(status=int(fault), body=b"injected fault"))
            else:
                self._send(server.app(request))

        def _send(self, reply: Reply) -> None:
            with contextlib.suppress(OSError):
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":  # a HEAD reply has the headers of a GET, no body
                    self.wfile.write(reply.body)
                self.wfile.flush()

        def _reset(self) -> None:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.close()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


_JSON = {"Content-Type": "application/json"}


def refused_url() -> str:
    """A ``http://127.0.0.1:<port>`` URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def fault_server(app: App | None = None, **knobs: Any) -> Iterator[FaultServer]:
    """A started :class:`FaultServer`, stopped on exit."""
    with FaultServer(app, **knobs) as server:
        yield server
