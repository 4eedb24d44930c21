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


def release_freed_memory() -> None:
    """Return to the operating system what a bulk read has freed.

    Arrow's memory pool and the C library both keep freed memory for reuse, so the buffers a parse
    used on the way (a million rows' text as read, cast, before typing) would count again in the
    peak of whatever runs next, GX's validation say. glibc only: elsewhere the C library's part is
    left as it is.
    """
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return
    trim(0)
