"""Handlers' and the municipality's views: `likvid risk list` and `likvid report`.

``register(cli)`` adds them to the main group.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from likvid.cli.ops import _app


@click.group("risk")
def risk() -> None:
    """Risk scores per customer (POLICY.md points 4 and 5)."""


@risk.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, factor by factor.")
def risk_list(as_json: bool) -> None:
    """The follow-up list: customers at or above [risk] follow_up_from, highest score first."""
    from likvid.db import read_session
    from likvid.service import risk as risk_service

    app = _app()
    with read_session(app.db) as s:
        rows = risk_service.follow_up(s, app.policy, app.clock.now(s))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    threshold = app.policy.file.risk.follow_up_from
    if not rows:
        click.echo(f"No customer has a risk score of {threshold} or more.")
        return
    click.echo(f"{'customer':<16} {'score':>5}  factors (count × weight = points)")
    for row in rows:
        parts = [f"{f['factor']} {f['count']}×{f['weight']}={f['points']}" for f in row["factors"] if f["count"]]
        click.echo(f"{row['customer_id']:<16} {row['score']:>5}  {', '.join(parts)}")


def _day(ctx: Any, param: Any, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("must be a date YYYY-MM-DD") from None


@click.command("report")
@click.option("--from", "start", required=True, callback=_day, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", required=True, callback=_day, help="Last day of the period (YYYY-MM-DD).")
@click.option("--creditor", help="Only this creditor.")
@click.option("--claim-kind", help="Only this claim kind.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "html"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
def report(start: date, end: date, creditor: str | None, claim_kind: str | None, fmt: str, output: Path | None) -> None:
    """Whether the policy works: outcomes by stage, write-offs, handling cost, DSO, ageing."""
    from likvid.db import read_session
    from likvid.policy import CLAIM_KINDS
    from likvid.service import report as report_service

    app = _app()
    if creditor is not None and creditor not in app.policy.creditors:
        raise click.BadParameter(f"is not a configured creditor ({', '.join(sorted(app.policy.creditors))})",
                                 param_hint="--creditor")
    if claim_kind is not None and claim_kind not in CLAIM_KINDS:
        raise click.BadParameter(f"is not a claim kind ({', '.join(CLAIM_KINDS)})", param_hint="--claim-kind")
    try:
        f = report_service.ReportFilter(start, end, creditor, claim_kind)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    with read_session(app.db) as s:
        data = report_service.build(s, f)
    text = {"json": lambda: json.dumps(data, ensure_ascii=False, indent=2) + "\n",
            "html": lambda: report_service.as_html(data), "table": lambda: report_service.as_table(data)}[fmt]()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


def register(cli: click.Group) -> None:
    cli.add_command(risk)
    cli.add_command(report)
