"""Deprecated: moved to :mod:`coprolib.rights.erasure`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.rights.erasure")
