"""The lxml reader: a streaming iterparse of the whole document, elements freed as they are read.

It serves where the Arrow reader cannot (see arrow_reader), and it reads the Arrow reader's skeleton
(the document without its rows), so that the header, the summary and every error message about them
come from one place.
"""

from __future__ import annotations

from typing import IO

import pandas as pd
import pyarrow as pa
from lxml import etree

from paydag.formats.settlement.layout import Layout, layout_for
from paydag.formats.settlement.report import ReportParts, ServiceSummary, _minor
from paydag.formats.xml import FormatError, local

_TAGS = tuple(f"{{*}}{name}" for layout in ("SUMMARY CURRENCY TRAN", "Summary Currency Transaction")
              for name in layout.split())  # fmt: skip


def read_lxml(source: IO[bytes], name: str) -> ReportParts:
    """Parse a transaction list; FormatError (naming the file and where) when it cannot be read."""
    return _Reader(name).read(source)


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.layout: Layout | None = None
        # Rows are grouped by their attribute names (a file has a few shapes: card rows, credits without
        # VAT, …); each shape becomes one DataFrame built in C from lists of values.
        self.shapes: dict[tuple[str, ...], tuple[list[int], list[list[str]]]] = {}
        self.parent_currency: list[str] = []
        self.count = 0
        self.summary: list[ServiceSummary] = []
        self.currency_sums: dict[str, int] = {}
        self.body_currencies: list[str] = []
        self.header: dict[str, str] = {}
        self._current = ""
        self._parent: etree._Element | None = None

    def read(self, source: IO[bytes]) -> ReportParts:
        """One pass: rows, the summary and the body currencies when they end; every row is freed with
        the rows before it, so memory holds the columns, not the tree."""
        events = etree.iterparse(
            source, events=("end",), tag=_TAGS, resolve_entities=False, no_network=True,
            load_dtd=False, huge_tree=True, remove_comments=True,
        )  # fmt: skip
        kinds: dict[str, str] = {}
        root: etree._Element | None = None
        try:
            for _, element in events:
                if root is None:
                    tree = element.getroottree()
                    if tree.docinfo.doctype:
                        raise FormatError(f"{self.name}: a DOCTYPE is not accepted")
                    root = tree.getroot()
                    layout = self._root(root)
                    ns = f"{{{layout.namespace}}}"
                    kinds = {
                        ns + layout.row: "row",
                        ns + layout.summary: "summary",
                        ns + layout.body: "currency",
                    }
                kind = kinds.get(element.tag)
                if kind == "row":
                    parent = element.getparent()
                    if parent is not self._parent:  # the body currency the rows stand in (v1 rows have none)
                        self._parent = parent
                        self._current = parent.get(layout.currency_code) or ""
                    self._row(element)
                    element.clear(keep_tail=False)
                    while element.getprevious() is not None:
                        del parent[0]
                elif kind == "summary":
                    self._summary(element, layout)
                    element.clear()
                elif kind == "currency" and element.getparent() is root:
                    self._currency(element, layout)
        except etree.XMLSyntaxError as exc:
            raise FormatError(f"{self.name}: not well-formed XML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise FormatError(f"{self.name}: not UTF-8 text ({exc.reason})") from None
        if root is None:
            raise FormatError(f"{self.name}: no settlement data: not a Swedbank Pay transaction list")
        return ReportParts(
            layout=layout,
            header=self.header,
            currency_sums=self.currency_sums,
            summary=self.summary,
            rows=self._rows(),
            body_currency=pa.array(self.parent_currency, pa.string()),
            body_currencies=self.body_currencies,
        )

    def _root(self, root: etree._Element) -> Layout:
        tag, ns = local(root.tag), etree.QName(root).namespace
        layout = layout_for(tag, ns)
        if layout is None:
            raise FormatError(
                f"{self.name}: root {tag!r} in {ns!r} is not a Swedbank Pay transaction list (v1 or v2)"
            )
        if layout.version == "2" and root.get("Version") not in (None, "2.0"):
            raise FormatError(f"{self.name}: Version {root.get('Version')!r}: only 2.0 is known")
        self.header = dict(root.attrib)
        if not self.header.get("AccountingNo"):
            raise FormatError(f"{self.name}: {tag} has no AccountingNo")
        return layout

    def _currency(self, element: etree._Element, layout: Layout) -> None:
        code = element.get(layout.currency_code) or ""
        self.body_currencies.append(code)
        self.currency_sums[code] = _minor(element.get("Sum", ""), f"{self.name}: currency {code} @Sum")

    def _row(self, element: etree._Element) -> None:
        keys = tuple(element.keys())
        shape = self.shapes.get(keys)
        if shape is None:
            shape = self.shapes[keys] = ([], [])
        shape[0].append(self.count)
        shape[1].append(element.values())
        self.parent_currency.append(self._current)
        self.count += 1

    def _summary(self, element: etree._Element, layout: Layout) -> None:
        for currency in element:
            code = currency.get(layout.currency_code, "")
            for service_type in currency:
                type_name = service_type.get(layout.service_type_name, "")
                for service in service_type:
                    where = f"{self.name}: summary service {service.get(layout.service_name)}"
                    try:
                        debit = int(service.get(layout.debit_count, ""))
                        credit = int(service.get("NoOfCredit", ""))
                    except ValueError:
                        raise FormatError(f"{where}: the debit and credit counts are not numbers") from None
                    self.summary.append(
                        ServiceSummary(
                            currency=code,
                            service_type=type_name,
                            service=service.get(layout.service_name, ""),
                            debit_count=debit,
                            credit_count=credit,
                            amount_minor=_minor(service.get("Amount", ""), where),
                            from_date=service.get("FromDate", ""),
                            to_date=service.get("ToDate", ""),
                        )
                    )

    def _rows(self) -> pa.Table:
        """The rows in file order, one text column per attribute any row has."""
        parts = [
            pd.DataFrame(values, columns=list(keys), dtype=object).assign(_row=numbers)
            for keys, (numbers, values) in self.shapes.items()
        ]
        if not parts:
            return pa.table({})
        frame = pd.concat(parts, ignore_index=True).sort_values("_row", kind="stable").drop(columns="_row")
        return pa.Table.from_pandas(frame.astype(object), preserve_index=False)
