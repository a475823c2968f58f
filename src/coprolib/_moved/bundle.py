"""Deprecated: moved to :mod:`coprolib.records.bundle`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.records.bundle")
