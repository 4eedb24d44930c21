"""SFTP: the only SSH client (paramiko). A folder on a server reached by key, its host key checked.

`sftp://user@host:port/path` names a folder. Host keys are checked against a known_hosts file (an
unknown or changed key is refused, never learned); authentication is by private key only (no agent,
no password, no keys looked for elsewhere). Credentials come from a Prefect Secret block (the task
layer reads it and hands `SftpCredentials` in) or the environment: PAYDAG_SFTP_KEY_FILE (the private
key), PAYDAG_SFTP_KNOWN_HOSTS (the known_hosts file).

Writing is exactly once: a file is written under a hidden temporary name and renamed into place
(`posix-rename`, atomic on the server), so a reader never sees half a file and a rerun after a crash
finds the finished file by its name before it writes again.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

from paydag.storage.raw import RawStoreError


class SftpError(RawStoreError):
    """SFTP failed; the message names the server and what. The hierarchy:

    SftpError           the server refused an operation (no such file, permission denied, …)
    ├── SftpRefused     the host key is unknown or changed, or our key was refused: fix the configuration
    └── SftpUnreachable not reached, or the connection dropped (a ConnectionError): run again
    """


class SftpRefused(SftpError):
    """The server's host key is not the known one, or it refused our key."""


class SftpUnreachable(SftpError, ConnectionError):
    """The server was not reached, or the connection dropped."""


@dataclass(frozen=True)
class SftpLocation:
    user: str
    host: str
    port: int
    path: str  # the folder, absolute on the server

    @classmethod
    def parse(cls, url: str) -> SftpLocation:
        parsed = urlparse(url)
        if parsed.scheme != "sftp" or not parsed.hostname or not parsed.username:
            raise SftpError(f"{url}: an SFTP location is sftp://user@host[:port]/path")
        if parsed.password:
            raise SftpError(
                f"sftp://{parsed.username}@{parsed.hostname}: no password in the URL (key authentication only)"
            )
        return cls(parsed.username, parsed.hostname, parsed.port or 22, unquote(parsed.path) or "/")

    def url(self, name: str | None = None) -> str:
        path = str(PurePosixPath(self.path) / name) if name else self.path
        return f"sftp://{self.user}@{self.host}:{self.port}{path}"

    def child(self, folder: str) -> SftpLocation:
        return SftpLocation(self.user, self.host, self.port, str(PurePosixPath(self.path) / folder))


@dataclass(frozen=True)
class SftpCredentials:
    """A private key (PEM/OpenSSH text) and the known_hosts lines that name the server's key."""

    private_key: str
    known_hosts: str

    @classmethod
    def from_env(cls) -> SftpCredentials:
        key, hosts = os.environ.get("PAYDAG_SFTP_KEY_FILE"), os.environ.get("PAYDAG_SFTP_KNOWN_HOSTS")
        if not key or not hosts:
            raise SftpError(
                "PAYDAG_SFTP_KEY_FILE and PAYDAG_SFTP_KNOWN_HOSTS are not set (nor a Secret block sftp-credentials)"
            )
        try:
            return cls(Path(key).read_text(encoding="ascii"), Path(hosts).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SftpError(
                f"the SFTP key or known_hosts file cannot be read: {exc.strerror} ({exc.filename})"
            ) from None

    def __repr__(self) -> str:  # never the key
        return "SftpCredentials(private_key=…, known_hosts=…)"


def _private_key(text: str) -> Any:
    import paramiko

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except paramiko.SSHException:
            continue
    raise SftpError(
        "the SFTP private key is not an Ed25519, ECDSA or RSA key paramiko can read (or it has a passphrase)"
    )


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    modified: float  # seconds since the epoch


class SftpFolder:
    """A connection to one server, used for the folders under `location` (a context manager)."""

    def __init__(self, location: SftpLocation, credentials: SftpCredentials, *, timeout: float = 30) -> None:
        import paramiko

        self.location = location
        self._ssh = paramiko.SSHClient()
        hosts = paramiko.HostKeys()
        for line in credentials.known_hosts.splitlines():
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
            if entry is not None:
                for name in entry.hostnames:
                    hosts.add(name, entry.key.get_name(), entry.key)
        for name, keys in hosts.items():
            for kind, key in keys.items():
                self._ssh.get_host_keys().add(name, kind, key)
        self._ssh.set_missing_host_key_policy(paramiko.RejectPolicy())  # unknown host: refused, not learned
        try:
            self._ssh.connect(
                location.host, port=location.port, username=location.user, pkey=_private_key(credentials.private_key),
                look_for_keys=False, allow_agent=False, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
            )  # fmt: skip
            self._sftp = self._ssh.open_sftp()
            self._sftp.get_channel().settimeout(timeout)
        except (paramiko.BadHostKeyException, paramiko.AuthenticationException) as exc:
            self._ssh.close()
            raise SftpRefused(f"{location.url()}: {type(exc).__name__}: {exc}") from None
        except paramiko.SSHException as exc:
            self._ssh.close()
            if "not found in known_hosts" in str(exc):  # RejectPolicy: an unknown host is not learned
                raise SftpRefused(f"{location.url()}: the server's host key is not in known_hosts") from None
            raise SftpUnreachable(f"{location.url()}: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            self._ssh.close()
            raise SftpUnreachable(f"{location.url()}: {type(exc).__name__}: {exc}") from None

    def __enter__(self) -> SftpFolder:
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self.close()

    def close(self) -> None:
        self._ssh.close()

    def _path(self, name: str, folder: str | None = None) -> str:
        if "/" in name or name in ("", ".", ".."):
            raise SftpError(f"{name!r} is not a file name")
        base = PurePosixPath(self.location.path) / folder if folder else PurePosixPath(self.location.path)
        return str(base / name)

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        import paramiko

        try:
            return fn(*args)
        except (EOFError, paramiko.SSHException, TimeoutError, ConnectionError) as exc:  # the connection went
            raise SftpUnreachable(f"{self.location.url()}: {what}: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            transport = self._ssh.get_transport()
            if transport is None or not transport.is_active():  # "Socket is closed": the connection went
                raise SftpUnreachable(
                    f"{self.location.url()}: {what}: the connection dropped ({exc})"
                ) from None
            raise SftpError(f"{self.location.url()}: {what}: {exc}") from None

    def files(self, folder: str | None = None) -> list[RemoteFile]:
        """The files of a folder, oldest first; hidden ones (temporary uploads) left out."""
        path = str(PurePosixPath(self.location.path) / folder) if folder else self.location.path
        entries = self._call(f"list {path}", self._sftp.listdir_attr, path)
        found = [
            RemoteFile(e.filename, e.st_size or 0, float(e.st_mtime or 0))
            for e in entries
            if stat.S_ISREG(e.st_mode or 0) and not e.filename.startswith(".")
        ]
        return sorted(found, key=lambda f: (f.modified, f.name))

    def read(self, name: str, folder: str | None = None) -> bytes:
        buffer = io.BytesIO()
        self._call(f"read {name}", self._sftp.getfo, self._path(name, folder), buffer)
        return buffer.getvalue()

    def exists(self, name: str, folder: str | None = None) -> bool:
        try:
            self._call(f"stat {name}", self._sftp.stat, self._path(name, folder))
        except SftpError as exc:
            if isinstance(exc, SftpUnreachable) or "No such file" not in str(exc):
                raise
            return False
        return True

    def write_once(self, name: str, data: bytes, folder: str | None = None) -> bool:
        """Write `name` under a temporary name, then rename it into place. False when a file of that
        name is there already with the same bytes (a rerun); other bytes under the name are an error."""
        target = self._path(name, folder)
        if self.exists(name, folder):
            if hashlib.sha256(self.read(name, folder)).digest() != hashlib.sha256(data).digest():
                raise SftpError(f"{self.location.url()}: {target} already holds other bytes")
            return False
        temporary = self._path(f".{name}.part", folder)
        self._call(f"write {temporary}", self._sftp.putfo, io.BytesIO(data), temporary, len(data), None, True)
        self._call(f"rename {temporary} to {target}", self._sftp.posix_rename, temporary, target)
        return True

    def move(self, name: str, from_folder: str | None, to_folder: str) -> str:
        """Move a file into another folder (the archive), keeping any file of that name already there:
        the moved one then gets a numbered name; the folder is made when missing. Its new name."""
        folder = str(PurePosixPath(self.location.path) / to_folder)
        try:
            self._sftp.stat(folder)
        except FileNotFoundError:
            self._call(f"make {folder}", self._sftp.mkdir, folder)
        except OSError as exc:
            raise SftpError(f"{self.location.url()}: stat {folder}: {exc}") from None
        target, n = name, 1
        while self.exists(target, to_folder):
            target, n = f"{name}.{n}", n + 1
        self._call(f"move {name} to {to_folder}", self._sftp.posix_rename, self._path(name, from_folder),
                   self._path(target, to_folder))  # fmt: skip
        return target
