"""The delivery engine and the planner are typed with the ledger's, the configuration's and the
adapters' own types: no ``Any`` in a signature, except ``to_json`` returning plain JSON."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator

import pytest

import coprolib.delivery
import coprolib.planner

_ANY = re.compile(r"\bAny\b")


def _modules() -> Iterator[str]:
    for package in (coprolib.delivery, coprolib.planner):
        yield package.__name__
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            yield info.name


def _callables(module: object) -> Iterator[tuple[str, Callable[..., object]]]:
    name = getattr(module, "__name__", "")
    for attr, value in vars(module).items():
        if inspect.isfunction(value) and value.__module__ == name:
            yield attr, value
        elif inspect.isclass(value) and value.__module__ == name:
            for member, fn in vars(value).items():
                if isinstance(fn, (staticmethod, classmethod)):
                    fn = fn.__func__
                if isinstance(fn, property):
                    fn = fn.fget
                if inspect.isfunction(fn):
                    yield f"{attr}.{member}", fn


def signatures_with_any(module_name: str) -> list[str]:
    """``module.name(param)`` for every annotation that names ``Any``."""
    module = importlib.import_module(module_name)
    found = []
    for name, fn in _callables(module):
        for param, annotation in fn.__annotations__.items():
            if name.endswith("to_json") and param == "return":
                continue  # plain JSON out: any JSON value
            if _ANY.search(str(annotation)):
                found.append(f"{module_name}.{name}({param}: {annotation})")
    return found


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_no_any_in_engine_or_planner_signatures(module_name: str) -> None:
    assert signatures_with_any(module_name) == []


def test_the_check_sees_an_any(tmp_path, monkeypatch) -> None:
    (tmp_path / "typed_probe.py").write_text(
        "from __future__ import annotations\n"
        "from typing import Any\n"
        "def f(x: Any) -> int:\n    return 1\n"
        "class C:\n    def to_json(self) -> dict[str, Any]:\n        return {}\n"
        "    def g(self, y: int) -> list[Any]:\n        return []\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert signatures_with_any("typed_probe") == [
        "typed_probe.f(x: Any)",
        "typed_probe.C.g(return: list[Any])",
    ]
