"""The board report's built-in sections, registered through ``register_report_sections`` like
any plugin's. Copy this to add a section, or register one of these keys to redraw it."""

from __future__ import annotations

from coprolib.hookspecs import RegisterReportSection, hookimpl
from coprolib.report import builtin_sections


@hookimpl
def register_report_sections(register: RegisterReportSection) -> None:
    """Register the summary, funnel, loop closure, change depth, ladder, themes, domains,
    soaked-up stories, overdue feedback and warnings sections."""
    for section in builtin_sections():
        register(section.key, section.title, section.render)
