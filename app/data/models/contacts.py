"""The contacts directory: specialists, labs and payers the clinic deals with.

Referrals and insurance policies point here; contacts are deactivated rather
than deleted once referred to (ON DELETE RESTRICT from those tables).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class ContactKind(StrEnum):
    SPECIALIST = "specialist"
    LAB = "lab"
    PAYER = "payer"
    OTHER = "other"


class Contact(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in ContactKind]), name="kind_known"),
        CheckConstraint("length(organisation) + length(name) > 0", name="has_a_name"),
        Index("ix_contacts_kind_organisation", "kind", "organisation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(160), default="")
    # A person at the organisation (or a solo specialist); either may be empty, not both.
    name: Mapped[str] = mapped_column(String(120), default="", index=True)
    specialty: Mapped[str] = mapped_column(String(80), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    fax: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address_line1: Mapped[str] = mapped_column(String(120), default="")
    address_line2: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
