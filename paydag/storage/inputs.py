"""Input files named by a local path, an s3:// URI or an sftp:// URL: one fetched, or an inbox listed
(and, on SFTP, a file moved to the inbox's `archive/` folder once it is durable here)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from paydag.storage.raw import Direction, RawObject, RawStore, RawStoreError, safe_name

if TYPE_CHECKING:
    from paydag.storage.sftp import SftpCredentials, SftpFolder, SftpLocation

ARCHIVE = "archive"  # an SFTP inbox's folder for the files paydag has kept


def fetch_input(uri: str, workdir: Path, sftp: SftpCredentials | None = None) -> Path:
    """A local path as it is; an `s3://bucket/key` object or an `sftp://` file downloaded into
    `workdir` first."""
    parsed = urlparse(uri)
    if parsed.scheme == "sftp":
        folder, name = _sftp_file(uri)
        target = Path(workdir) / safe_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _open_sftp(folder, sftp) as remote:
            target.write_bytes(remote.read(name))
        return target
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


def inbox_files(inbox: str, sftp: SftpCredentials | None = None) -> list[tuple[str, bytes]]:
    """Every file in an inbox (a directory, an s3:// prefix or an sftp:// folder) as (its URI or path,
    its bytes); hidden files left out."""
    parsed = urlparse(inbox)
    if parsed.scheme == "sftp":
        from paydag.storage.sftp import SftpLocation

        location = SftpLocation.parse(inbox)
        with _open_sftp(location, sftp) as remote:
            return [(location.url(f.name), remote.read(f.name)) for f in remote.files()]
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


def done_with(uri: str, sftp: SftpCredentials | None = None) -> str | None:
    """An inbox file whose bytes are now durable here (raw store and register): on SFTP it moves to
    the inbox's `archive/` folder (its new URL); a local or S3 inbox keeps its files (None)."""
    if urlparse(uri).scheme != "sftp":
        return None
    folder, name = _sftp_file(uri)
    with _open_sftp(folder, sftp) as remote:
        return folder.child(ARCHIVE).url(remote.move(name, None, ARCHIVE))


def _sftp_file(uri: str) -> tuple[SftpLocation, str]:
    """The folder of an sftp:// file, and its name."""
    from paydag.storage.sftp import SftpLocation

    location = SftpLocation.parse(uri)
    path = PurePosixPath(location.path)
    return SftpLocation(location.user, location.host, location.port, str(path.parent)), path.name


def _open_sftp(location: SftpLocation, sftp: SftpCredentials | None) -> SftpFolder:
    from paydag.storage.sftp import SftpCredentials, SftpFolder  # paramiko only where SFTP is used

    return SftpFolder(location, sftp or SftpCredentials.from_env())


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
