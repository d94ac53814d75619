"""Domain rejections: an event that is valid in form but cannot be applied."""

from __future__ import annotations


class Parked(Exception):
    """The event waits for ``key`` (``invoice:ID``, ``ocr:REF``, ``customer:ID``, …) and is
    applied when that arrives (EVENTS.md: events may arrive out of order)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class Rejected(Exception):
    """Rejects the event being handled; recorded with the field and the reason, nothing applied."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
