from datetime import date, timedelta

import pytest
from holidays.countries.sweden import Sweden

from likvid.rules.calendar import add_bank_days, is_bank_day, next_bank_day, non_bank_days


@pytest.mark.parametrize(
    ("day", "bank_day"),
    [
        (date(2026, 12, 23), True),
        (date(2026, 12, 24), False),  # Christmas Eve
        (date(2026, 12, 25), False),  # Christmas Day
        (date(2026, 12, 26), False),  # Boxing Day, a Saturday
        (date(2026, 12, 28), True),
        (date(2026, 12, 31), False),  # New Year's Eve
        (date(2027, 1, 1), False),  # New Year's Day
        (date(2026, 1, 6), False),  # Epiphany
        (date(2026, 6, 18), True),
        (date(2026, 6, 19), False),  # Midsummer Eve
        (date(2026, 4, 2), True),  # Maundy Thursday is a bank day
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 4, 7), True),
        (date(2026, 5, 1), False),  # May Day, a Friday
        (date(2026, 5, 14), False),  # Ascension Day
        (date(2026, 5, 15), True),  # the squeeze day after it is a bank day
        (date(2026, 5, 25), True),  # Whit Monday is no holiday since 2005
        (date(2025, 6, 6), False),  # National Day on a Friday
        (date(2024, 6, 6), False),  # National Day on a Thursday
        (date(2026, 6, 6), False),  # National Day on a Saturday
        (date(2026, 6, 8), True),  # no substitute day for it
        (date(2026, 3, 7), False),  # plain Saturday
        (date(2026, 3, 8), False),  # plain Sunday
        (date(2026, 3, 9), True),
    ],
)
def test_is_bank_day(day: date, bank_day: bool) -> None:
    assert is_bank_day(day) is bank_day


@pytest.mark.parametrize(
    ("year", "midsummer_eve"),
    [(2025, date(2025, 6, 20)), (2026, date(2026, 6, 19)), (2027, date(2027, 6, 25))],
)
def test_non_bank_days_include_the_eves(year: int, midsummer_eve: date) -> None:
    days = non_bank_days(year)
    assert {midsummer_eve, date(year, 12, 24), date(year, 12, 31)} <= days
    assert date(year, 12, 25) in days


def test_eves_match_the_holidays_package_de_facto_days() -> None:
    for year in range(2000, 2051):
        de_facto = set(Sweden(years=year, categories=("de_facto",)).keys())
        public = set(Sweden(years=year, include_sundays=False).keys())
        assert non_bank_days(year) == frozenset(public | de_facto)


def test_non_bank_days_are_cached() -> None:
    assert non_bank_days(2026) is non_bank_days(2026)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 26), date(2026, 12, 28)),  # Saturday -> Monday
        (date(2026, 12, 24), date(2026, 12, 28)),
        (date(2026, 12, 31), date(2027, 1, 4)),
        (date(2026, 4, 3), date(2026, 4, 7)),
        (date(2026, 6, 19), date(2026, 6, 22)),
        (date(2026, 12, 28), date(2026, 12, 28)),  # already a bank day
    ],
)
def test_next_bank_day(day: date, expected: date) -> None:
    assert next_bank_day(day) == expected


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 12, 23), 0, date(2026, 12, 23)),
        (date(2026, 12, 26), 0, date(2026, 12, 26)),  # n = 0 does not move
        (date(2026, 12, 23), 1, date(2026, 12, 28)),
        (date(2026, 12, 22), 2, date(2026, 12, 28)),
        (date(2026, 12, 26), 1, date(2026, 12, 28)),
        (date(2026, 12, 23), 4, date(2027, 1, 4)),
        (date(2026, 1, 9), 1, date(2026, 1, 12)),  # Friday -> Monday
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # over Easter
        (date(2026, 3, 2), 5, date(2026, 3, 9)),
    ],
)
def test_add_bank_days(day: date, n: int, expected: date) -> None:
    assert add_bank_days(day, n) == expected


def test_add_bank_days_rejects_negative() -> None:
    with pytest.raises(ValueError):
        add_bank_days(date(2026, 3, 2), -1)


def test_2026_has_251_bank_days() -> None:
    # 261 weekdays minus ten weekday holidays and eves (1/1, 6/1, 3/4, 6/4, 1/5, 14/5,
    # 19/6, 24/12, 25/12, 31/12).
    start = date(2026, 1, 1)
    count = sum(is_bank_day(start + timedelta(days=i)) for i in range(365))
    assert count == 251


def test_the_holidays_package_loads_on_first_use_or_at_preload() -> None:
    """Importing the calendar loads no holidays (a command that computes no bank day skips
    0.15 s of start-up); preload(), which a worker calls while it boots, loads them."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import likvid.rules.calendar as c\n"
        "assert 'holidays' not in sys.modules, 'loaded at import'\n"
        "c.preload()\n"
        "assert 'holidays.countries.sweden' in sys.modules, 'not loaded by preload'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
