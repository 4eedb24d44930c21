"""camt.054 (debit/credit notification), versions .001.02, .04 and .08: one row per transaction.

Two readers, the same rows:
- arrow_reader: xml2arrow reads notifications, entries, transactions and their remittance
  information into Arrow columns, four mappings side by side; the rows are put together from them
  by the same rules. It reads every file it can.
- lxml_reader: a streaming iterparse (entries freed as they are read). It reads what the Arrow
  reader declines (`CannotServe`: a repeated element the mapping has no table for, a comment after
  the root, bytes xml2arrow cannot decode, …), and it is the rules' reference: the tests hold the two
  to the same rows.

Lenient with what banks send (missing optional elements, unknown codes, odd casing, the elements of
another version); strict on what is used downstream: amount, currency, credit/debit indicator.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

from paydag.formats.camt054.arrow_reader import read_arrow
from paydag.formats.camt054.lxml_reader import (
    NAMESPACE_PREFIX,
    VERSION,
    Camt054Header,
    Camt054Report,
    Camt054Transaction,
    EntryPaths,
    read_entry,
    read_money,
    text_at,
)
from paydag.formats.camt054.lxml_reader import iter_camt054 as iter_lxml
from paydag.formats.columnar import CannotServe
from paydag.formats.xml import FormatError

__all__ = [
    "NAMESPACE_PREFIX", "VERSION", "Camt054Header", "Camt054Report", "Camt054Transaction", "EntryPaths",
    "iter_camt054", "parse_camt054", "read_entry", "read_money", "text_at",
]  # fmt: skip


def iter_camt054(source: IO[bytes], name: str = "camt.054") -> Iterator[Camt054Header | Camt054Transaction]:
    """The header, then every transaction (the whole file is read first: the Arrow reader takes bytes)."""
    data = source.read()
    try:
        header, transactions = read_arrow(data, name)
    except CannotServe:
        yield from iter_lxml(io.BytesIO(data), name)
        return
    yield header
    yield from transactions


def parse_camt054(data: bytes | IO[bytes], name: str = "camt.054") -> Camt054Report:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    header: Camt054Header | None = None
    transactions: list[Camt054Transaction] = []
    for item in iter_camt054(source, name):
        if isinstance(item, Camt054Header):
            header = item
        else:
            transactions.append(item)
    if header is None:
        raise FormatError(f"{name}: no BkToCstmrDbtCdtNtfctn/GrpHdr: not a camt.054")
    return Camt054Report(header=header, transactions=transactions)
