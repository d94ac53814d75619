"""Operations through the real pipeline: a real failure becomes a dead letter that `likvid dlq`
lists and replays once; `likvid status --json` sees a queue grow while the workers are paused
and the service healthy again once they drain it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from likvid.cli.ops import register
from likvid.db import read_session
from likvid.models import Letter
from likvid.service.progress import wait_quiet
from likvid.service.publish import publish_lines
from tests.support.pipeline import Pipeline, customer, invoice, running_pipeline


@pytest.fixture
def pipe(
    sqlite_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    with running_pipeline(sqlite_url, redis_url, tmp_path / "home") as p:
        from likvid.service import app as app_module

        monkeypatch.setattr(app_module, "_APP", p.app)  # what `bootstrap()` in the commands returns
        yield p


def likvid(*args: str) -> Result:
    group = click.Group("likvid")
    register(group)
    return CliRunner().invoke(group, list(args), catch_exceptions=False)


def status_json(*extra: str) -> tuple[int, dict[str, Any]]:
    out = likvid("status", "--json", *extra)
    return out.exit_code, json.loads(out.output)


def test_a_real_failure_is_dead_lettered_listed_and_replayed_once(pipe: Pipeline) -> None:
    """The failure is real: the letters directory cannot be written (a plain file stands where
    the directory should be, as after a bad mount), so rendering the reminder raises
    NotADirectoryError in the dispatcher. run_batch sets the letter aside as a dead letter and
    rolls its transaction back (no fee, no "reminder-sent"). Once the directory is repaired the
    replay sends the letter; a second replay is refused, and a forced one changes nothing,
    because the dispatcher sees the letter already sent."""
    letters_dir = pipe.app.settings.letters_dir
    letters_dir.parent.mkdir(parents=True, exist_ok=True)
    letters_dir.write_text("not a directory\n")
    # Given an unpaid invoice whose reminder falls due
    pipe.publish(customer("C1"), invoice("I1", "C1", "1000.00", due="2026-01-30"))
    pipe.advance("40d")
    assert "reminder-sent" not in pipe.timeline_types("I1")
    # Then `likvid dlq list` shows the letter's dispatch with its error
    out = likvid("dlq", "list", "--json")
    assert out.exit_code == 0, out.output
    [dead] = json.loads(out.output)
    with read_session(pipe.app.db) as s:
        [(letter_id, letter_status)] = s.execute(
            select(Letter.id, Letter.status).where(Letter.kind == "reminder")
        )
    assert letter_status == "pending"
    assert (dead["actor"], dead["queue"], dead["items"]) == (
        "dispatch_letters",
        "letters",
        [letter_id],
    )
    assert "NotADirectoryError" in dead["error_summary"] and dead["replayed_at"] is None
    shown = likvid("dlq", "show", str(dead["id"]))
    assert shown.exit_code == 0 and "Traceback" in shown.output and letter_id in shown.output
    # and status is unhealthy because of it
    code, data = status_json()
    assert (
        code == 1
        and data["dead_letters"]["unreplayed"] == 1
        and data["queues"]["letters"]["dead_letters"] == 1
    )
    assert any("dead letter" in p for p in data["problems"]), data["problems"]

    # When the directory is repaired and the dead letter replayed
    letters_dir.unlink()
    out = likvid("dlq", "replay", str(dead["id"]))
    assert out.exit_code == 0, out.output
    wait_quiet(pipe.app, 60)
    # Then the reminder went out exactly once
    assert pipe.timeline_types("I1").count("reminder-sent") == 1
    sent = [x for x in pipe.invoice("I1")["letters"] if x["kind"] == "reminder"]
    assert [x["status"] for x in sent] == ["sent"] and Path(sent[0]["path"]).is_file()
    fees = pipe.invoice("I1")["balance"]["fees"]
    # and replaying it again is refused; forced, it has no second effect
    again = likvid("dlq", "replay", str(dead["id"]))
    assert again.exit_code != 0 and "--force" in again.output
    forced = likvid("dlq", "replay", str(dead["id"]), "--force")
    assert forced.exit_code == 0, forced.output
    wait_quiet(pipe.app, 60)
    assert pipe.timeline_types("I1").count("reminder-sent") == 1
    assert pipe.invoice("I1")["balance"]["fees"] == fees
    # and the service is healthy again; purging the replayed letter empties the list
    code, data = status_json()
    assert code == 0 and data["healthy"], data["problems"]
    assert likvid("dlq", "purge", "--replayed").exit_code == 0
    assert json.loads(likvid("dlq", "list", "--json").output) == []


def _wait_for(predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, data = status_json("--max-outbox-age", "1")
        if predicate(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_status_sees_a_growing_queue_while_workers_are_stopped_and_health_after_they_drain(
    pipe: Pipeline,
) -> None:
    assert pipe.worker is not None
    code, data = status_json()
    assert code == 0 and data["healthy"], data["problems"]
    assert data["queues"]["ingest"]["depth"] == 0 and data["workers"]["live"] >= 1
    # Given the workers stopped
    pipe.worker.pause()
    accepted: list[str] = []
    depths = []
    # When events keep arriving (one ingest message per publish)
    for i in range(3):
        _, ids = publish_lines(pipe.app, [json.dumps(customer(f"C{i}"))])
        accepted += ids
        data = _wait_for(lambda d, n=i + 1: d["queues"]["ingest"]["depth"] >= n)
        depths.append(data["queues"]["ingest"]["depth"])
    # Then status shows the ingest queue growing, and unhealthy once the backlog is old
    assert depths == [1, 2, 3]
    time.sleep(1.2)
    out = likvid("status", "--json", "--max-outbox-age", "1")
    data = json.loads(out.output)
    assert out.exit_code == 1 and not data["healthy"]
    assert data["outbox"]["unprocessed"] == 3 and data["outbox"]["oldest_unprocessed_age_s"] > 1
    assert any("outbox" in p for p in data["problems"]), data["problems"]
    human = likvid("status", "--max-outbox-age", "1")
    assert human.exit_code == 1 and "UNHEALTHY" in human.output and "ingest" in human.output
    # When the workers resume and drain it
    pipe.worker.resume()
    wait_quiet(pipe.app, 60, accepted)
    # Then the queue is empty and the service healthy (exit status 0)
    code, data = status_json("--max-outbox-age", "1")
    assert code == 0 and data["healthy"], data["problems"]
    assert data["queues"]["ingest"]["depth"] == 0 and data["outbox"]["unprocessed"] == 0
    human = likvid("status")
    assert human.exit_code == 0 and "HEALTHY" in human.output
