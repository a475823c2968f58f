"""What every Microsoft adapter does around one request, written once.

Dataverse and Microsoft Graph are reached the same way: an Entra ID app-only token, the token
fetched again once when the service answers 401, and a destination-wide pause when it answers 429
(both services ask the whole client to wait for ``Retry-After`` and send nothing meanwhile:
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits,
https://learn.microsoft.com/graph/throttling). :class:`ServiceClient` does that; what a reply
*means* comes from the adapter's own ``classify``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests

from coprolib.adapters.errors import AdapterError, ThrottledError
from coprolib.adapters.http import HttpClient, HttpOptions
from coprolib.adapters.secrets import Secret
from coprolib_entra import EntraCredentials

__all__ = ["Classify", "EntraSettings", "ServiceClient", "credentials_for"]


class EntraSettings(Protocol):
    """The sign-in settings every Microsoft adapter's configuration has."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def client_secret(self) -> Secret: ...
    @property
    def authority_host(self) -> str: ...
    @property
    def instance_discovery(self) -> bool: ...
    @property
    def http(self) -> HttpOptions: ...


class Classify(Protocol):
    """An adapter's mapping of a non-2xx reply to ``what`` onto a coprolib error."""

    def __call__(
        self, status: int, headers: Mapping[str, str], body: bytes, *, what: str
    ) -> AdapterError: ...


def credentials_for(
    settings: EntraSettings, scope: str, clock: Callable[[], float]
) -> EntraCredentials:
    """Entra ID credentials for an adapter's settings and the service's ``scope``."""
    return EntraCredentials(
        tenant_id=settings.tenant_id,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scope=scope,
        authority_host=settings.authority_host,
        instance_discovery=settings.instance_discovery,
        ca_bundle=settings.http.ca_bundle,
        timeout=(settings.http.connect_timeout, settings.http.read_timeout),
        clock=clock,
    )


class ServiceClient:
    """One Microsoft service for one destination: signed requests, counted, and paused as a 429
    asks. ``service`` names it in messages ("Dataverse", "Microsoft Graph")."""

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
