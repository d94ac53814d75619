"""Billing peak: N invoices issued, falling due and reminded, on Redis + PostgreSQL, against raw
dramatiq no-op messages/s measured in the same run. Target: invoices/s >= 1.0 x the raw figure.

Each round is one round of ``bench/pipeline_burst.py`` (the same code: ``pipeline_run`` and
``raw_noop``) at billing-peak size: the raw dramatiq baseline (20,000 no-op messages, 2
processes x 8 threads, ``consumed_per_s``) on a fresh Redis, then the whole service as in
production (2 worker processes x 4 threads, scheduler, relay; a fresh PostgreSQL database and
Redis) takes N ``invoice-issued`` events (N/2 customers registered beforehand, not timed),
published the way ``likvid publish`` does (validated, queued through the outbox **in batches
of 100 invoices per ingest message**), and the simulated clock walks to 2026-02-10: every
invoice falls due (2026-01-30) and is reminded (2026-02-09, one consolidated reminder per
customer, rendered to text, HTML and PDF). Timed from the first publish until the last letter
is written; verified in SQL afterwards (every claim reminded, one letter per customer, files,
no dead letters). invoices/s = N / elapsed.

Size: the issue asks for 100,000 invoices. When ``--budget-s`` (default 600 s for all rounds)
cannot hold that at today's speed, a probe round of ``--probe`` invoices (500) measures the
rate first and the rounds run the largest size (in thousands) that fits the budget; the output
says so, with the size asked for and the time it would have taken.

    uv run python bench/billing_peak.py [--invoices 100000] [--runs 3] [--budget-s 600]
                                        [--probe 500] [--postgres-url URL] [--quick]

``--quick``: 1,000 invoices, 1 round, no probe (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/billing_peak.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import closing_facts, log, machine, median, versions  # noqa: E402
from bench.pipeline_burst import RAW_MESSAGES, pipeline_run, raw_noop  # noqa: E402

TARGET_RATIO = 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invoices", type=int, default=None, help="invoices per round (default 100000)")
    ap.add_argument("--runs", type=int, default=None, help="rounds; medians reported (default 3)")
    ap.add_argument("--budget-s", type=float, default=600,
                    help="seconds all timed rounds may take together; the size shrinks to fit (default %(default)s)")
    ap.add_argument("--probe", type=int, default=500, help="invoices in the probe round that sizes the rounds")
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--raw-messages", type=int, default=RAW_MESSAGES)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one wait may take")
    ap.add_argument("--quick", action="store_true", help="1,000 invoices, 1 round, no probe")
    args = ap.parse_args(argv)
    asked = args.invoices or (1_000 if args.quick else 100_000)
    runs = args.runs or (1 if args.quick else 3)

    from bench.common import bench_workdir, open_postgres

    raw: list[float] = []
    rounds: list[dict[str, Any]] = []
    probe: dict[str, Any] | None = None
    size, note = asked, ""
    started = time.perf_counter()
    # bench_workdir: see bench/README.md, "Bytecode"
    with bench_workdir("likvid-bench-peak-") as workdir, open_postgres(args.postgres_url) as pg:
        mach, vers = machine(), versions(pg)
        if not args.quick and asked > args.probe:
            log(f"probe: {args.probe} invoices to size the rounds ...")
            probe = pipeline_run(pg, args.probe, max(1, args.probe // 2), args.processes, args.threads,
                                 workdir, args.timeout)
            rate = probe["events_per_s"]
            fits = int(rate * args.budget_s / runs // 1000 * 1000)
            if fits < asked:
                size = max(fits, args.probe)
                note = (f"{asked:,} invoices would take about {asked / rate:,.0f} s per round at the probed "
                        f"{rate:,.1f} invoices/s; ran {size:,} per round to fit the {args.budget_s:.0f} s budget")
                log(note)
        raw_impl = ""
        for n in range(1, runs + 1):
            log(f"round {n}/{runs}: raw dramatiq no-op, {args.raw_messages} messages ...")
            rate_raw, raw_impl, _ = raw_noop(args.raw_messages, workdir, "auto")
            raw.append(rate_raw)
            log(f"  raw: {rate_raw:,.0f} msgs/s")
            log(f"round {n}/{runs}: {size:,} invoices for {size // 2:,} customers ...")
            run = pipeline_run(pg, size, max(1, size // 2), args.processes, args.threads, workdir, args.timeout)
            rounds.append(run)
            log(f"  {run['events_per_s']:,.1f} invoices/s ({run['elapsed_s']:.1f} s)")

    raw_med = median(raw)
    peak_med = median(r["events_per_s"] for r in rounds)
    ratio = peak_med / raw_med
    ok = ratio >= TARGET_RATIO
    print()
    print(f"Billing peak: {size:,} invoices issued -> due -> reminded ({size // 2:,} customers), {runs} round(s), "
          f"{mach['cores']} cores")
    if note:
        print(f"size: {note}")
    print(f"{'round':>5} {'raw no-op msgs/s':>17} {'invoices/s':>11} {'elapsed s':>10} {'ingest s':>9} {'advance s':>10}")
    for i, (r, p) in enumerate(zip(raw, rounds, strict=True), start=1):
        print(f"{i:>5} {r:>17,.0f} {p['events_per_s']:>11,.1f} {p['elapsed_s']:>10.1f} "
              f"{p['publish_s'] + p['ingest_wait_s']:>9.1f} {p['advance_s']:>10.1f}")
    print(f"{'med':>5} {raw_med:>17,.0f} {peak_med:>11,.1f}")
    if probe:
        print(f"probe: {args.probe} invoices, {probe['events_per_s']:,.1f} invoices/s")
    print(f"ratio invoices/s / raw no-op msgs/s = {ratio:.4f}   target >= {TARGET_RATIO}   {'PASS' if ok else 'FAIL'}")
    print(json.dumps({
        "benchmark": "billing_peak", "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "invoices_asked": asked, "invoices": size, "size_note": note, "runs": runs,
        "raw_noop_msgs_per_s_median": round(raw_med, 1), "invoices_per_s_median": round(peak_med, 2),
        "ratio": round(ratio, 5), "target_ratio": TARGET_RATIO, "pass": ok,
        "raw_noop_msgs_per_s_runs": [round(r, 1) for r in raw],
        "rounds": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items() if k != "phases"}
                   for r in rounds],
        "probe": probe and {k: (round(v, 2) if isinstance(v, float) else v) for k, v in probe.items() if k != "phases"},
        "baseline": raw_impl, "service": {"processes": args.processes, "threads": args.threads},
        **closing_facts(started, mach, vers),
    }, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
