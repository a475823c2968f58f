"""Deprecated: moved to :mod:`coprolib.cli.demo`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.demo")
