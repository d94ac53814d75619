"""likvid.ids: random hex ids without a system call per id, distinct across forked workers."""

from __future__ import annotations

import os
import re

from likvid.ids import hex_id


def test_ids_have_the_form_of_a_uuid4_hex_and_do_not_repeat() -> None:
    ids = [hex_id() for _ in range(100_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert re.fullmatch(r"[0-9a-f]{20}", hex_id(20))
    assert re.fullmatch(r"[0-9a-f]{19}", hex_id(19))


def test_a_forked_worker_draws_other_ids_than_its_parent() -> None:
    # dramatiq forks its worker processes: each must not repeat the others' sequence
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, " ".join(hex_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 65536):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = {hex_id() for _ in range(100)}
    assert len(child.decode().split()) == 100
    assert not parent & set(child.decode().split())


def test_seeding_the_random_module_does_not_make_ids_repeat() -> None:
    # (hypothesis, for one, seeds the random module for every example it runs)
    import random

    random.seed(0)
    first = [hex_id() for _ in range(10)]
    random.seed(0)
    assert not set(first) & {hex_id() for _ in range(10)}
