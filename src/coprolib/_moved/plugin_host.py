"""Deprecated: moved to :mod:`coprolib.plugins`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.plugins")
