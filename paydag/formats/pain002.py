"""pain.002 (customer payment status report), every version (.001.03 to .14 share the elements read here).

Lenient where banks are: local names are matched whatever the namespace, optional elements may be
missing, status codes are kept as open strings (upper-cased). Strict where we rely on a value: the
original MsgId must be there, and every transaction status must name its payment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from paydag.formats.xml import FormatError, local, parse_document

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:pain.002.001."
VERSION = re.compile(r"pain\.002\.001\.(\d{2})")  # ISO's namespace or a bank's variant (….ch.02.xsd)


@dataclass(frozen=True)
class StatusReason:
    code: str | None  # Rsn/Cd (AC01, AM04, DU01, NARR, …)
    proprietary: str | None  # Rsn/Prtry
    additional: tuple[str, ...] = ()  # every AddtlInf: Nordea puts the real reason here

    @property
    def label(self) -> str | None:
        return self.code or self.proprietary

    @property
    def text(self) -> str | None:
        return " ".join(self.additional) or None


@dataclass(frozen=True)
class TransactionStatus:
    original_instr_id: str | None
    original_end_to_end_id: str | None
    original_uetr: str | None
    status: str | None
    reasons: tuple[StatusReason, ...]
    acct_svcr_ref: str | None
    original_amount: Decimal | None
    original_currency: str | None


@dataclass(frozen=True)
class PaymentInfoStatus:
    original_pmt_inf_id: str
    status: str | None
    reasons: tuple[StatusReason, ...]
    transactions: tuple[TransactionStatus, ...]


@dataclass(frozen=True)
class StatusReport:
    version: str  # "03", "10"
    msg_id: str
    created: str | None
    original_msg_id: str
    original_msg_name_id: str | None
    group_status: str | None
    group_reasons: tuple[StatusReason, ...]
    payment_infos: tuple[PaymentInfoStatus, ...] = field(default_factory=tuple)

    @property
    def transaction_count(self) -> int:
        return sum(len(p.transactions) for p in self.payment_infos)

    def rows(self) -> list[dict[str, object]]:
        """One row per status at its finest level: a transaction, or a PmtInf/group without them."""

        def reason(reasons: tuple[StatusReason, ...]) -> dict[str, object]:
            first = reasons[0] if reasons else None
            return {"reason": first.label if first else None, "reason_text": first.text if first else None}

        base = {"original_msg_id": self.original_msg_id, "group_status": self.group_status}
        rows: list[dict[str, object]] = []
        if not self.payment_infos:
            rows.append({**base, "level": "group", "original_pmt_inf_id": None, "original_end_to_end_id": None,
                         "status": self.group_status, **reason(self.group_reasons)})  # fmt: skip
        for info in self.payment_infos:
            if not info.transactions:
                rows.append({**base, "level": "payment-information", "original_pmt_inf_id": info.original_pmt_inf_id,
                             "original_end_to_end_id": None, "status": info.status, **reason(info.reasons)})  # fmt: skip
            for tx in info.transactions:
                rows.append({**base, "level": "transaction", "original_pmt_inf_id": info.original_pmt_inf_id,
                             "original_end_to_end_id": tx.original_end_to_end_id, "status": tx.status,
                             **reason(tx.reasons or info.reasons)})  # fmt: skip
        return rows


def _child(el: etree._Element | None, *names: str) -> etree._Element | None:
    """Follow local names down, whatever namespace (or none) the bank used."""
    for name in names:
        if el is None:
            return None
        el = next((c for c in el if isinstance(c.tag, str) and local(c.tag) == name), None)
    return el


def _children(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and local(c.tag) == name]


def _text(el: etree._Element | None, *names: str) -> str | None:
    found = _child(el, *names)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _status(el: etree._Element | None, name: str) -> str | None:
    value = _text(el, name)
    return value.upper() if value else None


def _reasons(el: etree._Element) -> tuple[StatusReason, ...]:
    return tuple(
        StatusReason(
            code=(_text(r, "Rsn", "Cd") or "").upper() or None,
            proprietary=_text(r, "Rsn", "Prtry"),
            additional=tuple(a.text.strip() for a in _children(r, "AddtlInf") if a.text and a.text.strip()),
        )
        for r in _children(el, "StsRsnInf")
    )


def _amount(tx: etree._Element, where: str) -> tuple[Decimal | None, str | None]:
    amt = _child(tx, "OrgnlTxRef", "Amt", "InstdAmt")
    if amt is None or amt.text is None:
        return None, None
    try:
        return Decimal(amt.text.strip()), (amt.get("Ccy") or "").upper() or None
    except InvalidOperation:
        raise FormatError(f"{where}: OrgnlTxRef/Amt/InstdAmt {amt.text!r} is not an amount") from None


def parse_pain002(data: bytes, name: str = "pain.002") -> StatusReport:
    root = parse_document(data, name)
    found = VERSION.search(etree.QName(root).namespace or "")
    version = found.group(1) if found else "unknown"  # no namespace, a wrong one: read by element names
    report = _child(root, "CstmrPmtStsRpt")
    if report is None:
        raise FormatError(f"{name}: no CstmrPmtStsRpt under {local(root.tag)}: not a pain.002")
    group = _child(report, "OrgnlGrpInfAndSts")
    original_msg_id = _text(group, "OrgnlMsgId")
    if not original_msg_id:
        raise FormatError(f"{name}: OrgnlGrpInfAndSts/OrgnlMsgId is missing: the report names no message")

    infos = []
    for p_index, pmt in enumerate(_children(report, "OrgnlPmtInfAndSts"), start=1):
        pmt_inf_id = _text(pmt, "OrgnlPmtInfId")
        if not pmt_inf_id:
            raise FormatError(f"{name}: OrgnlPmtInfAndSts #{p_index} has no OrgnlPmtInfId")
        transactions = []
        for t_index, tx in enumerate(_children(pmt, "TxInfAndSts"), start=1):
            where = f"{name}: OrgnlPmtInfAndSts #{p_index} TxInfAndSts #{t_index}"
            e2e, instr, uetr = _text(tx, "OrgnlEndToEndId"), _text(tx, "OrgnlInstrId"), _text(tx, "OrgnlUETR")
            if not (e2e or instr or uetr):
                raise FormatError(
                    f"{where}: names no payment (no OrgnlEndToEndId, OrgnlInstrId or OrgnlUETR)"
                )
            amount, currency = _amount(tx, where)
            transactions.append(
                TransactionStatus(
                    original_instr_id=instr,
                    original_end_to_end_id=e2e,
                    original_uetr=uetr,
                    status=_status(tx, "TxSts"),
                    reasons=_reasons(tx),
                    acct_svcr_ref=_text(tx, "AcctSvcrRef"),
                    original_amount=amount,
                    original_currency=currency,
                )
            )
        infos.append(
            PaymentInfoStatus(
                original_pmt_inf_id=pmt_inf_id,
                status=_status(pmt, "PmtInfSts"),
                reasons=_reasons(pmt),
                transactions=tuple(transactions),
            )
        )
    return StatusReport(
        version=version,
        msg_id=_text(report, "GrpHdr", "MsgId") or "",
        created=_text(report, "GrpHdr", "CreDtTm"),
        original_msg_id=original_msg_id,
        original_msg_name_id=_text(group, "OrgnlMsgNmId"),
        group_status=_status(group, "GrpSts"),
        group_reasons=_reasons(group) if group is not None else (),
        payment_infos=tuple(infos),
    )
