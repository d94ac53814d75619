"""Logs never carry an identity number unmasked (POLICY.md point 10)."""

from __future__ import annotations

import logging

from likvid.logs import MaskIdentities


def test_identity_numbers_are_masked_in_formatted_log_lines(caplog) -> None:  # type: ignore[no-untyped-def]
    logger = logging.getLogger("likvid.test.masking")
    logger.addFilter(MaskIdentities())
    with caplog.at_level(logging.INFO, logger="likvid.test.masking"):
        logger.info("customer %s registered; payer 19811218-9876", "811218-9876")
    text = caplog.records[0].getMessage()
    assert "9876" not in text
    assert "811218" in text  # the birth date part stays, for support staff
