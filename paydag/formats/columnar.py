"""What the Arrow readers share: xml2arrow (Rust, quick-xml; the GIL released while it parses)
compiled from a mapping, the file's head read the way lxml would refuse it, and transcoding.

quick-xml reads UTF-8 only, matches local names only (no namespaces), refuses any entity it does
not know (so no DOCTYPE can expand anything) and does not notice a file that ends early; each
reader adds what it needs on top (see settlement.arrow_reader, camt054.arrow_reader) and hands a
file it cannot read faithfully to its lxml reader (`CannotServe`).
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa

from paydag.formats.xml import FormatError

HEAD = 64 * 1024  # how much of a file its head is: prolog and root start tag
_NAME = rb"[A-Za-z_][\w.-]*"
_ELEMENT = re.compile(rb"<(?:(" + _NAME + rb"):)?(" + _NAME + rb")")
_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class CannotServe(Exception):
    """An Arrow reader cannot read this file faithfully; the lxml reader must (the message says why)."""


def as_utf8(data: bytes, name: str, notes: list[str]) -> bytes:
    """The document in UTF-8: a UTF-16 BOM or another declared encoding is decoded and the
    declaration rewritten (and `notes` says so); a UTF-8 BOM is dropped. Returns `data` itself when
    it is UTF-8 already."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    encoding = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        declared = _ENCODING.match(data[:200])
        if declared:
            try:
                if codecs.lookup(declared.group(1).decode("ascii")).name != "utf-8":
                    encoding = declared.group(1).decode("ascii")
            except LookupError:
                raise CannotServe(
                    f"the declared encoding {declared.group(1).decode()!r} is unknown"
                ) from None
    if encoding is None:
        return data
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FormatError(f"{name}: not {encoding} text as it declares ({exc})") from None
    text = re.sub(r"""^(<\?xml[^>]*?\sencoding\s*=\s*["'])[^"']+""", r"\g<1>UTF-8", text.lstrip("\ufeff"))
    notes.append(f"transcoded from {encoding} to UTF-8")
    return text.encode("utf-8")


def root_element(data: bytes, name: str) -> tuple[str, bytes, int]:
    """The root element's local name, its prefix (b"" or b"p:") and where its start tag ends, read
    from the head; a DOCTYPE is refused (FormatError), as the lxml readers refuse it."""
    head, at = data[:HEAD], 0
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
    prefix = match.group(1) + b":" if match.group(1) else b""
    return match.group(2).decode(), prefix, head.find(b">", at) + 1


def compile_mapping(name: str, tables: list[dict[str, Any]], *, trim_text: bool) -> Any:
    """An xml2arrow parser for `tables` (its mapping format), compiled once."""
    from xml2arrow import XmlToArrowParser  # a Rust extension: loaded when first used

    config = {"parser_options": {"trim_text": trim_text}, "tables": tables}
    # xml2arrow reads its mapping from a file (JSON is YAML) and compiles it in the constructor.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")
        return XmlToArrowParser(str(path))


def text_field(name: str, path: str) -> dict[str, Any]:
    """A nullable text column at `path` (`@name` for an attribute)."""
    return {"name": name, "xml_path": path, "data_type": "Utf8", "nullable": True}


def parse(parser: Any, source: bytes | str) -> dict[str, pa.RecordBatch]:
    """The tables of `source` (bytes, or a path xml2arrow streams); FormatError (without the file's
    name: the caller adds it) where quick-xml finds the XML broken, CannotServe where the file does
    not fit the mapping."""
    from xml2arrow.exceptions import Xml2ArrowError, XmlParsingError

    try:
        return parser.parse(source)
    except XmlParsingError as exc:
        raise FormatError(f"not well-formed XML: {exc}") from None
    except Xml2ArrowError as exc:  # well-formed, but not in the mapping's shape (an element twice, say)
        raise CannotServe(f"xml2arrow: {exc}") from None
    except TypeError as exc:  # xml2arrow's answer to bytes that are not UTF-8
        raise CannotServe(f"xml2arrow could not decode the file ({exc})") from None


# Reading ahead: a command that reads one large file starts xml2arrow on it (a thread of its own, the
# GIL released) before it imports pandas, GX and the rest of what it needs, half a second of imports
# that the read then overlaps. The reader later takes the read that was started, or parses afresh
# when there is none (or the file has changed since).
_AHEAD: dict[tuple[object, ...], tuple[threading.Thread, dict[str, Any]]] = {}


def read_ahead(parser: Any, path: Path) -> None:
    """Start parsing `path` with `parser` on a thread of its own; `parse_file` takes the outcome."""
    key = _ahead_key(parser, path)
    if key is None or key in _AHEAD:
        return
    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            outcome["tables"] = parse(parser, str(path))
        except Exception as exc:  # raised where the reader takes it, as its own parse would raise it
            outcome["error"] = exc

    thread = threading.Thread(target=read, name=f"read ahead {path.name}", daemon=True)
    _AHEAD[key] = (thread, outcome)
    thread.start()


def parse_file(parser: Any, path: Path) -> dict[str, pa.RecordBatch]:
    """The tables of the file at `path`: those read ahead, if a read of this file as it is now was
    started with this parser (its thread then gone), else parsed here (`parse`)."""
    key = _ahead_key(parser, path)
    started = _AHEAD.pop(key, None) if key is not None else None
    if started is None:
        return parse(parser, str(path))
    thread, outcome = started
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["tables"]


def _ahead_key(parser: Any, path: Path) -> tuple[object, ...] | None:
    """The parser and the file as it is now (which file, its size and last change)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (parser, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
