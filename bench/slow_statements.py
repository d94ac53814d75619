"""Which statements were slow, and why: another benchmark run against a PostgreSQL that logs
its own plans.

Starts a throwaway cluster with ``auto_explain`` (every statement over ``--min-ms`` logged with
its executed plan: actual rows, loops, buffers) and lock-wait logging (any wait over 10 ms, with
the tuple and the holder), runs the given benchmark script against it (``--postgres-url``), and
prints per statement (the first line of its text) how often it was slow, its total and its
longest time, then the number of lock waits. ``--plans N`` prints the plans of the N slowest.

    uv run python bench/slow_statements.py [--min-ms 15] [--plans 3] -- bench/pipeline_burst.py --invoices 3000 --runs 1
    uv run python bench/slow_statements.py -- bench/bgmax_import.py --payments 50000 --runs 1

This is how the plans that statistics lagging a burst had spoiled were found (BENCHMARKS.md,
2026-11-29 11:00): a claim of due timers that compared every pending timer with every claimed
one, row-value IN lists scanned per pair, joins that scanned every timer, a batch's 1,000 key
lookups planned as whole-table scans, and the cases two timer messages waited on each other for.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import log  # noqa: E402


def options(min_ms: int) -> str:
    return (f"-c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration={min_ms} "
            "-c auto_explain.log_analyze=on -c auto_explain.log_buffers=on "
            "-c log_lock_waits=on -c deadlock_timeout=10ms")


def summarize(text: str, plans: int) -> str:
    """The log's slow statements grouped by their first line, slowest total first."""
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d )", text)
    groups: dict[str, list[float]] = defaultdict(list)
    slow: list[tuple[float, str]] = []
    for entry in entries:
        m = re.search(r"duration: ([\d.]+) ms\s+plan:\s*\n\s*Query Text: (.*)", entry)
        if not m:
            continue
        ms = float(m.group(1))
        groups[" ".join(m.group(2).split())[:110]].append(ms)
        slow.append((ms, entry))
    lines = ["| times | total ms | longest ms | statement |", "|---:|---:|---:|---|"]
    for q, times in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"| {len(times)} | {sum(times):.0f} | {max(times):.0f} | `{q}` |")
    waits = len(re.findall(r"still waiting for", text))
    lines.append(f"\nlock waits over 10 ms: {waits}")
    for ms, entry in sorted(slow, reverse=True)[:plans]:
        lines.append(f"\n--- {ms:.0f} ms ---\n{entry.strip()}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-ms", type=int, default=15, help="log statements slower than this")
    p.add_argument("--plans", type=int, default=0, help="print the plans of the N slowest statements")
    p.add_argument("script", nargs=argparse.REMAINDER, help="-- a bench script and its arguments")
    args = p.parse_args(argv)
    script = [a for a in args.script if a != "--"]
    if not script:
        p.error("give the benchmark script to run after --")
    from tests.support.postgres import ThrowawayCluster

    log("starting a throwaway PostgreSQL cluster with auto_explain ...")
    pg = ThrowawayCluster(options=options(args.min_ms)).start()
    try:
        run = subprocess.run([sys.executable, *script, "--postgres-url", pg.url], cwd=REPO, text=True,
                             stdout=subprocess.PIPE)
        assert pg.cluster is not None
        text = pg.cluster.logfile.read_text(errors="replace")
    finally:
        pg.close()
    print("\n".join(line for line in run.stdout.strip().splitlines() if not line.startswith("{")))
    print(summarize(text, args.plans))
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
