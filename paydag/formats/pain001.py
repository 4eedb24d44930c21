"""pain.001 (customer credit transfer initiation) for Swedish banks: built as a stream, XSD-checked.

The file is written transaction by transaction; no tree of the document is ever held. While it is
written, child processes read it and validate it against the bundled XSD (`xsd_stream`: in parts,
between two checkers for a large file), so writing and checking run on both cores. The file reaches its final name only after
the whole document validated: a file that fails is an error, never output.

Identifiers are derived from the batch: building the same batch twice gives the same MsgId, PmtInfIds
and EndToEndIds, so a resend of the same payments is refused by the bank as a duplicate (DU01).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from html import escape
from operator import attrgetter
from pathlib import Path
from typing import Any

from paydag.atomic import replacing
from paydag.formats.bank_profiles import BankProfile, PartyId
from paydag.formats.charset import fit
from paydag.formats.xsd_stream import PART_BYTES, XsdCheckProcess
from paydag.money import format_amount
from paydag.payables import AccountType, Payment, PaymentBatch, PaymentType
from paydag.settings import Company, ConfigurationError, package_data

XSD_DIR = package_data("paydag.formats", "xsd")

# Clearing-system member ids (SESBA) and BICs of the Swedish giro systems.
BANKGIRO_CLEARING, BANKGIRO_BIC = "9900", "BGABSESS"
PLUSGIRO_CLEARING, PLUSGIRO_BIC = "9960", "NDEASESS"

_FLUSH_AT = 1 << 18  # characters buffered before a chunk goes to the file and the validator


class Pain001Version(StrEnum):
    V03 = "03"
    V09 = "09"

    @property
    def namespace(self) -> str:
        return f"urn:iso:std:iso:20022:tech:xsd:pain.001.001.{self.value}"

    @property
    def xsd(self) -> Path:
        return XSD_DIR / f"pain.001.001.{self.value}.xsd"


class Pain001SchemaError(Exception):
    """The built document failed XSD validation; nothing was written to the output path."""


@dataclass(frozen=True)
class PaymentInfo:
    """One PmtInf block: the payments of one execution date, currency and payment type."""

    pmt_inf_id: str
    execution_date: date
    currency: str
    payment_type: PaymentType
    nb_of_txs: int
    ctrl_sum: Decimal


@dataclass(frozen=True)
class BuiltPain001:
    """What was written, with the ids the bank will answer with (pain.002, camt.054)."""

    path: Path
    version: Pain001Version
    msg_id: str
    created_at: datetime
    nb_of_txs: int
    ctrl_sum: Decimal
    sha256: str
    size: int
    payment_infos: tuple[PaymentInfo, ...]

    def end_to_end_id(self, payment: Payment) -> str:
        return end_to_end_id(payment.payment_id)

    def pmt_inf_id(self, payment: Payment) -> str:
        key = _group_key(payment)
        for info in self.payment_infos:
            if (info.execution_date, info.currency, info.payment_type.value) == key:
                return info.pmt_inf_id
        raise KeyError(f"payment {payment.payment_id} is not in {self.msg_id}")


# --- identifiers ---------------------------------------------------------------------------------

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-.:+]{0,34}")
_DERIVED_FORM = re.compile(r"^E[0-9A-F]{32}$", re.MULTILINE)  # what `end_to_end_id` derives, one per line


def batch_digest(batch: PaymentBatch) -> bytes:
    """sha256 over the batch's payments in payment_id order (unique in a valid batch), so that a
    re-export of the same payments in another order is the same batch."""
    h = hashlib.sha256(batch.company.encode())
    ordered = sorted(batch.payments, key=attrgetter("payment_id"))
    for at in range(0, len(ordered), 1024):  # a thousand at a time: fewer calls, the same digest
        h.update("".join([f"{p.canonical()}\x1e" for p in ordered[at : at + 1024]]).encode())
    return h.digest()


def message_id(batch: PaymentBatch) -> str:
    """`PD` and 26 base32 characters of the batch digest (Max35Text, upper case, no separators)."""
    return "PD" + base64.b32encode(batch_digest(batch)).decode()[:26]


def end_to_end_id(payment_id: str) -> str:
    """The ERP's payment_id when it is a safe ISO id (it then reads back in statements as it was
    written), else `E` and 32 hex digits of its sha256."""
    if _SAFE_ID.fullmatch(payment_id):
        return payment_id
    return "E" + hashlib.sha256(payment_id.encode()).hexdigest()[:32].upper()


def instruction_id(msg_id: str, e2e: str) -> str:
    """The InstrId of a payment, derived from the message and its EndToEndId (deterministic, Max35Text):
    some banks answer by it rather than by the EndToEndId."""
    return "I" + hashlib.sha256(f"{msg_id}/{e2e}/instr".encode()).hexdigest()[:30].upper()


def uetr(msg_id: str, e2e: str) -> str:
    """A UUIDv4-form UETR derived from the message and transaction ids (deterministic)."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"{msg_id}/{e2e}".encode()).digest()[:16], version=4))


# --- text ----------------------------------------------------------------------------------------


def _x(value: str) -> str:
    return escape(value, quote=False)


def _domestic_text(p: Payment, value: str) -> str:
    """A domestic payment's text: fitted to the bank's set by the rules already."""
    return _x(value)


# --- the writer ----------------------------------------------------------------------------------


class _Sink:
    """Buffers text, then writes it to the file and the hash in chunks, and cuts it into parts for the
    checkers (`xsd_stream`): a part ends between two records of one `PmtInf` once it holds
    `PART_BYTES`, and the next begins there, after the group header and that `PmtInf`'s head. The
    parts go to the checkers in turn."""

    def __init__(self, file: Any, checkers: list[XsdCheckProcess]) -> None:
        self._file = file
        self._checkers = checkers
        self._parts: list[str] = []
        self._size = 0
        self.sha256 = hashlib.sha256()
        self.bytes_written = 0
        self._header = self._group = ""
        self._records = self._group_start = 0  # records written so far, and when the open PmtInf began
        self._part_start, self._prefix = 0, b""  # where the open part begins, and what goes before it
        self.parts_checked = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _FLUSH_AT:
            self.flush()

    def header(self, text: str) -> None:
        """The document's start and its group header: every part after the first starts with them."""
        self._header = text
        self.write(text)

    def group(self, head: str) -> None:
        """A PmtInf's elements before its first record."""
        self._group, self._group_start = head, self._records
        self.write(head)

    def record(self, text: str) -> None:
        if self._size >= _FLUSH_AT:
            # A part ends only before a record that is not its PmtInf's first (CdtTrfTxInf+).
            cut = self._records > self._group_start
            if cut and self.bytes_written + self._size - self._part_start >= PART_BYTES:
                self._cut()
            else:
                self.flush()
        self._records += 1
        self._parts.append(text)
        self._size += len(text)

    def _cut(self) -> None:
        self.flush()
        self._hand_over(_PART_CLOSING)
        self._prefix = (self._header + self._group).encode()

    def _hand_over(self, closing: bytes) -> None:
        """The part from its start to what is written now, to the next checker."""
        checker = self._checkers[self.parts_checked % len(self._checkers)]
        checker.check(self._part_start, self.bytes_written, self._prefix, closing)
        self._part_start = self.bytes_written
        self.parts_checked += 1

    def flush(self) -> None:
        if not self._parts:
            return
        chunk = "".join(self._parts).encode("utf-8")
        self._parts.clear()
        self._size = 0
        self._file.write(chunk)
        self._file.flush()  # into the file now: the checkers read it from there
        self.sha256.update(chunk)
        self.bytes_written += len(chunk)

    def close(self) -> None:
        """Everything written: the last part ends here."""
        self.flush()
        self._hand_over(b"")


_PART_CLOSING = b"</PmtInf></CstmrCdtTrfInitn></Document>\n"  # closes a part at its cut
_TWO_CHECKERS_FROM = 2_000  # payments: a smaller file is checked by one (a second costs ~0.1 s of CPU)


# A payment's PmtInf: its execution date, currency and payment type (a StrEnum, equal to its value).
_group_key: Callable[[Payment], tuple[date, str, str]] = attrgetter(
    "execution_date", "currency", "payment_type"
)


def build_pain001(
    batch: PaymentBatch,
    *,
    company: Company,
    profile: BankProfile,
    out: Path,
    version: Pain001Version = Pain001Version.V03,
    created_at: datetime,
) -> BuiltPain001:
    """Write `batch` as an XSD-valid pain.001 to `out` (atomically) and describe what was written."""
    _check_company(company, profile, version)
    if not batch.payments:
        raise ValueError("a pain.001 needs at least one payment")

    out = Path(out)
    checkers: list[XsdCheckProcess] = []
    try:
        with replacing(out) as file:  # the file gets its name only when it is whole and valid
            # The checkers start first: their interpreters and schemas load while the ids are derived.
            for _ in range(2 if len(batch.payments) >= _TWO_CHECKERS_FROM else 1):
                checkers.append(XsdCheckProcess(version.xsd, file.fileno()))
            msg_id, infos, ordered = _plan(batch)
            total = sum((i.ctrl_sum for i in infos), Decimal(0))
            count = sum(i.nb_of_txs for i in infos)
            writer = _Writer(company=company, profile=profile, version=version, msg_id=msg_id)
            sink = _Sink(file, checkers)
            writer.document(sink, created_at, count, total, zip(infos, (g for _, g in ordered), strict=True))
            sink.close()
            os.fsync(file.fileno())  # on disk while the checkers finish (`replacing` then finds it so)
            error = next(filter(None, [c.finish() for c in checkers]), None)
            if error:
                raise Pain001SchemaError(
                    f"pain.001.001.{version.value} for batch {msg_id} is not XSD-valid: {error}"
                )
    except BaseException:
        for checker in checkers:
            checker.kill()
        raise

    return BuiltPain001(
        path=out,
        version=version,
        msg_id=msg_id,
        created_at=created_at,
        nb_of_txs=count,
        ctrl_sum=total,
        sha256=sink.sha256.hexdigest(),
        size=sink.bytes_written,
        payment_infos=tuple(infos),
    )


def _plan(
    batch: PaymentBatch,
) -> tuple[str, list[PaymentInfo], list[tuple[tuple[date, str, str], list[Payment]]]]:
    """The MsgId, and the payments grouped into PmtInf by execution date, currency and type."""
    msg_id = message_id(batch)
    groups: dict[tuple[date, str, str], list[Payment]] = {}
    for p in batch.payments:
        groups.setdefault(_group_key(p), []).append(p)
    ordered = sorted(groups.items())
    infos = [
        PaymentInfo(
            pmt_inf_id=f"{msg_id}-{index:03d}",
            execution_date=day,
            currency=currency,
            payment_type=PaymentType(ptype),
            nb_of_txs=len(payments),
            ctrl_sum=sum((p.amount for p in payments), Decimal(0)),
        )
        for index, ((day, currency, ptype), payments) in enumerate(ordered, start=1)
    ]
    _check_end_to_end_ids(batch)
    return msg_id, infos, ordered


def _check_end_to_end_ids(batch: PaymentBatch) -> None:
    """payment_ids are unique in a valid batch, and so are the EndToEndIds made from them, unless a
    derived id (`E` + hash) equals another payment's literal payment_id."""
    # Only a payment_id of the derived form can clash: one search of them all finds none in most
    # batches (a line break inside an id can only make it look further, never less far).
    if not _DERIVED_FORM.search("\n".join(map(attrgetter("payment_id"), batch.payments))):
        return
    derived = {end_to_end_id(p.payment_id) for p in batch.payments if not _SAFE_ID.fullmatch(p.payment_id)}
    clash = next((p.payment_id for p in batch.payments if p.payment_id in derived), None)
    if clash:
        raise ValueError(f"payment_id {clash} equals the EndToEndId derived for another payment")


def _check_company(company: Company, profile: BankProfile, version: Pain001Version) -> None:
    form = company.debtor_account_form
    if form not in profile.debtor_account_forms:
        raise ConfigurationError(
            f"bank profile {profile.name!r} takes a debtor account as {' or '.join(profile.debtor_account_forms)},"
            f" the company's is a {form}"
        )
    if version is Pain001Version.V09 and form != "IBAN":
        raise ConfigurationError(
            "pain.001.001.09 needs the debtor account as an IBAN; use format 03 for a BBAN"
        )
    problem = profile.check_bank_customer_id(company.bank_customer_id)
    if problem:
        raise ConfigurationError(problem)


_creditor_key = attrgetter(
    "payment_type",
    "account_type",
    "account",
    "bic",
    "clearing",
    "creditor_name",
    "creditor_address",
    "creditor_country",
    "creditor_street",
    "creditor_building",
    "creditor_postcode",
    "creditor_town",
)  # what CdtrAgt, Cdtr and CdtrAcct are written from


class _Writer:
    """Element templates for one company, bank profile and schema version.

    Templates rather than an element tree: a tree per transaction costs about four times the time of
    the validation itself, and the XSD check after writing catches any template error.
    """

    def __init__(
        self, *, company: Company, profile: BankProfile, version: Pain001Version, msg_id: str
    ) -> None:
        self.company = company
        self.profile = profile
        self.version = version
        self.msg_id = msg_id
        self.bic_tag = "BICFI" if version is Pain001Version.V09 else "BIC"
        self._creditor_account: dict[AccountType, Callable[[Payment], str]] = {
            AccountType.BG: self._bankgiro,
            AccountType.PG: self._plusgiro,
            AccountType.BBAN: self._bban,
            AccountType.IBAN: self._iban,
        }
        self._creditors: dict[tuple[object, ...], str] = {}

    _CREDITORS_KEPT = 10_000  # distinct creditors whose elements are kept for the rest of the file

    def _creditor_part(self, p: Payment) -> str:
        """CdtrAgt, Cdtr and CdtrAcct: written once per creditor, as suppliers repeat in a batch."""
        key = _creditor_key(p)
        part = self._creditors.get(key)
        if part is None:
            part = self._creditor_account[p.account_type](p)
            if len(self._creditors) < self._CREDITORS_KEPT:
                self._creditors[key] = part
        return part

    # -- parties and agents --

    def _party_id(self, party: PartyId) -> str:
        value = self.company.org_number if party.value == "org_number" else self.company.bank_customer_id
        scheme = (
            f"<Cd>{_x(party.code)}</Cd>" if party.code else f"<Prtry>{_x(party.proprietary or '')}</Prtry>"
        )
        return f"<Id><OrgId><Othr><Id>{_x(value or '')}</Id><SchmeNm>{scheme}</SchmeNm></Othr></OrgId></Id>"

    def _agent_bic(self, bic: str) -> str:
        return f"<FinInstnId><{self.bic_tag}>{bic}</{self.bic_tag}></FinInstnId>"

    @staticmethod
    def _agent_clearing(member: str) -> str:
        return f"<FinInstnId><ClrSysMmbId><ClrSysId><Cd>SESBA</Cd></ClrSysId><MmbId>{member}</MmbId></ClrSysMmbId></FinInstnId>"

    def _debtor_account(self) -> str:
        account = self.company.debtor_account
        if self.company.debtor_account_form == "IBAN":
            return f"<DbtrAcct><Id><IBAN>{account}</IBAN></Id></DbtrAcct>"
        return (
            f"<DbtrAcct><Id><Othr><Id>{account}</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id></DbtrAcct>"
        )

    # -- creditor agent + account, per account type and profile --

    def _bankgiro(self, p: Payment) -> str:
        agent = (
            self._agent_bic(BANKGIRO_BIC)
            if self.profile.creditor_agent == "bic"
            else self._agent_clearing(BANKGIRO_CLEARING)
        )
        return (
            f"<CdtrAgt>{agent}</CdtrAgt>{self._creditor(p)}"
            f"<CdtrAcct><Id><Othr><Id>{p.account}</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></CdtrAcct>"
        )

    def _plusgiro(self, p: Payment) -> str:
        agent = (
            self._agent_bic(PLUSGIRO_BIC)
            if self.profile.creditor_agent == "bic"
            else self._agent_clearing(PLUSGIRO_CLEARING)
        )
        scheme = "<Prtry>PGNR</Prtry>" if self.profile.plusgiro_scheme == "PGNR" else "<Cd>BBAN</Cd>"
        return (
            f"<CdtrAgt>{agent}</CdtrAgt>{self._creditor(p)}"
            f"<CdtrAcct><Id><Othr><Id>{p.account}</Id><SchmeNm>{scheme}</SchmeNm></Othr></Id></CdtrAcct>"
        )

    def _bban(self, p: Payment) -> str:
        if self.profile.creditor_agent == "bic" and p.bic:
            agent = self._agent_bic(p.bic)
        else:
            agent = self._agent_clearing(p.clearing or p.account[:4])
        return (
            f"<CdtrAgt>{agent}</CdtrAgt>{self._creditor(p)}"
            f"<CdtrAcct><Id><Othr><Id>{p.account}</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id></CdtrAcct>"
        )

    def _iban(self, p: Payment) -> str:
        agent = f"<CdtrAgt>{self._agent_bic(p.bic)}</CdtrAgt>" if p.bic else ""
        return f"{agent}{self._creditor(p)}<CdtrAcct><Id><IBAN>{p.account}</IBAN></Id></CdtrAcct>"

    def _text(self, p: Payment, value: str) -> str:
        # Rows come fitted to the bank's set (paydag.payables.rules); fitting SEPA text again is a
        # no-op for them, and for any other caller the same rules (never a letter dropped silently).
        return _x(value if p.payment_type is PaymentType.DOMESTIC else fit(value, "sepa").text)

    def _creditor(self, p: Payment) -> str:
        lines = ""
        if p.creditor_address:
            parts = [s.strip() for s in re.split(r"[;\n]", p.creditor_address) if s.strip()]
            if len(parts) == 1 and len(parts[0]) > 70:
                parts = [parts[0][:70], parts[0][70:]]
            lines = "".join(f"<AdrLine>{self._text(p, s[:70])}</AdrLine>" for s in parts[:2])
        street, building, postcode, town = p.structured_address
        structured = "".join(
            f"<{tag}>{self._text(p, value)}</{tag}>"
            for tag, value in (("StrtNm", street), ("BldgNb", building), ("PstCd", postcode), ("TwnNm", town))
            if value
        )  # the same elements, in this order, in .03 (PostalAddress6) and .09 (PostalAddress24)
        return (f"<Cdtr><Nm>{self._text(p, p.creditor_name)}</Nm><PstlAdr>{structured}<Ctry>{p.creditor_country}</Ctry>"
                f"{lines}</PstlAdr></Cdtr>")  # fmt: skip

    @staticmethod
    def _remittance(p: Payment, text: Callable[[Payment, str], str]) -> str:
        if p.ocr:
            issuer = "<Issr>ISO</Issr>" if p.ocr.startswith("RF") else ""
            return (
                "<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry>"
                f"{issuer}</Tp><Ref>{p.ocr}</Ref></CdtrRefInf></Strd></RmtInf>"
            )
        return f"<RmtInf><Ustrd>{text(p, p.message or '')}</Ustrd></RmtInf>"

    # -- the document --

    def document(
        self,
        out: _Sink,
        created_at: datetime,
        count: int,
        total: Decimal,
        groups: Iterable[tuple[PaymentInfo, list[Payment]]],
    ) -> None:
        c = self.company
        out.header(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{self.version.namespace}"><CstmrCdtTrfInitn>'
            f"<GrpHdr><MsgId>{self.msg_id}</MsgId><CreDtTm>{created_at.isoformat(timespec='seconds')}</CreDtTm>"
            f"<NbOfTxs>{count}</NbOfTxs><CtrlSum>{total:f}</CtrlSum>"
            f"<InitgPty><Nm>{_x(c.legal_name)}</Nm>{self._party_id(self.profile.initiating_party)}</InitgPty></GrpHdr>"
        )
        for info, payments in groups:
            self._payment_info(out, info, payments)
        out.write("</CstmrCdtTrfInitn></Document>\n")

    def _payment_info(self, out: _Sink, info: PaymentInfo, payments: list[Payment]) -> None:
        c = self.company
        if info.payment_type is PaymentType.DOMESTIC:
            svc, charge_bearer = "<SvcLvl><Cd>NURG</Cd></SvcLvl>", self.profile.domestic_charge_bearer
        elif info.payment_type is PaymentType.SEPA:
            svc, charge_bearer = "<SvcLvl><Cd>SEPA</Cd></SvcLvl>", "SLEV"
        else:
            svc, charge_bearer = "", "SHAR"
        day = info.execution_date.isoformat()
        exec_date = f"<Dt>{day}</Dt>" if self.version is Pain001Version.V09 else day
        out.group(
            f"<PmtInf><PmtInfId>{info.pmt_inf_id}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg>"
            f"<NbOfTxs>{info.nb_of_txs}</NbOfTxs><CtrlSum>{info.ctrl_sum:f}</CtrlSum>"
            f"<PmtTpInf>{svc}<CtgyPurp><Cd>SUPP</Cd></CtgyPurp></PmtTpInf>"
            f"<ReqdExctnDt>{exec_date}</ReqdExctnDt>"
            f"<Dbtr><Nm>{_x(c.legal_name)}</Nm><PstlAdr><Ctry>SE</Ctry></PstlAdr>{self._party_id(self.profile.debtor_id)}</Dbtr>"
            f"{self._debtor_account()}<DbtrAgt>{self._agent_bic(c.bic)}</DbtrAgt><ChrgBr>{charge_bearer}</ChrgBr>"
        )
        v09 = self.version is Pain001Version.V09
        creditor, remittance, record, msg_id = self._creditor_part, self._remittance, out.record, self.msg_id
        # The group's currency and payment type are every payment's in it.
        text = self._text if info.payment_type is not PaymentType.DOMESTIC else _domestic_text
        amount_open = f'<Amt><InstdAmt Ccy="{info.currency}">'
        for p in payments:
            e2e = end_to_end_id(p.payment_id)  # a safe ISO id, or E and hex digits: nothing to escape
            uetr_el = f"<UETR>{uetr(msg_id, e2e)}</UETR>" if v09 else ""
            record(
                f"<CdtTrfTxInf><PmtId><InstrId>{instruction_id(msg_id, e2e)}</InstrId>"
                f"<EndToEndId>{e2e}</EndToEndId>{uetr_el}</PmtId>"
                f"{amount_open}{format_amount(p.amount, info.currency)}</InstdAmt></Amt>"
                f"{creditor(p)}{remittance(p, text)}</CdtTrfTxInf>"
            )
        out.write("</PmtInf>")
