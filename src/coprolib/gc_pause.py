"""Pausing Python's cyclic garbage collector around work that builds many objects and no
reference cycles: without the pause it rescans every object still alive, over and over."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (reference counting still frees everything
    without cycles); it is enabled again afterwards if it was before."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
