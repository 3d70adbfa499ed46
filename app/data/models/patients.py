"""Patients: demographics, contact details, consents to be contacted, the journey stage.

A patient row is never deleted: it is deactivated, or merged into another
record (``merged_into_id``).  Every table that refers to a patient does so with
ON DELETE RESTRICT, so a stray DELETE fails instead of taking a history with it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class JourneyStage(StrEnum):
    INQUIRY = "inquiry"
    CONSULTATION = "consultation"
    BOOKED = "booked"
    IN_TREATMENT = "in_treatment"
    FOLLOW_UP = "follow_up"
    # The two stages that carry a reason (``journey_reason``).
    INACTIVE = "inactive"
    LOST = "lost"


class SearchTermKind(StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    CHART = "chart"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"


class Patient(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(
            check_in("journey_stage", [s.value for s in JourneyStage]), name="journey_stage_known"
        ),
        CheckConstraint(
            "sex IS NULL OR " + check_in("sex", [s.value for s in Sex]), name="sex_known"
        ),
        CheckConstraint("length(first_name) > 0 AND length(last_name) > 0", name="names_not_empty"),
        CheckConstraint(
            "merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_self"
        ),
        # A merged record is kept only as a pointer: it must not show up as active.
        CheckConstraint("merged_into_id IS NULL OR is_active = false", name="merged_is_inactive"),
        Index("ix_patients_last_name_first_name", "last_name", "first_name"),
        # The month-end report finds a month's rows by these dates (docs/reports.md).
        Index("ix_patients_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The number printed on forms and typed at the desk; unique per clinic.
    chart_number: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str] = mapped_column(String(100), default="")
    # Lower-case, accent-free "last first preferred middle" kept by the service layer,
    # so "nguyen" finds "Nguyễn" with a plain indexed prefix match on any backend.
    search_name: Mapped[str] = mapped_column(String(420), default="", index=True)
    # Leads often have no date of birth yet.
    date_of_birth: Mapped[date | None] = mapped_column(index=True)
    sex: Mapped[str | None] = mapped_column(String(10))
    pronouns: Mapped[str] = mapped_column(String(30), default="")

    # Phones are stored normalised (E.164, e.g. "+15552013344") so any typed
    # format finds them through these indexes.
    mobile_phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    home_phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    work_phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    # Stored lower-case by the service layer.
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    address_line1: Mapped[str] = mapped_column(String(120), default="")
    address_line2: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    # A language tag ("en", "es"): chooses the language of printed documents.
    preferred_language: Mapped[str] = mapped_column(String(10), default="en")

    # Consent to be contacted must be given explicitly, hence False by default.
    may_text: Mapped[bool] = mapped_column(default=False)
    may_email: Mapped[bool] = mapped_column(default=False)
    may_voicemail: Mapped[bool] = mapped_column(default=False)
    # The patient texted STOP (or BAJA): no text goes until they agree again at the desk.
    text_opted_out_at: Mapped[datetime | None]
    # The mail server refused the address: no e-mail goes until it is corrected.
    email_bounced_at: Mapped[datetime | None]
    # No reminder, recall or bill is ever sent about a patient who has died.
    deceased_on: Mapped[date | None]

    emergency_contact_name: Mapped[str] = mapped_column(String(120), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(String(20), default="")
    emergency_contact_relation: Mapped[str] = mapped_column(String(40), default="")

    # Shown in red in the record header.
    medical_alerts: Mapped[str] = mapped_column(Text, default="")
    allergies: Mapped[str] = mapped_column(Text, default="")
    medications: Mapped[str] = mapped_column(Text, default="")

    lead_source: Mapped[str] = mapped_column(String(60), default="", index=True)
    journey_stage: Mapped[str] = mapped_column(
        String(20), default=JourneyStage.INQUIRY.value, index=True
    )
    # "Days in stage" on the pipeline cards.
    journey_stage_since: Mapped[datetime] = mapped_column(default=utc_now)
    # Why the patient is lost or inactive; empty in the other stages.
    journey_reason: Mapped[str] = mapped_column(String(200), default="")
    # The provider the patient usually sees (pipeline filter); deactivated, never deleted.
    primary_provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )

    # Set when this record was merged into another; the kept record holds the history.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    merged_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)


class PatientSearchTerm(Base):
    """One searchable word of a patient (folded name word, phone digits, email, chart number).

    Kept by the service layer (``app.services.patients.search.index_patient``); a prefix
    search is a range scan on ``term`` (``term >= q AND term < q_next``), which any
    backend's plain B-tree index serves.
    """

    __tablename__ = "patient_search_terms"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in SearchTermKind]), name="kind_known"),
    )

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(254), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
