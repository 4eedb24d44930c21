"""The Arrow reader: xml2arrow (Rust, quick-xml, the GIL released) reads the rows straight into
Arrow columns, while lxml reads the rest of the document, its skeleton.

The skeleton is the file with the contents of every body currency cut out: the prolog, the root, the
summary, each body currency's start and end tag and whatever follows the last. It is a few KB, and
the lxml reader reads it, so the header, the summary, the sums and their error messages are the lxml
reader's own. Each guarantee of the lxml reader holds here too:

- a DOCTYPE is refused from the file's head (quick-xml also refuses any entity it does not know);
- root and namespace are checked on the skeleton (quick-xml matches local names only);
- well-formed to the last closing tag: quick-xml checks that every tag inside the rows pairs up, lxml
  checks the skeleton; a body currency that is never closed is named, so a file cut off anywhere
  fails instead of parsing short;
- a file in another encoding is transcoded to UTF-8 first, and the report's notes say so;
- no attribute is dropped: xml2arrow reads only the attributes it is told to, so every `=` between
  the rows is accounted for (one per attribute read, plus those inside the values read). Where some
  are not, the attribute names there are found and the rows read again with them as extra columns;
  what is still unaccounted for (an `=` in a comment, say) goes to the lxml reader (`CannotServe`).
"""

from __future__ import annotations

import codecs
import io
import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paydag.formats.settlement.layout import LAYOUTS, Layout
from paydag.formats.settlement.lxml_reader import read_lxml
from paydag.formats.settlement.report import ReportParts
from paydag.formats.xml import FormatError

_HEAD = 64 * 1024
_NAME = rb"[A-Za-z_][\w.-]*"
_ELEMENT = re.compile(rb"<(?:(" + _NAME + rb"):)?(" + _NAME + rb")")
_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ATTRIBUTE = re.compile(rb"""(?<=\s)(""" + _NAME + rb"""(?::""" + _NAME + rb""")?)\s*=\s*["']""")
_TAG_END = frozenset(b" \t\r\n>/")


class CannotServe(Exception):
    """The Arrow reader cannot read this file faithfully; the lxml reader must (the message says why)."""


@dataclass(frozen=True)
class _Block:
    """One body currency: its start tag at [start, open_end), its rows up to `close`."""

    start: int
    open_end: int
    close: int
    close_end: int


def read_arrow(data: bytes, name: str) -> tuple[ReportParts, tuple[str, ...]]:
    """The report's parts and what the reader had to do to get them (transcoding, extra attributes)."""
    notes: list[str] = []
    data = _as_utf8(data, name, notes)
    layout, prefix, root_end = _root(data, name)
    blocks = _blocks(data, layout, prefix, root_end, name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # xml2arrow releases the GIL: the rows are read on the other core while this thread reads the
        # skeleton and counts the `=` between the rows.
        rows_read = pool.submit(_parse_rows, data, layout, ())
        skeleton = read_lxml(io.BytesIO(_skeleton(data, blocks)), name)
        equals = sum(data.count(b"=", b.open_end, b.close) for b in blocks)
        rows = _result(rows_read, name)
    if skeleton.rows.num_rows:
        raise CannotServe("rows stand outside a body currency")
    if _accounted(rows) != equals:
        extra = _unread_attributes(data, blocks, layout)
        if not extra:
            raise CannotServe("the rows hold something besides attributes the layout names")
        rows = _parse_rows(data, layout, extra)
        if _accounted(rows) != equals:
            raise CannotServe("the rows hold something besides attributes")
        notes.append(f"attributes the layout does not name, kept as columns: {', '.join(extra)}")
    body = rows.column("<body>")
    if len(blocks) != len(skeleton.body_currencies) or (len(body) and pc.max(body).as_py() >= len(blocks)):
        raise CannotServe("the body currencies could not be told apart")
    skeleton.rows = pa.Table.from_batches([rows]).drop_columns(["<body>", "<row>"])
    skeleton.body_currency = pc.take(pa.array(skeleton.body_currencies, pa.string()), body)
    return skeleton, tuple(notes)


def _as_utf8(data: bytes, name: str, notes: list[str]) -> bytes:
    """The document in UTF-8 (quick-xml reads nothing else): a UTF-16 BOM or another declared
    encoding is decoded and the declaration rewritten; a UTF-8 BOM is dropped."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    encoding = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        declared = _ENCODING.match(data[:200])
        if declared and codecs.lookup(declared.group(1).decode("ascii")).name != "utf-8":
            encoding = declared.group(1).decode("ascii")
    if encoding is None:
        return data
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FormatError(f"{name}: not {encoding} text as it declares ({exc})") from None
    text = re.sub(r"""^(<\?xml[^>]*?\sencoding\s*=\s*["'])[^"']+""", r"\g<1>UTF-8", text.lstrip("\ufeff"))
    notes.append(f"transcoded from {encoding} to UTF-8")
    return text.encode("utf-8")


def _root(data: bytes, name: str) -> tuple[Layout, bytes, int]:
    """The layout the root element names (its local name; the namespace is the skeleton's to check),
    the root's prefix (b"" or b"p:") and where its start tag ends."""
    head, at = data[:_HEAD], 0
    while True:
        at = head.find(b"<", at)
        if at < 0:
            raise CannotServe("no root element in the file's head")
        if head.startswith(b"<?", at):
            at = head.find(b"?>", at) + 2
        elif head.startswith(b"<!--", at):
            at = head.find(b"-->", at) + 3
        elif head.startswith(b"<!", at):
            raise FormatError(f"{name}: a DOCTYPE is not accepted")
        else:
            break
        if at < 2:
            raise CannotServe("the file's head is not closed")
    match = _ELEMENT.match(head, at)
    if match is None:
        raise CannotServe("the root element could not be read")
    local = match.group(2).decode()
    layout = next((lo for lo in LAYOUTS if lo.root == local), None)
    if layout is None:
        raise CannotServe(f"root {local!r} is not a transaction list's")
    prefix = match.group(1) + b":" if match.group(1) else b""
    return layout, prefix, head.find(b">", at) + 1


def _find_tag(data: bytes, tag: bytes, at: int, end: int = -1) -> int:
    """The next start tag `tag` (with its prefix) at or after `at`, or -1."""
    while True:
        found = data.find(tag, at, len(data) if end < 0 else end)
        if found < 0 or data[found + len(tag)] in _TAG_END:
            return found
        at = found + 1


def _blocks(data: bytes, layout: Layout, prefix: bytes, root_end: int, name: str) -> list[_Block]:
    """Every body currency, in document order, the summary's currencies passed over."""
    summary_open = _find_tag(data, b"<" + prefix + layout.summary.encode(), root_end)
    summary_close = (
        data.find(b"</" + prefix + layout.summary.encode() + b">", summary_open) if summary_open >= 0 else -1
    )
    open_tag = b"<" + prefix + layout.body.encode()
    close_tag = b"</" + prefix + layout.body.encode() + b">"
    blocks, at = [], root_end
    while (start := _find_tag(data, open_tag, at)) >= 0:
        if summary_open <= start < summary_close:
            at = summary_close
            continue
        open_end = data.find(b">", start) + 1
        if data[open_end - 2 : open_end] == b"/>":
            blocks.append(_Block(start, open_end, open_end, open_end))
        else:
            close = data.find(close_tag, open_end)
            if close < 0:
                raise FormatError(
                    f"{name}: not well-formed XML: <{layout.body}> at byte {start} is never closed "
                    "(is the file cut off?)"
                )
            blocks.append(_Block(start, open_end, close, close + len(close_tag)))
        at = blocks[-1].close_end
    return blocks


def _skeleton(data: bytes, blocks: list[_Block]) -> bytes:
    pieces, at = [], 0
    for block in blocks:
        pieces.append(data[at : block.open_end])
        at = block.close
    pieces.append(data[at:])
    return b"".join(pieces)


def _parse_rows(data: bytes, layout: Layout, extra: tuple[str, ...]) -> pa.RecordBatch:
    from xml2arrow.exceptions import Xml2ArrowError

    try:
        return _parser(layout, extra).parse(data)["rows"]
    except Xml2ArrowError as exc:
        raise FormatError(f"not well-formed XML: {exc}") from None
    except TypeError as exc:  # xml2arrow's answer to bytes that are not UTF-8
        raise CannotServe(f"xml2arrow could not decode the file ({exc})") from None


def _result(future, name: str) -> pa.RecordBatch:
    try:
        return future.result()
    except FormatError as exc:
        raise FormatError(f"{name}: {exc}") from None


def _accounted(rows: pa.RecordBatch) -> int:
    """The `=` the rows read account for: one per attribute, plus those inside the values (counted in
    each column's value buffer)."""
    total = 0
    for field in rows.schema:
        if field.name.startswith("<"):
            continue
        column = rows.column(field.name)
        total += len(column) - column.null_count
        _, offsets, values = column.buffers()
        if values is None:
            continue
        bounds = np.frombuffer(offsets, dtype=np.int32)[column.offset : column.offset + len(column) + 1]
        used = np.frombuffer(values, dtype=np.uint8)[bounds[0] : bounds[-1]]
        total += int(np.count_nonzero(used == ord("=")))
    return total


def _unread_attributes(data: bytes, blocks: list[_Block], layout: Layout) -> tuple[str, ...]:
    """The names of the attributes inside the rows that the layout does not name, in order of first
    appearance (a slow scan, run only when the count says there are some)."""
    found: dict[str, None] = {}
    view = memoryview(data)
    for block in blocks:
        for match in _ATTRIBUTE.finditer(view[block.open_end : block.close]):
            attribute = match.group(1).decode()
            if attribute not in layout.columns and ":" not in attribute:
                found.setdefault(attribute)
    return tuple(found)


@lru_cache(maxsize=16)
def _parser(layout: Layout, extra: tuple[str, ...]):
    """An xml2arrow parser for the rows: every body currency a boundary (`<body>`, its ordinal among
    the root's body currencies), every row attribute a nullable text column."""
    from xml2arrow import XmlToArrowParser  # a Rust extension: loaded when first used

    body = f"/{layout.root}/{layout.body}"
    config = {
        "parser_options": {"trim_text": False},
        "tables": [
            {"name": "bodies", "xml_path": f"/{layout.root}", "levels": ["body"], "fields": []},
            {"name": "rows", "xml_path": body, "levels": ["body", "row"], "fields": [
                {"name": attribute, "xml_path": f"{body}/{layout.row}/@{attribute}", "data_type": "Utf8",
                 "nullable": True}
                for attribute in (*layout.columns, *extra)
            ]},
        ],
    }  # fmt: skip
    # xml2arrow reads its mapping from a file (JSON is YAML) and compiles it once, here.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"settlement-v{layout.version}.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")
        return XmlToArrowParser(str(path))
