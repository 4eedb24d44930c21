"""The `paydag` console script, run as operations people run it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from lxml import etree

from paydag.samples import sample_payables, write_payables_csv
from tests.conftest import (
    BUNDLED_XSD,
    FIXTURES,
    MIXED_ROWS,
    REPO,
    SETTLEMENT_V1,
    SETTLEMENT_V2,
    TODAY,
    row,
    write_csv,
)

PAYDAG = Path(sys.executable).with_name("paydag")


def paydag(*args: str, cwd: Path, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """The console script in a fresh process, with only the test's PAYDAG_/PREFECT_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYDAG_", "PREFECT_"))}
    env |= {
        "PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"),
        "PAYDAG_HOME": str(cwd / ".paydag"),
    }
    return subprocess.run(
        [str(PAYDAG), *args], cwd=cwd, env=env | extra_env, capture_output=True, text=True, timeout=timeout
    )


def build(payables: Path, out: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`paydag build-pain001` for the demo company, with execution dates checked as of TODAY."""
    args = ["--company", "demo", "--out", str(out), "--today", TODAY.isoformat()]
    return paydag("build-pain001", str(payables), *args, *extra, cwd=cwd)


def test_builds_an_xsd_valid_file_from_every_kind_of_payment(tmp_path: Path) -> None:
    payables = write_csv(tmp_path / "payables.csv", MIXED_ROWS)
    out = tmp_path / "out" / "pain001.xml"
    result = build(payables, out, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "built"
    assert report["nb_of_txs"] == 5
    assert Decimal(report["ctrl_sum"]) == sum(Decimal(r["amount"]) for r in MIXED_ROWS)

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    schema = etree.XMLSchema(etree.parse(str(BUNDLED_XSD / "pain.001.001.03.xsd"), parser))
    doc = etree.parse(str(out), parser)
    schema.assertValid(doc)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert Decimal(doc.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns)) == Decimal("30715.60")
    kinds = {e.text for e in doc.iterfind(".//p:CdtrAcct/p:Id/p:Othr/p:SchmeNm/*", namespaces=ns)}
    assert kinds == {"BGNR", "BBAN"}  # bankgiro; plusgiro and account as BBAN under the swedbank profile
    assert len(doc.findall(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=ns)) == 2


def test_format_09(tmp_path: Path) -> None:
    payables = write_csv(tmp_path / "payables.csv", MIXED_ROWS)
    out = tmp_path / "pain001.xml"
    result = build(payables, out, "--format", "09", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pain.001.001.09" in result.stdout
    assert b"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09" in out.read_bytes()


def test_bad_rows_exit_1_naming_every_bad_payment(tmp_path: Path) -> None:
    rows = [
        *MIXED_ROWS,
        row(payment_id="BAD-BG", account="5050-1056"),
        row(payment_id="BAD-DATE", execution_date="2026-12-25"),
        row(payment_id="BAD-AMOUNT", amount="12,50"),
        row(payment_id="INV-1001"),  # a duplicate of the first row
    ]
    payables = write_csv(tmp_path / "payables.csv", rows)
    out = tmp_path / "pain001.xml"
    result = build(payables, out, cwd=tmp_path)
    assert result.returncode == 1
    for payment_id in ("BAD-BG", "BAD-DATE", "BAD-AMOUNT", "INV-1001"):
        assert f"payment {payment_id}:" in result.stderr
    assert "4 invalid payment(s); nothing was built" in result.stderr
    assert not out.exists()

    as_json = build(payables, out, "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["invalid_payment_ids"] == [
        "BAD-AMOUNT",
        "BAD-BG",
        "BAD-DATE",
        "INV-1001",
    ]


def test_allow_partial_builds_the_valid_rows_and_lists_the_rest(tmp_path: Path) -> None:
    payables = write_csv(
        tmp_path / "payables.csv", [*MIXED_ROWS, row(payment_id="BAD-BG", account="5050-1056")]
    )
    out = tmp_path / "pain001.xml"
    result = build(payables, out, "--allow-partial", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["nb_of_txs"] == 5
    assert report["left_out"] == ["BAD-BG"]
    assert b"BAD-BG" not in out.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["absent.csv", "--company", "demo"], "cannot be read"),
        (["payables.csv", "--company", "nobody"], "company 'nobody' is not in the configuration"),
        (["payables.csv", "--company", "demo", "--format", "07"], "'07' is not one of '03', '09'"),
    ],
)
def test_unreadable_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    write_csv(tmp_path / "payables.csv", MIXED_ROWS)
    result = paydag("build-pain001", *args, "--out", str(tmp_path / "o.xml"), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def test_send_twice_sends_once_and_says_so(tmp_path: Path, sandbox_url: str, prefect_server_api: str) -> None:
    first_day = date.today() + timedelta(days=3)
    payables = write_payables_csv(sample_payables(5, company="demo", first_day=first_day), tmp_path / "p.csv")
    url = {"PAYDAG_PAGERO_BASE_URL": sandbox_url, "PREFECT_API_URL": prefect_server_api}
    first = paydag(
        "send", str(payables), "--company", "demo", "--send-mode", "Test", "--json", cwd=tmp_path, **url
    )
    assert first.returncode == 0, first.stderr[-2000:]
    second = paydag("send", str(payables), "--company", "demo", "--send-mode", "Test", cwd=tmp_path, **url)
    assert second.returncode == 0, second.stderr[-2000:]
    sent = json.loads(first.stdout)
    assert sent["status"] == "sent" and sent["payments"] == 5
    assert (
        f"batch {sent['msg_id']} was already sent as provider file {sent['provider_file_id']}"
        in second.stdout
    )
    assert len(httpx.get(f"{sandbox_url}/_sandbox/state").json()["files"]) == 1

    status = paydag("status", "--json", cwd=tmp_path)
    report = json.loads(status.stdout)
    assert [(b["msg_id"], b["state"]) for b in report["batches"]] == [(sent["msg_id"], "SENT")]
    assert {p["state"] for p in report["payments"]} == {"SENT"}
    # Account numbers are masked in what the command shows.
    assert all(p["account"].split()[1].startswith("*") for p in report["payments"])


def test_send_an_invalid_batch_exits_1(tmp_path: Path, sandbox_url: str, prefect_server_api: str) -> None:
    payables = write_csv(tmp_path / "p.csv", [row(payment_id="BAD", account="5050-1056")])
    result = paydag(
        "send", str(payables), "--company", "demo", cwd=tmp_path, PAYDAG_PAGERO_BASE_URL=sandbox_url,
        PREFECT_API_URL=prefect_server_api,
    )  # fmt: skip
    assert result.returncode == 1
    assert "row 2 payment BAD: account: bankgiro number fails its check digit" in result.stderr


def test_sandbox_on_a_taken_port_exits_2(tmp_path: Path, sandbox_url: str) -> None:
    port = sandbox_url.rsplit(":", 1)[1]
    result = paydag("sandbox", "--port", port, cwd=tmp_path)
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is in use" in result.stderr


def test_parse_reports_kind_counts_and_writes_rows(tmp_path: Path) -> None:
    txn = FIXTURES / "pain002" / "paydag_pain.002.001.03_txn_reject.xml"
    result = paydag("parse", str(txn), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["label"], report["rows"], report["counts"]) == (
        "pain.002.001.03",
        3,
        {"ACCP": 1, "RJCT": 2},
    )
    [rejected] = [r for r in report["row_data"] if r["reason"] == "AC01"]
    assert rejected["reason_text"] == "Kontonumret finns inte hos mottagarbanken"

    camt = FIXTURES / "camt054" / "paydag_camt.054.001.04_debit.xml"
    out = tmp_path / "rows.csv"
    result = paydag("parse", str(camt), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "camt.054.001.04 (debit), 2 row(s): DBIT 2" in result.stdout
    assert "BOOK-20261125-1-2" in out.read_text()


def test_parse_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.7")
    result = paydag("parse", str(tmp_path / "x.pdf"), cwd=tmp_path)
    assert result.returncode == 2 and "not XML" in result.stderr
    broken = tmp_path / "broken.xml"
    broken.write_bytes(
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt/></Document>'
    )
    result = paydag("parse", str(broken), cwd=tmp_path)
    assert result.returncode == 1 and "OrgnlMsgId is missing" in result.stderr


def test_send_then_poll_by_hand(tmp_path: Path, sandbox_url: str, prefect_server_api: str) -> None:
    first_day = date.today() + timedelta(days=3)
    payables = write_payables_csv(sample_payables(4, company="demo", first_day=first_day), tmp_path / "p.csv")
    url = {"PAYDAG_PAGERO_BASE_URL": sandbox_url, "PREFECT_API_URL": prefect_server_api}
    sent = paydag("send", str(payables), "--company", "demo", "--send-mode", "Test", cwd=tmp_path, **url)
    assert sent.returncode == 0, sent.stderr[-2000:]
    polled = paydag("poll", "--company", "demo", "--json", cwd=tmp_path, **url)
    assert polled.returncode == 0, polled.stderr[-2000:]
    summary = json.loads(polled.stdout)["companies"]["demo"]
    assert (summary["files"], summary["acknowledged"], summary["payments_changed"]) == (1, 1, 4)
    status = json.loads(paydag("status", "--json", cwd=tmp_path).stdout)
    assert {p["state"] for p in status["payments"]} == {"ACCEPTED"}


def test_validate_exit_codes(tmp_path: Path) -> None:
    ok = paydag("validate", str(SETTLEMENT_V1), "--json", cwd=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["valid"] is True
    tampered = tmp_path / "t.xml"
    tampered.write_bytes(SETTLEMENT_V1.read_bytes().replace(b'Amount="8450.00"', b'Amount="8451.00"', 1))
    bad = paydag("validate", str(tampered), cwd=tmp_path)
    assert bad.returncode == 1
    assert "expect_column_sum_to_be_between (amount_minor): observed 4526500" in bad.stderr
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04")
    unreadable = paydag("validate", str(tmp_path / "x.xlsx"), cwd=tmp_path)
    assert unreadable.returncode == 2 and "give the XML transaction list instead" in unreadable.stderr


def test_validate_a_report_read_ahead_broken_or_cut_off_names_the_file(tmp_path: Path) -> None:
    """`paydag validate` starts reading a report's rows before its imports (cli._read_ahead): what the
    read finds wrong is said as the reader would say it, the file named."""
    data = SETTLEMENT_V2.read_bytes()
    row_end = data.index(b"/>", data.index(b"<Transaction "))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(data[:row_end] + b"></Wrong>" + data[row_end + 2 :])
    cut = tmp_path / "cut.xml"
    cut.write_bytes(data[: data.rindex(b"/>") + 2])
    for path, said in ((broken, "broken.xml: not well-formed XML"), (cut, "cut.xml: not well-formed XML")):
        done = paydag("validate", str(path), cwd=tmp_path)
        assert done.returncode == 2 and said in done.stderr, done.stderr


def test_parse_a_settlement_report(tmp_path: Path) -> None:
    out = tmp_path / "rows.parquet"
    result = paydag("parse", str(SETTLEMENT_V2), "--json", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["kind"], report["version"], report["accounting_no"], report["rows"]) == (
        "settlement",
        "2",
        "R9002-0001",
        12,
    )
    assert report["sums"] == {"SEK": "18978.00"}
    assert {s["service"]: s["sum"] for s in report["services"]}["Swish"] == "11224.00"
    assert (report["reader"], report["notes"]) == ("arrow", [])
    assert out.stat().st_size > 0
    (tmp_path / "list.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")
    xlsx = paydag("parse", str(tmp_path / "list.xlsx"), cwd=tmp_path)
    assert xlsx.returncode == 2 and "XLSX" in xlsx.stderr


def test_parse_says_which_reader_read_a_settlement_report_and_why(tmp_path: Path) -> None:
    commented = tmp_path / "commented.xml"
    commented.write_bytes(
        SETTLEMENT_V2.read_bytes().replace(b"<Transaction ", b'<!-- a="b" --><Transaction ', 1)
    )
    result = paydag("parse", str(commented), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "  note: read by lxml: the rows hold something besides attributes\n" in result.stdout


def test_reconcile_writes_the_report(tmp_path: Path) -> None:
    import pandas as pd

    captures = tmp_path / "captures.csv"
    captures.write_text(
        "number,payeeReference,type,amount,created\n20000000101,,Capture,129500,2022-11-24T14:18:45Z\n"
        "99999999999,X-1,Capture,1000,2022-11-20T10:00:00Z\n"
    )
    result = paydag(
        "reconcile",
        "--settlement",
        str(SETTLEMENT_V2),
        "--captures",
        str(captures),
        "--as-of",
        "2022-12-02",
        "--out",
        str(tmp_path / "out"),
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {"matched": 1, "missing in settlement": 1, "unexpected in settlement": 11}
    written = pd.read_parquet(tmp_path / "out" / "reconciliation-2022-12-02.parquet")
    assert len(written) == 13 and str(written["settled_minor"].dtype) == "Int64"
    assert written.set_index("transaction_no").loc["99999999999", "age_days"] == 12


def test_a_transliterated_name_reaches_the_file_with_a_warning(tmp_path: Path) -> None:
    polish = row(payment_id="PL-1", creditor_name="Łódź Trading", account_type="IBAN",
                 account="PL61109010140000071219812874", currency="EUR", amount="100.00", ocr="", message="Faktura 12",
                 creditor_town="Warszawa")  # fmt: skip
    out = tmp_path / "p.xml"
    result = build(write_csv(tmp_path / "p.csv", [polish]), out, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [warning] = json.loads(result.stdout)["warnings"]
    assert (warning["row"], warning["field"]) == (2, "creditor_name") and "'Lodz Trading'" in warning[
        "reason"
    ]
    assert "<Nm>Lodz Trading</Nm>" in out.read_text()
    shown = build(write_csv(tmp_path / "q.csv", [polish]), tmp_path / "q.xml", cwd=tmp_path)
    assert (
        "warning: row 2 payment PL-1: creditor_name: 'Łódź Trading' is written as 'Lodz Trading'"
        in shown.stdout
    )


def test_the_unlock_choices_are_the_registers_claims() -> None:
    from paydag.cli.register import WorkChoice
    from paydag.register.claims import Work

    assert [w.value for w in Work] == [w.value for w in WorkChoice]


def test_the_command_line_starts_without_the_register() -> None:
    # The file commands run anywhere, fast: loading the command line loads no database driver.
    code = "import sys, paydag.cli; print(sorted(m for m in ('sqlalchemy', 'prefect') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_file_commands_exit_at_once_with_their_output_whole(tmp_path: Path) -> None:
    # After printing, a file command skips the interpreter's teardown (atexit included); the rest
    # exit as usual, so that Prefect's handlers can flush. Run as users run it: the console script,
    # with an atexit handler of the test's own registered at start-up.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import atexit\natexit.register(print, 'torn down')\n")
    hook = {"PYTHONPATH": str(site)}
    parsed = paydag("parse", str(tmp_path / "missing.xml"), "--json", cwd=tmp_path, **hook)
    assert parsed.returncode == 2 and "torn down" not in parsed.stdout
    assert json.loads(parsed.stdout)["status"] == "unreadable"
    helped = paydag("--help", cwd=tmp_path, **hook)
    assert helped.returncode == 0 and helped.stdout.rstrip().endswith("torn down")


def test_a_late_batch_is_refused_naming_the_next_bank_day_or_moved(tmp_path: Path) -> None:
    payables = write_csv(tmp_path / "payables.csv", [row(payment_id="LATE", execution_date="2026-11-20")])
    out = tmp_path / "pain001.xml"
    common = ("build-pain001", str(payables), "--company", "demo", "--out", str(out))
    late = paydag(*common, "--now", "2026-11-20T14:10", cwd=tmp_path)
    assert late.returncode == 1 and not out.exists()
    assert "payment LATE: execution_date: 2026-11-20 is past bank profile" in late.stderr
    assert "the next possible date is 2026-11-23" in late.stderr
    moved = paydag(*common, "--now", "2026-11-20T14:10", "--move-to-next-bank-day", "--json", cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    doc = json.loads(moved.stdout)
    assert [i["execution_date"] for i in doc["payment_infos"]] == ["2026-11-23"]
    assert any(w["field"] == "execution_date" and "moved" in w["reason"] for w in doc["warnings"])
    early = paydag(*common, "--now", "2026-11-20T09:00", cwd=tmp_path)
    assert early.returncode == 0, early.stderr
    wrong = paydag(*common, "--now", "2026-11-20 09:00", cwd=tmp_path)
    assert wrong.returncode == 2 and "YYYY-MM-DDTHH:MM" in wrong.stderr


def test_send_by_hand_waits_for_approval_which_the_requester_cannot_give(
    tmp_path: Path, sandbox_url: str, prefect_server_api: str
) -> None:
    first_day = date.today() + timedelta(days=3)
    payables = write_payables_csv(sample_payables(3, company="demo", first_day=first_day), tmp_path / "p.csv")
    env = {"PAYDAG_PAGERO_BASE_URL": sandbox_url, "PREFECT_API_URL": prefect_server_api,
           "PAYDAG_COMPANIES__DEMO__APPROVERS": '["anna", "bertil"]', "PAYDAG_COMPANIES__DEMO__APPROVAL_THRESHOLD": "100"}  # fmt: skip
    send = ("send", str(payables), "--company", "demo", "--send-mode", "Test")
    waiting = paydag(*send, "--requested-by", "anna", "--json", cwd=tmp_path, **env)
    assert waiting.returncode == 0, waiting.stderr[-2000:]
    doc = json.loads(waiting.stdout)
    assert doc["status"] == "awaiting-approval" and doc["msg_id"].startswith("PD")
    msg_id = doc["msg_id"]
    assert httpx.get(f"{sandbox_url}/_sandbox/state").json()["files"] == []

    own = paydag("approve", msg_id, "--as", "anna", cwd=tmp_path, **env)
    assert own.returncode == 1 and "anna asked for this batch and may not approve it" in own.stderr
    stranger = paydag("approve", msg_id, "--as", "mallory", cwd=tmp_path, **env)
    assert stranger.returncode == 1 and "'mallory' is not an approver of company demo" in stranger.stderr
    approved = paydag("approve", msg_id, "--as", "bertil", "--comment", "checked", cwd=tmp_path, **env)
    assert approved.returncode == 0, approved.stderr
    assert "next: paydag send PAYABLES --company demo" in approved.stdout

    sent = paydag(*send, "--requested-by", "anna", "--json", cwd=tmp_path, **env)
    assert sent.returncode == 0, sent.stderr[-2000:]
    assert json.loads(sent.stdout)["status"] == "sent"
    assert len(httpx.get(f"{sandbox_url}/_sandbox/state").json()["files"]) == 1
    late = paydag("reject", msg_id, "--as", "bertil", "--reason", "too late", cwd=tmp_path, **env)
    assert late.returncode == 1 and "not awaiting approval" in late.stderr

    status = json.loads(paydag("status", "--json", cwd=tmp_path, **env).stdout)
    [batch] = status["batches"]
    assert [(a["decision"], a["by"]) for a in batch["approvals"]] == [
        ("REQUESTED", "anna"),
        ("APPROVED", "bertil"),
    ]
    [page] = status["pages"]  # the payments page's summary, as the artifact has it
    assert [(t["state"], t["payments"]) for t in page["totals"]] == [("SENT", 3)] and page[
        "needs_someone"
    ] == []


def test_build_pain001_holds_a_duplicate_of_a_payment_the_register_holds(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from paydag.formats.bank_profiles import bank_profile
    from paydag.formats.pain001 import message_id
    from paydag.payables import PaymentBatch, validate_payables
    from paydag.register import Register
    from paydag.settings import load_settings
    from paydag.storage import Direction, LocalRawStore

    out = tmp_path / "pain001.xml"
    payables = write_csv(tmp_path / "p.csv", [row(payment_id="INV-2")])  # the same OCR to the same bankgiro
    alone = paydag("build-pain001", str(payables), "--company", "demo", "--out", str(out), "--today",
                   TODAY.isoformat(), cwd=tmp_path)  # fmt: skip
    assert alone.returncode == 0, alone.stderr  # no register here: nothing to compare with
    out.unlink()

    register = Register(f"sqlite:///{tmp_path / '.paydag' / 'register.sqlite3'}")  # an earlier send's
    register.ensure_company("demo", load_settings().company("demo"))
    valid, _ = validate_payables([(2, row(payment_id="INV-1"))], company="demo", profile=bank_profile("swedbank"),
                                 today=TODAY, source="t")  # fmt: skip
    first = PaymentBatch("demo", "t", tuple(valid))
    msg_id = message_id(first)
    raw = LocalRawStore(tmp_path / "raw").put(Direction.OUTGOING, "demo", "x.xml", b"<x/>", source="t")
    register.begin_batch(msg_id, "demo", "t", datetime(2026, 11, 19, tzinfo=UTC))
    register.record_built(msg_id, raw=raw, name="x.xml", file_format="pain.001.001.03", nb_of_txs=1,
                          ctrl_sum=f"{first.total:f}", payments=((p, p.payment_id, "x") for p in first.payments))  # fmt: skip
    register.close()
    held = paydag("build-pain001", str(payables), "--company", "demo", "--out", str(out), "--today",
                  TODAY.isoformat(), cwd=tmp_path)  # fmt: skip
    assert held.returncode == 1 and not out.exists()
    assert f"payment INV-2: duplicate: held: repeats payment INV-1 of batch {msg_id} (BUILT)" in held.stderr


def test_reconcile_statement_reads_a_statement_file_and_carries_its_exceptions(tmp_path: Path) -> None:
    statement = REPO / "tests" / "fixtures" / "camt053" / "paydag_camt.053.001.08_statement.xml"
    result = paydag("reconcile-statement", str(statement), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["counts"] == {"not in the register": 4}  # an empty register knows none of its entries
    assert doc["exceptions"]["entries"]["opened"] == 4 and doc["balance_breaks"] == []
    again = json.loads(paydag("reconcile-statement", str(statement), "--json", cwd=tmp_path).stdout)
    assert again["exceptions"]["entries"] == {"opened": 0, "still_open": 4, "resolved": 0}
    today = datetime.now(UTC).date().isoformat()  # the file is kept, each run recorded: the day replays
    replayed = paydag("replay", "--date", today, "--verify", "--json", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    counts = json.loads(replayed.stdout)["counts"]
    assert (counts["bank statement given by hand"], counts["statement reconciliation"]) == (1, 2)
    broken = REPO / "tests" / "fixtures" / "camt053" / "paydag_camt.053.001.08_broken_balance.xml"
    refused = paydag("reconcile-statement", str(broken), cwd=tmp_path)
    assert refused.returncode == 1 and "does not add up" in refused.stderr


def test_the_package_gives_the_app_and_the_exit_codes_whichever_module_was_imported_first() -> None:
    """`paydag.cli` imports its commands when first asked (main reads a file ahead before): its `app`
    is the typer app, also once the module that wires it is imported."""
    import typer

    import paydag.cli.wiring
    from paydag.cli import Exit, app, main

    assert isinstance(app, typer.Typer) and app is paydag.cli.wiring.app
    assert int(Exit.INVALID) == 1 and callable(main)
    assert set(paydag.cli.__all__) == {"Exit", "app", "main"}


def test_validate_takes_the_rows_it_read_ahead_and_parse_reads_none_ahead(tmp_path: Path) -> None:
    """The console's `main` as a user runs it, its exit watched: `validate` leaves no read ahead
    behind (the reader took it), and `parse`, which parses the bytes it read to tell the kind,
    starts none (it would be a second parse of the whole file)."""
    code = """
import sys, threading
import paydag.cli as cli
from paydag.formats import columnar
leave = cli._exit_at_once
def watched(code):
    ahead = [t.name for t in threading.enumerate() if t.name.startswith("read ahead")]
    print(f"ahead={len(columnar._AHEAD)} threads={ahead} started={started}", file=sys.stderr)
    leave(code)
started = []
read_ahead = columnar.read_ahead
columnar.read_ahead = lambda parser, path: (started.append(path.name), read_ahead(parser, path))
cli._exit_at_once = watched
sys.argv = ["paydag", *sys.argv[1:]]
cli.main()
"""
    env = os.environ | {"PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"),
                        "PAYDAG_HOME": str(tmp_path / ".paydag")}  # fmt: skip
    name = SETTLEMENT_V2.name
    for command, said in (("validate", f"ahead=0 threads=[] started=['{name}']"),
                          ("parse", "ahead=0 threads=[] started=[]")):  # fmt: skip
        done = subprocess.run([sys.executable, "-c", code, command, str(SETTLEMENT_V2)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0 and said in done.stderr, (command, done.stderr[-2000:])
