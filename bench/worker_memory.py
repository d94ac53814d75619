"""Memory: resident size of a Likvid worker process at rest and after 100,000 events.

The issue's target: **at most 150 MB** resident (``VmRSS`` from ``/proc/<pid>/status``) per
worker process, at rest and after 100,000 events.

One run of the script, on a fresh PostgreSQL database and a private non-persistent Redis:

1. **Baseline, same run:** one raw ``dramatiq`` worker process (``bench/noop_actor.py``, the
   raw baseline's no-op actor; 1 process x ``--threads``): RSS at rest (booted, idle) and after
   the same number of no-op messages.
2. **Likvid:** ``dramatiq likvid.workers.main --processes 1 --threads N`` (the real worker
   CLI, one worker process), the outbox relay as a thread of this script, simulated clock.
   RSS of the worker process at rest (booted, schema at head, idle for 2 s), then events
   published with ``likvid publish`` semantics (batches of 100 per ingest message) in chunks
   of ``--chunk``, each chunk waited for, sampling RSS after each: per group of 5 events,
   1 ``customer-registered``, 3 ``invoice-issued``, 1 ``payment-received`` paying one of those
   invoices in full (which settles the claim and cancels its pending steps). RSS after all
   events, after 2 s at rest again, and the process's peak (``VmHWM``).
   Verified: every event applied, no rejections, no dead letters.

Reported: each figure in MiB, the ratio to the no-op worker, PASS/FAIL (the larger of the two
Likvid figures against 150 MB = 143.1 MiB), one JSON line.

    uv run python bench/worker_memory.py [--events 100000] [--threads 4] [--chunk 5000]
                                         [--postgres-url URL] [--quick] [--timeout 3600]

``--quick``: 5,000 events. At today's ingest rate (about 100-200 events/s on 2 shared cores)
100,000 events take 10-20 minutes. The memory figures come from one run (the process is the
measurement); run it again to see the spread.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/worker_memory.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    log,
    machine_description,
    postgres,
    start_redis,
    status_kib,
    stop_worker_cli,
)

TARGET_MB = 150.0  # megabytes (10^6 bytes)
START = "2026-01-05T08:00:00+01:00"


def mib(kib: int) -> float:
    return kib / 1024


def worker_pids(parent: int) -> list[int]:
    """The worker processes the dramatiq CLI forked (its children that are not fork processes)."""
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{parent}/task").iterdir():
            kids += [int(p) for p in (task / "children").read_text().split()]
    return sorted(kids)


def wait_one_worker(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dramatiq exited with code {proc.returncode}")
        kids = worker_pids(proc.pid)
        if kids:
            return kids[0]
        time.sleep(0.1)
    raise SystemExit("no worker process appeared")


def _launch(args: list[str], env: dict[str, str], logfile: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dramatiq", *args]
    if shutil.which("setpriv"):  # the workers stop if this script is killed
        cmd = ["setpriv", "--pdeathsig", "TERM", "--", *cmd]
    with logfile.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def baseline(redis_url: str, messages: int, threads: int, workdir: Path) -> dict[str, float]:
    """RSS of one raw dramatiq no-op worker process at rest and after ``messages`` messages."""
    import redis
    from dramatiq.brokers.redis import RedisBroker

    from bench.noop_actor import ENV_QUEUE, ENV_URL, counter_key, declare

    queue = f"mem-noop-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, ENV_URL: redis_url, ENV_QUEUE: queue,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = _launch(["bench.noop_actor", "--processes", "1", "--threads", str(threads), "--queues", queue,
                    "--path", str(ROOT)], env, workdir / "noop.log")
    client = redis.Redis.from_url(redis_url)
    try:
        pid = wait_one_worker(proc)
        time.sleep(3)  # booted and idle
        rest = status_kib(pid, "VmRSS")
        broker = RedisBroker(url=redis_url)
        actor = declare(broker, queue)
        for _ in range(messages):
            actor.send()
        broker.close()
        deadline = time.monotonic() + 60 + messages / 200
        while int(client.get(counter_key(queue)) or 0) < messages:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the no-op worker did not finish its messages")
            time.sleep(0.05)
        after = status_kib(pid, "VmRSS")
        return {"rest_mib": mib(rest), "after_mib": mib(after), "peak_mib": mib(status_kib(pid, "VmHWM"))}
    finally:
        stop_worker_cli(proc, 30)
        client.close()


def events(n: int) -> list[list[str]]:
    """``n`` events in groups of 5 (customer, 3 invoices, a payment of the first invoice)."""
    from bench.pipeline_burst import _pnr

    out: list[str] = []
    g = 0
    while len(out) < n:
        cid = f"C{g:06d}"
        group: list[dict[str, Any]] = [{
            "id": f"m-cust-{g}", "type": "customer-registered", "version": 1, "occurred_at": START,
            "source": "bench", "data": {
                "customer_id": cid, "party_type": "person", "identity_number": _pnr(g % 900_000),
                "name": f"Kund {g}", "language": "sv",
                "address": {"street": f"Storgatan {g % 200 + 1}", "postal_code": "123 45", "city": "Exempelby"}}}]
        for k in range(3):
            group.append({
                "id": f"m-inv-{g}-{k}", "type": "invoice-issued", "version": 1, "occurred_at": START,
                "source": "bench", "data": {
                    "invoice_id": f"I{g:06d}{k}", "creditor_id": "kommun", "customer_id": cid,
                    "invoice_number": f"26{g:07d}{k}", "issue_date": "2026-01-05", "due_date": "2026-01-30",
                    "amount": f"{300 + (g * 3 + k) % 700}.00", "claim_kind": "water"}})
        group.append({
            "id": f"m-pay-{g}", "type": "payment-received", "version": 1, "occurred_at": START,
            "source": "bench", "data": {"payment_id": f"P{g:07d}", "invoice_id": f"I{g:06d}0",
                                        "amount": f"{300 + (g * 3) % 700}.00", "paid_on": "2026-01-06"}})
        out += [json.dumps(e) for e in group]
        g += 1
    return [out[:n]]


def likvid_worker(pg: Any, redis_url: str, n_events: int, threads: int, chunk: int, timeout: float,
                  workdir: Path) -> dict[str, Any]:
    from sqlalchemy import text

    from likvid.db import dispose_engines, read_session
    from likvid.service.app import bootstrap, prepare
    from likvid.service.progress import set_clock, wait_quiet
    from likvid.service.publish import publish_lines
    from likvid.settings import Settings
    from likvid.workers.broker import configure
    from likvid.workers.relay import Relay

    name, db_url = pg.create_database()
    env = {**os.environ, "LIKVID_HOME": str(workdir / "home"), "LIKVID_DATABASE_URL": db_url,
           "LIKVID_REDIS_URL": redis_url, "LIKVID_CLOCK": "simulated", "LIKVID_RELAY_INTERVAL_MS": "10"}
    env.pop("LIKVID_POLICY", None)
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("LIKVID_")})
    stop_loops = threading.Event()
    proc: subprocess.Popen[bytes] | None = None
    relay_thread: threading.Thread | None = None
    try:
        dispose_engines()
        app = bootstrap(Settings.from_env(env), fresh=True)
        prepare(app)
        set_clock(app, datetime.fromisoformat(START))
        broker = configure(redis_url)
        relay_thread = threading.Thread(target=Relay(app, broker, redis_url).run, args=(stop_loops,), daemon=True)
        relay_thread.start()
        proc = _launch(["likvid.workers.main", "--processes", "1", "--threads", str(threads)], env,
                       workdir / "likvid-worker.log")
        pid = wait_one_worker(proc)
        # At rest: booted (one tiny event proves the actors run), then idle.
        _, ids = publish_lines(app, events(1)[0])
        wait_quiet(app, 120, ids)
        time.sleep(2)
        rest = status_kib(pid, "VmRSS")
        log(f"  likvid worker pid {pid} at rest: {mib(rest):.1f} MiB")
        lines = events(n_events + 1)[0][1:]
        samples: list[tuple[int, float]] = []
        t0 = time.perf_counter()
        for i in range(0, len(lines), chunk):
            _, ids = publish_lines(app, lines[i : i + chunk])
            wait_quiet(app, timeout, ids)
            if proc.poll() is not None:
                raise SystemExit("the Likvid worker process died")
            samples.append((i + len(ids), round(mib(status_kib(pid, "VmRSS")), 1)))
            log(f"  {samples[-1][0]:,} events: {samples[-1][1]:.1f} MiB "
                f"({samples[-1][0] / (time.perf_counter() - t0):.0f} events/s)")
        elapsed = time.perf_counter() - t0
        after = status_kib(pid, "VmRSS")
        time.sleep(2)
        after_rest = status_kib(pid, "VmRSS")
        peak = status_kib(pid, "VmHWM")
        if worker_pids(proc.pid) != [pid]:
            raise SystemExit(f"the worker process changed: {worker_pids(proc.pid)} (was {pid})")
        with read_session(app.db) as s:
            q = lambda sql: s.execute(text(sql)).scalar()  # noqa: E731
            check = {
                "events": q("SELECT count(*) FROM events"),
                "not_applied": q("SELECT count(*) FROM events WHERE status <> 'applied'"),
                "rejected": q("SELECT count(*) FROM rejected_events"),
                "dead_letters": q("SELECT count(*) FROM dead_letters"),
                "claims": q("SELECT count(*) FROM claims"),
            }
        if check["events"] != n_events + 1 or check["not_applied"] or check["rejected"] or check["dead_letters"]:
            raise SystemExit(f"verification FAILED: {check}")
        return {"rest_mib": mib(rest), "after_mib": mib(after), "after_rest_mib": mib(after_rest),
                "peak_mib": mib(peak), "events": n_events, "elapsed_s": elapsed,
                "events_per_s": n_events / elapsed, "samples": samples, "check": check}
    finally:
        stop_loops.set()
        if relay_thread is not None:
            relay_thread.join(10)
        if proc is not None:
            stop_worker_cli(proc, 30)
        dispose_engines()
        os.environ.clear()
        os.environ.update(saved)
        with contextlib.suppress(Exception):
            pg.drop_database(name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=None, help="events through the worker (default 100000)")
    ap.add_argument("--threads", type=int, default=4, help="worker threads (default %(default)s, as `likvid up`)")
    ap.add_argument("--chunk", type=int, default=5000, help="events published per chunk (default %(default)s)")
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument("--quick", action="store_true", help="5,000 events")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds one chunk may take")
    args = ap.parse_args(argv)
    n = args.events or (5_000 if args.quick else 100_000)

    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="likvid-bench-mem-"))
    os.chmod(workdir, 0o755)
    pg = postgres(args.postgres_url)
    try:
        with start_redis() as server:
            log(f"baseline: raw dramatiq no-op worker, 1 x {args.threads} threads, {n:,} messages ...")
            base = baseline(server.url, n, args.threads, workdir)
            log(f"  at rest {base['rest_mib']:.1f} MiB, after {base['after_mib']:.1f} MiB")
            server_client_flush(server.url)
            log(f"likvid worker: 1 x {args.threads} threads, {n:,} events ...")
            run = likvid_worker(pg, server.url, n, args.threads, args.chunk, args.timeout, workdir)
    finally:
        pg.close()
        shutil.rmtree(workdir, ignore_errors=True)

    limit_mib = TARGET_MB * 1e6 / 2**20
    worst = max(run["rest_mib"], run["after_mib"], run["after_rest_mib"])
    ok = worst <= limit_mib
    print()
    print(f"Worker memory (VmRSS of one worker process), {n:,} events / no-op messages")
    print(f"{'':28} {'at rest MiB':>12} {'after MiB':>10} {'peak MiB':>9}")
    print(f"{'raw dramatiq no-op worker':28} {base['rest_mib']:>12.1f} {base['after_mib']:>10.1f} {base['peak_mib']:>9.1f}")
    print(f"{'likvid worker':28} {run['rest_mib']:>12.1f} {run['after_mib']:>10.1f} {run['peak_mib']:>9.1f}")
    print(f"ratio likvid/no-op: at rest {run['rest_mib'] / base['rest_mib']:.2f}, after {run['after_mib'] / base['after_mib']:.2f}")
    print(f"likvid worker after {n:,} events and 2 s idle: {run['after_rest_mib']:.1f} MiB; "
          f"{run['events_per_s']:.0f} events/s; samples (events, MiB): {run['samples']}")
    print(f"largest {worst:.1f} MiB = {worst * 2**20 / 1e6:.1f} MB   target <= {TARGET_MB:.0f} MB   {'PASS' if ok else 'FAIL'}")
    print(json.dumps({
        "benchmark": "worker_memory", "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "events": n, "threads": args.threads, "target_mb": TARGET_MB, "pass": ok,
        "baseline_noop": {k: round(v, 1) for k, v in base.items()},
        "likvid": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in run.items()},
        "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_description(),
    }, default=str))
    return 0 if ok else 1


def server_client_flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
