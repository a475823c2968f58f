"""Deprecated: moved to :mod:`coprolib.cli.impact_commands`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.impact_commands")
