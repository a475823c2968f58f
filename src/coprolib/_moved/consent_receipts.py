"""Deprecated: moved to :mod:`coprolib.rights.receipts`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.rights.receipts")
