"""Swedbank Pay settlement reports: the Transaction List XML, v1 (`SALES`) and v2
(`SalesAccountedTransactions`), into a typed DataFrame with every row joined to its summary line.

Streamed with lxml's iterparse (elements freed as they are read) and gathered column by column.
Amounts and VAT become int64 minor units (credits negative); every identifier stays a string
(leading zeros kept); times are parsed from `YYYY-MM-DD hh:mm:ss` (local time, no zone, as written).
The XML is the system of record; the XLSX the portal also offers is refused (it loses leading zeros
and types).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import IO

import pandas as pd
from lxml import etree

from paydag.formats.xml import FormatError, local
from paydag.money import from_minor

V1_NAMESPACE = "http://www.payex.com/xml/SalesAccountedTransactions.xsd"
V2_NAMESPACE = "http://www.payex.com/xml/SalesAccountedTransactions%5B2.0%5D.xsd"  # literally %5B2.0%5D

# File attribute → column. Anything a file carries beyond these is kept under its own name.
V1_COLUMNS = {
    "TransactionNo": "transaction_no",
    "OrderId": "order_id",
    "PayexBatchNo": "batch_no",
    "PayExAccountNo": "account_no",
    "Type": "service",
    "Provider": "provider",
    "Amount": "amount_text",
    "VATAmount": "vat_text",
    "VatPercentage": "vat_percentage",
    "DateCreated": "date_created",
    "DateModified": "date_modified",
    "MerchantProductNo": "product",
    "Description": "description",
    "SalesChannel": "sales_channel",
    "CreditCardBatchNo": "credit_card_batch_no",
    "DirectDebitBankRef": "direct_debit_bank_ref",
    "Reference": "external_reference",
    "ReferencedTransaction": "referenced_transaction",
    "PointOfSale": "point_of_sale",
}
V2_COLUMNS = {
    "PayexTransactionNo": "transaction_no",
    "OrderIdentity": "order_id",
    "TransactionIdentity": "transaction_identity",
    "PayexBatchNo": "batch_no",
    "PayExAccountNo": "account_no",
    "ServiceName": "service",
    "Provider": "provider",
    "Amount": "amount_text",
    "Currency": "currency",
    "VATAmount": "vat_text",
    "VatPercentage": "vat_percentage",
    "DateCreated": "date_created",
    "DateModified": "date_modified",
    "ProductCategory": "product",
    "Description": "description",
    "SalesChannel": "sales_channel",
    "CreditCardBatchNo": "credit_card_batch_no",
    "ExternalTransactionReference": "external_reference",
    "ReferencedTransaction": "referenced_transaction",
    "Subsite": "subsite",
    "SubsiteDescription": "subsite_description",
    "Brand": "brand",
    "PointOfSale": "point_of_sale",
}
REQUIRED = ("transaction_no", "service", "amount_text", "currency", "date_created", "date_modified")
# Columns every table has, empty where a file leaves the attribute out (v2 files may omit OrderIdentity).
ALWAYS = (*REQUIRED, "order_id", "referenced_transaction", "external_reference")
AMOUNT_PATTERN = r"-?\d+\.\d{2}"


@dataclass(frozen=True)
class ServiceSummary:
    currency: str
    service_type: str
    service: str
    debit_count: int
    credit_count: int
    amount_minor: int
    from_date: str
    to_date: str


@dataclass
class SettlementReport:
    version: str  # "1" or "2"
    accounting_no: str
    accounting_date: str | None
    contracting_party: str | None
    total_transactions: int | None  # v2 @TotalNoOfTransactions
    currency_sums_minor: dict[str, int]
    summary: list[ServiceSummary]
    rows: pd.DataFrame = field(repr=False)

    def parameters(self) -> dict[str, object]:
        """Header values for the expectation suites' $PARAMETERs."""
        from paydag.money import currency_codes

        params: dict[str, object] = {
            "row_count": self.total_transactions if self.total_transactions is not None else len(self.rows),
            "currency_sum_minor": sum(self.currency_sums_minor.values()),
            "iso4217": currency_codes(),
        }
        return params


def _minor(text: str, where: str) -> int:
    """`-4094.00` → -409400, exactly; the file promises two decimals."""
    sign = -1 if text.startswith("-") else 1
    whole, dot, fraction = text.lstrip("-").partition(".")
    if not (dot and whole.isdigit() and len(fraction) == 2 and fraction.isdigit()):
        raise FormatError(f"{where}: {text!r} is not an amount with two decimals")
    return sign * int(whole + fraction)


def _refuse_other_inputs(data: bytes, name: str) -> None:
    if data[:4] == b"PK\x03\x04":
        raise FormatError(
            f"{name}: this is an XLSX (or other ZIP) file; the XLSX transaction list loses leading zeros "
            "and types: give the XML transaction list instead"
        )
    if not data.strip():
        raise FormatError(f"{name}: the file is empty")


def parse_settlement(source: bytes | IO[bytes], name: str = "settlement.xml") -> SettlementReport:
    """Parse a transaction list; FormatError (naming the file and where) when it cannot be read."""
    if isinstance(source, bytes):
        _refuse_other_inputs(source, name)
        source = io.BytesIO(source)
    else:
        head = source.read(4)
        source.seek(0)
        if head == b"PK\x03\x04":
            _refuse_other_inputs(head, name)
    return _Reader(name).read(source)


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.version = ""
        # Rows are grouped by their attribute names (a file has a few shapes: card rows, credits without
        # VAT, …); each shape becomes one DataFrame built in C from lists of values.
        self.shapes: dict[tuple[str, ...], tuple[list[int], list[list[str]]]] = {}
        self.parent_currency: list[str] = []
        self.count = 0
        self.summary: list[ServiceSummary] = []
        self.currency_sums: dict[str, int] = {}
        self.header: dict[str, str] = {}
        self._current = ""
        self._parent: etree._Element | None = None

    def read(self, source: IO[bytes]) -> SettlementReport:
        """One pass: a body currency is read when it starts (its @Sum), rows and the summary when they
        end; every row is freed with the rows before it, so memory holds the columns, not the tree."""
        tags = (
            "{*}SUMMARY", "{*}CURRENCY", "{*}TRAN",  # v1
            "{*}Summary", "{*}Currency", "{*}Transaction",  # v2
        )  # fmt: skip
        events = etree.iterparse(
            source, events=("end",), tag=tags, resolve_entities=False, no_network=True,
            load_dtd=False, huge_tree=True, remove_comments=True,
        )  # fmt: skip
        seen = False
        kinds: dict[str, str] = {}
        try:
            for _, element in events:
                if not seen:
                    tree = element.getroottree()
                    if tree.docinfo.doctype:
                        raise FormatError(f"{self.name}: a DOCTYPE is not accepted")
                    root = tree.getroot()
                    self._root(root)
                    ns = etree.QName(root).namespace
                    kinds = {
                        f"{{{ns}}}{tag}": kind
                        for tag, kind in (("TRAN", "row"), ("Transaction", "row"), ("SUMMARY", "summary"),
                                          ("Summary", "summary"), ("CURRENCY", "currency"), ("Currency", "currency"))
                    }  # fmt: skip
                    seen = True
                kind = kinds.get(element.tag)
                if kind == "row":
                    parent = element.getparent()
                    if parent is not self._parent:  # the body currency the rows stand in (v1 rows have none)
                        self._parent, self._current = (
                            parent,
                            parent.get("Name") or parent.get("Currency") or "",
                        )
                    self._row(element)
                    element.clear(keep_tail=False)
                    while element.getprevious() is not None:
                        del parent[0]
                elif kind == "summary":
                    self._summary(element)
                    element.clear()
                elif kind == "currency" and element.getparent() is root:
                    self._currency(element)
        except etree.XMLSyntaxError as exc:
            raise FormatError(f"{self.name}: not well-formed XML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise FormatError(f"{self.name}: not UTF-8 text ({exc.reason})") from None
        if not seen:
            raise FormatError(f"{self.name}: no settlement data: not a Swedbank Pay transaction list")
        return self._report()

    def _currency(self, element: etree._Element) -> None:
        code = element.get("Name") or element.get("Currency") or ""
        self.currency_sums[code] = _minor(element.get("Sum", ""), f"{self.name}: currency {code} @Sum")

    def _root(self, root: etree._Element) -> None:
        tag, ns = local(root.tag), etree.QName(root).namespace
        if tag == "SALES" and ns == V1_NAMESPACE:
            self.version, self.mapping = "1", V1_COLUMNS
        elif tag == "SalesAccountedTransactions" and ns == V2_NAMESPACE:
            self.version, self.mapping = "2", V2_COLUMNS
            if root.get("Version") not in (None, "2.0"):
                raise FormatError(f"{self.name}: Version {root.get('Version')!r}: only 2.0 is known")
        else:
            raise FormatError(
                f"{self.name}: root {tag!r} in {ns!r} is not a Swedbank Pay transaction list (v1 or v2)"
            )
        self.header = dict(root.attrib)
        if not self.header.get("AccountingNo"):
            raise FormatError(f"{self.name}: {tag} has no AccountingNo")

    def _row(self, element: etree._Element) -> None:
        keys = tuple(element.keys())
        shape = self.shapes.get(keys)
        if shape is None:
            shape = self.shapes[keys] = ([], [])
        shape[0].append(self.count)
        shape[1].append(element.values())
        self.parent_currency.append(self._current)
        self.count += 1

    def _summary(self, element: etree._Element) -> None:
        v1 = self.version == "1"
        for currency in element:
            code = currency.get("Name" if v1 else "Currency", "")
            for service_type in currency:
                type_name = service_type.get("Name" if v1 else "ServiceType", "")
                for service in service_type:
                    where = (
                        f"{self.name}: summary service {service.get('Name') or service.get('ServiceName')}"
                    )
                    try:
                        debit = int(service.get("NoOfDebet" if v1 else "NoOfDebit", ""))
                        credit = int(service.get("NoOfCredit", ""))
                    except ValueError:
                        raise FormatError(f"{where}: the debit and credit counts are not numbers") from None
                    self.summary.append(
                        ServiceSummary(
                            currency=code,
                            service_type=type_name,
                            service=service.get("Name" if v1 else "ServiceName", ""),
                            debit_count=debit,
                            credit_count=credit,
                            amount_minor=_minor(service.get("Amount", ""), where),
                            from_date=service.get("FromDate", ""),
                            to_date=service.get("ToDate", ""),
                        )
                    )

    def _report(self) -> SettlementReport:
        parts = [
            pd.DataFrame(values, columns=[self.mapping.get(k, k) for k in keys], dtype=object).assign(
                _row=numbers
            )
            for keys, (numbers, values) in self.shapes.items()
        ]
        if parts:
            frame = (
                pd.concat(parts, ignore_index=True).sort_values("_row", kind="stable").drop(columns="_row")
            )
            frame = frame.reset_index(drop=True)
        else:
            frame = pd.DataFrame(index=pd.RangeIndex(0))
        for column in ALWAYS:
            if column not in frame:
                frame[column] = None
        frame = frame.astype("string")
        # v1 rows have no currency of their own: it is their CURRENCY parent's.
        frame["currency"] = frame["currency"].fillna(pd.Series(self.parent_currency, dtype="string"))
        frame = _typed(frame)
        frame = _join_summary(frame, self.summary, self.currency_sums)
        total = self.header.get("TotalNoOfTransactions")
        return SettlementReport(
            version=self.version,
            accounting_no=self.header["AccountingNo"],
            accounting_date=self.header.get("AccountingDate"),
            contracting_party=self.header.get("ContractingParty"),
            total_transactions=int(total) if total and total.isdigit() else None,
            currency_sums_minor=self.currency_sums,
            summary=self.summary,
            rows=frame,
        )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Explicit dtypes: money as Int64 minor units, times as datetime64, identifiers as strings."""
    for text, minor in (("amount_text", "amount_minor"), ("vat_text", "vat_minor")):
        if text not in frame:
            frame[minor] = pd.array([None] * len(frame), dtype="Int64")
            continue
        well_formed = frame[text].str.fullmatch(AMOUNT_PATTERN).fillna(False).astype(bool)
        digits = frame[text].where(well_formed).str.replace(".", "", regex=False)
        frame[minor] = digits.astype("Int64")  # text → exact integers; never through a float
    for column in ("date_created", "date_modified"):
        frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    frame["is_credit"] = frame["amount_minor"] < 0
    return frame


def _join_summary(
    frame: pd.DataFrame, summary: list[ServiceSummary], currency_sums: dict[str, int]
) -> pd.DataFrame:
    """Each row with its summary line (by currency and service name) and its service's actual totals,
    so that the expectations can compare them row by row."""
    lines = pd.DataFrame(
        [
            {
                "currency": s.currency,
                "service": s.service,
                "service_type": s.service_type,
                "summary_debit_count": s.debit_count,
                "summary_credit_count": s.credit_count,
                "summary_amount_minor": s.amount_minor,
                "service_from": _bound(s.from_date, end=False),
                "service_to": _bound(s.to_date, end=True),
            }
            for s in summary
        ],
        columns=["currency", "service", "service_type", "summary_debit_count", "summary_credit_count",
                 "summary_amount_minor", "service_from", "service_to"],
    )  # fmt: skip
    lines = lines.astype({"currency": "string", "service": "string", "service_type": "string"})
    for column in ("summary_debit_count", "summary_credit_count", "summary_amount_minor"):
        lines[column] = lines[column].astype("Int64")
    lines["service_from"] = pd.to_datetime(lines["service_from"])
    lines["service_to"] = pd.to_datetime(lines["service_to"])
    joined = frame.merge(lines, on=["currency", "service"], how="left", validate="many_to_one")
    groups = joined.groupby(["currency", "service"], dropna=False)
    joined["service_debit_count"] = (
        groups["is_credit"].transform(lambda c: int((~c.fillna(False)).sum())).astype("Int64")
    )
    joined["service_credit_count"] = (
        groups["is_credit"].transform(lambda c: int(c.fillna(False).sum())).astype("Int64")
    )
    joined["service_amount_minor"] = groups["amount_minor"].transform("sum").astype("Int64")
    joined["currency_rows_sum_minor"] = (
        joined.groupby("currency", dropna=False)["amount_minor"].transform("sum").astype("Int64")
    )
    joined["currency_sum_minor"] = joined["currency"].map(currency_sums).astype("Int64")
    return joined


def _bound(text: str, *, end: bool) -> pd.Timestamp | None:
    """v2 summaries give dates (the whole day counts); v1 gives exact times."""
    if not text:
        return None
    if len(text) == 10:
        return pd.Timestamp(text) + (
            pd.Timedelta(days=1) - pd.Timedelta(seconds=1) if end else pd.Timedelta(0)
        )
    return pd.Timestamp(text)


def service_totals(rows: pd.DataFrame) -> list[dict[str, object]]:
    """Rows and amount per currency and service, the amount as a decimal string in major units."""
    grouped = rows.groupby(["currency", "service"], dropna=False)["amount_minor"].agg(["count", "sum"])
    return [
        {"currency": currency, "service": service, "rows": int(r["count"]),
         "sum": f"{from_minor(int(r['sum']), currency):f}"}
        for (currency, service), r in grouped.iterrows()
    ]  # fmt: skip
