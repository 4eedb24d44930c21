"""What a file is, from its content alone: the root element's namespace and message, and for a
camt.054 the credit/debit indicator of its entries. Never the file name: banks name files as they like.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from paydag.formats.xml import FormatError, iter_elements, local, namespace

ISO_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"


class FileKind(StrEnum):
    PAIN001 = "pain.001"
    PAIN002 = "pain.002"
    CAMT054 = "camt.054"
    SETTLEMENT = "settlement"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Classified:
    kind: FileKind
    version: str | None
    has_credit: bool = False
    has_debit: bool = False
    reason: str | None = None  # why a file is UNKNOWN

    @property
    def label(self) -> str:
        if self.kind is FileKind.CAMT054:
            sides = [s for s, present in (("credit", self.has_credit), ("debit", self.has_debit)) if present]
            return f"camt.054.001.{self.version} ({' + '.join(sides) or 'no entries'})"
        return (
            f"{self.kind.value}.001.{self.version}"
            if self.version and self.kind is not FileKind.SETTLEMENT
            else self.kind.value
        )


def _root(data: bytes) -> etree._Element:
    for _, element in etree.iterparse(
        io.BytesIO(data),
        events=("start",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    ):
        return element
    raise FormatError("no root element")


def classify(data: bytes, name: str = "file") -> Classified:
    """The kind and version of `data`; UNKNOWN with the reason when it is none we read."""
    if not data.strip():
        return Classified(FileKind.UNKNOWN, None, reason=f"{name}: the file is empty")
    try:
        root = _root(data)
    except (etree.XMLSyntaxError, FormatError) as exc:
        return Classified(FileKind.UNKNOWN, None, reason=f"{name}: not XML ({exc})")
    ns, tag = namespace(root.tag), local(root.tag)
    if tag in ("SALES", "SalesAccountedTransactions") and "payex.com" in ns:
        return Classified(FileKind.SETTLEMENT, "2" if tag == "SalesAccountedTransactions" else "1")
    if tag != "Document" or not ns.startswith(ISO_PREFIX):
        return Classified(
            FileKind.UNKNOWN,
            None,
            reason=f"{name}: root {tag!r} in {ns or 'no namespace'!r} is no message we read",
        )
    message = ns.removeprefix(ISO_PREFIX)  # e.g. camt.054.001.08
    family, _, version = message.rpartition(".")
    kinds = {
        "pain.001.001": FileKind.PAIN001,
        "pain.002.001": FileKind.PAIN002,
        "camt.054.001": FileKind.CAMT054,
    }
    kind = kinds.get(family)
    if kind is None:
        return Classified(FileKind.UNKNOWN, None, reason=f"{name}: {message} is no message we read")
    if kind is not FileKind.CAMT054:
        return Classified(kind, version)
    credit = debit = False
    try:
        for element in iter_elements(io.BytesIO(data), ("{*}CdtDbtInd",), name):
            if local(element.getparent().tag) == "Ntry":
                indicator = (element.text or "").strip().upper()
                credit, debit = credit or indicator == "CRDT", debit or indicator == "DBIT"
    except FormatError as exc:
        return Classified(FileKind.UNKNOWN, None, reason=str(exc))
    return Classified(kind, version, has_credit=credit, has_debit=debit)
