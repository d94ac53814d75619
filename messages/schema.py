"""JSON Schema (draft 2020-12) of each inbound event type, generated from the models.

    python -m likvid.messages.schema            # write messages/schemas/*.json
    python -m likvid.messages.schema --check    # exit 1 naming the files that drifted

One file per type, `<type>.json`: the envelope with `type` fixed and `data` that type's
schema. `index.json` lists them. Output is deterministic (sorted keys, trailing newline), so
the committed files can be compared with what the models generate.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .envelope import CONTRACT_VERSION, EVENT_MODELS
from .events import EVENT_TYPES

#: Where the committed schema files live (inside the package, shipped as package data).
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

BASE_URL = f"https://likvid.example/schemas/v{CONTRACT_VERSION}/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
INDEX_FILE = "index.json"


def schema_id(name: str) -> str:
    """The `$id` of a schema file: "https://likvid.example/schemas/v1/<name>"."""
    return BASE_URL + name


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one inbound event type (envelope and data)."""
    body = EVENT_MODELS[event_type].model_json_schema(mode="validation")
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": schema_id(f"{event_type}.json"),
        **body,
    }
    return _tidy(schema)


def index_schema() -> dict[str, Any]:
    """The index: every inbound type with its file and `$id`, in EVENTS.md order."""
    return {
        "$id": schema_id(INDEX_FILE),
        "title": "Likvid inbound events",
        "description": "The JSON Schema of each inbound event type (EVENTS.md, version "
        f"{CONTRACT_VERSION}).",
        "version": CONTRACT_VERSION,
        "events": [
            {
                "type": event_type,
                "file": f"{event_type}.json",
                "$id": schema_id(f"{event_type}.json"),
            }
            for event_type in EVENT_TYPES
        ],
    }


def render(schema: dict[str, Any]) -> str:
    """The exact text of a schema file."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> file text, for every schema file."""
    files = {f"{event_type}.json": render(event_schema(event_type)) for event_type in EVENT_TYPES}
    files[INDEX_FILE] = render(index_schema())
    return files


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write every schema file and remove stale ones; returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = generate()
    for stale in sorted(set(_existing(directory)) - set(files)):
        (directory / stale).unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return sorted(files)


def drifted(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of the files that are missing, different or unexpected in `directory`."""
    files = generate()
    existing = _existing(directory)
    changed = [
        name
        for name, text in files.items()
        if name not in existing or (directory / name).read_text(encoding="utf-8") != text
    ]
    unexpected = [name for name in existing if name not in files]
    return sorted(changed + unexpected)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m likvid.messages.schema", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on drift"
    )
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    args = parser.parse_args(argv)
    if args.check:
        names = drifted(args.dir)
        if names:
            print(
                f"JSON Schema out of date in {args.dir}: {', '.join(names)}\n"
                "Run: uv run python -m likvid.messages.schema",
                file=sys.stderr,
            )
            return 1
        print(f"JSON Schema up to date ({len(generate())} files).")
        return 0
    names = write(args.dir)
    print(f"Wrote {len(names)} files to {args.dir}.")
    return 0


def _existing(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(path.name for path in directory.glob("*.json"))


def _tidy(node: Any) -> Any:
    """Docstring descriptions on one line, so the files read well and diff cleanly."""
    if isinstance(node, dict):
        return {
            key: " ".join(value.split())
            if key == "description" and isinstance(value, str)
            else _tidy(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


if __name__ == "__main__":
    raise SystemExit(main())
