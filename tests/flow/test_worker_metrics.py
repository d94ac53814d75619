"""Worker metrics: dramatiq's Prometheus middleware in real worker processes (`likvid up`'s
group: `python -m dramatiq likvid.workers.main --processes 2 --threads 2`), scraped over HTTP.

Every message goes through the outbox (one row per dramatiq message), so the outbox says
exactly how many messages each actor processed; the scraped counters must say the same,
summed over both worker processes. Off by default: without LIKVID_WORKER_METRICS_PORT no
process of the group listens on any port."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from likvid.cli.ops import register
from likvid.db import dispose_engines, read_session
from likvid.models import OutboxMessage
from likvid.runtime.redis_server import free_port
from likvid.runtime.service import Service, worker_argv
from likvid.service.app import bootstrap
from likvid.service.progress import advance_to, set_clock, wait_quiet
from likvid.service.publish import publish_lines
from likvid.service.records import WORKER_QUEUES
from likvid.settings import Settings
from likvid.workers import broker
from likvid.workers.broker import configure, worker_metrics_dir
from tests.support.pipeline import customer, invoice, payment

START = datetime.fromisoformat("2026-01-05T08:00:00+01:00")
LABELS = ["queue_name", "actor_name"]


@pytest.fixture
def service_env(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment `likvid up` runs in (the service passes os.environ to its children)."""
    monkeypatch.delenv("LIKVID_WORKER_METRICS_PORT", raising=False)
    env = {"LIKVID_HOME": str(tmp_path / "home"), "LIKVID_REDIS_URL": redis_url, "LIKVID_CLOCK": "simulated",
           "LIKVID_SCHEDULER_INTERVAL_MS": "100", "LIKVID_RELAY_INTERVAL_MS": "10"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    dispose_engines()
    yield env
    dispose_engines()


def _start(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **extra: str) -> Service:
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    service = Service(Settings.from_env({**os.environ, **env, **extra}), processes=2, threads=2, quiet=True)
    service.start()
    return service


Samples = dict[tuple[str, tuple[str, str], str], float]


def _scrape(url: str) -> Samples:
    """Every sample as (name, (queue, actor), le) -> value (``le``: a histogram bucket's bound)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {(s.name, (s.labels.get("queue_name", ""), s.labels.get("actor_name", "")), s.labels.get("le", "")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _processed_per_actor(settings: Settings) -> dict[tuple[str, str], int]:
    """Messages for the workers (not outbound events), per queue and actor, from the outbox."""
    with read_session(bootstrap(settings).db) as s:
        rows = s.execute(select(OutboxMessage.queue, OutboxMessage.actor, func.count())
                         .where(OutboxMessage.queue.in_(WORKER_QUEUES), OutboxMessage.processed_at.is_not(None))
                         .group_by(OutboxMessage.queue, OutboxMessage.actor)).all()
    return {(queue, actor): int(n) for queue, actor, n in rows}


def _counted(samples: Samples, name: str) -> dict[tuple[str, str], int]:
    return {labels: int(v) for (n, labels, _), v in samples.items() if n == name and v}


def _ops_group() -> click.Group:
    group = click.Group("likvid")
    register(group)
    return group


def _listening_ports(group: int) -> set[int]:
    """The TCP ports on which a process of the process group ``group`` listens (from /proc)."""
    sockets: set[str] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except (OSError, IndexError, ValueError):
            continue
        sockets |= {link[8:-1] for link in links if link.startswith("socket:[")}
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in sockets:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _wait_for_workers(home: Path, timeout: float = 300) -> None:
    """Both worker processes booted (dramatiq starts its forks right after)."""
    deadline = time.monotonic() + timeout
    log = home / "run" / "worker.log"
    while log.read_text(errors="replace").count("Worker process is ready") < 2:
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.1)
    time.sleep(1.0)


def _stale_counter(directory: Path, value: float) -> None:
    """What an earlier run leaves behind: a counter file of a process long gone."""
    directory.mkdir(parents=True, exist_ok=True)
    stale = MmapedDict(str(directory / "counter_4194000.db"))
    stale.write_value(mmap_key("dramatiq_messages", "dramatiq_messages_total", LABELS, ["ingest", "ingest_events"],
                               "The total number of messages processed."), value, 0.0)
    stale.close()


def test_worker_metrics_count_every_processed_message_per_actor(
    database_url: str, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIKVID_DATABASE_URL", database_url)
    port = free_port()
    settings = Settings.from_env({**os.environ, "LIKVID_WORKER_METRICS_PORT": str(port)})
    # Given an earlier run's counter file in the metrics directory
    directory = worker_metrics_dir(settings, port)
    _stale_counter(directory, 1000)
    assert list(directory.glob("*.db"))
    # And the service started with the worker metrics on a free loopback port
    service = _start(service_env, monkeypatch, LIKVID_WORKER_METRICS_PORT=str(port))
    try:
        url = f"http://127.0.0.1:{port}/"
        assert json.loads(settings.runtime_file.read_text())["worker_metrics_url"] == url
        app = bootstrap(settings, fresh=True)
        set_clock(app, START)
        # When customers, invoices and a payment are published and the clock passes the due date
        events = [customer("C1"), customer("C2"), invoice("I1", "C1", "300.00"), invoice("I2", "C2", "400.00"),
                  invoice("I3", "C2", "500.00"), payment("P1", "300.00", invoice_id="I1")]
        results, accepted = publish_lines(app, [json.dumps(e) for e in events], batch=2)
        assert [r["status"] for r in results] == ["accepted"] * len(events)
        wait_quiet(app, 120, accepted)
        advance_to(app, datetime.fromisoformat("2026-02-10T08:00:00+01:00"), timeout=120)
        expected = _processed_per_actor(settings)
        assert {("ingest", "ingest_events"), ("payments", "ingest_payments"), ("steps", "fire_timers"),
                ("letters", "dispatch_letters")} <= set(expected), expected
        # Then the scrape counts, per actor, exactly the messages the outbox says were processed
        # (a worker counts a message just after its transaction commits: poll briefly)
        deadline = time.monotonic() + 120
        while True:
            try:
                samples = _scrape(url)
            except OSError:
                samples = {}
            if _counted(samples, "dramatiq_messages_total") == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _counted(samples, "dramatiq_messages_total") == expected
        assert expected["ingest", "ingest_events"] >= 3  # two events a message; nothing of the stale 1,000
        # And the duration histogram has every message in its buckets
        assert _counted(samples, "dramatiq_message_duration_milliseconds_count") == expected
        for labels, n in expected.items():
            assert samples[("dramatiq_message_duration_milliseconds_bucket", labels, "+Inf")] == n
            assert samples[("dramatiq_message_duration_milliseconds_sum", labels, "")] >= 0
        # And nothing failed, nothing is left in progress
        assert _counted(samples, "dramatiq_message_errors_total") == {}
        assert _counted(samples, "dramatiq_messages_inprogress") == {}
        # And the stale file is gone; the worker processes wrote their own
        files = {p.name for p in directory.glob("counter_*.db")}
        assert files and "counter_4194000.db" not in files, files
        # And `likvid status` tells where the metrics are
        status = CliRunner().invoke(_ops_group(), ["status", "--json"], catch_exceptions=False)
        assert json.loads(status.output)["worker_metrics_url"] == url
        human = CliRunner().invoke(_ops_group(), ["status"], catch_exceptions=False).output
        assert f"worker metrics  {url}" in human, human
        # And the only port the worker group listens on is the metrics port
        worker = next(c for c in service.children if c.name == "worker")
        assert worker.proc is not None and _listening_ports(worker.proc.pid) == {port}
    finally:
        service.stop()


def test_without_the_variable_no_worker_process_listens(
    sqlite_url: str, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIKVID_DATABASE_URL", sqlite_url)
    settings = Settings.from_env()
    assert settings.worker_metrics_port is None
    service = _start(service_env, monkeypatch)
    try:
        # Given the worker group up and working
        app = bootstrap(settings, fresh=True)
        _, accepted = publish_lines(app, [json.dumps(customer("C1"))])
        wait_quiet(app, 120, accepted)
        _wait_for_workers(settings.home)
        # Then none of its processes listens anywhere, and no metrics directory exists
        worker = next(c for c in service.children if c.name == "worker")
        assert worker.proc is not None and worker.proc.poll() is None
        assert _listening_ports(worker.proc.pid) == set()
        assert not (settings.home / "run" / "worker-metrics").exists()
        assert json.loads(settings.runtime_file.read_text())["worker_metrics_url"] == ""
        status = CliRunner().invoke(_ops_group(), ["status", "--json"], catch_exceptions=False)
        assert "worker_metrics_url" not in json.loads(status.output)
    finally:
        service.stop()


@pytest.mark.parametrize("value", ["abc", "70000", "-1", "9191.5"])
def test_a_bad_metrics_port_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SystemExit, match=f"LIKVID_WORKER_METRICS_PORT: must be a TCP port number.*{value!r}"):
        Settings.from_env({"LIKVID_WORKER_METRICS_PORT": value})
    assert Settings.from_env({"LIKVID_WORKER_METRICS_PORT": " "}).worker_metrics_port is None
    assert Settings.from_env({"LIKVID_WORKER_METRICS_PORT": "0"}).worker_metrics_port == 0


def test_port_0_lets_likvid_up_choose_a_free_port_for_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_WORKER_METRICS_PORT": "0"})
    service = Service(settings)
    service._choose_metrics_port()
    port = service.worker_metrics_port
    assert port and service.worker_metrics_url == f"http://127.0.0.1:{port}/"
    assert service.env()["LIKVID_WORKER_METRICS_PORT"] == str(port)
    assert "--worker-fork-timeout" in worker_argv(2, 2, metrics=True)
    # while workers started by hand need the number: they could not tell where they serve
    monkeypatch.setattr(broker, "_BROKER", None)  # as in a fresh worker process
    with pytest.raises(SystemExit, match="LIKVID_WORKER_METRICS_PORT: 0 .* need the port number"):
        configure("redis://127.0.0.1:1/0", worker=settings)
