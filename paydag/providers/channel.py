"""The payment channel: what the flows need from a provider, whatever carries the files.

`PageroChannel` implements it with Pagero Online's file and document APIs; the sandbox answers the
same contract. Document-type strings come from configuration, not from code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from paydag.providers.errors import ProviderError, ProviderUnavailable

__all__ = ["PaymentChannel", "ProviderError", "ProviderUnavailable", "SendMode"]


class SendMode(StrEnum):
    PRODUCTION = "Production"
    TEST = "Test"  # not legally binding
    CERTIFICATION = "Certification"  # the full flow, never delivered


@dataclass(frozen=True)
class ProviderFile:
    id: str
    sender_reference: str
    company_id: str
    name: str
    created: str


@dataclass(frozen=True)
class FileStatus:
    """Processing status of an uploaded file: OK when no part awaits interaction or failed."""

    file_id: str
    state: str  # OK, AWAITING_INTERACTION, ERROR
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.state == "OK"


@dataclass(frozen=True)
class ReceivedDocument:
    id: str
    file_id: str | None
    document_type: str
    created: str
    fetched: bool
    name: str | None = None


class PaymentChannel(Protocol):
    def upload(
        self,
        data: bytes,
        name: str,
        *,
        sender_reference: str,
        company_id: str,
        document_type: str,
        send_mode: SendMode,
    ) -> str:
        """Hand a file over; its provider file id. Not retried: see ProviderUnavailable."""
        ...

    def find_by_sender_reference(self, sender_reference: str, company_id: str) -> ProviderFile | None: ...

    def status(self, file_id: str) -> FileStatus: ...

    def list_received(
        self, company_id: str, *, document_type: str | None = None
    ) -> list[ReceivedDocument]: ...

    def download(self, document_id: str) -> bytes: ...

    def acknowledge(self, document_ids: list[str]) -> None: ...

    def close(self) -> None: ...
