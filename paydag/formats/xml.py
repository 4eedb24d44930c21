"""Hardened XML reading for every file that comes from outside: no DTDs, no entities, no network.

Banks break their schemas (missing elements, mangled namespaces), so parsers match local names and
read leniently; but a document with a DOCTYPE is refused outright, since nothing we accept needs one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from lxml import etree


class FormatError(ValueError):
    """A file is not what it should be; the message names the file and the element or row."""


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def parse_document(data: bytes, name: str) -> etree._Element:
    """The root of a small document (status reports), or FormatError naming the file."""
    if not data.strip():
        raise FormatError(f"{name}: the file is empty")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"{name}: not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise FormatError(f"{name}: a DOCTYPE is not accepted")
    return root


def iter_elements(source: IO[bytes], tags: tuple[str, ...], name: str) -> Iterator[etree._Element]:
    """Stream the elements named `tags` ({namespace}local, `{*}` allowed) from a large document.

    Each element is handed over when it ends; the caller reads it, and it is freed before the next
    one, with every earlier sibling, so memory does not grow with the file.
    """
    events = etree.iterparse(
        source,
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        remove_comments=True,
    )
    try:
        first = True
        for _, element in events:
            if first:
                if element.getroottree().docinfo.doctype:
                    raise FormatError(f"{name}: a DOCTYPE is not accepted")
                first = False
            yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"{name}: not well-formed XML: {exc}") from None


def local(tag: object) -> str:
    """`{namespace}Name` → `Name`."""
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def namespace(tag: object) -> str:
    text = str(tag)
    return text[1:].split("}", 1)[0] if text.startswith("{") else ""


def ns_path(ns: str, path: str) -> str:
    """`A/B` in namespace `ns` → `{ns}A/{ns}B`, the fast exact form for find and findtext."""
    prefix = f"{{{ns}}}" if ns else ""
    return "/".join(f"{prefix}{part}" if part not in (".", "..") else part for part in path.split("/"))
