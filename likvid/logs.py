"""Logging: one format everywhere, identity numbers masked in every line (POLICY.md point 10)."""

from __future__ import annotations

import logging

from likvid.rules.identity import mask_identities_in_text


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


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (`LIKVID_LOG_FORMAT=json`)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        out = {"at": self.formatTime(record), "level": record.levelname, "logger": record.name,
               "message": record.getMessage(), "pid": record.process}
        if record.exc_info:
            out["exception"] = mask_identities_in_text(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def formatter() -> logging.Formatter:
    import os

    if os.environ.get("LIKVID_LOG_FORMAT", "text") == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter())
    handler.addFilter(MaskIdentities())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
