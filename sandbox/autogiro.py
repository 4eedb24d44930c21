"""The autogiro consent API in the sandbox (`autogiromedgivanden.xml`): every parameter in the query
string, the API key checked, answers as XML."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

API_KEY = "sandbox-autogiro-key"
FIELDS = (
    "id",
    "payernumber",
    "personid",
    "clearingnumber",
    "accountnumber",
    "created",
    "companyid",
    "companyname",
    "active",
    "bgcaction",
)


def seed() -> list[dict[str, str]]:
    return [
        {"id": "1", "payernumber": "197012071234", "personid": "197012071234", "clearingnumber": "5000",
         "accountnumber": "1234560", "created": "2025-03-01", "companyid": "demo-0001",
         "companyname": "Demo Fastigheter AB", "active": "true", "bgcaction": "none"},
        {"id": "2", "payernumber": "198112289874", "personid": "198112289874", "clearingnumber": "6000",
         "accountnumber": "123456789", "created": "2025-04-12", "companyid": "demo-0001",
         "companyname": "Demo Fastigheter AB", "active": "true", "bgcaction": "add"},
    ]  # fmt: skip


def _xml(consents: list[dict[str, str]]) -> Response:
    body = "".join(
        "<autogiromedgivande>"
        + "".join(f"<{f}>{escape(c.get(f) or '')}</{f}>" for f in FIELDS)
        + "</autogiromedgivande>"
        for c in consents
    )
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><autogiromedgivanden>{body}</autogiromedgivanden>',
        media_type="application/xml",
    )


def _error(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type="text/plain")


def add_routes(
    app: FastAPI, consents: list[dict[str, str]], apply_fault: Callable[[str], Awaitable[Any]]
) -> None:
    async def guard(request: Request) -> Response | None:
        await apply_fault("autogiro")
        if request.query_params.get("apikey") != API_KEY:
            return _error(401, "invalid apikey")
        return None

    @app.get("/autogiromedgivanden.xml")
    async def list_consents(request: Request) -> Response:
        if problem := await guard(request):
            return problem
        q = request.query_params
        found = [
            c for c in consents
            if all(not q.get(k) or c[k] == q[k] for k in ("id", "personid", "companyid"))
        ]  # fmt: skip
        return _xml(found)

    @app.post("/autogiromedgivanden.xml")
    async def create(request: Request) -> Response:
        if problem := await guard(request):
            return problem
        q = request.query_params
        if not q.get("personid") or not q.get("companyid"):
            return _error(400, "personid and companyid are required")
        waiting = q.get("waitingforemedgivande") == "true"
        if not waiting and not (q.get("clearingnumber") and q.get("accountnumber")):
            return _error(400, "clearingnumber and accountnumber are required")
        if q.get("bgcaction", "none") not in ("add", "none"):
            return _error(400, "bgcaction is add or none")
        if any(
            c["personid"] == q["personid"] and c["companyid"] == q["companyid"] and c["active"] == "true"
            for c in consents
        ):
            return _error(409, "an active consent exists for this payer")
        consent = {
            "id": str(max((int(c["id"]) for c in consents), default=0) + 1), "payernumber": q["personid"],
            "personid": q["personid"], "clearingnumber": q.get("clearingnumber", ""), "accountnumber": q.get("accountnumber", ""),
            "created": datetime.now(UTC).date().isoformat(), "companyid": q["companyid"], "companyname": "Demo Fastigheter AB",
            "active": "false" if waiting else "true", "bgcaction": q.get("bgcaction", "none"),
        }  # fmt: skip
        consents.append(consent)
        return _xml([consent])

    @app.put("/autogiromedgivanden.xml")
    async def modify(request: Request) -> Response:
        if problem := await guard(request):
            return problem
        q = request.query_params
        missing = [k for k in ("id", "personid", "clearingnumber", "accountnumber") if not q.get(k)]
        if missing:
            return _error(400, f"{', '.join(missing)} required")
        consent = next((c for c in consents if c["id"] == q["id"]), None)
        if consent is None:
            return _error(404, f"no consent {q['id']}")
        if consent["bgcaction"] != "none":
            return _error(409, "only consents with bgcaction none can be modified")
        consent.update(
            personid=q["personid"], clearingnumber=q["clearingnumber"], accountnumber=q["accountnumber"]
        )
        return _xml([consent])
