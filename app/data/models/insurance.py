"""Insurance: a patient's policies, the log of verifying them, and pre-authorisations.

Verifications and pre-authorisations are records of what a payer said on a
given day: they are kept (ON DELETE RESTRICT), and a policy that ends is
deactivated, not deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class PolicyPriority(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class SubscriberRelation(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


class VerificationMethod(StrEnum):
    PHONE = "phone"
    PORTAL = "portal"
    FAX = "fax"
    EMAIL = "email"
    OTHER = "other"


class VerificationResult(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    NOT_FOUND = "not_found"
    UNABLE_TO_VERIFY = "unable_to_verify"


class PreAuthStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"


class InsurancePolicy(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "insurance_policies"
    __table_args__ = (
        CheckConstraint(
            check_in("priority", [p.value for p in PolicyPriority]), name="priority_known"
        ),
        CheckConstraint(
            check_in("subscriber_relation", [r.value for r in SubscriberRelation]),
            name="subscriber_relation_known",
        ),
        CheckConstraint("coverage_percent BETWEEN 0 AND 100", name="coverage_percent_range"),
        CheckConstraint(
            "copay >= 0 AND deductible >= 0 AND deductible_met >= 0 AND annual_maximum >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name="effective_dates_ordered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    # The payer, from the contacts directory (kind "payer").
    payer_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
    plan_name: Mapped[str] = mapped_column(String(120), default="")
    member_id: Mapped[str] = mapped_column(String(60))
    group_number: Mapped[str] = mapped_column(String(60), default="")
    priority: Mapped[str] = mapped_column(String(10), default=PolicyPriority.PRIMARY.value)
    subscriber_name: Mapped[str] = mapped_column(String(200), default="")
    subscriber_relation: Mapped[str] = mapped_column(
        String(10), default=SubscriberRelation.SELF.value
    )
    subscriber_date_of_birth: Mapped[date | None]
    coverage_percent: Mapped[int] = mapped_column(default=0)
    copay: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    deductible: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    deductible_met: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    annual_maximum: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    effective_from: Mapped[date | None]
    effective_to: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    verifications: Mapped[list[InsuranceVerification]] = relationship(
        back_populates="policy", order_by="InsuranceVerification.verified_at.desc()"
    )


class InsuranceVerification(Base):
    """One check of a policy with the payer: who, when, how, what they said."""

    __tablename__ = "insurance_verifications"
    __table_args__ = (
        CheckConstraint(
            check_in("method", [m.value for m in VerificationMethod]), name="method_known"
        ),
        CheckConstraint(
            check_in("result", [r.value for r in VerificationResult]), name="result_known"
        ),
        Index("ix_insurance_verifications_policy_verified_at", "policy_id", "verified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("insurance_policies.id", ondelete="RESTRICT"))
    verified_at: Mapped[datetime] = mapped_column(default=utc_now)
    verified_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(10))
    result: Mapped[str] = mapped_column(String(20))
    reference_number: Mapped[str] = mapped_column(String(60), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    policy: Mapped[InsurancePolicy] = relationship(back_populates="verifications")


class PreAuthorization(TimestampMixin, VersionedMixin, Base):
    """A payer's permission for a procedure: approved visits/units, how many used, expiry."""

    __tablename__ = "preauthorizations"
    __table_args__ = (
        CheckConstraint(check_in("status", [s.value for s in PreAuthStatus]), name="status_known"),
        CheckConstraint(
            "approved_units IS NULL OR approved_units >= 0", name="approved_units_not_negative"
        ),
        CheckConstraint("used_units >= 0", name="used_units_not_negative"),
        CheckConstraint(
            "approved_units IS NULL OR used_units <= approved_units", name="used_within_approved"
        ),
        Index("ix_preauthorizations_patient_status", "patient_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurance_policies.id", ondelete="RESTRICT"), index=True
    )
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), index=True
    )
    # Free text for what the payer calls it, when it is not exactly a catalogue service.
    procedure: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default=PreAuthStatus.REQUESTED.value)
    authorization_number: Mapped[str] = mapped_column(String(60), default="")
    requested_on: Mapped[date | None]
    decided_on: Mapped[date | None]
    expires_on: Mapped[date | None] = mapped_column(index=True)
    # Visits or units the payer approved; NULL while requested or when unlimited.
    approved_units: Mapped[int | None]
    used_units: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
