"""Streaming XSD validation, in a child process, of a document while it is being written.

libxml2 validates as it parses, and parsing a 50 MB pain.001 takes longer than writing it. lxml keeps
the GIL while it parses into its (immediately discarded) tree, so a thread would only take turns with
the writer; a child process runs the check on the other core. Memory stays flat on both sides: the
parent streams chunks through a pipe, the child drops every record element once it is validated.

lxml's parser *target* interface looks cheaper but is not an option: with a target, libxml2 checks
datatypes but not the content model (an unexpected element passes), so the tree parser is used.
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
    parser = etree.XMLPullParser(
        events=("end",),
        tag=record_tag,
        schema=schema,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    # read1 hands over what the pipe holds now instead of waiting for a full chunk, so that the writer
    # and this parser work at the same time rather than in turns.
    read = getattr(stream, "read1", stream.read)
    try:
        while chunk := read(CHUNK):
            parser.feed(chunk)
            for _, element in parser.read_events():
                element.clear(keep_tail=False)
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]
        parser.close()
    except etree.XMLSyntaxError as exc:
        return str(exc)
    return None


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
