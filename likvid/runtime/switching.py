"""How often a worker process's threads hand the interpreter to each other while one of them
applies a large batch of payments.

CPython lets a thread keep the interpreter lock until another thread has waited for it for the
switch interval (5 ms by default), then makes it hand over. A worker process runs several
threads; during a bank file's import each applies a message of 1,000 payments
(``likvid.service.payment_batch``), all of them busy on the same two cores, and every forced
handover costs CPU that the payments do not get. With a 50 ms interval while such a batch runs,
the workers used about a tenth less CPU for the same payments (BENCHMARKS.md, BgMax import,
alternated rounds with and without).

A longer interval also makes a short piece of work in a sibling thread wait longer for the
lock. So it is taken only while a large batch of payments is applied (a bank file's messages,
or a large `likvid publish`), queued in the payments queue ahead of anything published after
them. The chain's
other messages, and a single payment from `likvid publish` or the HTTP API, run under
Python's own interval (issue 10's payment latency under a load of invoices is measured that
way). ``LIKVID_BATCH_SWITCH_MS`` sets the interval (``Settings.batch_switch_ms``: 50 unless
set; 0 keeps Python's own).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

#: Payments a message must carry for its batch to run with the longer interval.
LARGE_BATCH = 100

_lock = threading.Lock()
_inside = 0  # threads inside `coarse_switching` now
_saved = 0.0  # the interval before the first of them came in


@contextmanager
def coarse_switching(interval_ms: int) -> Iterator[None]:
    """The process's switch interval is ``interval_ms`` while any thread is inside (0: no
    change); the interval from before the first came in is back when the last leaves."""
    global _inside, _saved
    if interval_ms <= 0:
        yield
        return
    with _lock:
        if _inside == 0:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(interval_ms / 1000)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                sys.setswitchinterval(_saved)


def for_payments(count: int, interval_ms: int) -> AbstractContextManager[None]:
    """``coarse_switching`` for a message of ``count`` payments: only a large batch's."""
    return coarse_switching(interval_ms if count >= LARGE_BATCH else 0)
