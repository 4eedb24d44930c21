"""The XSD check in parts: a large pain.001 cut between records as it is written, the parts checked
by two processes in turn, and still the whole document's verdict, wherever the fault lies."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from paydag.formats import pain001, xsd_stream
from paydag.formats.bank_profiles import bank_profile
from paydag.formats.pain001 import Pain001SchemaError, Pain001Version
from paydag.formats.xsd_stream import check_document, load_schema
from paydag.samples import sample_payables
from tests.paydag.formats.test_pain001 import CREATED, company, make_batch

V03 = Pain001Version.V03
COUNT = 12_000  # payments: a file of about 6 MB, some twenty parts, six PmtInf groups


@pytest.fixture(scope="module")
def schema():
    return load_schema(V03.xsd)


class _Parts:
    """What the sink hands each checker: (checker, start, end, prefix, closing) in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.handed: list[tuple[int, int, int, bytes, bytes]] = []
        check = xsd_stream.XsdCheckProcess.check

        def spied(checker, start: int, end: int, prefix: bytes = b"", closing: bytes = b"") -> None:
            self.handed.append((id(checker), start, end, prefix, closing))
            check(checker, start, end, prefix, closing)

        monkeypatch.setattr(xsd_stream.XsdCheckProcess, "check", spied)


def build(tmp_path: Path, count: int = COUNT, rows: list | None = None) -> pain001.BuiltPain001:
    rows = rows or list(sample_payables(count, company="demo", first_day=date(2026, 11, 23)))
    return pain001.build_pain001(
        make_batch(rows), company=company(), profile=bank_profile("generic"), out=tmp_path / "p.xml",
        created_at=CREATED,
    )  # fmt: skip


def test_the_parts_cover_the_file_and_each_is_a_valid_document_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema
) -> None:
    parts = _Parts(monkeypatch)
    built = build(tmp_path)
    data = built.path.read_bytes()
    handed = parts.handed
    assert len(handed) > 8 and len({checker for checker, *_ in handed}) == 2  # both checkers had parts
    assert [start for _, start, *_ in handed] == [0] + [end for _, _, end, *_ in handed[:-1]]
    assert handed[-1][2] == len(data) and handed[0][3] == b"" and handed[-1][4] == b""
    for _, start, end, prefix, closing in handed:
        piece = data[start:end]
        assert check_document(prefix + piece + closing, schema) is None
        if start:  # a cut lies between two records, and the next part begins with the file's header
            assert piece.startswith(b"<CdtTrfTxInf>") and data[:start].endswith(b"</CdtTrfTxInf>")
            assert data.startswith(prefix[: prefix.index(b"<PmtInf>")])
        # a checker holds one part's tree at a time: no part is much over its size
        assert end - start < xsd_stream.PART_BYTES + 4 * pain001._FLUSH_AT


@pytest.mark.parametrize("where", [0.02, 0.5, 0.98])
def test_a_bad_record_in_any_part_fails_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: float
) -> None:
    # A record the schema refuses in the first part, one in the middle or the last: the file fails
    # alike, and no file is left.
    written = {"records": 0}
    remittance = pain001._Writer._remittance

    def sometimes_bad(p, text):
        written["records"] += 1
        bad = abs(written["records"] / COUNT - where) < 0.005
        return "<RmtInf><Bogus>1</Bogus></RmtInf>" if bad else remittance(p, text)

    monkeypatch.setattr(pain001._Writer, "_remittance", staticmethod(sometimes_bad))
    with pytest.raises(Pain001SchemaError, match=r"Bogus.*in the part at bytes"):
        build(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [b"</PmtInf>", b"<PmtInf>", b"</PmtInf><PmtInf>"])
def test_a_record_that_opens_or_closes_what_it_should_not_fails_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: bytes
) -> None:
    # A cut assumes the record before it closed what it opened and nothing more: a record followed
    # by an end tag of its own, an open PmtInf, or a new PmtInf without its head makes a part whose
    # tags do not balance or whose PmtInf is incomplete, and the file fails.
    written = {"records": 0}
    record = pain001._Sink.record

    def one_unbalanced(sink, text: str) -> None:
        written["records"] += 1
        record(sink, text + extra.decode() if written["records"] == COUNT // 3 else text)

    monkeypatch.setattr(pain001._Sink, "record", one_unbalanced)
    with pytest.raises(Pain001SchemaError):
        build(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_fault_after_the_last_record_or_a_truncated_document_is_found(tmp_path: Path, schema) -> None:
    data = build(tmp_path, count=50).path.read_bytes()
    assert check_document(data, schema) is None
    extra = data.replace(b"</PmtInf></CstmrCdtTrfInitn>", b"</PmtInf><Extra/></CstmrCdtTrfInitn>")
    assert "Extra" in (check_document(extra, schema) or "")
    assert check_document(data[: len(data) // 2], schema) is not None
    doctype = data.replace(b"?>", b'?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1)
    assert check_document(doctype.replace(b"<Ustrd>", b"<Ustrd>&e;", 1), schema) is not None


def test_a_small_file_is_one_part_for_one_checker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _Parts(monkeypatch)
    built = build(tmp_path, count=40)
    assert [(start, end, prefix, closing) for _, start, end, prefix, closing in parts.handed] == [
        (0, built.size, b"", b"")
    ]


def test_a_large_file_of_one_payment_groups_is_one_part(tmp_path: Path, monkeypatch) -> None:
    # No PmtInf holds two records, so there is nowhere to cut: one part, the whole file.
    monkeypatch.setattr(pain001, "_TWO_CHECKERS_FROM", 2)
    monkeypatch.setattr(pain001, "_FLUSH_AT", 1)
    monkeypatch.setattr(pain001, "PART_BYTES", 1)
    rows = list(sample_payables(3, company="demo", first_day=date(2026, 11, 23)))
    for n, r in enumerate(rows):
        r["execution_date"] = ["2026-11-23", "2026-11-24", "2026-11-25"][n]
        r["account_type"], r["account"], r["currency"], r["ocr"] = "BG", "5050-1055", "SEK", ""
        r["message"] = f"Faktura {n}"
    parts = _Parts(monkeypatch)
    built = build(tmp_path, rows=rows)
    assert len(built.payment_infos) == 3 and len(parts.handed) == 1


def test_with_tiny_parts_every_record_boundary_of_a_group_is_a_cut(tmp_path: Path, monkeypatch) -> None:
    # Parts as small as they get: a cut before every record but each PmtInf's first, and still valid.
    monkeypatch.setattr(pain001, "_FLUSH_AT", 1)
    monkeypatch.setattr(pain001, "PART_BYTES", 1)
    parts = _Parts(monkeypatch)
    built = build(tmp_path, count=60)
    groups = len(built.payment_infos)
    assert len(parts.handed) == 60 - groups + 1
