"""Where the BgMax import's time goes, per stage, in one process and one thread.

The same file and claims as ``bgmax_import.py`` on a throwaway PostgreSQL, without a broker:
``likvid import bgmax``'s function, then the ingest messages it queued run inline by the
service function the actor calls, then the relay's publishing of the outbound events to a real
Redis. For each stage: wall and CPU milliseconds per payment for this process and for
PostgreSQL's server processes (from /proc), and SQL statements per payment.
``--profile STAGE`` prints the top of a cProfile of that stage (import, ingest, relay).
``--statements`` prints PostgreSQL's own view of every statement of the three stages
(``pg_stat_statements``: calls, server milliseconds, rows), COPY included, which the
client-side list of slowest statements does not see. A COPY's time includes the server
waiting for the rows, so it counts this process's formatting too.

    uv run python bench/profile_import.py [--payments 20000] [--profile ingest] [--sort tottime] [--statements]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bgmax_import import START, setup_claims, write_file  # noqa: E402
from bench.common import postgres_cpu_s, scratch_database, start_redis  # noqa: E402

#: Server options for ``--statements``: pg_stat_statements preloaded, nested statements too
#: (a foreign key's check runs inside the COPY that triggers it).
STATEMENTS_OPTIONS = ("-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
                      " -c pg_stat_statements.track_planning=on")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--payments", type=int, default=20000)
    p.add_argument("--postgres-url", default=None)
    p.add_argument("--profile", default=None, choices=("import", "ingest", "relay"))
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--sort", default="cumulative")
    p.add_argument("--statements", action="store_true",
                   help="PostgreSQL's pg_stat_statements for the three stages (preloaded in a throwaway cluster)")
    args = p.parse_args(argv)
    n = args.payments

    from sqlalchemy import event, select, text

    from likvid.db import engine_for, read_session, transaction
    from likvid.models import OutboxMessage
    from likvid.runtime.gc_tuning import tune
    from likvid.service.app import bootstrap, prepare
    from likvid.service.bankfile import import_bgmax
    from likvid.service.progress import set_clock
    from likvid.settings import Settings
    from likvid.workers.broker import configure
    from likvid.workers.relay import Relay
    from tests.support.inline import Inline

    options = STATEMENTS_OPTIONS if args.statements else ""
    with scratch_database(args.postgres_url, "likvid-prof-import-", options) as (db_url, home):
        with start_redis() as redis_server:
            env = {"LIKVID_HOME": str(home), "LIKVID_DATABASE_URL": db_url, "LIKVID_CLOCK": "simulated",
                   "LIKVID_REDIS_URL": redis_server.url}
            for var in ("LIKVID_POLICY", "LIKVID_SMTP_HOST"):
                os.environ.pop(var, None)
            settings = Settings.from_env(env)
            app = bootstrap(settings, fresh=True)
            prepare(app)
            set_clock(app, datetime.fromisoformat(START))
            creditor = app.policy.creditors["kommun"]
            file = home / "payments.bgmax"
            write_file(file, n, creditor.bankgiro, creditor.ocr_prefix, creditor.ocr_length_digit)
            setup_claims(app, n)
            tune(settings.gc_threshold)  # as the service's processes do once booted

            statements = [0]
            slow: dict[str, list[float]] = {}
            started: list[float] = [0.0]

            def before(*_: Any) -> None:
                statements[0] += 1
                started[0] = time.perf_counter()

            def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
                spent = slow.setdefault(" ".join(statement.split())[:110], [0, 0.0])
                spent[0] += 1
                spent[1] += time.perf_counter() - started[0]

            event.listen(engine_for(db_url), "before_cursor_execute", before)
            event.listen(engine_for(db_url), "after_cursor_execute", after)
            profiler = cProfile.Profile()
            rows: list[dict[str, Any]] = []

            def wal_bytes() -> int:
                """Where the cluster's write-ahead log has got to, in bytes: exact at once, where
                pg_stat_wal's counts reach it only when each backend reports them (up to seconds
                later, so they are read once, over all three stages)."""
                with read_session(app.db) as s:
                    return int(s.execute(text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")).scalar_one())

            def wal_counts() -> tuple[int, int]:
                """pg_stat_wal's WAL records and full-page images so far, once the backends that
                wrote them have ended (a backend reports its counts when it ends, if not before)."""
                engine_for(db_url).dispose()
                time.sleep(0.5)
                with read_session(app.db) as s:
                    records, fpi = s.execute(text("SELECT wal_records, wal_fpi FROM pg_stat_wal")).one()
                return int(records), int(fpi)

            def stage(name: str, fn: Callable[[], Any]) -> Any:
                wal0 = wal_bytes()
                s0, w0, c0, pg0 = statements[0], time.perf_counter(), time.process_time(), postgres_cpu_s()
                if args.profile == name:
                    profiler.enable()
                out = fn()
                if args.profile == name:
                    profiler.disable()
                rows.append({"stage": name, "wall": time.perf_counter() - w0, "cpu": time.process_time() - c0,
                             "pg_cpu": postgres_cpu_s() - pg0, "sql": statements[0] - s0,
                             "wal_bytes": wal_bytes() - wal0})
                return out

            if args.statements:
                with transaction(app.db) as s:  # (an external server must preload the module itself)
                    s.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                    s.execute(text("SELECT pg_stat_statements_reset()"))
            counts0 = wal_counts()
            stage("import", lambda: import_bgmax(app, file))

            inline = Inline(app)

            def ingest() -> None:
                while True:
                    with transaction(app.db) as s:
                        row = s.scalars(select(OutboxMessage).where(OutboxMessage.processed_at.is_(None),
                                                                    OutboxMessage.queue != "outbound")
                                        .order_by(OutboxMessage.created_at, OutboxMessage.id).limit(1)).first()
                        if row is None:
                            return
                        row_id, actor, a = row.id, row.actor, row.payload["args"]
                    inline.run(row_id, actor, a)

            stage("ingest", ingest)
            relay = Relay(app, configure(redis_server.url), redis_server.url)

            def publish() -> None:
                while relay.publish_once():
                    pass

            stage("relay", publish)
            counts = wal_counts()  # (which also lets the backends report their table statistics)
            with read_session(app.db) as s:
                applied = s.execute(text("SELECT count(*) FROM payments WHERE status = 'applied'")).scalar()
                outbound = s.execute(text("SELECT count(*) FROM outbox WHERE queue = 'outbound'")).scalar()
                updates = s.execute(text("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                                         " WHERE relname IN ('claims', 'timers') ORDER BY relname")).all()
            print(f"{n} payments: {applied} applied, {outbound} outbound events")
            print("row updates (heap-only in place / all): "
                  + ", ".join(f"{name} {hot:,} / {upd:,}" for name, upd, hot in updates))
            (records, fpi) = (b - a for a, b in zip(counts0, counts, strict=True))
            print(f"write-ahead log over the three stages: {records / n:.1f} records per payment,"
                  f" {1000 * fpi / n:.1f} full-page images per 1,000 payments")
            print("| stage | wall ms/payment | CPU ms/payment | PostgreSQL CPU ms/payment | SQL/1000 payments"
                  " | WAL bytes/payment |")
            print("|---|---:|---:|---:|---:|---:|")
            for r in [*rows, {"stage": "**total**", **{k: sum(r[k] for r in rows) for k in rows[0] if k != "stage"}}]:
                print(f"| {r['stage']} | {1000 * r['wall'] / n:.3f} | {1000 * r['cpu'] / n:.3f} | "
                      f"{1000 * r['pg_cpu'] / n:.3f} | {1000 * r['sql'] / n:.1f} | {r['wal_bytes'] / n:,.0f} |")
            print(json.dumps({"payments": n, "stages": rows, "wal_records": records, "wal_fpi": fpi,
                              "load": os.getloadavg()}))
            print("slowest statements (count, total s):")
            for sql, (count, spent) in sorted(slow.items(), key=lambda kv: -kv[1][1])[:12]:
                print(f"  {count:5d} {spent:7.2f}  {sql}")
            if args.statements:
                with read_session(app.db) as s:
                    top = s.execute(text(
                        "SELECT calls, total_exec_time, rows, plans, total_plan_time,"
                        " regexp_replace(query, '\\s+', ' ', 'g')"
                        " FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"
                        " ORDER BY total_exec_time + total_plan_time DESC LIMIT :n"), {"n": args.top}).all()
                print("PostgreSQL's statements (pg_stat_statements: calls, server ms executing, rows,"
                      " plans made, server ms planning):")
                for calls, ms, count, plans, plan_ms, query in top:
                    print(f"  {calls:6d} {ms:9.1f} {count:8d} {plans:6d} {plan_ms:7.1f}  {query[:100]}")
            if args.profile:
                out = io.StringIO()
                st = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
                st.print_stats(args.top)
                if os.environ.get("CALLERS"):
                    st.print_callers(os.environ["CALLERS"])
                print(out.getvalue())
            return 0 if applied == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
