"""Deprecated: moved to :mod:`coprolib.cli.doctor`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.doctor")
