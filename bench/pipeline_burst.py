"""Burst benchmark: `invoice-issued` events through to rendered reminder letters, next to raw
dramatiq no-op throughput measured in the same run (the issue's "Must hold": at least 0.3 of
the raw figure).

    uv run python bench/pipeline_burst.py [--invoices 500] [--customers N] [--runs 3]
                                          [--postgres-url URL] [--threads 4]

One run of the script does, for each of ``--runs`` rounds (interleaved, so drifting noise on a
shared machine hits both figures alike):

1. Raw baseline: N no-op messages through real ``dramatiq`` worker processes (2 processes x 8
   threads) on a fresh Redis; messages consumed per second. `bench/raw_dramatiq.py`
   (``measure_raw_noop``) is used when present, else the equivalent built in below.
2. Pipeline: a fresh PostgreSQL database and a fresh non-persistent Redis, the whole service
   (`likvid.runtime.service.Service`: dramatiq workers, scheduler, relay as child processes),
   simulated clock at 2026-01-05. Customers are registered (not timed), then TIMED: publish N
   ``invoice-issued`` events (due 2026-01-30) with `likvid publish` semantics (validated, queued
   through the outbox in batches of 100) and wait until they are ingested, then walk the clock
   to 2026-02-10T08:00 with ``--wait`` semantics: the invoice-due steps (2026-01-30) and the
   reminder steps (2026-02-09) fire and every reminder letter is rendered to files. Afterwards
   SQL checks that every claim is at stage ``reminded`` and counts the letters and files; a
   shortfall stops the benchmark with an error. events/s = N / elapsed.

It prints a table and, last, one JSON line (medians, ratio, target, verdict, every run's
figures, the machine, package versions). PostgreSQL: ``--postgres-url`` /
``$LIKVID_BENCH_POSTGRES_URL`` (a role that may create databases), else a throwaway cluster
(`tests.support.postgres.start_postgres`). Everything it starts is stopped in ``finally``.
"""

from __future__ import annotations

import os

# --- The no-op worker module (fallback baseline) ----------------------------------------------
# `python -m dramatiq pipeline_burst --path bench` imports this file in the worker processes;
# with the variable below set, it declares a broker and one no-op actor and nothing else.
NOOP_ENV = "LIKVID_BENCH_NOOP_REDIS_URL"
NOOP_QUEUE = "bench-noop"
NOOP_ACTOR = "bench_noop"

if os.environ.get(NOOP_ENV) and __name__ != "__main__":
    import dramatiq as _dramatiq
    from dramatiq.brokers.redis import RedisBroker as _RedisBroker

    _dramatiq.set_broker(_RedisBroker(url=os.environ[NOOP_ENV]))

    @_dramatiq.actor(actor_name=NOOP_ACTOR, queue_name=NOOP_QUEUE, max_retries=0)
    def bench_noop(*args: object) -> None:
        """Does nothing: the baseline measures the broker and worker machinery alone."""


# --- The benchmark ------------------------------------------------------------------------------
import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
if __package__ in (None, ""):  # `python bench/pipeline_burst.py`, or dramatiq's `--path bench`
    sys.path.insert(0, str(BENCH_DIR.parent))

from bench.common import (  # noqa: E402
    ENV_POSTGRES,
    CpuMeter,
    bench_workdir,
    log,
    machine,
    open_postgres,
    service_environment,
    versions,
)
from likvid.runtime.redis_server import RedisServer  # noqa: E402

TARGET_RATIO = 0.3
#: Default burst. 5000 is the better instrument near the target (fixed latencies of about a
#: second, the clock stops and the --wait polling, weigh less), but at today's ~20 events/s a
#: 5000 burst takes ~5 minutes per run; 500 keeps a default run (3 rounds) near 3 minutes.
DEFAULT_INVOICES = 500
RAW_MESSAGES = 20000
RAW_PROCESSES, RAW_THREADS = 2, 8
START = "2026-01-05T08:00:00+01:00"
DUE = "2026-01-30"
UNTIL = "2026-02-10T08:00:00+01:00"


# --- Events -------------------------------------------------------------------------------------


def _pnr(i: int) -> str:
    """A valid personnummer (Luhn-checked, a real date in the past), distinct per i < 900 000."""
    from likvid.rules.ocr import luhn_check_digit

    born = date(1940, 1, 1) + timedelta(days=i // 900)
    base = f"{born:%y%m%d}{100 + i % 900:03d}"
    return f"{base[:6]}-{base[6:]}{luhn_check_digit(base)}"


def customer_events(customers: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"bench-cust-{c}",
            "type": "customer-registered",
            "version": 1,
            "occurred_at": START,
            "source": "bench",
            "data": {
                "customer_id": f"C{c:06d}",
                "party_type": "person",
                "identity_number": _pnr(c),
                "name": f"Kund {c}",
                "address": {
                    "street": f"Storgatan {c % 200 + 1}",
                    "postal_code": "123 45",
                    "city": "Exempelby",
                },
                "language": "sv",
            },
        }
        for c in range(customers)
    ]


def invoice_events(invoices: int, customers: int) -> list[dict[str, Any]]:
    """Invoice i belongs to customer i * customers // invoices: each customer's invoices are
    adjacent, as a billing run per customer publishes them."""
    kinds = ("water", "waste", "childcare", "rent", "other")
    return [
        {
            "id": f"bench-inv-{i}",
            "type": "invoice-issued",
            "version": 1,
            "occurred_at": START,
            "source": "bench",
            "data": {
                "invoice_id": f"INV{i:07d}",
                "creditor_id": "kommun",
                "customer_id": f"C{i * customers // invoices:06d}",
                "invoice_number": f"2026{i:07d}",
                "issue_date": "2026-01-05",
                "due_date": DUE,
                "amount": f"{300 + i % 700}.00",
                "claim_kind": kinds[i % len(kinds)],
            },
        }
        for i in range(invoices)
    ]


# --- Raw dramatiq baseline ------------------------------------------------------------------------


def _kill_group(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def own_raw_noop(
    redis_url: str, messages: int, processes: int, threads: int, workdir: Path, timeout: float = 300
) -> float:
    """Messages/s: ``messages`` no-op messages enqueued (one ``broker.enqueue`` each, as the
    likvid relay does) while ``processes`` x ``threads`` dramatiq workers consume them; the
    clock runs from the first enqueue until the last message is acknowledged. The workers are
    started and warmed up (a first small batch drained) before the clock starts."""
    import dramatiq
    import redis as redis_lib
    from dramatiq.brokers.redis import RedisBroker

    client = redis_lib.Redis.from_url(redis_url)
    broker = RedisBroker(url=redis_url)
    broker.declare_queue(NOOP_QUEUE)
    msgs_key = f"dramatiq:{NOOP_QUEUE}.msgs"

    def message() -> dramatiq.Message[Any]:
        return dramatiq.Message(
            queue_name=NOOP_QUEUE, actor_name=NOOP_ACTOR, args=(), kwargs={}, options={}
        )

    def drained(deadline: float) -> None:
        while client.hlen(msgs_key) or client.llen(f"dramatiq:{NOOP_QUEUE}"):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"raw baseline: {client.hlen(msgs_key)} messages left after {timeout:.0f} s "
                    f"(see {workdir / 'noop-worker.log'})"
                )
            if proc.poll() is not None:
                raise RuntimeError(
                    f"raw baseline workers exited with {proc.returncode}: see {workdir / 'noop-worker.log'}"
                )
            time.sleep(0.005)

    env = {**os.environ, NOOP_ENV: redis_url}
    out = open(workdir / "noop-worker.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "pipeline_burst",
            "--path",
            str(BENCH_DIR),
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(processes * threads * 4):
            broker.enqueue(message())
        drained(time.monotonic() + 60)
        time.sleep(0.5)
        started = time.perf_counter()
        for _ in range(messages):
            broker.enqueue(message())
        drained(time.monotonic() + timeout)
        elapsed = time.perf_counter() - started
    finally:
        _kill_group(proc)
        out.close()
        client.close()
        broker.close()
    return messages / elapsed


def _raw_rate(result: Any) -> float:
    """The messages/s figure of ``bench.raw_dramatiq.measure_raw_noop``: ``consumed_per_s``."""
    if isinstance(result, dict) and isinstance(result.get("consumed_per_s"), int | float):
        return float(result["consumed_per_s"])
    raise ValueError(f"no consumed_per_s in {result!r}")


def _shared_baseline() -> Any:
    """``bench.raw_dramatiq.measure_raw_noop`` if that module is there and imports, else None."""
    if not (BENCH_DIR / "raw_dramatiq.py").exists():
        return None
    try:
        from bench.raw_dramatiq import measure_raw_noop
    except Exception as exc:  # a half-written file must not stop the benchmark
        log(f"bench/raw_dramatiq.py does not import ({exc!r}); using the built-in baseline")
        return None
    return measure_raw_noop


def raw_noop(messages: int, workdir: Path, use: str) -> tuple[float, str, Any]:
    """One raw baseline measurement on a fresh Redis: (msgs/s, which implementation, raw result)."""
    shared = _shared_baseline() if use != "own" else None
    if use == "shared" and shared is None:
        raise SystemExit(
            "--baseline shared: bench/raw_dramatiq.py (measure_raw_noop) is not usable"
        )
    redis_dir = Path(tempfile.mkdtemp(prefix="redis-", dir=workdir))
    server = RedisServer(redis_dir, persistent=False, die_with_parent=True).start()
    try:
        if shared is not None:
            result = shared(
                server.url, messages=messages, processes=RAW_PROCESSES, threads=RAW_THREADS, runs=1
            )
            return _raw_rate(result), "bench/raw_dramatiq.py consumed_per_s", result
        rate = own_raw_noop(server.url, messages, RAW_PROCESSES, RAW_THREADS, redis_dir)
        return rate, "bench/pipeline_burst.py own_raw_noop", rate
    finally:
        server.stop()
        shutil.rmtree(redis_dir, ignore_errors=True)


# --- Pipeline run ------------------------------------------------------------------------------


def pipeline_run(
    pg: Any,
    invoices: int,
    customers: int,
    processes: int,
    threads: int,
    workdir: Path,
    timeout: float,
) -> dict[str, Any]:
    from sqlalchemy import text

    from likvid.clock import SystemClock, to_db
    from likvid.db import read_session
    from likvid.runtime.service import Service
    from likvid.service.app import bootstrap
    from likvid.service.progress import advance_to, set_clock, wait_quiet
    from likvid.service.publish import publish_lines

    overhead: dict[str, float] = {}
    with service_environment(pg, workdir) as round_env:
        settings = round_env.settings
        mark = round_env.started
        service: Service | None = None
        try:
            service = Service(settings, processes=processes, threads=threads, quiet=True)
            service.start()
            threading.Thread(target=service.supervise, daemon=True, name="supervise").start()
            app = bootstrap(settings, fresh=True)
            set_clock(app, datetime.fromisoformat(START))
            overhead["start_s"] = time.perf_counter() - mark

            # Not timed: the customers exist before the burst.
            t = time.perf_counter()
            _, ids = publish_lines(app, [json.dumps(e) for e in customer_events(customers)])
            wait_quiet(app, timeout, ids)
            setup_s = time.perf_counter() - t
            lines = [json.dumps(e) for e in invoice_events(invoices, customers)]

            # Timed: the burst, through to rendered reminders.
            wall0 = to_db(SystemClock().now())
            meter = CpuMeter(service).start()
            t0 = time.perf_counter()
            results, accepted = publish_lines(app, lines)
            t1 = time.perf_counter()
            wait_quiet(app, timeout, accepted)
            t2 = time.perf_counter()
            stops = advance_to(app, datetime.fromisoformat(UNTIL), wait=True, timeout=timeout)
            t3 = time.perf_counter()
            elapsed = t3 - t0
            cpu = meter.stop()

            # Verify.
            bad = [r for r in results if r["status"] != "accepted"]
            if bad:
                raise SystemExit(f"{len(bad)} invoice events not accepted, e.g. {bad[:3]}")
            with read_session(app.db) as s:
                q = lambda sql: s.execute(text(sql)).scalar()  # noqa: E731
                check: dict[str, int] = {
                    "claims": q("SELECT count(*) FROM claims"),  # (ints: count() is bigint)
                    "claims_reminded": q("SELECT count(*) FROM claims WHERE stage = 'reminded'"),
                    "reminder_letters": q(
                        "SELECT count(*) FROM letters WHERE kind = 'reminder' AND status = 'sent'"
                    ),
                    "letters_not_sent": q("SELECT count(*) FROM letters WHERE status <> 'sent'"),
                    "claims_in_reminders": q(
                        "SELECT count(*) FROM letter_claims WHERE kind = 'reminder' AND status = 'included'"
                    ),
                    "customers_with_claims": q("SELECT count(DISTINCT customer_id) FROM claims"),
                    "dead_letters": q("SELECT count(*) FROM dead_letters"),
                    "rejected_events": q("SELECT count(*) FROM rejected_events"),
                    "outbox_rows": q("SELECT count(*) FROM outbox"),
                    "republished": q("SELECT count(*) FROM outbox WHERE publish_count > 1"),
                }
                # Wall-clock phases from the outbox (created/processed are real time): where it went.
                phases = {
                    row[0]: {
                        "messages": row[1],
                        "span_s": round(float(row[2] or 0), 2),
                        "mean_latency_s": round(float(row[3] or 0), 3),
                    }
                    for row in s.execute(
                        text(
                            "SELECT actor, count(*), EXTRACT(EPOCH FROM max(processed_at) - min(created_at)),"
                            " EXTRACT(EPOCH FROM avg(processed_at - created_at)) FROM outbox"
                            " WHERE created_at >= :t0 AND actor <> 'outbound' GROUP BY actor"
                        ),
                        {"t0": wall0},
                    )
                }
            files = [
                p for p in settings.letters_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
            ]
            check["letter_files"] = len(files)
            problems = []
            if check["claims"] != invoices or check["claims_reminded"] != invoices:
                problems.append(
                    f"{check['claims_reminded']} of {invoices} claims at stage 'reminded' ({check['claims']} claims)"
                )
            if check["claims_in_reminders"] != invoices:
                problems.append(
                    f"{check['claims_in_reminders']} of {invoices} claims in a sent reminder"
                )
            if check["reminder_letters"] != check["customers_with_claims"]:
                problems.append(
                    f"{check['reminder_letters']} reminder letters for {check['customers_with_claims']} customers"
                )
            if check["letter_files"] != 3 * check["reminder_letters"]:
                problems.append(
                    f"{check['letter_files']} letter files for {check['reminder_letters']} letters (expected .txt, .html and .pdf each)"
                )
            if check["dead_letters"] or check["rejected_events"] or check["letters_not_sent"]:
                problems.append(
                    f"dead letters {check['dead_letters']}, rejected events {check['rejected_events']}, "
                    f"letters not sent {check['letters_not_sent']}"
                )
            restarts = {c.name: c.restarts for c in service.children if c.restarts}
            if restarts:
                problems.append(f"service children restarted: {restarts}")
            if problems:
                raise SystemExit(
                    "pipeline run FAILED verification: "
                    + "; ".join(problems)
                    + f" (logs under {settings.home / 'run'})"
                )
            return {
                "events_per_s": invoices / elapsed,
                "elapsed_s": elapsed,
                "publish_s": t1 - t0,
                "ingest_wait_s": t2 - t1,
                "advance_s": t3 - t2,
                "clock_stops": stops,
                "setup_customers_s": setup_s,
                "start_s": overhead["start_s"],
                "check": check,
                "phases": phases,
                "cpu_s": cpu,
                "cpu_ms_per_invoice": round(1000 * sum(cpu.values()) / invoices, 2),
            }
        finally:
            mark = time.perf_counter()
            if service is not None:
                service.stop()
            log(f"  service stopped in {time.perf_counter() - mark:.1f} s")


# --- Main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--invoices",
        type=int,
        default=DEFAULT_INVOICES,
        help="invoice-issued events in the burst (default %(default)s)",
    )
    ap.add_argument(
        "--customers",
        type=int,
        default=None,
        help="customers the invoices spread over (default: invoices / 2)",
    )
    ap.add_argument(
        "--runs",
        type=int,
        default=3,
        help="rounds of baseline + pipeline; medians are reported (default %(default)s)",
    )
    ap.add_argument(
        "--postgres-url",
        default=None,
        help=f"admin URL of a PostgreSQL server (else ${ENV_POSTGRES}, else a throwaway cluster)",
    )
    ap.add_argument(
        "--processes", type=int, default=2, help="service worker processes (default %(default)s)"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per service worker process (default %(default)s)",
    )
    ap.add_argument(
        "--raw-messages",
        type=int,
        default=RAW_MESSAGES,
        help="no-op messages per baseline run (default %(default)s)",
    )
    ap.add_argument(
        "--baseline",
        choices=("auto", "shared", "own"),
        default="auto",
        help="auto: bench/raw_dramatiq.py when present, else built in; shared/own force one",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds one pipeline wait may take (default %(default)s)",
    )
    args = ap.parse_args(argv)
    customers = args.customers or max(1, args.invoices // 2)
    if customers > args.invoices or customers > 900_000:
        ap.error("--customers must be between 1 and --invoices (and at most 900000)")

    raw: list[float] = []
    runs: list[dict[str, Any]] = []
    raw_impl = ""
    started = time.perf_counter()
    # See bench_workdir: the processes this script starts cache their bytecode under it.
    with bench_workdir("likvid-bench-") as workdir, open_postgres(args.postgres_url) as pg:
        mach, vers = machine(), versions(pg)
        for n in range(1, args.runs + 1):
            log(
                f"round {n}/{args.runs}: raw dramatiq no-op, {args.raw_messages} messages, {RAW_PROCESSES}x{RAW_THREADS} ..."
            )
            rate, raw_impl, _ = raw_noop(args.raw_messages, workdir, args.baseline)
            raw.append(rate)
            log(f"  raw: {rate:,.0f} msgs/s")
            log(
                f"round {n}/{args.runs}: pipeline, {args.invoices} invoices for {customers} customers, "
                f"service {args.processes}x{args.threads} ..."
            )
            run = pipeline_run(
                pg, args.invoices, customers, args.processes, args.threads, workdir, args.timeout
            )
            runs.append(run)
            log(
                f"  pipeline: {run['events_per_s']:,.1f} events/s ({run['elapsed_s']:.1f} s: publish {run['publish_s']:.1f}, "
                f"ingest {run['ingest_wait_s']:.1f}, advance {run['advance_s']:.1f}); "
                f"{run['check']['reminder_letters']} letters, {run['check']['letter_files']} files"
            )

    raw_med = statistics.median(raw)
    pipe_med = statistics.median(r["events_per_s"] for r in runs)
    ratio = pipe_med / raw_med
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print()
    print(
        f"Likvid pipeline burst: {args.invoices} invoice-issued -> rendered reminders "
        f"({customers} customers), {args.runs} run(s), {mach['cores']} cores, {mach['cpu']}"
    )
    print(
        f"{'run':>4} {'raw no-op msgs/s':>17} {'pipeline events/s':>18} {'elapsed s':>10} {'publish':>8} "
        f"{'ingest':>7} {'advance':>8} {'letters':>8} {'files':>6}"
    )
    for i, (r, p) in enumerate(zip(raw, runs, strict=True), start=1):
        print(
            f"{i:>4} {r:>17,.0f} {p['events_per_s']:>18,.1f} {p['elapsed_s']:>10.1f} {p['publish_s']:>8.1f} "
            f"{p['ingest_wait_s']:>7.1f} {p['advance_s']:>8.1f} {p['check']['reminder_letters']:>8} {p['check']['letter_files']:>6}"
        )
    print(f"{'med':>4} {raw_med:>17,.0f} {pipe_med:>18,.1f}")
    print("where the time went (outbox, wall clock: first message queued -> last processed):")
    for i, p in enumerate(runs, start=1):
        print(
            f"{i:>4} "
            + "; ".join(
                f"{actor} {ph['messages']} msgs over {ph['span_s']:.1f} s"
                for actor, ph in sorted(p["phases"].items())
            )
        )
    print("CPU per invoice in the timed part, ms (this process: publishing and walking the clock; Redis not counted):")
    for i, p in enumerate(runs, start=1):
        print(f"{i:>4} " + ", ".join(f"{name} {1000 * sec / args.invoices:.2f}" for name, sec in p["cpu_s"].items())
              + f"; total {p['cpu_ms_per_invoice']:.2f}")
    cpu_med = statistics.median(r["cpu_ms_per_invoice"] for r in runs)
    ceiling = mach["cores"] * 1000 / cpu_med
    print(f"ceiling: {mach['cores']} cores busy all the time at the median {cpu_med:.2f} ms per invoice would give "
          f"{ceiling:,.0f} events/s, {ceiling / raw_med:.3f} of the raw figure")
    print(f"ratio pipeline/raw = {ratio:.4f}   target >= {TARGET_RATIO}   {verdict}")
    print(
        f"baseline: {raw_impl}, {args.raw_messages} no-op messages, {RAW_PROCESSES} processes x {RAW_THREADS} threads; "
        f"service: {args.processes} processes x {args.threads} threads; total {time.perf_counter() - started:.0f} s"
    )
    print(
        json.dumps(
            {
                "benchmark": "pipeline_burst",
                "date": datetime.now().astimezone().isoformat(timespec="seconds"),
                "invoices": args.invoices,
                "customers": customers,
                "runs": args.runs,
                "raw_noop_msgs_per_s_median": round(raw_med, 1),
                "pipeline_events_per_s_median": round(pipe_med, 1),
                "ratio": round(ratio, 4),
                "target_ratio": TARGET_RATIO,
                "cpu_ms_per_invoice_median": cpu_med,
                "ceiling_events_per_s": round(ceiling, 1),
                "ceiling_ratio": round(ceiling / raw_med, 4),
                "pass": ratio >= TARGET_RATIO,
                "raw_noop_msgs_per_s_runs": [round(r, 1) for r in raw],
                "pipeline_runs": [
                    {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
                    for r in runs
                ],
                "baseline": {
                    "implementation": raw_impl,
                    "messages": args.raw_messages,
                    "processes": RAW_PROCESSES,
                    "threads": RAW_THREADS,
                },
                "service": {"processes": args.processes, "threads": args.threads},
                "machine": mach,
                "versions": vers,
            },
            separators=(",", ":"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
