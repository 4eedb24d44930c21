"""Streaming XSD validation, in child processes, of a document while it is being written.

Parsing and validating a 50 MB pain.001 takes longer than writing it, and lxml keeps the GIL while it
parses, so a thread would only take turns with the writer; child processes run the check on the other
core. Each child reads the file itself as it grows (`os.pread` on the descriptor it inherits), so the
writer never waits for a checker. A large document is checked in two parts at once, split between two
records of one `PmtInf`: the first child checks the file up to the split, closed there with the open
elements' end tags; the second checks the group header and that `PmtInf`'s head followed by the rest
of the file. Each part is a document of its own, and both valid is the whole valid: the split lies
inside `CdtTrfTxInf+`, itself inside `PmtInf+`, so each part's `PmtInf`s and records, joined, are
what the whole holds in the same content models (the schema has no identity constraints). Memory stays
flat: a child holds only the records (`CdtTrfTxInf`) that arrived since its last look.

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
import os
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


class _FilePart:
    """`read1` over a part of a file that another process is still writing, after a prefix and before
    a closing that make the part a document of its own; where the part lies and how far the file is
    written are told on `control`.

    Control messages, each a line and its payload: `upto OFFSET 0`, the file is written that far;
    `start OFFSET N` and N bytes of prefix (a part that does not begin at the file's start waits for
    it); `end OFFSET N` and N bytes of closing. Only bytes told as written are read, so a part never
    reads past its end before it knows of it.
    """

    def __init__(self, fd: int, control: int, *, from_start: bool) -> None:
        self._fd, self._control = fd, control
        self._inbox = b""
        self._pos: int | None = 0 if from_start else None
        self._written = 0
        self._end: int | None = None
        self._prefix = self._closing = b""

    def read1(self, n: int = CHUNK) -> bytes:
        while True:
            if self._prefix:
                data, self._prefix = self._prefix, b""
                return data
            if self._pos is not None:
                if self._end is not None and self._pos >= self._end:
                    data, self._closing = self._closing, b""
                    return data
                limit = min(n, (self._written if self._end is None else self._end) - self._pos)
                if limit > 0:
                    data = os.pread(self._fd, limit, self._pos)
                    if not data:
                        raise XsdCheckFailed(f"the file ends at {self._pos}, told written to {self._written}")
                    self._pos += len(data)
                    return data
            self._receive()

    read = read1

    def _receive(self) -> None:
        """Wait for the next control message and take it."""
        while not self._take_message():
            data = os.read(self._control, 1 << 16)
            if not data:
                raise XsdCheckFailed("the writer closed the control pipe before it told the part's end")
            self._inbox += data

    def _take_message(self) -> bool:
        line, newline, rest = self._inbox.partition(b"\n")
        if not newline:
            return False
        word, offset, size = line.split()
        if len(rest) < int(size):
            return False
        payload, self._inbox = rest[: int(size)], rest[int(size) :]
        if word == b"upto":
            self._written = int(offset)
        elif word == b"start":
            self._pos, self._prefix = int(offset), payload
        elif word == b"end":
            self._end, self._closing = int(offset), payload
        else:
            raise XsdCheckFailed(f"unknown control message {line!r}")
        return True


class XsdCheckProcess:
    """A child process that validates part of the file open at `fd` while the parent writes it.

    The child reads the file itself (`os.pread` on the descriptor it inherits), so the writer never
    waits for it; `written` tells it how far it may read. `from_start` checks the file from its first byte; otherwise the child waits for
    `start_at`. Either way `end_at` tells it where its part ends and what closes it.
    """

    def __init__(self, xsd: Path, record_tag: str, fd: int, *, from_start: bool = True) -> None:
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
            [
                sys.executable,
                "-m",
                __name__,
                str(xsd),
                record_tag,
                str(fd),
                "start" if from_start else "wait",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(fd,),
        )

    def _send(self, message: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):  # it stopped: finish() tells why
            self._proc.stdin.write(message)  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]

    def written(self, offset: int) -> None:
        """The file is written (and flushed) up to `offset`."""
        self._send(b"upto %d 0\n" % offset)

    def start_at(self, offset: int, prefix: bytes) -> None:
        """The part begins at `offset` of the file, after `prefix`."""
        self._send(b"start %d %d\n" % (offset, len(prefix)) + prefix)

    def end_at(self, offset: int, closing: bytes = b"") -> None:
        """The part ends at `offset` of the file, before `closing`."""
        self._send(b"end %d %d\n" % (offset, len(closing)) + closing)

    def finish(self) -> str | None:
        """Wait for the verdict: the first validation error, or None when the part is valid."""
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
    xsd, record_tag, fd, begin = argv
    part = _FilePart(int(fd), sys.stdin.fileno(), from_start=begin == "start")
    error = validate_stream(part, load_schema(Path(xsd)), record_tag)
    if error:
        sys.stdout.write(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
