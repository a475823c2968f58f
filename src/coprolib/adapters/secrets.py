"""Secrets in adapter configuration: ``$env:NAME`` references resolved once, masked everywhere.

A config field typed :class:`Secret` accepts only a reference such as ``"$env:WEBHOOK_SECRET"``
(a literal secret in a config file is refused). The value is read from the environment when the
adapter is built; ``str()``, ``repr()`` and :func:`coprolib.convert.unstructure` never show it.
"""

from __future__ import annotations

import os
from typing import Any

from coprolib import convert

MASK = "***"
_PREFIX = "$env:"


class Secret:
    """A secret value with the reference it came from; shows only the reference or ``***``."""

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
    """Resolve ``"$env:NAME"`` to a :class:`Secret`, with a clear error when it cannot be."""
    env = os.environ if environ is None else environ
    if not reference.startswith(_PREFIX):
        raise ValueError(
            "secrets come from environment variables, not the config file: "
            'write "$env:NAME" and set NAME in the environment'
        )
    name = reference[len(_PREFIX) :].strip()
    if not name:
        raise ValueError(f"{reference!r} names no environment variable")
    value = env.get(name)
    if not value:
        raise ValueError(f"environment variable {name} (from {reference!r}) is not set")
    return Secret(value, reference)


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
