"""Deprecated: moved to :mod:`coprolib.redaction`.

``coprolib.redact`` was both a module and the function :func:`coprolib.redaction.redact`; the
old module name stays callable until it goes, so code that used either form keeps working.
"""

import sys
import types
from typing import Any

from coprolib import _moved_module, redaction


class _CallableAlias(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return redaction.redact(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(redaction, name)


_moved_module(__name__, "coprolib.redaction")
sys.modules[__name__] = _CallableAlias(redaction.__name__, redaction.__doc__)
