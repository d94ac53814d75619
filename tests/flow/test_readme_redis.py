"""The README's worked example of publishing straight onto Redis, replayed byte for byte."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from likvid.db import read_session
from likvid.models import ParkedEvent, ReceivedEvent
from tests.support.pipeline import Pipeline, running_pipeline

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def pipe(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(sqlite_url, redis_url, tmp_path / "home") as p:
        yield p


def test_the_readme_redis_example_publishes_an_event(pipe: Pipeline) -> None:
    block = re.search(r"```redis\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "the README has no ```redis block"
    client = redis.Redis.from_url(pipe.redis_url)
    for line in block.group(1).splitlines():
        if line.strip():
            client.execute_command(*shlex.split(line.strip()))
    deadline = time.monotonic() + 30
    stored_type = None
    while time.monotonic() < deadline and stored_type is None:
        with read_session(pipe.app.db) as s:
            stored = s.get(ReceivedEvent, "readme-example-1")
            stored_type = stored.type if stored is not None else None
        time.sleep(0.1)
    assert stored_type == "invoice-due"
    # The invoice is not known here, so the event waits for it, as the contract says.
    with read_session(pipe.app.db) as s:
        assert s.query(ParkedEvent).filter_by(event_id="readme-example-1").count() == 1
