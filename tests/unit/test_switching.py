"""likvid.runtime.switching: a longer switch interval while a large batch of payments is applied."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from likvid.runtime.switching import LARGE_BATCH, coarse_switching, for_payments
from likvid.settings import Settings


@pytest.fixture
def default_interval() -> Iterator[float]:
    before = sys.getswitchinterval()
    yield before
    sys.setswitchinterval(before)  # (the tests below check that this is never needed)


def test_the_interval_is_longer_inside_and_back_after(default_interval: float) -> None:
    with coarse_switching(50):
        assert sys.getswitchinterval() == pytest.approx(0.05)
    assert sys.getswitchinterval() == default_interval


def test_an_error_inside_still_puts_it_back(default_interval: float) -> None:
    with pytest.raises(RuntimeError), coarse_switching(50):
        raise RuntimeError("the batch failed")
    assert sys.getswitchinterval() == default_interval


def test_zero_changes_nothing(default_interval: float) -> None:
    with coarse_switching(0):
        assert sys.getswitchinterval() == default_interval


def test_it_stays_longer_until_the_last_thread_inside_leaves(default_interval: float) -> None:
    entered = [threading.Event(), threading.Event()]
    leave = [threading.Event(), threading.Event()]
    left = [threading.Event(), threading.Event()]

    def batch(i: int) -> None:
        with coarse_switching(50):
            entered[i].set()
            leave[i].wait(10)
        left[i].set()

    threads = [threading.Thread(target=batch, args=(i,)) for i in (0, 1)]
    threads[0].start()
    assert entered[0].wait(10)
    threads[1].start()
    assert entered[1].wait(10)
    leave[0].set()
    assert left[0].wait(10)
    assert sys.getswitchinterval() == pytest.approx(0.05)  # the second is still applying its batch
    leave[1].set()
    for t in threads:
        t.join(10)
    assert sys.getswitchinterval() == default_interval


def test_only_a_large_batch_of_payments_gets_it(default_interval: float) -> None:
    with for_payments(LARGE_BATCH - 1, 50):
        assert sys.getswitchinterval() == default_interval  # a single payment's latency comes first
    with for_payments(LARGE_BATCH, 50):
        assert sys.getswitchinterval() == pytest.approx(0.05)
    assert sys.getswitchinterval() == default_interval


def test_the_interval_comes_from_the_environment() -> None:
    assert Settings.from_env({}).batch_switch_ms == 50
    assert Settings.from_env({"LIKVID_BATCH_SWITCH_MS": "0"}).batch_switch_ms == 0
    assert Settings.from_env({"LIKVID_BATCH_SWITCH_MS": " 20 "}).batch_switch_ms == 20
    for bad in ("-1", "0.05", "long"):
        with pytest.raises(SystemExit, match=r"LIKVID_BATCH_SWITCH_MS: must be a whole number"):
            Settings.from_env({"LIKVID_BATCH_SWITCH_MS": bad})
