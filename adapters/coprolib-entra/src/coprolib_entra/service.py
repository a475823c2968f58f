"""What every Microsoft adapter does around one request, written once.

Dataverse and Microsoft Graph are reached the same way: an Entra ID app-only token, the token
fetched again once when the service answers 401, and a destination-wide pause when it answers 429
(both services ask the whole client to wait for ``Retry-After`` and send nothing meanwhile:
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits,
https://learn.microsoft.com/graph/throttling). :class:`coprolib.adapters.http.ServiceClient` does
that (for other services too); what a reply *means* comes from the adapter's own ``classify``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coprolib.adapters.http import Classify, HttpOptions, ServiceClient
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
