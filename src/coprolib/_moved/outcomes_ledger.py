"""Deprecated: moved to :mod:`coprolib.outcomes.recording`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.outcomes.recording")
