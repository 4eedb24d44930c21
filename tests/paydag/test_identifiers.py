from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from paydag import identifiers
from paydag.identifiers import InvalidIdentifier


@pytest.mark.parametrize("value", ["5050-1055", "50501055", "5402-9681", "297-3675"])
def test_bankgiro_valid(value: str) -> None:
    assert identifiers.bankgiro(value) == value.replace("-", "")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("5050-1056", "check digit"),
        ("123456", "7 or 8 digits"),
        ("123456789", "7 or 8 digits"),
        ("5050-105X", "only digits"),
        ("", "empty"),
    ],
)
def test_bankgiro_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        identifiers.bankgiro(value)


@pytest.mark.parametrize("value", ["12345-5", "18", "4 47 87-0", "90 20 0-7"])
def test_plusgiro_valid(value: str) -> None:
    assert identifiers.plusgiro(value) == "".join(c for c in value if c.isdigit())


@pytest.mark.parametrize(
    ("value", "reason"), [("12345-6", "check digit"), ("1", "2 to 8 digits"), ("123456789", "2 to 8 digits")]
)
def test_plusgiro_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        identifiers.plusgiro(value)


def test_ocr_luhn_and_lengths() -> None:
    assert identifiers.ocr("20260911000000316") == "20260911000000316"
    assert identifiers.ocr("123456782") == "123456782"
    with pytest.raises(InvalidIdentifier, match="check digit"):
        identifiers.ocr("123456783")
    with pytest.raises(InvalidIdentifier, match="2 to 25"):
        identifiers.ocr("0")
    body = "1" * 25
    with pytest.raises(InvalidIdentifier, match="2 to 25"):
        identifiers.ocr(body + luhn.calc_check_digit(body))
    with pytest.raises(InvalidIdentifier, match="only digits"):
        identifiers.ocr("12 34")


def test_ocr_length_digit() -> None:
    # 12351: five digits, length digit 5 next-to-last, Luhn check digit 1 last.
    assert identifiers.ocr("12351", length_digit=True) == "12351"
    # Luhn-valid, but the next-to-last digit (8) is not the length (9 digits).
    assert identifiers.ocr("123456782") == "123456782"
    with pytest.raises(InvalidIdentifier, match="length digit is 8"):
        identifiers.ocr("123456782", length_digit=True)


@pytest.mark.parametrize(
    ("value", "bank", "clearing"),
    [
        ("5000 1234560", "SEB", "5000"),  # type 1, comment 1
        ("9020-1234566", "Länsförsäkringar Bank", "9020"),  # type 1, comment 2
        ("6000 123456789", "Handelsbanken", "6000"),  # type 2, comment 2 (mod 11, 9 digits)
        ("8327-9, 912 345 678-3", "Swedbank", "83279"),  # type 2, comment 3, five-digit clearing
        ("9570 " + "123456789" + luhn.calc_check_digit("123456789"), "Sparbanken Syd", "9570"),  # type 2, c1
    ],
)
def test_bank_account_valid(value: str, bank: str, clearing: str) -> None:
    account = identifiers.bank_account(value)
    assert account.bank == bank
    assert account.clearing == clearing
    assert account.warning is None
    assert account.bban == "".join(c for c in value if c.isdigit())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("5000 1234561", "SEB account number fails its check digit"),
        ("5000 123456", "7 digits, not 6"),
        ("6000 123456788", "Handelsbanken account number fails"),
        ("6000 12345678", "9 digits, not 8"),
        ("9570 1234567890", "Sparbanken Syd account number fails"),
        ("0999 1234567", "belongs to no Swedish bank"),
        ("9890 12345", "10 digits, not 5"),
        ("8327-8 1234567890", "Swedbank clearing number 8327-8 fails"),
        ("5000", "clearing number followed by an account number"),
    ],
)
def test_bank_account_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        identifiers.bank_account(value)


def test_swedbank_account_failing_check_digit_is_a_warning() -> None:
    # The banks' own table says some Swedbank accounts cannot be checked by their check digit.
    account = identifiers.bank_account("8327-9, 912 345 678-4")
    assert account.warning and "Swedbank" in account.warning


def test_type1_comment1_uses_clearing_without_first_digit() -> None:
    # Comment 1 weighs clearing[1:] + account, comment 2 the whole clearing: the same account digits
    # can be valid under one bank and not the other.
    assert identifiers.bank_account("5000 1234560").bank == "SEB"
    with pytest.raises(InvalidIdentifier):
        identifiers.bank_account("9020 1234560")


def test_iban_and_bic() -> None:
    assert identifiers.iban("SE45 5000 0000 0583 9825 7466").compact == "SE4550000000058398257466"
    with pytest.raises(InvalidIdentifier, match="IBAN"):
        identifiers.iban("SE4550000000058398257467")
    assert str(identifiers.bic("ESSESESS")) == "ESSESESS"
    with pytest.raises(InvalidIdentifier, match="BIC"):
        identifiers.bic("ESSE")


def test_organisation_and_personal_numbers() -> None:
    assert identifiers.organisation_number("556677-8899") == "5566778899"
    with pytest.raises(InvalidIdentifier):
        identifiers.organisation_number("556677-8898")
    assert identifiers.personal_number("197012071234") == "197012071234"
    assert identifiers.personal_number("701207-1234") == "197012071234"
    with pytest.raises(InvalidIdentifier):
        identifiers.personal_number("197012071235")


def test_mask_keeps_only_the_last_digits() -> None:
    assert identifiers.mask("8327-9, 912 345 678-3") == "*" * 11 + "6783"
    assert identifiers.mask("123") == "***"


_DIGIT_STRINGS = st.text(alphabet="0123456789", min_size=0, max_size=27)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            _DIGIT_STRINGS,
            _DIGIT_STRINGS.map(lambda d: d + luhn.calc_check_digit(d) if d else d),  # valid Luhn
            st.text(alphabet="0123456789 -a²", max_size=12),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_the_column_check_of_ocr_references_is_ocr(values: list[str], length_digit: bool) -> None:
    def accepted_as_written(value: str) -> bool:
        try:
            return identifiers.ocr(value, length_digit=length_digit) == value
        except InvalidIdentifier:
            return False

    passes = identifiers.ocr_passes(values, length_digit=length_digit)
    assert passes == [accepted_as_written(v) for v in values]
