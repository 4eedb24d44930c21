"""Every rule a payables row must meet, each failure reported with its row, payment_id, field and
reason: identifiers, amounts, currencies, names, dates, references, duplicates."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import pycountry
from stdnum import iso11649

from paydag import bankdays, identifiers, money
from paydag.formats.bank_profiles import BankProfile
from paydag.formats.charset import Untransliterable, fit
from paydag.payables.batch import AccountType, Payment, PaymentType, RowIssue, ValidationReport

CREDITOR_NAME_MAX = 70  # Max70Text in pain.001


MESSAGE_MAX = 140  # Max140Text (RmtInf/Ustrd)


ADDRESS_MAX = 140  # two AdrLine of Max70Text


PAYMENT_ID_MAX = 200
STRUCTURED_ADDRESS = {  # pain.001's limits: StrtNm, BldgNb, PstCd, TwnNm
    "creditor_street": 70,
    "creditor_building": 16,
    "creditor_postcode": 16,
    "creditor_town": 35,
}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _RowChecker:
    """Collects every failure of one row instead of stopping at the first."""

    def __init__(self, row: int, values: dict[str, str]) -> None:
        self.row = row
        self.values = values
        self.payment_id = values.get("payment_id", "").strip()
        self.errors: list[RowIssue] = []
        self.warnings: list[RowIssue] = []

    def get(self, name: str) -> str:
        return (self.values.get(name) or "").strip()

    def fail(self, name: str, reason: str) -> None:
        self.errors.append(RowIssue(self.row, self.payment_id, name, reason))

    def warn(self, name: str, reason: str) -> None:
        self.warnings.append(RowIssue(self.row, self.payment_id, name, reason))

    def text(self, name: str, *, required: bool, max_len: int) -> str | None:
        value = self.get(name)
        if not value:
            if required:
                self.fail(name, "is required")
            return None
        if _CONTROL.search(value):
            self.fail(name, "contains control characters")
        elif len(value) > max_len:
            self.fail(name, f"is {len(value)} characters long; at most {max_len}")
        return value


class _Issues:
    """The failures and warnings one check gave, to be replayed onto every row with its input."""

    def __init__(self) -> None:
        self.items: list[tuple[bool, str, str]] = []

    def fail(self, name: str, reason: str) -> None:
        self.items.append((True, name, reason))

    def warn(self, name: str, reason: str) -> None:
        self.items.append((False, name, reason))


class _Memo:
    """Checks whose outcome depends only on their inputs (an account, a name, a date) run once per
    distinct input in a batch: suppliers repeat, and a bank account is as valid on row 90 000 as on
    row 9. The value and every failure and warning are replayed onto each row that gives that input."""

    def __init__(self) -> None:
        self._outcomes: dict[tuple[object, ...], tuple[object, tuple[tuple[bool, str, str], ...]]] = {}

    def __call__(self, c: _RowChecker, check: Callable[..., Any], *inputs: object) -> Any:
        key = (check, *inputs)
        outcome = self._outcomes.get(key)
        if outcome is None:
            issues = _Issues()
            outcome = self._outcomes[key] = (check(issues, *inputs), tuple(issues.items))
        value, items = outcome
        for failed, name, reason in items:
            (c.fail if failed else c.warn)(name, reason)
        return value


def validate_payables(
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    company: str,
    profile: BankProfile,
    today: date,
    source: str,
) -> tuple[list[Payment], ValidationReport]:
    """Check every row; return the valid payments and the report of every failure.

    Duplicated payment_ids make every row that carries them invalid: which of them is meant cannot be
    known, and paying the same id twice is the failure this system exists to prevent.
    """
    report = ValidationReport(source=source)
    candidates: list[Payment] = []
    rows_by_id: dict[str, list[int]] = {}
    memo = _Memo()
    for row, values in rows:
        report.rows_read += 1
        checker = _RowChecker(row, values)
        payment = _validate_row(checker, memo, company=company, profile=profile, today=today)
        report.errors.extend(checker.errors)
        report.warnings.extend(checker.warnings)
        if checker.payment_id:
            rows_by_id.setdefault(checker.payment_id, []).append(row)
        if payment is not None:
            candidates.append(payment)

    duplicated = {pid: lines for pid, lines in rows_by_id.items() if len(lines) > 1}
    for pid, lines in duplicated.items():
        for line in lines:
            others = ", ".join(str(n) for n in lines if n != line)
            report.errors.append(
                RowIssue(line, pid, "payment_id", f"duplicate in this batch (also on row {others})")
            )
    if report.rows_read == 0:
        report.errors.append(RowIssue(0, "", "batch", "the file holds no payments"))
    total = sum((p.amount for p in candidates), Decimal(0))
    if len(str(int(total))) + 2 > money.AMOUNT_DIGITS:  # the group's CtrlSum, written with two decimals
        report.errors.append(RowIssue(0, "", "batch", f"the control sum {total:f} has more than "
                                      f"{money.AMOUNT_DIGITS} digits: split the batch"))  # fmt: skip
    report.errors.sort(key=lambda e: (e.row, e.field))
    invalid_rows = set(report.invalid_rows)
    return [p for p in candidates if p.row not in invalid_rows], report


def _validate_row(
    c: _RowChecker, memo: _Memo, *, company: str, profile: BankProfile, today: date
) -> Payment | None:
    if not c.payment_id:
        c.fail("payment_id", "is required")
    elif _CONTROL.search(c.payment_id) or len(c.payment_id) > PAYMENT_ID_MAX:
        c.fail("payment_id", f"must be printable text of at most {PAYMENT_ID_MAX} characters")

    row_company = c.get("company")
    if row_company != company:
        c.fail("company", f"row is for company {row_company!r}, the batch for {company!r}")

    creditor_name = c.text("creditor_name", required=True, max_len=CREDITOR_NAME_MAX)
    message = c.text("message", required=False, max_len=MESSAGE_MAX)
    address = c.text("creditor_address", required=False, max_len=ADDRESS_MAX)
    structured = {f: c.text(f, required=False, max_len=n) for f, n in STRUCTURED_ADDRESS.items()}

    currency = c.get("currency").upper()
    if not money.is_currency(currency):
        c.fail("currency", f"{c.get('currency')!r} is not an ISO 4217 currency code")
        currency = ""

    amount: Decimal | None = None
    try:
        amount = money.parse_amount(c.get("amount"))
        if currency:
            money.check_payable_amount(amount, currency)
        elif amount <= 0:
            raise money.InvalidAmount("amount must be greater than zero")
    except money.InvalidAmount as exc:
        c.fail("amount", str(exc))
        amount = None

    execution_date = memo(c, _execution_date, c.get("execution_date"), today)

    try:
        account_type = AccountType(c.get("account_type").upper())
    except ValueError:
        c.fail("account_type", f"{c.get('account_type')!r} is not one of BG, PG, BBAN, IBAN")
        account_type = None

    country = memo(c, _country, c.get("creditor_country").upper() or None)

    account = clearing = bic = None
    payment_type = None
    if account_type is not None:
        account, clearing, bic, country, payment_type = memo(
            c, _account, account_type, c.get("account"), c.get("bic"), currency, country
        )

    ocr = memo(c, _reference, c.get("ocr"), profile.ocr_length_digit, payment_type)
    if ocr and message:
        c.fail("ocr", "give an OCR reference or a message, not both")
    if not ocr and not message and not c.get("ocr"):
        c.fail(
            "message", "an OCR reference or a message is required, so that the creditor can match the payment"
        )

    if payment_type in (PaymentType.SEPA, PaymentType.CROSS_BORDER) and not structured["creditor_town"]:
        # Since November 2026 banks and CBPR+ refuse an unstructured-only address outside Sweden.
        c.fail("creditor_town", f"a {payment_type.value} payment needs the creditor's structured address: "
               "at least creditor_town (and the country, from the IBAN or creditor_country)")  # fmt: skip

    if payment_type is not None:
        charset = profile.domestic_charset if payment_type is PaymentType.DOMESTIC else "sepa"
        creditor_name, message, address = (
            memo(c, _in_charset, field, value, charset)
            for field, value in (
                ("creditor_name", creditor_name),
                ("message", message),
                ("creditor_address", address),
            )
        )
        structured = {f: memo(c, _in_charset, f, v, charset) for f, v in structured.items()}

    if c.errors:
        return None
    assert account_type and account and amount is not None and execution_date and creditor_name
    assert payment_type and country
    return Payment(
        row=c.row,
        payment_id=c.payment_id,
        company=company,
        creditor_name=creditor_name,
        account_type=account_type,
        account=account,
        clearing=clearing,
        bic=bic,
        amount=amount,
        currency=currency,
        execution_date=execution_date,
        ocr=ocr,
        message=message,
        creditor_country=country,
        creditor_address=address,
        payment_type=payment_type,
        creditor_street=structured["creditor_street"],
        creditor_building=structured["creditor_building"],
        creditor_postcode=structured["creditor_postcode"],
        creditor_town=structured["creditor_town"],
    )


def _country(c: _Issues, country: str | None) -> str | None:
    if country and pycountry.countries.get(alpha_2=country) is None:
        c.fail("creditor_country", f"{country!r} is not an ISO 3166 country code")
        return None
    return country


def _execution_date(c: _Issues, text: str, today: date) -> date | None:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        c.fail("execution_date", f"{text!r} is not a date written YYYY-MM-DD")
        return None
    if day < today:
        c.fail("execution_date", f"{day} is in the past (today is {today})")
    reason = bankdays.non_bank_day_reason(day)
    if reason:
        c.fail(
            "execution_date",
            f"{day} is {reason}, not a bank day; next bank day {bankdays.next_bank_day(day)}",
        )
    return day


def _account(
    c: _Issues, account_type: AccountType, raw: str, raw_bic: str, currency: str, country: str | None
) -> tuple[str | None, str | None, str | None, str | None, PaymentType | None]:
    """Check the account and BIC; decide the payment type. Returns account, clearing, bic, country, type."""
    bic = None
    if raw_bic:
        try:
            bic = str(identifiers.bic(raw_bic))
        except identifiers.InvalidIdentifier as exc:
            c.fail("bic", str(exc))
    if not raw:
        c.fail("account", "is required")
        return None, None, bic, country, None

    if account_type is AccountType.IBAN:
        try:
            iban = identifiers.iban(raw)
        except identifiers.InvalidIdentifier as exc:
            c.fail("account", str(exc))
            return None, None, bic, country, None
        country = country or iban.country_code
        if bic is None and iban.bic is not None:
            bic = str(iban.bic)
        if currency == "EUR" and iban.in_sepa_zone:
            payment_type = PaymentType.SEPA
        elif currency == "SEK" and iban.country_code == "SE":
            payment_type = PaymentType.DOMESTIC
        else:
            payment_type = PaymentType.CROSS_BORDER
            if bic is None:
                c.fail("bic", "a cross-border payment needs the creditor bank's BIC")
        return iban.compact, None, bic, country, payment_type

    # Bankgiro, plusgiro and Swedish accounts are domestic: SEK only.
    if currency and currency != "SEK":
        c.fail("currency", f"{account_type} payments are made in SEK, not {currency}")
    if country and country != "SE":
        c.fail("creditor_country", f"{account_type} accounts are Swedish; creditor_country is {country}")
    clearing = None
    try:
        if account_type is AccountType.BG:
            account = identifiers.bankgiro(raw)
        elif account_type is AccountType.PG:
            account = identifiers.plusgiro(raw)
        else:
            bank_account = identifiers.bank_account(raw)
            account, clearing = bank_account.bban, bank_account.clearing
            if bank_account.warning:
                c.warn("account", bank_account.warning)
    except identifiers.InvalidIdentifier as exc:
        c.fail("account", str(exc))
        return None, None, bic, "SE", PaymentType.DOMESTIC
    return account, clearing, bic, "SE", PaymentType.DOMESTIC


def _reference(c: _Issues, raw: str, length_digit: bool, payment_type: PaymentType | None) -> str | None:
    """An OCR reference (domestic payments) or an RF creditor reference (ISO 11649, any payment)."""
    if not raw:
        return None
    compact = re.sub(r"\s", "", raw).upper()
    if compact.startswith("RF"):
        if not iso11649.is_valid(compact):
            c.fail("ocr", "RF creditor reference fails its ISO 11649 check")
            return None
        return compact
    if payment_type not in (PaymentType.DOMESTIC, None):
        c.fail("ocr", "an OCR reference is for Swedish payees; use an RF reference or a message")
        return None
    try:
        return identifiers.ocr(compact, length_digit=length_digit)
    except identifiers.InvalidIdentifier as exc:
        c.fail("ocr", str(exc))
        return None


def _in_charset(c: _Issues, field: str, value: str | None, charset: str) -> str | None:
    """The value as the bank will read it; a transliteration is a warning, a letter lost an error.
    An address is fitted line by line (lines split at ; or a line break)."""
    if not value:
        return value
    if field != "creditor_address":
        return _fit_one(c, field, value, charset)
    lines = [_fit_one(c, field, line.strip(), charset) for line in re.split(r"[;\n]", value) if line.strip()]
    return None if None in lines else "; ".join(line for line in lines if line)


def _fit_one(c: _Issues, field: str, value: str, charset: str) -> str | None:
    try:
        fitted = fit(value, charset)
    except Untransliterable as exc:
        c.fail(field, f"{exc}: write it in Latin letters")
        return None
    if not fitted.text.strip(" .,-'/"):
        c.fail(field, f"{value!r} has nothing the bank's {charset} character set can write")
        return None
    if fitted.changed:
        c.warn(field, f"{value!r} is written as {fitted.text!r} (the bank's {charset} character set)")
    return fitted.text
