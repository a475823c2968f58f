"""The package layout: a stage per package, and the old module names as deprecated aliases."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import coprolib

SRC = Path(coprolib.__file__).parent
MOVED = SRC / "_moved"


def _old_names() -> list[str]:
    names = []
    for path in sorted(MOVED.rglob("*.py")):
        parts = path.relative_to(MOVED).with_suffix("").parts
        names.append(".".join(("coprolib", *parts)))
    return names


def test_the_top_level_is_stage_packages_and_a_handful_of_modules() -> None:
    modules = sorted(p.name for p in SRC.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "errors.py", "hookspecs.py"]


@pytest.mark.parametrize("old", _old_names())
def test_an_old_module_name_still_imports_and_warns(old: str) -> None:
    # In a fresh interpreter: the alias must be what a first import sees.
    code = (
        "import warnings, importlib, sys\n"
        "warnings.simplefilter('error')\n"
        f"try:\n    importlib.import_module({old!r})\n"
        "except DeprecationWarning as w:\n    print(w)\n"
        "warnings.simplefilter('ignore')\n"
        f"m = importlib.import_module({old!r})\n"
        "print(m.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].startswith(f"{old} has moved to coprolib.")
    new = out[0].split(" has moved to ")[1].split(";")[0]
    assert out[1] == new


def test_an_alias_is_the_same_module_so_isinstance_and_patching_agree() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("coprolib.enums")
    assert old is importlib.import_module("coprolib.records.enums")


def test_coprolib_redact_is_the_function_whichever_way_it_was_imported() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        alias = importlib.import_module("coprolib.redact")
    text = "Call Jo Bloggs on 07700 900123."
    assert alias(text).text == coprolib.redaction.redact(text).text
    assert coprolib.redact(text).text == coprolib.redaction.redact(text).text
    assert alias.find_spans is coprolib.redaction.find_spans
