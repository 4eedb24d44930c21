"""What a file is, from its content alone: the root element's namespace and message, and for a
camt.054 the credit/debit indicator of its entries. Never the file name: banks name files as they like.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from paydag.formats.xml import FormatError, iter_elements, local, namespace

ISO_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"


class FileKind(StrEnum):
    PAIN001 = "pain.001"
    PAIN002 = "pain.002"
    CAMT054 = "camt.054"
    CAMT053 = "camt.053"
    SETTLEMENT = "settlement"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Classified:
    kind: FileKind
    version: str | None
    has_credit: bool = False
    has_debit: bool = False
    reason: str | None = None  # why a file is UNKNOWN
    warnings: tuple[str, ...] = ()  # what was wrong with how the file said what it is

    @property
    def label(self) -> str:
        if self.kind is FileKind.CAMT054:
            sides = [s for s, present in (("credit", self.has_credit), ("debit", self.has_debit)) if present]
            return f"camt.054.001.{self.version or 'xx'} ({' + '.join(sides) or 'no entries'})"
        return (
            f"{self.kind.value}.001.{self.version}"
            if self.version and self.kind is not FileKind.SETTLEMENT
            else self.kind.value
        )


def _root_and_message(data: bytes) -> tuple[etree._Element, str | None]:
    """The root element and the local name of its first child element (the message), read from the
    start of the file only."""
    root = None
    for _, element in etree.iterparse(
        io.BytesIO(data), events=("start",), resolve_entities=False, no_network=True, load_dtd=False,
        huge_tree=True,
    ):  # fmt: skip
        if root is None:
            root = element
            continue
        return root, local(element.tag)
    if root is None:
        raise FormatError("no root element")
    return root, None


# The messages we read, by family: the versions ISO has published, and the element under Document that
# names the message whatever the namespace says (banks drop it, misspell it or use their own).
FAMILIES: dict[str, tuple[FileKind, str, range]] = {
    "pain.001.001": (FileKind.PAIN001, "CstmrCdtTrfInitn", range(3, 13)),
    "pain.002.001": (FileKind.PAIN002, "CstmrPmtStsRpt", range(3, 15)),
    "camt.054.001": (FileKind.CAMT054, "BkToCstmrDbtCdtNtfctn", range(2, 14)),
    "camt.053.001": (FileKind.CAMT053, "BkToCstmrStmt", range(2, 14)),
}
_BY_ELEMENT = {element: family for family, (_, element, _) in FAMILIES.items()}
_MESSAGE = re.compile(r"([a-z]{4}\.\d{3}\.\d{3})\.(\d{2})")  # any ISO 20022 message: family, version


def message_of(root: etree._Element, message_element: str | None) -> tuple[str | None, str | None, list[str]]:
    """The family (pain.002.001, …) and version of an ISO 20022 Document, with what was wrong with
    how it said so: read from the namespace when it names a message (ISO's, or a bank's variant that
    keeps the element names), else from the message element under Document."""
    ns = namespace(root.tag)
    warnings: list[str] = []
    found = _MESSAGE.search(ns)
    by_element = _BY_ELEMENT.get(message_element or "")
    if found:
        family, version = found.group(1), found.group(2)
        if by_element and by_element != family:
            warnings.append(
                f"the namespace {ns!r} says {family}.{version}, the message element {message_element} says {by_element}: read as {by_element}"
            )
            return by_element, None, warnings
        if not ns.startswith(ISO_PREFIX):
            warnings.append(f"a national variant's namespace {ns!r}: read with the ISO element names")
        return family, version, warnings
    if by_element:
        misspelt = [k for k in root.attrib if str(k).lower() == "xmlns"]
        if misspelt:
            said = f"declares its namespace as {misspelt[0]}={root.get(misspelt[0])!r}, which XML does not read as one"
        elif not ns:
            said = "has no namespace"
        else:
            said = f"has the namespace {ns!r}, which names no message"
        warnings.append(f"the root {said}: read by its element names as {by_element}")
        return by_element, None, warnings
    return None, None, warnings


def classify(data: bytes, name: str = "file") -> Classified:
    """The kind and version of `data`; UNKNOWN with the reason when it is none we read."""
    if not data.strip():
        return Classified(FileKind.UNKNOWN, None, reason=f"{name}: the file is empty")
    try:
        root, first_child = _root_and_message(data)
    except (etree.XMLSyntaxError, FormatError) as exc:
        return Classified(FileKind.UNKNOWN, None, reason=f"{name}: not XML ({exc})")
    ns, tag = namespace(root.tag), local(root.tag)
    if tag in ("SALES", "SalesAccountedTransactions") and "payex.com" in ns:
        return Classified(FileKind.SETTLEMENT, "2" if tag == "SalesAccountedTransactions" else "1")
    family, version, warnings = message_of(root, first_child) if tag == "Document" else (None, None, [])
    if family is None or family not in FAMILIES:
        what = f"{family}.{version}" if family else f"root {tag!r} in {ns or 'no namespace'!r}"
        return Classified(FileKind.UNKNOWN, None, reason=f"{name}: {what} is no message we read")
    kind, _, known = FAMILIES[family]
    if version is not None and int(version) not in known:
        newest = f"{known[-1]:02d}"
        warnings.append(
            f"{family}.{version} is newer than the versions paydag knows: read with the layout of .{newest}"
        )
    warnings = [f"{name}: {w}" for w in warnings]
    if kind is not FileKind.CAMT054:
        return Classified(kind, version, warnings=tuple(warnings))
    credit = debit = False
    try:
        for element in iter_elements(io.BytesIO(data), ("{*}CdtDbtInd",), name):
            if local(element.getparent().tag) == "Ntry":
                indicator = (element.text or "").strip().upper()
                credit, debit = credit or indicator == "CRDT", debit or indicator == "DBIT"
    except FormatError as exc:
        return Classified(FileKind.UNKNOWN, None, reason=str(exc))
    return Classified(kind, version, has_credit=credit, has_debit=debit, warnings=tuple(warnings))
