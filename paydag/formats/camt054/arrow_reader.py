"""camt.054's Arrow reader: four xml2arrow mappings over the same bytes (the header; the
notifications' accounts; the entries; the transactions with their remittance information), parsed
two at a time outside the GIL, then put together into rows by the lxml reader's rules.

Four mappings because xml2arrow loses the values of a table's rows where another table's rows lie
inside them: each mapping has one table with values, the tables above it only as boundaries (their
indices join the four). What the lxml reader guarantees holds here too: a DOCTYPE is refused from the
head, other encodings are transcoded first, a file must close its Document once and end there (a
file cut off, or with anything after its root, goes to the lxml reader, whose error names the
place), and an element repeated where the mapping expects one goes to the lxml reader as well.
"""

from __future__ import annotations

import dataclasses
import re
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paydag.bulk import collector_paused
from paydag.formats.camt054.lxml_reader import VERSION, Camt054Header, Camt054Transaction, money_of
from paydag.formats.columnar import CannotServe, as_utf8, compile_mapping, parse, root_element, text_field
from paydag.formats.xml import FormatError
from paydag.money import minor_units

D = "/Document/BkToCstmrDbtCdtNtfctn"
N = f"{D}/Ntfctn"
E = f"{N}/Ntry"
T = f"{E}/NtryDtls/TxDtls"

_HEADER = {"msg_id": "GrpHdr/MsgId", "created": "GrpHdr/CreDtTm"}
_ACCOUNT = {"iban": "Acct/Id/IBAN", "othr": "Acct/Id/Othr/Id"}
_ENTRY = {
    "amount": "Amt", "ccy": "Amt/@Ccy", "cd": "CdtDbtInd", "rvsl": "RvslInd", "sts": "Sts", "sts_cd": "Sts/Cd",
    "bookg": "BookgDt/Dt", "bookg_dttm": "BookgDt/DtTm", "valdt": "ValDt/Dt", "valdt_dttm": "ValDt/DtTm",
    "ref": "AcctSvcrRef", "domn": "BkTxCd/Domn/Cd", "fmly": "BkTxCd/Domn/Fmly/Cd",
    "sub_fmly": "BkTxCd/Domn/Fmly/SubFmlyCd", "prtry": "BkTxCd/Prtry/Cd", "btch_msg": "NtryDtls/Btch/MsgId",
    "btch_pmt": "NtryDtls/Btch/PmtInfId", "btch_nb": "NtryDtls/Btch/NbOfTxs", "addtl": "AddtlNtryInf",
}  # fmt: skip
_TRANSACTION = {
    "acct_svcr_ref": "Refs/AcctSvcrRef", "msg_id": "Refs/MsgId", "pmt_inf_id": "Refs/PmtInfId",
    "instr_id": "Refs/InstrId", "end_to_end_id": "Refs/EndToEndId", "uetr": "Refs/UETR",
    "amt": "Amt", "amt_ccy": "Amt/@Ccy", "tx_amt": "AmtDtls/TxAmt/Amt", "tx_amt_ccy": "AmtDtls/TxAmt/Amt/@Ccy",
    "cd": "CdtDbtInd", "dbtr": "RltdPties/Dbtr/Nm", "dbtr_pty": "RltdPties/Dbtr/Pty/Nm",
    "dbtr_iban": "RltdPties/DbtrAcct/Id/IBAN", "dbtr_othr": "RltdPties/DbtrAcct/Id/Othr/Id",
    "cdtr": "RltdPties/Cdtr/Nm", "cdtr_pty": "RltdPties/Cdtr/Pty/Nm", "cdtr_iban": "RltdPties/CdtrAcct/Id/IBAN",
    "cdtr_othr": "RltdPties/CdtrAcct/Id/Othr/Id", "rsn_cd": "RtrInf/Rsn/Cd", "rsn_prtry": "RtrInf/Rsn/Prtry",
    "addtl": "AddtlTxInf",
}  # fmt: skip
_REFERENCE = {"cd": "Tp/CdOrPrtry/Cd", "prtry": "Tp/CdOrPrtry/Prtry", "ref": "Ref"}
_NAMESPACE = re.compile(rb"""\sxmlns(?::([\w.-]+))?\s*=\s*["']([^"']*)["']""")


def _values(table: str, path: str, levels: list[str], fields: dict[str, str], under: str) -> dict[str, Any]:
    return {"name": table, "xml_path": path, "levels": levels,
            "fields": [text_field(k, f"{under}/{v}") for k, v in fields.items()]}  # fmt: skip


def _boundary(table: str, path: str, levels: list[str]) -> dict[str, Any]:
    return {"name": table, "xml_path": path, "levels": levels, "fields": []}


@lru_cache(maxsize=1)
def _parsers() -> tuple[Any, Any, Any, Any]:
    header = compile_mapping("camt054-header", [_values("document", "/", [], _HEADER, D)], trim_text=True)
    accounts = compile_mapping(
        "camt054-accounts", [_values("notifications", D, ["ntfctn"], _ACCOUNT, N)], trim_text=True
    )
    entries = compile_mapping("camt054-entries", [
        _boundary("notifications", D, ["ntfctn"]),
        _values("entries", N, ["ntfctn", "entry"], _ENTRY, E),
    ], trim_text=True)  # fmt: skip
    transactions = compile_mapping("camt054-transactions", [
        _boundary("notifications", D, ["ntfctn"]),
        _boundary("entries", N, ["ntfctn", "entry"]),
        _values("transactions", f"{E}/NtryDtls", ["ntfctn", "entry", "tx"], _TRANSACTION, T),
        _values("remittance", f"{T}/RmtInf", ["ntfctn", "entry", "tx", "rmt"], {"ustrd": "Ustrd"}, f"{T}/RmtInf"),
        _values("references", f"{T}/RmtInf/Strd", ["ntfctn", "entry", "tx", "rmt", "ref"], _REFERENCE,
                f"{T}/RmtInf/Strd/CdtrRefInf"),
    ], trim_text=True)  # fmt: skip
    return header, accounts, entries, transactions


def read_arrow(data: bytes, name: str) -> tuple[Camt054Header, list[Camt054Transaction]]:
    """The header and every transaction, as the lxml reader gives them; CannotServe where it must."""
    data = as_utf8(data, name, [])
    local, prefix, root_end = root_element(data, name)
    if local != "Document":
        raise CannotServe(f"root {local!r} is not a Document")
    if not data.rstrip().endswith(b"</" + prefix + b"Document>"):
        raise CannotServe("the file does not end with the Document's end tag")
    version = _version(data[:root_end], prefix)
    header_mapping, accounts_mapping, entries_mapping, transactions_mapping = _parsers()
    with collector_paused(), ThreadPoolExecutor(max_workers=2) as pool:
        # The transactions' mapping is the longest: it parses on one core while the other parses the
        # rest, and this thread works through the entries meanwhile (xml2arrow releases the GIL).
        later = pool.submit(parse, transactions_mapping, data)
        first = [pool.submit(parse, m, data) for m in (header_mapping, accounts_mapping, entries_mapping)]
        header, accounts, entries = _results(first, name)
        document = header["document"]
        if document.num_rows != 1:
            raise CannotServe("the Document does not close exactly once")
        msg_id, created = (_text(document.column(c)[0].as_py()) for c in ("msg_id", "created"))
        if msg_id is None and created is None:
            raise CannotServe("no group header where a camt.054 has it")
        rows = _Rows(name, accounts["notifications"], entries["entries"])
        [transactions] = _results([later], name)
        return Camt054Header(version=version, msg_id=msg_id, created=created), rows.of(transactions)


def _results(futures: list[Any], name: str) -> list[dict[str, pa.RecordBatch]]:
    try:
        return [f.result() for f in futures]
    except FormatError as exc:
        raise FormatError(f"{name}: {exc}") from None


def _version(root_tag: bytes, prefix: bytes) -> str:
    """The two digits of the root namespace's version, or "unknown" (as the lxml reader says)."""
    wanted = prefix[:-1].decode() if prefix else None
    for match in _NAMESPACE.finditer(root_tag):
        if (match.group(1).decode() if match.group(1) else None) == wanted:
            found = VERSION.search(match.group(2).decode())
            return found.group(1) if found else "unknown"
    return "unknown"


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _columns(batch: pa.RecordBatch) -> dict[str, list[Any]]:
    """Each column as a list, text trimmed and empty text as None (as the lxml reader reads text),
    done in Arrow rather than per value."""
    out = {}
    for name in batch.schema.names:
        column = batch.column(name)
        if pa.types.is_string(column.type):
            column = pc.utf8_trim_whitespace(column)
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        out[name] = column.to_pylist()
    return out


class _Rows:
    """The rows of every entry, by the rules of lxml_reader.read_entry (kept side by side with it):
    what is per entry is worked out per entry (thousands), what is per transaction column by column
    in Arrow, and the rows are made from the columns at the end."""

    def __init__(self, name: str, notifications: pa.RecordBatch, entries: pa.RecordBatch) -> None:
        self.name = name
        self.accounts: dict[int, str | None] = {}
        account = None
        n = _columns(notifications)
        for at, iban, othr in zip(n["<ntfctn>"], n["iban"], n["othr"], strict=True):
            account = iban or othr or account  # a notification without one keeps the last
            self.accounts[at] = account
        e = _columns(entries)
        self.ordinal = dict(zip(_keys(entries, 2).tolist(), range(entries.num_rows), strict=True))
        self.per_entry = [
            self._entry(i + 1, {k: v[i] for k, v in e.items()}) for i in range(entries.num_rows)
        ]

    def of(self, transactions: dict[str, pa.RecordBatch]) -> list[Camt054Transaction]:
        per_entry, tx = self.per_entry, transactions["transactions"]
        try:
            owner = np.fromiter(map(self.ordinal.__getitem__, _keys(tx, 2).tolist()), np.int64, tx.num_rows)
        except KeyError:
            raise CannotServe("a transaction without its entry") from None
        counts = np.bincount(owner, minlength=len(per_entry))
        # A transaction's number is its place in its entry; two NtryDtls in one entry would number twice.
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        position = np.arange(len(owner)) - starts[owner] if len(owner) else np.zeros(0, np.int64)
        tx_no = tx.column("<tx>").to_numpy(zero_copy_only=False)
        if len(owner) and (np.any(np.diff(owner) < 0) or not np.array_equal(position, tx_no)):
            raise CannotServe("an entry's transactions are not numbered in one run")
        columns = self._transactions(transactions, owner, counts, position)
        rows = [Camt054Transaction(*values) for values in zip(*(columns[f] for f in _FIELDS), strict=True)]
        alone = [entry["row"]() for entry, n in zip(per_entry, counts.tolist(), strict=True) if n == 0]
        if alone:  # entries without TxDtls are rows of their own, in their place
            rows = sorted([*rows, *alone], key=lambda r: (r.entry, r.transaction))
        return rows

    def _entry(self, number: int, ntry: dict[str, Any]) -> dict[str, Any]:
        """What every row of an entry shares, checked once per entry."""
        where = f"{self.name}: Ntry #{number}"
        entry_cd = (ntry["cd"] or "").upper()
        if entry_cd not in ("CRDT", "DBIT"):
            raise FormatError(f"{where}: CdtDbtInd {entry_cd or 'missing'!r} is neither CRDT nor DBIT")
        status = ntry["sts_cd"] or ntry["sts"]
        domain = ntry["domn"]
        nb = ntry["btch_nb"]
        has_amount = ntry["amount"] is not None or ntry["ccy"] is not None
        minor, currency = (
            money_of(ntry["amount"], ntry["ccy"], f"{where}/Amt") if has_amount else (None, None)
        )
        out = {
            "number": number, "where": where, "cd": entry_cd, "minor": minor, "currency": currency,
            "has_amount": has_amount, "text": ntry["addtl"],
            "account": self.accounts.get(ntry["<ntfctn>"]),
            "reversal": (ntry["rvsl"] or "").lower() == "true",
            "status": status.upper() if status else None,
            "booking_date": ntry["bookg"] or (ntry["bookg_dttm"] or "")[:10] or None,
            "value_date": ntry["valdt"] or (ntry["valdt_dttm"] or "")[:10] or None,
            "bank_transaction_code": "/".join(filter(None, [domain, ntry["fmly"], ntry["sub_fmly"]]))
            if domain else ntry["prtry"],
            "entry_acct_svcr_ref": ntry["ref"],
            "batch_msg_id": ntry["btch_msg"], "batch_pmt_inf_id": ntry["btch_pmt"],
            "batch_nb_of_txs": int(nb) if nb and nb.isdigit() else None,
        }  # fmt: skip

        def row() -> Camt054Transaction:  # an entry without TxDtls: one row of the entry's own values
            amount, currency = money_of(ntry["amount"], ntry["ccy"], f"{where}/Amt")
            return Camt054Transaction(
                entry=number, transaction=1, credit_debit=entry_cd, amount_minor=amount, currency=currency,
                acct_svcr_ref=None, msg_id=out["batch_msg_id"], pmt_inf_id=out["batch_pmt_inf_id"], instr_id=None,
                end_to_end_id=None, uetr=None, ocr=None, free_text=out["text"], payer_name=None,
                payer_account=None, creditor_name=None, creditor_account=None, return_reason=None,
                entry_amount_minor=amount, amount_source="entry",
                **{k: out[k] for k in _SHARED},
            )  # fmt: skip

        out["row"] = row
        return out

    def _transactions(
        self, tables: dict[str, pa.RecordBatch], owner: np.ndarray, counts: np.ndarray, position: np.ndarray
    ) -> dict[str, list[Any]]:
        """Every transaction row's fields, as columns."""
        per_entry, tx = self.per_entry, tables["transactions"]
        c = _columns(tx)
        size = len(owner)
        entry = [per_entry[o] for o in owner.tolist()]
        alone = (counts[owner] == 1).tolist()
        # The amount: TxDtls/Amt (.04, .08), else AmtDtls/TxAmt/Amt (.02), else, for an entry's only
        # transaction or for an entry none of whose transactions has one, the entry's (marked so).
        text, ccy, fast = _amounts(tx)
        with_amount = np.bincount(owner, weights=[t is not None or k is not None for t, k in zip(text, ccy, strict=True)],
                                  minlength=len(per_entry))  # fmt: skip
        amount_minor, currency, source, warning = [], [], [], []
        for i in range(size):
            ent, src = entry[i], "transaction"
            if fast[i] is not None:
                minor, code = fast[i], ccy[i]
            elif text[i] is None and ccy[i] is None:
                if not (ent["has_amount"] and (alone[i] or with_amount[owner[i]] == 0)):
                    raise FormatError(f"{ent['where']} TxDtls #{position[i] + 1} Amt: the amount is missing")
                minor, code = ent["minor"], ent["currency"]
                src = "entry" if alone[i] else "entry total"
            else:
                minor, code = money_of(text[i], ccy[i], f"{ent['where']} TxDtls #{position[i] + 1} Amt")
            amount_minor.append(minor)
            currency.append(code)
            source.append(src)
            warning.append(
                f"{ent['where']} TxDtls #1: Amt 0 while the entry says {ent['minor']} minor units of {ent['currency']}"
                if alone[i] and minor == 0 and ent["minor"] else None
            )  # fmt: skip
        at = dict(zip(_keys(tx, 3).tolist(), range(size), strict=True))  # (notification, entry, tx) → row
        texts: list[list[str]] = [[] for _ in range(size)]
        remittance = tables["remittance"]
        for key, ustrd in zip(_keys(remittance, 3).tolist(), _columns(remittance)["ustrd"], strict=True):
            if ustrd and key in at:
                texts[at[key]].append(ustrd)
        references: list[list[str]] = [[] for _ in range(size)]
        refs, f = tables["references"], _columns(tables["references"])
        for key, cd, prtry, ref in zip(_keys(refs, 3).tolist(), f["cd"], f["prtry"], f["ref"], strict=True):
            if ref and key in at:  # the type: the code (SCOR), the proprietary type (OCR, QRR), or REF
                references[at[key]].append(f"{(cd or prtry or 'REF').upper()}:{''.join(ref.split())}")
        free_text = []
        for i, (found, addtl) in enumerate(zip(texts, c["addtl"], strict=True)):
            if addtl:
                found.append(addtl)
            if not found and alone[i] and entry[i]["text"]:
                found.append(entry[i]["text"])
            free_text.append(" ".join(found) or None)
        columns: dict[str, list[Any]] = {
            "entry": [e["number"] for e in entry], "transaction": (position + 1).tolist(),
            "credit_debit": [(cd or e["cd"]).upper() for cd, e in zip(c["cd"], entry, strict=True)],
            "amount_minor": amount_minor, "currency": currency,
            "acct_svcr_ref": c["acct_svcr_ref"], "instr_id": c["instr_id"], "end_to_end_id": c["end_to_end_id"],
            "uetr": c["uetr"],
            "msg_id": [m or e["batch_msg_id"] for m, e in zip(c["msg_id"], entry, strict=True)],
            "pmt_inf_id": [m or e["batch_pmt_inf_id"] for m, e in zip(c["pmt_inf_id"], entry, strict=True)],
            "ocr": [refs[0].split(":", 1)[1] if refs else None for refs in references],
            "free_text": free_text,
            "payer_name": _either(c["dbtr"], c["dbtr_pty"]), "payer_account": _either(c["dbtr_iban"], c["dbtr_othr"]),
            "creditor_name": _either(c["cdtr"], c["cdtr_pty"]),
            "creditor_account": _either(c["cdtr_iban"], c["cdtr_othr"]),
            "return_reason": _either(c["rsn_cd"], c["rsn_prtry"]),
            "entry_amount_minor": [e["minor"] for e in entry], "amount_source": source,
            "references": [tuple(refs) for refs in references], "warning": warning,
        }  # fmt: skip
        for shared in _SHARED:
            columns[shared] = [e[shared] for e in entry]
        return columns


def _amounts(tx: pa.RecordBatch) -> tuple[list[str | None], list[str | None], list[int | None]]:
    """Each transaction's own amount text and Ccy (TxDtls/Amt, else AmtDtls/TxAmt/Amt) and, where it
    is the common case (digits, two decimals, a currency of two minor units), its minor units, read
    in Arrow; the rest is read by money_of, row by row, as the lxml reader reads it."""

    def present(column: str) -> pa.Array:
        return pc.is_valid(pc.utf8_trim_whitespace(tx.column(column)))

    own = pc.or_(present("amt"), present("amt_ccy"))
    nested = pc.or_(present("tx_amt"), present("tx_amt_ccy"))
    text = pc.utf8_trim_whitespace(
        pc.if_else(own, tx.column("amt"), pc.if_else(nested, tx.column("tx_amt"), None))
    )
    ccy = pc.utf8_upper(
        pc.utf8_trim_whitespace(
            pc.if_else(own, tx.column("amt_ccy"), pc.if_else(nested, tx.column("tx_amt_ccy"), None))
        )
    )
    codes = [c for c in pc.unique(ccy).to_pylist() if c and len(c) == 3 and c.isalpha()]
    two_decimals = pa.array([c for c in codes if minor_units(c) == 2], pa.string())
    common = pc.and_(
        pc.match_substring_regex(text, r"^\d{1,16}\.\d{2}$"), pc.is_in(ccy, value_set=two_decimals)
    )
    digits = pc.if_else(pc.fill_null(common, False), pc.replace_substring(text, ".", ""), None)
    blank = lambda a: pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a)  # noqa: E731
    return blank(text).to_pylist(), blank(ccy).to_pylist(), pc.cast(digits, pa.int64()).to_pylist()


def _keys(table: pa.RecordBatch, depth: int) -> np.ndarray:
    """Each row's (notification, entry[, transaction]) indices as one int64: the keys that join the
    tables (21 bits each)."""
    key = np.zeros(table.num_rows, np.int64)
    for level in ("<ntfctn>", "<entry>", "<tx>")[:depth]:
        column = table.column(level).to_numpy(zero_copy_only=False).astype(np.int64)
        if len(column) and column.max() >= 1 << 21:
            raise CannotServe(f"more than {1 << 21} {level} in one place")
        key = (key << 21) | column
    return key


def _either(first: list[Any], second: list[Any]) -> list[Any]:
    return [a or b for a, b in zip(first, second, strict=True)]


_SHARED = ("account", "reversal", "status", "booking_date", "value_date", "bank_transaction_code",
           "entry_acct_svcr_ref", "batch_msg_id", "batch_pmt_inf_id", "batch_nb_of_txs")  # fmt: skip
_FIELDS = tuple(f.name for f in dataclasses.fields(Camt054Transaction))
