"""Building many objects at once: the collector paused for the block, freed memory handed back."""

from __future__ import annotations

import ctypes
import gc

import pyarrow as pa
import pytest

from paydag.bulk import collector_paused, release_freed_memory


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
