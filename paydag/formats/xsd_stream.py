"""Streaming XSD validation, in a child process, of a document while it is being written.

Parsing and validating a 50 MB pain.001 takes longer than writing it, and lxml keeps the GIL while it
parses, so a thread would only take turns with the writer; a child process runs the check on the
other core. Memory stays flat on both sides: the parent streams chunks through a pipe, and the child
holds only the records (`CdtTrfTxInf`) that arrived since its last look.

How the child checks, and why it is the whole document's check. It feeds the parser up to the last
closing record tag of what it has read, validates the tree built so far with `XMLSchema.validate`
(libxml2's tree validation, about twice as fast as validating inside the parser, and lxml's parse
events, which the in-parser way needs to drop records, cost more than the parse), then deletes every
record that has a record after it. At the end the rest is parsed and the remaining tree validated.
Each deleted record was validated complete (a record with a sibling after it is closed) and in the
place it has in the document: the records are the last, unbounded item of their parent's content
model (`PmtInf`: ..., `CdtTrfTxInf+`), one record is always left before the new ones, and the schema
has no identity constraints. What follows a record (a later `PmtInf`, the closing tags) is checked
when it arrives, and well-formedness by the parser to the last byte. A look whose tree fails (a
closing tag inside a comment would cut a record in two) deletes nothing and stops the looking: the
final validation of the whole remaining tree then gives the verdict.

lxml's parser *target* interface looks cheaper but is not an option: with a target, libxml2 checks
datatypes but not the content model (an unexpected element passes).
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

from lxml import etree

CHUNK = 1 << 20


class XsdCheckFailed(RuntimeError):
    """The checking process itself failed (not the document): it could not run or it crashed."""


def load_schema(xsd: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(xsd), parser))


def validate_stream(stream: BinaryIO, schema: etree.XMLSchema, record_tag: str) -> str | None:
    """Validate the document read from `stream`; the first error, or None when it is valid.

    `record_tag` ({namespace}local name) is the repeating element that is dropped once validated.
    """
    namespace = record_tag.rpartition("}")[0] + "}"
    closing = b"</" + record_tag.rpartition("}")[2].encode() + b">"
    parser = etree.XMLPullParser(
        events=("start",),  # only the root's start, for the tree while it grows; more events cost
        tag=namespace + "Document",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    root = None
    looking = True
    held = b""
    # read1 hands over what the pipe holds now instead of waiting for a full chunk, so that the writer
    # and this parser work at the same time rather than in turns.
    read = getattr(stream, "read1", stream.read)
    try:
        while chunk := read(CHUNK):
            held += chunk
            if not looking:
                parser.feed(held)
                held = b""
                continue
            cut = held.rfind(closing) if len(held) >= CHUNK else -1  # a look a MiB: each costs a bit
            if cut < 0:
                continue
            cut += len(closing)
            parser.feed(held[:cut])
            held = held[cut:]
            for _, element in parser.read_events():
                root = element
            if root is not None:
                looking = schema.validate(root) and _drop_validated(root, record_tag)
        parser.feed(held)
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        return str(exc)
    if not schema.validate(root):
        error = schema.error_log.last_error
        return f"{error.message} (line {error.line})"
    return None


def _drop_validated(root: etree._Element, record_tag: str) -> bool:
    """Delete every record that has a record after it, in the parent the tree grows at and in its
    earlier siblings (a PmtInf that was completed since the last look)."""
    parent = root
    while len(parent) and parent[-1].tag != record_tag:
        parent = parent[-1]
    for holder in (parent, *parent.itersiblings(preceding=True)):
        first = holder.find(record_tag)
        if first is not None:
            start, end = holder.index(first), len(holder) - 1
            del first  # no proxy left in what is deleted: lxml then frees it instead of moving it
            if start < end:
                del holder[start:end]
    return True


def _widen_pipe(fd: int) -> None:
    """Give the pipe 1 MiB (Linux; the default is 64 KiB) so the writer rarely waits for the checker."""
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_pipe_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, set_pipe_size, CHUNK)


class XsdCheckProcess:
    """A child process that validates what is fed to it against `xsd`."""

    def __init__(self, xsd: Path, record_tag: str) -> None:
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
            [sys.executable, "-m", __name__, str(xsd), record_tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._open = True
        _widen_pipe(self._proc.stdin.fileno())  # type: ignore[union-attr]

    def feed(self, chunk: bytes) -> None:
        if not self._open:
            return
        try:
            self._proc.stdin.write(chunk)  # type: ignore[union-attr]
        except BrokenPipeError:
            # The child stopped reading: it found an error (or died); finish() tells which.
            self._open = False

    def finish(self) -> str | None:
        """Close the input and wait: the first validation error, or None when the document is valid."""
        self._open = False
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()  # type: ignore[union-attr]
        out = self._proc.stdout.read()  # type: ignore[union-attr]
        err = self._proc.stderr.read()  # type: ignore[union-attr]
        code = self._proc.wait()
        if code == 0:
            return None
        if code == 1 and out:
            return out.decode("utf-8", "replace").strip()
        raise XsdCheckFailed(
            f"the XSD check process exited with {code}: {err.decode('utf-8', 'replace')[-800:]}"
        )

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


def main(argv: list[str]) -> int:
    xsd, record_tag = argv
    error = validate_stream(sys.stdin.buffer, load_schema(Path(xsd)), record_tag)
    if error:
        sys.stdout.write(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
