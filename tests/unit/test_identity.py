import re
from datetime import date

import pytest

from likvid.rules.identity import (
    identity_kind,
    mask_identities_in_text,
    mask_identity,
    normalise_identity,
)

FORMAT = re.escape("must be 10 or 12 digits, with an optional - or + separator")
CHECK = "has a wrong check digit"
BIRTH = "is not a valid date of birth"
ORGANISATION = r"is not a valid organisation number \(third digit must be 2 or more\)"


@pytest.mark.parametrize(
    ("number", "party_type", "normalised"),
    [
        # personnummer, every accepted spelling
        ("811218-9876", "person", "198112189876"),
        ("8112189876", "person", "198112189876"),
        ("19811218-9876", "person", "198112189876"),
        ("198112189876", "person", "198112189876"),
        (" 811218-9876 ", "person", "198112189876"),
        # "+": aged 100 or more
        ("811218+9876", "person", "188112189876"),
        ("240229+0007", "person", "192402290007"),
        # century inferred against CENTURY_REFERENCE_YEAR (2026)
        ("121212-1212", "person", "201212121212"),
        ("000101-0008", "person", "200001010008"),
        ("260101-0008", "person", "202601010008"),
        ("990101-0000", "person", "199901010000"),
        ("240229-0007", "person", "202402290007"),
        # samordningsnummer (day + 60)
        ("701063-2391", "person", "197010632391"),
        ("7010632391", "person", "197010632391"),
        ("19701063-2391", "person", "197010632391"),
        ("197010632391", "person", "197010632391"),
        ("701063+2391", "person", "187010632391"),  # "+": aged 100 or more
        # organisationsnummer
        ("212000-0415", "organisation", "2120000415"),
        ("2120000415", "organisation", "2120000415"),
        ("16212000-0415", "organisation", "2120000415"),
        ("162120000415", "organisation", "2120000415"),
        ("5560360793", "organisation", "5560360793"),
        # enskild firma: a personnummer as an organisation's number
        ("811218-9876", "organisation", "198112189876"),
        ("701063-2391", "organisation", "197010632391"),
        # dödsbo: the deceased's personnummer or an organisationsnummer
        ("811218-9876", "estate", "198112189876"),
        ("212000-0415", "estate", "2120000415"),
    ],
)
def test_normalise_identity(number: str, party_type: str, normalised: str) -> None:
    assert normalise_identity(number, party_type) == normalised


@pytest.mark.parametrize(
    ("number", "party_type", "reason"),
    [
        ("", "person", FORMAT),
        ("81121898760", "person", FORMAT),
        ("811218 9876", "person", FORMAT),
        ("8112-189876", "person", FORMAT),
        ("811218--9876", "person", FORMAT),
        ("811218/9876", "person", FORMAT),
        ("abcdef-ghij", "person", FORMAT),
        ("811218-9875", "person", CHECK),
        ("701063-2392", "person", CHECK),
        ("811232-9876", "person", BIRTH),
        ("811318-9876", "person", BIRTH),
        ("230229-0008", "person", BIRTH),
        ("701092-2391", "person", BIRTH),  # day 92 - 60 = 32
        ("701060-2391", "person", BIRTH),  # day 60: neither a day nor day + 60
        ("700063-2391", "person", BIRTH),  # month 00
        ("5560360793", "person", BIRTH),  # an organisationsnummer is no person's number
        ("16212000-0416", "organisation", CHECK),
        ("17212000-0415", "organisation", ORGANISATION),  # only 16 may prefix an orgnr
        ("556036+0793", "organisation", FORMAT),  # "+" is for persons aged 100 or more
        ("17811218-9876", "person", BIRTH),
        ("212000-0415", "person", BIRTH),
        ("212000-0416", "organisation", CHECK),
        ("212000+0415", "organisation", FORMAT),
        ("5510360794", "organisation", ORGANISATION),
        ("16811218-9876", "organisation", ORGANISATION),
        ("811218-9875", "organisation", CHECK),
        ("5510360794", "estate", ORGANISATION),
    ],
)
def test_normalise_identity_rejects(number: str, party_type: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalise_identity(number, party_type)


@pytest.mark.parametrize(
    ("number", "today", "normalised"),
    [
        ("260101-0008", date(2025, 6, 1), "192601010008"),
        ("260101-0008", date(2026, 1, 1), "202601010008"),
        ("260101+0008", date(2026, 1, 1), "192601010008"),
        ("121212-1212", date(2130, 1, 1), "211212121212"),
    ],
)
def test_century_follows_today(number: str, today: date, normalised: str) -> None:
    assert normalise_identity(number, "person", today=today) == normalised


def test_birth_after_today_is_rejected() -> None:
    with pytest.raises(ValueError, match=BIRTH):
        normalise_identity("250615-0008", "person", today=date(2025, 6, 1))
    with pytest.raises(ValueError, match=BIRTH):
        normalise_identity("20250615-0008", "person", today=date(2025, 6, 1))


def test_unknown_party_type() -> None:
    with pytest.raises(ValueError, match="unknown party type"):
        normalise_identity("811218-9876", "company")


@pytest.mark.parametrize(
    ("normalised", "kind"),
    [
        ("198112189876", "personnummer"),
        ("197010632391", "samordningsnummer"),
        ("2120000415", "organisationsnummer"),
    ],
)
def test_identity_kind(normalised: str, kind: str) -> None:
    assert identity_kind(normalised) == kind


@pytest.mark.parametrize("number", ["811218-9876", "19811218987", ""])
def test_identity_kind_rejects_unnormalised(number: str) -> None:
    with pytest.raises(ValueError):
        identity_kind(number)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("19811218-9876", "19811218-****"),
        ("198112189876", "19811218-****"),
        ("811218-9876", "811218-****"),
        ("811218+9876", "811218+****"),
        ("2120000415", "212000-****"),
        ("212000-0415", "212000-****"),
        ("not a number", "****"),
        ("81121898", "****"),
    ],
)
def test_mask_identity(number: str, masked: str) -> None:
    assert mask_identity(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("kund 19811218-9876 betalade", "kund 19811218-**** betalade"),
        ("pnr=8112189876.", "pnr=811218-****."),
        ("pnr 198112189876", "pnr 19811218-****"),
        ("old 811218+9876", "old 811218+****"),
        ("typo 811218-9875", "typo 811218-****"),
        ("samordning 701063-2391", "samordning 701063-****"),
        (
            "two: 811218-9876 and 701063-2391",
            "two: 811218-**** and 701063-****",
        ),
        # left alone: wrong Luhn without a separator, orgnr, OCR refs, longer runs, amounts
        ("ocr 8112189875", "ocr 8112189875"),
        ("orgnr 212000-0415", "orgnr 212000-0415"),
        ("ocr 655969", "ocr 655969"),
        ("ref 19811218987654", "ref 19811218987654"),
        ("amount 100000000000", "amount 100000000000"),
        ("date 2026-12-24", "date 2026-12-24"),
        ("vat SE212000041501", "vat SE212000041501"),
    ],
)
def test_mask_identities_in_text(text: str, masked: str) -> None:
    assert mask_identities_in_text(text) == masked
