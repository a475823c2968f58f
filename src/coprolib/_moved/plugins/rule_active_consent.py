"""Deprecated: moved to :mod:`coprolib.consent.rules.active_consent`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.consent.rules.active_consent")
