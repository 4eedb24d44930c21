"""The raw store: every file paydag sends or receives, kept write-once under a content-addressed key.

Key: `{direction}/{company}/{yyyy}/{mm}/{dd}/{sha256}-{safe name}`. A put is conditional (exclusive
create locally, `If-None-Match: *` on S3): the same bytes again is a no-op, other bytes under an
existing key are an error. Any day can be replayed from here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from paydag.atomic import write_once, write_replacing


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    QUARANTINE = "quarantine"


class RawStoreError(Exception):
    """The raw store refused an operation; the message says which key and why."""


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


@dataclass(frozen=True)
class RawObject:
    """What is stored under a key, besides the bytes."""

    key: str
    sha256: str
    size: int
    content_type: str
    source: str
    stored_at: str  # ISO 8601, UTC: when it was sent or received
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


def _describe(
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
        stored_at=when.isoformat(timespec="seconds"),
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
            _describe(direction, company, name, data, source, content_type, provider_id, at), data
        )

    def _write(self, obj: RawObject, data: bytes) -> RawObject:
        raise NotImplementedError


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


class S3RawStore(_WriteOnceStore):
    """An S3 bucket (or MinIO/Ceph through AWS_ENDPOINT_URL). Conditional put with If-None-Match."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        # boto3 reads AWS_ENDPOINT_URL (and credentials) from the environment itself.
        self._s3 = client or boto3.client("s3")

    def _full(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _write(self, obj: RawObject, data: bytes) -> RawObject:
        from botocore.exceptions import ClientError

        metadata = {"sha256": obj.sha256, "source": obj.source, "stored-at": obj.stored_at}
        if obj.provider_id:
            metadata["provider-id"] = obj.provider_id
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self._full(obj.key),
                Body=data,
                ContentType=obj.content_type,
                Metadata={k: _ascii(v) for k, v in metadata.items()},
                IfNoneMatch="*",
                ChecksumSHA256=_b64(bytes.fromhex(obj.sha256)),
            )
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412):  # 409: a concurrent conditional put of the same key
                existing = self.head(obj.key)
                if existing is None or existing.sha256 != obj.sha256:
                    raise KeyConflict(f"{obj.key} already holds other bytes") from None
                return existing
            raise RawStoreError(f"s3://{self.bucket}/{self._full(obj.key)}: {exc}") from None
        return obj

    def read(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self._s3.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()
        except ClientError as exc:
            raise RawStoreError(f"no object under {key}: {exc}") from None

    def head(self, key: str) -> RawObject | None:
        from botocore.exceptions import ClientError

        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise
        meta = head.get("Metadata", {})
        return RawObject(
            key=key,
            sha256=meta.get("sha256", ""),
            size=head["ContentLength"],
            content_type=head.get("ContentType", "application/octet-stream"),
            source=meta.get("source", ""),
            stored_at=meta.get("stored-at", ""),
            provider_id=meta.get("provider-id"),
        )

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        if ".." in prefix.split("/") or prefix.startswith("/"):
            raise RawStoreError(f"{prefix!r} is not a raw-store prefix")
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]


def _ascii(value: str) -> str:
    # S3 user metadata travels in HTTP headers: ASCII only.
    return value.encode("ascii", "backslashreplace").decode()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def open_raw_store(url: str) -> RawStore:
    """`file:///path` or a plain path → LocalRawStore; `s3://bucket/prefix` → S3RawStore."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise RawStoreError(f"{url}: an s3:// URL names a bucket")
        return S3RawStore(parsed.netloc, parsed.path)
    if parsed.scheme in ("file", ""):
        return LocalRawStore(Path(unquote(parsed.path) if parsed.scheme else url))
    raise RawStoreError(f"{url}: the raw store is a file:// or s3:// URL")


def fetch_input(uri: str, workdir: Path) -> Path:
    """A local path as it is; an `s3://bucket/key` object downloaded into `workdir` first."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        return Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
    import boto3
    from botocore.exceptions import ClientError

    target = Path(workdir) / safe_name(parsed.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        boto3.client("s3").download_file(parsed.netloc, parsed.path.lstrip("/"), str(target))
    except ClientError as exc:
        raise RawStoreError(f"{uri}: {exc}") from None
    return target
