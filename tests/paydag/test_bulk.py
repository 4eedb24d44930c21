"""Building many objects at once: the collector paused for the block, freed memory handed back, two
halves of a work done side by side in two processes."""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time

import pyarrow as pa
import pytest

from paydag.bulk import collector_paused, release_freed_memory, side_by_side


def test_the_collector_is_paused_for_the_block_and_as_it_was_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_freed_memory_is_handed_back_by_arrow_and_the_c_library(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    class Libc:
        def malloc_trim(self, pad: int) -> int:
            asked.append(f"malloc_trim({pad})")
            return 1

    class Pool:
        def release_unused(self) -> None:
            asked.append("arrow")

    monkeypatch.setattr(pa, "default_memory_pool", Pool)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    release_freed_memory()
    assert asked == ["arrow", "malloc_trim(0)"]


def test_without_glibc_only_arrows_pool_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    class Musl:  # no malloc_trim
        pass

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    release_freed_memory()  # no AttributeError


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a process with no other thread (the `paydag` command's): a test worker's own threads,
    left by other tests, would keep side_by_side from forking; these halves take no lock of theirs."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)


@pytest.mark.usefixtures("alone")
def test_side_by_side_runs_the_second_in_a_child_and_gives_both_results() -> None:
    here, there = side_by_side(
        lambda: ("here", os.getpid()), lambda: ("there", os.getpid(), [1.5, None, "å"])
    )
    assert here == ("here", os.getpid())
    assert there[0] == "there" and there[1] != os.getpid() and there[2] == [1.5, None, "å"]


@pytest.mark.usefixtures("alone")
def test_a_child_that_dies_or_raises_is_done_again_here() -> None:
    parent = os.getpid()

    def dies_in_a_child() -> int:
        if os.getpid() != parent:
            os._exit(3)
        return os.getpid()

    assert side_by_side(lambda: 1, dies_in_a_child) == (1, parent)

    def always_raises() -> None:
        raise ValueError(f"raised in {os.getpid()}")

    with pytest.raises(ValueError, match=f"raised in {parent}$"):  # the one raised here is the one seen
        side_by_side(lambda: 1, always_raises)


def test_with_other_threads_running_both_run_here() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert side_by_side(os.getpid, os.getpid) == (os.getpid(), os.getpid())
    finally:
        stop.set()
        thread.join()


@pytest.mark.usefixtures("alone")
def test_when_here_raises_the_child_is_killed_and_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    children: list[int] = []
    fork = os.fork

    def recorded() -> int:
        pid = fork()
        children.append(pid)
        return pid

    def fails() -> None:
        raise KeyError("here")

    monkeypatch.setattr(os, "fork", recorded)
    started = time.monotonic()
    with pytest.raises(KeyError):
        side_by_side(fails, lambda: time.sleep(60))
    assert time.monotonic() - started < 30
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(children[0], os.WNOHANG)
