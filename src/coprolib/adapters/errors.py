"""Classified adapter errors: raise one inside an adapter and the base class turns it into the
matching result (see :mod:`coprolib.adapters.results`). A bad setting is a
:class:`coprolib.config.ConfigError`, importable from here as ``ConfigError``."""

from __future__ import annotations

from typing import ClassVar

from coprolib.adapters.results import Status
from coprolib.config.model import ConfigError as _ConfigError
from coprolib.errors import CoprolibError


class AdapterError(CoprolibError):
    """A classified failure talking to a destination. ``retry_after`` is in seconds;
    ``reached=False`` says the request certainly never reached the destination."""

    status: ClassVar[Status] = Status.PERMANENT

    def __init__(
        self, message: str, *, retry_after: float | None = None, reached: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.reached = reached


class RetryableError(AdapterError):
    """A passing fault (timeout, reset, 5xx): try this share again later."""

    status = Status.RETRYABLE


class ThrottledError(AdapterError):
    """The destination asked us to slow down: pause it for ``retry_after`` seconds."""

    status = Status.THROTTLED


class AuthError(AdapterError):
    """Credentials refused after one refresh: fix the configuration."""

    status = Status.AUTH


class ConflictError(AdapterError):
    """The remote disagrees with this share (for example a newer version): a person decides."""

    status = Status.CONFLICT


class PermanentError(AdapterError):
    """The request can never succeed as it is: dead-letter it with the reason."""

    status = Status.PERMANENT


class DestinationDisabledError(AdapterError):
    """The destination says it is gone (HTTP 410): stop sending to it."""

    status = Status.DISABLED


#: An adapter's settings are wrong: the one configuration error, named here too because
#: adapters raise it beside the classified errors above. Give it the setting's key
#: (``destinations.NAME.settings.FIELD``) and what is wrong with it.
ConfigError = _ConfigError


_BY_STATUS: dict[Status, type[AdapterError]] = {
    cls.status: cls
    for cls in (
        RetryableError,
        ThrottledError,
        AuthError,
        ConflictError,
        PermanentError,
        DestinationDisabledError,
    )
}


def error_for(status: Status, message: str, *, retry_after: float | None = None) -> AdapterError:
    """The exception class that matches ``status``, built with ``message``."""
    return _BY_STATUS.get(status, PermanentError)(message, retry_after=retry_after)
