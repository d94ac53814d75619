"""The README's first command: `likvid demo` runs on embedded defaults (SQLite, its own Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_scenario_through_the_real_service(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKVID_")}
    env["LIKVID_HOME"] = str(tmp_path / "var")
    done = subprocess.run([sys.executable, "-m", "likvid", "demo"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "rejected demo-0043: data.amount must not be negative" in out
    assert "claims settled" in out and "claims handed_off" in out
    assert "collection-demand-sent" in out and "objection-acknowledged" in out
    letters = list((tmp_path / "var" / "demo" / "letters").rglob("*.txt"))
    assert letters, "the demo wrote no letters"
    # The protected-identity customer's letters carry Skatteverket's forwarding address only.
    c18 = [p for p in letters if "Sara Sandberg" in p.read_text(encoding="utf-8")]
    assert c18 and all("Storgatan 18" not in p.read_text(encoding="utf-8") for p in c18)
    assert all("Box 2820" in p.read_text(encoding="utf-8") for p in c18)
    # The service's own logs (worker processes, scheduler, relay) carry no identity number.
    from tests.unit.test_zz_log_scan import identity_numbers_in

    logs = list((tmp_path / "var" / "demo" / "run").glob("*.log"))
    assert logs
    for log in logs:
        assert identity_numbers_in(log.read_text(encoding="utf-8", errors="replace")) == [], log
