"""Deprecated: moved to :mod:`coprolib.consent.rules.review`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.consent.rules.review")
