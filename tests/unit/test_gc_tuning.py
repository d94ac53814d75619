"""likvid.runtime.gc_tuning: long-running processes freeze their start-up heap and collect less often."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from likvid.runtime.gc_tuning import tune
from likvid.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """Put the collector back as it was: the rest of the suite runs in this process."""
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_freezes_what_start_up_built_and_raises_the_young_threshold(collector: None) -> None:
    older = gc.get_threshold()[1:]
    tune(50_000)
    assert gc.get_threshold() == (50_000, *older)
    assert gc.get_freeze_count() > 1000  # this process's modules, at least
    # cycles are still collected, only less often
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


def test_zero_leaves_the_collector_as_python_set_it(collector: None) -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    tune(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_the_threshold_comes_from_the_environment() -> None:
    assert Settings.from_env({}).gc_threshold == 50_000
    assert Settings.from_env({"LIKVID_GC_THRESHOLD": "0"}).gc_threshold == 0
    assert Settings.from_env({"LIKVID_GC_THRESHOLD": " 2000 "}).gc_threshold == 2000
    for bad in ("-1", "lots", "1e5"):
        with pytest.raises(SystemExit, match=r"LIKVID_GC_THRESHOLD: must be a whole number"):
            Settings.from_env({"LIKVID_GC_THRESHOLD": bad})


def test_a_worker_process_runs_with_the_tuned_collector(tmp_path: Path) -> None:
    # what `dramatiq likvid.workers.main` imports in every worker process (no Redis is reached)
    env = {**os.environ, "LIKVID_HOME": str(tmp_path), "LIKVID_REDIS_URL": "redis://127.0.0.1:1",
           "LIKVID_GC_THRESHOLD": "12345"}
    out = subprocess.run([sys.executable, "-c", "import gc, likvid.workers.main; "
                          "print(gc.get_threshold()[0], gc.get_freeze_count())"],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert int(out[0]) == 12345
    assert int(out[1]) > 10_000  # SQLAlchemy's mappers, pydantic's validators, the actors
