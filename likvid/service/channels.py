"""How a letter reaches the customer: by email, or on paper through the print provider.

The dispatcher decides and records a letter (fees, deadline, content, channel) in one
transaction; then it is delivered:

- letter: the PDF goes into the print outbox with one line in that day's JSON-lines manifest
  for the print-and-post provider, and ``letter-ready`` is emitted;
- email: ``send_emails`` (queue ``email``) sends it with a Message-ID fixed by the letter id,
  exactly once: a redelivered message finds it sent and does nothing; a resend after a crash
  between the server's acceptance and our record carries the same Message-ID. A permanent
  refusal (5xx, no usable address) sends it as a letter instead and records ``email-failed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from likvid.clock import to_db
from likvid.db import transaction
from likvid.models import Customer, Letter
from likvid.service.app import App
from likvid.service.records import record, wall_now

log = logging.getLogger("likvid.channels")

#: A send claimed this long ago and never recorded is taken to have died; it may be resent
#: (with the same Message-ID, so the receiving server can recognise the copy).
SENDING_STALE = timedelta(minutes=5)


def content_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()


def choose(app: App, creditor_id: str, kind: str, customer: Customer) -> str:
    """The first configured channel that can reach this customer (policy `channels`)."""
    from likvid.service.email import SmtpSettings

    order = app.policy.channels_for(creditor_id, kind)
    for channel in order:
        if channel == "email" and email_address(customer) and SmtpSettings.from_env(os.environ):
            return "email"
        if channel == "letter":
            return "letter"
    return "letter"


def email_address(customer: Customer) -> str | None:
    rep = customer.representative or {}
    if rep.get("email"):
        return str(rep["email"])
    return customer.email


def print_letter(app: App, session: Any, now: Any, letter: Letter, pdf: bytes, recipient: dict[str, Any],
                 customer: Customer) -> Path:
    """Put the PDF in the print outbox and its line in the day's manifest, once."""
    day = (letter.sent_on or now.date()).isoformat()
    outbox = app.settings.home / "print"
    path = outbox / day / f"{letter.id}.pdf"
    write_atomic(path, pdf, path.with_suffix(".pdf.tmp"))
    manifest = outbox / f"manifest-{day}.jsonl"
    line: dict[str, Any] = {
        "letter_id": letter.id, "kind": letter.kind, "pdf": f"{day}/{letter.id}.pdf",
        "sha256": content_hash(pdf), "recipient": recipient["name"],
        "address_lines": recipient["address_lines"],
    }
    if customer.protected_identity:
        # §9: inner envelope marked with the identity number, outer to Skatteverket's forwarding.
        line["forwarding"] = "skatteverket"
        line["inner_envelope_identity_number"] = customer.identity_number
    if letter.manifest_at is None and not _already_in(manifest, letter.id):
        with open(manifest, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    letter.manifest_at = to_db(wall_now())
    letter.pdf_path = str(path)
    record(session, now, "letter-ready", customer_id=letter.customer_id, case_id=letter.case_id,
           letter_id=letter.id, kind=letter.kind, channel="letter", sha256=line["sha256"])
    return path


def write_atomic(path: Path, content: bytes, tmp: Path) -> None:
    """Write `content` to `tmp`, then rename it to `path`: a reader sees the old file or the
    new one, never a part of it. The directory is made when the write finds it missing (not
    checked with a system call of its own for every file)."""
    try:
        tmp.write_bytes(content)
    except FileNotFoundError:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(content)
    os.replace(tmp, path)


def _already_in(manifest: Path, letter_id: str) -> bool:
    """A crash after appending but before recording leaves the line last in the file: only
    the last 64 KiB are read (unbuffered, four system calls), however long the day's file."""
    try:
        fd = os.open(manifest, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        os.lseek(fd, max(0, os.fstat(fd).st_size - 65536), os.SEEK_SET)
        tail = os.read(fd, 65536)
    finally:
        os.close(fd)
    return f'"letter_id": "{letter_id}"'.encode() in tail


def send_emails(app: App, letter_ids: list[str]) -> None:
    for letter_id in letter_ids:
        send_email(app, letter_id)


def send_email(app: App, letter_id: str) -> str:
    from likvid.service.email import (
        PermanentEmailFailure,
        SmtpSettings,
        build_message,
        send,
    )

    settings = SmtpSettings.from_env(os.environ)
    # Claim the send (pending → sending) so two deliveries of one message never both send.
    with transaction(app.db) as s:
        letter = s.get(Letter, letter_id)
        if letter is None or letter.channel != "email":
            return "not an email"
        if letter.email_status in ("sent", "failed"):
            return f"already {letter.email_status}"
        stale = to_db(wall_now() - SENDING_STALE)
        claimed = s.execute(
            update(Letter).where(Letter.id == letter_id, (Letter.email_status == "pending") | (
                (Letter.email_status == "sending") & (Letter.email_sent_at < stale)))
            .values(email_status="sending", email_sent_at=to_db(wall_now()))
        ).rowcount
        if not claimed:
            raise RuntimeError(f"letter {letter_id} is being sent by another worker; retry later")
        to = (letter.address_used or {}).get("email")
        subject = (letter.details or {}).get("subject", "")
        text = Path(letter.path or "").read_text(encoding="utf-8") if letter.path else ""
        html = Path(str(letter.path).removesuffix(".txt") + ".html").read_text(encoding="utf-8") if letter.path else ""
    try:
        if settings is None:
            raise PermanentEmailFailure(None, "no SMTP server is configured (LIKVID_SMTP_HOST)")
        if not to:
            raise PermanentEmailFailure(None, "the customer has no email address")
        send(build_message(letter_id=letter_id, to=to, subject=subject, text=text, html=html, settings=settings), settings)
    except PermanentEmailFailure as exc:
        return _fall_back_to_letter(app, letter_id, str(exc))
    except Exception:
        with transaction(app.db) as s:  # let a later delivery try again
            s.execute(update(Letter).where(Letter.id == letter_id, Letter.email_status == "sending")
                      .values(email_status="pending"))
        raise
    with transaction(app.db) as s:
        letter = s.get(Letter, letter_id)
        assert letter is not None
        now = app.clock.now(s)
        letter.email_status = "sent"
        letter.email_sent_at = to_db(wall_now())
        record(s, now, "email-sent", customer_id=letter.customer_id, case_id=letter.case_id,
               letter_id=letter.id, kind=letter.kind, channel="email", sha256=letter.content_hash)
    return "sent"


def _fall_back_to_letter(app: App, letter_id: str, reason: str) -> str:
    from likvid.service.letters import pdf_for

    with transaction(app.db) as s:
        letter = s.get(Letter, letter_id)
        assert letter is not None
        if letter.email_status == "failed":
            return "already failed"
        now = app.clock.now(s)
        customer = s.get(Customer, letter.customer_id)
        assert customer is not None
        letter.email_status = "failed"
        letter.channel = "letter"
        record(s, now, "email-failed", customer_id=letter.customer_id, case_id=letter.case_id,
               letter_id=letter.id, kind=letter.kind, reason=reason[:300])
        from likvid.service.letters import recipient as recipient_of

        pdf, recipient = pdf_for(letter), recipient_of(customer)
        letter.address_used = {"channel": "letter", "lines": recipient["address_lines"]}
        print_letter(app, s, now, letter, pdf, recipient, customer)
        log.info("letter %s: email refused permanently; sent as a letter", letter_id)
    return "fell back to letter"


__all__ = ["choose", "content_hash", "print_letter", "send_email", "send_emails", "write_atomic"]
