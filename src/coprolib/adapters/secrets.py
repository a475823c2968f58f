"""Secrets in adapter configuration: ``$env:NAME`` references resolved once, masked everywhere.

A config field typed :class:`Secret` accepts only a reference such as ``"$env:WEBHOOK_SECRET"``
(a literal secret in a config file is refused). The value is read from the environment when the
adapter is built; ``str()``, ``repr()`` and :func:`coprolib.records.convert.unstructure` never show it.
:class:`SecretFilter` masks secrets in log records; :func:`protect_logging` attaches it.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from coprolib.config.secrets import MASK, SecretRef, mask_url
from coprolib.records import convert


class Secret:
    """A secret value with the reference it came from; shows only the reference or the mask."""

    __slots__ = ("_value", "reference")

    def __init__(self, value: str, reference: str | None = None) -> None:
        self._value = value
        self.reference = reference

    def reveal(self) -> str:
        """The secret itself: pass it straight to the place that needs it, never to a log."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.reference or MASK!r})"

    def __str__(self) -> str:
        return self.reference or MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def resolve(reference: str, environ: Any = None) -> Secret:
    """Resolve ``"$env:NAME"`` to a :class:`Secret` (the rule is
    :class:`coprolib.config.SecretRef`'s), with a clear error when it cannot be."""
    ref = SecretRef.require(reference)
    return Secret(ref.resolve(environ), str(ref))


def _structure(value: Any, _: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise TypeError('expected a secret reference such as "$env:NAME"')
    return resolve(value)


def _unstructure(value: Secret) -> str:
    return str(value)


convert.register_type_hooks(Secret, _structure, _unstructure)


def secret_values(obj: Any) -> list[str]:
    """Every secret value reachable in an attrs config (fields, lists, nested configs)."""
    found: list[str] = []
    _collect(obj, found, depth=0)
    return [v for v in found if v]


def _collect(obj: Any, found: list[str], depth: int) -> None:
    if depth > 8:
        return
    if isinstance(obj, Secret):
        found.append(obj.reveal())
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            _collect(item, found, depth + 1)
    elif isinstance(obj, dict):
        for item in obj.values():
            _collect(item, found, depth + 1)
    elif hasattr(type(obj), "__attrs_attrs__"):
        for attribute in type(obj).__attrs_attrs__:
            _collect(getattr(obj, attribute.name), found, depth + 1)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value in it replaced by ``***``."""
    for value in sorted(secrets, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, MASK)
    return text


# --- logging ------------------------------------------------------------------------------

#: Query parameters whose values are credentials (Azure/Teams workflow ``sig``, OAuth codes
#: and tokens, API keys), masked wherever a URL is logged.
_SECRET_PARAMS = (
    "sig|signature|token|access_token|refresh_token|id_token|code|key|apikey|api_key|api-key"
    "|secret|client_secret|password|passwd|pwd|auth"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # ?sig=...&code=...
    (re.compile(rf"([?&;](?:{_SECRET_PARAMS})=)[^&#\s\"'<>]+", re.IGNORECASE), r"\1" + MASK),
    # Authorization: Bearer ..., {'api-key': '...'}, webhook-signature: v1,...
    (
        re.compile(
            r"((?:authorization|proxy-authorization|api-key|x-api-key|ocp-apim-subscription-key"
            r"|webhook-signature|cookie|set-cookie)['\"]?\s*[:=]\s*['\"]?)"
            r"(?:(?:bearer|basic|digest)\s+)?[^'\"\r\n,}]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + MASK),
)


class _Masker(Protocol):
    def redact(self, text: str) -> str: ...


class SecretFilter(logging.Filter):
    """The one logging filter for secrets: masks the secrets of every live adapter client
    (including secret URL paths, such as an incoming-webhook URL), passwords in URLs,
    credential query parameters and credential headers, in the message, its arguments and
    any traceback. It never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._owners: weakref.WeakSet[Any] = weakref.WeakSet()

    def register(self, owner: _Masker) -> None:
        """Mask what ``owner.redact`` masks, for as long as ``owner`` is alive."""
        self._owners.add(owner)

    def mask(self, text: str) -> str:
        """``text`` with every known secret and secret-shaped value masked."""
        for owner in list(self._owners):
            text = owner.redact(text)
        text = mask_url(text, MASK)  # https://user:password@host
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


#: The filter instance every client registers with (see :func:`protect_logging`).
LOG_FILTER = SecretFilter()

#: Loggers that emit lines which can hold secrets: coprolib's, and those of the libraries its
#: adapters call (urllib3 logs each request line, with its path and query, at DEBUG).
LIBRARY_LOGGERS = (
    "coprolib",
    "coprolib.delivery",
    "coprolib.adapters",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "requests",
)

# coprolib's own loggers always mask: they are ours. Other libraries' loggers and the host's
# handlers are never touched on import (a library does not change its host's logging set-up);
# the host, or the coprolib command line for the handler it creates, calls protect_logging().
for _name in LIBRARY_LOGGERS[:3]:
    logging.getLogger(_name).addFilter(LOG_FILTER)


def protect_logging(*targets: logging.Logger | logging.Handler | str) -> Callable[[], None]:
    """Add the secret filter to ``targets`` (handlers, loggers or logger names); with none, to
    the loggers of :data:`LIBRARY_LOGGERS`. Returns a function that removes it again.

    Adding it to a handler covers every record that handler writes, whichever logger made it;
    adding it to a logger covers the records that logger itself makes (not its children's).
    Call it once where the application sets up logging."""
    chosen = [logging.getLogger(t) if isinstance(t, str) else t for t in targets] or [
        logging.getLogger(name) for name in LIBRARY_LOGGERS
    ]
    added = [t for t in chosen if LOG_FILTER not in t.filters]
    for target in added:
        target.addFilter(LOG_FILTER)

    def undo() -> None:
        for target in added:
            target.removeFilter(LOG_FILTER)

    return undo
