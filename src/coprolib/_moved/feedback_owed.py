"""Deprecated: moved to :mod:`coprolib.feedback.owed`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.feedback.owed")
