"""Deprecated: moved to :mod:`coprolib.cli.doctor_command`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.cli.doctor_command")
