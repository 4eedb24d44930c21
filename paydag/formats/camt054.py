"""camt.054 (debit/credit notification), versions .001.02, .04 and .08: one row per transaction.

Streamed: entries are read as they end and freed, so a file of 100 000 transactions needs no more
memory than one entry. Every `TxDtls` of an entry is a row (a bankgiro deposit is one entry with many
transactions); an entry without details is one row with the entry's own values.

Lenient with what banks send (missing optional elements, unknown codes, odd casing, the elements of
another version); strict on what is used downstream: amount, currency, credit/debit indicator.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO

from lxml import etree

from paydag.formats.xml import FormatError, iter_elements, local, namespace, ns_path
from paydag.money import InvalidAmount, to_minor

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054.001."


@dataclass(frozen=True, slots=True)
class Camt054Transaction:
    entry: int  # 1-based position of the entry in the file
    transaction: int  # 1-based position of the transaction in its entry
    account: str | None  # the notification's account (IBAN or other id)
    credit_debit: str  # CRDT or DBIT
    reversal: bool
    status: str | None  # BOOK, PDNG, INFO
    booking_date: str | None
    value_date: str | None
    amount_minor: int
    currency: str
    bank_transaction_code: str | None  # PMNT/ICDT/DMCT
    entry_acct_svcr_ref: str | None
    acct_svcr_ref: str | None
    msg_id: str | None
    pmt_inf_id: str | None
    instr_id: str | None
    end_to_end_id: str | None
    uetr: str | None
    batch_msg_id: str | None
    batch_pmt_inf_id: str | None
    batch_nb_of_txs: int | None
    ocr: str | None  # structured creditor reference (RmtInf/Strd/CdtrRefInf/Ref)
    free_text: str | None  # Ustrd, AddtlTxInf
    payer_name: str | None
    payer_account: str | None
    creditor_name: str | None
    creditor_account: str | None  # for an incoming payment: our receiving bankgiro or account
    return_reason: str | None


@dataclass(frozen=True)
class Camt054Header:
    version: str
    msg_id: str | None
    created: str | None


class _Paths:
    """Exact-namespace paths (fast in lxml) for the version at hand, with the other versions' forms
    as fallbacks: real files mix them."""

    def __init__(self, ns: str) -> None:
        p = lambda path: ns_path(ns, path)  # noqa: E731
        self.ntry_amt = p("Amt")
        self.cdt_dbt = p("CdtDbtInd")
        self.rvsl = p("RvslInd")
        self.sts = p("Sts")
        self.sts_cd = p("Sts/Cd")
        self.bookg = p("BookgDt/Dt")
        self.bookg_dttm = p("BookgDt/DtTm")
        self.valdt = p("ValDt/Dt")
        self.valdt_dttm = p("ValDt/DtTm")
        self.acct_svcr_ref = p("AcctSvcrRef")
        self.domn = p("BkTxCd/Domn/Cd")
        self.fmly = p("BkTxCd/Domn/Fmly/Cd")
        self.sub_fmly = p("BkTxCd/Domn/Fmly/SubFmlyCd")
        self.prtry_btc = p("BkTxCd/Prtry/Cd")
        self.ntry_dtls = p("NtryDtls")
        self.btch = p("Btch")
        self.tx_dtls = p("TxDtls")
        self.btch_msg = p("MsgId")
        self.btch_pmt = p("PmtInfId")
        self.btch_nb = p("NbOfTxs")
        self.tx_amt = p("Amt")
        self.tx_amt_v02 = p("AmtDtls/TxAmt/Amt")
        self.refs = {
            k: p(f"Refs/{k}") for k in ("MsgId", "PmtInfId", "InstrId", "EndToEndId", "AcctSvcrRef", "UETR")
        }
        self.ocr = p("RmtInf/Strd/CdtrRefInf/Ref")
        self.ustrd = p("RmtInf/Ustrd")
        self.addtl_tx = p("AddtlTxInf")
        self.addtl_ntry = p("AddtlNtryInf")
        self.dbtr_nm = p("RltdPties/Dbtr/Nm")
        self.dbtr_nm_v08 = p("RltdPties/Dbtr/Pty/Nm")
        self.dbtr_iban = p("RltdPties/DbtrAcct/Id/IBAN")
        self.dbtr_othr = p("RltdPties/DbtrAcct/Id/Othr/Id")
        self.cdtr_nm = p("RltdPties/Cdtr/Nm")
        self.cdtr_nm_v08 = p("RltdPties/Cdtr/Pty/Nm")
        self.cdtr_iban = p("RltdPties/CdtrAcct/Id/IBAN")
        self.cdtr_othr = p("RltdPties/CdtrAcct/Id/Othr/Id")
        self.rtr_cd = p("RtrInf/Rsn/Cd")
        self.rtr_prtry = p("RtrInf/Rsn/Prtry")
        self.acct_iban = p("Id/IBAN")
        self.acct_othr = p("Id/Othr/Id")
        self.grp_msg = p("MsgId")
        self.grp_cre = p("CreDtTm")


def _t(el: etree._Element, path: str) -> str | None:
    value = el.findtext(path)
    if value is None:
        return None
    value = value.strip()
    return value or None


def iter_camt054(source: IO[bytes], name: str = "camt.054") -> Iterator[Camt054Header | Camt054Transaction]:
    """The header, then every transaction, as the file is read."""
    tags = ("{*}GrpHdr", "{*}Acct", "{*}Ntry")
    paths: _Paths | None = None
    account: str | None = None
    entry_no = 0
    seen_root = False
    for element in iter_elements(source, tags, name):
        if not seen_root:
            root = element.getroottree().getroot()
            ns = namespace(root.tag)
            if local(root.tag) != "Document" or not ns.startswith(NAMESPACE_PREFIX):
                raise FormatError(f"{name}: root {root.tag} is not a camt.054 Document")
            paths = _Paths(ns)
            seen_root = True
        assert paths is not None
        kind = local(element.tag)
        parent = local(element.getparent().tag) if element.getparent() is not None else ""
        if kind == "GrpHdr" and parent == "BkToCstmrDbtCdtNtfctn":
            yield Camt054Header(
                version=ns.removeprefix(NAMESPACE_PREFIX),
                msg_id=_t(element, paths.grp_msg),
                created=_t(element, paths.grp_cre),
            )
        elif kind == "Acct" and parent == "Ntfctn":
            account = _t(element, paths.acct_iban) or _t(element, paths.acct_othr)
        elif kind == "Ntry":
            entry_no += 1
            yield from _entry(element, entry_no, account, paths, name)


def _entry(
    ntry: etree._Element, number: int, account: str | None, p: _Paths, name: str
) -> Iterator[Camt054Transaction]:
    where = f"{name}: Ntry #{number}"
    entry_amount = ntry.find(p.ntry_amt)
    entry_cd = (_t(ntry, p.cdt_dbt) or "").upper()
    if entry_cd not in ("CRDT", "DBIT"):
        raise FormatError(f"{where}: CdtDbtInd {entry_cd or 'missing'!r} is neither CRDT nor DBIT")
    sts = ntry.find(p.sts)
    status = (
        _t(ntry, p.sts_cd)
        if sts is not None and len(sts)
        else (sts.text.strip() if sts is not None and sts.text else None)
    )
    domain = _t(ntry, p.domn)
    btc = (
        "/".join(filter(None, [domain, _t(ntry, p.fmly), _t(ntry, p.sub_fmly)]))
        if domain
        else _t(ntry, p.prtry_btc)
    )
    common = {
        "account": account,
        "reversal": (_t(ntry, p.rvsl) or "").lower() == "true",
        "status": status.upper() if status else None,
        "booking_date": _t(ntry, p.bookg) or (_t(ntry, p.bookg_dttm) or "")[:10] or None,
        "value_date": _t(ntry, p.valdt) or (_t(ntry, p.valdt_dttm) or "")[:10] or None,
        "bank_transaction_code": btc,
        "entry_acct_svcr_ref": _t(ntry, p.acct_svcr_ref),
    }
    details = ntry.findall(f"{p.ntry_dtls}")
    batch_msg = batch_pmt = None
    batch_nb: int | None = None
    transactions: list[etree._Element] = []
    for d in details:
        btch = d.find(p.btch)
        if btch is not None:
            batch_msg, batch_pmt = _t(btch, p.btch_msg), _t(btch, p.btch_pmt)
            nb = _t(btch, p.btch_nb)
            batch_nb = int(nb) if nb and nb.isdigit() else None
        transactions.extend(d.findall(p.tx_dtls))
    entry_text = _t(ntry, p.addtl_ntry)

    if not transactions:
        amount, currency = _money(entry_amount, f"{where}/Amt")
        yield Camt054Transaction(
            entry=number, transaction=1, credit_debit=entry_cd, amount_minor=amount, currency=currency,
            acct_svcr_ref=None, msg_id=batch_msg, pmt_inf_id=batch_pmt, instr_id=None, end_to_end_id=None,
            uetr=None, batch_msg_id=batch_msg, batch_pmt_inf_id=batch_pmt, batch_nb_of_txs=batch_nb, ocr=None,
            free_text=entry_text, payer_name=None, payer_account=None, creditor_name=None, creditor_account=None,
            return_reason=None, **common,
        )  # fmt: skip
        return

    single = len(transactions) == 1
    for index, tx in enumerate(transactions, start=1):
        amount_el = tx.find(p.tx_amt)
        if amount_el is None:
            amount_el = tx.find(p.tx_amt_v02)
        if amount_el is None and single:
            amount_el = entry_amount  # one transaction: the entry's amount is its amount
        amount, currency = _money(amount_el, f"{where} TxDtls #{index} Amt")
        cd = (_t(tx, p.cdt_dbt) or entry_cd).upper()
        texts = [t.text.strip() for t in tx.findall(p.ustrd) if t.text and t.text.strip()]
        addtl = _t(tx, p.addtl_tx)
        if addtl:
            texts.append(addtl)
        if not texts and single and entry_text:
            texts.append(entry_text)
        refs = p.refs
        yield Camt054Transaction(
            entry=number, transaction=index, credit_debit=cd, amount_minor=amount, currency=currency,
            acct_svcr_ref=_t(tx, refs["AcctSvcrRef"]), msg_id=_t(tx, refs["MsgId"]) or batch_msg,
            pmt_inf_id=_t(tx, refs["PmtInfId"]) or batch_pmt, instr_id=_t(tx, refs["InstrId"]),
            end_to_end_id=_t(tx, refs["EndToEndId"]), uetr=_t(tx, refs["UETR"]),
            batch_msg_id=batch_msg, batch_pmt_inf_id=batch_pmt, batch_nb_of_txs=batch_nb,
            ocr=_t(tx, p.ocr), free_text=" ".join(texts) or None,
            payer_name=_t(tx, p.dbtr_nm) or _t(tx, p.dbtr_nm_v08),
            payer_account=_t(tx, p.dbtr_iban) or _t(tx, p.dbtr_othr),
            creditor_name=_t(tx, p.cdtr_nm) or _t(tx, p.cdtr_nm_v08),
            creditor_account=_t(tx, p.cdtr_iban) or _t(tx, p.cdtr_othr),
            return_reason=_t(tx, p.rtr_cd) or _t(tx, p.rtr_prtry), **common,
        )  # fmt: skip


def _money(el: etree._Element | None, where: str) -> tuple[int, str]:
    if el is None or not (el.text or "").strip():
        raise FormatError(f"{where}: the amount is missing")
    currency = (el.get("Ccy") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise FormatError(f"{where}: currency {currency or 'missing'!r} is not a currency code")
    try:
        return to_minor(Decimal(el.text.strip()), currency), currency
    except (InvalidOperation, InvalidAmount):
        raise FormatError(f"{where}: {el.text.strip()!r} is not an amount in {currency}") from None


@dataclass(frozen=True)
class Camt054Report:
    header: Camt054Header
    transactions: list[Camt054Transaction]

    @property
    def credit(self) -> list[Camt054Transaction]:
        return [t for t in self.transactions if t.credit_debit == "CRDT"]

    @property
    def debit(self) -> list[Camt054Transaction]:
        return [t for t in self.transactions if t.credit_debit == "DBIT"]


def parse_camt054(data: bytes | IO[bytes], name: str = "camt.054") -> Camt054Report:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    header: Camt054Header | None = None
    transactions: list[Camt054Transaction] = []
    for item in iter_camt054(source, name):
        if isinstance(item, Camt054Header):
            header = item
        else:
            transactions.append(item)
    if header is None:
        raise FormatError(f"{name}: no BkToCstmrDbtCdtNtfctn/GrpHdr: not a camt.054")
    return Camt054Report(header=header, transactions=transactions)
