"""Deprecated: moved to :mod:`coprolib.redaction.recognizers_uk`."""

from coprolib import _moved_module

_moved_module(__name__, "coprolib.redaction.recognizers_uk")
