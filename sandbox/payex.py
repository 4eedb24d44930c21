"""The PayEx Credit Account API in the sandbox: several accounts, open and closed bills (the open ones
carry the OCRs the sandbox bank pays in the demo), enough transactions to need several pages, and the
API's problem responses (capitalised keys, as the documentation shows them).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from paydag.samples import ocr_reference

TOKEN = "sandbox-payex-token"  # noqa: S105 (the sandbox's published test token)
LEDGER = "1234"
ROOT = "/ledger/credit-account/v1/{ledger}/accounts"


def seed() -> dict[str, Any]:
    accounts: dict[str, Any] = {}
    for n, (customer, limit) in enumerate([("1001", "20000.00"), ("1002", "15000.00"), ("1003", "5000.00")]):
        limit = Decimal(limit)
        account_no = f"90{n + 1:04d}"
        bills = []
        for b in range(3):
            open_ = b == 0  # the newest bill of each account is open and payable by OCR
            bill = {
                "billNo": f"bill-{n + 1}{b}",
                "billDate": (date(2026, 11, 1) - timedelta(days=30 * b)).isoformat(),
                "dueDate": (date(2026, 11, 28) - timedelta(days=30 * b)).isoformat(),
                "billAmount": Decimal(8450 + 125 * n + (0 if open_ else 100 * b)),
                "billType": "bill" if b < 2 else "reminder",
                "status": "open" if open_ else "closed",
            }
            if open_:
                bill["activePaymentDetails"] = {
                    "minimumAmountToBePayed": bill["billAmount"],
                    "bankAccountType": "BGSE",
                    "paymentReference": ocr_reference(4711000 + n),
                    "paymentOrdersExists": False,
                }
            bills.append(bill)
        transactions = [
            {
                "type": ("purchase", "payment", "credit")[t % 3],
                "amount": Decimal(100 + (t * 37) % 900) + Decimal("0.50"),
                "billed": t % 2 == 0,
                "date": (date(2026, 9, 1) + timedelta(days=t)).isoformat(),
                "reserveDate": (date(2026, 9, 1) + timedelta(days=t)).isoformat(),
            }
            for t in range(45)
        ]
        accounts[account_no] = {
            "account": {
                "accountNo": account_no, "customerNo": customer, "startDate": "2024-01-15", "status": "open",
                "creditLimit": limit, "totalBalance": Decimal("3120.50"), "reservedAmount": Decimal("0.00"),
                "availableAmount": limit - Decimal("3120.50"),
                "charityDonation": False, "currency": "sek",
                "bankPayment": {"bankAccountNo": "50501055", "bankAccountType": "BGSE", "paymentReference": ocr_reference(4711000 + n)},
            },
            "bills": bills,
            "transactions": transactions,
            "reservations": [{"amount": Decimal("250.00"), "description": "Kiosken Centralen", "date": "2026-11-20"}],
            "cards": [{"id": f"card-{n}", "token": f"tok-{n}", "panTrunc": "492500******0004", "mainCard": True}],
            "recurring": {"recurringPaymentMethod": "autogiro", "recurringPaymentScope": "billedAmount", "fixedRecurringAmount": None},
        }  # fmt: skip
    return accounts


class DecimalJSONResponse(JSONResponse):
    """JSON numbers written from Decimal exactly, as the real API writes them (never through a float)."""

    def render(self, content: Any) -> bytes:
        marked = json.dumps(
            content, default=lambda v: f"__decimal__{v}" if isinstance(v, Decimal) else str(v)
        )
        return re.sub(r'"__decimal__(-?[0-9.]+)"', r"\1", marked).encode()


def _problem(
    status: int, title: str, detail: str, problems: list[dict[str, str]] | None = None
) -> JSONResponse:
    body = {"Type": f"https://api.payex.com/problems/{title.lower().replace(' ', '-')}", "Title": title,
            "Status": status, "Instance": None, "Detail": detail, "Problems": problems or []}  # fmt: skip
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def add_routes(
    app: FastAPI, data: Callable[[], dict[str, Any]], apply_fault: Callable[[str], Awaitable[Any]]
) -> None:
    """Mount the API on `app`; `data()` returns the sandbox's state dict (accounts kept in it)."""

    def accounts() -> dict[str, Any]:
        state = data()
        if "payex" not in state:
            state["payex"] = seed()
        return state["payex"]

    async def guard(
        request: Request, ledger: str, account_no: str
    ) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        await apply_fault("payex")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return None, _problem(401, "Unauthorized", "token expired or invalid")
        if ledger != LEDGER:
            return None, _problem(501, "Not Configured", f"ledger {ledger} is not configured for this seller")
        account = accounts().get(account_no)
        if account is None:
            return None, _problem(404, "Not Found", f"no account {account_no}")
        return account, None

    def page(request: Request, items: list[Any], status: int = 200) -> JSONResponse:
        top = int(request.query_params.get("$top", "20"))
        skip = int(request.query_params.get("$skip", "0"))
        view: dict[str, Any] = {"@id": str(request.url.path)}
        if skip + top < len(items):
            extra = "".join(
                f"&{k}={v}" for k, v in request.query_params.items() if k not in ("$top", "$skip")
            )
            view["next"] = f"{request.url.path}?$top={top}&$skip={skip + top}{extra}"
        return DecimalJSONResponse({"items": items[skip : skip + top], "view": view}, status_code=status)

    @app.get(ROOT + "/{account_no}")
    async def get_account(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        return problem or DecimalJSONResponse(account["account"])

    @app.patch(ROOT + "/{account_no}")
    async def patch_account(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        if problem:
            return problem
        body = json.loads(await request.body(), parse_float=Decimal)
        current = account["account"]
        if "creditLimit" in body and Decimal(str(body["creditLimit"])) > current["creditLimit"]:
            return _problem(400, "Validation", "invalid value", [{"creditLimit": "may only be lowered"}])
        if "creditLimit" in body:
            current["creditLimit"] = Decimal(str(body["creditLimit"]))
        if "charityDonation" in body:
            current["charityDonation"] = bool(body["charityDonation"])
        return DecimalJSONResponse(current)

    @app.get(ROOT + "/{account_no}/bills")
    async def bills(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        return problem or page(request, account["bills"])

    @app.get(ROOT + "/{account_no}/bills/{bill_id}")
    async def bill(request: Request, ledger: str, account_no: str, bill_id: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        if problem:
            return problem
        found = next((b for b in account["bills"] if b["billNo"] == bill_id), None)
        return DecimalJSONResponse(found) if found else _problem(404, "Not Found", f"no bill {bill_id}")

    @app.get(ROOT + "/{account_no}/transactions")
    async def transactions(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        if problem:
            return problem
        since = request.query_params.get("fromDate")
        try:
            day = date.fromisoformat(since or "")
        except ValueError:
            return _problem(
                400, "Validation", "argument required", [{"fromDate": "a date YYYY-MM-DD is required"}]
            )
        return page(request, [t for t in account["transactions"] if date.fromisoformat(t["date"]) >= day])

    @app.get(ROOT + "/{account_no}/reservations")
    async def reservations(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        return problem or page(request, account["reservations"], status=201)  # as the documentation shows

    @app.get(ROOT + "/{account_no}/cards")
    async def cards(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        return problem or page(request, account["cards"])

    @app.get(ROOT + "/{account_no}/cards/{card_id}")
    async def card(request: Request, ledger: str, account_no: str, card_id: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        if problem:
            return problem
        found = next((c for c in account["cards"] if c["id"] == card_id), None)
        return found or _problem(404, "Not Found", f"no card {card_id}")

    @app.post(ROOT + "/{account_no}/cards", status_code=201)
    async def add_card(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        if problem:
            return problem
        body = await request.json()
        if not body.get("token"):
            return _problem(400, "Validation", "argument required", [{"token": "is required"}])
        if body["token"] == "declined":  # noqa: S105 (a sandbox card token that is always declined)
            return _problem(422, "Declined", "the card was declined")
        if any(c["token"] == body["token"] for c in account["cards"]):
            return _problem(409, "Conflict", "the card is already added")
        new = {
            "id": f"card-{len(account['cards'])}-{account_no}",
            "token": body["token"],
            "panTrunc": body.get("panTrunc"),
            "mainCard": False,
        }
        account["cards"].append(new)
        return JSONResponse(new, status_code=201)

    @app.get(ROOT + "/{account_no}/recurring-payment-setting")
    async def recurring(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        return problem or account["recurring"]

    @app.patch(ROOT + "/{account_no}/recurring-payment-setting")
    async def patch_recurring(request: Request, ledger: str, account_no: str) -> Any:
        account, problem = await guard(request, ledger, account_no)
        if problem:
            return problem
        body = json.loads(await request.body(), parse_float=Decimal)
        scope = body.get("recurringPaymentScope", account["recurring"]["recurringPaymentScope"])
        if scope not in ("fixedRecurring", "totalDebt", "billedAmount"):
            return _problem(
                400, "Validation", "invalid value", [{"recurringPaymentScope": f"{scope!r} is not a scope"}]
            )
        account["recurring"] = copy.deepcopy(account["recurring"]) | body
        return DecimalJSONResponse(account["recurring"])
