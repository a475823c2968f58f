"""Deprecated: moved to :mod:`coprolib.cli.serve_commands`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.serve_commands")
