"""The hook specifications: the only places a plugin can change coprolib's behaviour.

Every hook is an empty function with a one-line docstring. Plugins implement them with
``@coprolib.hookimpl``. Registration hooks receive a callback and call it, so plugins never
compete over return values. Implementations may accept fewer arguments than a spec lists.

The types named here come from every stage above this module, for type checkers only (under
``TYPE_CHECKING``): at run time this module imports nothing of coprolib, so it stays at the
bottom of the import layers (``pyproject.toml``) and any module may import it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import pluggy

if TYPE_CHECKING:
    import click

    from coprolib.adapters.base import Adapter
    from coprolib.consent.model import InForce, ShareRequest
    from coprolib.impact.result import Impact
    from coprolib.records.model import Receipt, Share, Story
    from coprolib.redaction.engine import Recognizer

hookspec = pluggy.HookspecMarker("coprolib")
hookimpl = pluggy.HookimplMarker("coprolib")

#: ``render(impact, max_rows)``: a board report section's HTML.
RenderSection: TypeAlias = "Callable[[Impact, int], str]"


class RegisterAdapter(Protocol):
    """The ``register`` callback of :func:`register_adapters`."""

    def __call__(self, name: str, adapter_class: type[Adapter[Any]], /) -> None:
        """Offer ``adapter_class`` as the destination adapter called ``name``."""


class RegisterRecognizers(Protocol):
    """The ``register`` callback of :func:`register_recognizers`."""

    def __call__(self, *recognizers: Recognizer) -> None:
        """Add ``recognizers`` to those every redaction runs."""


class RegisterReportSection(Protocol):
    """The ``register`` callback of :func:`register_report_sections`."""

    def __call__(self, key: str, title: str, render: RenderSection, /) -> None:
        """Add (or, for a key already registered, redraw) the section ``key``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``coprolib`` command line group ``cli``."""


@hookspec
def register_adapters(register: RegisterAdapter) -> None:
    """Call ``register(name, adapter_class)`` for each destination adapter the plugin provides."""


@hookspec
def before_delivery(share: Share, destination: str) -> str | None:
    """Return a reason to stop ``share`` going to ``destination`` now (a veto), or None."""


@hookspec
def after_delivery(share: Share, destination: str, receipt: Receipt) -> None:
    """Called once ``share`` is at ``destination``, with the ``receipt`` recorded for it."""


@hookspec
def delivery_failed(share: Share, destination: str, reason: str, final: bool) -> None:
    """Called when sending ``share`` failed; ``final`` is true when it was dead-lettered."""


@hookspec
def register_recognizers(register: RegisterRecognizers) -> None:
    """Call ``register(recognizer, ...)`` with each identifier recogniser the plugin provides."""


@hookspec
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Return a reason in plain words to refuse sharing ``story`` as ``request`` asks, or None."""


@hookspec
def register_report_sections(register: RegisterReportSection) -> None:
    """Call ``register(key, title, render)`` per board report section; ``render`` returns HTML."""
