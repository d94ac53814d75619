"""The customer ledger: claims, collection cases, append-only entries and payments.

Every balance is derived from ``ledger_entries``; nothing stores a running total.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import AutoId, Base, id_column

#: Ledger components: what part of the debt an entry moves.
COMPONENTS = ("capital", "fee", "interest")
#: Ledger entry kinds. Positive amounts raise the debt, negative ones lower it.
ENTRY_KINDS = ("capital", "fee", "interest", "payment", "credit", "write_off")


class CollectionCase(Base):
    """One per customer and creditor: bundles that customer's overdue claims with that creditor.

    Consolidated letters are per case; steps lock the case row first, then its claims.
    """

    __tablename__ = "collection_cases"
    __table_args__ = (UniqueConstraint("customer_id", "creditor_id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(100))
    creditor_id: Mapped[str] = mapped_column(ForeignKey("creditors.id"))
    #: An OCR reference for paying everything in a consolidated letter at once.
    ocr_reference: Mapped[str] = mapped_column(String(25), unique=True)
    policy_version: Mapped[str] = mapped_column(String(50))
    opened_at: Mapped[datetime]


class Claim(Base):
    """An invoice as a claim in the customer ledger, and where it stands in the chain."""

    __tablename__ = "claims"
    # The case alone is indexed, not its status or stage, and PostgreSQL keeps half of each
    # page free (migration 0010): a change of status or stage is then an update in place.
    __table_args__ = (
        Index("ix_claims_case", "case_id"),
        UniqueConstraint("creditor_id", "ocr_reference"),
    )

    invoice_id: Mapped[str] = id_column()
    creditor_id: Mapped[str] = mapped_column(ForeignKey("creditors.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"))
    invoice_number: Mapped[str] = mapped_column(String(100))
    issue_date: Mapped[date]
    due_date: Mapped[date]
    #: The due date moved to the next bank day; steps count from it.
    effective_due_date: Mapped[date]
    amount_ore: Mapped[int]
    claim_kind: Mapped[str] = mapped_column(String(30))
    claim_nature: Mapped[str] = mapped_column(String(20))
    ocr_reference: Mapped[str] = mapped_column(String(25), index=True)
    reminder_fee_agreed: Mapped[bool]
    delivery_point_id: Mapped[str | None] = mapped_column(String(100))
    decision_final_on: Mapped[date | None]
    description: Mapped[str | None] = mapped_column(String(4000))
    #: open, settled, credited, written_off
    status: Mapped[str] = mapped_column(String(20), default="open")
    #: issued, due, reminded, demanded, handed_off
    stage: Mapped[str] = mapped_column(String(20), default="issued")
    reminder_level: Mapped[int] = mapped_column(default=0)
    reminder_deadline: Mapped[date | None]
    demand_level: Mapped[int] = mapped_column(default=0)
    demand_deadline: Mapped[date | None]
    handed_off_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    policy_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime]


class LedgerEntry(Base):
    """Append-only. ``amount_ore`` is signed: a payment of 100 kr on capital is -10000."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.invoice_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    component: Mapped[str] = mapped_column(String(20))
    amount_ore: Mapped[int]
    booked_at: Mapped[datetime]
    value_date: Mapped[date]
    #: What caused it: a payment id, credit id or letter id.
    ref: Mapped[str | None] = mapped_column(String(100), index=True)
    note: Mapped[str | None] = mapped_column(String(500))


class Payment(Base):
    """A received payment; parked until the claim it pays is known."""

    __tablename__ = "payments"

    payment_id: Mapped[str] = id_column()
    amount_ore: Mapped[int]
    paid_on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(String(25), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(100), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    #: unmatched (no usable reference: staff match it), parked (waits for its invoice),
    #: applied, reversed
    status: Mapped[str] = mapped_column(String(20))
    #: What the bank said about the payer and the payment (name, free text), for matching by hand.
    payer: Mapped[dict[str, Any] | None]
    overpayment_ore: Mapped[int] = mapped_column(default=0)
    event_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime]
