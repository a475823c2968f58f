"""Deprecated: moved to :mod:`coprolib.adapters.file_destination`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.adapters.file_destination")
