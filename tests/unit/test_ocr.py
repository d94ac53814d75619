from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from likvid.rules.ocr import generate_ocr, is_valid_ocr, luhn_check_digit, validate_ocr

BGMAX_EXAMPLE = Path("/work/shared/data/bgmax/bankgirot-example-ocr-check-and-length.bgmax")

# Payment lines (TK20/22) with referenskod 2 from Bankgirot's example file "avtal om
# OCR-kontroll: checksiffra och längd", copied so the test runs without the shared folder.
EXAMPLE_LINES = """\
200003783511                   655969000000000000100000220000000000100
220003783511                   657866000000000000000000220000000000140
220003783511                   658765000000000000000000220000000000140
220003783511                   657767000000000000000000220000000000140
220003783511                   657965000000000000000000220000000000140
200009701233                   650861000000000000110000210000000000120
200001234567                   659763000000000000070000230000000000161
200003783511                   658260000000000000500000220000000000160
220003783511                   658369000000000000000000220000000000160
220003783511                   658468000000000000000000220000000000160
"""


def ocr_references(lines: list[str]) -> list[str]:
    """References (columns 13-37, right-aligned) of TK20/22 lines with referenskod 2."""
    return [
        line[12:37].strip()
        for line in lines
        if line[:2] in ("20", "22") and len(line) >= 56 and line[55] == "2"
    ]


@pytest.mark.parametrize(
    ("digits", "check"),
    [("65596", "9"), ("7992739871", "3"), ("0", "0"), ("1234", "4"), ("12345", "5")],
)
def test_luhn_check_digit(digits: str, check: str) -> None:
    assert luhn_check_digit(digits) == check


@pytest.mark.parametrize("digits", ["", "12a", "12 3", "١٢"])
def test_luhn_check_digit_rejects(digits: str) -> None:
    with pytest.raises(ValueError, match="must contain only digits"):
        luhn_check_digit(digits)


@pytest.mark.parametrize(
    ("base", "length_digit", "reference"),
    [
        ("6559", True, "655969"),
        ("12345", True, "1234574"),
        ("12345", False, "123455"),
        ("1", False, "18"),
        ("1" * 23, True, "1" * 23 + "5" + luhn_check_digit("1" * 23 + "5")),
    ],
)
def test_generate_ocr(base: str, length_digit: bool, reference: str) -> None:
    generated = generate_ocr(base, length_digit)
    assert generated == reference
    validate_ocr(generated, require_length_digit=length_digit)


@pytest.mark.parametrize(
    ("base", "length_digit", "reason"),
    [
        ("", True, "must not be empty"),
        ("1" * 24, True, "must be 2 to 25 digits long"),
        ("1" * 25, False, "must be 2 to 25 digits long"),
        ("12-3", True, "must contain only digits"),
    ],
)
def test_generate_ocr_rejects(base: str, length_digit: bool, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        generate_ocr(base, length_digit)


@pytest.mark.parametrize(
    ("ref", "require_length_digit", "reason"),
    [
        ("655969", True, None),
        ("123455", False, None),
        ("123455", True, "has a wrong length digit"),
        ("655968", False, "has a wrong check digit"),
        ("6", False, "must be 2 to 25 digits long"),
        ("1" * 26, False, "must be 2 to 25 digits long"),
        ("", False, "must contain only digits"),
        ("6559 69", False, "must contain only digits"),
        (" 655969", False, "must contain only digits"),
        ("65596A", False, "must contain only digits"),
    ],
)
def test_validate_ocr(ref: str, require_length_digit: bool, reason: str | None) -> None:
    if reason is None:
        validate_ocr(ref, require_length_digit)
        assert is_valid_ocr(ref, require_length_digit)
    else:
        with pytest.raises(ValueError, match=reason):
            validate_ocr(ref, require_length_digit)
        assert not is_valid_ocr(ref, require_length_digit)


def test_length_limits_are_parameters() -> None:
    assert not is_valid_ocr("1234574", max_length=6)
    with pytest.raises(ValueError, match="must be 8 to 25 digits long"):
        generate_ocr("12345", min_length=8)


@pytest.mark.parametrize("ref", ocr_references(EXAMPLE_LINES.splitlines()))
def test_bankgirot_example_references_pass(ref: str) -> None:
    validate_ocr(ref, require_length_digit=True)


def test_bankgirot_example_file() -> None:
    if not BGMAX_EXAMPLE.exists():
        pytest.skip(f"{BGMAX_EXAMPLE} not available")
    lines = BGMAX_EXAMPLE.read_text(encoding="latin-1").splitlines()
    references = ocr_references(lines)
    assert references == ocr_references(EXAMPLE_LINES.splitlines())
    for ref in references:
        validate_ocr(ref, require_length_digit=True)


def _luhn_by_the_book(digits: str) -> str:
    """The check digit as Bankgirot describes it: from the right, weights 2, 1, 2, 1, ...; the
    digits of each product added; the check digit makes the sum a multiple of ten."""
    total = 0
    for position, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_check_digit_matches_the_textbook_rule(digits: str) -> None:
    assert luhn_check_digit(digits) == _luhn_by_the_book(digits)
