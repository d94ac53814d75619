from datetime import date

import pytest

from likvid.rules.interest import (
    InterestLine,
    ReferenceRate,
    interest_start,
    parse_reference_rates,
    penalty_interest,
)

RATES_2025 = (
    ReferenceRate(date(2025, 1, 1), 250),
    ReferenceRate(date(2025, 7, 1), 200),
    ReferenceRate(date(2026, 1, 1), 200),
)
TEN_THOUSAND_KR = 1_000_000


def test_swedish_rules_vector() -> None:
    # SWEDISH-RULES.md §2: 10 000 kr from 2025-03-01 up to (not including) 2025-09-01.
    result = penalty_interest(
        [(date(2025, 3, 1), TEN_THOUSAND_KR)], date(2025, 3, 1), date(2025, 8, 31), RATES_2025
    )
    assert result.lines == (
        InterestLine(date(2025, 3, 1), date(2025, 6, 30), 122, TEN_THOUSAND_KR, 1050, 35096),
        InterestLine(date(2025, 7, 1), date(2025, 8, 31), 62, TEN_THOUSAND_KR, 1000, 16986),
    )
    assert result.total_ore == 52082
    assert result.unknown_from is None


@pytest.mark.parametrize(
    ("capital", "start", "end", "rates", "expected_lines", "unknown_from"),
    [
        pytest.param(
            [(date(2025, 3, 1), 0)],
            date(2025, 3, 1),
            date(2025, 8, 31),
            RATES_2025,
            [],
            None,
            id="zero capital",
        ),
        pytest.param(
            [],
            date(2025, 3, 1),
            date(2025, 8, 31),
            RATES_2025,
            [],
            None,
            id="no capital history",
        ),
        pytest.param(
            [(date(2025, 3, 1), -500)],
            date(2025, 3, 1),
            date(2025, 3, 31),
            RATES_2025,
            [],
            None,
            id="credit balance earns nothing",
        ),
        pytest.param(
            [(date(2025, 3, 1), TEN_THOUSAND_KR), (date(2025, 4, 1), 400_000)],
            date(2025, 3, 1),
            date(2025, 4, 30),
            RATES_2025,
            [
                (date(2025, 3, 1), date(2025, 3, 31), 31, TEN_THOUSAND_KR, 1050, 8918),
                (date(2025, 4, 1), date(2025, 4, 30), 30, 400_000, 1050, 3452),
            ],
            None,
            id="partial payment splits the base",
        ),
        pytest.param(
            [(date(2025, 3, 1), TEN_THOUSAND_KR), (date(2025, 3, 11), 0)],
            date(2025, 3, 1),
            date(2025, 3, 31),
            RATES_2025,
            [(date(2025, 3, 1), date(2025, 3, 10), 10, TEN_THOUSAND_KR, 1050, 2877)],
            None,
            id="paid in full mid-period",
        ),
        pytest.param(
            [(date(2025, 1, 15), TEN_THOUSAND_KR)],
            date(2025, 3, 1),
            date(2025, 3, 31),
            RATES_2025,
            [(date(2025, 3, 1), date(2025, 3, 31), 31, TEN_THOUSAND_KR, 1050, 8918)],
            None,
            id="capital step before start",
        ),
        pytest.param(
            [(date(2017, 1, 1), TEN_THOUSAND_KR)],
            date(2017, 1, 1),
            date(2017, 1, 31),
            (ReferenceRate(date(2017, 1, 1), -50),),
            [(date(2017, 1, 1), date(2017, 1, 31), 31, TEN_THOUSAND_KR, 750, 6370)],
            None,
            id="negative reference rate",
        ),
        pytest.param(
            [(date(2024, 3, 1), TEN_THOUSAND_KR)],
            date(2024, 3, 1),
            date(2024, 9, 30),
            (ReferenceRate(date(2024, 1, 1), 400), ReferenceRate(date(2024, 7, 1), 400)),
            [(date(2024, 3, 1), date(2024, 9, 30), 214, TEN_THOUSAND_KR, 1200, 70356)],
            None,
            id="same rate in the next half-year: one line",
        ),
        pytest.param(
            [(date(2026, 1, 1), TEN_THOUSAND_KR)],
            date(2026, 6, 1),
            date(2026, 8, 15),
            RATES_2025,
            [(date(2026, 6, 1), date(2026, 6, 30), 30, TEN_THOUSAND_KR, 1000, 8219)],
            date(2026, 7, 1),
            id="half-year without a rate stops interest",
        ),
        pytest.param(
            [(date(2026, 1, 1), TEN_THOUSAND_KR)],
            date(2026, 6, 1),
            date(2027, 3, 1),
            (*RATES_2025, ReferenceRate(date(2027, 1, 1), 300)),
            [(date(2026, 6, 1), date(2026, 6, 30), 30, TEN_THOUSAND_KR, 1000, 8219)],
            date(2026, 7, 1),
            id="a gap is not bridged by a later known rate",
        ),
        pytest.param(
            [(date(2024, 12, 1), TEN_THOUSAND_KR)],
            date(2024, 12, 1),
            date(2025, 1, 31),
            RATES_2025,
            [],
            date(2024, 12, 1),
            id="start before the first rate",
        ),
        pytest.param(
            [(date(2025, 3, 1), TEN_THOUSAND_KR)],
            date(2025, 3, 1),
            date(2025, 3, 31),
            (ReferenceRate(date(2024, 7, 1), 400), ReferenceRate(date(2025, 3, 15), 250)),
            [],
            date(2025, 3, 1),
            id="previous half-year's rate is not carried over",
        ),
        pytest.param(
            [(date(2025, 3, 1), TEN_THOUSAND_KR)],
            date(2025, 3, 1),
            date(2025, 3, 31),
            (ReferenceRate(date(2025, 1, 1), 250), ReferenceRate(date(2025, 3, 15), 300)),
            [
                (date(2025, 3, 1), date(2025, 3, 14), 14, TEN_THOUSAND_KR, 1050, 4027),
                (date(2025, 3, 15), date(2025, 3, 31), 17, TEN_THOUSAND_KR, 1100, 5123),
            ],
            None,
            id="entry off 1 Jan/1 Jul honoured from its date",
        ),
        pytest.param(
            [(date(2025, 1, 1), 73)],
            date(2025, 7, 1),
            date(2025, 7, 25),
            RATES_2025,
            [(date(2025, 7, 1), date(2025, 7, 25), 25, 73, 1000, 1)],
            None,
            id="exactly half an öre rounds up",
        ),
        pytest.param(
            [(date(2025, 3, 1), TEN_THOUSAND_KR)],
            date(2025, 3, 2),
            date(2025, 3, 1),
            RATES_2025,
            [],
            None,
            id="end before start",
        ),
        pytest.param(
            [(date(2025, 3, 1), TEN_THOUSAND_KR)],
            date(2025, 3, 1),
            date(2025, 3, 1),
            RATES_2025,
            [(date(2025, 3, 1), date(2025, 3, 1), 1, TEN_THOUSAND_KR, 1050, 288)],
            None,
            id="one day",
        ),
    ],
)
def test_penalty_interest(
    capital: list[tuple[date, int]],
    start: date,
    end: date,
    rates: tuple[ReferenceRate, ...],
    expected_lines: list[tuple[date, date, int, int, int, int]],
    unknown_from: date | None,
) -> None:
    result = penalty_interest(capital, start, end, rates)
    assert result.lines == tuple(InterestLine(*line) for line in expected_lines)
    assert result.total_ore == sum(line[-1] for line in expected_lines)
    assert result.unknown_from == unknown_from


def test_margin_and_day_count_are_parameters() -> None:
    capital = [(date(2025, 3, 1), TEN_THOUSAND_KR)]
    plain = penalty_interest(capital, date(2025, 3, 1), date(2025, 3, 31), RATES_2025)
    no_margin = penalty_interest(
        capital, date(2025, 3, 1), date(2025, 3, 31), RATES_2025, margin_bp=0
    )
    leap = penalty_interest(
        capital, date(2025, 3, 1), date(2025, 3, 31), RATES_2025, days_in_year=366
    )
    assert plain.total_ore == 8918  # 1 000 000 * 10.5 % * 31 / 365
    assert no_margin.total_ore == 2123  # 1 000 000 * 2.5 % * 31 / 365
    assert leap.total_ore == 8893  # 1 000 000 * 10.5 % * 31 / 366


def test_penalty_interest_rejects_ambiguous_input() -> None:
    with pytest.raises(ValueError, match="two capital steps on 2025-03-01"):
        penalty_interest(
            [(date(2025, 3, 1), 1), (date(2025, 3, 1), 2)],
            date(2025, 3, 1),
            date(2025, 3, 2),
            RATES_2025,
        )
    with pytest.raises(ValueError, match="two reference rates"):
        penalty_interest([], date(2025, 3, 1), date(2025, 3, 2), RATES_2025 + RATES_2025)
    with pytest.raises(ValueError, match="days_in_year"):
        penalty_interest([], date(2025, 3, 1), date(2025, 3, 2), RATES_2025, days_in_year=0)


@pytest.mark.parametrize(
    ("due", "start"),
    [
        (date(2025, 3, 31), date(2025, 4, 1)),  # Monday: interest from Tuesday
        (date(2026, 12, 26), date(2026, 12, 29)),  # Saturday: due Monday 28th
        (date(2026, 12, 23), date(2026, 12, 24)),  # interest days need not be bank days
    ],
)
def test_interest_start(due: date, start: date) -> None:
    assert interest_start(due) == start


def test_parse_reference_rates() -> None:
    rows = [
        {"valid_from": "2025-07-01", "rate": "2.00"},
        {"valid_from": "2025-01-01", "rate": "2.5"},
        {"valid_from": date(2016, 7, 1), "rate": "-0.50", "note": "riksbank.se"},
        {"valid_from": "2022-01-01", "rate": "0"},
        {"valid_from": "2024-01-01", "rate": "4"},
    ]
    assert parse_reference_rates(rows) == (
        ReferenceRate(date(2016, 7, 1), -50),
        ReferenceRate(date(2022, 1, 1), 0),
        ReferenceRate(date(2024, 1, 1), 400),
        ReferenceRate(date(2025, 1, 1), 250),
        ReferenceRate(date(2025, 7, 1), 200),
    )
    assert parse_reference_rates([]) == ()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"valid_from": "2025-01-01", "rate": 2.5}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01", "rate": 2}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01", "rate": "2,50"}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01", "rate": "2.505"}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01", "rate": "+2.50"}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01", "rate": "2.50 %"}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01"}, "rate must be a decimal string"),
        ({"valid_from": "2025-01-01", "rate": "25.00"}, "rate 25.00 is outside ±20.00 %"),
        ({"valid_from": "2025-1-1", "rate": "2.50"}, "valid_from must be a date"),
        ({"valid_from": "20250101", "rate": "2.50"}, "valid_from must be a date"),
        ({"valid_from": "2025-02-30", "rate": "2.50"}, "valid_from must be a date"),
        ({"rate": "2.50"}, "valid_from must be a date"),
    ],
)
def test_parse_reference_rates_rejects(row: dict[str, object], reason: str) -> None:
    rows = [{"valid_from": "2024-07-01", "rate": "4.00"}, row]
    with pytest.raises(ValueError, match=f"reference rate row 1: {reason}"):
        parse_reference_rates(rows)


def test_parse_reference_rates_rejects_repeated_date() -> None:
    rows = [{"valid_from": "2025-01-01", "rate": "2.50"}, {"valid_from": "2025-01-01", "rate": "2"}]
    with pytest.raises(ValueError, match="row 1: valid_from 2025-01-01 repeats row 0"):
        parse_reference_rates(rows)
