"""BgMax import benchmark: a generated 100,000-payment BgMax file into the ledger on PostgreSQL,
next to raw dramatiq no-op throughput measured in the same run (the money issue's "Must hold":
at least 5,000 payments/s and under 300 MB peak RSS; the file is streamed, not loaded).

    uv run python bench/bgmax_import.py [--payments 100000] [--runs 3] [--processes 2]
                                        [--threads 4] [--postgres-url URL] [--timeout 900]

Once: a BgMax file with ``--payments`` OCR payments to bankgiro 5050-1055 (creditor ``kommun``),
in sections of 10,000, written by ``likvid.bgmax_writer`` (streamed). Nine in ten payments pay
their claim exactly, one in ten pays half of it.

Each of ``--runs`` rounds:

1. Raw baseline: ``bench.raw_dramatiq.measure_raw_noop`` (20,000 no-op messages, 2 processes
   x 8 threads) on a fresh Redis; ``consumed_per_s``.
2. A fresh PostgreSQL database, schema at head, and, not timed, one customer, one collection
   case and one open claim per payment (with its capital ledger entry and its pending
   invoice-due timer, as ``claims.register_invoice`` leaves them) written in bulk with COPY.
   The whole service (``likvid.runtime.service.Service``: dramatiq workers, scheduler, relay)
   on a fresh non-persistent Redis, simulated clock at 2026-01-10.
3. Timed: the real command ``likvid import bgmax FILE`` in its own process (without
   ``--wait``), while the service's workers apply the payments, until every payment is
   ``applied`` in the ``payments`` table. payments/s = payments / (last applied - command
   launched); the command's own start-up is inside the time. While the command runs, the
   script only watches the process; then it polls the unprocessed outbox rows (a partial
   index) every 50 ms and counts the applied payments once none is left, so the watching
   costs PostgreSQL next to nothing.
4. Verified in SQL: every payment applied, no parked, unmatched or rejected one, the sums of
   the payments and of their ledger entries equal the file's total to the öre, every claim
   paid in full settled with its timer cancelled, the others open with the right balance, no
   dead letters. Peak RSS: the import command's (``wait4`` ru_maxrss) and each service
   process's (``VmHWM`` from /proc, read before it is stopped).

Output: progress on stderr, a table, the medians and the verdict, and one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/bgmax_import.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ENV_POSTGRES,
    ROOT,
    CpuMeter,
    log,
    machine_description,
    median,
    process_group,
    status_kib,
)  # noqa: E402

TARGET_PER_S = 5000
TARGET_RSS_MB = 300
SECTION = 10_000
START = "2026-01-10T08:00:00+01:00"
DUE = date(2026, 1, 30)
PAID_ON = date(2026, 1, 20)


# --- The claims and the file ---------------------------------------------------------------


def claim_amount(i: int) -> int:
    return 10_000 + (i * 7919) % 990_000  # 100 kr to 10,000 kr, in öre


def paid_amount(i: int) -> int:
    """What payment i pays on claim i: all of it, or half of it for every tenth."""
    return claim_amount(i) // 2 if i % 10 == 9 else claim_amount(i)


def claim_ocr(i: int, prefix: str, length_digit: bool) -> str:
    from likvid.rules.ocr import generate_ocr

    return generate_ocr(f"{prefix}{i + 1:07d}", length_digit)


def write_file(path: Path, n: int, bankgiro: str, prefix: str, length_digit: bool) -> int:
    """The BgMax file; returns the total paid, in öre."""
    from likvid.bgmax_writer import PaymentSpec, SectionSpec, write_bgmax

    def section(first: int) -> Iterator[PaymentSpec]:
        for i in range(first, min(n, first + SECTION)):
            yield PaymentSpec(claim_ocr(i, prefix, length_digit), paid_amount(i), bgc_serial=i + 1,
                              payer_name=f"Kund {i}")

    sections = [SectionSpec(bankgiro, PAID_ON, k // SECTION + 1, section(k)) for k in range(0, n, SECTION)]
    write_bgmax(path, sections, written_at=datetime.fromisoformat(START))
    return sum(paid_amount(i) for i in range(n))


def _copy(conn: Any, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def setup_claims(app: Any, n: int) -> None:
    """One customer, case and open claim per payment, as register_invoice leaves them."""
    from likvid.clock import start_of_day, to_db
    from likvid.db import engine_for
    from likvid.messages.events import default_claim_nature
    from likvid.rules.deadlines import effective_due_date
    from likvid.rules.ocr import generate_ocr
    from likvid.service.claims import CASE_OCR_MARK

    creditor = app.policy.creditors["kommun"]
    now = to_db(datetime.fromisoformat(START))
    due = effective_due_date(DUE)
    version = app.policy.version
    address = json.dumps({"street": "Storgatan 1", "postal_code": "123 45", "city": "Exempelby"})

    def case_ocr(i: int) -> str:
        digest = int(hashlib.sha256(f"kommun/C{i:07d}".encode()).hexdigest(), 16)
        return generate_ocr(f"{creditor.ocr_prefix}{CASE_OCR_MARK}{digest % 10**10:010d}", creditor.ocr_length_digit)

    raw = engine_for(app.db).raw_connection()
    try:
        conn = raw.driver_connection
        _copy(conn, "customers", ["id", "party_type", "identity_number", "name", "address", "language", "consumer",
                                  "protected_identity", "created_at", "updated_at"],
              ((f"C{i:07d}", "person", f"{i:012d}", f"Kund {i}", address, "sv", True, False, now, now)
               for i in range(n)))
        _copy(conn, "collection_cases", ["id", "customer_id", "creditor_id", "ocr_reference", "policy_version",
                                         "opened_at"],
              ((i + 1, f"C{i:07d}", "kommun", case_ocr(i), version, now) for i in range(n)))
        conn.execute("SELECT setval(pg_get_serial_sequence('collection_cases', 'id'), %s)", (n,))
        _copy(conn, "claims", ["invoice_id", "creditor_id", "customer_id", "case_id", "invoice_number", "issue_date",
                               "due_date", "effective_due_date", "amount_ore", "claim_kind", "claim_nature",
                               "ocr_reference", "reminder_fee_agreed", "status", "stage", "reminder_level",
                               "demand_level", "policy_version", "created_at"],
              ((f"INV{i:07d}", "kommun", f"C{i:07d}", i + 1, f"{i + 1:07d}", date(2026, 1, 5), DUE, due,
                claim_amount(i), "water", default_claim_nature("water"),
                claim_ocr(i, creditor.ocr_prefix, creditor.ocr_length_digit), False, "open", "issued", 0, 0,
                version, now) for i in range(n)))
        _copy(conn, "ledger_entries", ["claim_id", "kind", "component", "amount_ore", "booked_at", "value_date", "ref"],
              ((f"INV{i:07d}", "capital", "capital", claim_amount(i), now, date(2026, 1, 5), f"bench-inv-{i}")
               for i in range(n)))
        _copy(conn, "timers", ["kind", "claim_id", "due_at", "status", "created_at"],
              (("invoice_due", f"INV{i:07d}", to_db(start_of_day(due)), "pending", now) for i in range(n)))
        conn.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


# --- Processes and memory --------------------------------------------------------------------


def _peak_mb(pid: int) -> float:
    with contextlib.suppress(OSError, KeyError):
        return status_kib(pid, "VmHWM") / 1024
    return 0.0


def service_peaks(service: Any) -> dict[str, list[float]]:
    """Peak RSS (MB) of every process of each service child (workers: the CLI and its workers)."""
    return {child.name: sorted((round(_peak_mb(p), 1) for p in process_group(child.proc.pid)), reverse=True)
            for child in service.children if child.proc is not None}


# --- One round -------------------------------------------------------------------------------


def import_run(pg: Any, n: int, total: int, file: Path, processes: int, threads: int, workdir: Path,
               timeout: float) -> dict[str, Any]:
    from sqlalchemy import text

    from bench.common import service_environment
    from likvid.db import read_session
    from likvid.runtime.service import Service
    from likvid.service.app import bootstrap, prepare
    from likvid.service.progress import set_clock

    # The scheduler at the service's default interval (500 ms): nothing falls due during an
    # import, and at the pipeline burst's 100 ms its empty looks took 1-3 s of CPU a round.
    with service_environment(pg, workdir, scheduler_interval_ms=None) as round_env:
        home, settings = round_env.home, round_env.settings
        service: Service | None = None
        try:
            app = bootstrap(settings, fresh=True)
            prepare(app)
            set_clock(app, datetime.fromisoformat(START))
            t = time.perf_counter()
            setup_claims(app, n)
            log(f"  {n:,} claims set up in {time.perf_counter() - t:.1f} s")
            service = Service(settings, processes=processes, threads=threads, quiet=True)
            service.start()
            threading.Thread(target=service.supervise, daemon=True, name="supervise").start()
            time.sleep(5)  # the workers boot (not timed)

            meter = CpuMeter(service).start()
            likvid = [sys.executable, "-m", "likvid", "import", "bgmax", str(file)]
            out = open(home / "import.log", "wb")  # noqa: SIM115 - handed to the child
            t0 = time.perf_counter()
            wall0 = datetime.now(UTC).replace(tzinfo=None)  # the outbox's times: naive UTC
            proc = subprocess.Popen(likvid, env={**os.environ}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            import_rc: int | None = None
            import_rss_mb = 0.0
            import_s = import_cpu_s = 0.0
            applied = 0
            deadline = t0 + timeout
            with read_session(app.db) as s:
                while True:
                    if import_rc is None:
                        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                        if pid:
                            import_rc = os.waitstatus_to_exitcode(status)
                            import_rss_mb = usage.ru_maxrss / 1024
                            import_cpu_s = usage.ru_utime + usage.ru_stime
                            import_s = time.perf_counter() - t0
                            proc.returncode = import_rc
                            if import_rc != 0:
                                raise SystemExit(f"likvid import bgmax exited with {import_rc}: "
                                                 + (home / "import.log").read_text()[-2000:])
                    if import_rc is not None:
                        # Cheap while work is queued (the unprocessed outbox rows, a partial
                        # index): counting the payments table every 50 ms cost PostgreSQL a
                        # scan of up to 100,000 rows each time, 15% of a core taken from the
                        # service it measures. The count confirms once nothing is queued.
                        queued = int(s.execute(text("SELECT count(*) FROM outbox WHERE processed_at IS NULL "
                                                    "AND queue <> 'outbound'")).scalar() or 0)
                        if not queued:
                            applied = int(s.execute(text("SELECT count(*) FROM payments "
                                                         "WHERE status = 'applied'")).scalar() or 0)
                        s.rollback()
                        if not queued and applied >= n:
                            break
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"only {applied:,} of {n:,} payments applied after {timeout:.0f} s")
                    time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            cpu = meter.stop()
            cpu.pop("this process")  # the benchmark's own polling
            pg_cpu_s = cpu.pop("postgresql")
            out.close()
            peaks = service_peaks(service)
            with read_session(app.db) as s:
                q = lambda sql: int(s.execute(text(sql)).scalar() or 0)  # noqa: E731
                check = {
                    "payments_applied": q("SELECT count(*) FROM payments WHERE status = 'applied'"),
                    "payments_other": q("SELECT count(*) FROM payments WHERE status <> 'applied'"),
                    "paid_ore": q("SELECT sum(amount_ore) FROM payments"),
                    "allocated_ore": -q("SELECT sum(amount_ore) FROM ledger_entries WHERE kind = 'payment'"),
                    "overpaid_ore": q("SELECT sum(overpayment_ore) FROM payments"),
                    "claims_settled": q("SELECT count(*) FROM claims WHERE status = 'settled'"),
                    "open_ore": q("SELECT sum(amount_ore) FROM ledger_entries"),
                    "timers_cancelled": q("SELECT count(*) FROM timers WHERE status = 'cancelled'"),
                    "rejected_events": q("SELECT count(*) FROM rejected_events"),
                    "parked_events": q("SELECT count(*) FROM parked_events"),
                    "dead_letters": q("SELECT count(*) FROM dead_letters"),
                    "ingest_messages": q("SELECT count(*) FROM outbox WHERE actor = 'ingest_events'"),
                }
                # Where the time went: the command's start-up and verify pass before the first
                # message, the last message's queueing and its application (the tail).
                first, last, done = s.execute(text(
                    "SELECT min(created_at), max(created_at), max(processed_at) FROM outbox "
                    "WHERE actor = 'ingest_payments'")).one()
                phases = {"first_queued_s": round((first - wall0).total_seconds(), 2),
                          "last_queued_s": round((last - wall0).total_seconds(), 2),
                          "last_applied_s": round((done - wall0).total_seconds(), 2)}
            full = sum(1 for i in range(n) if paid_amount(i) == claim_amount(i))
            expect = {"payments_applied": n, "payments_other": 0, "paid_ore": total, "allocated_ore": total,
                      "overpaid_ore": 0, "claims_settled": full, "timers_cancelled": full,
                      "open_ore": sum(claim_amount(i) for i in range(n)) - total,
                      "rejected_events": 0, "parked_events": 0, "dead_letters": 0}
            wrong = {k: (check[k], v) for k, v in expect.items() if check[k] != v}
            if wrong:
                raise SystemExit(f"import FAILED verification (found, expected): {wrong} (logs under {home})")
            restarts = {c.name: c.restarts for c in service.children if c.restarts}
            if restarts:
                raise SystemExit(f"service children restarted: {restarts}")
            return {"payments_per_s": n / elapsed, "elapsed_s": elapsed, "import_s": import_s,
                    "import_peak_rss_mb": import_rss_mb, "worker_peak_rss_mb": peaks.get("worker", []),
                    "relay_peak_rss_mb": peaks.get("relay", []),
                    "cpu_s": {"import": round(import_cpu_s, 2), **cpu},
                    "cpu_ms_per_payment": round(1000 * (import_cpu_s + sum(cpu.values())) / n, 3),
                    "postgres_cpu_s": round(pg_cpu_s, 2), "postgres_cpu_ms_per_payment": round(1000 * pg_cpu_s / n, 3),
                    "phases": phases, "check": check}
        finally:
            if service is not None:
                service.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--payments", type=int, default=100_000, help="payments in the file (default %(default)s)")
    ap.add_argument("--runs", type=int, default=3, help="rounds; medians are reported (default %(default)s)")
    ap.add_argument("--processes", type=int, default=2, help="service worker processes (default %(default)s)")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker process (default %(default)s)")
    ap.add_argument("--raw-messages", type=int, default=20000, help="no-op messages per baseline (default %(default)s)")
    ap.add_argument("--postgres-url", default=None, help=f"admin URL (else ${ENV_POSTGRES}, else a throwaway cluster)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds one import may take (default %(default)s)")
    args = ap.parse_args(argv)
    if not 1 <= args.payments <= 9_999_999:
        ap.error("--payments must be between 1 and 9999999")

    from bench.common import bench_workdir, open_postgres, start_redis
    from bench.raw_dramatiq import measure_raw_noop
    from likvid.policy import load_policy

    load = os.getloadavg()
    raw: list[float] = []
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with bench_workdir("likvid-bench-bgmax-") as workdir:
        creditor = load_policy(None).creditors["kommun"]
        file = workdir / "payments.bgmax"
        t = time.perf_counter()
        total = write_file(file, args.payments, creditor.bankgiro, creditor.ocr_prefix, creditor.ocr_length_digit)
        log(f"BgMax file: {args.payments:,} payments, {total / 100:,.2f} kr, {file.stat().st_size / 1e6:.1f} MB, "
            f"written in {time.perf_counter() - t:.1f} s")
        with open_postgres(args.postgres_url) as pg:
            for n in range(1, args.runs + 1):
                log(f"round {n}/{args.runs}: raw dramatiq no-op, {args.raw_messages} messages, 2x8 ...")
                with start_redis() as server:
                    rate = float(measure_raw_noop(server.url, messages=args.raw_messages, runs=1)["consumed_per_s"])  # type: ignore[arg-type]
                raw.append(rate)
                log(f"  raw: {rate:,.0f} msgs/s")
                log(f"round {n}/{args.runs}: import of {args.payments:,} payments, service {args.processes}x{args.threads} ...")
                run = import_run(pg, args.payments, total, file, args.processes, args.threads, workdir, args.timeout)
                runs.append(run)
                log(f"  import: {run['payments_per_s']:,.0f} payments/s ({run['elapsed_s']:.1f} s; command {run['import_s']:.1f} s); "
                    f"peak RSS import {run['import_peak_rss_mb']:.0f} MB, workers {run['worker_peak_rss_mb']} MB; "
                    f"CPU s {run['cpu_s']} ({run['cpu_ms_per_payment']:.2f} ms per payment; PostgreSQL "
                    f"{run['postgres_cpu_s']:.1f} s, {run['postgres_cpu_ms_per_payment']:.2f} ms per payment); "
                    f"first payments queued at {run['phases']['first_queued_s']:.2f} s, last at "
                    f"{run['phases']['last_queued_s']:.2f} s, all applied at {run['phases']['last_applied_s']:.2f} s")

    raw_med = median(raw)
    rate_med = median(r["payments_per_s"] for r in runs)
    import_rss = max(r["import_peak_rss_mb"] for r in runs)
    worker_rss = max(max(r["worker_peak_rss_mb"] or [0.0]) for r in runs)
    passed = rate_med >= TARGET_PER_S and import_rss < TARGET_RSS_MB and worker_rss < TARGET_RSS_MB
    print()
    print(f"Likvid BgMax import: {args.payments:,} payments into the ledger on PostgreSQL, {args.runs} round(s), "
          f"service {args.processes}x{args.threads}")
    print(f"{'run':>4} {'raw no-op msgs/s':>17} {'payments/s':>11} {'elapsed s':>10} {'command s':>10} "
          f"{'import MB':>10} {'worker MB (each process)':>26}")
    for i, (r, p) in enumerate(zip(raw, runs, strict=True), start=1):
        print(f"{i:>4} {r:>17,.0f} {p['payments_per_s']:>11,.0f} {p['elapsed_s']:>10.1f} {p['import_s']:>10.1f} "
              f"{p['import_peak_rss_mb']:>10.0f} {str(p['worker_peak_rss_mb']):>26}")
    print(f"{'med':>4} {raw_med:>17,.0f} {rate_med:>11,.0f}")
    cpu_ms = median(r["cpu_ms_per_payment"] for r in runs)
    pg_ms = median(r["postgres_cpu_ms_per_payment"] for r in runs)
    print(f"CPU per payment (import command + workers + scheduler + relay): median {cpu_ms:.2f} ms; "
          + "; ".join(f"round {i}: {r['cpu_s']}" for i, r in enumerate(runs, start=1)))
    print(f"PostgreSQL's CPU per payment (every postgres process on the machine): median {pg_ms:.2f} ms; "
          + "; ".join(f"round {i}: {r['postgres_cpu_s']} s" for i, r in enumerate(runs, start=1)))
    all_ms = median(r["cpu_ms_per_payment"] + r["postgres_cpu_ms_per_payment"] for r in runs)
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / all_ms
    print(f"ceiling: {cores} cores busy all the time at the median {all_ms:.2f} ms per payment (PostgreSQL included) "
          f"would give {ceiling:,.0f} payments/s; {TARGET_PER_S:,} needs at most {cores * 1000 / TARGET_PER_S:.2f} ms")
    print(f"payments/s median {rate_med:,.0f} (target >= {TARGET_PER_S:,}); ratio to raw no-op {rate_med / raw_med:.3f}; "
          f"peak RSS: import {import_rss:.0f} MB, largest worker process {worker_rss:.0f} MB (target < {TARGET_RSS_MB}) "
          f"{'PASS' if passed else 'FAIL'}")
    print(f"total {time.perf_counter() - started:.0f} s; load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(json.dumps({
        "benchmark": "bgmax_import", "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "payments": args.payments, "runs": args.runs, "raw_noop_msgs_per_s_median": round(raw_med, 1),
        "payments_per_s_median": round(rate_med, 1), "cpu_ms_per_payment_median": cpu_ms,
        "postgres_cpu_ms_per_payment_median": pg_ms, "ratio": round(rate_med / raw_med, 4),
        "ceiling_payments_per_s": round(ceiling, 1),
        "import_peak_rss_mb": round(import_rss, 1), "worker_peak_rss_mb": round(worker_rss, 1),
        "target_payments_per_s": TARGET_PER_S, "target_rss_mb": TARGET_RSS_MB, "pass": passed,
        "raw_noop_msgs_per_s_runs": [round(r, 1) for r in raw],
        "import_runs": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in runs],
        "service": {"processes": args.processes, "threads": args.threads},
        "loadavg_at_start": [round(x, 2) for x in load], "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_description(),
    }, separators=(",", ":")))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
