"""Deprecated: moved to :mod:`coprolib.records.schema`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.records.schema")
