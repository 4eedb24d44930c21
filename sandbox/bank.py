"""The sandbox's simulated bank: answers uploaded pain.001 files as a Swedish bank would, on the
sandbox clock that tests and the demo move forward.

- a pain.002 per file once it arrives: the whole file rejected (DU01) when its MsgId was seen before;
  else ACCP, or PART with the payments it refuses (creditor account on the block list → AC01, amount
  over the limit → AM02);
- a camt.054 debit notification per file and execution date, once the clock reaches that date, with
  one entry per PmtInf (batch booking) and a TxDtls per accepted payment;
- a camt.054 credit notification per company and day for the configured open invoices paid that day
  (a bankgiro deposit: one entry, one TxDtls per payment, OCR as the structured reference).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from pydantic import BaseModel, Field

from sandbox.bankfiles import BankEntry, BankTransaction, PmtInfStatus, TxStatus, camt054, pain002

COMPANY_ACCOUNT = "SE6780000832791234567890"  # the demo company's account at the sandbox bank


class OpenInvoice(BaseModel):
    company_id: str
    ocr: str
    amount: Decimal
    payer_name: str
    paid_on: date
    bankgiro: str = "50501055"


class BankRules(BaseModel):
    blocked_accounts: list[str] = Field(default_factory=list)  # creditor account ids → AC01
    amount_limit: Decimal = Decimal("10000000.00")  # above it → AM02
    invoices: list[OpenInvoice] = Field(default_factory=list)


@dataclass(frozen=True)
class _Tx:
    e2e: str
    amount: Decimal
    currency: str
    account: str
    creditor: str | None


def _read_pain001(data: bytes) -> tuple[str, list[tuple[str, str, list[_Tx]]]] | None:
    """(MsgId, [(PmtInfId, execution date, transactions)]) or None when it is no pain.001."""
    try:
        root = etree.fromstring(
            data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        )
    except etree.XMLSyntaxError:
        return None

    def text(el: Any, path: str) -> str:
        found = el.find("{*}" + path.replace("/", "/{*}"))
        return found.text.strip() if found is not None and found.text else ""

    msg_id = text(root, "CstmrCdtTrfInitn/GrpHdr/MsgId")
    if not msg_id:
        return None
    infos = []
    for pmt in root.iterfind("{*}CstmrCdtTrfInitn/{*}PmtInf"):
        day = text(pmt, "ReqdExctnDt/Dt") or text(pmt, "ReqdExctnDt")
        txs = []
        for tx in pmt.iterfind("{*}CdtTrfTxInf"):
            amount = tx.find("{*}Amt/{*}InstdAmt")
            account = text(tx, "CdtrAcct/Id/IBAN") or text(tx, "CdtrAcct/Id/Othr/Id")
            txs.append(
                _Tx(
                    text(tx, "PmtId/EndToEndId"),
                    Decimal(amount.text),
                    amount.get("Ccy"),
                    account,
                    text(tx, "Cdtr/Nm") or None,
                )
            )
        infos.append((text(pmt, "PmtInfId"), day, txs))
    return msg_id, infos


def _refusal(stored: dict[str, str], rules: BankRules) -> tuple[str, str] | None:
    tx = _Tx(
        stored["e2e"], Decimal(stored["amount"]), stored["currency"], stored["account"], stored["creditor"]
    )
    if tx.account in {a.replace("-", "").replace(" ", "") for a in rules.blocked_accounts}:
        return "AC01", "Incorrect account number: the creditor account is blocked at the sandbox bank"
    if tx.amount > rules.amount_limit:
        return "AM02", f"Amount above the sandbox bank's limit of {rules.amount_limit}"
    return None


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _ref(*parts: str) -> str:
    return "SBX" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:20].upper()


def tick(data: dict[str, Any], now: float, add_document: Any) -> None:
    """Produce every bank file that is due at `now`. Idempotent: what was produced is remembered."""
    rules = BankRules(**data.get("bank_rules", {}))
    today = datetime.fromtimestamp(now, UTC).date()
    produced: set[str] = set(data.setdefault("bank_produced", []))
    seen_msg_ids: dict[str, str] = {}

    for f in data["files"]:
        parsed = f.get("_pain001")
        if parsed is None:
            continue
        msg_id, infos = parsed["msg_id"], parsed["infos"]
        company = f["sendingCompanyId"]
        first_file = seen_msg_ids.setdefault(f"{company}/{msg_id}", f["id"])
        key = f"pain002/{f['id']}"
        if key not in produced:
            produced.add(key)
            if first_file != f["id"]:
                doc = pain002(version="03", msg_id=_ref(key), created=_stamp(now), original_msg_id=msg_id,
                              group_status="RJCT", group_reason="DU01", group_text="Duplicate Message ID")  # fmt: skip
            else:
                # Explicit per transaction: PART lists what was accepted as well as what was refused.
                statuses = []
                for pmt_inf_id, _, txs in infos:
                    answers = [(tx, _refusal(tx, rules)) for tx in txs]
                    if any(r for _, r in answers):
                        statuses.append(PmtInfStatus(pmt_inf_id, "PART", transactions=tuple(
                            TxStatus(tx["e2e"], "RJCT", r[0], r[1]) if r else TxStatus(tx["e2e"], "ACCP")
                            for tx, r in answers
                        )))  # fmt: skip
                    else:
                        statuses.append(PmtInfStatus(pmt_inf_id, "ACCP"))
                f["_refused"] = sorted(
                    {tx["e2e"] for _, _, txs in infos for tx in txs if _refusal(tx, rules)}
                )
                group = "PART" if any(st.status == "PART" for st in statuses) else "ACCP"
                doc = pain002(version="03", msg_id=_ref(key), created=_stamp(now), original_msg_id=msg_id,
                              group_status=group, payment_infos=statuses)  # fmt: skip
            add_document(company, "pain.002", f"pain002-{msg_id}.xml", doc)
        if first_file != f["id"]:
            continue
        refused = set(f.get("_refused", []))
        by_day: dict[str, list[BankEntry]] = {}
        for pmt_inf_id, day, txs in infos:
            booked = [tx for tx in txs if tx["e2e"] not in refused]
            if not booked or date.fromisoformat(day) > today:
                continue
            entry = BankEntry(
                credit_debit="DBIT",
                booking_date=day,
                acct_svcr_ref=_ref(msg_id, pmt_inf_id),
                batch_msg_id=msg_id,
                batch_pmt_inf_id=pmt_inf_id,
                transactions=tuple(
                    BankTransaction(
                        Decimal(tx["amount"]),
                        tx["currency"],
                        msg_id=msg_id,
                        pmt_inf_id=pmt_inf_id,
                        end_to_end_id=tx["e2e"],
                        acct_svcr_ref=_ref(tx["e2e"]),
                        creditor_name=tx["creditor"],
                    )
                    for tx in booked
                ),
            )
            by_day.setdefault(day, []).append(entry)
        for day, entries in sorted(by_day.items()):
            for entry in entries:  # one notification per currency keeps every entry single-currency
                key = f"camt054D/{f['id']}/{day}/{entry.batch_pmt_inf_id}"
                if key in produced:
                    continue
                produced.add(key)
                doc = camt054(
                    version="02",
                    msg_id=_ref(key),
                    created=_stamp(now),
                    account_iban=COMPANY_ACCOUNT,
                    entries=[entry],
                )
                add_document(company, "camt.054", f"Camt054D-{day}-{entry.batch_pmt_inf_id}.xml", doc)

    paid: dict[tuple[str, str], list[OpenInvoice]] = {}
    for invoice in rules.invoices:
        if invoice.paid_on <= today and f"camt054C/{invoice.company_id}/{invoice.ocr}" not in produced:
            paid.setdefault((invoice.company_id, invoice.paid_on.isoformat()), []).append(invoice)
    for (company, day), invoices in sorted(paid.items()):
        for invoice in invoices:
            produced.add(f"camt054C/{company}/{invoice.ocr}")
        entry = BankEntry(
            credit_debit="CRDT",
            booking_date=day,
            acct_svcr_ref=_ref("deposit", company, day),
            family="RCDT",
            transactions=tuple(
                BankTransaction(
                    i.amount,
                    "SEK",
                    end_to_end_id="NOTPROVIDED",
                    acct_svcr_ref=_ref(i.ocr),
                    ocr=i.ocr,
                    payer_name=i.payer_name,
                    creditor_account=i.bankgiro,
                )
                for i in invoices
            ),
        )
        doc = camt054(
            version="04",
            msg_id=_ref("C", company, day),
            created=_stamp(now),
            account_iban=COMPANY_ACCOUNT,
            entries=[entry],
        )
        add_document(company, "camt.054", f"Camt054C-{day}.xml", doc)
    data["bank_produced"] = sorted(produced)


def remember_upload(record: dict[str, Any], payload: bytes) -> None:
    """Keep what the bank needs of an uploaded pain.001 in the file's record."""
    parsed = _read_pain001(payload)
    if parsed is None:
        return
    msg_id, infos = parsed
    record["_pain001"] = {
        "msg_id": msg_id,
        "infos": [
            (
                pid,
                day,
                [
                    {
                        "e2e": t.e2e,
                        "amount": str(t.amount),
                        "currency": t.currency,
                        "account": t.account,
                        "creditor": t.creditor,
                    }
                    for t in txs
                ],
            )
            for pid, day, txs in infos
        ],
    }
