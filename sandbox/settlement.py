"""Swedbank Pay Transaction List XML v2, written from captures and reversals: what the sandbox
delivers as a settlement report, and what the settlement benchmark parses. The summary and the
header are computed from the rows, so a report written here adds up.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

NAMESPACE = "http://www.payex.com/xml/SalesAccountedTransactions%5B2.0%5D.xsd"
SERVICE_TYPES = {
    "Consumer Credit Card EU": "Creditcard",
    "Consumer Debit Card EU": "Creditcard",
    "Swish": "Direct debit",
    "Faktura SE": "Factoring",
}


@dataclass(frozen=True)
class Capture:
    """A settled transaction as the payments API knows it: amounts in minor units, the type gives the sign."""

    transaction_no: str
    order_id: str
    type: str  # Capture, Sale or Reversal
    amount_minor: int  # always positive
    vat_minor: int | None
    service: str
    created: datetime
    referenced_transaction: str | None = None

    @property
    def signed_minor(self) -> int:
        return -self.amount_minor if self.type == "Reversal" else self.amount_minor


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def write_transaction_list(
    path: Path, captures: Iterable[Capture], *, accounting_no: str, accounting_date: str, settled: str
) -> int:
    """Write a v2 transaction list (SEK) of `captures` to `path`; the number of rows."""
    per_service: dict[str, list] = {}  # service → [debits, credits, sum, first day, last day]
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as body:
        for c in captures:
            stats = per_service.setdefault(c.service, [0, 0, 0, None, None])
            stats[1 if c.signed_minor < 0 else 0] += 1
            stats[2] += c.signed_minor
            day = settled[:10]
            stats[3] = min(stats[3] or day, day)
            stats[4] = max(stats[4] or day, day)
            vat = (
                f' VATAmount="{_money(c.vat_minor)}"'
                if c.vat_minor is not None and c.signed_minor >= 0
                else ""
            )
            ref = (
                f' ReferencedTransaction="{escape(c.referenced_transaction)}"'
                if c.referenced_transaction
                else ""
            )
            body.write(
                f'<Transaction TransactionIdentity="{c.transaction_no:0>32}" Amount="{_money(c.signed_minor)}" Currency="SEK"{vat} '
                f'DateCreated="{c.created:%Y-%m-%d %H:%M:%S}" DateModified="{settled}" ServiceName="{escape(c.service)}" '
                f'Provider="Swedbank Pay" PayexTransactionNo="{c.transaction_no}" PayexBatchNo="{accounting_no[1:5]}"{ref} '
                f'OrderIdentity="{escape(c.order_id)}" SalesChannel="Transaction via Web" PayExAccountNo="12345" />\n'
            )
            count += 1
        total = sum(s[2] for s in per_service.values())
        with path.open("w", encoding="utf-8") as out:
            out.write(
                f'<?xml version="1.0" encoding="utf-8"?>\n<SalesAccountedTransactions ContractingParty="PayEx Sverige AB" '
                f'AccountingNo="{escape(accounting_no)}" TotalNoOfTransactions="{count}" AccountingDate="{accounting_date}" '
                f'Version="2.0" xmlns="{NAMESPACE}">\n<Summary Subsite=""><Currency Currency="SEK">'
            )
            for service_type in dict.fromkeys(SERVICE_TYPES.get(s, "Creditcard") for s in per_service):
                out.write(f'<ServiceType ServiceType="{service_type}">')
                for service, (debits, credits, amount, first, last) in per_service.items():
                    if SERVICE_TYPES.get(service, "Creditcard") == service_type:
                        out.write(
                            f'<Service ServiceName="{escape(service)}" NoOfDebit="{debits}" NoOfCredit="{credits}" '
                            f'Amount="{_money(amount)}" FromDate="{first}" ToDate="{last}" />'
                        )
                out.write("</ServiceType>")
            out.write(f'</Currency></Summary>\n<Currency Sum="{_money(total)}" Currency="SEK">\n')
            body.seek(0)
            for line in body:
                out.write(line)
            out.write("</Currency></SalesAccountedTransactions>\n")
    return count
