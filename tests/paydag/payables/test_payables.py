from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from paydag.formats.bank_profiles import bank_profile
from paydag.payables import (
    AccountType,
    PayablesUnreadable,
    PaymentType,
    load_batch,
    read_payables,
    validate_payables,
)
from tests.conftest import MIXED_ROWS, TODAY, row, write_csv

GENERIC = bank_profile("generic")


def validate(*rows: dict[str, str], profile=GENERIC):
    return validate_payables(
        enumerate(rows, start=2), company="demo", profile=profile, today=TODAY, source="test.csv"
    )


def errors_of(*rows: dict[str, str], profile=GENERIC) -> list[tuple[str, str, str]]:
    _, report = validate(*rows, profile=profile)
    return [(e.payment_id, e.field, e.reason) for e in report.errors]


def test_mixed_batch_is_valid_and_normalised() -> None:
    payments, report = validate(*MIXED_ROWS)
    assert report.ok, report.errors
    by_id = {p.payment_id: p for p in payments}
    assert by_id["INV-1001"].account == "50501055"
    assert by_id["INV-1001"].ocr == "20260911000000316"
    assert by_id["INV-1002"].account_type is AccountType.PG
    assert by_id["INV-1003"].clearing == "5000"
    assert by_id["INV-1004"].account == "SE4550000000058398257466"
    assert by_id["INV-1004"].payment_type is PaymentType.DOMESTIC
    assert by_id["INV-1004"].bic == "ESSESESS"  # derived from the Swedish IBAN's bank code
    assert by_id["INV-1005"].payment_type is PaymentType.SEPA
    assert by_id["INV-1005"].creditor_country == "DE"
    assert by_id["INV-1002"].amount == Decimal("7125.50")


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"account": "5050-1056"}, "account", "bankgiro number fails its check digit"),
        ({"account_type": "PG", "account": "12345-6"}, "account", "plusgiro number fails"),
        ({"account_type": "BBAN", "account": "5000 1234561"}, "account", "SEB account number fails"),
        ({"account_type": "IBAN", "account": "SE4550000000058398257467"}, "account", "IBAN is not valid"),
        ({"account_type": "XX"}, "account_type", "not one of BG, PG, BBAN, IBAN"),
        ({"bic": "NOTABIC"}, "bic", "BIC is not valid"),
        ({"ocr": "20260911000000317"}, "ocr", "check digit"),
        ({"amount": "0.00"}, "amount", "greater than zero"),
        ({"amount": "-10.00"}, "amount", "decimal number with a dot"),
        ({"amount": "10,50"}, "amount", "decimal number with a dot"),
        ({"amount": "10.505"}, "amount", "at most 2"),
        ({"currency": "SKR"}, "currency", "not an ISO 4217"),
        ({"currency": "EUR"}, "currency", "BG payments are made in SEK"),
        ({"creditor_name": ""}, "creditor_name", "is required"),
        ({"creditor_name": "A" * 71}, "creditor_name", "at most 70"),
        ({"creditor_name": "Bad\x07Name"}, "creditor_name", "control characters"),
        ({"execution_date": "2026-11-19"}, "execution_date", "in the past"),
        ({"execution_date": "2026-11-21"}, "execution_date", "Saturday"),
        ({"execution_date": "2026-12-24"}, "execution_date", "Julafton"),
        ({"execution_date": "24/11/2026"}, "execution_date", "YYYY-MM-DD"),
        ({"message": "Faktura 1"}, "ocr", "not both"),
        ({"ocr": "", "message": ""}, "message", "OCR reference or a message is required"),
        ({"ocr": "", "message": "x" * 141}, "message", "at most 140"),
        ({"company": "other"}, "company", "row is for company 'other'"),
        ({"payment_id": ""}, "payment_id", "is required"),
        ({"creditor_country": "ZZ"}, "creditor_country", "not an ISO 3166"),
        ({"creditor_country": "NO"}, "creditor_country", "accounts are Swedish"),
    ],
)
def test_each_rule_names_field_and_reason(overrides: dict[str, str], field: str, reason: str) -> None:
    payments, report = validate(row(**overrides))
    assert payments == []
    assert any(e.field == field and reason in e.reason for e in report.errors), report.errors


def test_every_failure_of_a_row_is_reported() -> None:
    errors = errors_of(row(account="5050-1056", amount="0", currency="SKR", execution_date="2026-11-22"))
    fields = {field for _, field, _ in errors}
    assert fields == {"account", "amount", "currency", "execution_date"}


def test_every_bad_row_is_reported_not_only_the_first() -> None:
    rows = [
        row(payment_id="OK-1"),
        row(payment_id="BAD-1", account="5050-1056"),
        row(payment_id="OK-2"),
        row(payment_id="BAD-2", amount="abc"),
        row(payment_id="BAD-3", execution_date="2026-12-25"),
    ]
    payments, report = validate(*rows)
    assert report.invalid_payment_ids == ["BAD-1", "BAD-2", "BAD-3"]
    assert [p.payment_id for p in payments] == ["OK-1", "OK-2"]
    assert report.invalid_rows == [3, 5, 6]


def test_duplicate_payment_ids_invalidate_every_occurrence() -> None:
    payments, report = validate(row(payment_id="A"), row(payment_id="B"), row(payment_id="A", amount="1.00"))
    assert [p.payment_id for p in payments] == ["B"]
    duplicates = [e for e in report.errors if e.field == "payment_id"]
    assert [(e.row, e.reason) for e in duplicates] == [
        (2, "duplicate in this batch (also on row 4)"),
        (4, "duplicate in this batch (also on row 2)"),
    ]


def test_ocr_length_digit_follows_the_bank_profile() -> None:
    # 20260911000000316 is Luhn-valid, but its next-to-last digit is not its length (17) mod 10.
    assert errors_of(row()) == []
    profile = GENERIC.model_copy(update={"ocr_length_digit": True})
    assert errors_of(row(), profile=profile) == [
        ("INV-1", "ocr", "OCR reference's length digit is 1, but the reference has 17 digits")
    ]
    assert errors_of(row(ocr="12351"), profile=profile) == []


def test_rf_reference_is_accepted_for_sepa_and_ocr_is_not() -> None:
    sepa = MIXED_ROWS[4] | {"message": ""}
    assert errors_of(sepa | {"ocr": "RF18 5390 0754 7034"}) == []
    assert errors_of(sepa | {"ocr": "RF19 5390 0754 7034"})[0][1:] == (
        "ocr",
        "RF creditor reference fails its ISO 11649 check",
    )
    assert "for Swedish payees" in errors_of(sepa | {"ocr": "123456782"})[0][2]


def test_cross_border_needs_bic_and_a_structured_address() -> None:
    usd = row(
        payment_id="X-1",
        account_type="IBAN",
        account="GB33BUKB20201555555555",
        currency="USD",
        ocr="",
        message="Invoice 7",
    )
    errors = errors_of(usd)
    need = "a cross-border payment needs the creditor's structured address: at least creditor_town"
    assert next(e for e in errors if e[1] == "creditor_town")[2].startswith(need)
    unstructured = errors_of(usd | {"creditor_address": "1 High Street; London", "bic": "BUKBGB22"})
    assert [e[1] for e in unstructured] == ["creditor_town"]  # AdrLine alone is refused since November 2026
    payments, report = validate(usd | {"creditor_town": "London", "bic": "BUKBGB22"})
    assert report.ok, report.errors
    assert payments[0].payment_type is PaymentType.CROSS_BORDER and payments[0].creditor_town == "London"


def test_a_sepa_payment_without_a_town_is_refused_naming_its_row() -> None:
    eur = MIXED_ROWS[4] | {"creditor_town": "", "creditor_address": "Mainzer Landstraße 16; Frankfurt"}
    [(payment_id, field, reason)] = errors_of(row(), eur)[-1:]
    assert (payment_id, field) == ("INV-1005", "creditor_town") and reason.startswith("a sepa payment needs")
    _, report = validate(row(), eur)
    assert [e.row for e in report.errors] == [3]


def test_domestic_payments_need_no_address() -> None:
    assert errors_of(*MIXED_ROWS[:4]) == []


def test_swedbank_check_digit_failure_is_a_warning_not_an_error() -> None:
    payments, report = validate(row(account_type="BBAN", account="8327-9, 912 345 678-4"))
    assert report.ok
    assert [w.field for w in report.warnings] == ["account"]
    assert payments[0].clearing == "83279"


def test_reads_csv_with_semicolons_bom_and_optional_columns(tmp_path: Path) -> None:
    rows = [
        {k: v for k, v in r.items() if k not in ("creditor_country", "creditor_address")} for r in MIXED_ROWS
    ]
    path = write_csv(tmp_path / "payables.csv", rows, delimiter=";")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    read = list(read_payables(path))
    assert [n for n, _ in read] == [2, 3, 4, 5, 6]
    assert read[0][1]["creditor_name"] == "Sågverk Öster AB"


def test_reads_json_lines_keeping_amounts_exact(tmp_path: Path) -> None:
    lines = [json.dumps(r | {"amount": "AMOUNT"}).replace('"AMOUNT"', r["amount"]) for r in MIXED_ROWS]
    path = tmp_path / "payables.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch, report = load_batch(path, company="demo", profile=GENERIC, today=TODAY)
    assert report.ok and batch is not None
    assert batch.total == Decimal("30715.60")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00p\x00a", "not UTF-8"),
        (b"payment_id,company\nA,demo\n", "lacks the column(s) creditor_name"),
        (b'{"payment_id": "A"\n', "not JSON"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "payables.csv"
    path.write_bytes(content)
    with pytest.raises(PayablesUnreadable, match=re.escape(reason)) as caught:
        list(read_payables(path))
    assert "payables.csv" in str(caught.value)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(PayablesUnreadable, match="cannot be read"):
        list(read_payables(tmp_path / "absent.csv"))


def test_invalid_batch_builds_nothing_unless_partial_is_allowed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [*MIXED_ROWS, row(payment_id="BAD", amount="0")])
    batch, report = load_batch(path, company="demo", profile=GENERIC, today=TODAY)
    assert batch is None and report.invalid_payment_ids == ["BAD"]
    batch, report = load_batch(path, company="demo", profile=GENERIC, today=TODAY, allow_partial=True)
    assert batch is not None and len(batch) == 5
    assert report.invalid_payment_ids == ["BAD"]


def test_a_file_without_rows_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(",".join(row()) + "\n", encoding="utf-8")
    batch, report = load_batch(path, company="demo", profile=GENERIC, today=TODAY, allow_partial=True)
    assert batch is None
    assert report.errors[0].reason == "the file holds no payments"


def test_a_name_outside_the_banks_set_is_transliterated_and_reported() -> None:
    polish = row(payment_id="PL-1", creditor_name="Łódź Trading", account_type="IBAN",
                 account="PL61109010140000071219812874", currency="EUR", amount="100.00", ocr="", message="Faktura 12",
                 creditor_town="Warszawa")  # fmt: skip
    payments, report = validate(polish)
    assert report.ok and payments[0].creditor_name == "Lodz Trading"
    [warning] = report.warnings
    assert (warning.row, warning.payment_id, warning.field) == (2, "PL-1", "creditor_name")
    assert warning.reason == "'Łódź Trading' is written as 'Lodz Trading' (the bank's sepa character set)"


def test_domestic_text_keeps_the_swedish_letters() -> None:
    payments, report = validate(row(creditor_name="Sågverk Öster & Co AB"))
    assert payments[0].creditor_name == "Sågverk Öster & Co AB" and report.warnings == []


def test_a_letter_that_would_be_lost_refuses_the_row() -> None:
    chinese = row(payment_id="CN-1", creditor_name="北京 Trading", account_type="IBAN",
                  account="DE89370400440532013000", currency="EUR", amount="10.00", ocr="", message="x",
                  creditor_town="Berlin")  # fmt: skip
    payments, report = validate(chinese)
    assert payments == []
    [error] = report.errors
    assert (error.row, error.field) == (
        2,
        "creditor_name",
    ) and "'北' has no form in the sepa character set" in error.reason


def test_an_amount_too_long_for_a_payment_file_is_refused_by_its_row() -> None:
    payments, report = validate(row(payment_id="BIG", amount="99999999999999999.99"))
    assert payments == []
    [error] = report.errors
    assert (error.row, error.payment_id, error.field) == (2, "BIG", "amount")
    assert "has 19 digits" in error.reason and "at most 18" in error.reason
    ok, report = validate(row(payment_id="MAX", amount="9999999999999999.99"))  # 18 digits
    assert report.ok and ok[0].amount == Decimal("9999999999999999.99")


def test_a_control_sum_too_long_is_refused_for_the_batch() -> None:
    rows = [row(payment_id=f"B-{n}", amount="9999999999999999.99") for n in range(10)]
    _, report = validate(*rows)
    assert [e.reason for e in report.errors if e.field == "batch"] == [
        "the control sum 99999999999999999.90 has more than 18 digits: split the batch"
    ]


def test_a_check_run_once_for_an_input_still_reports_on_every_row_that_gives_it() -> None:
    """Accounts, names and dates are checked once per distinct value in a batch: each row with the
    same bad account, and each with the same transliterated name, is still reported by its own row."""
    bad = [row(payment_id=f"BAD-{n}", account="5050-1056") for n in range(3)]
    polish = [row(payment_id=f"PL-{n}", creditor_name="Łódź Trading", account_type="IBAN",
                  account="PL61109010140000071219812874", currency="EUR", amount="100.00", ocr="",
                  message="Faktura 12", creditor_town="Warszawa") for n in range(2)]  # fmt: skip
    payments, report = validate(*bad, *polish)
    assert [(e.row, e.payment_id, e.field) for e in report.errors] == [
        (2, "BAD-0", "account"), (3, "BAD-1", "account"), (4, "BAD-2", "account")
    ]  # fmt: skip
    assert len({e.reason for e in report.errors}) == 1
    assert [(w.row, w.payment_id, w.field) for w in report.warnings] == [
        (5, "PL-0", "creditor_name"), (6, "PL-1", "creditor_name")
    ]  # fmt: skip
    assert [p.creditor_name for p in payments] == ["Lodz Trading", "Lodz Trading"]


def test_a_batch_reports_each_row_as_if_it_were_checked_alone() -> None:
    # The rules run column by column, once per distinct input; what each row is told must not
    # depend on the other rows: the same issues, in the same order, as for the row alone.
    bad = [
        row(payment_id="B1", account="5050-1056", amount="0"),
        row(payment_id="B2", currency="XXX", ocr="123", execution_date="2026-11-21"),
        row(
            payment_id="B3",
            account_type="IBAN",
            account="FI2112345600000785",
            currency="EUR",
            ocr="",
            message="Müller & Söhne",
            creditor_town="",
        ),
        row(payment_id="B4", creditor_name=" ", message="Faktura\x07", ocr=""),
        row(payment_id="B5", account_type="BBAN", account="8327-9, 912 345 678-4", amount="12.345"),
        row(payment_id="B6", ocr="RF18539007547034", creditor_name="Łódź Tømrer AB"),
    ]
    rows = [r | {"payment_id": f"{r['payment_id']}-{k}"} for k in range(3) for r in [*MIXED_ROWS, *bad]]
    _, report = validate(*rows)

    def by_row(issues) -> dict[int, list[tuple[str, str]]]:
        found: dict[int, list[tuple[str, str]]] = {}
        for issue in issues:
            found.setdefault(issue.row, []).append((issue.field, issue.reason))
        return found

    errors, warnings = by_row(report.errors), by_row(report.warnings)
    assert len(errors) == 3 * (len(bad) - 1) and warnings  # B6 is only warned (its name is transliterated)
    for number, values in enumerate(rows, start=2):
        _, alone = validate_payables(
            [(number, values)], company="demo", profile=GENERIC, today=TODAY, source="test.csv"
        )
        assert errors.get(number, []) == by_row(alone.errors).get(number, []), values["payment_id"]
        assert warnings.get(number, []) == by_row(alone.warnings).get(number, []), values["payment_id"]


def _as_of(moment: str, *rows: dict[str, str], move: bool = False):
    now = datetime.fromisoformat(moment).replace(tzinfo=ZoneInfo("Europe/Stockholm"))
    return validate_payables(
        enumerate(rows, start=2), company="demo", profile=GENERIC, today=now.date(), source="t.csv",
        now=now, move_to_next_bank_day=move,
    )  # fmt: skip


def test_a_payment_due_today_after_its_cut_off_is_refused_naming_the_next_possible_date() -> None:
    friday = "2026-11-20"  # TODAY; the next bank day is Monday the 23rd
    domestic = row(payment_id="D", execution_date=friday)
    sepa = next(r for r in MIXED_ROWS if r["currency"] == "EUR") | {
        "payment_id": "S",
        "execution_date": friday,
    }
    payments, report = _as_of(f"{friday}T12:59", domestic, sepa)
    assert report.ok and len(payments) == 2  # before 13:00 both go today
    _, report = _as_of(f"{friday}T13:01", domestic, sepa)
    assert [(e.payment_id, e.field) for e in report.errors] == [
        ("D", "execution_date"),
        ("S", "execution_date"),
    ]
    assert (
        "past bank profile 'generic''s domestic cut-off 13:00 (it is 13:01 in Stockholm)"
        in report.errors[0].reason
    )
    assert report.errors[0].reason.endswith("the next possible date is 2026-11-23")
    future = row(payment_id="F", execution_date="2026-11-24")
    payments, report = _as_of(f"{friday}T16:00", future)
    assert report.ok and payments[0].execution_date == date(2026, 11, 24)  # only today's payments are late


def test_moving_to_the_next_bank_day_says_so_per_payment() -> None:
    late = row(payment_id="L", execution_date="2026-11-20")
    saturday = row(payment_id="W", execution_date="2026-11-21")
    payments, report = _as_of("2026-11-20T15:30", late, saturday, move=True)
    assert report.ok
    assert [p.execution_date for p in payments] == [date(2026, 11, 23), date(2026, 11, 23)]
    reasons = {w.payment_id: w.reason for w in report.warnings if w.field == "execution_date"}
    assert reasons["L"].endswith("moved to the next possible date 2026-11-23")
    assert reasons["W"] == "2026-11-21 is a Saturday, not a bank day: moved to the next bank day 2026-11-23"
    _, unmoved = _as_of("2026-11-20T15:30", saturday)
    assert "not a bank day; next bank day 2026-11-23" in unmoved.errors[0].reason


def test_the_cut_off_is_the_profiles_per_payment_type() -> None:
    from paydag.formats.bank_profiles import Cutoffs

    assert Cutoffs().of("cross-border") < Cutoffs().of("domestic")
    early = GENERIC.model_copy(update={"cutoffs": Cutoffs(domestic=time(9, 0))})
    now = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Europe/Stockholm"))
    _, report = validate_payables(
        [(2, row(execution_date="2026-11-20"))], company="demo", profile=early, today=now.date(),
        source="t.csv", now=now,
    )  # fmt: skip
    assert "domestic cut-off 09:00" in report.errors[0].reason


def test_an_export_read_in_blocks_keeps_every_row_its_line_and_one_object_per_repeated_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paydag.payables import export, read_payables_table

    monkeypatch.setattr(export, "_BLOCK", 3)  # blocks far smaller than the file, blank lines across them
    monkeypatch.setattr(export._Columns, "_DISTINCT", 2)
    rows = [row(payment_id=f"P{n}", amount=f"{100 + n}.00") for n in range(8)]
    path = write_csv(tmp_path / "payables.csv", rows)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:3], ",,,,,,,,,,\n", *lines[3:7], "\n", *lines[7:]]))
    table = read_payables_table(path)
    assert table.column("payment_id") == [f"P{n}" for n in range(8)]
    assert table.column("amount") == [f"{100 + n}.00" for n in range(8)]
    assert table.lines == [2, 3, 5, 6, 7, 8, 10, 11]
    company = table.column("company")
    assert len({id(v) for v in company}) == 1 and company[0] == rows[0]["company"]
