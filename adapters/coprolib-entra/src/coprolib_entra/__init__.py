"""coprolib-entra: app-only access tokens from Microsoft Entra ID for coprolib's Microsoft
adapters (Dataverse, SharePoint through Microsoft Graph), through ``msal``.

:class:`EntraCredentials` is a :class:`coprolib.adapters.http.TokenSource`: it asks
``msal.ConfidentialClientApplication.acquire_token_for_client`` for a token (msal keeps it in its
in-memory token cache), fetches a new one a margin *before* the cached one expires, and drops the
cached token and fetches again when ``token(refresh=True)`` is called (``HttpClient`` does that
once after a 401). Every failure comes out as a classified coprolib error.

Docs followed: https://learn.microsoft.com/en-us/python/api/msal/msal.application.clientapplication
(``authority``, ``validate_authority``, ``instance_discovery``, ``verify``, ``timeout``) and
https://learn.microsoft.com/entra/msal/dotnet/advanced/custom-authority-aliases (what instance
discovery is, and when turning it off is safe); the scope for app-only tokens is the resource
followed by ``/.default``
(https://docs.azure.cn/en-us/entra/identity-platform/scenario-daemon-acquire-token).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from coprolib.adapters.errors import AuthError, RetryableError
from coprolib.adapters.http import error_for_exception
from coprolib.adapters.secrets import Secret

__all__ = ["DEFAULT_AUTHORITY_HOST", "EntraCredentials", "default_scope"]

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

#: Token endpoint errors that mean the app registration or its secret is wrong, not a passing
#: fault (see the OAuth 2.0 error codes, RFC 6749 section 5.2).
_AUTH_ERRORS = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_grant",
        "invalid_request",
        "invalid_scope",
        "unsupported_grant_type",
        "invalid_resource",
    }
)


def default_scope(resource_url: str) -> str:
    """The app-only scope for a resource: ``https://org.crm11.dynamics.com/.default``."""
    return resource_url.rstrip("/") + "/.default"


class EntraCredentials:
    """Client-credentials tokens for one app registration and one resource scope.

    ``authority_host`` is ``https://login.microsoftonline.com`` (or a national cloud's host);
    ``instance_discovery=False`` is only for a private authority such as the local test
    stand-in. ``refresh_margin``: fetch a new token this many seconds before the cached one
    expires, so a long batch never starts with a token about to lapse.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: Secret,
        scope: str,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        instance_discovery: bool = True,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self.instance_discovery = instance_discovery
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.refresh_margin = refresh_margin
        self.clock = clock
        self.fetches = 0
        self._app: Any = None
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self, *, refresh: bool = False) -> str:
        """A valid access token: cached, renewed ``refresh_margin`` before expiry, or forced."""
        with self._lock:
            due = self._token is None or self.clock() >= self._expires - self.refresh_margin
            if refresh or due:
                self._fetch(drop_cached=refresh or self._token is not None)
            assert self._token is not None
            return self._token

    def _application(self) -> Any:
        if self._app is None:
            import msal  # type: ignore[import-untyped]

            try:
                self._app = msal.ConfidentialClientApplication(
                    self.client_id,
                    client_credential=self.client_secret.reveal(),
                    authority=self.authority,
                    instance_discovery=self.instance_discovery,
                    http_client=_PinnedSession(self.ca_bundle, self.timeout),
                )
            except requests.RequestException as exc:
                raise error_for_exception(exc) from None
            except ValueError as exc:
                raise AuthError(
                    f"Entra ID did not recognise the tenant or authority {self.authority!r}: "
                    f"check tenant_id and authority_host ({_first_line(exc)})"
                ) from None
            except Exception as exc:  # msal's MsalServiceError for a 5xx, and its kin
                raise RetryableError(
                    f"Entra ID discovery failed ({type(exc).__name__}): try again later"
                ) from None
        return self._app

    def _fetch(self, *, drop_cached: bool) -> None:
        app = self._application()
        if drop_cached:
            app.remove_tokens_for_client()
        try:
            result = app.acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as exc:
            raise error_for_exception(exc) from None
        except ValueError:
            raise RetryableError("Entra ID sent an unreadable token reply") from None
        except Exception as exc:  # msal's MsalServiceError for a 5xx, and its kin
            raise RetryableError(f"Entra ID token request failed ({type(exc).__name__})") from None
        self.fetches += 1
        if not isinstance(result, dict):
            raise RetryableError("Entra ID sent no token reply")
        if "access_token" in result:
            self._token = str(result["access_token"])
            lifetime = float(result.get("expires_in") or 3600)
            self._expires = self.clock() + lifetime
            return
        error = str(result.get("error") or "unknown_error")
        description = _first_line(result.get("error_description") or "").rstrip(".")
        message = f"Entra ID refused the token request ({error}): {description}".rstrip(": ")
        if error in _AUTH_ERRORS:
            raise AuthError(
                message + ". Check tenant_id, client_id, the client secret and that the "
                "app registration exists"
            )
        raise RetryableError(message)

    def __repr__(self) -> str:
        return f"<EntraCredentials client_id={self.client_id!r} scope={self.scope!r}>"


class _PinnedSession:
    """What msal needs of an HTTP client, with TLS verification and timeouts on every request.

    ``requests`` lets ``REQUESTS_CA_BUNDLE`` override a session's ``verify``; passing ``verify``
    with each request keeps a configured ``ca_bundle`` in force.
    """

    def __init__(self, ca_bundle: str | None, timeout: tuple[float, float]) -> None:
        self.session = requests.Session()
        self.verify: str | bool = ca_bundle or True
        self.timeout = timeout

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET with pinned verification and timeout."""
        kwargs.update(verify=self.verify, timeout=self.timeout)
        return self.session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        """POST with pinned verification and timeout."""
        kwargs.update(verify=self.verify, timeout=self.timeout)
        return self.session.post(url, **kwargs)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def _first_line(value: object) -> str:
    text = str(value).strip().splitlines()
    return text[0][:300] if text else ""
