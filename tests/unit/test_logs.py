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


def test_json_log_lines_are_one_object_each_and_masked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io
    import json

    from likvid.logs import formatter

    monkeypatch.setenv("LIKVID_LOG_FORMAT", "json")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter())
    handler.addFilter(MaskIdentities())
    logger = logging.getLogger("likvid.test.json")
    logger.addHandler(handler)
    logger.warning("payer %s", "811218-9876")
    line = json.loads(stream.getvalue())
    assert line["level"] == "WARNING" and line["logger"] == "likvid.test.json"
    assert "9876" not in line["message"]
