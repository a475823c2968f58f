"""Deprecated: moved to :mod:`coprolib.consent.rules.disclosure`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.consent.rules.disclosure")
