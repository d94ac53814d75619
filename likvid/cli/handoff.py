"""`likvid handoff export|list|withdraw` and `likvid surveillance list` (POLICY.md point 11)."""

from __future__ import annotations

import json
from typing import Any

import click


def _app() -> Any:
    from likvid.cli.ops import _app as app

    return app()


@click.group()
def handoff() -> None:
    """Hand-offs to Kronofogden or an agency."""


@handoff.command("export")
@click.option("--json", "as_json", is_flag=True)
def handoff_export(as_json: bool) -> None:
    """Write today's hand-off files now (the daily timer does the same; a claim is in one file only)."""
    from likvid.db import transaction
    from likvid.service import handoff as service

    app = _app()
    with transaction(app.db) as s:
        files = service.export(s, app, app.clock.now(s))
        items = [{"creditor_id": f.creditor_id, "target": f.target, "file_date": f.file_date.isoformat(),
                  "seq": f.seq, "claims": f.claims, "total": f"{f.total_ore / 100:.2f}", "path": f.path} for f in files]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for it in items:
        click.echo(f"{it['path']}  {it['claims']} claim(s), {it['total']} kr")
    if not items:
        click.echo("nothing to hand off")


@handoff.command("list")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["waiting", "queued", "exported", "withdrawn", "cancelled", "closed"]),
              help="Default: waiting and queued (what has not left yet).")
@click.option("--json", "as_json", is_flag=True)
def handoff_list(statuses: tuple[str, ...], as_json: bool) -> None:
    """Claims waiting for hand-off (public-law decisions not yet final) and queued for the next file."""
    from likvid.db import read_session
    from likvid.service import handoff as service

    app = _app()
    with read_session(app.db) as s:
        items = service.listing(s, statuses or ("waiting", "queued"))
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for it in items:
        click.echo(f"{it['invoice_id']:<20} {it['status']:<9} {it['target']:<12} {it['reason'] or ''}")
    if not items:
        click.echo("no hand-offs in that state")


@handoff.command("withdraw")
@click.argument("invoice_id")
@click.option("--reason", required=True, help="Why the hand-off is withdrawn (kept on the timeline).")
@click.option("--by", "by", required=True, help="Who withdraws it.")
def handoff_withdraw(invoice_id: str, reason: str, by: str) -> None:
    """Withdraw an exported hand-off by hand: the receiver is told (handoff-adjusted, withdrawal)
    and the claim is routed again from the facts, with fresh time, unless a hold keeps it back."""
    from likvid.db import transaction
    from likvid.service import handoff as service
    from likvid.service.errors import Rejected

    app = _app()
    try:
        with transaction(app.db) as s:
            h = service.withdraw(s, app, app.clock.now(s), invoice_id, reason=reason, by=by)
            handoff_id, target = h.id, h.target
    except Rejected as exc:
        raise click.ClickException(f"{exc.field.upper()} {invoice_id}: {exc.reason}" if exc.field == "invoice_id"
                                   else f"--{exc.field}: {exc.reason}") from None
    click.echo(f"hand-off {handoff_id} to {target} withdrawn; the receiver is told")


@click.group()
def surveillance() -> None:
    """Efterbevakning: limitation dates of claims not fully paid."""


@surveillance.command("list")
@click.option("--json", "as_json", is_flag=True)
def surveillance_list(as_json: bool) -> None:
    """Watched claims: expired, at risk, due (interrupting demand soon) or watching."""
    from likvid.db import read_session
    from likvid.service import surveillance as service

    app = _app()
    with read_session(app.db) as s:
        items = service.listing(s, app, app.clock.today(s))
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    click.echo(f"{'invoice':<20} {'state':<9} {'rule':<10} {'limitation':<10}  {'demand on':<10}  balance")
    for it in items:
        click.echo(f"{it['invoice_id']:<20} {it['state']:<9} {it['rule']:<10} {it['limitation_date']:<10}  "
                   f"{it['demand_on'] or '-':<10}  {it['balance']:>10}")
    if not items:
        click.echo("no claims under surveillance")


def register(cli: click.Group) -> None:
    cli.add_command(handoff)
    cli.add_command(surveillance)
