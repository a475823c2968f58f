"""Deprecated: moved to :mod:`coprolib.cli.session`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.session")
