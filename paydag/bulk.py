"""Building many objects at once: rows of a file, payments of a batch."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


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


def side_by_side(here: Callable[[], A], there: Callable[[], B]) -> tuple[A, B]:
    """`here()` in this process while `there()` runs in a forked child, on another core; the
    child's result comes back pickled through a pipe.

    A forked child starts from this process's memory as it is (nothing is copied to it) and only its
    result travels, so `there` should return plain values (lists of strings, numbers, tuples), which
    pickle fast. Where a child cannot be forked safely (no `fork`, or other Python threads running,
    whose locks the child could find held: a flow run's) both run here, one after the other, and so
    they do when the child fails in any way: `there()` run here then gives its result, or raises
    what it raised there, as if no child had been asked. When `here()` raises, the child is killed.
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return here(), there()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child: coverage does not follow it)
        code = 1
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it at once, as it ends the parent
            data = pickle.dumps(there(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)  # no atexit handlers, no flushing of buffers the parent still holds
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as source:
            mine = here()
            data = source.read()
    except BaseException:
        os.kill(child, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return mine, there()
    return mine, pickle.loads(data)  # noqa: S301 (our own child's bytes)
