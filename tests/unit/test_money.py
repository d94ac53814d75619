from fractions import Fraction

import pytest

from likvid.rules.money import format_kronor, kronor_str, parse_kronor, round_half_up


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("1234.50", 123450),
        ("0.5", 50),
        ("100", 10000),
        ("0", 0),
        ("0.01", 1),
        ("007.10", 710),
        ("1000000000.00", 100_000_000_000),
    ],
)
def test_parse_kronor(text: str, ore: int) -> None:
    assert parse_kronor(text) == ore


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5", "must not be negative"),
        ("-0.50", "must not be negative"),
        ("+5", "at most two decimals"),
        ("1e3", "at most two decimals"),
        ("1 000", "at most two decimals"),
        (" 100", "at most two decimals"),
        ("1,50", "at most two decimals"),
        ("", "at most two decimals"),
        ("1.505", "at most two decimals"),
        ("1.", "at most two decimals"),
        (".5", "at most two decimals"),
        ("١٢", "at most two decimals"),  # non-ASCII digits
        ("NaN", "at most two decimals"),
        ("1000000000.01", "is too large (at most 1000000000.00)"),
        ("9" * 5000, "is too large"),
    ],
)
def test_parse_kronor_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_kronor(text)


@pytest.mark.parametrize("value", [12.5, 100, None, b"1.00"])
def test_parse_kronor_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_kronor(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ore", "sv", "en", "contract"),
    [
        (123450, "1 234,50 kr", "SEK 1,234.50", "1234.50"),
        (0, "0,00 kr", "SEK 0.00", "0.00"),
        (5, "0,05 kr", "SEK 0.05", "0.05"),
        (100_000_000_000, "1 000 000 000,00 kr", "SEK 1,000,000,000.00", "1000000000.00"),
        (-123450, "-1 234,50 kr", "-SEK 1,234.50", "-1234.50"),
        (-5, "-0,05 kr", "-SEK 0.05", "-0.05"),
    ],
)
def test_format(ore: int, sv: str, en: str, contract: str) -> None:
    assert format_kronor(ore) == sv
    assert format_kronor(ore, "sv") == sv
    assert format_kronor(ore, "en") == en
    assert kronor_str(ore) == contract


def test_round_trip() -> None:
    for ore in (0, 1, 99, 100, 123456789):
        assert parse_kronor(kronor_str(ore)) == ore


def test_format_rejects_unknown_language_and_floats() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        format_kronor(100, "de")
    with pytest.raises(TypeError):
        format_kronor(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kronor_str(True)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(49, 100), 0),
        (Fraction(-1, 2), -1),
        (Fraction(-49, 100), 0),
        (Fraction(7), 7),
    ],
)
def test_round_half_up(value: Fraction, rounded: int) -> None:
    assert round_half_up(value) == rounded
