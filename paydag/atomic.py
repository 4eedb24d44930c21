"""Files that appear whole or not at all: the one write-to-a-temporary-file-then-rename idiom.

A reader (another poll, a restarted run, the rent system, a person) never sees half a file: the bytes
go to a temporary file in the same directory, are flushed to disk, and then take their name in one
step. `replacing` overwrites what was there; `write_once` never does (the exclusive create that a
write-once store and a drop folder need, by a hard link that fails when the name exists).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def _temporary(path: Path, mode: int | None) -> Iterator[tuple[BinaryIO, Path]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(name)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as file:
            yield file, tmp
    finally:
        tmp.unlink(missing_ok=True)


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


@contextmanager
def replacing(path: Path, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file to write: when the block ends without an exception it takes `path`'s name
    (replacing what was there); when it raises, the file is gone and `path` is as it was."""
    with _temporary(Path(path), mode) as (file, tmp):
        yield file
        _sync(file)
        tmp.replace(path)


def write_replacing(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """`data` under `path`, whole, replacing what was there."""
    with replacing(path, mode=mode) as file:
        file.write(data)


def write_once(path: Path, data: bytes) -> bool:
    """Create `path` with `data` unless the name exists; True when this call created it."""
    path = Path(path)
    with _temporary(path, None) as (file, tmp):
        file.write(data)
        _sync(file)
        file.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    return True
