"""XSD validation of a document while it is being written: in parts, in child processes.

Parsing and validating a 50 MB pain.001 takes longer than writing it, and lxml keeps the GIL while it
parses, so a thread would only take turns with the writer; child processes run the check on the other
core. The writer cuts the document into parts of about `PART_BYTES` as it writes, each between two
records of one `PmtInf`, and hands them in turn to two checkers. A part is a document of its own: the
group header and the open `PmtInf`'s elements before its first record go before it (the writer's own
bytes, which the first part checks where they stand in the file), and the open elements' end tags
after it. A checker reads the part from the file itself (`os.pread` on the descriptor it inherits;
the writer has flushed it by then, so the writer never waits for a checker), parses it whole and
validates the tree with `XMLSchema.validate`, libxml2's tree validation: about twice as fast as
validating inside the parser, and a growing tree needs lxml's parse events, which cost a third more
than the parse. Memory stays flat: a checker holds one part's tree at a time.

Why every part valid is the whole document valid. Each cut lies inside `CdtTrfTxInf+`, the last,
unbounded item of `PmtInf`'s content model, itself inside `PmtInf+`: each element's content in the
whole is its parts' content joined in the same repetitions, and the schema has no identity
constraints. A record that closed more or fewer elements than it opened would leave its part's end
tags unbalanced and fail that part; one that closed its `PmtInf` and opened another is checked,
head and records, in its own part, and its later records fit any `PmtInf` head. Well-formedness holds
part by part, and the parts join at element boundaries. The checkers' verdicts are the parts' first
errors; the writer gives the file its name only when both say valid.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

from lxml import etree

PART_BYTES = 1 << 18  # a part's size at least (a cut waits for the next record of a PmtInf)


class XsdCheckFailed(RuntimeError):
    """The checking process itself failed (not the document): it could not run or it crashed."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def load_schema(xsd: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(xsd), _parser()))


def check_document(data: bytes, schema: etree.XMLSchema) -> str | None:
    """The first well-formedness or XSD error of `data` as a document, or None when it is valid."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return str(exc)
    if root.getroottree().docinfo.doctype:
        return "a DOCTYPE is not allowed"  # nor its entities, which are left unexpanded
    try:
        if schema.validate(root):
            return None
    except etree.XMLSchemaValidateError as exc:
        return str(exc)
    error = schema.error_log.last_error
    return f"{error.message} (line {error.line})"


class XsdCheckProcess:
    """A child process that validates the parts of the file open at `fd` it is handed (`check`),
    while the parent writes the rest; `finish` gives the verdict of them all."""

    def __init__(self, xsd: Path, fd: int) -> None:
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
            [sys.executable, "-m", __name__, str(xsd), str(fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(fd,),
        )

    def check(self, start: int, end: int, prefix: bytes = b"", closing: bytes = b"") -> None:
        """Validate `prefix`, the file's bytes from `start` to `end` (written and flushed), and
        `closing`, as one document."""
        message = b"part %d %d %d %d\n" % (start, end, len(prefix), len(closing)) + prefix + closing
        with contextlib.suppress(BrokenPipeError):  # it stopped: finish() tells why
            self._proc.stdin.write(message)  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]

    def finish(self) -> str | None:
        """Wait for the verdict: the first error in the parts it was handed, or None."""
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


def _read_at(fd: int, start: int, end: int) -> bytes:
    data = b""
    while len(data) < end - start:
        piece = os.pread(fd, end - start - len(data), start + len(data))
        if not piece:
            raise XsdCheckFailed(f"the file ends at {start + len(data)}, before the part's end at {end}")
        data += piece
    return data


def _check_parts(fd: int, control: BinaryIO, schema: etree.XMLSchema) -> str | None:
    """Check each part told on `control` until it closes; the first error, naming the part's bytes."""
    error = None
    while line := control.readline():
        word, *numbers = line.split()
        if word != b"part" or len(numbers) != 4:
            raise XsdCheckFailed(f"unknown control message {line!r}")
        start, end, prefix_size, closing_size = map(int, numbers)
        prefix, closing = control.read(prefix_size), control.read(closing_size)
        if error is None:  # after the first error only the rest of the messages are read
            found = check_document(prefix + _read_at(fd, start, end) + closing, schema)
            error = found and f"{found}, in the part at bytes {start}-{end} of the file"
    return error


def main(argv: list[str]) -> int:
    xsd, fd = argv
    error = _check_parts(int(fd), sys.stdin.buffer, load_schema(Path(xsd)))
    if error:
        sys.stdout.write(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
