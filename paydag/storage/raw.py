"""The raw store: every file paydag sends or receives, kept write-once under a content-addressed key.

Key: `{direction}/{company}/{yyyy}/{mm}/{dd}/{sha256}-{safe name}`. A put is conditional (exclusive
create locally, `If-None-Match: *` on S3): the same bytes again is a no-op, other bytes under an
existing key are an error. Any day can be replayed from here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    QUARANTINE = "quarantine"


class RawStoreError(Exception):
    """The raw store refused an operation; the message says which key and why."""


class RawStoreUnavailable(RawStoreError, ConnectionError):
    """The store could not be reached (S3 down, the connection dropped): nothing was written; run again."""


class KeyConflict(RawStoreError):
    """Other bytes already stand under this key: write-once forbids replacing them."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, max_len: int = 100) -> str:
    """A file name from outside made safe for a key: no directories, no control characters, no `..`."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _UNSAFE.sub("_", base).strip("._-")
    return base[:max_len] or "file"


def raw_key(direction: Direction, company: str, day: datetime, sha256: str, name: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("sha256 must be 64 lower-case hex digits")
    return f"{direction.value}/{safe_name(company)}/{day:%Y/%m/%d}/{sha256}-{safe_name(name)}"


def name_in_key(key: str) -> str:
    """The file's own (safe) name from its key: what follows `{sha256}-` in the last segment."""
    return key.rsplit("/", 1)[-1].split("-", 1)[-1]


@dataclass(frozen=True)
class RawObject:
    """What is stored under a key, besides the bytes."""

    key: str
    sha256: str
    size: int
    content_type: str
    source: str
    stored_at: str  # ISO 8601, UTC, to the millisecond: when it was sent or received (a replay's order)
    provider_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class RawStore(Protocol):
    """Write-once object storage for raw files."""

    url: str

    def put(
        self,
        direction: Direction,
        company: str,
        name: str,
        data: bytes,
        *,
        source: str,
        content_type: str = "application/octet-stream",
        provider_id: str | None = None,
        at: datetime | None = None,
    ) -> RawObject: ...

    def read(self, key: str) -> bytes: ...

    def head(self, key: str) -> RawObject | None: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...


def describe(
    direction: Direction,
    company: str,
    name: str,
    data: bytes,
    source: str,
    content_type: str,
    provider_id: str | None,
    at: datetime | None,
) -> RawObject:
    when = (at or datetime.now(UTC)).astimezone(UTC)
    digest = hashlib.sha256(data).hexdigest()
    return RawObject(
        key=raw_key(direction, company, when, digest, name),
        sha256=digest,
        size=len(data),
        content_type=content_type,
        source=source,
        stored_at=when.isoformat(timespec="milliseconds"),
        provider_id=provider_id,
    )


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise RawStoreError(f"{key!r} is not a raw-store key")
    return key


class _WriteOnceStore:
    """The put every backend shares: describe the object, then write it once (`_write`)."""

    def put(
        self,
        direction: Direction,
        company: str,
        name: str,
        data: bytes,
        *,
        source: str,
        content_type: str = "application/octet-stream",
        provider_id: str | None = None,
        at: datetime | None = None,
    ) -> RawObject:
        return self._write(
            describe(direction, company, name, data, source, content_type, provider_id, at), data
        )

    def _write(self, obj: RawObject, data: bytes) -> RawObject:
        raise NotImplementedError


def open_raw_store(url: str) -> RawStore:
    """`file:///path` or a plain path → LocalRawStore; `s3://bucket/prefix` → S3RawStore."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise RawStoreError(f"{url}: an s3:// URL names a bucket")
        from paydag.storage.s3 import S3RawStore

        return S3RawStore(parsed.netloc, parsed.path)
    if parsed.scheme in ("file", ""):
        from paydag.storage.local import LocalRawStore

        return LocalRawStore(Path(unquote(parsed.path) if parsed.scheme else url))
    raise RawStoreError(f"{url}: the raw store is a file:// or s3:// URL")
