"""Deprecated: moved to :mod:`coprolib.cli.demo_command`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.demo_command")
