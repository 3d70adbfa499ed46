"""The contacts directory: payers, specialists, referring providers, labs, pharmacies and
other clinics the clinic deals with.

Referrals, insurance policies and payers' payments point here; contacts are deactivated
rather than deleted once referred to (ON DELETE RESTRICT from those tables).  A duplicate
merged into another keeps its row, deactivated, with ``merged_into_id`` set.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class ContactKind(StrEnum):
    PAYER = "payer"
    SPECIALIST = "specialist"
    REFERRING_PROVIDER = "referring_provider"
    LAB = "lab"
    PHARMACY = "pharmacy"
    CLINIC = "clinic"
    OTHER = "other"


class SendRecordsBy(StrEnum):
    """How the contact prefers to receive records ("" = not said)."""

    UNSET = ""
    FAX = "fax"
    EMAIL = "email"
    POST = "post"
    PORTAL = "portal"


class Contact(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in ContactKind]), name="kind_known"),
        CheckConstraint("length(organisation) + length(name) > 0", name="has_a_name"),
        CheckConstraint(
            check_in("send_records_by", [s.value for s in SendRecordsBy]),
            name="send_records_by_known",
        ),
        CheckConstraint("merged_into_id IS NULL OR NOT is_active", name="merged_inactive"),
        Index("ix_contacts_kind_organisation", "kind", "organisation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(160), default="")
    # A person at the organisation (or a solo specialist); either may be empty, not both.
    name: Mapped[str] = mapped_column(String(120), default="", index=True)
    specialty: Mapped[str] = mapped_column(String(80), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    other_phone: Mapped[str] = mapped_column(String(20), default="")
    fax: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address_line1: Mapped[str] = mapped_column(String(120), default="")
    address_line2: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    send_records_by: Mapped[str] = mapped_column(String(10), default="")
    # What eligibility checks need of a payer: its electronic payer id and the phone line.
    payer_id: Mapped[str] = mapped_column(String(40), default="")
    eligibility_phone: Mapped[str] = mapped_column(String(20), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Set when this row was a duplicate merged into another (which now holds its references).
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
