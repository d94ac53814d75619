"""`likvid tasks list|done`: work for a collection handler (debt restructuring, bankruptcy,
an estate)."""

from __future__ import annotations

import json
from typing import Any

import click


def _app() -> Any:
    from likvid.cli.ops import _app as app

    return app()


@click.group()
def tasks() -> None:
    """Handler tasks: report a claim in a debt restructuring, lodge it in a bankruptcy, contact an estate."""


@tasks.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only tasks not done yet.")
@click.option("--json", "as_json", is_flag=True)
def tasks_list(only_open: bool, as_json: bool) -> None:
    """Tasks, open ones first and the soonest due first."""
    from likvid.db import read_session
    from likvid.service import tasks as service

    app = _app()
    with read_session(app.db) as s:
        items = service.listing(s, app.clock.today(s), only_open=only_open)
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for it in items:
        state = f"done {it['done_at'][:10]}" if it["done_at"] else ("OVERDUE" if it["overdue"] else "open")
        click.echo(f"{it['task_id']:>6}  {state:<15} due {it['due_on'] or '-':<10}  {it['customer_id']:<20} "
                   f"{it['kind']:<26} {it['text']}")
    if not items:
        click.echo("no tasks")


@tasks.command("done")
@click.argument("task_id", type=int)
@click.option("--by", "by", required=True, help="Who did it.")
@click.option("--note", help="What was done (kept on the timeline).")
def tasks_done(task_id: int, by: str, note: str | None) -> None:
    """Mark a task done; who and the note go on the customer's timeline."""
    from likvid.db import transaction
    from likvid.service import tasks as service
    from likvid.service.errors import Rejected

    app = _app()
    try:
        with transaction(app.db) as s:
            service.done(s, app.clock.now(s), task_id, by=by, note=note)
    except Rejected as exc:
        raise click.ClickException(f"TASK_ID {task_id}: {exc.reason}" if exc.field == "task_id"
                                   else f"--{exc.field}: {exc.reason}") from None
    click.echo(f"task {task_id} done")


def register(cli: click.Group) -> None:
    cli.add_command(tasks)
