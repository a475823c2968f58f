"""coprolib: lived experience to prevention change, with consent enforced and the loop closed.

The public API is re-exported here. Heavy modules load on first use.
"""

from __future__ import annotations

from coprolib.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
