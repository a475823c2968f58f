"""Shared HTTP plumbing for adapters: one pooled ``requests.Session`` per destination, timeouts,
TLS verification, ``Retry-After`` parsing, token refresh, and classification of every response
and transport error into a :class:`~coprolib.adapters.results.Status`.

Typical use inside an adapter::

    self.http = HttpClient(base_url=config.url, options=config.http, redact=self.redact,
                           token_source=ClientCredentials(...))
    response = self.http.request("POST", "/records", json=payload)   # raises classified errors
"""

from __future__ import annotations

import abc
import ipaddress
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, NewConnectionError
from urllib3.util import Retry

from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RetryableError,
    ThrottledError,
    error_for,
)
from coprolib.adapters.results import Status
from coprolib.adapters.secrets import LOG_FILTER, Secret

USER_AGENT = "coprolib"

#: How each HTTP status is classified unless an adapter overrides it.
DEFAULT_STATUS_CLASSES: Mapping[int, Status] = {
    401: Status.AUTH,
    403: Status.AUTH,
    408: Status.RETRYABLE,
    409: Status.CONFLICT,
    410: Status.PERMANENT,
    412: Status.CONFLICT,
    425: Status.RETRYABLE,
    429: Status.THROTTLED,
    500: Status.RETRYABLE,
    502: Status.RETRYABLE,
    503: Status.RETRYABLE,
    504: Status.RETRYABLE,
}


@attrs.frozen(kw_only=True)
class HttpOptions:
    """Connection settings an adapter config can embed (``http = {read_timeout = 60}``).

    TLS verification cannot be turned off; ``ca_bundle`` adds a private certificate authority.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    pool_maxsize: int = 10
    ca_bundle: str | None = None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: an IP address :mod:`ipaddress` calls loopback
    (``127.0.0.0/8``, ``::1``), or the name ``localhost``. Any other name is not, however it
    starts (``127.evil.example`` is a name anyone can point anywhere)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, field: str, shown: str | None = None) -> None:
    """Raise ``ValueError`` naming ``field`` unless ``url`` is https://, or http:// to this machine.

    Shares carry special category data: plain HTTP is only for receivers on the loopback
    interface (local tests and demonstrations), never across a network. ``shown`` replaces the
    URL in the message when the URL itself is a secret.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    host = parts.hostname or ""
    if parts.scheme == "http" and is_loopback(host):
        return
    raise ValueError(
        f"{field}: {shown or repr(url)} must be an https:// URL "
        "(plain http:// only to 127.0.0.1, for tests)"
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None if
    absent or unreadable. Dates in the past give 0."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(Retry(total=0).parse_retry_after(value.strip())))
    except (InvalidHeader, ValueError, OverflowError):
        return None


def classify_status(code: int, overrides: Mapping[int, Status] | None = None) -> Status:
    """The :class:`Status` for an HTTP status code (2xx is OK, unlisted 3xx/4xx permanent,
    unlisted 5xx retryable)."""
    if overrides and code in overrides:
        return overrides[code]
    if 200 <= code < 300:
        return Status.OK
    if code in DEFAULT_STATUS_CLASSES:
        return DEFAULT_STATUS_CLASSES[code]
    return Status.RETRYABLE if code >= 500 else Status.PERMANENT


#: How much of a remote error reply an error message keeps (characters).
BODY_EXCERPT = 160


def body_excerpt(response: requests.Response, limit: int = BODY_EXCERPT) -> str:
    """The start of a reply's body on one line, cut to ``limit`` characters: enough to tell
    what the remote objected to, too short to copy a whole share (error replies often echo the
    request). Callers mask secrets in it; the ledger encrypts job errors when it has a key and
    erasure removes them."""
    try:
        text = response.content[: limit * 4].decode(response.encoding or "utf-8", "replace")
    except (requests.RequestException, LookupError, RuntimeError):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def error_for_response(
    response: requests.Response,
    overrides: Mapping[int, Status] | None = None,
    *,
    with_body: bool = False,
) -> AdapterError | None:
    """The classified error for a non-2xx response, or None when it succeeded. With
    ``with_body`` the message ends with the start of the reply (:func:`body_excerpt`)."""
    status = classify_status(response.status_code, overrides)
    if status is Status.OK:
        return None
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    reason = response.reason or ""
    message = f"HTTP {response.status_code} {reason}".strip()
    if with_body:
        excerpt = body_excerpt(response)
        if excerpt:
            message = f"{message}: {excerpt}"
    return error_for(status, message, retry_after=retry_after)


_CUT_SHORT = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
_BAD_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


def error_for_exception(exc: requests.RequestException) -> AdapterError:
    """The classified error for a transport failure (refused, reset, timeout, TLS, bad URL)."""
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        return PermanentError(f"TLS verification failed ({name}): check the certificate")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RetryableError("connect timeout", reached=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return RetryableError("read timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        cause = getattr(exc.args[0], "reason", None) if exc.args else None
        never_sent = isinstance(cause, NewConnectionError)  # refused, or no such host
        return RetryableError(f"connection failed ({name})", reached=False if never_sent else None)
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return RetryableError(f"response cut short ({name})")
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return PermanentError(f"bad URL ({name})")
    return RetryableError(f"request failed ({name})")


class TokenSource(Protocol):
    """Gives the bearer token for requests; ``refresh=True`` forces a new one (after a 401)."""

    def token(self, *, refresh: bool = False) -> str:
        """The current token, fetching a new one if asked or expired."""
        ...


@attrs.define
class StaticToken:
    """A fixed bearer token from configuration; refreshing cannot help."""

    secret: Secret

    def token(self, *, refresh: bool = False) -> str:
        """The configured token."""
        return self.secret.reveal()


class TokenEndpoint(abc.ABC):
    """OAuth 2.0 ``client_credentials`` tokens from a token endpoint, cached until shortly before
    they expire and fetched again on expiry or when a request gets 401. Subclasses say how the
    client proves who it is (:meth:`credentials`) and what to say when that is refused."""

    #: The lifetime assumed when the endpoint does not say (``expires_in``), in seconds.
    default_lifetime: float = 3600.0

    def __init__(
        self,
        token_url: str,
        *,
        scope: str | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        verify: str | bool = True,
        skew: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.scope = scope
        self.session = session or requests.Session()
        self.timeout = timeout
        self.verify = verify
        self.skew = skew
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    @abc.abstractmethod
    def credentials(self) -> dict[str, str]:
        """The form fields that identify the client (besides ``grant_type`` and ``scope``)."""

    def refused(self, response: requests.Response) -> str:
        """The message for a token endpoint that refused the credentials (400, 401 or 403)."""
        return f"token endpoint refused the client credentials (HTTP {response.status_code})"

    def token(self, *, refresh: bool = False) -> str:
        """A valid access token; fetched when missing, expired or ``refresh`` is set."""
        with self._lock:
            if refresh or self._token is None or self.clock() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", **self.credentials()}
        if self.scope:
            form["scope"] = self.scope
        try:
            response = self.session.post(
                self.token_url, data=form, timeout=self.timeout, verify=self.verify
            )
        except requests.RequestException as exc:
            raise error_for_exception(exc) from None
        with response:
            if response.status_code in (400, 401, 403):
                raise AuthError(self.refused(response))
            error = error_for_response(response)
            if error is not None:
                raise error
            try:
                body = response.json()
                self._token = str(body["access_token"])
                lifetime = float(body.get("expires_in", self.default_lifetime))
            except (ValueError, KeyError, TypeError):
                raise RetryableError("token endpoint sent an unreadable reply") from None
        self._expires = self.clock() + max(0.0, lifetime - self.skew)


class ClientCredentials(TokenEndpoint):
    """Client-credentials tokens with a client secret (Entra ID, most FHIR servers)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        *,
        scope: str | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        skew: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            token_url, scope=scope, session=session, timeout=timeout, skew=skew, clock=clock
        )
        self.client_id = client_id
        self.client_secret = client_secret

    def credentials(self) -> dict[str, str]:
        """The client id and secret."""
        return {"client_id": self.client_id, "client_secret": self.client_secret.reveal()}


class HttpClient:
    """One pooled session for one destination, with timeouts, auth and classified errors.

    :meth:`request` returns a 2xx response or raises an
    :class:`~coprolib.adapters.errors.AdapterError` subclass; a 401 makes it refresh the token
    once and try again. ``redact`` masks secrets in every message it raises.
    """

    def __init__(
        self,
        *,
        base_url: str = "",
        options: HttpOptions | None = None,
        token_source: TokenSource | None = None,
        status_overrides: Mapping[int, Status] | None = None,
        headers: Mapping[str, str] | None = None,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = options or HttpOptions()
        self.token_source = token_source
        self.status_overrides = dict(status_overrides or {})
        self.redact = redact
        self.session = requests.Session()
        pool = HTTPAdapter(
            pool_connections=1,
            pool_maxsize=self.options.pool_maxsize,
            max_retries=Retry(total=0, redirect=0, raise_on_status=False),
        )
        self.session.mount("https://", pool)
        self.session.mount("http://", pool)
        self.session.verify = self.options.ca_bundle or True
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        LOG_FILTER.register(self)

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts in seconds."""
        return (self.options.connect_timeout, self.options.read_timeout)

    def url(self, path: str) -> str:
        """``path`` joined to the base URL (absolute URLs are kept)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send once with auth; transport errors raised classified, any status returned."""
        headers = dict(kwargs.pop("headers", None) or {})
        refresh = kwargs.pop("_refresh", False)
        if self.token_source is not None:
            headers["Authorization"] = f"Bearer {self.token_source.token(refresh=refresh)}"
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify; passing
        # it with each request keeps a configured ca_bundle in force.
        kwargs.setdefault("verify", self.session.verify)
        try:
            return self.session.request(
                method,
                self.url(path),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise self._redacted(error_for_exception(exc)) from None

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send, refresh the token once on 401, and raise a classified error unless 2xx."""
        response = self.send(method, path, **kwargs)
        if response.status_code == 401 and self.token_source is not None:
            response.close()
            response = self.send(method, path, _refresh=True, **kwargs)
        error = error_for_response(response, self.status_overrides, with_body=True)
        if error is not None:
            response.close()
            raise self._redacted(error)
        return response

    def _redacted(self, error: AdapterError) -> AdapterError:
        error.message = self.redact(error.message)
        error.args = (error.message,)
        return error

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


class Classify(Protocol):
    """An adapter's mapping of a non-2xx reply to ``what`` onto a coprolib error."""

    def __call__(
        self, status: int, headers: Mapping[str, str], body: bytes, *, what: str
    ) -> AdapterError: ...


class ServiceClient:
    """One remote service for one destination: requests with the token refreshed once on 401,
    counted, errors classified by ``classify`` and masked, and the destination paused as a 429
    (or an exhausted limit) asks. ``service`` names it in messages ("Dataverse", "Salesforce")."""

    def __init__(
        self,
        *,
        service: str,
        http: HttpClient,
        classify: Classify,
        redact: Callable[[str], str],
        clock: Callable[[], float],
    ) -> None:
        self.service = service
        self.http = http
        self.classify = classify
        self.redact = redact
        self.clock = clock
        #: HTTP requests sent to the service (not counting token requests).
        self.requests_sent = 0
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def paused_for(self) -> float:
        """Seconds this destination is still paused by a 429 (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self.clock())

    def note(self, error: AdapterError) -> AdapterError:
        """``error`` with secrets masked; a throttle pauses the destination for its delay."""
        if isinstance(error, ThrottledError):
            with self._lock:
                until = self.clock() + (error.retry_after or 0.0)
                self._paused_until = max(self._paused_until, until)
        error.message = self.redact(error.message)
        error.args = (error.message,)
        return error

    def send(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        """One request, the token refreshed once on 401: the 2xx response, or the adapter's
        classified error raised (and noted). While paused, nothing is sent."""
        remaining = self.paused_for()
        if remaining > 0:
            raise ThrottledError(
                f"{self.service} asked us to wait: destination paused for {remaining:.0f} s more",
                retry_after=remaining,
            )
        if self.http.options.ca_bundle:
            kwargs["verify"] = self.http.options.ca_bundle
        response = self.http.send(method, url, **kwargs)
        self.requests_sent += 1
        if response.status_code == 401:
            response.close()
            response = self.http.send(method, url, _refresh=True, **kwargs)
            self.requests_sent += 1
        if response.status_code >= 300:
            error = self.classify(
                response.status_code, response.headers, response.content, what=what
            )
            response.close()
            raise self.note(error)
        return response
