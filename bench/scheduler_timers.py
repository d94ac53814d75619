"""Scheduler: claim and emit 10,000 due timers out of one million, on PostgreSQL.

The issue's target: one million scheduled timers with 10,000 due, time to claim and emit them
**at most 2 s**, and independent of the total (the scheduler scans what is due through the
partial index ``ix_timers_pending_due``, not every timer).

Each round, for each total (default 1,000,000 and 100,000), on a fresh database at the schema
head:

1. Not timed: bulk-load the timers with ``COPY`` (``--due`` of them due before "now", the rest
   spread over the following year), then ``ANALYZE``.
2. **Timed: the scheduler's work.** ``workers.scheduler.tick`` (one transaction per pass, each
   pass ``likvid.service.timers.emit_due``: claim up to ``CLAIM_LIMIT`` due pending timers with
   one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`` and write one
   outbox message per ``BATCH_SIZE`` timers) repeated until a pass claims fewer than the limit,
   exactly as ``scheduler.run`` loops. Verified: every due timer emitted, no other timer
   touched, ``ceil(due / BATCH_SIZE)`` outbox messages.
3. **Baseline, same database:** the due timers are set back to pending and claimed again by
   one bare SQL statement (``UPDATE timers SET status = 'emitted' WHERE status = 'pending' AND
   due_at <= now RETURNING id``), no ORM, no outbox: the floor for this work on this server.

Reported: medians over ``--runs`` of the emit time per total, the ratio to the bare
statement, the ratio of the 1M time to the 100k time (independence of the total), PASS/FAIL.

    uv run python bench/scheduler_timers.py [--totals 1000000 100000] [--due 10000] [--runs 3]
                                            [--postgres-url URL] [--quick]

``--quick``: totals 200,000 and 20,000 with 2,000 due, 2 runs (about half a minute).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/scheduler_timers.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import log, machine_description, median, postgres  # noqa: E402

TARGET_S = 2.0
NOW = "2026-03-02T08:00:00+01:00"


def _load(db_url: str, total: int, due: int, now: datetime) -> float:
    """COPY ``total`` pending unbound timers, ``due`` of them due at or before ``now``."""
    import psycopg
    from sqlalchemy.engine import make_url

    from likvid.clock import to_db

    u = make_url(db_url)
    t = time.perf_counter()
    base = to_db(now)
    created = base - timedelta(days=60)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                         dbname=u.database, autocommit=False) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY timers (kind, ref, due_at, status, created_at) FROM STDIN") as copy:
                buf = io.StringIO()
                for i in range(total):
                    if i < due:  # due: spread over the past 30 days
                        at = base - timedelta(seconds=1 + (i * 2_592_000) // max(due, 1))
                    else:  # not due: spread over the next year
                        at = base + timedelta(seconds=60 + ((i - due) * 31_536_000) // max(total - due, 1))
                    buf.write(f"bench\tT{i}\t{at.isoformat(sep=' ')}\tpending\t{created.isoformat(sep=' ')}\n")
                    if i % 50_000 == 49_999:
                        copy.write(buf.getvalue())
                        buf = io.StringIO()
                copy.write(buf.getvalue())
        conn.commit()
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                         dbname=u.database, autocommit=True) as conn:
        conn.execute("ANALYZE timers")
    return time.perf_counter() - t


def one_total(pg: Any, total: int, due: int, workdir: Path) -> dict[str, Any]:
    from sqlalchemy import text

    from likvid.clock import to_db
    from likvid.db import dispose_engines, read_session, transaction
    from likvid.service.app import bootstrap, prepare
    from likvid.service.progress import set_clock
    from likvid.service.timers import BATCH_SIZE, CLAIM_LIMIT
    from likvid.settings import Settings
    from likvid.workers.scheduler import tick

    name, url = pg.create_database()
    try:
        dispose_engines()
        settings = Settings.from_env({"LIKVID_HOME": str(workdir / name), "LIKVID_DATABASE_URL": url,
                                      "LIKVID_CLOCK": "simulated"})
        app = bootstrap(settings, fresh=True)
        prepare(app)
        now = datetime.fromisoformat(NOW)
        set_clock(app, now)
        load_s = _load(url, total, due, now)
        with read_session(app.db) as s:
            outbox_before = s.scalar(text("SELECT count(*) FROM outbox")) or 0

        # Timed: the scheduler loop's passes until a pass claims less than the limit.
        passes, emitted = 0, 0
        t = time.perf_counter()
        while True:
            n = tick(app)
            passes += 1
            emitted += n
            if n < CLAIM_LIMIT:
                break
        emit_s = time.perf_counter() - t

        with read_session(app.db) as s:
            counts = dict(s.execute(text("SELECT status, count(*) FROM timers GROUP BY status")).all())
            outbox = (s.scalar(text("SELECT count(*) FROM outbox")) or 0) - outbox_before
            not_due_touched = s.scalar(text("SELECT count(*) FROM timers WHERE status <> 'pending' AND due_at > :n"),
                                       {"n": to_db(now)})
        problems = []
        if emitted != due or counts.get("emitted", 0) != due or counts.get("pending", 0) != total - due:
            problems.append(f"emitted {emitted} (table: {counts}), expected {due} of {total}")
        if outbox != math.ceil(due / BATCH_SIZE):
            problems.append(f"{outbox} outbox messages, expected {math.ceil(due / BATCH_SIZE)}")
        if not_due_touched:
            problems.append(f"{not_due_touched} timers not yet due were touched")
        if problems:
            raise SystemExit("verification FAILED: " + "; ".join(problems))

        # Baseline on the same rows: put them back, claim them with one bare statement.
        with transaction(app.db) as s:
            s.execute(text("UPDATE timers SET status = 'pending', emitted_at = NULL WHERE status = 'emitted'"))
        t = time.perf_counter()
        with transaction(app.db) as s:
            bare = len(s.execute(text(
                "UPDATE timers SET status = 'emitted', emitted_at = :n"
                " WHERE status = 'pending' AND due_at <= :n RETURNING id"), {"n": to_db(now)}).all())
        bare_s = time.perf_counter() - t
        if bare != due:
            raise SystemExit(f"baseline claimed {bare}, expected {due}")
        return {"total": total, "due": due, "emit_s": emit_s, "passes": passes, "bare_sql_s": bare_s,
                "load_s": load_s, "outbox_messages": outbox}
    finally:
        dispose_engines()
        pg.drop_database(name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--totals", type=int, nargs="+", default=None,
                    help="scheduled timers per measurement (default 1000000 100000)")
    ap.add_argument("--due", type=int, default=None, help="of which due now (default 10000)")
    ap.add_argument("--runs", type=int, default=None, help="rounds; medians reported (default 3)")
    ap.add_argument("--postgres-url", default=None,
                    help="admin URL of a PostgreSQL server (else $LIKVID_BENCH_POSTGRES_URL, else a throwaway cluster)")
    ap.add_argument("--quick", action="store_true", help="totals 200000 20000, 2000 due, 2 runs")
    args = ap.parse_args(argv)
    totals = args.totals or ([200_000, 20_000] if args.quick else [1_000_000, 100_000])
    due = args.due or (2_000 if args.quick else 10_000)
    runs = args.runs or (2 if args.quick else 3)
    if any(t < due for t in totals):
        ap.error("every total must be at least --due")

    load_start = os.getloadavg()
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="likvid-bench-timers-"))
    pg = postgres(args.postgres_url)
    rows: list[dict[str, Any]] = []
    try:
        for r in range(1, runs + 1):
            for total in totals:
                log(f"round {r}/{runs}: {total:,} timers, {due:,} due: loading ...")
                row = one_total(pg, total, due, workdir)
                row["round"] = r
                rows.append(row)
                log(f"  emit {row['emit_s']:.3f} s in {row['passes']} passes; bare SQL {row['bare_sql_s']:.3f} s;"
                    f" load {row['load_s']:.1f} s")
    finally:
        pg.close()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)

    med = {t: median(r["emit_s"] for r in rows if r["total"] == t) for t in totals}
    bare = {t: median(r["bare_sql_s"] for r in rows if r["total"] == t) for t in totals}
    biggest, smallest = max(totals), min(totals)
    ok = med[biggest] <= TARGET_S
    print()
    print(f"Scheduler: claim and emit {due:,} due timers (emit_due via scheduler.tick), {runs} round(s)")
    print(f"{'total':>10} {'emit s (median)':>16} {'bare SQL s':>11} {'ratio emit/bare':>16}  rounds")
    for t in totals:
        each = ", ".join(f"{r['emit_s']:.3f}" for r in rows if r["total"] == t)
        print(f"{t:>10,} {med[t]:>16.3f} {bare[t]:>11.3f} {med[t] / bare[t]:>16.2f}  {each}")
    if len(totals) > 1:
        print(f"independence of the total: {biggest:,} vs {smallest:,} timers -> "
              f"{med[biggest] / med[smallest]:.2f}x the time for {biggest / smallest:.0f}x the timers")
    print(f"{due:,} due of {biggest:,}: {med[biggest]:.3f} s   target <= {TARGET_S} s   {'PASS' if ok else 'FAIL'}")
    print(json.dumps({
        "benchmark": "scheduler_timers", "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "due": due, "totals": totals, "runs": runs, "target_s": TARGET_S, "pass": ok,
        "emit_s_median": {str(t): round(v, 4) for t, v in med.items()},
        "bare_sql_s_median": {str(t): round(v, 4) for t, v in bare.items()},
        "rounds": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
        "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": round(time.perf_counter() - started, 1), "machine": machine_description(),
    }, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
