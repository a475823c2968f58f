"""Deprecated: moved to :mod:`coprolib.records.convert`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.records.convert")
