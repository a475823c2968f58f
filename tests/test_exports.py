"""The public names of ``coprolib``: one list (its ``as`` imports), loaded lazily where heavy."""

from __future__ import annotations

import subprocess
import sys

import coprolib


def test_every_public_name_resolves_and_nothing_private_is_listed() -> None:
    names = coprolib.__all__
    assert len(names) == len(set(names)) and names == sorted(names)
    assert {"Story", "plan", "open_ledger", "CoprolibError", "hookimpl", "__version__"} <= set(
        names
    )
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    for name in names:
        assert getattr(coprolib, name) is not None, name


def test_heavy_names_load_on_first_use_without_warnings() -> None:
    code = (
        "import sys, coprolib\n"
        "assert 'cattrs' not in sys.modules and 'coprolib.planner' not in sys.modules\n"
        "coprolib.Story\n"
        "assert 'coprolib.planner' not in sys.modules\n"
        "from coprolib import plan\n"
        "from coprolib.planner import plan as direct\n"
        "assert plan is direct and 'plan' in vars(coprolib)\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        coprolib.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")
