"""The plugin host: built-ins registered like third-party plugins, broken plugins reported,
COPROLIB_LOAD_PLUGINS and COPROLIB_STRICT_PLUGINS honoured, every hook tested and documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from coprolib import hookimpl, hookspecs
from coprolib.cli import build_cli
from coprolib.plugins import (
    DEFAULT_PLUGINS,
    get_adapters,
    get_plugin_manager,
    get_plugins,
    load_errors,
)

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
