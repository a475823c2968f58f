"""The board report's built-in sections, registered through ``register_report_sections`` like
any plugin's. Copy this to add a section, or register one of these keys to redraw it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coprolib.hookspecs import hookimpl
from coprolib.report import builtin_sections


@hookimpl
def register_report_sections(register: Callable[..., Any]) -> None:
    """Register the summary, funnel, loop closure, change depth, ladder, themes, domains,
    soaked-up stories, overdue feedback and warnings sections."""
    for section in builtin_sections():
        register(section.key, section.title, section.render)
