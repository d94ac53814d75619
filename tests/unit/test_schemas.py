"""The committed JSON Schema files are exactly what the models generate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from likvid.messages import EVENT_TYPES
from likvid.messages.events import AMOUNT_PATTERN, POSITIVE_AMOUNT_PATTERN
from likvid.messages.schema import (
    DRAFT,
    INDEX_FILE,
    SCHEMA_DIR,
    drifted,
    generate,
    main,
    render,
    schema_id,
    write,
)
from likvid.rules.money import parse_kronor

GENERATED = generate()
REGENERATE = "out of date: run `uv run python -m likvid.messages.schema`"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = SCHEMA_DIR / name
    assert committed.is_file(), f"{name} is missing; {REGENERATE}"
    assert committed.read_text(encoding="utf-8") == GENERATED[name], f"{name} is {REGENERATE}"


def test_no_stale_schema_files_are_committed() -> None:
    assert drifted() == [], REGENERATE


def test_one_file_per_inbound_type_plus_the_index() -> None:
    assert set(GENERATED) == {f"{t}.json" for t in EVENT_TYPES} | {INDEX_FILE}
    index = json.loads(GENERATED[INDEX_FILE])
    assert [entry["type"] for entry in index["events"]] == list(EVENT_TYPES)
    assert all(entry["$id"] == schema_id(entry["file"]) for entry in index["events"])


def test_output_is_deterministic_and_sorted() -> None:
    assert generate() == GENERATED
    for text in GENERATED.values():
        assert text.endswith("}\n")
        assert render(json.loads(text)) == text


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_objects(item))
    return found


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_describes_the_envelope_of_its_type(event_type: str) -> None:
    schema = json.loads(GENERATED[f"{event_type}.json"])
    assert schema["$schema"] == DRAFT
    assert schema["$id"] == f"https://likvid.example/schemas/v1/{event_type}.json"
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["version"]["const"] == 1
    assert schema["properties"]["occurred_at"]["format"] == "date-time"
    assert set(schema["required"]) == {"id", "type", "version", "occurred_at", "source", "data"}
    assert schema["description"]
    for obj in _objects(schema):
        assert obj["additionalProperties"] is False, obj.get("title")
        for name, prop in obj["properties"].items():
            description = prop.get("description")
            assert description, f"{obj.get('title')}.{name} has no description"
            assert "\n" not in description


def test_amounts_and_dates_are_strings_in_the_schema() -> None:
    data = json.loads(GENERATED["invoice-issued.json"])["$defs"]["InvoiceIssued"]["properties"]
    assert data["amount"]["type"] == "string"
    assert data["amount"]["pattern"] == POSITIVE_AMOUNT_PATTERN
    assert data["issue_date"] == {
        "description": "The invoice date.",
        "format": "date",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "title": "Issue Date",
        "type": "string",
    }
    closed = json.loads(GENERATED["handoff-closed.json"])["$defs"]["HandoffClosed"]["properties"]
    assert closed["amount_recovered"]["anyOf"][0]["pattern"] == AMOUNT_PATTERN


@pytest.mark.parametrize(
    "text",
    ["0", "0.0", "0.00", "00", "0.01", "0.10", "0.5", "1", "10", "100.5", "007.10", "1.", ".5",
     "-1", "1,5", "1.234", " 1", "1e3", "+1", "0.001"],
)  # fmt: skip
def test_amount_patterns_agree_with_the_parser(text: str) -> None:
    try:
        ore: int | None = parse_kronor(text)
    except ValueError:
        ore = None
    assert (re.fullmatch(AMOUNT_PATTERN, text) is not None) == (ore is not None)
    assert (re.fullmatch(POSITIVE_AMOUNT_PATTERN, text) is not None) == bool(ore)


def test_check_names_the_drifted_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path)
    assert drifted(tmp_path) == []
    assert main(["--check", "--dir", str(tmp_path)]) == 0

    edited = tmp_path / "payment-received.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("payment", "betalning"))
    (tmp_path / "invoice-due.json").unlink()
    (tmp_path / "old-event.json").write_text("{}\n")
    assert drifted(tmp_path) == ["invoice-due.json", "old-event.json", "payment-received.json"]

    assert main(["--check", "--dir", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    for name in ("invoice-due.json", "old-event.json", "payment-received.json"):
        assert name in message

    assert main(["--dir", str(tmp_path)]) == 0
    assert drifted(tmp_path) == []
    assert not (tmp_path / "old-event.json").exists()
