"""Files a bank sends back, written as the schemas say: pain.002 (.03, .10) and camt.054 (.02, .04, .08).

The sandbox bank answers uploads with these; the tests and the parse benchmark build their instances
with them and check each against the ISO XSDs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape


def _x(value: str) -> str:
    return escape(value, quote=False)


# --- pain.002 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TxStatus:
    end_to_end_id: str
    status: str
    reason: str | None = None
    text: str | None = None
    instr_id: str | None = None


@dataclass(frozen=True)
class PmtInfStatus:
    pmt_inf_id: str
    status: str | None = None
    reason: str | None = None
    text: str | None = None
    transactions: tuple[TxStatus, ...] = ()


def _reason(code: str | None, text: str | None) -> str:
    if not code and not text:
        return ""
    rsn = f"<Rsn><Cd>{_x(code)}</Cd></Rsn>" if code else ""
    info = f"<AddtlInf>{_x(text)}</AddtlInf>" if text else ""
    return f"<StsRsnInf>{rsn}{info}</StsRsnInf>"


def pain002(
    *,
    version: str,
    msg_id: str,
    created: str,
    original_msg_id: str,
    group_status: str | None,
    group_reason: str | None = None,
    group_text: str | None = None,
    payment_infos: Iterable[PmtInfStatus] = (),
) -> bytes:
    ns = f"urn:iso:std:iso:20022:tech:xsd:pain.002.001.{version}"
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><CstmrPmtStsRpt>',
        f"<GrpHdr><MsgId>{_x(msg_id)}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>",
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{_x(original_msg_id)}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>",
        f"<GrpSts>{group_status}</GrpSts>" if group_status else "",
        _reason(group_reason, group_text),
        "</OrgnlGrpInfAndSts>",
    ]
    for info in payment_infos:
        parts.append(f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{_x(info.pmt_inf_id)}</OrgnlPmtInfId>")
        if info.status:
            parts.append(f"<PmtInfSts>{info.status}</PmtInfSts>")
        parts.append(_reason(info.reason, info.text))
        for tx in info.transactions:
            instr = f"<OrgnlInstrId>{_x(tx.instr_id)}</OrgnlInstrId>" if tx.instr_id else ""
            parts.append(
                f"<TxInfAndSts>{instr}<OrgnlEndToEndId>{_x(tx.end_to_end_id)}</OrgnlEndToEndId>"
                f"<TxSts>{tx.status}</TxSts>{_reason(tx.reason, tx.text)}</TxInfAndSts>"
            )
        parts.append("</OrgnlPmtInfAndSts>")
    parts.append("</CstmrPmtStsRpt></Document>\n")
    return "".join(parts).encode()


# --- camt.054 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankTransaction:
    amount: Decimal
    currency: str
    acct_svcr_ref: str | None = None
    msg_id: str | None = None
    pmt_inf_id: str | None = None
    instr_id: str | None = None
    end_to_end_id: str | None = None
    uetr: str | None = None
    ocr: str | None = None
    text: str | None = None
    payer_name: str | None = None
    payer_account: str | None = None  # IBAN
    creditor_name: str | None = None
    creditor_account: str | None = None  # bankgiro number
    return_reason: str | None = None


@dataclass(frozen=True)
class BankEntry:
    credit_debit: str  # CRDT / DBIT
    booking_date: str
    acct_svcr_ref: str
    transactions: tuple[BankTransaction, ...]
    family: str = "ICDT"  # RCDT for incoming credit transfers
    sub_family: str = "DMCT"
    batch_msg_id: str | None = None
    batch_pmt_inf_id: str | None = None
    reversal: bool = False
    status: str = "BOOK"
    amount: Decimal | None = field(default=None)  # default: the sum of the transactions


def _camt_tx(v: str, cd: str, t: BankTransaction) -> str:
    amount = f'<Amt Ccy="{t.currency}">{t.amount:.2f}</Amt>'
    refs = "".join(
        f"<{tag}>{_x(value)}</{tag}>"
        for tag, value in (
            ("MsgId", t.msg_id),
            ("AcctSvcrRef", t.acct_svcr_ref),
            ("PmtInfId", t.pmt_inf_id),
            ("InstrId", t.instr_id),
            ("EndToEndId", t.end_to_end_id),
            ("UETR", t.uetr if v == "08" else None),
        )
        if value
    )
    out = [f"<TxDtls><Refs>{refs}</Refs>" if refs else "<TxDtls>"]
    if v == "02":
        out.append(f"<AmtDtls><TxAmt>{amount}</TxAmt></AmtDtls>")
    else:
        out.append(f"{amount}<CdtDbtInd>{cd}</CdtDbtInd>")
    parties = []
    if t.payer_name:
        name = f"<Nm>{_x(t.payer_name)}</Nm>"
        parties.append(f"<Dbtr><Pty>{name}</Pty></Dbtr>" if v == "08" else f"<Dbtr>{name}</Dbtr>")
    if t.payer_account:
        parties.append(f"<DbtrAcct><Id><IBAN>{t.payer_account}</IBAN></Id></DbtrAcct>")
    if t.creditor_name:
        name = f"<Nm>{_x(t.creditor_name)}</Nm>"
        parties.append(f"<Cdtr><Pty>{name}</Pty></Cdtr>" if v == "08" else f"<Cdtr>{name}</Cdtr>")
    if t.creditor_account:
        parties.append(
            f"<CdtrAcct><Id><Othr><Id>{t.creditor_account}</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></CdtrAcct>"
        )
    if parties:
        out.append(f"<RltdPties>{''.join(parties)}</RltdPties>")
    if t.ocr:
        out.append(
            "<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{t.ocr}</Ref></CdtrRefInf></Strd></RmtInf>"
        )
    elif t.text:
        out.append(f"<RmtInf><Ustrd>{_x(t.text)}</Ustrd></RmtInf>")
    if t.return_reason:
        out.append(f"<RtrInf><Rsn><Cd>{t.return_reason}</Cd></Rsn></RtrInf>")
    out.append("</TxDtls>")
    return "".join(out)


def _camt_entry(v: str, e: BankEntry) -> str:
    total = e.amount if e.amount is not None else sum((t.amount for t in e.transactions), Decimal(0))
    currency = e.transactions[0].currency
    status = f"<Sts><Cd>{e.status}</Cd></Sts>" if v == "08" else f"<Sts>{e.status}</Sts>"
    batch = ""
    if e.batch_msg_id or e.batch_pmt_inf_id:
        inner = "".join(
            f"<{tag}>{_x(value)}</{tag}>"
            for tag, value in (("MsgId", e.batch_msg_id), ("PmtInfId", e.batch_pmt_inf_id))
            if value
        )
        batch = f"<Btch>{inner}<NbOfTxs>{len(e.transactions)}</NbOfTxs></Btch>"
    return (
        f'<Ntry><Amt Ccy="{currency}">{total:.2f}</Amt><CdtDbtInd>{e.credit_debit}</CdtDbtInd>'
        f"<RvslInd>{'true' if e.reversal else 'false'}</RvslInd>{status}"
        f"<BookgDt><Dt>{e.booking_date}</Dt></BookgDt><ValDt><Dt>{e.booking_date}</Dt></ValDt>"
        f"<AcctSvcrRef>{_x(e.acct_svcr_ref)}</AcctSvcrRef>"
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{e.family}</Cd><SubFmlyCd>{e.sub_family}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{batch}{''.join(_camt_tx(v, e.credit_debit, t) for t in e.transactions)}</NtryDtls></Ntry>"
    )


def camt054_chunks(
    *, version: str, msg_id: str, created: str, account_iban: str, entries: Iterable[BankEntry]
) -> Iterator[str]:
    """The document in pieces, so that a file of any size can be written without holding it."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{version}"
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><BkToCstmrDbtCdtNtfctn>'
        f"<GrpHdr><MsgId>{_x(msg_id)}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<Ntfctn><Id>{_x(msg_id)}-1</Id><CreDtTm>{created}</CreDtTm>"
        f"<Acct><Id><IBAN>{account_iban}</IBAN></Id></Acct>"
    )
    for entry in entries:
        yield _camt_entry(version, entry)
    yield "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n"


def camt054(
    *, version: str, msg_id: str, created: str, account_iban: str, entries: Iterable[BankEntry]
) -> bytes:
    return "".join(
        camt054_chunks(
            version=version, msg_id=msg_id, created=created, account_iban=account_iban, entries=entries
        )
    ).encode()


def camt053(
    *,
    version: str,
    msg_id: str,
    statement_id: str,
    account_iban: str,
    opening: Decimal,
    opening_date: str,
    closing_date: str,
    entries: Iterable[BankEntry],
    currency: str = "SEK",
) -> bytes:
    """A statement of one account: opening and closing booked balances (the closing one computed from
    the booked entries), the entries as a notification's."""
    entries = list(entries)
    closing = opening
    for e in entries:
        total = e.amount if e.amount is not None else sum((t.amount for t in e.transactions), Decimal(0))
        if e.status == "BOOK":
            closing += total if e.credit_debit == "CRDT" else -total
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"

    def balance(code: str, amount: Decimal, day: str) -> str:
        side = "CRDT" if amount >= 0 else "DBIT"
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{currency}\">{abs(amount):.2f}</Amt>"
                f"<CdtDbtInd>{side}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")  # fmt: skip

    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{_x(msg_id)}</MsgId><CreDtTm>{closing_date}T23:30:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{_x(statement_id)}</Id><CreDtTm>{closing_date}T23:30:00</CreDtTm>"
        f"<Acct><Id><IBAN>{account_iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
        + balance("OPBD", opening, opening_date)
        + balance("CLBD", closing, closing_date)
        + "".join(_camt_entry(version, e) for e in entries)
        + "</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()
