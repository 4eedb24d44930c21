"""camt.054's lxml reader (and the rows both readers give): versions .001.02, .04 and .08, one row
per transaction.

Streamed: entries are read as they end and freed, so a file of 100 000 transactions needs no more
memory than one entry. Every `TxDtls` of an entry is a row (a bankgiro deposit is one entry with many
transactions); an entry without details is one row with the entry's own values.

Lenient with what banks send (missing optional elements, unknown codes, odd casing, the elements of
another version); strict on what is used downstream: amount, currency, credit/debit indicator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO

from lxml import etree

from paydag.formats.xml import FormatError, iter_elements, local, namespace, ns_path
from paydag.money import InvalidAmount, minor_units, to_minor

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054.001."
VERSION = re.compile(r"camt\.054\.001\.(\d{2})")


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
    entry_amount_minor: int | None = None  # the entry's own amount, beside every row of it
    amount_source: str = (
        "transaction"  # transaction; entry (its only TxDtls has none); entry total (see below)
    )
    references: tuple[str, ...] = ()  # every Strd/CdtrRefInf/Ref, trimmed, as TYPE:REF (SCOR:1234…, QRR:…)
    warning: str | None = None  # what was odd about this row, e.g. an amount 0 beside a non-zero entry


# `amount_source` "entry total": an entry with several TxDtls and no amount on any of them. Every row
# carries the entry's total, marked so; no amount is invented for one transaction.


@dataclass(frozen=True)
class Camt054Header:
    version: str
    msg_id: str | None
    created: str | None


class EntryPaths:
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
        self.addtl_ntry = p("AddtlNtryInf")
        self.acct_iban = p("Id/IBAN")
        self.acct_othr = p("Id/Othr/Id")
        self.grp_msg = p("MsgId")
        self.grp_cre = p("CreDtTm")
        self.bal_dt = p("Dt/Dt")  # a balance's date (camt.053)
        self.bal_dttm = p("Dt/DtTm")
        self.own_id = p("Id")
        q = lambda name: f"{{{ns}}}{name}" if ns else name  # noqa: E731
        self.REFS, self.AMT, self.CDTDBT, self.AMTDTLS = q("Refs"), q("Amt"), q("CdtDbtInd"), q("AmtDtls")
        self.TXAMT, self.RLTDPTIES, self.RMTINF, self.RTRINF = (
            q("TxAmt"),
            q("RltdPties"),
            q("RmtInf"),
            q("RtrInf"),
        )
        self.ADDTLTXINF, self.USTRD, self.STRD, self.CDTRREFINF = (
            q("AddtlTxInf"),
            q("Ustrd"),
            q("Strd"),
            q("CdtrRefInf"),
        )
        self.REF, self.DBTR, self.DBTRACCT, self.CDTR, self.CDTRACCT = (
            q("Ref"),
            q("Dbtr"),
            q("DbtrAcct"),
            q("Cdtr"),
            q("CdtrAcct"),
        )
        self.NM, self.PTY, self.ID, self.IBAN, self.OTHR = q("Nm"), q("Pty"), q("Id"), q("IBAN"), q("Othr")
        self.RSN, self.CD, self.PRTRY = q("Rsn"), q("Cd"), q("Prtry")
        self.TP, self.CDORPRTRY = q("Tp"), q("CdOrPrtry")
        self.REF_FIELDS = {
            q("MsgId"): "msg_id",
            q("AcctSvcrRef"): "acct_svcr_ref",
            q("PmtInfId"): "pmt_inf_id",
            q("InstrId"): "instr_id",
            q("EndToEndId"): "end_to_end_id",
            q("UETR"): "uetr",
        }


def text_at(el: etree._Element, path: str) -> str | None:
    value = el.findtext(path)
    if value is None:
        return None
    value = value.strip()
    return value or None


def iter_camt054(source: IO[bytes], name: str = "camt.054") -> Iterator[Camt054Header | Camt054Transaction]:
    """The header, then every transaction, as the file is read."""
    tags = ("{*}GrpHdr", "{*}Acct", "{*}Ntry")
    paths: EntryPaths | None = None
    account: str | None = None
    entry_no = 0
    seen_root = False
    for element in iter_elements(source, tags, name):
        if not seen_root:
            root = element.getroottree().getroot()
            ns = namespace(root.tag)  # ISO's, a bank's variant, a wrong one or none: the element names decide
            if local(root.tag) != "Document":
                raise FormatError(f"{name}: root {root.tag} is not a camt.054 Document")
            found = VERSION.search(ns)
            version = found.group(1) if found else "unknown"
            paths = EntryPaths(ns)
            seen_root = True
        assert paths is not None
        kind = local(element.tag)
        parent = local(element.getparent().tag) if element.getparent() is not None else ""
        if kind == "GrpHdr" and parent == "BkToCstmrDbtCdtNtfctn":
            yield Camt054Header(
                version=version,
                msg_id=text_at(element, paths.grp_msg),
                created=text_at(element, paths.grp_cre),
            )
        elif kind == "Acct" and parent == "Ntfctn":
            account = text_at(element, paths.acct_iban) or text_at(element, paths.acct_othr)
        elif kind == "Ntry":
            entry_no += 1
            yield from read_entry(element, entry_no, account, paths, name)


def read_entry(
    ntry: etree._Element, number: int, account: str | None, p: EntryPaths, name: str
) -> Iterator[Camt054Transaction]:
    where = f"{name}: Ntry #{number}"
    entry_amount = ntry.find(p.ntry_amt)
    entry_cd = (text_at(ntry, p.cdt_dbt) or "").upper()
    if entry_cd not in ("CRDT", "DBIT"):
        raise FormatError(f"{where}: CdtDbtInd {entry_cd or 'missing'!r} is neither CRDT nor DBIT")
    sts = ntry.find(p.sts)
    status = (
        text_at(ntry, p.sts_cd)
        if sts is not None and len(sts)
        else (sts.text.strip() if sts is not None and sts.text else None)
    )
    domain = text_at(ntry, p.domn)
    btc = (
        "/".join(filter(None, [domain, text_at(ntry, p.fmly), text_at(ntry, p.sub_fmly)]))
        if domain
        else text_at(ntry, p.prtry_btc)
    )
    common = {
        "account": account,
        "reversal": (text_at(ntry, p.rvsl) or "").lower() == "true",
        "status": status.upper() if status else None,
        "booking_date": text_at(ntry, p.bookg) or (text_at(ntry, p.bookg_dttm) or "")[:10] or None,
        "value_date": text_at(ntry, p.valdt) or (text_at(ntry, p.valdt_dttm) or "")[:10] or None,
        "bank_transaction_code": btc,
        "entry_acct_svcr_ref": text_at(ntry, p.acct_svcr_ref),
    }
    details = ntry.findall(f"{p.ntry_dtls}")
    batch_msg = batch_pmt = None
    batch_nb: int | None = None
    transactions: list[etree._Element] = []
    for d in details:
        btch = d.find(p.btch)
        if btch is not None:
            batch_msg, batch_pmt = text_at(btch, p.btch_msg), text_at(btch, p.btch_pmt)
            nb = text_at(btch, p.btch_nb)
            batch_nb = int(nb) if nb and nb.isdigit() else None
        transactions.extend(d.findall(p.tx_dtls))
    entry_text = text_at(ntry, p.addtl_ntry)

    entry_minor, entry_currency = (
        read_money(entry_amount, f"{where}/Amt") if entry_amount is not None else (None, None)
    )
    if not transactions:
        amount, currency = read_money(entry_amount, f"{where}/Amt")
        yield Camt054Transaction(
            entry=number, transaction=1, credit_debit=entry_cd, amount_minor=amount, currency=currency,
            acct_svcr_ref=None, msg_id=batch_msg, pmt_inf_id=batch_pmt, instr_id=None, end_to_end_id=None,
            uetr=None, batch_msg_id=batch_msg, batch_pmt_inf_id=batch_pmt, batch_nb_of_txs=batch_nb, ocr=None,
            free_text=entry_text, payer_name=None, payer_account=None, creditor_name=None, creditor_account=None,
            return_reason=None, entry_amount_minor=amount, amount_source="entry", **common,
        )  # fmt: skip
        return

    read = [_read_transaction(tx, p) for tx in transactions]
    none_has_amount = all(f["amount_el"] is None for f in read)
    for index, fields in enumerate(read, start=1):
        amount_el = fields.pop("amount_el")
        source, warning = "transaction", None
        if amount_el is None and (len(read) == 1 or none_has_amount):
            amount_el = entry_amount  # one transaction: the entry's amount is its amount; several: marked
            source = "entry" if len(read) == 1 else "entry total"
        amount, currency = read_money(amount_el, f"{where} TxDtls #{index} Amt")
        if len(read) == 1 and amount == 0 and entry_minor:
            warning = (
                f"{where} TxDtls #1: Amt 0 while the entry says {entry_minor} minor units of {entry_currency}"
            )
        fields["references"] = tuple(fields["references"])
        texts = fields.pop("texts")
        if not texts and len(read) == 1 and entry_text:
            texts.append(entry_text)
        cd = fields.pop("cd")
        fields["msg_id"] = fields["msg_id"] or batch_msg
        fields["pmt_inf_id"] = fields["pmt_inf_id"] or batch_pmt
        yield Camt054Transaction(
            entry=number, transaction=index, credit_debit=(cd or entry_cd).upper(), amount_minor=amount,
            currency=currency, batch_msg_id=batch_msg, batch_pmt_inf_id=batch_pmt, batch_nb_of_txs=batch_nb,
            free_text=" ".join(texts) or None, entry_amount_minor=entry_minor, amount_source=source,
            warning=warning, **fields, **common,
        )  # fmt: skip


def _text_of(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _account_id(acct: etree._Element, p: EntryPaths) -> str | None:
    """CashAccount/Id: the IBAN, or the other id (bankgiro, BBAN)."""
    ident = acct.find(p.ID)
    if ident is None:
        return None
    for child in ident:
        if child.tag == p.IBAN:
            return _text_of(child)
        if child.tag == p.OTHR:
            return _text_of(child.find(p.ID))
    return None


def _party_name(party: etree._Element, p: EntryPaths) -> str | None:
    name = party.find(p.NM)  # v02, v04
    if name is None:
        pty = party.find(p.PTY)  # v08: Dbtr/Pty/Nm
        name = pty.find(p.NM) if pty is not None else None
    return _text_of(name)


def _read_transaction(tx: etree._Element, p: EntryPaths) -> dict[str, object]:
    """One pass over a TxDtls' children: the hot loop of a 100 000-transaction file."""
    out: dict[str, object] = dict.fromkeys(
        ("acct_svcr_ref", "msg_id", "pmt_inf_id", "instr_id", "end_to_end_id", "uetr", "ocr", "payer_name",
         "payer_account", "creditor_name", "creditor_account", "return_reason", "cd", "amount_el"),
    )  # fmt: skip
    texts: list[str] = []
    references: list[str] = []
    out["texts"], out["references"] = texts, references
    for child in tx:
        tag = child.tag
        if tag == p.REFS:
            for ref in child:
                field_name = p.REF_FIELDS.get(ref.tag)
                if field_name:
                    out[field_name] = _text_of(ref)
        elif tag == p.AMT:
            out["amount_el"] = child
        elif tag == p.CDTDBT:
            out["cd"] = _text_of(child)
        elif tag == p.AMTDTLS and out["amount_el"] is None:  # v02 keeps the amount here
            tx_amt = child.find(p.TXAMT)
            if tx_amt is not None:
                out["amount_el"] = tx_amt.find(p.AMT)
        elif tag == p.RLTDPTIES:
            for party in child:
                ptag = party.tag
                if ptag == p.DBTR:
                    out["payer_name"] = _party_name(party, p)
                elif ptag == p.DBTRACCT:
                    out["payer_account"] = _account_id(party, p)
                elif ptag == p.CDTR:
                    out["creditor_name"] = _party_name(party, p)
                elif ptag == p.CDTRACCT:
                    out["creditor_account"] = _account_id(party, p)
        elif tag == p.RMTINF:
            for part in child:
                if part.tag == p.USTRD:
                    text = _text_of(part)
                    if text:
                        texts.append(text)
                elif part.tag == p.STRD:
                    for ref_info in part.iter(p.CDTRREFINF):  # every reference: a net payment names several
                        ref = _text_of(ref_info.find(p.REF))
                        if ref:
                            ref = "".join(ref.split())  # stray whitespace inside a reference
                            references.append(f"{_reference_type(ref_info, p)}:{ref}")
                            out["ocr"] = out["ocr"] or ref
        elif tag == p.RTRINF:
            reason = child.find(p.RSN)
            if reason is not None:
                out["return_reason"] = _text_of(reason.find(p.CD)) or _text_of(reason.find(p.PRTRY))
        elif tag == p.ADDTLTXINF:
            text = _text_of(child)
            if text:
                texts.append(text)
    return out


def _reference_type(ref_info: etree._Element, p: EntryPaths) -> str:
    """CdtrRefInf/Tp/CdOrPrtry: the code (SCOR), the proprietary type (OCR, QRR), or REF when none."""
    kind = ref_info.find(f"{p.TP}/{p.CDORPRTRY}")
    if kind is None:
        return "REF"
    return (_text_of(kind.find(p.CD)) or _text_of(kind.find(p.PRTRY)) or "REF").upper()


def read_money(el: etree._Element | None, where: str) -> tuple[int, str]:
    if el is None:
        raise FormatError(f"{where}: the amount is missing")
    return money_of(el.text, el.get("Ccy"), where)


def money_of(text: str | None, ccy: str | None, where: str) -> tuple[int, str]:
    """An amount and its Ccy as exact minor units and the currency code; FormatError saying where."""
    if not (text or "").strip():
        raise FormatError(f"{where}: the amount is missing")
    assert text is not None
    currency = (ccy or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise FormatError(f"{where}: currency {currency or 'missing'!r} is not a currency code")
    text = text.strip()
    whole, dot, fraction = text.partition(".")
    if dot and len(fraction) == 2 and whole.isdigit() and fraction.isdigit() and minor_units(currency) == 2:
        return int(whole + fraction), currency  # the common case, exactly, without Decimal
    try:
        return to_minor(Decimal(text), currency), currency
    except (InvalidOperation, InvalidAmount):
        raise FormatError(f"{where}: {text!r} is not an amount in {currency}") from None


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
