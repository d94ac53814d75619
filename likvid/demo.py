"""`likvid demo`: about 20 customers over three simulated months, through the real pipeline.

It starts the whole service on embedded defaults (SQLite, a Redis server of its own, worker
processes, scheduler, relay) in a fresh state directory, publishes the scenario's events the
way a billing or bank system would, walks the simulated clock forward and prints what happened.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from likvid.clock import STOCKHOLM
from likvid.db import read_session
from likvid.service import show
from likvid.service.app import bootstrap
from likvid.service.progress import advance_to, set_clock, wait_quiet
from likvid.service.publish import publish_lines
from likvid.settings import Settings

START = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
NAMES = [
    "Anna Andersson", "Bertil Berg", "Cecilia Carlsson", "David Dahl", "Eva Ek", "Fredrik Falk",
    "Greta Gustafsson", "Hans Holm", "Ingrid Isaksson", "Johan Jansson", "Karin Kvist",
    "Lars Lund", "Maria Möller", "Nils Nord", "Olivia Olsson", "Per Persson", "Rut Runesson",
    "Sara Sandberg", "Tom Taylor", "Ulla Ullman",
]
# Valid personnummer (Luhn-checked), one per customer.
PNR = [
    "811218-9876", "800101-0019", "790202-0022", "780303-0004", "770404-0008", "760505-0002",
    "750606-0004", "740707-0005", "730808-0009", "720909-0009", "711010-0007", "701111-0002",
    "691212-0009", "680113-0008", "670214-0008", "660315-0008", "650416-0008", "640517-0004",
    "630618-0004", "620719-0007",
]

_n = 0


def _ev(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    global _n
    _n += 1
    return {"id": f"demo-{_n:04d}", "type": type_, "version": 1,
            "occurred_at": START.isoformat(), "source": "demo", "data": data}


def _pnr(i: int) -> str:
    from likvid.rules.ocr import luhn_check_digit

    base = PNR[i][:6] + PNR[i][7:10]
    return f"{base[:6]}-{base[6:]}{luhn_check_digit(base)}"


def scenario() -> dict[str, list[dict[str, Any]]]:
    """The events, grouped by the day they are published."""
    day0: list[dict[str, Any]] = []
    for i, name in enumerate(NAMES, start=1):
        cid = f"C{i:02d}"
        data: dict[str, Any] = {
            "customer_id": cid, "party_type": "person", "identity_number": _pnr(i - 1), "name": name,
            "address": {"street": f"Storgatan {i}", "postal_code": "123 45", "city": "Exempelby"},
            "language": "en" if cid == "C19" else "sv",
        }
        if cid == "C18":
            data["protected_identity"] = True
        day0.append(_ev("customer-registered", data))
    # C20 pays before the invoice is known (bank file earlier than billing).
    day0.append(_ev("payment-received", {"payment_id": "PAY-C20", "invoice_id": "INV-C20", "amount": "1300.00", "paid_on": "2026-01-05"}))
    for i in range(1, 21):
        cid = f"C{i:02d}"
        kind = ("water", "childcare", "waste", "rent", "other")[i % 5]
        day0.append(_ev("invoice-issued", {
            "invoice_id": f"INV-{cid}", "creditor_id": "kommun", "customer_id": cid,
            "invoice_number": f"2026{i:04d}", "issue_date": "2026-01-05", "due_date": "2026-01-31",
            "amount": f"{300 + 50 * i}.00", "claim_kind": kind, "description": f"Avgift januari 2026 ({kind})",
        }))
    # C17 has a second invoice with the same creditor: one consolidated letter.
    day0.append(_ev("invoice-issued", {
        "invoice_id": "INV-C17-B", "creditor_id": "kommun", "customer_id": "C17", "invoice_number": "20260099",
        "issue_date": "2026-01-05", "due_date": "2026-01-31", "amount": "125.50", "claim_kind": "childcare"}))
    # A publisher's mistake: rejected with the field named, nothing stored.
    day0.append(_ev("invoice-issued", {
        "invoice_id": "INV-BAD", "creditor_id": "kommun", "customer_id": "C01", "invoice_number": "1",
        "issue_date": "2026-01-05", "due_date": "2026-01-31", "amount": "-10.00", "claim_kind": "water"}))

    def pay(cid: str, amount: str, on: str, inv: str | None = None) -> dict[str, Any]:
        return _ev("payment-received", {"payment_id": f"PAY-{cid}-{on}", "invoice_id": inv or f"INV-{cid}", "amount": amount, "paid_on": on})

    on_time = [pay(f"C{i:02d}", f"{300 + 50 * i}.00", "2026-01-29") for i in range(1, 9)]
    after_reminder = [pay(f"C{i:02d}", f"{300 + 50 * i}.00", "2026-02-16") for i in range(9, 13)]
    after_reminder.append(pay("C13", "500.00", "2026-02-16"))  # C13 pays 500 of 950: partial
    after_reminder.append(_ev("objection-filed", {
        "objection_id": "OBJ-C14", "invoice_id": "INV-C14", "received_on": "2026-02-16",
        "reason": "Barnet hade ingen plats i januari."}))
    # These two pay what their collection demand says (amounts filled in at run time).
    after_demand = [pay("C17", "0.01", "2026-03-06", None), pay("C19", "0.01", "2026-03-06")]
    after_demand[0]["data"].pop("invoice_id")
    after_demand[0]["data"]["reference"] = "CASE-OCR"  # filled in at run time
    return {"2026-01-28": on_time, "2026-02-16": after_reminder, "2026-03-06": after_demand, "2026-01-05": day0}


def run_demo(home: Path, keep: bool = False, out: Any = print) -> dict[str, Any]:
    from likvid.runtime.service import Service

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("LIKVID_DATABASE_URL", "LIKVID_REDIS_URL", "LIKVID_POLICY")}
    env.update({"LIKVID_HOME": str(home), "LIKVID_CLOCK": "simulated",
                "LIKVID_SCHEDULER_INTERVAL_MS": "100", "LIKVID_RELAY_INTERVAL_MS": "10"})
    os.environ.clear()
    os.environ.update(env)
    settings = Settings.from_env(env)
    service = Service(settings, processes=1, threads=4)
    out(f"Likvid demo: state in {home}; starting Redis, workers, scheduler and relay ...")
    started = time.monotonic()
    service.start()
    supervisor = threading.Thread(target=service.supervise, daemon=True)
    supervisor.start()
    try:
        app = bootstrap(settings, fresh=True)
        set_clock(app, START)
        events = scenario()
        plan = ["2026-01-05", "2026-01-28", "2026-02-16", "2026-03-06"]
        for day in plan:
            target = datetime.fromisoformat(day).replace(hour=8, tzinfo=STOCKHOLM)
            advance_to(app, target, wait=True, timeout=300)
            batch = events.get(day, [])
            if day == "2026-03-06":
                _fill_in_demanded_amounts(app, batch)
            results, accepted = publish_lines(app, [json.dumps(e) for e in batch])
            wait_quiet(app, 300, accepted)
            counts = Counter(r["status"] for r in results)
            out(f"{day}: published {len(batch)} events ({', '.join(f'{v} {k}' for k, v in counts.items())})")
            for r in results:
                if r["status"] == "rejected":
                    out(f"    rejected {r['id']}: " + "; ".join(f"{e['field']} {e['reason']}" for e in r["errors"]))
        final = datetime(2026, 4, 5, 8, 0, tzinfo=STOCKHOLM)
        advance_to(app, final, wait=True, timeout=300)
        summary = _report(app, out)
        out(f"\nLetters are under {settings.letters_dir}; `LIKVID_HOME={home} LIKVID_CLOCK=simulated likvid show invoice INV-C15` shows one claim.")
        out(f"Demo finished in {time.monotonic() - started:.1f} s of real time.")
        return summary
    finally:
        service.stop()
        if not keep:
            pass  # the state stays for inspection until the next demo run replaces it


def _fill_in_demanded_amounts(app: Any, batch: list[dict[str, Any]]) -> None:
    """C17 pays both claims with the case's OCR reference; C19 pays her one claim in full."""
    from likvid.models import CollectionCase
    from likvid.rules.money import kronor_str, parse_kronor

    with read_session(app.db) as s:
        c17 = show.customer(s, "C17")
        c19 = show.invoice(s, "INV-C19")
        assert c17 is not None and c19 is not None
        case = s.get(CollectionCase, show.invoice(s, "INV-C17")["case_id"])  # type: ignore[index]
        assert case is not None
        batch[0]["data"]["reference"] = case.ocr_reference
        batch[0]["data"]["amount"] = kronor_str(sum(parse_kronor(i["balance"]["total"]) for i in c17["invoices"]))
        batch[1]["data"]["amount"] = c19["balance"]["total"]


def _report(app: Any, out: Any) -> dict[str, Any]:
    out("\nTimeline (business dates):")
    stages: Counter[str] = Counter()
    letters: Counter[str] = Counter()
    with read_session(app.db) as s:
        for i in range(1, 21):
            cid = f"C{i:02d}"
            cust = show.customer(s, cid)
            assert cust is not None
            for inv_summary in cust["invoices"]:
                inv = show.invoice(s, inv_summary["invoice_id"])
                assert inv is not None
                key = inv["status"] if inv["status"] != "open" else inv["stage"]
                stages[key] += 1
                for letter in inv["letters"]:
                    if letter["status"] == "sent" and letter["included"]:
                        letters[letter["kind"]] += 1
                steps = [f"{t['at'][:10]} {t['type']}" for t in inv["timeline"]
                         if t["type"] not in ("letter-ready",)]
                out(f"  {cid} {inv['invoice_id']:<10} {inv['amount']:>8} kr  → {key:<10} owes {inv['balance']['total']:>8}")
                for line in steps:
                    out(f"      {line}")
    out("\nSummary:")
    for k, v in sorted(stages.items()):
        out(f"  claims {k:<12} {v}")
    for k, v in sorted(letters.items()):
        out(f"  letters {k:<22} {v} (claim mentions)")
    return {"stages": dict(stages), "letters": dict(letters)}
