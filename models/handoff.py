"""Hand-offs to Kronofogden or an agency, the files they travel in, and surveillance
(efterbevakning) of claims not fully paid (POLICY.md point 11; SWEDISH-RULES.md §§5, 6)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import AutoId, Base, id_column


class HandoffFile(Base):
    """One fixed-width file per creditor, receiver and day (``seq`` > 1 only when the export
    ran again that day for claims queued after the first run). Layout: docs/handoff-file-layout.md."""

    __tablename__ = "handoff_files"
    __table_args__ = (UniqueConstraint("creditor_id", "target", "file_date", "seq"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    creditor_id: Mapped[str] = mapped_column(ForeignKey("creditors.id"))
    #: kronofogden (betalningsföreläggande), agency, indrivning
    target: Mapped[str] = mapped_column(String(20))
    file_date: Mapped[date]
    seq: Mapped[int]
    path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    claims: Mapped[int]
    total_ore: Mapped[int]
    created_at: Mapped[datetime]


class Handoff(Base):
    """One routing of one claim: waiting (public-law decision not final), queued (for the next
    export), cancelled (re-check at export failed), exported (in exactly one file), withdrawn
    (we told the receiver), closed (the receiver reported the outcome)."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_status", "status", "creditor_id"),)

    id: Mapped[str] = id_column(40)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.invoice_id"), index=True)
    creditor_id: Mapped[str] = mapped_column(ForeignKey("creditors.id"))
    target: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    queued_on: Mapped[date | None]
    file_id: Mapped[int | None] = mapped_column(ForeignKey("handoff_files.id"), index=True)
    exported_at: Mapped[datetime | None]
    #: What the receiver was last told is owed (öre): the file's total, then each adjustment.
    reported_ore: Mapped[int | None]
    title_reference: Mapped[str | None] = mapped_column(String(100))
    title_on: Mapped[date | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    amount_recovered_ore: Mapped[int | None]
    closed_at: Mapped[datetime | None]


class Surveillance(Base):
    """Efterbevakning of one claim: its limitation date, recomputed on every interrupting event,
    and the day an interrupting demand is due (SWEDISH-RULES.md §6)."""

    __tablename__ = "surveillances"

    claim_id: Mapped[str] = id_column()
    #: title (enforcement-title-obtained), small_claim (kept instead of hand-off), partially_paid,
    #: indrivning (tracked only)
    reason: Mapped[str] = mapped_column(String(20))
    #: consumer (3 years), general (10 years), indrivning (1982:188, tracked only)
    rule: Mapped[str] = mapped_column(String(20))
    #: watching, ended
    status: Mapped[str] = mapped_column(String(20))
    limitation_date: Mapped[date]
    demand_on: Mapped[date | None]
    last_interruption_on: Mapped[date]
    last_interruption: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(500))
