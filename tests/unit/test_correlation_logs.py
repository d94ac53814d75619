"""The correlation id in log lines (text and JSON), masked like the message, and the worker
middleware that sets it from a message's options."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import dramatiq
import pytest

from likvid.correlation import CORRELATION_ID, OPTION, correlated, current
from likvid.logs import JsonFormatter, MaskIdentities, TextFormatter, mask_existing_handlers
from likvid.workers.middleware import Correlation


@pytest.fixture
def stream() -> Iterator[tuple[logging.Logger, io.StringIO, logging.StreamHandler[io.StringIO]]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskIdentities())
    logger = logging.getLogger("likvid.test.correlation")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger, out, handler
    finally:
        logger.removeHandler(handler)


def test_text_lines_carry_the_id_after_the_message(stream) -> None:  # type: ignore[no-untyped-def]
    logger, out, handler = stream
    handler.setFormatter(TextFormatter("%(levelname)s %(name)s: %(message)s"))
    logger.info("before")
    with correlated("ev-42"):
        logger.info("inside")
        with correlated("ev-43"):
            logger.info("nested")
    logger.info("after")
    assert out.getvalue().splitlines() == [
        "INFO likvid.test.correlation: before",
        "INFO likvid.test.correlation: inside [corr=ev-42]",
        "INFO likvid.test.correlation: nested [corr=ev-43]",
        "INFO likvid.test.correlation: after",
    ]


def test_json_lines_carry_the_id_or_a_batch_s_ids_masked(stream) -> None:  # type: ignore[no-untyped-def]
    logger, out, handler = stream
    handler.setFormatter(JsonFormatter())
    # A publisher used an identity number as the event id: the log shows it masked.
    with correlated("19811218-9876"):
        logger.info("one")
        logger.info("batch", extra={"correlation_ids": ["ev-1", "811218-9876"]})
    logger.info("none")
    one, batch, none = (json.loads(line) for line in out.getvalue().splitlines())
    assert one["correlation_id"] == "19811218-****"
    # A batch's line lists its items' ids; the message's own id would name one for all.
    assert "correlation_id" not in batch and batch["correlation_ids"] == ["ev-1", "811218-****"]
    assert "correlation_id" not in none and "correlation_ids" not in none
    assert "9876" not in out.getvalue()


def test_dramatiq_s_text_layout_is_kept_and_gets_the_id(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LIKVID_LOG_FORMAT", raising=False)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("[%(name)s] [%(levelname)s] %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        mask_existing_handlers()
        assert isinstance(handler.formatter, TextFormatter)
        with correlated("ev-7"):
            logging.getLogger("likvid.test.worker").warning("payer %s", "811218-9876")
    finally:
        root.removeHandler(handler)
    assert out.getvalue() == "[likvid.test.worker] [WARNING] payer 811218-**** [corr=ev-7]\n"


def test_the_middleware_sets_the_id_from_the_message_and_clears_it() -> None:
    middleware = Correlation()
    message = dramatiq.Message(queue_name="steps", actor_name="fire_timers", args=([1],), kwargs={},
                               options={OPTION: "ev-9"})
    assert current() is None
    middleware.before_process_message(None, message)
    assert current() == "ev-9"
    middleware.after_process_message(None, message)
    assert current() is None
    # A message without one (an ingest message of `likvid publish`) leaves none.
    middleware.before_process_message(None, dramatiq.Message(queue_name="ingest", actor_name="ingest_events",
                                                             args=([],), kwargs={}, options={}))
    assert CORRELATION_ID.get() is None


def test_show_invoice_s_plain_output_lists_the_ids() -> None:
    from likvid.cli.render import human

    assert human({"invoice_id": "I1", "correlation_ids": ["ev-1", "ev-2"]}).splitlines() == [
        "invoice_id: I1", "correlation_ids: 2", "  - ev-1", "  - ev-2"]


def test_a_batch_s_ids_are_masked_each_as_if_alone() -> None:
    from likvid.logs import correlations_of
    from likvid.rules.identity import mask_identities_in_text

    ids = ["811218-9876", "8112189876", "19811218+9876", "bgmax:9912346:20260110:00001:000000000017:17", "ev-1",
           "811218", "9876", "12345678901", "ab\ncd 811218-9876", 42]
    record = logging.makeLogRecord({"correlation_ids": ids})
    assert correlations_of(record) == [mask_identities_in_text(str(i)) for i in ids]
    assert correlations_of(logging.makeLogRecord({"correlation_ids": []})) is None
