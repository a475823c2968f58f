"""The adapters' local stand-in servers stay out of what users install.

Each adapter keeps its stand-ins in its own ``testing`` package, which its pyproject excludes from
the wheel and the sdist; no shipped module (an adapter's or coprolib's) may import one, or the
installed package would fail to import without it.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = sorted(p for p in (ROOT / "adapters").iterdir() if (p / "pyproject.toml").is_file())


def _packages(adapter: Path) -> list[Path]:
    return sorted(p for p in (adapter / "src").iterdir() if (p / "__init__.py").is_file())


def _shipped_modules() -> list[Path]:
    roots = [ROOT / "src" / "coprolib"] + [pkg for a in ADAPTERS for pkg in _packages(a)]
    modules = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts
            if root.name != "coprolib" and parts[0] == "testing":
                continue  # an adapter's stand-ins, excluded from its wheel
            modules.append(path)
    return modules


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_testing_package_is_excluded_from_wheel_and_sdist(adapter: Path) -> None:
    config = tomllib.loads((adapter / "pyproject.toml").read_text(encoding="utf-8"))
    targets = config["tool"]["hatch"]["build"]["targets"]
    for pkg in _packages(adapter):
        if not (pkg / "testing").is_dir():
            continue
        wanted = f"src/{pkg.name}/testing"
        assert wanted in targets["wheel"].get("exclude", []), (
            f"{adapter.name}: wheel ships {wanted}"
        )
        sdist = targets.get("sdist", {}).get("exclude", [])
        assert wanted in sdist, f"{adapter.name}: sdist ships {wanted}"


def test_no_shipped_module_imports_a_stand_in() -> None:
    adapter_packages = {pkg.name for a in ADAPTERS for pkg in _packages(a)}
    offenders = []
    for path in _shipped_modules():
        for name in _imported(path):
            top, _, rest = name.partition(".")
            if top in adapter_packages and rest.split(".")[0] == "testing":
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_shipped_adapter_code_does_not_need_the_fault_server() -> None:
    # Every stand-in is served by coprolib.testing.fault_server: shipped adapter code never is.
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _shipped_modules()
        if "adapters" in path.parts
        for name in _imported(path)
        if name.startswith("coprolib.testing")
    ]
    assert offenders == []
