"""Suspension of delivery (POLICY.md point 8): one track per customer, creditor and delivery
point, the claims that caused it, and the facts that block it (health-risk flags, social
services' undertakings)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AutoId, Base, id_column

#: Track statuses in which it is still running (at most one per customer, creditor and point).
ACTIVE_TRACK = ("warned", "awaiting_service", "served", "ordered")


class SuspensionTrack(Base):
    """The legal sequence toward suspending one delivery point (SWEDISH-RULES.md §4)."""

    __tablename__ = "suspension_tracks"
    __table_args__ = (
        Index(
            "ix_suspension_tracks_one_active",
            "customer_id", "creditor_id", "delivery_point_id",
            unique=True,
            postgresql_where=text("status IN ('warned', 'awaiting_service', 'served', 'ordered')"),
            sqlite_where=text("status IN ('warned', 'awaiting_service', 'served', 'ordered')"),
        ),
        #: The restoration check on every scheduler cycle reads only suspended points.
        Index(
            "ix_suspension_tracks_ordered",
            "id",
            postgresql_where=text("status = 'ordered'"),
            sqlite_where=text("status = 'ordered'"),
        ),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(100), index=True)
    creditor_id: Mapped[str] = mapped_column(String(100))
    delivery_point_id: Mapped[str] = mapped_column(String(100), index=True)
    #: electricity, district_heating, water
    utility: Mapped[str] = mapped_column(String(30))
    #: consumer, water, business (likvid.rules.suspension)
    regime: Mapped[str] = mapped_column(String(20))
    #: warned, awaiting_service, served, ordered, restored, blocked, lapsed (never served)
    status: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime]
    warned_on: Mapped[date]
    remedy_deadline: Mapped[date]
    demanded_on: Mapped[date | None]
    #: The demand letter to be served (delgivning); ``notice-served`` names it.
    notice_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    served_on: Mapped[date | None]
    order_on: Mapped[date | None]
    ordered_on: Mapped[date | None]
    restored_on: Mapped[date | None]
    closed_reason: Mapped[str | None] = mapped_column(String(500))


class SuspensionClaim(Base):
    """The claims whose debt caused the track; restoration follows once they are paid."""

    __tablename__ = "suspension_claims"

    track_id: Mapped[int] = mapped_column(ForeignKey("suspension_tracks.id"), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.invoice_id"), primary_key=True, index=True)


class DeliveryPointFlag(Base):
    """The latest ``delivery-point-flagged``: a known health risk blocks suspension."""

    __tablename__ = "delivery_point_flags"

    delivery_point_id: Mapped[str] = id_column()
    #: health_risk, cleared
    flag: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime]
    event_id: Mapped[str] = mapped_column(String(100))


class SocialServicesUndertaking(Base):
    """``social-services-undertaking``: the social services will pay the invoice."""

    __tablename__ = "social_services_undertakings"

    invoice_id: Mapped[str] = id_column()
    decided_on: Mapped[date]
    received_at: Mapped[datetime]
    event_id: Mapped[str] = mapped_column(String(100))
