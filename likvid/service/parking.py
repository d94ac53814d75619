"""Serialising "park an event" against "release what waits for this key".

Without it, on PostgreSQL an invoice could check for its customer, not see it (the customer's
transaction has not committed yet), and park itself just after the customer's transaction
looked for parked events: it would wait forever. Both sides take a transaction-scoped
advisory lock on the key before they look, so one always sees the other. SQLite runs one
writer at a time and needs nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from likvid.db import int_array, is_sqlite


def _key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def lock_key(session: Session, key: str) -> None:
    if is_sqlite(session.get_bind()):
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:h)"), {"h": _key_hash(key)})


def lock_keys(session: Session, keys: Iterable[str]) -> None:
    """``lock_key`` for many keys in one statement (in a fixed order, so two callers never wait
    for each other crosswise)."""
    if is_sqlite(session.get_bind()):
        return
    hashes = sorted({_key_hash(k) for k in keys})
    if hashes:
        session.execute(text("SELECT count(pg_advisory_xact_lock(h)) FROM unnest(CAST(:hs AS bigint[])) AS h"),
                        {"hs": int_array(hashes)})
