"""The payment channel over SFTP (a bank's or Pagero's SFTP service), behind the same `PaymentChannel`
as the Pagero API: payment files are written to an outbox folder, return files listed and fetched
from an inbox folder, and moved to an archive folder when acknowledged, which the poll does only once
their bytes are in the raw store and the register has committed them.

Exactly once: an upload is written under a temporary name and renamed (`SftpFolder.write_once`), and is
named after its senderReference (the MsgId), so `find_by_sender_reference` finds a file a crashed run
uploaded before anything uploads it again. A server that takes files out of the outbox as soon as
they arrive leaves nothing to find: against such a server the register's SENT, recorded right after
the upload, is what keeps a rerun from sending again (the window is the one between the rename and
that commit). SFTP reports no processing status: `status` says whether the file is still waiting in
the outbox (WAITING) or was taken (TAKEN); the bank's pain.002 is the answer.

Errors map onto the provider hierarchy: `SftpRefused` (host key, our key) is a `ProviderError`, not
retried; `SftpUnreachable` is `ProviderUnavailable`, retried by the tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from paydag.providers.channel import FileStatus, ProviderFile, ReceivedDocument, SendMode
from paydag.providers.errors import ProviderError, ProviderUnavailable
from paydag.storage.sftp import (
    SftpCredentials,
    SftpError,
    SftpFolder,
    SftpLocation,
    SftpRefused,
    SftpUnreachable,
)

T = TypeVar("T")


@contextmanager
def _as_provider_errors() -> Iterator[None]:
    try:
        yield
    except SftpRefused as exc:
        raise ProviderError(0, str(exc)) from None
    except SftpUnreachable as exc:
        raise ProviderUnavailable(str(exc)) from None
    except SftpError as exc:
        raise ProviderError(0, str(exc)) from None


class SftpChannel:
    """One company's folders on an SFTP server. The connection is opened on first use and kept."""

    def __init__(
        self,
        location: SftpLocation,
        credentials: SftpCredentials,
        *,
        outbox: str = "outbox",
        inbox: str = "inbox",
        archive: str = "archive",
        connect: Callable[[SftpLocation, SftpCredentials], SftpFolder] = SftpFolder,
    ) -> None:
        self.location, self._credentials, self._connect = location, credentials, connect
        self.outbox, self.inbox, self.archive = outbox, inbox, archive
        self._folder: SftpFolder | None = None

    def _remote(self, work: Callable[[SftpFolder], T]) -> T:
        with _as_provider_errors():
            if self._folder is None:
                self._folder = self._connect(self.location, self._credentials)
            try:
                return work(self._folder)
            except SftpUnreachable:
                self.close()  # a dropped connection is opened again by the next call
                raise

    @staticmethod
    def remote_name(name: str, sender_reference: str) -> str:
        """The outbox name: the file's own, beginning with its senderReference (found by it)."""
        return name if name.startswith(sender_reference) else f"{sender_reference}-{name}"

    def upload(
        self, data: bytes, name: str, *, sender_reference: str, company_id: str, document_type: str,
        send_mode: SendMode,
    ) -> str:  # fmt: skip
        """Write the file into the outbox (temporary name, then renamed); its name is its id."""
        remote = self.remote_name(name, sender_reference)
        self._remote(lambda f: f.write_once(remote, data, self.outbox))
        return remote

    def find_by_sender_reference(self, sender_reference: str, company_id: str) -> ProviderFile | None:
        for f in self._remote(lambda f: f.files(self.outbox)):
            if f.name.startswith(sender_reference):
                return ProviderFile(f.name, sender_reference, company_id, f.name, _iso(f.modified))
        return None

    def status(self, file_id: str) -> FileStatus:
        """WAITING while the file is in the outbox, TAKEN once the bank has taken it: SFTP says no more
        (nothing failed that SFTP could know of; the bank's pain.002 says how the file was processed)."""
        waiting = self._remote(lambda f: f.exists(file_id, self.outbox))
        return FileStatus(file_id, "WAITING" if waiting else "TAKEN")

    def list_received(self, company_id: str, *, document_type: str | None = None) -> list[ReceivedDocument]:
        """Every file in the inbox: none is acknowledged yet (acknowledged files are in the archive)."""
        return [
            ReceivedDocument(id=f.name, file_id=None, document_type=document_type or "", created=_iso(f.modified),
                             fetched=False, name=f.name)
            for f in self._remote(lambda f: f.files(self.inbox))
        ]  # fmt: skip

    def download(self, document_id: str) -> bytes:
        return self._remote(lambda f: f.read(document_id, self.inbox))

    def acknowledge(self, document_ids: list[str]) -> None:
        """Move each file from the inbox to the archive (one moved before is not there any more)."""

        def move(f: SftpFolder) -> None:
            for name in document_ids:
                if f.exists(name, self.inbox):
                    f.move(name, self.inbox, self.archive)

        self._remote(move)

    def close(self) -> None:
        if self._folder is not None:
            self._folder.close()
            self._folder = None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
