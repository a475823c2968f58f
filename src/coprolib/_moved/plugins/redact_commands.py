"""Deprecated: moved to :mod:`coprolib.cli.redact_commands`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.redact_commands")
