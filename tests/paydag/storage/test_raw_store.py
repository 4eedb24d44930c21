"""One contract for every raw store: the local directory and S3 (moto's server, over HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paydag.storage import (
    Direction,
    KeyConflict,
    LocalRawStore,
    RawStore,
    RawStoreError,
    S3RawStore,
    open_raw_store,
    raw_key,
    safe_name,
)
from paydag.storage import raw as storage_raw

AT = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RawStore:
    if request.param == "local":
        return open_raw_store((tmp_path / "raw").as_uri())
    bucket = request.getfixturevalue("s3_bucket")
    return open_raw_store(f"s3://{bucket}/paydag")


def test_put_is_content_addressed_with_metadata(store: RawStore) -> None:
    obj = store.put(
        Direction.OUTGOING,
        "demo",
        "pain001.xml",
        b"<Document/>",
        source="send",
        content_type="application/xml",
        at=AT,
    )
    assert obj.key == raw_key(Direction.OUTGOING, "demo", AT, obj.sha256, "pain001.xml")
    assert obj.key.startswith("outgoing/demo/2026/11/24/")
    assert store.read(obj.key) == b"<Document/>"
    assert store.exists(obj.key)
    head = store.head(obj.key)
    assert head is not None
    assert (head.sha256, head.size, head.content_type, head.source, head.stored_at) == (
        obj.sha256,
        11,
        "application/xml",
        "send",
        "2026-11-24T09:15:00.000+00:00",
    )


def test_same_bytes_again_is_a_no_op(store: RawStore) -> None:
    first = store.put(
        Direction.INCOMING, "demo", "camt054.xml", b"abc", source="poll", provider_id="doc-1", at=AT
    )
    again = store.put(
        Direction.INCOMING, "demo", "camt054.xml", b"abc", source="poll", provider_id="doc-1", at=AT
    )
    assert again.key == first.key and again.sha256 == first.sha256
    assert list(store.list("incoming/")) == [first.key]
    assert store.head(first.key).provider_id == "doc-1"


def test_other_bytes_under_an_existing_key_is_an_error(
    store: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = store.put(Direction.INCOMING, "demo", "a.xml", b"one", source="poll", at=AT)
    # Only a broken hash could map other bytes to the same key: simulate one.
    real = storage_raw.describe
    monkeypatch.setattr(
        storage_raw,
        "describe",
        lambda *a, **k: dataclasses.replace(real(*a, **k), key=obj.key, sha256="0" * 64),
    )
    with pytest.raises(KeyConflict, match=obj.key):
        store.put(Direction.INCOMING, "demo", "a.xml", b"two", source="poll", at=AT)
    assert store.read(obj.key) == b"one"


def test_list_by_prefix(store: RawStore) -> None:
    a = store.put(Direction.OUTGOING, "demo", "a.xml", b"a", source="t", at=AT)
    b = store.put(Direction.INCOMING, "demo", "b.xml", b"b", source="t", at=AT)
    c = store.put(Direction.INCOMING, "other", "c.xml", b"c", source="t", at=AT)
    assert sorted(store.list()) == sorted([a.key, b.key, c.key])
    assert list(store.list("incoming/demo/")) == [b.key]
    assert list(store.list("incoming/nobody/")) == []


def test_missing_objects(store: RawStore) -> None:
    key = "incoming/demo/2026/11/24/" + "0" * 64 + "-x.xml"
    assert not store.exists(key)
    assert store.head(key) is None
    with pytest.raises(RawStoreError, match="no object"):
        store.read(key)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/key", "a//b", "a/../b", ""])
def test_keys_that_leave_the_store_are_refused(store: RawStore, key: str) -> None:
    with pytest.raises(RawStoreError, match="not a raw-store key"):
        store.read(key)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\bank\\camt054 D.xml", "camt054_D.xml"),
        ("Återbetalning\x00\n.xml", "Aterbetalning_.xml"),
        ("..", "file"),
        ("pain.001.001.03.xml", "pain.001.001.03.xml"),
    ],
)
def test_outside_file_names_are_sanitised(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_outside_names_cannot_escape_the_local_store(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path / "raw")
    obj = store.put(Direction.INCOMING, "../demo", "../../x.xml", b"x", source="poll", at=AT)
    path = (tmp_path / "raw" / obj.key).resolve()
    assert path.is_relative_to(tmp_path / "raw")
    assert obj.key.startswith("incoming/demo/")


def test_open_raw_store_chooses_the_backend(tmp_path: Path, s3_bucket: str) -> None:
    assert isinstance(open_raw_store(str(tmp_path / "r")), LocalRawStore)
    s3 = open_raw_store(f"s3://{s3_bucket}/prefix/")
    assert isinstance(s3, S3RawStore) and s3.url == f"s3://{s3_bucket}/prefix"
    with pytest.raises(RawStoreError):
        open_raw_store("ftp://example/raw")
