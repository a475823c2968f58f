"""Every error coprolib defines derives from CoprolibError, so one ``except`` (and the CLI's one
mapping to exit codes) covers them all; each keeps the built-in base it always had."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import coprolib
from coprolib.config import ConfigError
from coprolib.errors import EXIT_USAGE, CoprolibError

ADAPTERS = Path(__file__).resolve().parents[1] / "adapters"


def library_errors(package: ModuleType = coprolib) -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    prefix = f"{package.__name__}."
    for info in pkgutil.walk_packages(package.__path__, prefix):
        if ".testing" in info.name or info.name.endswith("__main__"):
            continue  # test helpers, and the entry point (running it exits)
        if "_moved" in str(getattr(info.module_finder, "path", "")):
            continue  # an old name kept as a deprecated alias of a module walked here anyway
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not name.startswith("_")
            ):
                found[f"{info.name}.{name}"] = value
    return list(found.values())


def test_every_library_error_is_a_coprolib_error() -> None:
    errors = library_errors()
    assert len(errors) >= 10, errors
    strays = [e.__qualname__ for e in errors if not issubclass(e, CoprolibError)]
    assert strays == []


@pytest.mark.parametrize(
    "package", sorted(p.name for p in ADAPTERS.glob("coprolib-*/src/coprolib_*") if p.is_dir())
)
def test_every_adapter_package_error_is_a_coprolib_error(package: str) -> None:
    errors = library_errors(pytest.importorskip(package))
    strays = [
        f"{e.__module__}.{e.__qualname__}" for e in errors if not issubclass(e, CoprolibError)
    ]
    assert strays == []


def test_errors_keep_their_old_bases_and_exit_2() -> None:
    assert issubclass(ConfigError, ValueError)
    error = ConfigError("ledger", "must be a URL", path="coprolib.toml", line=1)
    assert isinstance(error, CoprolibError) and error.exit_code == EXIT_USAGE


def test_adapters_raise_the_one_config_error_on_one_line_naming_the_setting() -> None:
    from coprolib.adapters import ConfigError as AdapterConfigError
    from coprolib.adapters import build_adapter

    assert AdapterConfigError is ConfigError
    try:
        build_adapter("file", {"directory": 3, "bogus": 1}, destination="board-file")
    except ConfigError as caught:
        error = caught
    else:
        raise AssertionError("a bad setting was accepted")
    assert error.key == "destinations.board-file.settings.directory"
    assert "\n" not in str(error) and "settings.bogus: unknown field" in str(error)
