"""Logging: one format everywhere, identity numbers masked in every line (POLICY.md point 10)."""

from __future__ import annotations

import logging

from likvid.correlation import install_record_factory
from likvid.rules.identity import mask_identities_in_text

#: The text format (the correlation id, when there is one, follows the message: " [corr=ID]").
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskIdentities(logging.Filter):
    """Rewrites the formatted message so no personnummer leaves the process unmasked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_identities_in_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def mask_existing_handlers() -> None:
    """Add the mask to every handler already configured (dramatiq's worker processes set up
    logging before they import our module)."""
    import os

    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskIdentities) for f in handler.filters):
            handler.addFilter(MaskIdentities())
        if os.environ.get("LIKVID_LOG_FORMAT") == "json":
            handler.setFormatter(JsonFormatter())
        elif type(handler.formatter) is logging.Formatter:  # dramatiq's: keep its layout, add the id
            old = handler.formatter
            handler.setFormatter(TextFormatter(old._fmt, old.datefmt))
    install_record_factory()


def correlation_of(record: logging.LogRecord) -> str | None:
    """The record's correlation id, masked (a publisher may have used an identity number as an
    event id). None on a batch's line that lists its items' ids (``correlations_of``): the
    message's own id would name one item for them all."""
    if getattr(record, "correlation_ids", None):
        return None
    value = getattr(record, "correlation_id", None)
    return mask_identities_in_text(value) if value else None


def correlations_of(record: logging.LogRecord) -> list[str] | None:
    """The ids a set-based batch's line lists (``extra={"correlation_ids": [...]}``), masked."""
    values = getattr(record, "correlation_ids", None)
    if not values:
        return None
    # One pass over them all (a batch lists up to a thousand): a run of digits that could be
    # an identity number never crosses the line break between two ids.
    texts = [str(v) for v in values]
    masked = mask_identities_in_text("\n".join(texts)).split("\n")
    return masked if len(masked) == len(texts) else [mask_identities_in_text(t) for t in texts]


class TextFormatter(logging.Formatter):
    """Any text layout, with " [corr=ID]" after the message when the record has an id (and
    " [corrs=ID,ID]" when a set-based batch's line lists several)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        line = super().formatMessage(record)
        corr, corrs = correlation_of(record), correlations_of(record)
        if corr:
            line += f" [corr={corr}]"
        if corrs:
            line += f" [corrs={','.join(corrs)}]"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (`LIKVID_LOG_FORMAT=json`)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        out: dict[str, object] = {"at": self.formatTime(record), "level": record.levelname, "logger": record.name,
                                  "message": record.getMessage(), "pid": record.process}
        corr, corrs = correlation_of(record), correlations_of(record)
        if corr:
            out["correlation_id"] = corr
        if corrs:
            out["correlation_ids"] = corrs
        if record.exc_info:
            out["exception"] = mask_identities_in_text(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def formatter() -> logging.Formatter:
    import os

    if os.environ.get("LIKVID_LOG_FORMAT", "text") == "json":
        return JsonFormatter()
    return TextFormatter(TEXT_FORMAT)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter())
    handler.addFilter(MaskIdentities())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    install_record_factory()
