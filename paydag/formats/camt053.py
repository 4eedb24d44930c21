"""camt.053 (bank to customer statement), every version (.001.02 to .13 share the elements read here):
the account, its opening and closing booked balances, and the entries, read with the same rules as a
camt.054's (one row per TxDtls, amounts from the entry where the bank gives none).

A statement must add up: opening + credits − debits = closing, over its booked entries. One that does
not is refused with the difference (FormatError), so that it is quarantined and never applied partly.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import IO

# The entry rules are camt.054's: one reader of Ntry for both messages.
from paydag.formats.camt054 import Camt054Transaction, EntryPaths, read_entry, read_money, text_at
from paydag.formats.xml import FormatError, iter_elements, local, namespace

VERSION = re.compile(r"camt\.053\.001\.(\d{2})")
OPENING = ("OPBD", "PRCD")  # opening booked; the previous day's closing stands in for it
CLOSING = ("CLBD",)


@dataclass
class Statement:
    id: str | None
    account: str | None
    currency: str | None = None
    opening_minor: int | None = None
    closing_minor: int | None = None
    opening_date: str | None = None  # the opening balance's date (ISO), where the bank gives one
    closing_date: str | None = None
    transactions: list[Camt054Transaction] = field(default_factory=list)
    entry_amounts: dict[int, tuple[str, str | None, int]] = field(
        default_factory=dict
    )  # entry → (CRDT/DBIT, status, minor)

    @property
    def credits_minor(self) -> int:
        return sum(
            m for cd, status, m in self.entry_amounts.values() if cd == "CRDT" and status in (None, "BOOK")
        )

    @property
    def debits_minor(self) -> int:
        return sum(
            m for cd, status, m in self.entry_amounts.values() if cd == "DBIT" and status in (None, "BOOK")
        )

    @property
    def difference_minor(self) -> int | None:
        """closing − (opening + credits − debits): 0 when the statement adds up, None without both balances."""
        if self.opening_minor is None or self.closing_minor is None:
            return None
        return self.closing_minor - (self.opening_minor + self.credits_minor - self.debits_minor)


@dataclass(frozen=True)
class StatementReport:
    version: str
    msg_id: str | None
    statements: list[Statement]

    @property
    def transactions(self) -> list[Camt054Transaction]:
        return [t for s in self.statements for t in s.transactions]


def _balance(element, p: EntryPaths, where: str) -> tuple[str | None, int, str, str | None]:
    kind = text_at(element, f"{p.TP}/{p.CDORPRTRY}/{p.CD}") or text_at(
        element, f"{p.TP}/{p.CDORPRTRY}/{p.PRTRY}"
    )
    minor, currency = read_money(element.find(p.AMT), f"{where} Amt")
    if (text_at(element, p.CDTDBT) or "CRDT").upper() == "DBIT":
        minor = -minor  # an overdrawn account
    when = text_at(element, p.bal_dt) or (text_at(element, p.bal_dttm) or "")[:10] or None
    return (kind or "").upper() or None, minor, currency, when


def parse_camt053(data: bytes | IO[bytes], name: str = "camt.053") -> StatementReport:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    paths: EntryPaths | None = None
    version, msg_id = "unknown", None
    statements: list[Statement] = []
    entry_no = 0
    for element in iter_elements(source, ("{*}GrpHdr", "{*}Acct", "{*}Bal", "{*}Ntry"), name):
        if paths is None:
            root = element.getroottree().getroot()
            if local(root.tag) != "Document":
                raise FormatError(f"{name}: root {root.tag} is not a camt.053 Document")
            found = VERSION.search(namespace(root.tag))
            version, paths = (found.group(1) if found else "unknown"), EntryPaths(namespace(root.tag))
        parent = element.getparent()
        parent_tag = local(parent.tag) if parent is not None else ""
        kind = local(element.tag)
        if kind == "GrpHdr" and parent_tag == "BkToCstmrStmt":
            msg_id = text_at(element, paths.grp_msg)
        elif kind == "Acct" and parent_tag == "Stmt":
            account = text_at(element, paths.acct_iban) or text_at(element, paths.acct_othr)
            statements.append(Statement(id=text_at(parent, paths.own_id), account=account))
        elif kind == "Bal" and parent_tag == "Stmt" and statements:
            statement = statements[-1]
            code, minor, currency, when = _balance(element, paths, f"{name}: Stmt #{len(statements)} Bal")
            statement.currency = statement.currency or currency
            if code in OPENING and statement.opening_minor is None:
                statement.opening_minor, statement.opening_date = minor, when
            elif code in CLOSING:
                statement.closing_minor, statement.closing_date = minor, when
        elif kind == "Ntry" and statements:
            entry_no += 1
            rows = list(read_entry(element, entry_no, statements[-1].account, paths, name))
            first = rows[0]
            statements[-1].transactions.extend(rows)
            statements[-1].entry_amounts[entry_no] = (
                first.credit_debit,
                first.status,
                first.entry_amount_minor or 0,
            )
    if not statements:
        raise FormatError(f"{name}: no BkToCstmrStmt/Stmt with an account: not a camt.053")
    for number, s in enumerate(statements, start=1):
        if s.difference_minor:
            raise FormatError(
                f"{name}: Stmt #{number} ({s.id or 'no Id'}) does not add up: opening {s.opening_minor} + credits "
                f"{s.credits_minor} − debits {s.debits_minor} ≠ closing {s.closing_minor} (difference "
                f"{s.difference_minor} minor units of {s.currency})"
            )
    return StatementReport(version=version, msg_id=msg_id, statements=statements)
