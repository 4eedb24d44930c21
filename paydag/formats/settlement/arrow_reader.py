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

import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paydag.formats.columnar import (
    HEAD,
    CannotServe,
    as_utf8,
    parse,
    parse_file,
    root_element,
)
from paydag.formats.settlement.layout import LAYOUTS, Layout
from paydag.formats.settlement.lxml_reader import read_lxml
from paydag.formats.settlement.report import ReportParts
from paydag.formats.settlement.rows import rows_parser
from paydag.formats.xml import FormatError

_NAME = rb"[A-Za-z_][\w.-]*"
_ATTRIBUTE = re.compile(rb"""(?<=\s)(""" + _NAME + rb"""(?::""" + _NAME + rb""")?)\s*=\s*["']""")
_TAG_END = frozenset(b" \t\r\n>/")


@dataclass(frozen=True)
class _Block:
    """One body currency: its start tag at [start, open_end), its rows up to `close`."""

    start: int
    open_end: int
    close: int
    close_end: int


def read_arrow(source: bytes | Path, name: str) -> tuple[ReportParts, tuple[str, ...]]:
    """The report's parts and what the reader had to do to get them (transcoding, extra attributes).

    A path is read where it lies: xml2arrow streams it and the skeleton is read piece by piece, so
    the file's bytes are never all in memory (unless they must be transcoded)."""
    notes: list[str] = []
    document = _document(source, name, notes)
    layout, prefix, root_end = _root(document.head(), name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # xml2arrow releases the GIL: the rows are read on the other core while this thread finds the
        # body currencies, counts the `=` between the rows and reads the skeleton. A file whose tags
        # do not pair up fails here with its own message, whatever xml2arrow makes of it.
        rows_read = pool.submit(_parse_rows, document.for_xml2arrow, layout, ())
        blocks = _blocks(document, layout, prefix, root_end, name)
        skeleton_bytes = _skeleton(document, blocks)
        skeleton = read_lxml(io.BytesIO(skeleton_bytes), name)
        equals = document.equals() - skeleton_bytes.count(b"=")  # those inside the body currencies
        rows = _result(rows_read, name)
    if skeleton.rows.num_rows:
        raise CannotServe("rows stand outside a body currency")
    if _accounted(rows) != equals:
        document = document.in_memory()
        extra = _unread_attributes(document.data, blocks, layout)
        if not extra:
            raise CannotServe("the rows hold something besides attributes the layout names")
        rows = _parse_rows(document.data, layout, extra)
        if _accounted(rows) != equals:
            raise CannotServe("the rows hold something besides attributes")
        notes.append(f"attributes the layout does not name, kept as columns: {', '.join(extra)}")
    body = rows.column("<body>")
    if len(blocks) != len(skeleton.body_currencies) or (len(body) and pc.max(body).as_py() >= len(blocks)):
        raise CannotServe("the body currencies could not be told apart")
    skeleton.rows = pa.Table.from_batches([rows]).drop_columns(["<body>", "<row>"])
    skeleton.body_currency = pc.take(pa.array(skeleton.body_currencies, pa.string()), body)
    return skeleton, tuple(notes)


class _InMemory:
    """The document as bytes (given so, or transcoded)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def for_xml2arrow(self) -> bytes:
        return self.data  # parsed zero-copy

    def head(self) -> bytes:
        return self.data[:HEAD]

    def read(self, start: int, end: int) -> bytes:
        return self.data[start:end]

    def size(self) -> int:
        return len(self.data)

    def find_all(self, tags: tuple[bytes, ...]) -> dict[bytes, list[int]]:
        found: dict[bytes, set[int]] = {tag: set() for tag in tags}
        _find_tags(self.data, 0, tags, found)
        return {tag: sorted(hits) for tag, hits in found.items()}

    def equals(self) -> int:
        return self.data.count(b"=")

    def in_memory(self) -> _InMemory:
        return self


class _OnDisk:
    """The document as a file, read in chunks: its bytes are never all in memory at once."""

    CHUNK = 2**20

    def __init__(self, path: Path) -> None:
        self.path = path
        self._equals: int | None = None

    @property
    def for_xml2arrow(self) -> str:
        return str(self.path)  # streamed by xml2arrow's own buffered reader

    def head(self) -> bytes:
        return self.read(0, HEAD)

    def read(self, start: int, end: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(start)
            return f.read(max(0, end - start))

    def size(self) -> int:
        return self.path.stat().st_size

    def find_all(self, tags: tuple[bytes, ...]) -> dict[bytes, list[int]]:
        """Every place each tag starts, in one pass (which also counts the `=`). The chunks are read
        into one buffer, reused: a new bytes object a chunk would be fresh memory each time, its
        pages faulted in (a third of the pass's time). Each chunk is read behind the last bytes of
        the one before (as many as the longest tag), so no tag is missed where two chunks meet;
        positions are kept once."""
        found: dict[bytes, set[int]] = {tag: set() for tag in tags}
        overlap = max(map(len, tags))
        buffer = bytearray(overlap + self.CHUNK)
        view = memoryview(buffer)
        equals, offset, kept = 0, 0, 0  # `kept`: bytes of the chunk before, at the buffer's start
        with self.path.open("rb") as f:
            while read := f.readinto(view[kept : kept + self.CHUNK]):
                end = kept + read
                equals += buffer.count(b"=", kept, end)
                _find_tags(buffer, offset - kept, tags, found, end)
                offset += read
                tail = min(overlap, end)
                buffer[:tail] = view[end - tail : end]
                kept = tail
        self._equals = equals
        return {tag: sorted(hits) for tag, hits in found.items()}

    def equals(self) -> int:
        assert self._equals is not None, "find_all counts them"
        return self._equals

    def in_memory(self) -> _InMemory:
        return _InMemory(self.path.read_bytes())


def _find_tags(
    data: bytes | bytearray,
    base: int,
    tags: tuple[bytes, ...],
    found: dict[bytes, set[int]],
    end: int | None = None,
) -> None:
    """Add to `found` where each tag starts in `data[:end]` (which starts at byte `base`). One regular
    expression pass for all the tags, not a find per tag: this holds the GIL, which `paydag validate`
    shares with GX's import. A tag that begins another is looked for where that one is found."""
    end = len(data) if end is None else end
    pattern = re.compile(b"|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True)))
    for match in pattern.finditer(data, 0, end):
        at = match.start()
        for tag in tags:
            if data.startswith(tag, at, end):
                found[tag].add(base + at)


def _document(source: bytes | Path, name: str, notes: list[str]) -> _InMemory | _OnDisk:
    if isinstance(source, Path):
        with source.open("rb") as f:
            head = f.read(HEAD)
        if as_utf8(head, name, []) is head:
            return _OnDisk(source)
        source = source.read_bytes()  # in another encoding: transcoded in memory
    return _InMemory(as_utf8(source, name, notes))


def _root(data: bytes, name: str) -> tuple[Layout, bytes, int]:
    """The layout the root element names (its local name; the namespace is the skeleton's to check),
    the root's prefix and where its start tag ends."""
    local, prefix, end = root_element(data, name)
    layout = next((lo for lo in LAYOUTS if lo.root == local), None)
    if layout is None:
        raise CannotServe(f"root {local!r} is not a transaction list's")
    return layout, prefix, end


def _blocks(
    document: _InMemory | _OnDisk, layout: Layout, prefix: bytes, root_end: int, name: str
) -> list[_Block]:
    """Every body currency, in document order, the summary's currencies passed over."""
    open_tag = b"<" + prefix + layout.body.encode()
    close_tag = b"</" + prefix + layout.body.encode() + b">"
    summary_open, summary_close = (
        b"<" + prefix + layout.summary.encode(),
        b"</" + prefix + layout.summary.encode() + b">",
    )
    found = document.find_all((open_tag, close_tag, summary_open, summary_close))
    size = document.size()
    summary = [
        at for at in found[summary_open] if at >= root_end and _is_tag(document, at, summary_open, size)
    ]
    closes_of_summary = [at for at in found[summary_close] if summary and at > summary[0]]
    skip = (summary[0], closes_of_summary[0]) if summary and closes_of_summary else (-1, -1)
    opens = [at for at in found[open_tag] if at >= root_end and not skip[0] <= at < skip[1]
             and _is_tag(document, at, open_tag, size)]  # fmt: skip
    closes = [at for at in found[close_tag] if not skip[0] <= at < skip[1]]
    blocks: list[_Block] = []
    for n, start in enumerate(opens):
        head = document.read(start, start + 4096)
        if (gt := head.find(b">")) < 0:
            raise CannotServe(f"the start tag of <{layout.body}> at byte {start} is too long")
        open_end = start + gt + 1
        if head[gt - 1 : gt] == b"/":
            blocks.append(_Block(start, open_end, open_end, open_end))
            continue
        close = next((at for at in closes if at >= open_end), -1)
        if close < 0:
            raise FormatError(
                f"{name}: not well-formed XML: <{layout.body}> at byte {start} is never closed "
                "(is the file cut off?)"
            )
        if n + 1 < len(opens) and opens[n + 1] < close:
            raise CannotServe(f"a <{layout.body}> stands inside another, at byte {opens[n + 1]}")
        blocks.append(_Block(start, open_end, close, close + len(close_tag)))
    return blocks


def _is_tag(document: _InMemory | _OnDisk, at: int, tag: bytes, size: int) -> bool:
    """Whether `tag` at `at` is the whole name (`<Currency ` or `<Currency>`, not `<CurrencyX`)."""
    end = at + len(tag)
    return end < size and document.read(end, end + 1)[0] in _TAG_END


def _skeleton(document: _InMemory | _OnDisk, blocks: list[_Block]) -> bytes:
    pieces, at = [], 0
    for block in blocks:
        pieces.append(document.read(at, block.open_end))
        at = block.close
    pieces.append(document.read(at, document.size()))
    return b"".join(pieces)


def _parse_rows(source: bytes | str, layout: Layout, extra: tuple[str, ...]) -> pa.RecordBatch:
    """The rows: a file's as read ahead, when a command started that (`rows.read_rows_ahead`)."""
    parser = rows_parser(layout, extra)
    return (parse_file(parser, Path(source)) if isinstance(source, str) else parse(parser, source))["rows"]


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
        if column.type != pa.string():  # not the int32-offset layout read below
            total += pc.sum(pc.count_substring(column.cast(pa.string()), "=")).as_py() or 0
            continue
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
