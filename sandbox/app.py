"""The provider sandbox: Pagero's file and document API contract on loopback, for tests and the demo.

Same paths, multipart fields and JSON shapes as `paydag.providers.pagero` uses against Pagero:
OAuth2 with 600 s access tokens and single-use, rotating refresh tokens; file upload, lookup by
senderReference and fileparts; received documents with download and fetch-acknowledge. State lives in
a directory, so a restarted sandbox remembers what it was sent.

A simulated bank (`sandbox/bank.py`) answers uploaded pain.001 files with pain.002 and camt.054.

Test and demo controls: `GET /_sandbox/state`, `POST /_sandbox/faults` (status codes, latency,
a connection dropped after an upload is stored, a truncated download), `POST /_sandbox/advance` (move
the sandbox clock), `POST /_sandbox/bank` (block list, amount limit, open invoices),
`POST /_sandbox/documents` (place a document for a company to receive).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from paydag.atomic import write_replacing
from sandbox import autogiro, bank, payex
from sandbox.settlement import Capture, write_transaction_list

ACCESS_TOKEN_SECONDS = 600


@dataclass(frozen=True)
class SandboxCredentials:
    client_id: str = "paydag-sandbox"
    client_secret: str = "sandbox-secret"  # noqa: S105 (the sandbox's own, published test credential)
    username: str = "api-user"
    password: str = "api-password"  # noqa: S105


class Fault(BaseModel):
    """One injected misbehaviour for the next `times` matching requests."""

    route: str = "any"  # token, upload, find, fileparts, documents, download, fetch, payex, autogiro, any
    status: int | None = None  # answer with this status instead
    latency: float = 0.0  # seconds to wait first
    drop_after_store: bool = False  # upload only: store the file, then drop the connection
    truncate_body: bool = False  # download only: send half the body, then close
    retry_after: int | None = None
    times: int = 1


class Advance(BaseModel):
    seconds: float


class CaptureIn(BaseModel):
    transaction_no: str
    order_id: str
    type: str = "Capture"  # Capture, Sale, Reversal
    amount: int  # minor units, positive, as the payments API gives them
    vat_amount: int | None = None
    service: str = "Swish"
    created: str  # YYYY-MM-DD hh:mm:ss
    referenced_transaction: str | None = None


class SettleRequest(BaseModel):
    accounting_no: str
    deliver_to: str | None = None  # a company id at Pagero: the report also lands in its inbox


class PlacedDocument(BaseModel):
    company_id: str
    document_type: str
    name: str
    content_base64: str


class SandboxState:
    """Everything the sandbox knows, in one JSON file (replaced atomically) and payload files."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        (self.dir / "payloads").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.dir / "state.json"
        self.data: dict[str, Any] = (
            json.loads(self._file.read_text())
            if self._file.exists()
            else {
                "files": [],
                "documents": [],
                "acknowledgements": [],
                "tokens": {},
                "refresh": {},
                "clock_offset": 0.0,
            }
        )
        self.faults: list[Fault] = []

    def now(self) -> float:
        return time.time() + self.data["clock_offset"]

    def save(self) -> None:
        write_replacing(self._file, json.dumps(self.data, indent=1).encode())

    def take_fault(self, route: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.route in (route, "any") and fault.times > 0:
                    fault.times -= 1
                    self.faults = [f for f in self.faults if f.times > 0]
                    return fault
        return None

    def locked(self) -> threading.Lock:
        return self._lock


class _TruncatedBody(Response):
    """Announces the whole body, sends half of it, and breaks off."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content, media_type="application/xml")
        self._full = content

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        length = str(len(self._full)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]})
        await send(
            {"type": "http.response.body", "body": self._full[: len(self._full) // 2], "more_body": True}
        )
        raise ConnectionAbortedError("sandbox fault: body truncated")


class _DroppedConnection(Response):
    """Starts a response and breaks off: the client sees the connection close mid-answer."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"64")]})
        raise ConnectionAbortedError("sandbox fault: connection dropped after the upload was stored")


def create_app(state_dir: Path, credentials: SandboxCredentials | None = None) -> FastAPI:
    creds = credentials or SandboxCredentials()
    state = SandboxState(state_dir)
    app = FastAPI(title="paydag provider sandbox", version="1")
    app.state.sandbox = state

    async def apply_fault(route: str) -> Fault | None:
        fault = state.take_fault(route)
        if fault and fault.latency:
            await asyncio.sleep(fault.latency)
        if fault and fault.status:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            raise HTTPException(fault.status, f"sandbox fault: {fault.status}", headers=headers)
        return fault

    def add_document(company_id: str, document_type: str, name: str, data: bytes) -> str:
        """Put a document in a company's inbox (caller holds the lock and saves)."""
        document_id = str(uuid.uuid4())
        (state.dir / "payloads" / document_id).write_bytes(data)
        state.data["documents"].append(
            {
                "id": document_id,
                "companyId": company_id,
                "documentType": document_type,
                "name": name,
                "created": state.now(),
                "isFetched": False,
            }
        )
        return document_id

    def run_bank() -> None:
        with state.locked():
            bank.tick(state.data, state.now(), add_document)
            state.save()

    def bearer(authorization: Annotated[str | None, Header()] = None) -> str:
        token = (authorization or "").removeprefix("Bearer ").strip()
        expires = state.data["tokens"].get(token)
        if not token or expires is None or expires <= state.now():
            raise HTTPException(401, "invalid or expired access token")
        return token

    # -- OAuth2 --

    @app.post("/oauth/v2/oauth-token")
    async def token(request: Request) -> JSONResponse:
        await apply_fault("token")
        form = await request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if (client_id, client_secret) != (creds.client_id, creds.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = form.get("grant_type")
        with state.locked():
            if grant == "password":
                if (form.get("username"), form.get("password")) != (creds.username, creds.password):
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
            elif grant == "refresh_token":
                # Single use: a refresh token is gone once redeemed, and its answer brings a new one.
                if state.data["refresh"].pop(str(form.get("refresh_token")), None) is None:
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "refresh token used or unknown"}, 400
                    )
            else:
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            state.data["tokens"][access] = state.now() + ACCESS_TOKEN_SECONDS
            state.data["refresh"][refresh] = state.now()
            state.save()
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh,
            }
        )

    # -- files --

    @app.post("/file/v1/files", status_code=201, dependencies=[Depends(bearer)])
    async def upload(
        payload: Annotated[UploadFile, File()],
        documentType: Annotated[str, Form()],
        sendMode: Annotated[str, Form()],
        sendingCompanyId: Annotated[str, Form()],
        senderReference: Annotated[str, Form()],
    ) -> Any:
        fault = await apply_fault("upload")
        if sendMode not in ("Production", "Test", "Certification"):
            raise HTTPException(400, f"unknown sendMode {sendMode!r}")
        data = await payload.read()
        file_id = str(uuid.uuid4())
        (state.dir / "payloads" / file_id).write_bytes(data)
        record = {
            "id": file_id,
            "fileName": payload.filename,
            "documentType": documentType,
            "sendMode": sendMode,
            "sendingCompanyId": sendingCompanyId,
            "senderReference": senderReference,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "createTime": _iso(state.now()),
            "parts": _check_payload(data),
        }
        bank.remember_upload(record, data)
        with state.locked():
            state.data["files"].append(record)
            state.save()
        if fault and fault.drop_after_store:
            return _DroppedConnection()
        return {"id": file_id}

    @app.get("/file/v1/files", dependencies=[Depends(bearer)])
    async def find_files(senderReference: str | None = None, sendingCompanyId: str | None = None) -> Any:
        await apply_fault("find")
        items = [
            _public(f)
            for f in reversed(state.data["files"])
            if (senderReference is None or f["senderReference"] == senderReference)
            and (sendingCompanyId is None or f["sendingCompanyId"] == sendingCompanyId)
        ]
        return {"items": items, "meta": {"count": len(items), "total": len(items)}}

    @app.get("/file/v1/files/{file_id}/fileparts", dependencies=[Depends(bearer)])
    async def fileparts(file_id: str, Status: str | None = None) -> Any:
        await apply_fault("fileparts")
        record = next((f for f in state.data["files"] if f["id"] == file_id), None)
        if record is None:
            raise HTTPException(404, f"no file {file_id}")
        wanted = set((Status or "").split(",")) - {""}
        parts = [p for p in record["parts"] if not wanted or p["status"] in wanted]
        return {"items": parts, "meta": {"count": len(parts), "total": len(parts)}}

    # -- documents --

    @app.get("/document/v1/documents", dependencies=[Depends(bearer)])
    async def documents(
        companyId: str,
        direction: str = "Received",
        documentType: str | None = None,
        showFetchedOnly: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> Any:
        await apply_fault("documents")
        run_bank()
        horizon = state.now() - 90 * 86400  # documents stay visible for 90 days
        items = [
            _document_item(d)
            for d in reversed(state.data["documents"])
            if d["companyId"] == companyId
            and (documentType is None or d["documentType"] == documentType)
            and (not showFetchedOnly or d["isFetched"])
            and d["created"] >= horizon
        ]
        page = items[offset : offset + limit]
        return {
            "items": page,
            "meta": {"count": len(page), "limit": limit, "offset": offset, "total": len(items)},
        }

    @app.get("/document/v1/documents/{document_id}/targetdocument", dependencies=[Depends(bearer)])
    async def download(document_id: str) -> Response:
        fault = await apply_fault("download")
        if not any(d["id"] == document_id for d in state.data["documents"]):
            raise HTTPException(404, f"no document {document_id}")
        content = (state.dir / "payloads" / document_id).read_bytes()
        if fault and fault.truncate_body:
            return _TruncatedBody(content)
        return Response(content, media_type="application/xml")

    @app.post("/document/v1/documents/fetch", dependencies=[Depends(bearer)])
    async def fetch(body: dict[str, list[str]]) -> Any:
        await apply_fault("fetch")
        ids = set(body.get("ids", []))
        with state.locked():
            for d in state.data["documents"]:
                if d["id"] in ids and not d["isFetched"]:
                    d["isFetched"] = True
                    state.data["acknowledgements"].append({"id": d["id"], "at": _iso(state.now())})
            state.save()
        return {"ids": sorted(ids)}

    # -- controls --

    payex_data: dict[str, Any] = {}  # in memory: a restarted sandbox starts from the seed again
    payex.add_routes(app, lambda: payex_data, apply_fault)
    autogiro.add_routes(app, autogiro.seed(), apply_fault)

    @app.get("/_sandbox/state")
    async def sandbox_state() -> Any:
        run_bank()
        return {
            "files": [_public(f) for f in state.data["files"]],
            "documents": [_document_item(d) for d in state.data["documents"]],
            "acknowledgements": state.data["acknowledgements"],
            "clock": _iso(state.now()),
            "faults": [f.model_dump() for f in state.faults],
        }

    @app.post("/_sandbox/faults")
    async def faults(new: list[Fault]) -> Any:
        with state.locked():
            state.faults = [f for f in new if f.times > 0]
        return {"faults": [f.model_dump() for f in state.faults]}

    @app.post("/_sandbox/advance")
    async def advance(body: Advance) -> Any:
        with state.locked():
            state.data["clock_offset"] += body.seconds
            state.save()
        run_bank()
        return {"clock": _iso(state.now())}

    @app.post("/_sandbox/bank")
    async def bank_rules(rules: bank.BankRules) -> Any:
        """Set the simulated bank's rules: block list, amount limit, open invoices to be paid."""
        with state.locked():
            state.data["bank_rules"] = rules.model_dump(mode="json")
            state.save()
        return state.data["bank_rules"]

    @app.post("/_sandbox/captures", status_code=201)
    async def captures(new: list[CaptureIn]) -> Any:
        """Captures and reversals the sandbox's Swedbank Pay has made; settled by /_sandbox/settle. A
        transaction number it has already is ignored (posting the same captures twice is harmless)."""
        with state.locked():
            captures = state.data.setdefault("captures", [])
            known = {c["transaction_no"] for c in captures}
            captures.extend(
                c.model_dump() | {"settled_in": None} for c in new if c.transaction_no not in known
            )
            state.save()
        return {"captures": len(state.data["captures"])}

    @app.post("/_sandbox/settle", status_code=201)
    async def settle(request: SettleRequest) -> Any:
        """A settlement report (Transaction List XML v2) of every capture not yet settled."""
        with state.locked():
            open_ = [c for c in state.data.get("captures", []) if c["settled_in"] is None]
            now = datetime.fromtimestamp(state.now(), UTC)
            target = state.dir / "settlement" / f"{request.accounting_no}.xml"
            target.parent.mkdir(parents=True, exist_ok=True)
            rows = write_transaction_list(
                target,
                (
                    Capture(
                        c["transaction_no"],
                        c["order_id"],
                        c["type"],
                        c["amount"],
                        c["vat_amount"],
                        c["service"],
                        datetime.strptime(c["created"], "%Y-%m-%d %H:%M:%S"),  # noqa: DTZ007 (local, as the file writes it)
                        c["referenced_transaction"],
                    )
                    for c in open_
                ),
                accounting_no=request.accounting_no,
                accounting_date=f"{now:%Y-%m-%d}",
                settled=f"{now:%Y-%m-%d} 23:59:59",
            )
            for c in open_:
                c["settled_in"] = request.accounting_no
            document_id = None
            if request.deliver_to and rows:
                document_id = add_document(
                    request.deliver_to,
                    "settlement",
                    f"TransactionList-{request.accounting_no}.xml",
                    target.read_bytes(),
                )
            state.save()
        return {"accounting_no": request.accounting_no, "rows": rows, "document_id": document_id}

    @app.get("/_sandbox/settlement/{accounting_no}")
    async def settlement_report(accounting_no: str) -> Response:
        path = state.dir / "settlement" / f"{accounting_no}.xml"
        if not path.exists() or "/" in accounting_no:
            raise HTTPException(404, f"no settlement report {accounting_no}")
        return Response(path.read_bytes(), media_type="application/xml")

    @app.post("/_sandbox/documents", status_code=201)
    async def place_document(doc: PlacedDocument) -> Any:
        with state.locked():
            document_id = add_document(
                doc.company_id, doc.document_type, doc.name, base64.b64decode(doc.content_base64)
            )
            state.save()
        return {"id": document_id}

    return app


def _public(f: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in f.items() if k != "parts" and not k.startswith("_")}


def _check_payload(data: bytes) -> list[dict[str, Any]]:
    """The sandbox's processing of an upload: an XML pain.001 passes, anything else is a failed part."""
    head = data[:4096]
    if b"<Document" in head and b"pain.001" in head:
        return []
    return [
        {
            "id": str(uuid.uuid4()),
            "status": "Error",
            "error": {"description": ["not a pain.001 XML document"]},
        }
    ]


def _document_item(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"],
        "fileId": None,
        "createTime": _iso(d["created"]),
        "isFetched": d["isFetched"],
        "sendMode": "Production",
        "documentInfo": {"documentType": d["documentType"], "documentIdentifier": d["name"]},
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
