"""Text in the bank's character set: letters transliterated, never dropped; a letter with no form refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydag.formats.charset import SEPA, SWEDISH, Untransliterable, all_as_is, as_is, fit


@pytest.mark.parametrize(
    ("value", "charset", "written"),
    [
        ("Łódź Trading", "sepa", "Lodz Trading"),
        ("Łódź Trading", "swedish", "Lodz Trading"),
        ("Müller & Söhne GmbH", "sepa", "Muller + Sohne GmbH"),
        ("Müller & Söhne GmbH", "swedish", "Müller & Söhne GmbH"),
        ("Sågverk Öster AB", "sepa", "Sagverk Oster AB"),
        ("Grünstraße 5", "sepa", "Grunstrasse 5"),
        ("Bjørn Ærø Œuvre", "sepa", "Bjorn AEro OEuvre"),
        ("Invoice 7 – timber", "sepa", "Invoice 7 - timber"),
        ("Öst <AB>", "swedish", "Öst AB"),
    ],
)
def test_text_is_fitted_to_the_set(value: str, charset: str, written: str) -> None:
    fitted = fit(value, charset)
    assert fitted.text == written and fitted.changed is (written != value)
    assert set(fitted.text) <= {"sepa": SEPA, "swedish": SWEDISH}[charset]


def test_unchanged_text_is_not_reported() -> None:
    assert fit("Sågverk Öster AB", "swedish").changed is False


@pytest.mark.parametrize("value", ["北京 Trading", "Москва ООО", "Αθήνα"])
def test_a_letter_with_no_latin_form_is_refused(value: str) -> None:
    with pytest.raises(Untransliterable, match="has no form in the sepa character set"):
        fit(value, "sepa")


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("abcÅÄÖéü &<>'\"-.xyzß\t\n Łł/"), max_size=14),
    st.sampled_from(["sepa", "swedish"]),
)
def test_text_taken_as_it_is_is_exactly_what_fitting_leaves_alone(value: str, charset: str) -> None:
    fitted = fit(value, charset)
    assert as_is(value, charset) == (fitted.text == value and not fitted.changed)


@given(
    st.lists(st.text(alphabet=st.sampled_from("ab Ö/.-&ł"), max_size=8), max_size=6),
    st.sampled_from(["sepa", "swedish"]),
)
def test_a_column_is_as_is_in_one_look_only_when_every_value_is(values: list[str], charset: str) -> None:
    if all_as_is(values, charset):
        assert all(as_is(v, charset) for v in values)
    elif not any("/" in v for v in values):  # "/ " and " /" in a value may send it to the one-by-one look
        assert not all(as_is(v, charset) for v in values)
