"""The Arrow reader keeps every guarantee of the lxml reader: the same frame, the same refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from paydag.formats.columnar import CannotServe
from paydag.formats.settlement import parse_settlement
from paydag.formats.settlement.arrow_reader import read_arrow
from paydag.formats.settlement.lxml_reader import read_lxml
from paydag.formats.settlement.report import assemble
from paydag.formats.xml import FormatError
from tests.conftest import SETTLEMENT_V1, SETTLEMENT_V2


def by_lxml(data: bytes, name: str = "report.xml") -> pd.DataFrame:
    return assemble(read_lxml(io.BytesIO(data), name), reader="lxml").rows


def by_arrow(data: bytes, name: str = "report.xml") -> tuple[pd.DataFrame, tuple[str, ...]]:
    parts, notes = read_arrow(data, name)
    return assemble(parts, reader="arrow", notes=notes).rows, notes


@pytest.mark.parametrize("path", [SETTLEMENT_V1, SETTLEMENT_V2], ids=["v1", "v2"])
def test_both_readers_give_the_same_frame(path: Path) -> None:
    data = path.read_bytes()
    rows, notes = by_arrow(data)
    pd.testing.assert_frame_equal(rows, by_lxml(data))
    assert notes == () and parse_settlement(data, path.name).reader == "arrow"


def test_rows_take_the_currency_of_the_body_currency_they_stand_in() -> None:
    """v1 rows carry no currency: with two body currencies (and an empty one between), each row has
    its own parent's."""
    data = SETTLEMENT_V1.read_bytes().replace(
        b"</SALES>",
        b'<CURRENCY Sum="0.00" Name="NOK"/><CURRENCY Sum="12.50" Name="EUR"><TRAN TransactionNo="710000001" '
        b'OrderId="EU-1" DateCreated="2026-10-05 10:00:00" DateModified="2026-10-05 23:59:59" Type="Credit Card" '
        b'Amount="12.50"/></CURRENCY></SALES>',
    )
    rows, _ = by_arrow(data)
    pd.testing.assert_frame_equal(rows, by_lxml(data))
    assert rows.set_index("transaction_no").loc["710000001", "currency"] == "EUR"
    assert set(rows["currency"]) == {"SEK", "EUR"}


def test_a_report_cut_off_after_a_complete_row_fails() -> None:
    data = SETTLEMENT_V2.read_bytes()
    cut = data[: data.rindex(b"/>") + 2]  # the last row whole, nothing after it
    with pytest.raises(
        FormatError, match=r"report.xml: not well-formed XML: <Currency> at byte \d+ is never closed"
    ):
        read_arrow(cut, "report.xml")


def test_a_report_cut_off_after_its_last_currency_fails() -> None:
    data = SETTLEMENT_V2.read_bytes()
    cut = data[: data.rindex(b"</Currency>") + len(b"</Currency>")]
    with pytest.raises(FormatError, match=r"report\.xml: not well-formed XML"):
        read_arrow(cut, "report.xml")


def test_a_tag_that_does_not_pair_up_inside_the_rows_fails_naming_the_file() -> None:
    data = SETTLEMENT_V2.read_bytes().replace(b"/>", b">", 1)  # a row left open
    with pytest.raises(FormatError, match=r"report\.xml: not well-formed XML"):
        read_arrow(data, "report.xml")


def test_a_wrong_namespace_is_refused() -> None:
    data = SETTLEMENT_V2.read_bytes().replace(b"%5B2.0%5D", b"[2.0]")
    with pytest.raises(
        FormatError, match=r"report\.xml: root 'SalesAccountedTransactions' in .* is not a Swedbank Pay"
    ):
        read_arrow(data, "report.xml")


def test_a_doctype_is_refused_before_anything_is_read() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "y">]>'
        + SETTLEMENT_V2.read_bytes().split(b"?>", 1)[1]
    )
    with pytest.raises(FormatError, match=r"report\.xml: a DOCTYPE is not accepted"):
        read_arrow(data, "report.xml")


def test_an_iso_8859_1_report_is_transcoded_and_says_so() -> None:
    text = SETTLEMENT_V2.read_text(encoding="utf-8").replace("Hyra november", "Hyra för november")
    data = text.replace('encoding="utf-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    assert "för".encode("latin-1") in data
    rows, notes = by_arrow(data)
    assert notes == ("transcoded from ISO-8859-1 to UTF-8",)
    assert (rows["description"] == "Hyra för november").sum() > 0
    pd.testing.assert_frame_equal(rows, by_lxml(data))


def test_an_attribute_the_layout_does_not_name_is_kept_and_reported() -> None:
    data = SETTLEMENT_V2.read_bytes().replace(b"<Transaction ", b'<Transaction NewAttribute="kept" ', 1)
    rows, notes = by_arrow(data)
    assert notes == ("attributes the layout does not name, kept as columns: NewAttribute",)
    assert rows["NewAttribute"].iloc[0] == "kept" and rows["NewAttribute"].isna().sum() == len(rows) - 1
    pd.testing.assert_frame_equal(rows, by_lxml(data))


def test_an_equals_sign_inside_a_value_is_accounted_for() -> None:
    data = SETTLEMENT_V2.read_bytes().replace(b'Description="Hyra november"', b'Description="a=b, c=d"', 1)
    rows, notes = by_arrow(data)
    assert notes == () and (rows["description"] == "a=b, c=d").sum() == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ((b"<Transaction ", b'<!-- note: x="y" --><Transaction '), "besides attributes"),
        ((b"</Summary>", b'</Summary><Transaction PayexTransactionNo="1"/>'), "outside a body currency"),
        ((b"Hyra", b"H\xe4ra"), "could not decode"),
    ],
    ids=["comment", "row outside a currency", "not UTF-8"],
)
def test_what_the_arrow_reader_cannot_serve_goes_to_lxml(change: tuple[bytes, bytes], why: str) -> None:
    data = SETTLEMENT_V2.read_bytes().replace(*change, 1)
    with pytest.raises(CannotServe, match=why):
        read_arrow(data, "report.xml")
    if why == "could not decode":
        with pytest.raises(FormatError, match=r"report\.xml: (not well-formed|not UTF-8)"):
            parse_settlement(data, "report.xml")
        return
    report = parse_settlement(data, "report.xml")
    assert report.reader == "lxml" and why in report.notes[0]
    pd.testing.assert_frame_equal(report.rows, by_lxml(data))


def test_a_summary_listing_a_service_twice_is_refused() -> None:
    data = SETTLEMENT_V2.read_bytes()
    line = data[data.index(b"<Service ") : data.index(b"/>", data.index(b"<Service ")) + 2]
    with pytest.raises(FormatError, match="the summary lists SEK 'Consumer Credit Card EU' twice"):
        parse_settlement(data.replace(line, line + line, 1), "report.xml")


def test_genuine_reports_are_read_by_the_arrow_reader(shared_fixtures: Path) -> None:
    for path in sorted((shared_fixtures / "settlement").glob("*.xml")):
        data = path.read_bytes()
        report = parse_settlement(data, path.name)
        assert (report.reader, report.notes) == ("arrow", ()), path.name
        pd.testing.assert_frame_equal(report.rows, by_lxml(data, path.name))


def test_a_file_on_disk_is_read_where_it_lies_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks far smaller than the file, so that tags fall across the seams; the same frame."""
    from paydag.formats.settlement import arrow_reader

    monkeypatch.setattr(arrow_reader._OnDisk, "CHUNK", 97)
    data = SETTLEMENT_V1.read_bytes().replace(
        b"</SALES>", b'<CURRENCY Sum="0.00" Name="NOK"></CURRENCY></SALES>'
    )
    path = tmp_path / "R9001-0001.xml"
    path.write_bytes(data)
    parts, notes = read_arrow(path, path.name)
    assert parts.body_currencies == ["SEK", "NOK"] and notes == ()
    pd.testing.assert_frame_equal(assemble(parts, reader="arrow").rows, by_lxml(data))
    with path.open("rb") as f:
        report = parse_settlement(f, path.name)
    assert report.reader == "arrow"
    pd.testing.assert_frame_equal(report.rows, by_lxml(data))


def test_a_file_on_disk_cut_off_fails_and_one_in_latin_1_is_transcoded(tmp_path: Path) -> None:
    data = SETTLEMENT_V2.read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(data[: data.rindex(b"/>") + 2])
    with pytest.raises(
        FormatError, match=r"cut\.xml: not well-formed XML: <Currency> at byte \d+ is never closed"
    ):
        read_arrow(cut, cut.name)
    latin = tmp_path / "latin.xml"
    latin.write_bytes(
        data.replace(b'encoding="utf-8"', b'encoding="ISO-8859-1"').replace(b"Hyra", "Hyrä".encode("latin-1"))
    )
    parts, notes = read_arrow(latin, latin.name)
    assert notes == ("transcoded from ISO-8859-1 to UTF-8",)
    assert (assemble(parts, reader="arrow").rows["description"] == "Hyrä november").any()


def test_every_tag_is_found_also_where_one_tag_begins_another() -> None:
    from paydag.formats.settlement.arrow_reader import _find_tags

    data = b'<R><Cur a="1"></Cur><CurX/><Cur/></R>'
    tags = (b"<Cur", b"<CurX", b"</Cur>")
    found: dict[bytes, set[int]] = {tag: set() for tag in tags}
    _find_tags(data, 100, tags, found)
    assert found == {b"<Cur": {103, 120, 127}, b"<CurX": {120}, b"</Cur>": {114}}


@pytest.mark.parametrize("chunk", [5, 11, 97, 2**20])
def test_a_file_read_in_chunks_finds_every_tag_and_every_equals_sign_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The chunks share one buffer, each read behind the last bytes of the one before: whatever the
    chunk size, the same places and the same count as over the whole file at once."""
    from paydag.formats.settlement import arrow_reader

    monkeypatch.setattr(arrow_reader._OnDisk, "CHUNK", chunk)
    data = SETTLEMENT_V2.read_bytes()
    path = tmp_path / "report.xml"
    path.write_bytes(data)
    tags = (b"<Currency", b"</Currency>", b"<Summary", b"</Summary>", b"<Transaction")
    on_disk = arrow_reader._OnDisk(path)
    assert on_disk.find_all(tags) == arrow_reader._InMemory(data).find_all(tags)
    assert on_disk.equals() == data.count(b"=") > 0
    assert len(on_disk.find_all(tags)[b"<Transaction"]) == data.count(b"<Transaction")
