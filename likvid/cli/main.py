"""The `likvid` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import click

from likvid.clock import STOCKHOLM, parse_duration


def _app() -> Any:
    from likvid.policy import PolicyError
    from likvid.service.app import bootstrap

    try:
        return bootstrap()
    except PolicyError as exc:
        raise click.ClickException(f"invalid policy configuration:\n{exc}") from None


def _log_setup(verbose: bool = False) -> None:
    from likvid.logs import setup_logging

    setup_logging(logging.DEBUG if verbose else logging.INFO)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Likvid: invoice follow-up and debt collection for a Swedish municipality.

    State lives under LIKVID_HOME (default ./var). See README.md.
    """


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from likvid.service.app import prepare

    app = _app()
    prepare(app)
    click.echo(f"database at head: {_safe_url(app.db)}")


@cli.command()
@click.option("--processes", default=2, show_default=True, help="Worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per worker process.")
def up(processes: int, threads: int) -> None:
    """Run the whole service: embedded Redis (unless LIKVID_REDIS_URL), workers, scheduler, relay."""
    from likvid.runtime.service import Service, is_running

    _log_setup()
    app = _app()
    if is_running(app.settings):
        raise click.ClickException(f"an instance already runs for LIKVID_HOME={app.settings.home}")
    _warn_missing_rate(app)
    service = Service(app.settings, processes=processes, threads=threads)
    click.echo(f"likvid up: LIKVID_HOME={app.settings.home}; Ctrl-C stops it")
    service.run_forever()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, envvar="LIKVID_API_PORT")
def api(host: str, port: int) -> None:
    """Run the HTTP ingest API (tokens from LIKVID_API_TOKENS_FILE)."""
    from likvid.api import serve

    _app()
    serve(host, port)


@cli.command()
@click.option("--processes", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
@click.option("--queues", multiple=True, help="Queues to consume (ingest, payments, steps, letters, email); default all.")
def worker(processes: int, threads: int, queues: tuple[str, ...]) -> None:
    """Run dramatiq worker processes (scale each queue group alone with --queues)."""
    app = _app()
    os.environ.setdefault("LIKVID_REDIS_URL", app.settings.resolved_redis_url())
    from likvid.runtime.service import worker_argv, worker_environment
    from likvid.workers.broker import worker_metrics_port, worker_metrics_url

    port = worker_metrics_port(app.settings)
    if port is not None:
        os.environ["LIKVID_WORKER_METRICS_PORT"] = str(port)
        click.echo(f"worker metrics: {worker_metrics_url(app.settings.worker_metrics_host, port)}", err=True)
    os.environ.update(worker_environment(dict(os.environ)))
    os.execv(sys.executable, worker_argv(processes, threads, queues, metrics=port is not None))


@cli.command()
def scheduler() -> None:
    """Run the timer scheduler (several may run; no timer fires twice)."""
    from likvid.runtime.gc_tuning import tune
    from likvid.workers import scheduler as sched

    _log_setup()
    app = _app()
    tune(app.settings.gc_threshold)
    _run_loop(lambda stop: sched.run(app, stop))


@cli.command()
def relay() -> None:
    """Run the outbox relay (publishes committed messages to Redis)."""
    from likvid.runtime.gc_tuning import tune
    from likvid.workers.broker import configure
    from likvid.workers.relay import Relay

    _log_setup()
    app = _app()
    url = app.settings.resolved_redis_url()
    relay = Relay(app, configure(url), url)
    tune(app.settings.gc_threshold)
    _run_loop(relay.run)


def _warn_missing_rate(app: Any) -> None:
    """SWEDISH-RULES.md §2: a half-year without a reference rate is never guessed; say so."""
    from likvid.db import read_session

    with read_session(app.db) as s:
        today = app.clock.today(s)
    half = today.replace(month=1 if today.month < 7 else 7, day=1)
    if not any(r.valid_from == half for r in app.policy.reference_rates):
        click.echo(f"warning: no reference rate (referensränta) for the half-year from {half} in the policy: "
                   "interest is charged only up to the last known half-year until it is entered", err=True)


def _run_loop(fn: Any) -> None:
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fn(stop)


@cli.command()
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--wait", is_flag=True, help="Return once everything the events caused has been processed.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds --wait waits at most.")
def publish(source: Any, wait: bool, timeout: float) -> None:
    """Publish events from a JSON-lines FILE (or - for standard input).

    Prints one result line per event; exits 1 if any was rejected.
    """
    from likvid.service.progress import NotQuiet, wait_quiet
    from likvid.service.publish import publish_lines

    app = _app()
    results, accepted = publish_lines(app, source)
    for r in results:
        click.echo(json.dumps(r, ensure_ascii=False))
    if wait:
        try:
            wait_quiet(app, timeout, accepted)
        except NotQuiet as exc:
            raise click.ClickException(str(exc)) from None
    if any(r["status"] == "rejected" for r in results):
        sys.exit(1)


@cli.group()
def show() -> None:
    """Look at a claim or a customer as the service sees it."""


def _print(data: dict[str, Any] | None, as_json: bool, what: str) -> None:
    from likvid.cli.render import human

    if data is None:
        raise click.ClickException(f"no such {what}")
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else human(data))


@show.command("invoice")
@click.argument("invoice_id")
@click.option("--json", "as_json", is_flag=True)
def show_invoice(invoice_id: str, as_json: bool) -> None:
    from likvid.db import read_session
    from likvid.service import show as show_service

    app = _app()
    with read_session(app.db) as s:
        _print(show_service.invoice(s, invoice_id, app), as_json, "invoice")


@show.command("customer")
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True)
def show_customer(customer_id: str, as_json: bool) -> None:
    from likvid.db import read_session
    from likvid.service import show as show_service

    app = _app()
    with read_session(app.db) as s:
        _print(show_service.customer(s, customer_id, app), as_json, "customer")


@cli.group()
def clock() -> None:
    """The business clock (set and advance need LIKVID_CLOCK=simulated)."""


@clock.command("show")
def clock_show() -> None:
    from likvid.db import read_session

    app = _app()
    with read_session(app.db) as s:
        click.echo(app.clock.now(s).isoformat())


def _parse_instant(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=STOCKHOLM)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD or an ISO 8601 instant") from None
    return value if value.tzinfo else value.replace(tzinfo=STOCKHOLM)


@clock.command("set")
@click.argument("when")
@click.option("--wait", is_flag=True, help="Return once every step due by then has run.")
@click.option("--timeout", default=600.0, show_default=True)
def clock_set(when: str, wait: bool, timeout: float) -> None:
    """Move the simulated clock forward to WHEN (YYYY-MM-DD or an ISO instant)."""
    _advance(_parse_instant(when), wait, timeout)


@clock.command("advance")
@click.argument("duration")
@click.option("--wait", is_flag=True, help="Return once every step due by then has run.")
@click.option("--timeout", default=600.0, show_default=True)
def clock_advance(duration: str, wait: bool, timeout: float) -> None:
    """Advance the simulated clock by DURATION (14d, 2w, 36h)."""
    from likvid.db import read_session

    try:
        delta = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    app = _app()
    with read_session(app.db) as s:
        now = app.clock.now(s)
    _advance(now + delta, wait, timeout)


def _advance(target: datetime, wait: bool, timeout: float) -> None:
    from likvid.runtime.service import is_running
    from likvid.service.progress import NotQuiet, advance_to, set_clock

    app = _app()
    if not app.clock.simulated:
        raise click.ClickException("the clock can be moved only with LIKVID_CLOCK=simulated")
    try:
        if is_running(app.settings):
            stops = advance_to(app, target, wait=wait, timeout=timeout)
            click.echo(f"{target.isoformat()} ({stops} step instants on the way)")
        else:
            # Nothing runs the steps now; they catch up, each once, when the service starts.
            set_clock(app, target)
            click.echo(f"{target.isoformat()} (no running service: due steps run when it starts)")
    except NotQuiet as exc:
        raise click.ClickException(str(exc)) from None


@cli.group()
def rejected() -> None:
    """Events that were refused, with the reasons."""


@rejected.command("list")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def rejected_list(limit: int, as_json: bool) -> None:
    from sqlalchemy import select

    from likvid.clock import from_db
    from likvid.db import read_session
    from likvid.models import RejectedEvent

    with read_session(_app().db) as s:
        rows = list(s.scalars(select(RejectedEvent).order_by(RejectedEvent.id.desc()).limit(limit)))
        items = [{"received_at": from_db(r.received_at).isoformat(), "id": r.event_id, "type": r.event_type,
                  "source": r.source, "reasons": r.reasons} for r in rows]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no rejected events")
    for it in items:
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in it["reasons"])
        click.echo(f"{it['received_at']}  {it['id'] or '-'}  {it['type'] or '-'}  {reasons}")


@cli.group("import")
def import_() -> None:
    """Import bank files."""


@import_.command("bgmax")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-test", is_flag=True, help="Accept a test file (test mark T).")
@click.option("--wait", is_flag=True, help="Return once every payment has been applied.")
def import_bgmax_command(path: Path, allow_test: bool, wait: bool) -> None:
    """Import a BgMax file: verified whole first, then each OCR payment published once."""
    from likvid.bgmax import BgMaxError, verify_ahead

    ahead = verify_ahead(path)  # in a child process, while this one loads the service
    from likvid.runtime.gc_tuning import tune
    from likvid.service.bankfile import import_bgmax
    from likvid.service.progress import wait_quiet

    app = _app()
    tune(app.settings.gc_threshold)  # a file of 100,000 payments allocates millions of objects
    try:
        summary = ahead.result()
        if sys.stderr.isatty():
            with click.progressbar(length=sum(1 for _ in open(path, "rb")), label="payments", file=sys.stderr) as bar:
                result = import_bgmax(app, path, allow_test=allow_test, progress=bar.update, verified=summary)
        else:
            result = import_bgmax(app, path, allow_test=allow_test, verified=summary)
    except BgMaxError as exc:
        raise click.ClickException(f"{path}: nothing imported: {exc}") from None
    for sec in result.per_section:
        click.echo(f"section {sec['section']}: bankgiro {sec['bankgiro']}, {sec['payment_date']}, {sec['amount']} kr")
    click.echo(f"payments {result.payments}: matched by OCR {result.matched}, already imported {result.duplicates}, "
               f"unmatched {result.unmatched}, rejected {result.rejected}")
    if wait:
        wait_quiet(app, 600, result.accepted_ids)
    if result.rejected:
        sys.exit(1)


@cli.group()
def payments() -> None:
    """Payments that need a handler."""


@payments.command("unmatched")
@click.option("--json", "as_json", is_flag=True)
def payments_unmatched(as_json: bool) -> None:
    """Payments with no usable reference, and payments waiting for their invoice."""
    from sqlalchemy import select

    from likvid.db import read_session
    from likvid.models import Payment

    with read_session(_app().db) as s:
        rows = s.scalars(select(Payment).where(Payment.status.in_(("unmatched", "parked"))).order_by(Payment.paid_on))
        items = [{"payment_id": p.payment_id, "status": p.status, "amount": f"{p.amount_ore / 100:.2f}",
                  "paid_on": p.paid_on.isoformat(), "reference": p.reference, "payer": p.payer} for p in rows]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for it in items:
        payer = it["payer"] or {}
        click.echo(f"{it['payment_id']}  {it['status']:<9} {it['amount']:>12}  {it['paid_on']}  "
                   f"{it['reference'] or '-'}  {payer.get('name') or ''}")
    if not items:
        click.echo("no unmatched payments")


@payments.command("match")
@click.argument("payment_id")
@click.argument("invoice_id")
@click.option("--wait", is_flag=True)
def payments_match(payment_id: str, invoice_id: str, wait: bool) -> None:
    """Match an unmatched payment to an invoice by hand; it is then allocated like any payment."""
    from likvid.db import read_session
    from likvid.models import Payment
    from likvid.service.progress import wait_quiet
    from likvid.service.publish import publish_lines

    app = _app()
    with read_session(app.db) as s:
        p = s.get(Payment, payment_id)
        if p is None or p.status != "unmatched":
            raise click.ClickException(f"{payment_id} is not an unmatched payment")
        if p.amount_ore <= 0:
            raise click.ClickException(f"{payment_id} is a deduction: settle it with the bank, not an invoice")
        event = {"id": f"match:{payment_id}"[:100], "type": "payment-received", "version": 1,
                 "occurred_at": app.clock.now(s).isoformat(), "source": "likvid-match",
                 "data": {"payment_id": payment_id, "amount": f"{p.amount_ore // 100}.{p.amount_ore % 100:02d}",
                          "paid_on": p.paid_on.isoformat(), "invoice_id": invoice_id, "channel": "bankgiro"}}
    results, accepted = publish_lines(app, [json.dumps(event)])
    click.echo(json.dumps(results[0]))
    if wait:
        wait_quiet(app, 120, accepted)


@cli.group()
def holds() -> None:
    """Pause collection by hand: for a reason, by someone, optionally until a date."""


@holds.command("add")
@click.option("--invoice", "invoice_id", help="Hold one invoice.")
@click.option("--customer", "customer_id", help="Hold all of a customer's invoices, every creditor.")
@click.option("--reason", required=True)
@click.option("--by", "by", required=True, help="Who decided it.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Ends by itself after this day.")
def holds_add(invoice_id: str | None, customer_id: str | None, reason: str, by: str, until: datetime | None) -> None:
    import uuid

    from likvid.db import transaction
    from likvid.service import holds as holds_service
    from likvid.service.errors import Rejected
    from likvid.service.payments import Parked

    if bool(invoice_id) == bool(customer_id):
        raise click.UsageError("give exactly one of --invoice and --customer")
    app = _app()
    ref = f"M-{uuid.uuid4().hex[:10]}"
    try:
        with transaction(app.db) as s:
            holds_service.manual(s, app, app.clock.now(s), invoice_id=invoice_id, customer_id=customer_id,
                                 reason=reason, by=by, until=until.date() if until else None, ref=ref)
    except Parked:
        raise click.ClickException(f"no invoice {invoice_id}") from None
    except Rejected as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"hold {ref} placed")


@holds.command("lift")
@click.argument("ref")
@click.option("--reason", default="lifted by hand", show_default=True)
def holds_lift(ref: str, reason: str) -> None:
    from likvid.db import transaction
    from likvid.service import holds as holds_service
    from likvid.service.errors import Rejected
    from likvid.service.payments import Parked

    app = _app()
    try:
        with transaction(app.db) as s:
            holds_service.lift(s, app, app.clock.now(s), "manual", ref, reason)
    except (Parked, Rejected):
        raise click.ClickException(f"no open manual hold {ref}") from None
    click.echo(f"hold {ref} lifted; collection resumes with fresh time")


@cli.group()
def objections() -> None:
    """Objections (policy point 6)."""


@objections.command("list")
@click.option("--json", "as_json", is_flag=True)
def objections_list(as_json: bool) -> None:
    """Open objections with their age and review due date; overdue ones are flagged."""
    from datetime import timedelta

    from sqlalchemy import select

    from likvid.db import read_session
    from likvid.models import Hold

    app = _app()
    days = app.policy.file.defaults.objection_review_days
    with read_session(app.db) as s:
        today = app.clock.today(s)
        rows = s.scalars(select(Hold).where(Hold.kind == "objection", Hold.ended_at.is_(None)).order_by(Hold.starts_on))
        items = [{"objection_id": h.ref, "invoice_id": h.claim_id, "received_on": h.starts_on.isoformat(),
                  "age_days": (today - h.starts_on).days, "review_due": (h.starts_on + timedelta(days=days)).isoformat(),
                  "overdue": today > h.starts_on + timedelta(days=days)} for h in rows]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for it in items:
        flag = "  OVERDUE" if it["overdue"] else ""
        click.echo(f"{it['objection_id']:<20} {it['invoice_id']:<20} received {it['received_on']} "
                   f"({it['age_days']} days), review by {it['review_due']}{flag}")
    if not items:
        click.echo("no open objections")


@cli.group()
def letters() -> None:
    """Letters and their templates."""


@letters.command("preview")
@click.argument("kind")
@click.option("--lang", "language", type=click.Choice(["sv", "en"]), default="sv", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="FILE.pdf, FILE.html or FILE.txt: the rendering is chosen by the suffix.")
def letters_preview(kind: str, language: str, out: Path) -> None:
    """Render a letter of KIND with sample data (reminder, collection_demand, handoff_notice,
    objection_acknowledgement)."""
    from likvid.service.pdf import render_pdf
    from likvid.service.render import LETTER_KINDS, OTHER_KINDS, render_letter
    from likvid.service.samples import sample_context

    if kind not in LETTER_KINDS + OTHER_KINDS:
        raise click.BadParameter(f"one of {', '.join(LETTER_KINDS + OTHER_KINDS)}", param_hint="KIND")
    context = sample_context(kind, language)
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        out.write_bytes(render_pdf(kind, language, context))
    elif suffix in (".html", ".txt"):
        rendered = render_letter(kind, language, context)
        out.write_text(rendered.html if suffix == ".html" else rendered.text, encoding="utf-8")
    else:
        raise click.BadParameter("the file must end in .pdf, .html or .txt", param_hint="--out")
    click.echo(f"wrote {out}")


@cli.group()
def policy() -> None:
    """The policy configuration."""


@policy.command("show")
def policy_show() -> None:
    """Print the policy as a readable summary for staff."""
    from likvid.cli.render import policy_summary

    click.echo(policy_summary(_app().policy))


@policy.command("default")
def policy_default() -> None:
    """Print the commented default policy file (a starting point for LIKVID_POLICY)."""
    from likvid.policy import default_policy_text

    click.echo(default_policy_text(), nl=False)


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the demo's state directory afterwards.")
def demo(keep: bool) -> None:
    """Three simulated months, about 20 customers, through the real pipeline."""
    from likvid.demo import run_demo

    run_demo(Path(os.environ.get("LIKVID_HOME", "./var")).resolve() / "demo", keep=keep)


def _safe_url(url: str) -> str:
    from likvid.runtime.service import _masked

    return _masked(url)


def main() -> None:
    cli(prog_name="likvid")


def _register_operations() -> None:
    from likvid.cli import handoff, insight, ops, suspension, tasks

    ops.register(cli)
    insight.register(cli)
    handoff.register(cli)
    tasks.register(cli)
    suspension.register(cli)


_register_operations()


if __name__ == "__main__":
    main()

