"""Baseline: raw dramatiq throughput on this machine (a no-op actor on Redis).

Every Likvid benchmark compares against this figure, measured in the same run::

    from bench.raw_dramatiq import measure_raw_noop
    baseline = measure_raw_noop(redis_url)

One run: enqueue N no-op messages on a fresh queue from one thread (timed: the enqueue
rate), then start real worker processes with the ``dramatiq`` CLI (``bench/noop_actor.py``)
and poll the processed count and the queue length until the queue is drained and every
message was processed. ``consumed_per_s`` counts from the first processed message (the workers
have started) to drained; ``consumed_per_s_incl_startup`` counts from launching the CLI, so
it also carries the 1-4 s of interpreter and worker start-up. Figures are medians over runs.

    uv run python bench/raw_dramatiq.py [--messages 20000] [--processes 2] [--threads 8]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

if __package__ in (None, ""):  # `python bench/raw_dramatiq.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from dramatiq.brokers.redis import RedisBroker  # noqa: E402

from bench.common import (  # noqa: E402
    ROOT,
    Stopwatch,
    machine_description,
    median,
    print_result,
    start_redis,
    stop_worker_cli,
)
from bench.noop_actor import ENV_QUEUE, ENV_URL, counter_key, declare  # noqa: E402

POLL_INTERVAL = 0.01  # seconds between checks (cheap: the workers get the CPU)


class BenchmarkError(RuntimeError):
    pass


def _tail(path: Path, lines: int = 25) -> str:
    with contextlib.suppress(OSError), path.open(errors="replace") as fh:
        return "".join(deque(fh, maxlen=lines))
    return ""


def _enqueue(redis_url: str, queue: str, messages: int) -> float:
    """Send ``messages`` no-op messages from this thread; returns the seconds it took."""
    broker = RedisBroker(url=redis_url)
    try:
        actor = declare(broker, queue)
        with Stopwatch() as sw:
            for _ in range(messages):
                actor.send()
        return sw.elapsed
    finally:
        broker.close()


def _cleanup_keys(client: redis.Redis, queue: str) -> None:
    keys = [counter_key(queue)]
    for pattern in (f"dramatiq:{queue}*", f"dramatiq:__acks__.*.{queue}*"):
        keys.extend(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)


def _one_run(redis_url: str, messages: int, processes: int, threads: int) -> dict[str, float]:
    queue = f"bench-noop-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(redis_url)
    queue_key = f"dramatiq:{queue}"
    done_key = counter_key(queue)
    workdir = Path(tempfile.mkdtemp(prefix="likvid-bench-dramatiq-"))
    log_path = workdir / "dramatiq.log"
    try:
        enqueue_s = _enqueue(redis_url, queue, messages)
        queued = client.llen(queue_key)
        if queued != messages:
            raise BenchmarkError(f"enqueued {messages} messages but the queue holds {queued}")

        env = {
            **os.environ,
            ENV_URL: redis_url,
            ENV_QUEUE: queue,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        cmd = [
            sys.executable, "-m", "dramatiq", "bench.noop_actor",
            "--processes", str(processes),
            "--threads", str(threads),
            "--queues", queue,
            "--path", str(ROOT),
            "--worker-shutdown-timeout", "5000",
        ]  # fmt: skip
        if shutil.which("setpriv"):  # workers stop if this benchmark process is killed
            cmd = ["setpriv", "--pdeathsig", "TERM", "--", *cmd]
        deadline_s = 30 + messages / 100  # even 100 msg/s would finish
        with log_path.open("wb") as log:
            started = time.perf_counter()
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            first_at: float | None = None
            first_count = 0
            while True:
                pipe = client.pipeline(transaction=False)
                pipe.get(done_key)
                pipe.llen(queue_key)
                raw_done, left = pipe.execute()
                now = time.perf_counter()
                done = int(raw_done or 0)
                if done and first_at is None:
                    first_at, first_count = now, done
                if done >= messages and left == 0:
                    drained_at = now
                    break
                if proc.poll() is not None:
                    raise BenchmarkError(
                        f"dramatiq exited with code {proc.returncode} after {done} messages:\n"
                        + _tail(log_path)
                    )
                if now - started > deadline_s:
                    raise BenchmarkError(
                        f"queue not drained after {deadline_s:.0f}s ({done}/{messages} "
                        f"processed, {left} queued):\n" + _tail(log_path)
                    )
                time.sleep(POLL_INTERVAL)
        finally:
            stopping = time.perf_counter()
            stop_worker_cli(proc)
            stop_s = time.perf_counter() - stopping

        processed = int(client.get(done_key) or 0)
        if processed != messages:
            raise BenchmarkError(f"{processed} processed for {messages} sent (duplicates?)")
        assert first_at is not None
        steady_s = drained_at - first_at
        return {
            "enqueued_per_s": messages / enqueue_s,
            "consumed_per_s": (
                (messages - first_count) / steady_s if steady_s > 0 else float("nan")
            ),
            "consumed_per_s_incl_startup": messages / (drained_at - started),
            "worker_startup_s": first_at - started,
            "enqueue_s": enqueue_s,
            "drain_s": drained_at - started,
            "stop_s": stop_s,
        }
    finally:
        with contextlib.suppress(redis.RedisError):
            _cleanup_keys(client, queue)
        client.close()
        shutil.rmtree(workdir, ignore_errors=True)


def measure_raw_noop(
    redis_url: str,
    messages: int = 20000,
    processes: int = 2,
    threads: int = 8,
    runs: int = 3,
) -> dict[str, object]:
    """Raw dramatiq no-op throughput against the Redis at ``redis_url`` (medians of ``runs``).

    Keys: ``consumed_per_s`` (steady: first processed message until drained),
    ``consumed_per_s_incl_startup`` (from launching the worker CLI until drained),
    ``enqueued_per_s`` (one thread, ``actor.send()``), ``worker_startup_s``, the per-run
    values and the parameters. Only this benchmark's keys are touched (a fresh queue per run,
    deleted afterwards), so ``redis_url`` may be a Redis the caller also uses.
    """
    results = [_one_run(redis_url, messages, processes, threads) for _ in range(runs)]

    def med(key: str) -> float:
        return round(median(r[key] for r in results), 1 if "_per_s" in key else 3)

    def per_run(key: str) -> list[float]:
        return [round(r[key], 1) for r in results]

    return {
        "consumed_per_s": med("consumed_per_s"),
        "consumed_per_s_incl_startup": med("consumed_per_s_incl_startup"),
        "enqueued_per_s": med("enqueued_per_s"),
        "worker_startup_s": med("worker_startup_s"),
        "messages": messages,
        "processes": processes,
        "threads": threads,
        "runs": runs,
        "consumed_per_s_runs": per_run("consumed_per_s"),
        "enqueued_per_s_runs": per_run("enqueued_per_s"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--redis-url", help="use this Redis instead of starting a private one")
    args = parser.parse_args(argv)

    # Killed with SIGTERM: unwind normally, so workers, Redis and temp dirs are cleaned up
    # (once: a second SIGTERM, e.g. forwarded by `uv run`, must not abort the clean-up).
    def on_sigterm(*_: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_sigterm)

    params = {k: getattr(args, k) for k in ("messages", "processes", "threads", "runs")}
    machine = machine_description()
    print(
        f"machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, dramatiq {machine['packages']['dramatiq']}"  # type: ignore[index]
    )
    if args.redis_url:
        result = measure_raw_noop(args.redis_url, **params)
    else:
        with start_redis() as server:
            result = measure_raw_noop(server.url, **params)
    print_result("raw_dramatiq_noop", {**result, "machine": machine})
    return 0


if __name__ == "__main__":
    sys.exit(main())
