"""The print outbox on real files: a file written atomically (`channels.write_atomic`, the
directory made when missing), and the manifest's duplicate check (`channels._already_in`): a
line of the letter near the end of the day's manifest is found, another letter's is not, and
only the last 64 KiB are searched however long the file grows."""

from __future__ import annotations

import json
from pathlib import Path

from likvid.service.channels import _already_in, write_atomic


def _line(letter_id: str) -> str:
    return json.dumps({"letter_id": letter_id, "kind": "reminder", "pdf": f"2026-11-15/{letter_id}.pdf",
                       "sha256": "0" * 64, "recipient": "Anna Andersson",
                       "address_lines": ["Storgatan 12 B", "457 31 Tanumshede"]}, ensure_ascii=False) + "\n"


def test_no_manifest_yet(tmp_path: Path) -> None:
    assert not _already_in(tmp_path / "manifest-2026-11-15.jsonl", "L-1")


def test_the_letters_line_is_found_and_no_other(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest-2026-11-15.jsonl"
    manifest.write_text("".join(_line(f"L-{n}") for n in range(10, 50)), encoding="utf-8")
    assert _already_in(manifest, "L-49")
    assert _already_in(manifest, "L-10")
    assert not _already_in(manifest, "L-50")
    assert not _already_in(manifest, "L-4")  # no prefix match: "L-4" is not "L-49"


def test_only_the_last_64_kib_are_searched(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest-2026-11-15.jsonl"
    lines = [_line(f"L-{n}") for n in range(2000)]
    manifest.write_text("".join(lines), encoding="utf-8")
    assert manifest.stat().st_size > 3 * 65536
    assert _already_in(manifest, "L-1999")
    # A line whose end is more than 64 KiB from the end of the file is out of reach (a crash
    # leaves the letter's line among the last ones written).
    tail = 0
    far = None
    for n in range(1999, -1, -1):
        tail += len(lines[n].encode("utf-8"))
        if tail > 65536 + 1000:
            far = n
            break
    assert far is not None and not _already_in(manifest, f"L-{far}")


def test_write_atomic_makes_the_directory_once_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "print" / "2026-11-15" / "L-1.pdf"
    tmp = path.with_suffix(".pdf.tmp")
    write_atomic(path, b"%PDF-1.4 first", tmp)
    assert path.read_bytes() == b"%PDF-1.4 first" and not tmp.exists()
    write_atomic(path, b"%PDF-1.4 second", tmp)  # a retry: the same file, the new content
    assert path.read_bytes() == b"%PDF-1.4 second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["L-1.pdf"]
