"""A real PostgreSQL server for the tests, and throwaway databases on it.

Two sources, in this order:

1. ``$LIKVID_TEST_POSTGRES_URL`` (any SQLAlchemy/libpq URL of a role that may create
   databases, e.g. ``postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres``):
   ``.ci/run`` sets it after starting the machine's cluster.
2. Otherwise a throwaway cluster: ``initdb`` + ``pg_ctl`` from the newest
   ``/usr/lib/postgresql/*/bin`` into a temporary directory, tuned for speed (fsync off),
   trust authentication, listening on 127.0.0.1 and a free port. PostgreSQL refuses to run as
   root, so as root the directory belongs to ``postgres`` and the commands run through
   ``runuser -u postgres --``. It is stopped and deleted by :meth:`ThrowawayCluster.stop`.

Each test then gets its own database (:meth:`PostgresServer.create_database`), dropped
``WITH (FORCE)`` afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from likvid.runtime.redis_server import free_port

ENV_URL = "LIKVID_TEST_POSTGRES_URL"
DRIVER = "postgresql+psycopg"
SUPERUSER = "postgres"

SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=200"
)


PREFIX = "likvid-pg-"  # throwaway cluster directories: <tmp>/likvid-pg-XXXX
OWNER_FILE = "owner.pid"  # pid of the test process that owns the cluster


def _shared_tmp() -> str:
    """A temp dir the postgres user can reach (pytest's own tmp dirs are private)."""
    return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be used; the message says why."""


@dataclass
class PostgresServer:
    """A reachable PostgreSQL server and a role allowed to create databases."""

    admin_url: URL  # SQLAlchemy URL of the maintenance database (usually ``postgres``)
    cluster: ThrowawayCluster | None = field(default=None, repr=False)
    _template1_is_utf8: bool | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of the maintenance database."""
        return self.url_for(self.admin_url.database or "postgres")

    def url_for(self, database: str) -> str:
        return self.admin_url.set(drivername=DRIVER, database=database).render_as_string(
            hide_password=False
        )

    def connect_admin(self) -> psycopg.Connection:
        """An autocommit psycopg connection to the maintenance database."""
        return psycopg.connect(**_psycopg_kwargs(self.admin_url), autocommit=True)

    def create_database(self, name: str | None = None) -> tuple[str, str]:
        """Create an empty UTF-8 database; returns ``(name, sqlalchemy_url)``."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with self.connect_admin() as conn:
            if self._template1_is_utf8 is None:
                encoding = conn.execute(
                    "SELECT pg_encoding_to_char(encoding) FROM pg_database"
                    " WHERE datname = 'template1'"
                ).fetchone()
                self._template1_is_utf8 = bool(encoding and encoding[0] == "UTF8")
            if self._template1_is_utf8:
                statement = sql.SQL("CREATE DATABASE {}")
            else:
                # A cluster created without a UTF-8 locale (SQL_ASCII): force UTF-8, or text
                # such as "påminnelse" would not round-trip.
                statement = sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
                )
            conn.execute(statement.format(sql.Identifier(name)))
        return name, self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected (PostgreSQL >= 13)."""
        with self.connect_admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def _psycopg_kwargs(url: URL) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "dbname": url.database or "postgres",
        "connect_timeout": 5,
    }
    if url.username:
        kwargs["user"] = url.username
    if url.password is not None:
        kwargs["password"] = url.password
    return kwargs


def _check_connects(server: PostgresServer) -> None:
    with server.connect_admin() as conn:
        conn.execute("SELECT 1")


def server_from_env() -> PostgresServer | None:
    """The server named by ``$LIKVID_TEST_POSTGRES_URL``, or None when it is unset."""
    raw = os.environ.get(ENV_URL, "").strip()
    if not raw:
        return None
    try:
        url = make_url(raw)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError
        raise PostgresUnavailable(f"${ENV_URL} is not a database URL: {exc}") from exc
    if not url.drivername.startswith("postgresql"):
        raise PostgresUnavailable(f"${ENV_URL} is not a PostgreSQL URL: {raw!r}")
    server = PostgresServer(admin_url=url)
    try:
        _check_connects(server)
    except psycopg.Error as exc:
        raise PostgresUnavailable(
            f"cannot connect to ${ENV_URL} ({url.render_as_string(hide_password=True)}): {exc}"
        ) from exc
    return server


def find_pg_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and pg_ctl (else PATH)."""

    def major(path: str) -> tuple[int, ...]:
        version = Path(path).parent.name
        return tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)

    candidates = [
        d
        for d in glob("/usr/lib/postgresql/*/bin")
        if os.access(os.path.join(d, "initdb"), os.X_OK)
        and os.access(os.path.join(d, "pg_ctl"), os.X_OK)
    ]
    if candidates:
        return Path(max(candidates, key=major))
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    raise PostgresUnavailable(
        "no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH; "
        f"install postgresql or set ${ENV_URL}"
    )


class ThrowawayCluster:
    """A private PostgreSQL cluster in a temporary directory (see the module docstring)."""

    def __init__(self, bindir: Path | None = None, options: str = "") -> None:
        """``options``: more server options (``-c name=value ...``) after ``SERVER_OPTIONS``."""
        self.bindir = bindir or find_pg_bindir()
        self.options = options
        self.as_root = os.geteuid() == 0
        self.base: Path | None = None
        self.port: int | None = None
        self.running = False

    # Paths inside the temporary directory.
    @property
    def datadir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def sockdir(self) -> Path:
        assert self.base is not None
        return self.base / "sock"

    @property
    def logfile(self) -> Path:
        assert self.base is not None
        return self.base / "postgres.log"

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            cmd = [runuser, "-u", SUPERUSER, "--", *cmd]
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        env.pop("PGDATA", None)
        result = subprocess.run(
            cmd,
            cwd=self.base,  # the postgres user may not be able to read our cwd
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            log = ""
            if self.base is not None and self.logfile.exists():
                with contextlib.suppress(OSError):
                    log = "\n".join(self.logfile.read_text(errors="replace").splitlines()[-20:])
            raise PostgresUnavailable(
                f"{' '.join(cmd)} failed with code {result.returncode}:\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
                + (f"\n--- tail of {self.logfile} ---\n{log}" if log else "")
            )
        return result

    def start(self) -> PostgresServer:
        self.reap_stale()
        if self.as_root:
            try:
                owner = pwd.getpwnam(SUPERUSER)
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user to run PostgreSQL as"
                ) from exc
            # Somewhere the postgres user can reach (pytest's tmp dirs are root-only).
            self.base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_shared_tmp()))
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        else:
            self.base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_shared_tmp()))
        try:
            self._makedirs()
            self._run(
                [
                    "initdb",
                    "-D", str(self.datadir),
                    "-U", SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )  # fmt: skip
            last: PostgresUnavailable | None = None
            for _ in range(3):  # the free port may be taken before postgres binds it
                self.port = free_port()
                try:
                    self._run(
                        [
                            "pg_ctl",
                            "-D", str(self.datadir),
                            "-l", str(self.logfile),
                            "-w", "-t", "60",
                            "-o", f"-p {self.port} -k {self.sockdir} {SERVER_OPTIONS} {self.options}".rstrip(),
                            "start",
                        ]
                    )  # fmt: skip
                    self.running = True
                    break
                except PostgresUnavailable as exc:
                    last = exc
                    if "already in use" not in str(exc):
                        raise
            if not self.running:
                assert last is not None
                raise last
            server = PostgresServer(
                admin_url=URL.create(
                    DRIVER,
                    username=SUPERUSER,
                    host="127.0.0.1",
                    port=self.port,
                    database="postgres",
                ),
                cluster=self,
            )
            deadline = time.monotonic() + 30
            while True:
                try:
                    _check_connects(server)
                    return server
                except psycopg.OperationalError as exc:
                    if time.monotonic() > deadline:
                        raise PostgresUnavailable(
                            f"throwaway PostgreSQL does not accept connections: {exc}"
                        ) from exc
                    time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def reap_stale(self) -> None:
        """Stop and delete throwaway clusters whose test process died without cleaning up."""
        for owner_file in glob(os.path.join(_shared_tmp(), f"{PREFIX}*", OWNER_FILE)):
            base = Path(owner_file).parent
            try:
                owner_pid = int(Path(owner_file).read_text().strip())
            except (OSError, ValueError):
                continue
            if _pid_alive(owner_pid):
                continue
            postmaster = base / "data" / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                # First line of postmaster.pid is the server's pid. Signal it only if that pid
                # still is a postgres serving this directory; SIGQUIT = immediate shutdown.
                pid = int(postmaster.read_text().split()[0])
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if str(base / "data").encode() in cmdline and b"postgres" in cmdline:
                    os.kill(pid, signal.SIGQUIT)
                    for _ in range(50):
                        if not _pid_alive(pid):
                            break
                        time.sleep(0.1)
            shutil.rmtree(base, ignore_errors=True)

    def _makedirs(self) -> None:
        assert self.base is not None
        (self.base / OWNER_FILE).write_text(f"{os.getpid()}\n")
        self.sockdir.mkdir()
        if self.as_root:
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.sockdir, owner.pw_uid, owner.pw_gid)

    def stop(self) -> None:
        """Stop the cluster (immediate mode: it is thrown away) and delete its directory."""
        if self.running:
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(["pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"])
            self.running = False
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None


def start_postgres(options: str = "") -> PostgresServer:
    """``$LIKVID_TEST_POSTGRES_URL`` if set, else a new throwaway cluster (started with the
    extra server ``options``, if any).

    Raises :class:`PostgresUnavailable` (with the reason) when neither works. The caller
    must call ``.close()`` on the result (a no-op for an external server).
    """
    external = server_from_env()
    if external is not None:
        return external
    return ThrowawayCluster(options=options).start()
