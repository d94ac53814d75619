"""Every log line of the test session, as production would write it (with the identity-number
mask that `likvid.logs` installs on every handler), kept for the scan at the end."""

from __future__ import annotations

import logging

from likvid.logs import MaskIdentities

LINES: list[str] = []
#: Enough for a full run; past it the oldest lines are dropped.
LIMIT = 500_000


class Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            LINES.append(self.format(record))
        except Exception:  # a log line must never fail a test by itself
            return
        if len(LINES) > LIMIT:
            del LINES[: LIMIT // 10]


def install() -> Capture:
    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.addFilter(MaskIdentities())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler
