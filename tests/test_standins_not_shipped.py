"""The adapters' local stand-in servers stay out of what users install.

Each adapter keeps its stand-ins in its own ``testing`` package, which its pyproject leaves out of
the wheel and the sdist. These tests build every wheel and sdist with hatchling (the projects'
build backend, in a fraction of a second) and read what is in them: no ``testing`` package of an
adapter, and no shipped module importing one (the installed package would fail to import), nor
the core's fault server that every stand-in is served by.
"""

from __future__ import annotations

import ast
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hatchling.builders.sdist import SdistBuilder
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = sorted(p for p in (ROOT / "adapters").iterdir() if (p / "pyproject.toml").is_file())
PROJECTS = [ROOT, *ADAPTERS]
ADAPTER_PACKAGES = {
    pkg.name for a in ADAPTERS for pkg in (a / "src").iterdir() if (pkg / "__init__.py").is_file()
}


def _build(builder: type[WheelBuilder | SdistBuilder], project: Path, out: Path) -> Path:
    (artifact,) = builder(str(project)).build(directory=str(out), versions=["standard"])
    return Path(artifact)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Each project's wheel: its ``.py`` members and their source."""
    out = tmp_path_factory.mktemp("wheels")
    built = {}
    for project in PROJECTS:
        with zipfile.ZipFile(_build(WheelBuilder, project, out)) as wheel:
            built[project.name] = {
                name: wheel.read(name).decode("utf-8")
                for name in wheel.namelist()
                if name.endswith(".py")
            }
    return built


def _imports(source: str, name: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _is_stand_in(module: str) -> bool:
    top, _, rest = module.partition(".")
    return top in ADAPTER_PACKAGES and rest.split(".")[0] == "testing"


def test_every_adapter_with_stand_ins_is_covered() -> None:
    # The stand-ins are where these tests look for them: a testing package per adapter.
    with_testing = {p.parent.name for a in ADAPTERS for p in (a / "src").glob("*/testing")}
    assert {"coprolib_entra", "coprolib_fhir", "coprolib_webhook"} <= with_testing


def test_no_wheel_holds_an_adapter_testing_package(wheels: dict[str, dict[str, str]]) -> None:
    shipped = [
        f"{project}: {name}"
        for project, members in wheels.items()
        for name in members
        if _is_stand_in(".".join(PurePosixPath(name).with_suffix("").parts))
    ]
    assert shipped == []
    assert all(wheels[a.name] for a in ADAPTERS), "every adapter's wheel holds its modules"


def test_no_shipped_module_imports_a_stand_in(wheels: dict[str, dict[str, str]]) -> None:
    offenders = [
        f"{project}: {name} imports {module}"
        for project, members in wheels.items()
        for name, source in members.items()
        for module in _imports(source, name)
        if _is_stand_in(module)
        or (project != ROOT.name and module.startswith("coprolib.testing.fault_server"))
    ]
    assert offenders == []


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_sdist_leaves_the_stand_ins_out(adapter: Path, tmp_path: Path) -> None:
    with tarfile.open(_build(SdistBuilder, adapter, tmp_path)) as sdist:
        names = sdist.getnames()
    assert any(n.endswith("/pyproject.toml") for n in names)
    assert [n for n in names if "/testing/" in n] == []
