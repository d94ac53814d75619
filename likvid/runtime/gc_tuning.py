"""The cyclic garbage collector's settings for the service's processes.

CPython (3.11) runs a young collection after every 700 net container allocations, and a full
one every hundred young ones or so, once enough objects have survived. A full collection walks
every container object in the process. A worker holds a few hundred thousand that live as long
as the process (SQLAlchemy's mappers and compiled statements, pydantic's validators, the policy,
the templates), and a batch allocates enough short-lived rows and events to set off full
collections again and again: in ``bench/profile_import.py`` (20,000 payments) the collector
took 2.0 s of about 10 s of CPU, 1.6 s of it in 13 full collections.

So each long-running process, once booted, moves everything it has built so far out of the
collector's sight (``gc.freeze()``: those objects are never walked again, and never collected,
which they would not be anyway) and raises the young threshold, so collections run a
seventieth as often and each walks only what the recent work left behind. Reference counting
still frees everything that is not in a cycle at once; cycles wait a little longer, bounded by
the threshold. ``LIKVID_GC_THRESHOLD`` sets it (``Settings.gc_threshold``: 50,000 unless set;
0 keeps Python's own settings).
"""

from __future__ import annotations

import gc


def tune(threshold: int) -> None:
    """Freeze what start-up built and raise the young threshold; 0 leaves the collector alone."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
