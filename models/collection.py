"""Holds, letters and durable timers: what the collection chain does and what stops it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AutoId, Base, id_column


class Hold(Base):
    """A pause of collection: for a reason, by someone, from a date, optionally until one.

    ``amount_ore`` None holds the whole claim; otherwise only that part (a partial dispute).
    """

    __tablename__ = "holds"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(100))
    #: Scope: one claim (claim_id), a collection case (case_id), or a customer (customer_id alone).
    claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.invoice_id"), index=True)
    case_id: Mapped[int | None] = mapped_column(index=True)
    customer_id: Mapped[str | None] = mapped_column(String(100), index=True)
    #: For a case or customer hold: only claims issued on or before this date (a debt
    #: restructuring covers the debts that existed when it opened, SWEDISH-RULES.md §10).
    claims_issued_by: Mapped[date | None]
    amount_ore: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(4000))
    created_by: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date]
    until: Mapped[date | None]
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(500))


class Letter(Base):
    """A letter or email to a customer. Created by a step, sent by the dispatcher after a re-check."""

    __tablename__ = "letters"

    id: Mapped[str] = id_column(40)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(100), index=True)
    level: Mapped[int] = mapped_column(default=1)
    #: pending, sent, cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    sent_on: Mapped[date | None]
    deadline: Mapped[date | None]
    language: Mapped[str | None] = mapped_column(String(2))
    total_ore: Mapped[int | None]
    path: Mapped[str | None] = mapped_column(String(500))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any] | None]
    #: email or letter: how it reached (or is to reach) the customer
    channel: Mapped[str | None] = mapped_column(String(10))
    #: email only: pending, sending, sent, failed (then it went as a letter)
    email_status: Mapped[str | None] = mapped_column(String(10))
    email_sent_at: Mapped[datetime | None]
    #: Proof of sending (SWEDISH-RULES.md §6.1): the content's SHA-256 and the address used.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    address_used: Mapped[dict[str, Any] | None]
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    #: When its line went into the print provider's daily manifest.
    manifest_at: Mapped[datetime | None]
    #: The inbound event it follows from (likvid.correlation): a dispatch message batches the
    #: letters of many claims, each dispatched under its own id.
    correlation_id: Mapped[str | None] = mapped_column(String(100))


class LetterClaim(Base):
    """Which claims a letter covers. One reminder and one demand per claim and level, by constraint."""

    __tablename__ = "letter_claims"
    __table_args__ = (UniqueConstraint("claim_id", "kind", "level"),)

    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.id"), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.invoice_id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[int]
    #: included, dropped (paid or held when the letter was about to leave)
    status: Mapped[str] = mapped_column(String(20), default="included")


class Timer(Base):
    """A durable timer: a step due at an instant. The scheduler emits it once (pending → emitted);
    the step marks it done in the same transaction as its effect."""

    __tablename__ = "timers"
    __table_args__ = (
        Index(
            "ix_timers_pending_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_timers_claim_kind", "claim_id", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.invoice_id"))
    ref: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime]
    #: pending, emitted, done, cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime]
    emitted_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(500))
    #: The inbound event that scheduled it (likvid.correlation): it fires under that id.
    correlation_id: Mapped[str | None] = mapped_column(String(100))


class PaymentPlan(Base):
    """An amorteringsplan (POLICY.md point 9): in force only once the signed copy is registered."""

    __tablename__ = "payment_plans"

    id: Mapped[str] = id_column()
    customer_id: Mapped[str] = mapped_column(String(100), index=True)
    creditor_id: Mapped[str] = mapped_column(String(100))
    invoice_ids: Mapped[list[Any]]
    #: [{"due_date": "YYYY-MM-DD", "amount_ore": int}], ascending
    installments: Mapped[list[Any]]
    total_ore: Mapped[int]
    #: proposed, active, broken, cancelled, completed
    status: Mapped[str] = mapped_column(String(20))
    proposed_by: Mapped[str | None] = mapped_column(String(200))
    proposed_at: Mapped[datetime]
    signed_on: Mapped[date | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(500))


class HandlerStatement(Base):
    """The handler's statement on an objection, which a review requires (POLICY.md point 7)."""

    __tablename__ = "handler_statements"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    objection_id: Mapped[str] = mapped_column(String(100), index=True)
    handler: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(String(4000))
    recorded_at: Mapped[datetime]


class Task(Base):
    """Work for a collection handler (report a claim in a debt restructuring, lodge it in a
    bankruptcy, contact an estate, tell a receiver of an amount reinstated by a reversed
    payment)."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(1000))
    due_on: Mapped[date | None]
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
