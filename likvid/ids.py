"""Random ids for rows, messages and outbound events.

``uuid.uuid4()`` reads ``os.urandom`` once per id: a system call, and on this project's kind of
machine (a small virtual machine under load) the largest single cost of writing a settled
claim's outbound event in a set-based payment run. These ids are unique names, not secrets (a
webhook's authenticity comes from its HMAC signature, not from its event id), so they come
from a private Mersenne Twister instead, seeded from ``os.urandom`` when this module is loaded
and again in every forked child (dramatiq's worker processes). It is private so that nothing
else that seeds the ``random`` module (a test framework, a library) can make ids repeat.
128 random bits make a collision as unlikely as with ``uuid4``'s 122.
"""

from __future__ import annotations

import os
import random

_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def hex_id(chars: int = 32) -> str:
    """``chars`` random lower-case hex digits (32: the form of ``uuid.uuid4().hex``)."""
    return f"{_random.getrandbits(4 * chars):0{chars}x}"
