"""Runs last (by name): no identity number appears unmasked in any log line of the session
(POLICY.md point 10). The session's handler applies the production mask (likvid.logs); this
scan looks for valid identity numbers with its own, broader detector, so a number the mask
fails to recognise is caught. Worker processes started by the demo write to files under
their state directory, which tests/flow/test_demo.py scans."""

from __future__ import annotations

import re

from likvid.rules.identity import normalise_identity
from tests.support import logscan

#: Anything shaped like a personnummer or samordningsnummer, with or without century/separator.
SHAPE = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)")


def identity_numbers_in(text: str) -> list[str]:
    found = []
    for match in SHAPE.findall(text):
        try:
            normalise_identity(match, "person")
        except ValueError:
            continue
        found.append(match)
    return found


def test_no_identity_number_is_logged_unmasked() -> None:
    leaks = [line for line in logscan.LINES if identity_numbers_in(line)]
    assert leaks == [], leaks[:5]


def test_the_detector_finds_identity_numbers() -> None:
    assert identity_numbers_in("kund 811218-9876 och 198112189876") == ["811218-9876", "198112189876"]
    assert identity_numbers_in("OCR 655969, belopp 1000") == []
