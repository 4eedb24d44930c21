"""Pagero Online: OAuth2 (password grant, rotating refresh tokens) and the file and document APIs.

Everything about Pagero lives here. Credentials come in from the caller (a Prefect Secret block or
the environment) and never reach a log; requests are logged by method and path only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from paydag.atomic import write_replacing
from paydag.providers.channel import (
    FileStatus,
    ProviderError,
    ProviderFile,
    ReceivedDocument,
    SendMode,
)
from paydag.providers.http import ProviderClient

log = logging.getLogger("paydag.pagero")

TOKEN_MARGIN_SECONDS = 60  # refresh this long before the access token expires


@dataclass(frozen=True)
class PageroCredentials:
    """The dedicated API user of one company's Pagero account. repr hides the secrets."""

    client_id: str
    client_secret: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"PageroCredentials(client_id={self.client_id!r}, username={self.username!r}, secrets=***)"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PageroCredentials:
        env = os.environ if environ is None else environ
        names = ("PAGERO_CLIENT_ID", "PAGERO_CLIENT_SECRET", "PAGERO_USERNAME", "PAGERO_PASSWORD")
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise ProviderError(0, f"Pagero credentials missing from the environment: {', '.join(missing)}")
        return cls(*(env[n] for n in names))


class TokenStore:
    """Where the rotating refresh token lives between runs: a 0600 JSON file, replaced atomically.

    A refresh token is single-use; losing the new one breaks the chain (then the password grant
    starts a new one), so it is on disk before the access token that came with it is used.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def save(self, tokens: dict[str, Any]) -> None:
        write_replacing(self.path, json.dumps(tokens).encode(), mode=0o600)


class PageroChannel(ProviderClient):
    """The `PaymentChannel` over Pagero's REST API (or the sandbox, which answers the same contract)."""

    log = log

    def __init__(
        self,
        base_url: str,
        credentials: PageroCredentials,
        token_store: TokenStore,
        *,
        token_url: str | None = None,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self.token_url = token_url or f"{self.base_url}/oauth/v2/oauth-token"
        self._credentials = credentials
        self._tokens = token_store
        self._clock = clock

    def __repr__(self) -> str:
        return f"PageroChannel({self.base_url}, credentials=***)"

    # -- OAuth2 --

    def _access_token(self, *, force: bool = False) -> str:
        tokens = self._tokens.load()
        if (
            not force
            and tokens.get("access_token")
            and tokens.get("expires_at", 0) - TOKEN_MARGIN_SECONDS > self._clock()
        ):
            return tokens["access_token"]
        if tokens.get("refresh_token"):
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
            except ProviderError as exc:
                log.warning(
                    "Pagero refresh token refused (%s); starting a new chain with the password grant",
                    exc.status,
                )
        c = self._credentials
        return self._grant(
            {"grant_type": "password", "username": c.username, "password": c.password, "scope": "all"}
        )

    def _grant(self, form: dict[str, str]) -> str:
        auth = (self._credentials.client_id, self._credentials.client_secret)
        response = self._call("POST", self.token_url, retry=True, authenticated=False, data=form, auth=auth)
        body = response.json()
        tokens = {
            "access_token": body["access_token"],
            "refresh_token": body.get("refresh_token"),
            "expires_at": self._clock() + int(body.get("expires_in", 600)),
        }
        self._tokens.save(tokens)
        log.info("Pagero %s grant: new access token", form["grant_type"])
        return tokens["access_token"]

    # -- transport --

    def _call(
        self, method: str, url: str, *, retry: bool, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried (when `retry`) as `http.request` does; a 401 gets one fresh token; other
        4xx are ProviderError."""
        path = httpx.URL(url).path if "://" in url else url
        headers = dict(kwargs.pop("headers", None) or {})
        for refreshed in (False, True):
            if authenticated:
                headers["Authorization"] = f"Bearer {self._access_token(force=refreshed)}"
            response = self._send(method, url, retried=retry, describe=_message, headers=headers, **kwargs)
            if response.status_code == 401 and authenticated and not refreshed:
                continue
            if response.is_error:
                raise ProviderError(response.status_code, _message(response), method=method, path=path)
            return response
        raise ProviderError(401, "refused after a fresh token", method=method, path=path)

    # -- the file API --

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
        response = self._call(
            "POST",
            "/file/v1/files",
            retry=False,  # an upload that may have arrived is looked up, never blindly repeated
            files={"payload": (name, data, "application/xml")},
            data={
                "documentType": document_type,
                "sendMode": send_mode.value,
                "sendingCompanyId": company_id,
                "senderReference": sender_reference,
            },
        )
        return str(response.json()["id"])

    def find_by_sender_reference(self, sender_reference: str, company_id: str) -> ProviderFile | None:
        response = self._call(
            "GET",
            "/file/v1/files",
            retry=True,
            params={"senderReference": sender_reference, "sendingCompanyId": company_id},
        )
        items = response.json().get("items", [])
        if not items:
            return None
        item = items[0]
        return ProviderFile(
            id=str(item["id"]),
            sender_reference=item.get("senderReference", sender_reference),
            company_id=item.get("sendingCompanyId", company_id),
            name=item.get("fileName", ""),
            created=item.get("createTime", ""),
        )

    def status(self, file_id: str) -> FileStatus:
        response = self._call(
            "GET",
            f"/file/v1/files/{file_id}/fileparts",
            retry=True,
            params={"Status": "AwaitingInteraction,Error"},
        )
        items = response.json().get("items", [])
        if not items:
            return FileStatus(file_id=file_id, state="OK")
        errors = tuple(d for item in items for d in (item.get("error") or {}).get("description", []) or [])
        state = "ERROR" if any(i.get("status") == "Error" for i in items) else "AWAITING_INTERACTION"
        return FileStatus(file_id=file_id, state=state, errors=errors)

    # -- the document API --

    def list_received(self, company_id: str, *, document_type: str | None = None) -> list[ReceivedDocument]:
        seen: dict[str, ReceivedDocument] = {}
        offset, limit = 0, 100
        while True:
            params: dict[str, Any] = {
                "direction": "Received",
                "companyId": company_id,
                "showFetchedOnly": "false",
                "limit": limit,
                "offset": offset,
            }
            if document_type:
                params["documentType"] = document_type
            body = self._call("GET", "/document/v1/documents", retry=True, params=params).json()
            items = body.get("items", [])
            for item in items:  # newest-first offset paging shifts between pages: de-duplicate by id
                info = item.get("documentInfo") or {}
                seen.setdefault(
                    str(item["id"]),
                    ReceivedDocument(
                        id=str(item["id"]),
                        file_id=item.get("fileId"),
                        document_type=info.get("documentType", ""),
                        created=item.get("createTime", ""),
                        fetched=bool(item.get("isFetched")),
                        name=info.get("documentIdentifier"),
                    ),
                )
            total = (body.get("meta") or {}).get("total", 0)
            offset += limit
            if not items or offset >= total:
                return list(seen.values())

    def download(self, document_id: str) -> bytes:
        return self._call("GET", f"/document/v1/documents/{document_id}/targetdocument", retry=True).content

    def acknowledge(self, document_ids: list[str]) -> None:
        if document_ids:
            self._call("POST", "/document/v1/documents/fetch", retry=True, json={"ids": document_ids})


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "detail", "error_description", "error", "title"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]
