"""S3 (or MinIO/Ceph through AWS_ENDPOINT_URL): the raw store in a bucket, and the one place a boto3
client is made."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from paydag.storage.raw import (
    KeyConflict,
    RawObject,
    RawStoreError,
    RawStoreUnavailable,
    _check_key,
    _WriteOnceStore,
)


@contextmanager
def _reachable(what: str) -> Iterator[None]:
    """botocore's transport failures (after its own retries) as RawStoreUnavailable, naming what failed."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    try:
        yield
    except (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise RawStoreUnavailable(f"{what}: the S3 store is unreachable: {exc}") from None


class S3RawStore(_WriteOnceStore):
    """An S3 bucket (or MinIO/Ceph through AWS_ENDPOINT_URL). Conditional put with If-None-Match."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._s3 = client or s3_client()

    def _full(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _write(self, obj: RawObject, data: bytes) -> RawObject:
        from botocore.exceptions import ClientError

        metadata = {"sha256": obj.sha256, "source": obj.source, "stored-at": obj.stored_at}
        if obj.provider_id:
            metadata["provider-id"] = obj.provider_id
        try:
            with _reachable(f"put s3://{self.bucket}/{self._full(obj.key)}"):
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
            with _reachable(f"read s3://{self.bucket}/{self._full(key)}"):
                return self._s3.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()
        except ClientError as exc:
            raise RawStoreError(f"no object under {key}: {exc}") from None

    def head(self, key: str) -> RawObject | None:
        from botocore.exceptions import ClientError

        try:
            with _reachable(f"head s3://{self.bucket}/{self._full(key)}"):
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
        with _reachable(f"list s3://{self.bucket}/{full}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    yield item["Key"][strip:]


def _ascii(value: str) -> str:
    # S3 user metadata travels in HTTP headers: ASCII only.
    return value.encode("ascii", "backslashreplace").decode()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def s3_client() -> Any:
    """The S3 client every S3 access goes through; boto3 reads AWS_ENDPOINT_URL and the credentials
    from the environment itself."""
    import boto3

    return boto3.client("s3")


def s3_objects(bucket: str, prefix: str) -> Iterator[tuple[str, bytes]]:
    """Every object under `prefix`, with its bytes, in key order."""
    s3 = s3_client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()


def put_once(bucket: str, key: str, data: bytes) -> None:
    """A conditional put (If-None-Match: *): an object already under `key` is left as it is."""
    from botocore.exceptions import ClientError

    try:
        s3_client().put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") not in (409, 412):
            raise
