"""coprolib: lived experience to prevention change, with consent enforced and the loop closed.

The public API is re-exported here. Heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from coprolib.hookspecs import hookimpl

__version__ = "0.1.0"

#: Public names loaded on first use, by the module that holds them.
_LAZY: dict[str, str] = {
    # configuration
    "Config": "coprolib.config",
    "ConfigError": "coprolib.config",
    "Destination": "coprolib.config",
    "FeedbackPolicy": "coprolib.config",
    "load_config": "coprolib.config",
    # the consent gate
    "Decision": "coprolib.consent",
    "InForce": "coprolib.consent",
    "ShareRequest": "coprolib.consent",
    "evaluate": "coprolib.consent",
    # the planner
    "Plan": "coprolib.planner",
    "Retraction": "coprolib.planner",
    "Withdrawal": "coprolib.planner",
    "insight_text_digest": "coprolib.planner",
    "plan": "coprolib.planner",
    "withdraw": "coprolib.planner",
    # receipts and feedback owed
    "consent_receipt": "coprolib.consent_receipts",
    "consent_receipt_json": "coprolib.consent_receipts",
    "feedback_done": "coprolib.feedback_owed",
    "feedback_due": "coprolib.feedback_owed",
}

__all__ = ["__version__", "hookimpl", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coprolib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
