"""The adapter API: how shares reach external systems.

* :class:`Adapter`: the base class every destination adapter subclasses (see
  :mod:`coprolib.adapters.base` for the subclass contract).
* Results: :class:`DeliveryResult`, :class:`RetractResult`, :class:`CheckResult`, each with a
  :class:`Status` (ok, retryable, throttled, auth, conflict, permanent, disabled, cancelled).
* Errors to raise inside adapters: :class:`RetryableError`, :class:`ThrottledError`,
  :class:`AuthError`, :class:`ConflictError`, :class:`PermanentError`,
  :class:`DestinationDisabledError`.
* :class:`Secret`: a config field holding a ``$env:NAME`` reference, resolved at construction.
* :mod:`coprolib.adapters.http`: pooled sessions, timeouts, ``Retry-After`` and token refresh.

Adapters are registered by plugins through ``register_adapters(register)``;
:func:`get_adapter_class` finds one by name.
"""

from __future__ import annotations

from typing import Any

from coprolib.adapters.base import Adapter
from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    ConfigError,
    ConflictError,
    DestinationDisabledError,
    PermanentError,
    RetryableError,
    ThrottledError,
)
from coprolib.adapters.results import (
    TRANSIENT,
    Capabilities,
    CheckResult,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Status,
)
from coprolib.adapters.secrets import Secret
from coprolib.plugins import get_adapters

__all__ = [
    "TRANSIENT",
    "Adapter",
    "AdapterError",
    "AuthError",
    "Capabilities",
    "CheckResult",
    "ConfigError",
    "ConflictError",
    "DeliveryResult",
    "DestinationDisabledError",
    "PermanentError",
    "RetractRef",
    "RetractResult",
    "RetryableError",
    "Secret",
    "Status",
    "ThrottledError",
    "build_adapter",
    "get_adapter_class",
]


def get_adapter_class(name: str) -> type[Adapter[Any]]:
    """The adapter class registered under ``name`` by any plugin."""
    adapters = get_adapters()
    try:
        cls: type[Adapter[Any]] = adapters[name]
    except KeyError:
        known = ", ".join(sorted(adapters)) or "none"
        raise ConfigError(
            "adapter", f"no adapter called {name!r} is installed (installed: {known})"
        ) from None
    return cls


def build_adapter(name: str, settings: Any, *, destination: str | None = None) -> Adapter[Any]:
    """An adapter instance for a destination, from its adapter name and plain settings."""
    return get_adapter_class(name)(settings, destination=destination)
