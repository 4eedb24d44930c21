from __future__ import annotations

from datetime import date

import pytest

from paydag import bankdays


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 11, 21), "Saturday"),
        (date(2026, 11, 22), "Sunday"),
        (date(2026, 12, 24), "Julafton"),  # de facto bank holiday, not a public one
        (date(2026, 12, 25), "Juldagen"),
        (date(2026, 12, 31), "Nyårsafton"),
        (date(2026, 6, 19), "Midsommarafton"),
        (date(2026, 6, 5), None),  # a Friday before National Day: open
        (date(2026, 4, 3), "Långfredagen"),  # Good Friday: Easter moves every year
        (date(2027, 3, 26), "Långfredagen"),
        (date(2026, 5, 14), "Kristi himmelsfärdsdag"),
        (date(2026, 4, 2), None),  # Maundy Thursday: a half day, still a bank day
        (date(2026, 11, 24), None),
    ],
)
def test_bank_days(day: date, reason: str | None) -> None:
    found = bankdays.non_bank_day_reason(day)
    if reason is None:
        assert found is None
        assert bankdays.is_bank_day(day)
    else:
        assert found is not None and reason in found
        assert not bankdays.is_bank_day(day)


def test_next_bank_day_skips_christmas() -> None:
    assert bankdays.next_bank_day(date(2026, 12, 24)) == date(2026, 12, 28)
    assert bankdays.next_bank_day(date(2026, 12, 23)) == date(2026, 12, 23)
