"""Serialising "park an event" against "release what waits for this key".

Without it, on PostgreSQL an invoice could check for its customer, not see it (the customer's
transaction has not committed yet), and park itself just after the customer's transaction
looked for parked events: it would wait forever. Both sides take a transaction-scoped
advisory lock on the key before they look, so one always sees the other. SQLite runs one
writer at a time and needs nothing.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session

from likvid.db import is_sqlite


def lock_key(session: Session, key: str) -> None:
    if is_sqlite(session.get_bind()):
        return
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:h)"), {"h": h})
