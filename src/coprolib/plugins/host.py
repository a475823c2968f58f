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
from importlib import metadata
from typing import Any

import attrs
import pluggy

from coprolib import hookspecs
from coprolib.errors import CoprolibError

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


def _each_impl(hook_name: str) -> list[tuple[str, Any]]:
    pm = get_plugin_manager()
    impls = getattr(pm.hook, hook_name).get_hookimpls()  # registration order (pluggy calls LIFO)
    return [(pm.get_name(impl.plugin) or repr(impl.plugin), impl) for impl in impls]


def _report(name: str, hook_name: str, exc: Exception) -> None:
    if _strict():
        raise PluginLoadError(f"plugin {name!r} failed in {hook_name}: {exc!r}") from exc
    _errors.append(LoadError(name=name, error=f"{hook_name}: {type(exc).__name__}: {exc}"))


def call_each(hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call a hook on each plugin separately, returning ``(plugin name, result)`` pairs.

    pluggy stops a hook call at the first exception; here one broken plugin is reported in
    :func:`load_errors` (or raised under ``COPROLIB_STRICT_PLUGINS=1``) and the others still run.
    Each implementation receives only the arguments it names.
    """
    results: list[tuple[str, Any]] = []
    for name, impl in _each_impl(hook_name):
        try:
            results.append((name, impl.function(*[kwargs[a] for a in impl.argnames])))
        except Exception as exc:
            _report(name, hook_name, exc)
    return results


def collect_registrations(hook_name: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Call a ``register_*(register)`` hook on each plugin and gather ``(plugin, args)`` pairs.

    What a plugin registered before it failed is discarded with it.
    """
    found: list[tuple[str, tuple[Any, ...]]] = []
    for name, impl in _each_impl(hook_name):
        calls: list[tuple[Any, ...]] = []
        try:
            impl.function(lambda *args, _calls=calls: _calls.append(args))
        except Exception as exc:
            _report(name, hook_name, exc)
            continue
        found.extend((name, args) for args in calls)
    return found


def get_adapters() -> dict[str, Any]:
    """Adapter classes by name, from every plugin's ``register_adapters`` hook."""
    return {args[0]: args[1] for _plugin, args in collect_registrations("register_adapters")}


def collect_commands(cli: Any) -> None:
    """Let every plugin add its commands to the click group ``cli``."""
    call_each("register_commands", cli=cli)
