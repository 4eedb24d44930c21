"""Input files named by a local path or an s3:// URI: one fetched, or an inbox listed."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from paydag.storage.raw import Direction, RawObject, RawStore, RawStoreError, safe_name


def fetch_input(uri: str, workdir: Path) -> Path:
    """A local path as it is; an `s3://bucket/key` object downloaded into `workdir` first."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        return Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
    from botocore.exceptions import ClientError

    from paydag.storage.s3 import s3_client

    target = Path(workdir) / safe_name(parsed.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        s3_client().download_file(parsed.netloc, parsed.path.lstrip("/"), str(target))
    except ClientError as exc:
        raise RawStoreError(f"{uri}: {exc}") from None
    return target


def inbox_files(inbox: str) -> list[tuple[str, bytes]]:
    """Every file in an inbox (a directory or an s3:// prefix) as (its URI or path, its bytes);
    hidden files left out."""
    parsed = urlparse(inbox)
    if parsed.scheme == "s3":
        from paydag.storage.s3 import s3_objects

        return [
            (f"s3://{parsed.netloc}/{key}", body)
            for key, body in s3_objects(parsed.netloc, parsed.path.lstrip("/"))
        ]
    directory = Path(parsed.path if parsed.scheme == "file" else inbox)
    if not directory.is_dir():
        return []
    return [
        (str(p), p.read_bytes())
        for p in sorted(directory.iterdir())
        if p.is_file() and not p.name.startswith(".")
    ]


def keep_input(
    raw_store: RawStore, owner: str, path: Path, *, reader: str, label: str | None = None
) -> RawObject:
    """An input a step reads besides bank files (a captures export, a bills file), kept as it was read
    (`incoming/{owner}/…`, source `{reader}: {label}`), so that a replay of the day reads the same."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RawStoreError(f"{path}: cannot be read to keep: {exc.strerror}") from None
    return raw_store.put(Direction.INCOMING, owner, path.name, data, source=f"{reader}: {label or path.name}")
