"""The demo day's sample data, and what the sandbox is told to do with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from paydag.samples import ocr_reference, sample_payables, write_payables_csv

BLOCKED_ACCOUNT = "123455"  # the sample plusgiro supplier: the sandbox bank refuses it (AC01)
RENT_PAYERS = 3  # tenants paying their PayEx bill by OCR into the bankgiro


@dataclass(frozen=True)
class DemoDay:
    """The sample data of one demo day. Ids carry the day: a second demo on the same day is the same
    batch (not sent again) and the same captures (not settled again)."""

    today: date
    provider_company_id: str

    @property
    def first_day(self) -> date:
        return self.today + timedelta(days=1)

    @property
    def accounting_no(self) -> str:
        return f"DEMO-{self.today:%Y%m%d}"

    @property
    def payment_prefix(self) -> str:
        return f"DEMO{self.today:%Y%m%d}-"

    def payables(self, directory: Path) -> Path:
        rows = sample_payables(12, company="demo", first_day=self.first_day, id_prefix=self.payment_prefix)
        return write_payables_csv(rows, directory / f"payables-{self.today}.csv")

    def bank_rules(self) -> dict[str, Any]:
        invoices = [
            {
                "company_id": self.provider_company_id,
                "ocr": ocr_reference(4711000 + n),
                "amount": f"{8450 + 125 * n}.00",
                "payer_name": f"Hyresgäst {n + 1}",
                "paid_on": self.first_day.isoformat(),
            }
            for n in range(RENT_PAYERS)
        ]  # fmt: skip  (the PayEx sandbox's open bills carry these OCRs and amounts)
        return {"blocked_accounts": [BLOCKED_ACCOUNT], "invoices": invoices}

    def captures(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Card and Swish captures (and a reversal) that Swedbank Pay settles today, and one made after
        the cut that only tomorrow's report will have."""
        at = f"{self.today:%Y-%m-%d} 10:00:00"
        prefix = f"{self.today:%y%m%d}"
        settled = [
            {"transaction_no": f"{prefix}{n:04d}", "order_id": f"ORD-{prefix}-{n}", "type": "Capture",
             "amount": 12500 + 1000 * n, "vat_amount": (12500 + 1000 * n) // 5, "service": ("Swish", "CreditCard")[n % 2],
             "created": at}
            for n in range(8)
        ]  # fmt: skip
        settled.append(
            {"transaction_no": f"{prefix}0100", "order_id": f"ORD-{prefix}-1", "type": "Reversal", "amount": 2000,
             "vat_amount": 400, "service": "CreditCard", "created": at, "referenced_transaction": f"{prefix}0001"}
        )  # fmt: skip
        late = [
            {"transaction_no": f"{prefix}0200", "order_id": f"ORD-{prefix}-late", "type": "Capture", "amount": 9900,
             "vat_amount": 1980, "service": "Swish", "created": f"{self.today:%Y-%m-%d} 23:59:30"}
        ]  # fmt: skip
        return settled, late

    def captures_export(self, path: Path) -> Path:
        """The payments API's captures as the back office exports them (what reconciliation reads)."""
        import csv

        settled, late = self.captures()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["number", "payeeReference", "type", "amount", "created"])
            for c in settled + late:
                created = datetime.strptime(c["created"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 (local time)
                writer.writerow(
                    [
                        c["transaction_no"],
                        c["order_id"],
                        c["type"],
                        c["amount"],
                        f"{created:%Y-%m-%dT%H:%M:%S}",
                    ]
                )
        return path


def prepare_sandbox(url: str, day: DemoDay) -> None:
    """The sandbox bank's rules and Swedbank Pay's captures for the day (the sandbox keeps each once)."""
    httpx.post(f"{url}/_sandbox/bank", json=day.bank_rules(), timeout=10).raise_for_status()
    settled, _late = day.captures()
    httpx.post(f"{url}/_sandbox/captures", json=settled, timeout=10).raise_for_status()


def close_the_day(url: str, day: DemoDay, days: int = 10) -> dict[str, Any]:
    """Move the bank clock past the execution dates (bookings, incoming rent), settle the day's
    captures into a report delivered to the company's inbox, then capture the late one."""
    httpx.post(f"{url}/_sandbox/advance", json={"seconds": days * 86400}, timeout=30).raise_for_status()
    settled = httpx.post(
        f"{url}/_sandbox/settle",
        json={"accounting_no": day.accounting_no, "deliver_to": day.provider_company_id},
        timeout=30,
    )
    settled.raise_for_status()
    _settled, late = day.captures()
    httpx.post(f"{url}/_sandbox/captures", json=late, timeout=10).raise_for_status()
    return settled.json()
