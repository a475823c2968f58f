"""The plugin host: built-ins registered like third-party plugins, broken plugins reported,
COPROLIB_LOAD_PLUGINS and COPROLIB_STRICT_PLUGINS honoured, every hook tested and documented."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from coprolib import hookimpl, hookspecs
from coprolib.cli import build_cli
from coprolib.plugins import (
    DEFAULT_PLUGINS,
    PluginLoadError,
    collect_commands,
    get_adapters,
    get_plugin_manager,
    get_plugins,
    load_errors,
)
from coprolib.redaction import PatternRecognizer, get_recognizers, reset_recognizers
from coprolib.report import builtin_sections, report_sections

from .conftest import ROOT

HOOK_NAMES = sorted(
    name
    for name in dir(hookspecs)
    if callable(getattr(hookspecs, name)) and hasattr(getattr(hookspecs, name), "coprolib_spec")
)


def _install_fake_distribution(site: Path, dist: str, module: str, source: str) -> None:
    """Make ``site`` hold an installed distribution with a ``coprolib`` entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[coprolib]\n{dist} = {module}\n")


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_distribution(
        site,
        "good-plugin",
        "good_plugin",
        """
        import click
        from coprolib import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command(name="good-hello")
            def good_hello():
                click.echo("hello from good")
    """,
    )
    _install_fake_distribution(
        site,
        "broken-plugin",
        "broken_plugin",
        """
        raise RuntimeError("this plugin is deliberately broken")
    """,
    )
    return site


def _run(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("COPROLIB_")}
    full_env = {**base, "PYTHONPATH": str(site), **env}
    return subprocess.run(
        [sys.executable, "-m", "coprolib", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def test_broken_plugin_is_reported_and_the_others_still_load(plugin_site: Path) -> None:
    listing = _run(plugin_site, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    names = {p["name"] for p in data["plugins"]}
    assert "good-plugin" in names
    assert set(DEFAULT_PLUGINS) <= names
    assert [e["name"] for e in data["errors"]] == ["broken-plugin"]
    assert "deliberately broken" in data["errors"][0]["error"]
    assert _run(plugin_site, "good-hello").stdout.strip() == "hello from good"


def test_strict_mode_fails_on_a_broken_plugin(plugin_site: Path) -> None:
    result = _run(plugin_site, "plugins", COPROLIB_STRICT_PLUGINS="1")
    assert result.returncode != 0
    assert "broken-plugin" in result.stderr and "deliberately broken" in result.stderr


def test_load_plugins_restricts_third_party_plugins(plugin_site: Path) -> None:
    only_good = json.loads(
        _run(plugin_site, "plugins", "--json", COPROLIB_LOAD_PLUGINS="good-plugin").stdout
    )
    assert "good-plugin" in {p["name"] for p in only_good["plugins"]}
    assert only_good["errors"] == []
    none = json.loads(_run(plugin_site, "plugins", "--json", COPROLIB_LOAD_PLUGINS="").stdout)
    names = {p["name"] for p in none["plugins"]}
    assert names == set(DEFAULT_PLUGINS)


def test_plugins_command_lists_the_builtins(fresh_plugins: None) -> None:
    result = CliRunner().invoke(build_cli(), ["plugins"])
    assert result.exit_code == 0
    for name in DEFAULT_PLUGINS:
        assert name in result.output
    assert {p.name for p in get_plugins() if p.builtin} == set(DEFAULT_PLUGINS)


class _AdapterPlugin:
    class Adapter:
        pass

    @hookimpl
    def register_adapters(self, register):  # type: ignore[no-untyped-def]
        register("test-adapter", self.Adapter)


class _BrokenAdapterPlugin:
    @hookimpl
    def register_adapters(self, register):  # type: ignore[no-untyped-def]
        raise ValueError("no adapters today")


def test_hook_register_adapters(fresh_plugins: None) -> None:
    pm = get_plugin_manager()
    pm.register(_AdapterPlugin(), name="adapter-plugin")
    pm.register(_BrokenAdapterPlugin(), name="broken-adapter-plugin")
    adapters = get_adapters()
    assert adapters["test-adapter"] is _AdapterPlugin.Adapter
    assert any(
        e.name == "broken-adapter-plugin" and "no adapters today" in e.error for e in load_errors()
    )


class _CommandPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command(name="sab-hello")
        def sab_hello() -> None:
            click.echo("hello board")


def test_hook_register_commands(fresh_plugins: None) -> None:
    get_plugin_manager().register(_CommandPlugin(), name="command-plugin")
    group = click.Group(name="coprolib")
    from coprolib.plugins import collect_commands

    collect_commands(group)
    result = CliRunner().invoke(group, ["sab-hello"])
    assert result.output.strip() == "hello board"
    assert "validate" in group.commands


def test_every_hook_has_a_test_named_after_it() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    missing = [h for h in HOOK_NAMES if f"def test_hook_{h}(" not in source]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def test_every_hook_is_documented_under_its_exact_signature() -> None:
    doc = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (\S.*)$", doc, flags=re.M))
    import inspect

    missing = []
    for name in HOOK_NAMES:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        if f"{name}({params})" not in headings:
            missing.append(f"{name}({params})")
    assert not missing, f"docs/plugin_hooks.md lacks sections headed: {missing}"
    assert HOOK_NAMES, "no hooks found"


def test_import_coprolib_stays_light() -> None:
    code = "import sys, coprolib; print(sorted({'cattrs', 'requests', 'click'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", "import coprolib pulled in heavy modules eagerly"


# --- one broken plugin in a hook: reported, and every other plugin still called once ----------


class _Good:
    """A plugin implementing every hook that registers something; it counts its calls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: Counter[str] = Counter()

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        self.calls["register_commands"] += 1
        cli.command(name=self.name)(lambda: None)

    @hookimpl
    def register_adapters(self, register: Callable[..., None]) -> None:
        self.calls["register_adapters"] += 1
        register(self.name, _Good)

    @hookimpl
    def register_recognizers(self, register: Callable[..., None]) -> None:
        self.calls["register_recognizers"] += 1
        register(PatternRecognizer(name=self.name, label="TEST", pattern=re.compile("zz")))

    @hookimpl
    def register_report_sections(self, register: Callable[..., None]) -> None:
        self.calls["register_report_sections"] += 1
        register(self.name, self.name, lambda impact, max_rows: "")


class _Raising:
    """A plugin that registers something, then raises, in every hook that registers."""

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        raise RuntimeError("register_commands is broken")

    @hookimpl
    def register_adapters(self, register: Callable[..., None]) -> None:
        register("half-registered", _Raising)
        raise RuntimeError("register_adapters is broken")

    @hookimpl
    def register_recognizers(self, register: Callable[..., None]) -> None:
        register(PatternRecognizer(name="half-registered", label="TEST", pattern=re.compile("q")))
        raise RuntimeError("register_recognizers is broken")

    @hookimpl
    def register_report_sections(self, register: Callable[..., None]) -> None:
        register("half-registered", "Half", lambda impact, max_rows: "")
        raise RuntimeError("register_report_sections is broken")


def _commands() -> set[str]:
    group = click.Group(name="coprolib")
    collect_commands(group)
    return set(group.commands)


def _recognizer_names() -> set[str]:
    reset_recognizers()
    try:
        return {r.name for r in get_recognizers()}
    finally:
        reset_recognizers()


#: Each registering hook, and what coprolib collects through it (the names registered).
REGISTERED: dict[str, Callable[[], set[str]]] = {
    "register_commands": _commands,
    "register_adapters": lambda: set(get_adapters()),
    "register_recognizers": _recognizer_names,
    "register_report_sections": lambda: {s.key for s in report_sections()},
}


def _three_plugins() -> tuple[_Good, _Good]:
    """Register a good plugin, a broken one, then another good one. pluggy calls the last
    registered first, so the first good plugin is only reached if the call goes on past the
    broken one, and the last good one would be called twice if the call simply started again."""
    pm = get_plugin_manager()
    first, last = _Good("first-good"), _Good("last-good")
    pm.register(first, name="first-good")
    pm.register(_Raising(), name="broken-everywhere")
    pm.register(last, name="last-good")
    return first, last


@pytest.mark.parametrize("hook", sorted(REGISTERED))
def test_a_plugin_raising_in_a_hook_is_reported_and_the_others_still_run(
    hook: str, fresh_plugins: None
) -> None:
    first, last = _three_plugins()
    registered = REGISTERED[hook]()
    assert {"first-good", "last-good"} <= registered
    assert "half-registered" not in registered  # discarded with the plugin that failed
    assert (first.calls[hook], last.calls[hook]) == (1, 1)
    assert [e.name for e in load_errors() if hook in e.error] == ["broken-everywhere"]
    assert f"{hook} is broken" in next(e.error for e in load_errors() if hook in e.error)


@pytest.mark.parametrize("hook", sorted(REGISTERED))
def test_strict_mode_raises_naming_the_plugin_that_failed_in_a_hook(
    hook: str, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_plugins()
    monkeypatch.setenv("COPROLIB_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match=f"'broken-everywhere' failed in {hook}"):
        REGISTERED[hook]()


def test_registrations_come_in_plugin_registration_order(fresh_plugins: None) -> None:
    """pluggy calls plugins last-registered first; what they register is still listed in the
    order they were registered, so a later plugin's adapter or section replaces an earlier
    one's."""
    pm = get_plugin_manager()
    for name in ("zeta-plugin", "alpha-plugin"):
        pm.register(_Good(name), name=name)
    keys = [s.key for s in report_sections()]
    assert keys[-2:] == ["zeta-plugin", "alpha-plugin"]
    assert keys[:-2] == [s.key for s in builtin_sections()]


def test_trace_plugins_shows_every_hook_call_on_stderr(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_distribution(
        site,
        "watching-plugin",
        "watching_plugin",
        """
        from coprolib import hookimpl

        @hookimpl
        def before_delivery(share, destination):
            return None

        @hookimpl
        def after_delivery(share, destination, receipt):
            return None
    """,
    )
    result = _run(site, "demo", "--dir", str(tmp_path / "demo"), COPROLIB_TRACE_PLUGINS="1")
    assert result.returncode == 0, result.stderr
    traced = set(re.findall(r"^\s*(\w+) \[hook\]$", result.stderr, flags=re.M))
    expected = set(HOOK_NAMES) - {"delivery_failed"}  # the demo's deliveries all succeed
    assert expected <= traced, f"not traced: {sorted(expected - traced)}"
    untraced = _run(site, "demo", "--dir", str(tmp_path / "demo2"))
    assert "[hook]" not in untraced.stderr


def test_hookspecs_imports_nothing_of_coprolib_at_run_time() -> None:
    """The hook specifications name every stage's types for type checkers only: the import
    contract lets hookspecs reach them because they sit under TYPE_CHECKING."""
    tree = ast.parse(Path(hookspecs.__file__).read_text(encoding="utf-8"))
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    at_run_time = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and id(node) not in type_only
        and "coprolib" in ast.unparse(node)
    ]
    assert at_run_time == []
