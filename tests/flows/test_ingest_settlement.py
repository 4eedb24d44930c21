"""ingest-settlement-report under Prefect: v1 and v2 reports curated, a tampered one quarantined for the
right reason, bad input refused with nothing lost, the same report again a no-op."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from flows.ingest_settlement import ingest_settlement_report
from paydag import resources
from paydag.formats.xml import FormatError
from paydag.ingest import SettlementInvalid
from paydag.settings import load_settings
from tests.conftest import SETTLEMENT_V1, SETTLEMENT_V2


def register():
    return resources.open_register(load_settings())


@pytest.mark.parametrize(
    ("path", "accounting_no", "rows", "total"),
    [(SETTLEMENT_V1, "R9001-0001", 10, 4526400), (SETTLEMENT_V2, "R9002-0001", 12, 1897800)],
    ids=["v1", "v2"],
)
def test_reports_are_curated_once(path: Path, accounting_no: str, rows: int, total: int) -> None:
    source = str(path)
    result = ingest_settlement_report(source=source)
    assert (result["accounting_no"], result["state"], result["rows"]) == (accounting_no, "CURATED", rows)
    curated = pd.read_parquet(result["curated_path"])
    assert len(curated) == rows and int(curated["amount_minor"].sum()) == total
    assert curated["transaction_no"].map(type).eq(str).all()
    store = resources.open_store(load_settings())
    assert result["raw_key"].startswith("incoming/settlement/") and store.exists(result["raw_key"])
    assert result["docs_key"] and store.exists(result["docs_key"])

    again = ingest_settlement_report(source=source)
    assert again["state"] == "ALREADY" and again["curated_path"] == result["curated_path"]
    forced = ingest_settlement_report(source=source, force=True)
    assert forced["state"] == "CURATED"
    reg = register()
    assert reg.settlement(accounting_no).state == "CURATED"
    reg.close()


def test_a_report_that_no_longer_adds_up_is_quarantined(tmp_path: Path) -> None:
    data = SETTLEMENT_V2.read_bytes()
    tampered = tmp_path / "R9002-0001-tampered.xml"
    tampered.write_bytes(re.sub(rb"\s*<Transaction [^>]*/>", b"", data, count=1))
    with pytest.raises(SettlementInvalid, match="expect_table_row_count_to_equal") as caught:
        ingest_settlement_report(source=str(tampered))
    assert "expect_column_sum_to_be_between(amount_minor)" in str(caught.value)
    reg = register()
    record = reg.settlement("R9002-0001")
    reg.close()
    assert record.state == "QUARANTINED" and record.curated_path is None
    assert not (load_settings().curated_dir / "settlement" / "R9002-0001.parquet").exists()
    store = resources.open_store(load_settings())
    assert [k for k in store.list("quarantine/settlement/") if k.endswith("tampered.xml")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"PK\x03\x04 an xlsx", "XLSX"),
        (b"", "empty"),
        (b"<SALES", "not well-formed"),
        (b"<Other/>", "not a Swedbank Pay"),
    ],
)
def test_bad_input_is_refused_and_kept(tmp_path: Path, content: bytes, reason: str) -> None:
    source = tmp_path / "report.bin"
    source.write_bytes(content)
    with pytest.raises(FormatError, match=reason):
        ingest_settlement_report(source=str(source))
    store = resources.open_store(load_settings())
    assert [k for k in store.list("quarantine/settlement/") if k.endswith("report.bin")]


def test_new_reports_in_the_inbox_are_ingested_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("PAYDAG_SETTLEMENT_INBOX", str(inbox))
    for path in (SETTLEMENT_V1, SETTLEMENT_V2):
        (inbox / path.name).write_bytes(path.read_bytes())
    (inbox / "copy-of-v1.xml").write_bytes(SETTLEMENT_V1.read_bytes())  # same bytes
    first = ingest_settlement_report()
    states = {Path(k).name: v["state"] for k, v in first["reports"].items()}
    assert (
        sorted(states.values()) == ["CURATED", "CURATED"] and len(states) == 2
    )  # the copy was seen as known
    assert ingest_settlement_report() == {"reports": {}}


def test_a_report_the_sandbox_settles_from_its_captures_is_ingested(sandbox_url: str, tmp_path: Path) -> None:
    import httpx

    captures = [
        {"transaction_no": str(40000000000 + n), "order_id": f"RENT-{n}", "amount": 845000 + n, "vat_amount": None,
         "service": "Swish" if n % 2 else "Faktura SE", "created": f"2026-11-{10 + n:02d} 12:00:00"}
        for n in range(6)
    ]  # fmt: skip
    captures.append({"transaction_no": "40000000099", "order_id": "RENT-1", "type": "Reversal", "amount": 845001,
                     "service": "Swish", "created": "2026-11-20 09:00:00", "referenced_transaction": "40000000001"})  # fmt: skip
    httpx.post(f"{sandbox_url}/_sandbox/captures", json=captures).raise_for_status()
    settled = httpx.post(f"{sandbox_url}/_sandbox/settle", json={"accounting_no": "R7777-0001"}).json()
    assert settled == {"accounting_no": "R7777-0001", "rows": 7, "document_id": None}  # to no inbox
    report = tmp_path / "R7777-0001.xml"
    report.write_bytes(httpx.get(f"{sandbox_url}/_sandbox/settlement/R7777-0001").content)
    result = ingest_settlement_report(source=str(report))
    assert (result["state"], result["rows"]) == ("CURATED", 7)
    assert result["sums_minor"] == {"SEK": sum(c["amount"] for c in captures[:6]) - 845001}
    # Everything settled once: a second settlement has nothing in it.
    assert (
        httpx.post(f"{sandbox_url}/_sandbox/settle", json={"accounting_no": "R7777-0002"}).json()["rows"] == 0
    )
