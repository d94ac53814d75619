"""Where the pipeline's time goes, per stage, in one process and one thread.

The same burst as ``pipeline_burst.py`` (invoice-issued through to rendered reminders) on a
throwaway PostgreSQL, but without a broker: the outbox is drained inline by the service
functions the actors call (``tests/support/inline.py``). For each actor it reports messages,
milliseconds per invoice (wall and CPU) and SQL statements per invoice (an ``executemany``
counts as one round trip). ``--profile ACTOR`` prints the top of a cProfile of that actor.

    uv run python bench/profile_stages.py [--invoices 400] [--customers N] [--profile fire_timers] [--one-by-one]
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
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import postgres_cpu_s, scratch_database  # noqa: E402
from bench.pipeline_burst import START, UNTIL, customer_events, invoice_events  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--invoices", type=int, default=400)
    p.add_argument("--customers", type=int, default=None)
    p.add_argument("--postgres-url", default=None)
    p.add_argument("--profile", default=None, help="actor to cProfile (ingest_events, fire_timers, dispatch_letters)")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime, ncalls ...")
    p.add_argument("--one-by-one", action="store_true",
                   help="without the set-based paths (ingest.BATCH_HANDLERS, bulk_steps, bulk_letters): the old figures")
    args = p.parse_args(argv)
    customers = args.customers or max(1, args.invoices // 2)

    from sqlalchemy import event, text

    from likvid.db import engine_for, read_session
    from likvid.runtime.gc_tuning import tune
    from likvid.service.app import bootstrap, prepare
    from likvid.service.progress import set_clock
    from likvid.settings import Settings
    from tests.support import inline as inline_module
    from tests.support.inline import Inline

    if args.one_by_one:
        from likvid.service import ingest

        ingest.BATCH_HANDLERS.clear()
        inline_module.fire_many = inline_module.dispatch_many = lambda s, app, now, ids: list(ids)  # type: ignore[assignment]

    with scratch_database(args.postgres_url, "likvid-prof-") as (db_url, home):
        env = {"LIKVID_HOME": str(home), "LIKVID_DATABASE_URL": db_url, "LIKVID_CLOCK": "simulated"}
        os.environ.pop("LIKVID_POLICY", None)
        os.environ.pop("LIKVID_SMTP_HOST", None)
        settings = Settings.from_env(env)
        app = bootstrap(settings, fresh=True)
        prepare(app)
        set_clock(app, datetime.fromisoformat(START))

        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        event.listen(engine_for(db_url), "before_cursor_execute", count)
        wall: dict[str, float] = defaultdict(float)
        cpu: dict[str, float] = defaultdict(float)
        pg_cpu: dict[str, float] = defaultdict(float)
        sql: dict[str, int] = defaultdict(int)
        msgs: dict[str, int] = defaultdict(int)
        profiler = cProfile.Profile()
        timing = [False]

        class Timed(Inline):
            def run(self, row_id: str, actor: str, a: list[Any]) -> None:
                if not timing[0]:
                    return super().run(row_id, actor, a)
                s0, w0, c0 = statements[0], time.perf_counter(), time.process_time()
                pg0 = postgres_cpu_s()
                if actor == args.profile:
                    profiler.enable()
                super().run(row_id, actor, a)
                if actor == args.profile:
                    profiler.disable()
                wall[actor] += time.perf_counter() - w0
                cpu[actor] += time.process_time() - c0
                pg_cpu[actor] += postgres_cpu_s() - pg0
                sql[actor] += statements[0] - s0
                msgs[actor] += 1

        inline = Timed(app)
        inline.publish(*customer_events(customers))
        tune(settings.gc_threshold)  # as the service's processes do once booted
        timing[0] = True
        t0 = time.perf_counter()
        inline.publish(*invoice_events(args.invoices, customers))
        inline.advance_to(datetime.fromisoformat(UNTIL))
        elapsed = time.perf_counter() - t0
        with read_session(app.db) as s:
            reminded = s.execute(text("SELECT count(*) FROM claims WHERE stage = 'reminded'")).scalar()
            letters = s.execute(text("SELECT count(*) FROM letters WHERE status = 'sent'")).scalar()
            dead = s.execute(text("SELECT count(*) FROM dead_letters")).scalar()
        n = args.invoices
        print(f"{'one by one' if args.one_by_one else 'set-based'}: {n} invoices, {customers} customers: {reminded} reminded, {letters} letters sent, {dead} dead letters; "
              f"{elapsed:.2f} s in all ({n / elapsed:.1f} invoices/s, one thread)")
        print("| actor | messages | wall ms/invoice | CPU ms/invoice | PostgreSQL CPU ms/invoice | SQL/invoice |")
        print("|---|---:|---:|---:|---:|---:|")
        for actor in sorted(wall):
            print(f"| {actor} | {msgs[actor]} | {1000 * wall[actor] / n:.2f} | {1000 * cpu[actor] / n:.2f} | "
                  f"{1000 * pg_cpu[actor] / n:.2f} | {sql[actor] / n:.2f} |")
        tw, tc, tp, ts = sum(wall.values()), sum(cpu.values()), sum(pg_cpu.values()), sum(sql.values())
        print(f"| **total** | | **{1000 * tw / n:.2f}** | **{1000 * tc / n:.2f}** | **{1000 * tp / n:.2f}** | **{ts / n:.2f}** |")
        print(json.dumps({"invoices": n, "elapsed_s": elapsed, "wall": wall, "cpu": cpu, "pg_cpu": pg_cpu, "sql": sql,
                          "load": os.getloadavg()}))
        if args.profile:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())
        if reminded != n or dead:
            print("VERIFICATION FAILED", file=sys.stderr)
            return 1
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
