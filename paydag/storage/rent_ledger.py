"""The rent-ledger drop: incoming-payment files (camt.054 credit) handed on to the rent system.

A directory or an `s3://bucket/prefix`, default `PAYDAG_HOME/inbetalningar/`. Names carry the
content's hash, so handing the same file on twice leaves one copy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlparse

from paydag.atomic import write_once
from paydag.storage.raw import safe_name
from paydag.storage.s3 import put_once


class RentLedgerDrop:
    def __init__(self, destination: str) -> None:
        self.destination = destination
        parsed = urlparse(destination)
        self._s3 = parsed.scheme == "s3"
        if self._s3:
            self._bucket, self._prefix = parsed.netloc, parsed.path.strip("/")
        else:
            self._dir = Path(parsed.path if parsed.scheme == "file" else destination)
            self._dir.mkdir(parents=True, exist_ok=True)

    def deliver(self, name: str, data: bytes) -> str:
        """Place the file (once); its name in the destination."""
        target = f"{hashlib.sha256(data).hexdigest()[:16]}-{safe_name(name)}"
        if self._s3:
            key = f"{self._prefix}/{target}" if self._prefix else target
            put_once(self._bucket, key, data)
            return f"s3://{self._bucket}/{key}"
        path = self._dir / target
        if not path.exists():
            # A temporary file of its own, linked into place: two polls delivering the same file at
            # once leave one whole copy, never a half-written one.
            write_once(path, data)
        return str(path)
