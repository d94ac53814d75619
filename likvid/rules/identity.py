"""Swedish identity numbers: personnummer, samordningsnummer, organisationsnummer.

Basis: SWEDISH-RULES.md §8. python-stdnum checks the Luhn digit; the rest is done here
because `stdnum.se.personnummer` rejects samordningsnummer and infers the century from the
machine's clock, and `stdnum.se.orgnr` does not enforce the third-digit rule.

Normalised forms: a person (personnummer or samordningsnummer) is 12 digits YYYYMMDDNNNC;
an organisation is 10 digits NNNNNNNNNC.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum import luhn

PARTY_TYPES = ("person", "organisation", "estate")

#: Year used to infer the century of a 10-digit personnummer when the caller gives no
#: `today`. Callers that know the business date should pass it instead. [I]
CENTURY_REFERENCE_YEAR = 2026

#: A samordningsnummer is a personnummer with 60 added to the day. [M] SWEDISH-RULES.md §8.
SAMORDNING_DAY_OFFSET = 60

_FORMAT_ERROR = "must be 10 or 12 digits, with an optional - or + separator"
_CHECK_DIGIT_ERROR = "has a wrong check digit"
_BIRTH_DATE_ERROR = "is not a valid date of birth"
_ORGANISATION_ERROR = "is not a valid organisation number (third digit must be 2 or more)"

_NUMBER = re.compile(r"(?P<head>[0-9]{6}|[0-9]{8})(?P<sep>[-+]?)(?P<tail>[0-9]{4})")
# The same shape inside free text: a whole run of digits, never part of a longer one.
_NUMBER_IN_TEXT = re.compile(
    r"(?<![0-9])(?P<head>(?:18|19|20)?[0-9]{6})(?P<sep>[-+]?)(?P<tail>[0-9]{4})(?![0-9])"
)


def normalise_identity(number: str, party_type: str, *, today: date | None = None) -> str:
    """Validate an identity number for a party and return its normalised form.

    Accepts 10 or 12 digits, with or without a "-" or "+" separator before the last four.

    - person: personnummer or samordningsnummer (day + 60) -> 12 digits YYYYMMDDNNNC.
      A 12-digit number carries its century. For a 10-digit number the birth year is the
      latest year ending in YY that is not after `today`'s year (CENTURY_REFERENCE_YEAR
      when `today` is None), and 100 years earlier with a "+" (aged 100 or more). With
      `today` given, a birth date after it is rejected.
    - organisation: organisationsnummer (10 digits, or 12 with the Skatteverket "16"
      prefix, which is stripped; Luhn; third digit 2 or more) -> 10 digits. A valid
      personnummer is accepted too (enskild firma) and normalised like a person's.
    - estate (dödsbo): the deceased's personnummer or an organisationsnummer, as above.

    Basis: SWEDISH-RULES.md §8.
    """
    if party_type not in PARTY_TYPES:
        raise ValueError(f"unknown party type {party_type!r} (expected {', '.join(PARTY_TYPES)})")
    match = _NUMBER.fullmatch(number.strip()) if isinstance(number, str) else None
    if match is None:
        raise ValueError(_FORMAT_ERROR)
    head, sep, tail = match["head"], match["sep"], match["tail"]
    ten = head[-6:] + tail
    if party_type == "person":
        return _person(head, sep, tail, today)
    # The third digit of an organisationsnummer is 2 or more; a person's (month) is 0 or 1.
    if ten[2] >= "2" and (len(head) == 6 or head.startswith("16")):
        return _organisation(ten, sep)
    try:
        return _person(head, sep, tail, today)
    except ValueError as error:
        if str(error) == _BIRTH_DATE_ERROR:
            raise ValueError(_ORGANISATION_ERROR) from None
        raise


def identity_kind(normalised: str) -> str:
    """ "personnummer", "samordningsnummer" or "organisationsnummer" for a normalised number.

    Basis: SWEDISH-RULES.md §8.
    """
    if not re.fullmatch(r"[0-9]{10}|[0-9]{12}", normalised):
        raise ValueError("is not a normalised identity number (10 or 12 digits)")
    if len(normalised) == 10:
        return "organisationsnummer"
    if int(normalised[6:8]) > SAMORDNING_DAY_OFFSET:
        return "samordningsnummer"
    return "personnummer"


def mask_identity(number: str) -> str:
    """Hide the last four digits: "19811218-****", "212000-****" (the separator is kept).

    Anything that is not identity-shaped is masked entirely ("****"), so a malformed number
    is never shown. Basis: SWEDISH-RULES.md §8, §9 (data minimisation).
    """
    match = _NUMBER.fullmatch(number.strip()) if isinstance(number, str) else None
    if match is None:
        return "****"
    return _masked(match)


def mask_identities_in_text(text: str) -> str:
    """Mask every personnummer or samordningsnummer in free text (for log records).

    A candidate is a whole run of 10 or 12 digits (optionally "-" or "+" before the last
    four; a 12-digit form starting 18, 19 or 20) whose month and day could be a birth date
    (day 1-31, or 61-91 for a samordningsnummer). With a separator it is masked even when
    its check digit is wrong, since a mistyped personnummer is still personal data. Without
    a separator it is masked only when the Luhn digit is right, so most OCR references and
    other long numbers stay readable. Organisation numbers are left alone.

    Basis: SWEDISH-RULES.md §8, §9.
    """

    def replace(match: re.Match[str]) -> str:
        yymmdd = match["head"][-6:]
        month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
        plausible_day = 1 <= day <= 31 or 61 <= day <= 91
        if not (1 <= month <= 12 and plausible_day):
            return match[0]
        if not match["sep"] and not luhn.is_valid(yymmdd + match["tail"]):
            return match[0]
        return _masked(match)

    return _NUMBER_IN_TEXT.sub(replace, text)


def _masked(match: re.Match[str]) -> str:
    return f"{match['head']}{match['sep'] or '-'}****"


def _person(head: str, sep: str, tail: str, today: date | None) -> str:
    yymmdd = head[-6:]
    if len(head) == 8:
        if head[:2] not in ("18", "19", "20"):
            raise ValueError(_BIRTH_DATE_ERROR)
        year = int(head[:4])
    else:
        reference_year = today.year if today is not None else CENTURY_REFERENCE_YEAR
        year = reference_year - (reference_year - int(yymmdd[:2])) % 100
        if sep == "+":
            year -= 100
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > SAMORDNING_DAY_OFFSET:
        day -= SAMORDNING_DAY_OFFSET
    try:
        born = date(year, month, day)
    except ValueError:
        raise ValueError(_BIRTH_DATE_ERROR) from None
    if today is not None and born > today:
        raise ValueError(_BIRTH_DATE_ERROR)
    if not luhn.is_valid(yymmdd + tail):
        raise ValueError(_CHECK_DIGIT_ERROR)
    return f"{year:04d}{yymmdd[2:]}{tail}"


def _organisation(ten: str, sep: str) -> str:
    if sep == "+":
        raise ValueError(_FORMAT_ERROR)
    if not luhn.is_valid(ten):
        raise ValueError(_CHECK_DIGIT_ERROR)
    return ten
