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
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskIdentities) for f in handler.filters):
            handler.addFilter(MaskIdentities())


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskIdentities())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
