"""The hook specifications: the only places a plugin can change coprolib's behaviour.

Every hook is an empty function with a one-line docstring. Plugins implement them with
``@coprolib.hookimpl``. Registration hooks receive a callback and call it, so plugins never
compete over return values. Implementations may accept fewer arguments than a spec lists.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("coprolib")
hookimpl = pluggy.HookimplMarker("coprolib")


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``coprolib`` command line group ``cli``."""


@hookspec
def register_adapters(register: Any) -> None:
    """Call ``register(name, adapter_class)`` for each destination adapter the plugin provides."""


@hookspec
def before_delivery(share: Any, destination: str) -> str | None:
    """Return a reason to stop ``share`` going to ``destination`` now (a veto), or None."""


@hookspec
def after_delivery(share: Any, destination: str, receipt: Any) -> None:
    """Called once ``share`` is at ``destination``, with the ``receipt`` recorded for it."""


@hookspec
def delivery_failed(share: Any, destination: str, reason: str, final: bool) -> None:
    """Called when sending ``share`` failed; ``final`` is true when it was dead-lettered."""


@hookspec
def register_recognizers(register: Any) -> None:
    """Call ``register(recognizer, ...)`` with each identifier recogniser the plugin provides."""


@hookspec
def consent_veto(story: Any, consents: Any, request: Any) -> Any:
    """Return a reason in plain words to refuse sharing ``story`` as ``request`` asks, or None."""


@hookspec
def register_report_sections(register: Any) -> None:
    """Call ``register(key, title, render)`` per board report section; ``render`` returns HTML."""
