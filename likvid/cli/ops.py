"""Operator commands: `likvid status` and `likvid dlq list|show|replay|purge`.

``register(cli)`` adds them to the main group (replacing its earlier, backlog-only ``status``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click


def _app() -> Any:
    from likvid.policy import PolicyError
    from likvid.service.app import bootstrap

    try:
        return bootstrap()
    except PolicyError as exc:
        raise click.ClickException(f"invalid policy configuration:\n{exc}") from None


def _redis_url(app: Any, required: bool) -> str | None:
    try:
        return str(app.settings.resolved_redis_url())
    except SystemExit as exc:
        if required:
            raise click.ClickException(str(exc)) from None
        return None


def _worker_metrics_url(app: Any) -> str:
    """Where the running `likvid up` serves its worker metrics ("" when off or not running)."""
    from likvid.runtime.service import is_running

    if not is_running(app.settings):
        return ""
    try:
        return str(json.loads(app.settings.runtime_file.read_text()).get("worker_metrics_url") or "")
    except (OSError, ValueError, AttributeError):
        return ""


@click.command("status")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object, for scripts and monitoring."
)
@click.option(
    "--watch",
    "watch",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Refresh every SECONDS until Ctrl-C.",
)
@click.option(
    "--max-outbox-age",
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="The oldest unprocessed outbox message may be this old before it is a problem.",
)
@click.option(
    "--timer-grace",
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="A timer due longer ago than this (business clock) is overdue.",
)
def status(as_json: bool, watch: float | None, max_outbox_age: float, timer_grace: float) -> None:
    """Queues, outbox, timers, rejected events, workers, overdue objections, reference rates.

    Exits 1 when something is unhealthy (the problems are listed), so it serves as a
    monitoring check.
    """
    from likvid.service.operations import render_status
    from likvid.service.operations import status as get_status

    app = _app()
    url = _redis_url(app, required=False)

    def once() -> bool:
        data = get_status(app, url, outbox_age_limit_s=max_outbox_age, timer_grace_s=timer_grace)
        metrics = _worker_metrics_url(app)
        if metrics:
            data["worker_metrics_url"] = metrics
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False, sort_keys=False))
        else:
            text = render_status(data)
            if metrics:
                head, problems, tail = text.partition("\n\n  problems:")
                text = f"{head}\n  {'worker metrics':<16}{metrics}{problems}{tail}"
            click.echo(text)
        return bool(data["healthy"])

    if watch is None:
        if not once():
            sys.exit(1)
        return
    healthy = True
    try:
        while True:
            if not as_json:
                click.clear()
            healthy = once()
            if not as_json:
                click.echo(f"\n(refreshing every {watch:g} s; Ctrl-C stops)")
            time.sleep(max(watch, 0.1))
    except KeyboardInterrupt:
        pass
    if not healthy:
        sys.exit(1)


@click.group("dlq")
def dlq() -> None:
    """Dead letters: messages that exhausted their retries, and items a batch set aside."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--open", "only_open", is_flag=True, help="Only those not yet replayed.")
def dlq_list(as_json: bool, only_open: bool) -> None:
    """Every dead letter with the last line of its error."""
    from likvid.service.operations import dead_letters

    items = dead_letters(_app(), include_replayed=not only_open)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no dead letters")
        return
    for it in items:
        state = f"replayed {it['replayed_at'][:19]}" if it["replayed_at"] else "NOT REPLAYED"
        what = ", ".join(str(i) for i in it["items"][:5]) + (" ..." if len(it["items"]) > 5 else "")
        click.echo(
            f"{it['id']:>6}  {it['failed_at'][:19]}  {it['queue']:<8} {it['actor']:<17} [{what}]  {state}"
        )
        click.echo(f"        {it['error_summary']}")


@dlq.command("show")
@click.argument("dead_letter_id", type=int)
def dlq_show(dead_letter_id: int) -> None:
    """One dead letter: its message and the whole error."""
    from likvid.service.operations import dead_letter

    item = dead_letter(_app(), dead_letter_id)
    if item is None:
        raise click.ClickException(f"no dead letter {dead_letter_id}")
    error = item.pop("error")
    click.echo(json.dumps(item, ensure_ascii=False, indent=2))
    click.echo("\n" + error)


@dlq.command("replay")
@click.argument("dead_letter_id", type=int)
@click.option("--force", is_flag=True, help="Replay even if it was replayed before.")
def dlq_replay(dead_letter_id: int, force: bool) -> None:
    """Send the message again (through the outbox). Consumers are idempotent: what was already
    applied is not applied twice."""
    from likvid.service.operations import DeadLetterError, replay

    app = _app()
    try:
        message_id = replay(
            app, dead_letter_id, force=force, redis_url=_redis_url(app, required=False)
        )
    except DeadLetterError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"dead letter {dead_letter_id} replayed as message {message_id}")


@dlq.command("purge")
@click.argument("dead_letter_id", type=int, required=False)
@click.option("--replayed", is_flag=True, help="Delete every dead letter already replayed.")
def dlq_purge(dead_letter_id: int | None, replayed: bool) -> None:
    """Delete one dead letter (ID) or every replayed one (--replayed)."""
    from likvid.service.operations import DeadLetterError, purge

    if (dead_letter_id is None) == (not replayed):
        raise click.UsageError("give either a dead letter ID or --replayed")
    app = _app()
    try:
        n = purge(
            app, dead_letter_id, all_replayed=replayed, redis_url=_redis_url(app, required=False)
        )
    except DeadLetterError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{n} dead letter{'s' if n != 1 else ''} purged")


def register(cli: click.Group) -> None:
    """Add `status` (replacing any earlier one) and `dlq` to the main command group."""
    cli.commands.pop("status", None)
    cli.add_command(status)
    cli.commands.pop("dlq", None)
    cli.add_command(dlq)
