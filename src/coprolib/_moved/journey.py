"""Deprecated: moved to :mod:`coprolib.report.journey`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.report.journey")
