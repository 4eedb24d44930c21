"""Every rule a payables row must meet, each failure reported with its row, payment_id, field and
reason: identifiers, amounts, currencies, names, dates, references, duplicates."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

import pycountry
from stdnum import iso11649

from paydag import bankdays, bulk, identifiers, money
from paydag.formats.bank_profiles import BankProfile
from paydag.formats.charset import Untransliterable, all_as_is, as_is, fit
from paydag.payables.batch import AccountType, Payment, PaymentType, RowIssue, ValidationReport
from paydag.payables.export import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    NotARowStart,
    PayablesFile,
    PayablesTable,
    payables_table,
    row_start_near,
)

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


class _Issues:
    """The failures and warnings one check gave, to be replayed onto every row with its input."""

    def __init__(self) -> None:
        self.items: list[tuple[bool, str, str]] = []

    def fail(self, name: str, reason: str) -> None:
        self.items.append((True, name, reason))

    def warn(self, name: str, reason: str) -> None:
        self.items.append((False, name, reason))


# Where each check stood in the row-by-row order the rules were first written in: a row's issues are
# reported in this order, whatever order the columns are checked in.
(_PAYMENT_ID, _COMPANY, _TEXTS, _CURRENCY, _AMOUNT, _DATE, _ACCOUNT_TYPE, _COUNTRY, _ACCOUNT, _OCR,
 _OCR_AND_MESSAGE, _NO_REFERENCE, _TOWN, _CHARSET, _DUPLICATE) = (i * 10 for i in range(15))  # fmt: skip
_CUTOFF = _DATE + 5  # found after the account (the payment type decides the cut-off), told beside the date
_TEXT_FIELDS = {"creditor_name": CREDITOR_NAME_MAX, "message": MESSAGE_MAX, "creditor_address": ADDRESS_MAX,
                **STRUCTURED_ADDRESS}  # fmt: skip


class _Findings:
    """Every failure and warning of a batch, each with its row's index and its check's place."""

    def __init__(self, lines: list[int], payment_ids: list[str]) -> None:
        self.lines = lines
        self._payment_ids = payment_ids
        self._items: list[tuple[int, int, bool, str, str]] = []
        self.failed: set[int] = set()

    def add(self, index: int, rank: int, failed: bool, name: str, reason: str) -> None:
        self._items.append((index, rank, failed, name, reason))
        if failed:
            self.failed.add(index)

    @property
    def items(self) -> list[tuple[int, int, bool, str, str]]:
        """(row index, check's place, failed, field, reason) of each finding, in the order found."""
        return self._items

    def extend(self, items: Iterable[tuple[int, int, bool, str, str]]) -> None:
        """`add` of each of `items`."""
        items = list(items)
        self._items += items
        self.failed.update([item[0] for item in items if item[2]])

    def each_distinct(self, rank: int, check: Callable[..., Any], *columns: Sequence[Any]) -> list[Any]:
        """`check(issues, *inputs)` run once per distinct input across the columns: suppliers repeat,
        and an account is as valid on row 90 000 as on row 9. Its value for every row, its issues
        replayed onto every row that gives that input."""
        keys: Sequence[Any] = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
        values: dict[Any, Any] = {}
        found: dict[Any, tuple[tuple[bool, str, str], ...]] = {}
        for key in dict.fromkeys(keys):
            issues = _Issues()
            values[key] = check(issues, *key) if len(columns) > 1 else check(issues, key)
            if issues.items:
                found[key] = tuple(issues.items)
        if found:
            for index, key in enumerate(keys):
                for failed, name, reason in found.get(key, ()):
                    self.add(index, rank, failed, name, reason)
        return list(map(values.__getitem__, keys))

    def issues(self) -> tuple[list[RowIssue], list[RowIssue]]:
        """Errors and warnings, a row's in the order of its checks."""
        self._items.sort(key=itemgetter(0, 1))  # stable: a check's own order stays
        errors, warnings = [], []
        for index, _, failed, name, reason in self._items:
            issue = RowIssue(self.lines[index], self._payment_ids[index], name, reason)
            (errors if failed else warnings).append(issue)
        return errors, warnings


def validate_payables(
    rows: Iterable[tuple[int, Mapping[str, str | None]]],
    *,
    company: str,
    profile: BankProfile,
    today: date,
    source: str,
    now: datetime | None = None,
    move_to_next_bank_day: bool = False,
) -> tuple[list[Payment], ValidationReport]:
    """Check every row given as (row number, values); see `validate_table`."""
    return validate_table(
        PayablesTable.from_rows(rows), company=company, profile=profile, today=today, source=source,
        now=now, move_to_next_bank_day=move_to_next_bank_day,
    )  # fmt: skip


def validate_table(
    table: PayablesTable,
    *,
    company: str,
    profile: BankProfile,
    today: date,
    source: str,
    now: datetime | None = None,
    move_to_next_bank_day: bool = False,
) -> tuple[list[Payment], ValidationReport]:
    """Check every row; return the valid payments and the report of every failure.

    `now` (the moment of the check where the bank is, Europe/Stockholm; on `today`) adds the bank's
    cut-offs: a payment due today after its type's cut-off cannot be executed today. With
    `move_to_next_bank_day` such a payment, and one dated on a day banks are closed, is moved to the
    next possible date with a warning instead of refused.

    The rules run column by column, each on every distinct input once, and each row's failures are
    reported as if the row had been checked alone. Duplicated payment_ids make every row that carries
    them invalid: which of them is meant cannot be known, and paying the same id twice is the failure
    this system exists to prevent.
    """
    rules = _rules(company, profile, today, now, move_to_next_bank_day)
    lines, column = _stripped_columns(table)
    # Each column is let go once its last check has read it (the pops in `_row_rules`), and with the
    # table gone that frees it: the raw amounts, accounts and dates are a tenth of a large batch's peak.
    del table
    return _batch_outcome(source, *rules(lines, column))


def validate_export(
    export: PayablesFile,
    *,
    company: str,
    profile: BankProfile,
    today: date,
    now: datetime | None = None,
    move_to_next_bank_day: bool = False,
) -> tuple[list[Payment], ValidationReport]:
    """`validate_table` of the export's rows; a large CSV read and checked in two parts at once, the
    later one in a child process on the other core (`bulk.side_by_side`). Every rule but the
    duplicate payment_id is a row's own, so each part's findings are the batch's at its rows; the
    duplicates are looked for in the whole."""
    rules = _rules(company, profile, today, now, move_to_next_bank_day)
    source = export.path.name
    large = len(export.data) >= _TWO_PROCESSES_FROM
    at = row_start_near(export, int(len(export.data) * _HERE_SHARE)) if large else None
    if at is not None:
        try:
            (payments, items), (fields, later) = bulk.side_by_side(
                partial(_checked_part, rules, export, 0, at),
                partial(_checked_part_by_field, rules, export, at),
            )
        except NotARowStart:  # a quote inside an unquoted value misled the cut: read it whole
            pass
        else:
            first = len(payments)
            payments += _payments_by_field(fields)
            items += [(first + index, *rest) for index, *rest in later]
            return _batch_outcome(source, payments, items)
    return validate_table(
        payables_table(export), company=company, profile=profile, today=today, source=source, now=now,
        move_to_next_bank_day=move_to_next_bank_day,
    )  # fmt: skip


_TWO_PROCESSES_FROM = 2 << 20  # bytes of CSV (about 20 000 rows): a smaller one is checked here alone
_HERE_SHARE = 0.55  # of the file checked here: the child's part also pays for pickling its result

_Found = list[tuple[int, int, bool, str, str]]  # (row index, check's place, failed, field, reason)
_Rules = Callable[[list[int], dict[str, list[str]]], tuple[list[Payment], _Found]]


def _rules(
    company: str, profile: BankProfile, today: date, now: datetime | None, move_to_next_bank_day: bool
) -> _Rules:
    if now is not None and now.date() != today:
        raise ValueError(f"now ({now:%Y-%m-%d %H:%M}) is not on today ({today})")
    return partial(_row_rules, company=company, profile=profile, today=today, now=now,
                   move_to_next_bank_day=move_to_next_bank_day)  # fmt: skip


def _stripped_columns(table: PayablesTable) -> tuple[list[int], dict[str, list[str]]]:
    return table.lines, {
        name: _stripped(table.column(name)) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    }


def _checked_part(
    rules: _Rules, export: PayablesFile, start: int, end: int | None = None
) -> tuple[list[Payment], _Found]:
    return rules(*_stripped_columns(payables_table(export, start, end)))


def _checked_part_by_field(
    rules: _Rules, export: PayablesFile, start: int
) -> tuple[list[tuple[Any, ...]], _Found]:
    """`_checked_part`'s payments field by field: a column of strings, dates or amounts pickles and
    loads in a third of the time of as many named tuples (each loaded by a Python call)."""
    payments, found = _checked_part(rules, export, start)
    fields: list[Any] = list(zip(*payments, strict=True))
    if fields:  # amounts as one text: a Decimal pickles in 1.3 µs, its text in a fifth of that
        fields[_AMOUNT] = "\x1f".join(map(str, fields[_AMOUNT]))
    return fields, found


def _payments_by_field(fields: list[Any]) -> Iterator[Payment]:
    """The payments `_checked_part_by_field` gave."""
    if fields:
        fields[_AMOUNT] = [
            None if text == "None" else Decimal(text) for text in fields[_AMOUNT].split("\x1f")
        ]
    return map(partial(tuple.__new__, Payment), zip(*fields, strict=True))


_AMOUNT = Payment._fields.index("amount")


def _batch_outcome(
    source: str, payments: list[Payment], items: _Found
) -> tuple[list[Payment], ValidationReport]:
    """The batch's report from every row's payment (invalid ones too) and findings: duplicated
    payment_ids added, the invalid rows left out."""
    report = ValidationReport(source=source, rows_read=len(payments))
    payment_ids = list(map(attrgetter("payment_id"), payments))
    found = _Findings(list(map(attrgetter("row"), payments)), payment_ids)
    _check_duplicate_payment_ids(found, payment_ids)
    found.extend(items)
    if found.failed:
        payments = [p for i, p in enumerate(payments) if i not in found.failed]
    report.errors, report.warnings = found.issues()
    if report.rows_read == 0:
        report.errors.append(RowIssue(0, "", "batch", "the file holds no payments"))
    total = sum(map(attrgetter("amount"), payments), Decimal(0))
    if len(str(int(total))) + 2 > money.AMOUNT_DIGITS:  # the group's CtrlSum, written with two decimals
        report.errors.append(RowIssue(0, "", "batch", f"the control sum {total:f} has more than "
                                      f"{money.AMOUNT_DIGITS} digits: split the batch"))  # fmt: skip
    report.errors.sort(key=lambda e: (e.row, e.field))
    return payments, report


def _row_rules(
    lines: list[int],
    column: dict[str, list[str]],
    *,
    company: str,
    profile: BankProfile,
    today: date,
    now: datetime | None,
    move_to_next_bank_day: bool,
) -> tuple[list[Payment], _Found]:
    """Every rule that is a row's own, on the rows given (their columns stripped; `column` emptied
    as it is read): a payment for each row, invalid ones too, and the findings by index into them."""
    rows = len(lines)
    found = _Findings(lines, column["payment_id"])
    _check_payment_id_texts(found, column["payment_id"])
    companies = column.pop("company")
    for index, row_company in enumerate(companies if companies.count(company) < rows else ()):
        if row_company != company:
            found.add(
                index,
                _COMPANY,
                True,
                "company",
                f"row is for company {row_company!r}, the batch for {company!r}",
            )
    texts = {name: _texts(found, name, column[name], required=name == "creditor_name", max_len=max_len)
             for name, max_len in _TEXT_FIELDS.items()}  # fmt: skip
    currency = found.each_distinct(_CURRENCY, _currency, column.pop("currency"))
    amount = _amounts(found, column.pop("amount"), currency)
    execution_date = found.each_distinct(
        _DATE, _execution_date, column.pop("execution_date"), [today] * rows, [move_to_next_bank_day] * rows
    )
    account_type = found.each_distinct(_ACCOUNT_TYPE, _account_type, column.pop("account_type"))
    country = found.each_distinct(
        _COUNTRY, _country, [c.upper() or None for c in column.pop("creditor_country")]
    )
    accounts = found.each_distinct(
        _ACCOUNT, _account, account_type, column.pop("account"), column.pop("bic"), currency, country
    )
    del country
    payment_type = [a[4] for a in accounts]
    if now is not None:
        execution_date = _after_cutoffs(
            found, execution_date, payment_type, profile, now, move_to_next_bank_day
        )
    ocr = _references(found, column["ocr"], profile.ocr_length_digit, payment_type)
    _check_reference_or_message(found, ocr, texts["message"], column.pop("ocr"))
    _check_structured_address(found, texts["creditor_town"], payment_type)
    texts = _in_charsets(found, texts, payment_type, profile.domestic_charset)
    allow_duplicate = _texts(
        found, "allow_duplicate", column["allow_duplicate"], required=False, max_len=MESSAGE_MAX
    )

    # The account check's five values of each row, one by one as the payments are made.
    accounts_by_part = [map(itemgetter(part), accounts) for part in range(5)]
    columns = (
        lines, column["payment_id"], repeat(company), texts["creditor_name"], account_type,
        accounts_by_part[0], accounts_by_part[1], accounts_by_part[2], amount, currency, execution_date,
        ocr, texts["message"], accounts_by_part[3], texts["creditor_address"], accounts_by_part[4],
        texts["creditor_street"], texts["creditor_building"], texts["creditor_postcode"],
        texts["creditor_town"], allow_duplicate, repeat(()),
    )  # fmt: skip
    # Payment's fields in order; a named tuple made by tuple.__new__ from them, in C: its own
    # constructor is a Python call per row, a third of the validation of a large batch.
    assert len(columns) == len(Payment._fields)
    payments = list(map(partial(tuple.__new__, Payment), zip(*columns, strict=False)))  # repeat() is endless
    return payments, found.items


def _stripped(values: list[str]) -> list[str]:
    """The values without surrounding spaces; the same list when none has any (most columns: a copy
    of each would be a megabyte of a 100 000-row batch's peak)."""
    stripped = list(map(str.strip, values))
    return values if stripped == values else stripped


def _check_payment_id_texts(found: _Findings, payment_ids: list[str]) -> None:
    bad = f"must be printable text of at most {PAYMENT_ID_MAX} characters"
    for index in _suspect_texts(payment_ids, PAYMENT_ID_MAX, required=True):
        pid = payment_ids[index]
        if not pid:
            found.add(index, _PAYMENT_ID, True, "payment_id", "is required")
        elif _CONTROL.search(pid) or len(pid) > PAYMENT_ID_MAX:
            found.add(index, _PAYMENT_ID, True, "payment_id", bad)


def _check_duplicate_payment_ids(found: _Findings, payment_ids: list[str]) -> None:
    if len(set(payment_ids)) == len(payment_ids):
        return
    counts = Counter(payment_ids)
    rows_by_id: dict[str, list[int]] = {}
    for index, pid in enumerate(payment_ids):
        if pid and counts[pid] > 1:
            rows_by_id.setdefault(pid, []).append(index)
    for indices in rows_by_id.values():
        for index in indices:
            others = ", ".join(str(found.lines[i]) for i in indices if i != index)
            found.add(
                index, _DUPLICATE, True, "payment_id", f"duplicate in this batch (also on row {others})"
            )


def _suspect_texts(values: list[str], max_len: int, *, required: bool) -> Iterable[int]:
    """The rows whose text may break a text rule (absent, control characters, too long): a column
    that passes all three at once, as most do, is not looked at row by row."""
    fits = (not required or all(values)) and max(map(len, values), default=0) <= max_len
    return () if fits and not _CONTROL.search("".join(values)) else range(len(values))


def _texts(
    found: _Findings, name: str, values: list[str], *, required: bool, max_len: int
) -> list[str | None]:
    for index in _suspect_texts(values, max_len, required=required):
        value = values[index]
        if not value:
            if required:
                found.add(index, _TEXTS, True, name, "is required")
        elif _CONTROL.search(value):
            found.add(index, _TEXTS, True, name, "contains control characters")
        elif len(value) > max_len:
            found.add(index, _TEXTS, True, name, f"is {len(value)} characters long; at most {max_len}")
    return values if all(values) else [v or None for v in values]  # type: ignore[return-value]


def _currency(c: _Issues, text: str) -> str:
    currency = text.upper()
    if not money.is_currency(currency):
        c.fail("currency", f"{text!r} is not an ISO 4217 currency code")
        return ""
    return currency


# Certainly a valid amount in a currency with two or three decimals: digits, at most two decimals,
# at most 16 before the dot, not zero. Anything else takes the full rules, which say why.
_PLAIN_AMOUNT = re.compile(r"(?=[0-9.]*[1-9])[0-9]{1,16}(?:\.[0-9]{1,2})?")


def _amounts(found: _Findings, texts: list[str], currencies: list[str]) -> list[Decimal | None]:
    two_decimals = {c: bool(c) and money.minor_units(c) >= 2 for c in set(currencies)}
    plain = map(_PLAIN_AMOUNT.fullmatch, texts)
    easy = [
        two_decimals[currency] and match is not None
        for currency, match in zip(currencies, plain, strict=True)
    ]
    if all(easy):
        return list(map(Decimal, texts))
    amounts: list[Decimal | None] = [Decimal(t) if e else None for t, e in zip(texts, easy, strict=True)]
    for index in [i for i, e in enumerate(easy) if not e]:
        text, currency = texts[index], currencies[index]
        try:
            amount = money.parse_amount(text)
            if currency:
                money.check_payable_amount(amount, currency)
            elif amount <= 0:
                raise money.InvalidAmount("amount must be greater than zero")
        except money.InvalidAmount as exc:
            found.add(index, _AMOUNT, True, "amount", str(exc))
            amount = None
        amounts[index] = amount
    return amounts


def _account_type(c: _Issues, text: str) -> AccountType | None:
    try:
        return AccountType(text.upper())
    except ValueError:
        c.fail("account_type", f"{text!r} is not one of BG, PG, BBAN, IBAN")
        return None


def _references(
    found: _Findings, raws: list[str], length_digit: bool, payment_types: list[PaymentType | None]
) -> list[str | None]:
    """The OCR or RF reference of every row; the common case (a plain, valid OCR reference to a
    Swedish payee) is checked for the whole column at once."""
    passes = identifiers.ocr_passes(raws, length_digit=length_digit)
    domestic = (PaymentType.DOMESTIC, None)
    references: list[str | None] = [
        raw if ok and ptype in domestic else None
        for raw, ok, ptype in zip(raws, passes, payment_types, strict=True)
    ]
    # The rest given a reference (none given is none found, and nothing to say) take the full rules.
    for index in [
        i for i, (raw, ref) in enumerate(zip(raws, references, strict=True)) if raw and ref is None
    ]:
        issues = _Issues()
        references[index] = _reference(issues, raws[index], length_digit, payment_types[index])
        for failed, name, reason in issues.items:
            found.add(index, _OCR, failed, name, reason)
    return references


def _check_reference_or_message(
    found: _Findings,
    ocr: list[str | None],
    message: list[str | None],
    raw_ocr: list[str],
) -> None:
    for index, (reference, text, raw) in enumerate(zip(ocr, message, raw_ocr, strict=True)):
        if reference and text:
            found.add(index, _OCR_AND_MESSAGE, True, "ocr", "give an OCR reference or a message, not both")
        elif not reference and not text and not raw:
            found.add(index, _NO_REFERENCE, True, "message",
                      "an OCR reference or a message is required, so that the creditor can match the payment")  # fmt: skip


def _in_charsets(
    found: _Findings,
    texts: dict[str, list[str | None]],
    payment_types: list[PaymentType | None],
    domestic_charset: str,
) -> dict[str, list[str | None]]:
    """Every text as the bank will read it (`_in_charset`); a text already in the bank's set, as most
    are, is taken as it is."""
    charsets = [
        None if t is None else domestic_charset if t is PaymentType.DOMESTIC else "sepa"
        for t in payment_types
    ]
    fitted = {}
    for rank, (field, values) in enumerate(texts.items(), start=_CHARSET):
        keys = list(zip(values, charsets, strict=True))
        # What fitting gave, once per distinct text and set; a text taken as it is has none.
        changed = {}
        distinct = [key for key in dict.fromkeys(keys) if key[0] and key[1]]
        for charset in {c for _, c in distinct}:
            texts_in = [v for v, c in distinct if c == charset]
            if field != "creditor_address" and all_as_is(texts_in, charset) and all(map(_has_text, texts_in)):
                continue  # every one taken as it is, found in one look
            for value in texts_in:
                outcome = _fitted(field, value, charset)
                if outcome is not None:
                    changed[value, charset] = outcome
        out = values
        if changed:
            out = list(values)
            for index in [i for i, key in enumerate(keys) if key in changed]:
                outcome = changed[keys[index]]
                out[index] = outcome[0]
                for failed, name, reason in outcome[1]:
                    found.add(index, rank, failed, name, reason)
        fitted[field] = out
    return fitted


def _has_text(value: str) -> bool:
    """More than spaces and punctuation: something the bank can read as a name or a message."""
    return bool(value.strip(" .,-'/"))


def _fitted(field: str, value: str, charset: str) -> tuple[str | None, list[tuple[bool, str, str]]] | None:
    if field != "creditor_address" and as_is(value, charset) and _has_text(value):
        return None
    issues = _Issues()
    return _in_charset(issues, field, value, charset), issues.items


def _check_structured_address(
    found: _Findings, towns: list[str | None], payment_types: list[PaymentType | None]
) -> None:
    for index, (ptype, town) in enumerate(zip(payment_types, towns, strict=True)):
        if ptype in (PaymentType.SEPA, PaymentType.CROSS_BORDER) and not town:
            # Since November 2026 banks and CBPR+ refuse an unstructured-only address outside Sweden.
            found.add(index, _TOWN, True, "creditor_town", f"a {ptype.value} payment needs the creditor's structured address: "
                      "at least creditor_town (and the country, from the IBAN or creditor_country)")  # fmt: skip


def _country(c: _Issues, country: str | None) -> str | None:
    if country and pycountry.countries.get(alpha_2=country) is None:
        c.fail("creditor_country", f"{country!r} is not an ISO 3166 country code")
        return None
    return country


def _execution_date(c: _Issues, text: str, today: date, move: bool) -> date | None:
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
    if reason and move and day >= today:
        moved = bankdays.next_bank_day(day)
        c.warn("execution_date", f"{day} is {reason}, not a bank day: moved to the next bank day {moved}")
        return moved
    if reason:
        c.fail(
            "execution_date",
            f"{day} is {reason}, not a bank day; next bank day {bankdays.next_bank_day(day)}",
        )
    return day


def _after_cutoffs(
    found: _Findings,
    days: list[date | None],
    payment_types: list[PaymentType | None],
    profile: BankProfile,
    now: datetime,
    move: bool,
) -> list[date | None]:
    """The execution dates, each payment due today after its type's cut-off refused, or moved to the
    next possible date (the next bank day after today)."""
    today, clock = now.date(), now.time().replace(tzinfo=None)
    next_day = bankdays.next_bank_day(today + timedelta(days=1))
    dates = list(days)
    for index, (day, ptype) in enumerate(zip(days, payment_types, strict=True)):
        if day != today or ptype is None or clock <= (cutoff := profile.cutoffs.of(ptype.value)):
            continue
        late = (f"{day} is past bank profile {profile.name!r}'s {ptype.value} cut-off {cutoff:%H:%M} "
                f"(it is {clock:%H:%M} in Stockholm)")  # fmt: skip
        if move:
            found.add(
                index, _CUTOFF, False, "execution_date", f"{late}: moved to the next possible date {next_day}"
            )
            dates[index] = next_day
        else:
            found.add(index, _CUTOFF, True, "execution_date", f"{late}; the next possible date is {next_day}")
    return dates


def _account(
    c: _Issues, account_type: AccountType | None, raw: str, raw_bic: str, currency: str, country: str | None
) -> tuple[str | None, str | None, str | None, str | None, PaymentType | None]:
    """Check the account and BIC; decide the payment type. Returns account, clearing, bic, country, type."""
    if account_type is None:  # the type is wrong already: nothing to check the account against
        return None, None, None, country, None
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
