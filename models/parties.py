"""Creditors (from configuration) and customers (from events), one register for all creditors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, id_column


class Creditor(Base):
    """A department or municipal company that owns claims; synced from the policy file."""

    __tablename__ = "creditors"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(12))
    bankgiro: Mapped[str] = mapped_column(String(12))
    address: Mapped[dict[str, Any]]
    contact: Mapped[dict[str, Any]]


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = id_column()
    party_type: Mapped[str] = mapped_column(String(20))
    #: Normalised (12 digits for a person, 10 for an organisation); never logged unmasked.
    identity_number: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict[str, Any]]
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(2), default="sv")
    consumer: Mapped[bool]
    protected_identity: Mapped[bool] = mapped_column(default=False)
    representative: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
