"""PayEx Credit Account API (`ledger/credit-account/v1/{ledger}/accounts/{accountNo}`): accounts, bills,
transactions, reservations, cards and the recurring-payment setting.

Everything about this API lives here: paging through `view.next` (guarded against loops), problems
(`application/problem+json`, keys in any case) as typed errors, retries only where another attempt can
help (429, 5xx but 501, transport errors), amounts as Decimal (JSON parsed with `parse_float=Decimal`),
currency codes upper-cased (the API writes `"sek"`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from paydag.providers.errors import PayExProblem
from paydag.providers.http import ProviderClient

log = logging.getLogger("paydag.payex")

MAX_PAGES = 10_000


def _problem(response: httpx.Response, path: str) -> PayExProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    lowered = {str(k).lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
    problems: list[tuple[str, str]] = []
    for item in lowered.get("problems") or []:
        if isinstance(item, dict):
            problems.extend((str(k), str(v)) for k, v in item.items())
    return PayExProblem(
        status=int(lowered.get("status") or response.status_code),
        title=str(lowered.get("title") or response.reason_phrase),
        detail=lowered.get("detail"),
        problems=problems,
        path=path,
    )


def _normalise(value: Any) -> Any:
    """Upper-case currency codes and title-case bill types, wherever they are."""
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        out = {k: _normalise(v) for k, v in value.items()}
        if isinstance(out.get("currency"), str):
            out["currency"] = out["currency"].upper()
        if isinstance(out.get("billType"), str):
            out["billType"] = out["billType"][:1].upper() + out["billType"][1:]
        return out
    return value


class CreditAccountClient(ProviderClient):
    """The PayEx credit-account API of one ledger, with a bearer token."""

    log = log

    def __init__(self, base_url: str, ledger: str, token: str, **options: Any) -> None:
        super().__init__(
            base_url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, **options
        )
        self._root = f"/ledger/credit-account/v1/{ledger}/accounts"

    def __repr__(self) -> str:
        return "CreditAccountClient(token=***)"

    # -- transport --

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.is_error:
            raise _problem(response, path)
        if not response.content:
            return None
        return _normalise(json.loads(response.content, parse_float=Decimal))

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list, following `view.next` until there is none; a link seen twice stops it."""
        seen: set[str] = set()
        url: str | None = path
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise PayExProblem(508, "Paging loop", f"view.next returned to {url}", [], path)
            seen.add(url)
            body = self._call("GET", url, params=params if url == path else None) or {}
            yield from body.get("items", [])
            url = (body.get("view") or {}).get("next")

    # -- resources --

    def account(self, account_no: str) -> dict[str, Any]:
        return self._call("GET", f"{self._root}/{account_no}")

    def bills(self, account_no: str, *, top: int | None = None) -> list[dict[str, Any]]:
        params = {"$top": top} if top else None
        return list(self._pages(f"{self._root}/{account_no}/bills", params))

    def bill(self, account_no: str, bill_id: str) -> dict[str, Any]:
        return self._call("GET", f"{self._root}/{account_no}/bills/{bill_id}")

    def transactions(
        self, account_no: str, *, from_date: date, top: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"fromDate": from_date.isoformat()}
        if top:
            params["$top"] = top
        return list(self._pages(f"{self._root}/{account_no}/transactions", params))

    def reservations(self, account_no: str) -> list[dict[str, Any]]:
        # The documentation shows 201 for this GET: any 2xx is an answer.
        return list(self._pages(f"{self._root}/{account_no}/reservations"))

    def cards(self, account_no: str) -> list[dict[str, Any]]:
        return list(self._pages(f"{self._root}/{account_no}/cards"))

    def card(self, account_no: str, card_id: str) -> dict[str, Any]:
        return self._call("GET", f"{self._root}/{account_no}/cards/{card_id}")

    def add_card(self, account_no: str, card: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"{self._root}/{account_no}/cards", json=card)

    def recurring_payment_setting(self, account_no: str) -> dict[str, Any]:
        try:
            return self._call("GET", f"{self._root}/{account_no}/recurring-payment-setting")
        except PayExProblem as exc:
            if exc.status != 404:
                raise
            # Renamed from recurring-payment-consent in 2020; older installations still answer there.
            return self._call("GET", f"{self._root}/{account_no}/recurring-payment-consent")

    def update_recurring_payment_setting(self, account_no: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            "PATCH", f"{self._root}/{account_no}/recurring-payment-setting", content=_json_body(changes),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip

    def update_account(
        self, account_no: str, *, credit_limit: Decimal | None = None, charity_donation: bool | None = None
    ) -> dict[str, Any]:
        """Partial update. The credit limit may only be lowered: a higher one is refused before any call."""
        changes: dict[str, Any] = {}
        if credit_limit is not None:
            current = Decimal(str(self.account(account_no)["creditLimit"]))
            if credit_limit > current:
                raise ValueError(
                    f"credit limit may only be lowered ({credit_limit} > {current}); apply for a raise instead"
                )
            changes["creditLimit"] = credit_limit
        if charity_donation is not None:
            changes["charityDonation"] = charity_donation
        if not changes:
            raise ValueError("nothing to update")
        return self._call(
            "PATCH",
            f"{self._root}/{account_no}",
            content=_json_body(changes),
            headers={"Content-Type": "application/json"},
        )


def _json_body(changes: dict[str, Any]) -> bytes:
    """JSON with Decimal amounts written as exact JSON numbers (json would need a float for that)."""
    marked = json.dumps(changes, default=lambda v: f"__decimal__{v}" if isinstance(v, Decimal) else str(v))
    return re.sub(r'"__decimal__(-?[0-9.]+)"', r"\1", marked).encode()
