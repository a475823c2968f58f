"""The plugin host: one pluggy manager, built-in plugins, and entry points loaded one by one.

Built-in behaviour lives in :mod:`coprolib.plugins` and is registered exactly as a third-party
plugin is. Third-party plugins come from the ``coprolib`` entry-point group. Each entry point is
loaded on its own: a broken plugin is recorded in :func:`load_errors` and the rest keep working,
unless ``COPROLIB_STRICT_PLUGINS=1``. ``COPROLIB_LOAD_PLUGINS`` (a comma list; empty means none)
restricts which third-party plugins load.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Iterable
from importlib import metadata
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy
from pluggy import HookCaller

from coprolib import hookspecs
from coprolib.errors import CoprolibError

if TYPE_CHECKING:
    import click

#: Modules of built-in plugins, registered in this order before any third-party plugin.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "coprolib.cli.core_commands",
    "coprolib.cli.ledger_commands",
    "coprolib.adapters.file_destination",
    "coprolib.cli.delivery_commands",
    "coprolib.redaction.recognizers_uk",
    "coprolib.redaction.recognizers_names",
    "coprolib.cli.redact_commands",
    # The built-in consent rules (``consent_veto``): vetoes on top of the terms a teller agreed,
    # which coprolib.consent.decide checks itself.
    "coprolib.consent.rules.disclosure",
    "coprolib.consent.rules.active_consent",
    "coprolib.consent.rules.tellers",
    "coprolib.consent.rules.withdrawn",
    "coprolib.consent.rules.dates",
    "coprolib.consent.rules.best_interests",
    "coprolib.consent.rules.review",
    "coprolib.cli.consent_commands",
    "coprolib.cli.impact_commands",
    "coprolib.report.sections",
    "coprolib.cli.demo_command",
    "coprolib.cli.doctor_command",
    "coprolib.cli.journey_commands",
    "coprolib.cli.serve_commands",
)

ENTRY_POINT_GROUP = "coprolib"


class PluginLoadError(CoprolibError, RuntimeError):
    """A third-party plugin failed to load while ``COPROLIB_STRICT_PLUGINS=1``."""


@attrs.frozen(kw_only=True)
class PluginInfo:
    """One registered plugin: its name, distribution version and the hooks it implements."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    builtin: bool


@attrs.frozen(kw_only=True)
class LoadError:
    """A plugin that could not be loaded, with the error it raised."""

    name: str
    error: str


_pm: pluggy.PluginManager | None = None
_errors: list[LoadError] = []
_versions: dict[str, str] = {}


def _strict() -> bool:
    return os.environ.get("COPROLIB_STRICT_PLUGINS", "") not in ("", "0", "false")


def _allowed() -> set[str] | None:
    raw = os.environ.get("COPROLIB_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = _allowed()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            if _strict():
                raise PluginLoadError(f"plugin {ep.name!r} failed to load: {exc!r}") from exc
            _errors.append(LoadError(name=ep.name, error=f"{type(exc).__name__}: {exc}"))
            continue
        if ep.dist is not None:
            _versions[ep.name] = ep.dist.version


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, creating and loading it on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("coprolib")
        pm.add_hookspecs(hookspecs)
        for module_name in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
        _load_entry_points(pm)
        if os.environ.get("COPROLIB_TRACE_PLUGINS"):
            pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            pm.enable_tracing()
        _pm = pm
    return _pm


def reset_plugin_manager() -> None:
    """Forget the loaded plugins so the next call loads them again (for tests and long runs)."""
    global _pm
    _pm = None
    _errors.clear()
    _versions.clear()


def load_errors() -> list[LoadError]:
    """The plugins that failed to load, with their errors."""
    get_plugin_manager()
    return list(_errors)


def get_plugins() -> list[PluginInfo]:
    """Every registered plugin with its version and the hooks it implements."""
    pm = get_plugin_manager()
    infos = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        infos.append(
            PluginInfo(
                name=name,
                version=_versions.get(name),
                hooks=tuple(hooks),
                builtin=name in DEFAULT_PLUGINS,
            )
        )
    return sorted(infos, key=lambda p: (not p.builtin, p.name))


def is_builtin(name: str) -> bool:
    """Whether the plugin registered as ``name`` is one of coprolib's built-in plugins."""
    return name in DEFAULT_PLUGINS


def _owners(caller: HookCaller) -> dict[CodeType, list[tuple[object, str]]]:
    """The plugins implementing ``caller``'s hook, by the code object of their implementation."""
    pm = get_plugin_manager()
    owners: dict[CodeType, list[tuple[object, str]]] = {}
    for impl in caller.get_hookimpls():
        code = getattr(impl.function, "__code__", None)
        if isinstance(code, CodeType):
            name = pm.get_name(impl.plugin) or repr(impl.plugin)
            owners.setdefault(code, []).append((impl.plugin, name))
    return owners


def _owner(
    owners: dict[CodeType, list[tuple[object, str]]], frames: Iterable[FrameType]
) -> tuple[object, str] | None:
    """The first of ``frames`` running a hook implementation: its plugin and that plugin's
    name (two instances of one plugin class share code: ``self`` tells them apart)."""
    for frame in frames:
        found = owners.get(frame.f_code)
        if not found:
            continue
        if len(found) > 1:
            me = frame.f_locals.get("self")
            for plugin, name in found:
                if plugin is me:
                    return plugin, name
        return found[0]
    return None


def _raised_in(caller: HookCaller, exc: BaseException) -> tuple[object, str] | None:
    # The traceback runs from the hook call inwards: the first implementation frame in it is
    # the one this hook called (deeper ones would be nested hook calls).
    return _owner(_owners(caller), (frame for frame, _line in traceback.walk_tb(exc.__traceback__)))


def failed_plugin(caller: HookCaller, exc: BaseException) -> str | None:
    """The name of the plugin whose implementation of ``caller``'s hook raised ``exc``, found
    from the traceback (None if no implementation of the hook is in it)."""
    found = _raised_in(caller, exc)
    return found[1] if found is not None else None


def report_failure(plugin: str, hook_name: str, exc: Exception) -> None:
    """Record that ``plugin`` raised ``exc`` in ``hook_name`` (see :func:`load_errors`), or
    raise :class:`PluginLoadError` naming it under ``COPROLIB_STRICT_PLUGINS=1``."""
    if _strict():
        raise PluginLoadError(f"plugin {plugin!r} failed in {hook_name}: {exc!r}") from exc
    error = LoadError(name=plugin, error=f"{hook_name}: {type(exc).__name__}: {exc}")
    if error not in _errors:  # a hook called per share fails the same way many times
        _errors.append(error)


def notify(caller: HookCaller, /, **kwargs: object) -> list[str]:
    """Call a hook whose implementations return nothing (``pm.hook.<name>``, passed as
    ``caller``) with ``kwargs``; return the names of the plugins that raised.

    pluggy stops a hook call at the first exception. Here the plugin that raised is reported
    (:func:`report_failure`: in :func:`load_errors`, or raised in strict mode) and the call goes
    on through ``pm.subset_hook_caller`` without it and without those that already ran, so
    every other plugin is called exactly once.
    """
    pm = get_plugin_manager()
    failed: list[str] = []
    done: set[object] = set()
    current = caller
    while True:
        impls = current.get_hookimpls()
        try:
            current(**kwargs)
            return failed
        except Exception as exc:
            found = _raised_in(current, exc)
            if found is None:  # not raised by an implementation: the call itself is wrong
                raise
            plugin, name = found
            report_failure(name, caller.name, exc)
            failed.append(name)
            # pluggy calls implementations from the end of get_hookimpls() backwards: the one
            # that failed and every one after it have had their turn.
            ran = [impl.plugin for impl in impls]
            done.update(ran[ran.index(plugin) :])
            current = pm.subset_hook_caller(caller.name, remove_plugins=done)


def registrations(caller: HookCaller) -> list[tuple[str, tuple[Any, ...]]]:
    """Call a ``register_*(register)`` hook (``pm.hook.<name>``) once and return what each
    plugin registered as ``(plugin name, args)``, in plugin registration order (built-ins
    first). A plugin that raises is reported (see :func:`notify`) and what it registered before
    failing is discarded with it."""
    owners = _owners(caller)
    order = {plugin: i for i, plugin in enumerate(impl.plugin for impl in caller.get_hookimpls())}
    found: list[tuple[int, str, tuple[Any, ...]]] = []

    def register(*args: Any) -> None:
        owner = _owner(owners, (frame for frame, _line in traceback.walk_stack(None)))
        plugin, name = owner if owner is not None else (None, "an unknown plugin")
        found.append((order.get(plugin, len(order)), name, args))

    failed = set(notify(caller, register=register))
    found.sort(key=lambda item: item[0])  # stable: a plugin's own calls keep their order
    return [(name, args) for _i, name, args in found if name not in failed]


def answers(caller: HookCaller, /, **kwargs: object) -> list[tuple[str, Any]]:
    """Ask a hook (``pm.hook.<name>``) whose answers must name the plugin that gave them (a
    ``before_delivery`` veto): each plugin is asked on its own, through
    ``pm.subset_hook_caller``, in pluggy's order. Returns ``(plugin name, answer)`` for every
    answer that is not None; a plugin that raises is reported (:func:`report_failure`) and
    gives no answer."""
    pm = get_plugin_manager()
    impls = caller.get_hookimpls()
    everyone = [impl.plugin for impl in impls]
    found: list[tuple[str, Any]] = []
    for impl in reversed(impls):
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        alone = pm.subset_hook_caller(
            caller.name, remove_plugins=[p for p in everyone if p is not impl.plugin]
        )
        try:
            found.extend((name, answer) for answer in alone(**kwargs))
        except Exception as exc:
            report_failure(name, caller.name, exc)
    return found


def get_adapters() -> dict[str, Any]:
    """Adapter classes by name, from every plugin's ``register_adapters`` hook."""
    found = registrations(get_plugin_manager().hook.register_adapters)
    return {args[0]: args[1] for _plugin, args in found}


def collect_commands(cli: click.Group) -> None:
    """Let every plugin add its commands to the click group ``cli``."""
    notify(get_plugin_manager().hook.register_commands, cli=cli)
