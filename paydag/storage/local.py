"""The raw store in a directory: exclusive create by hard-linking a finished temporary file into place."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from paydag.atomic import write_once, write_replacing
from paydag.storage.raw import KeyConflict, RawObject, RawStoreError, _check_key, _WriteOnceStore


class LocalRawStore(_WriteOnceStore):
    """A directory. Exclusive create by hard-linking a finished temporary file into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _write(self, obj: RawObject, data: bytes) -> RawObject:
        path = self._path(obj.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Metadata first: an object counts as present once its bytes are in place, and then its
        # metadata is already there.
        meta = _meta_path(path)
        if not meta.exists():
            write_replacing(meta, json.dumps(asdict(obj), sort_keys=True).encode())
        if not write_once(path, data):  # the key exists: the exclusive create
            return self._same_or_conflict(obj)
        _fsync_dir(path.parent)
        return obj

    def _same_or_conflict(self, obj: RawObject) -> RawObject:
        existing = self.head(obj.key)
        if existing is None or hashlib.sha256(self.read(obj.key)).hexdigest() != obj.sha256:
            raise KeyConflict(f"{obj.key} already holds other bytes")
        return existing

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise RawStoreError(f"no object under {key}") from None

    def head(self, key: str) -> RawObject | None:
        path = self._path(key)
        if not path.exists():
            return None
        return RawObject(**json.loads(_meta_path(path).read_text()))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".meta.json"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key


def _meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta.json")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
