"""Building many objects at once: rows of a file, payments of a batch."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, as it was after.

    Rows are made by the hundred thousand, live on, and hold no reference cycles; while they are
    made, the collector walks all of them again each time the count of new objects passes its
    threshold, for nothing: a third of the time of reading a payables export or a camt.054.
    Reference counting still frees everything at once, as usual.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
