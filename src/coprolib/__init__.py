"""coprolib: lived experience to prevention change, with consent enforced and the loop closed.

The public API is re-exported here. Heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from coprolib.hookspecs import hookimpl

if TYPE_CHECKING:
    from coprolib.redact import Recognizer, Redaction, Span, find_spans, redact

__version__ = "0.1.0"

#: Public names loaded lazily from their modules on first attribute access.
_LAZY: dict[str, str] = {
    "Recognizer": "coprolib.redact",
    "Redaction": "coprolib.redact",
    "Span": "coprolib.redact",
    "find_spans": "coprolib.redact",
    "redact": "coprolib.redact",
}

__all__ = [
    "Recognizer",
    "Redaction",
    "Span",
    "__version__",
    "find_spans",
    "hookimpl",
    "redact",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coprolib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
