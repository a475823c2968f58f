"""Deprecated: moved to :mod:`coprolib.records.enums`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.records.enums")
