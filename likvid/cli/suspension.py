"""`likvid suspension list` (POLICY.md point 8): the suspension tracks, ids only."""

from __future__ import annotations

import json
from typing import Any

import click

#: Every track status; the default lists the running ones (models.suspension.ACTIVE_TRACK).
STATUSES = ("warned", "awaiting_service", "served", "ordered", "restored", "blocked", "lapsed")


def _app() -> Any:
    from likvid.cli.ops import _app as app

    return app()


@click.group()
def suspension() -> None:
    """Suspension of delivery: electricity, district heating and water."""


@suspension.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Default: the running tracks (warned, awaiting_service, served, ordered).")
@click.option("--json", "as_json", is_flag=True)
def suspension_list(statuses: tuple[str, ...], as_json: bool) -> None:
    """Tracks per customer (id only), creditor and delivery point: the step, the earliest day of the
    next one, and why a track was blocked or lapsed."""
    from likvid.db import read_session
    from likvid.models.suspension import ACTIVE_TRACK
    from likvid.service import suspension as service

    app = _app()
    with read_session(app.db) as s:
        items = service.listing(s, app, statuses or ACTIVE_TRACK, app.clock.today(s))
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    click.echo(f"{'track':>6} {'customer':<14} {'creditor':<12} {'delivery point':<16} {'regime':<9} "
               f"{'status':<17} next")
    for it in items:
        nxt = f"{it['next_step']} {it['next_on'] or '(when paid)'}" if it["next_step"] else "-"
        click.echo(f"{it['track_id']:>6} {it['customer_id']:<14} {it['creditor_id']:<12} "
                   f"{it['delivery_point_id']:<16} {it['regime']:<9} {it['status']:<17} {nxt}"
                   + (f"  ({it['reason']})" if it["reason"] else ""))
    if not items:
        click.echo("no suspension tracks in that state")


def register(cli: click.Group) -> None:
    cli.add_command(suspension)
