"""Swedish bank days: weekdays that are neither public holidays nor the de-facto bank holidays.

Holidays come from the maintained `holidays` package. Sweden's banks are also closed on Midsummer
Eve, Christmas Eve and New Year's Eve, which the package files under the `de_facto` category; the
"bank" category's half days (Maundy Thursday and the like) are bank days and stay allowed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=64)
def _closed_days(year: int) -> dict[date, str]:
    calendar = holidays.Sweden(
        years=year, include_sundays=False, categories=("public", "de_facto"), language="sv"
    )
    return dict(calendar.items())


def non_bank_day_reason(day: date) -> str | None:
    """Why `day` is not a Swedish bank day, or None when it is one."""
    if day.weekday() >= 5:
        return "a Saturday" if day.weekday() == 5 else "a Sunday"
    name = _closed_days(day.year).get(day)
    return f"a Swedish bank holiday ({name})" if name else None


def is_bank_day(day: date) -> bool:
    return non_bank_day_reason(day) is None


def next_bank_day(day: date) -> date:
    """`day` itself when it is a bank day, else the first bank day after it."""
    while not is_bank_day(day):
        day += timedelta(days=1)
    return day


def bank_days_before(day: date, count: int) -> date:
    """The bank day `count` bank days before `day` (`day` itself counts when it is one: 0 → itself
    if a bank day, else the previous bank day)."""
    while not is_bank_day(day):
        day -= timedelta(days=1)
    for _ in range(count):
        day -= timedelta(days=1)
        while not is_bank_day(day):
            day -= timedelta(days=1)
    return day


def local_moment(text: str, timezone: str = "Europe/Stockholm") -> datetime:
    """`YYYY-MM-DDTHH:MM` where the back office is (cut-offs are local); ValueError naming the form."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo(timezone))
    except ValueError:
        raise ValueError(f"{text!r} is not a moment written YYYY-MM-DDTHH:MM") from None
