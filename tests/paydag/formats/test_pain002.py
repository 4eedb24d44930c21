from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from paydag.formats.pain002 import parse_pain002
from paydag.formats.xml import FormatError
from sandbox.bankfiles import PmtInfStatus, TxStatus, pain002
from tests.conftest import FIXTURES


def fixture(shared_fixtures: Path, name: str) -> bytes:
    return (shared_fixtures / "pain002" / name).read_bytes()


def test_group_reject(shared_fixtures: Path) -> None:
    report = parse_pain002(fixture(shared_fixtures, "nordea_pain.002.001.03_group_reject.xml"))
    assert (report.version, report.original_msg_id, report.group_status) == (
        "03",
        "MSGID-PS-TEST-0708-01",
        "RJCT",
    )
    assert [(r.label, r.text) for r in report.group_reasons] == [("DU01", "ISO Duplicate Message ID")]
    assert report.payment_infos == ()


def test_payment_information_reject_keeps_the_narrative(shared_fixtures: Path) -> None:
    report = parse_pain002(fixture(shared_fixtures, "nordea_pain.002.001.03_payment_reject.xml"))
    assert report.group_status is None
    [info] = report.payment_infos
    assert (info.original_pmt_inf_id, info.status, info.transactions) == (
        "PMTINFID-COM-SCE25-1707-01",
        "RJCT",
        (),
    )
    assert [(r.label, r.text) for r in info.reasons] == [
        ("NARR", "CAP Invalid code or combinations in CategoryPurpose or ServiceLevel")
    ]


def test_transaction_rejects(shared_fixtures: Path) -> None:
    report = parse_pain002(fixture(shared_fixtures, "nordea_pain.002.001.03_txn_reject.xml"))
    [info] = report.payment_infos
    assert [(t.original_instr_id, t.original_end_to_end_id, t.status) for t in info.transactions] == [
        ("INSTRID-950-TEST2-2807-02", "ENDTOENDID-950-TEST2-2807-02", "RJCT"),
        ("INSTRID-950-TEST2-2807-01", "ENDTOENDID-950-TEST2-2807-01", "RJCT"),
    ]
    assert report.transaction_count == 2


def instance(version: str) -> bytes:
    """A status report as the sandbox's bank writes it."""
    return pain002(
        version=version,
        msg_id="BANK-1",
        created="2026-11-24T08:00:00",
        original_msg_id="PDABC",
        group_status="PART",
        payment_infos=[
            PmtInfStatus(
                "PDABC-001",
                "PART",
                transactions=(
                    TxStatus("INV-1", "ACCP"),
                    TxStatus("INV-2", "RJCT", "AC01", "Kontot finns inte", instr_id="I-2"),
                ),
            )
        ],
    )


@pytest.mark.parametrize("version", ["03", "10"])
def test_instances_of_both_versions(version: str) -> None:
    report = parse_pain002(instance(version))
    assert report.version == version and report.group_status == "PART"
    txs = report.payment_infos[0].transactions
    assert [(t.original_end_to_end_id, t.status) for t in txs] == [("INV-1", "ACCP"), ("INV-2", "RJCT")]
    assert (txs[1].reasons[0].label, txs[1].reasons[0].text, txs[1].original_instr_id) == (
        "AC01",
        "Kontot finns inte",
        "I-2",
    )


@pytest.mark.parametrize("version", ["03", "10"])
def test_the_sandbox_writes_xsd_valid_instances(version: str, shared_fixtures: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared_fixtures / "xsd" / f"pain.002.001.{version}.xsd")))
    schema.assertValid(etree.fromstring(instance(version)))


def test_our_transaction_reject() -> None:
    report = parse_pain002((FIXTURES / "pain002" / "paydag_pain.002.001.03_txn_reject.xml").read_bytes())
    assert (report.version, report.original_msg_id, report.group_status) == (
        "03",
        "PAYDAG-DEMO-20261120-0001",
        "PART",
    )
    [info] = report.payment_infos
    assert [(t.original_end_to_end_id, t.status) for t in info.transactions] == [
        ("INV-1001", "ACCP"),
        ("INV-1002", "RJCT"),
        ("INV-1003", "RJCT"),
    ]
    assert [(r.label, r.text) for r in info.transactions[2].reasons] == [
        ("AM05", "Dubblett av tidigare betalning")
    ]


def test_our_group_accept_in_version_10() -> None:
    report = parse_pain002((FIXTURES / "pain002" / "paydag_pain.002.001.10_group_accept.xml").read_bytes())
    assert (report.version, report.original_msg_id, report.group_status) == (
        "10",
        "PAYDAG-DEMO-20261120-0002",
        "ACCP",
    )
    assert not report.payment_infos and report.transaction_count == 0


def test_lenient_with_casing_missing_elements_and_no_namespace() -> None:
    data = b"""<Document><CstmrPmtStsRpt><GrpHdr><MsgId>X</MsgId></GrpHdr>
      <OrgnlGrpInfAndSts><OrgnlMsgId>PD1</OrgnlMsgId><GrpSts> rjct </GrpSts></OrgnlGrpInfAndSts>
      <OrgnlPmtInfAndSts><OrgnlPmtInfId>PD1-001</OrgnlPmtInfId>
        <TxInfAndSts><OrgnlEndToEndId>E1</OrgnlEndToEndId><TxSts>acfc</TxSts>
          <OrgnlTxRef><Amt><InstdAmt Ccy="sek">10.50</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts>
      </OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"""
    report = parse_pain002(data, "odd.xml")
    assert report.group_status == "RJCT" and report.original_msg_name_id is None
    tx = report.payment_infos[0].transactions[0]
    assert (tx.status, tx.original_amount, tx.original_currency) == ("ACFC", Decimal("10.50"), "SEK")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<Document><CstmrPmtStsRpt>", "not well-formed"),
        (b"<Document><Other/></Document>", "not a pain.002"),
        (
            b"<Document><CstmrPmtStsRpt><OrgnlGrpInfAndSts/></CstmrPmtStsRpt></Document>",
            "OrgnlMsgId is missing",
        ),
        (
            b"<Document><CstmrPmtStsRpt><OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts>"
            b"<OrgnlPmtInfAndSts><OrgnlPmtInfId>P</OrgnlPmtInfId><TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts>"
            b"</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>",
            "TxInfAndSts #1: names no payment",
        ),
        (b'<!DOCTYPE d [<!ENTITY e "x">]><Document>&e;</Document>', "DOCTYPE"),
    ],
)
def test_bad_files_name_the_file_and_element(data: bytes, reason: str) -> None:
    with pytest.raises(FormatError, match=reason) as caught:
        parse_pain002(data, "bank.xml")
    assert str(caught.value).startswith("bank.xml")
