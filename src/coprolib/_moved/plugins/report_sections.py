"""Deprecated: moved to :mod:`coprolib.report.sections`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.report.sections")
