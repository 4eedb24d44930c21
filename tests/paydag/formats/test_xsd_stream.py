"""The streaming XSD check: records validated and dropped a MiB at a time, and still the whole
document's verdict, wherever the fault lies."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from paydag.formats import xsd_stream
from paydag.formats.pain001 import Pain001Version
from paydag.formats.xsd_stream import load_schema, validate_stream
from paydag.samples import sample_payables
from tests.paydag.formats.test_pain001 import CREATED, company, make_batch

V03 = Pain001Version.V03
RECORD = f"{{{V03.namespace}}}CdtTrfTxInf"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A valid pain.001 of several MiB: many looks, six PmtInf groups."""
    from paydag.formats.bank_profiles import bank_profile
    from paydag.formats.pain001 import build_pain001

    batch = make_batch(list(sample_payables(12_000, company="demo", first_day=date(2026, 11, 23))))
    out = tmp_path_factory.mktemp("xsd") / "big.xml"
    build_pain001(batch, company=company(), profile=bank_profile("generic"), out=out, created_at=CREATED)
    data = out.read_bytes()
    assert len(data) > 4 * xsd_stream.CHUNK and data.count(b"<PmtInf>") > 2
    return data


@pytest.fixture(scope="module")
def schema():
    return load_schema(V03.xsd)


class _Trickle(io.RawIOBase):
    """A pipe that hands over a few KiB per read, like the writer's pipe often does."""

    def __init__(self, data: bytes, size: int = 8192) -> None:
        self._data, self._at, self._size = data, 0, size

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        piece = self._data[self._at : self._at + self._size]
        self._at += len(piece)
        return piece

    read = read1


def test_a_valid_document_passes_read_whole_or_a_trickle(document: bytes, schema) -> None:
    assert validate_stream(io.BytesIO(document), schema, RECORD) is None
    assert validate_stream(_Trickle(document), schema, RECORD) is None


@pytest.mark.parametrize("where", [0.05, 0.5, 0.97])
def test_a_bad_record_anywhere_is_found(document: bytes, schema, where: float) -> None:
    # An element the schema does not allow, in the record nearest the given share of the file.
    at = document.index(b"<RmtInf>", int(len(document) * where))
    bad = document[:at] + b"<RmtInf><Bogus>1</Bogus>" + document[at + len(b"<RmtInf>") :]
    error = validate_stream(io.BytesIO(bad), schema, RECORD)
    assert error is not None and "Bogus" in error and "line" in error


def test_a_fault_after_the_last_record_is_found(document: bytes, schema) -> None:
    bad = document.replace(b"</PmtInf></CstmrCdtTrfInitn>", b"</PmtInf><Extra/></CstmrCdtTrfInitn>")
    assert "Extra" in (validate_stream(io.BytesIO(bad), schema, RECORD) or "")


def test_a_record_cut_in_two_by_a_comment_is_not_a_false_verdict(document: bytes, schema) -> None:
    # A closing record tag inside a comment makes a look see a half record: that look must not fail
    # the document, nor drop anything unchecked.
    at = document.index(b"<CdtrAcct>", 2 * xsd_stream.CHUNK)
    tricky = document[:at] + b"<!-- </CdtTrfTxInf> -->" + document[at:]
    assert validate_stream(io.BytesIO(tricky), schema, RECORD) is None
    bad = tricky.replace(b"<Ustrd>", b"<Bogus/><Ustrd>", 1)
    assert "Bogus" in (validate_stream(io.BytesIO(bad), schema, RECORD) or "")


def test_truncated_is_refused(document: bytes, schema) -> None:
    error = validate_stream(io.BytesIO(document[: len(document) // 2]), schema, RECORD)
    assert error is not None


def test_the_tree_stays_small(document: bytes, tmp_path: Path) -> None:
    # Ten times the document through the checking process: were records kept, it would hold a tree of
    # them all, several times the file's size; it holds about a MiB of them.
    head, _, rest = document.partition(b"<PmtInf>")
    body, _, tail = rest.rpartition(b"</PmtInf>")
    many = tmp_path / "many.xml"
    many.write_bytes(head + b"".join([b"<PmtInf>" + body + b"</PmtInf>"] * 10) + tail)
    code = (
        "import sys; from pathlib import Path; from paydag.formats import xsd_stream as x;"
        "assert x.validate_stream(open(sys.argv[1], 'rb'), x.load_schema(Path(sys.argv[2])), sys.argv[3]) is None;"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked test process into exec.
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(many), str(V03.xsd), RECORD],
        capture_output=True,
        text=True,
        check=True,
    )
    file_mib = many.stat().st_size / 2**20
    assert file_mib > 50
    assert int(done.stdout) < file_mib  # the tree of the whole would be several times the file


@pytest.mark.parametrize("bad_from", [0.1, 0.9])
def test_a_large_file_checked_in_two_parts_fails_on_a_bad_record_in_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_from: float
) -> None:
    # The file is split between two checkers at about half its records: a record the schema refuses
    # only early on (the first checker's part) or only late (the second's) fails the file alike.
    from paydag.formats import pain001
    from paydag.formats.bank_profiles import bank_profile

    count = 3 * pain001._SPLIT_FROM
    batch = make_batch(list(sample_payables(count, company="demo", first_day=date(2026, 11, 23))))
    written = {"records": 0}
    remittance = pain001._Writer._remittance

    def sometimes_bad(p, text):
        written["records"] += 1
        bad = abs(written["records"] / count - bad_from) < 0.02
        return "<RmtInf><Bogus>1</Bogus></RmtInf>" if bad else remittance(p, text)

    monkeypatch.setattr(pain001._Writer, "_remittance", staticmethod(sometimes_bad))
    parts: list[bool] = []
    monkeypatch.setattr(pain001._Sink, "close", _spy_split(pain001._Sink.close, parts))
    with pytest.raises(pain001.Pain001SchemaError, match="Bogus"):
        pain001.build_pain001(
            batch,
            company=company(),
            profile=bank_profile("generic"),
            out=tmp_path / "p.xml",
            created_at=CREATED,
        )
    assert parts == [True]  # it was checked in two parts
    assert list(tmp_path.iterdir()) == []


def _spy_split(close, parts: list[bool]):
    def spied(sink) -> None:
        close(sink)
        parts.append(sink.split)

    return spied


def test_a_large_file_of_one_payment_groups_is_checked_whole(tmp_path: Path, monkeypatch) -> None:
    # No PmtInf holds two records, so there is nowhere to split: one checker checks it all.
    from paydag.formats import pain001
    from paydag.formats.bank_profiles import bank_profile

    monkeypatch.setattr(pain001, "_SPLIT_FROM", 2)
    rows = list(sample_payables(3, company="demo", first_day=date(2026, 11, 23)))
    for n, r in enumerate(rows):
        r["execution_date"] = ["2026-11-23", "2026-11-24", "2026-11-25"][n]
        r["account_type"], r["account"], r["currency"], r["ocr"] = "BG", "5050-1055", "SEK", ""
        r["message"] = f"Faktura {n}"
    parts: list[bool] = []
    monkeypatch.setattr(pain001._Sink, "close", _spy_split(pain001._Sink.close, parts))
    built = pain001.build_pain001(
        make_batch(rows), company=company(), profile=bank_profile("generic"), out=tmp_path / "p.xml",
        created_at=CREATED,
    )  # fmt: skip
    assert parts == [False] and len(built.payment_infos) == 3
    assert validate_stream(io.BytesIO(built.path.read_bytes()), load_schema(V03.xsd), RECORD) is None
