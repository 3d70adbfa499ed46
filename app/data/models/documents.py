"""Documents kept inside the encrypted database, and the consent templates.

PDF and image bytes live in ``stored_documents.content`` so they are as
protected as the rest of the record (no files beside the database).  The
bytes are loaded only when asked for (deferred column), so listing a
patient's documents stays cheap.

Consent templates are versioned: editing creates a new ``ConsentVersion``;
a signed consent keeps pointing at the version the patient saw.  Neither is
ever deleted (ON DELETE RESTRICT from the documents).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class DocumentKind(StrEnum):
    CONSENT = "consent"
    INTAKE = "intake"
    PLAN_HANDOUT = "plan_handout"
    PAYMENT_AGREEMENT = "payment_agreement"
    RECEIPT = "receipt"
    REFERRAL_LETTER = "referral_letter"
    SCAN = "scan"
    OTHER = "other"


#: What may be stored; the service layer also checks the magic bytes.
ALLOWED_MIME_TYPES = ("application/pdf", "image/png", "image/jpeg")


class ConsentTemplate(TimestampMixin, VersionedMixin, Base):
    """A consent form's identity (its key); the wording lives in its versions."""

    __tablename__ = "consent_templates"
    __table_args__ = (CheckConstraint("length(key) > 0", name="key_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable name used by code and the starter set ("general_treatment", "laser").
    key: Mapped[str] = mapped_column(String(60), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    versions: Mapped[list[ConsentVersion]] = relationship(
        back_populates="template", order_by="(ConsentVersion.language, ConsentVersion.version)"
    )


class ConsentVersion(Base):
    """One immutable wording of a consent template, in one language."""

    __tablename__ = "consent_versions"
    __table_args__ = (
        UniqueConstraint("template_id", "language", "version"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("consent_templates.id", ondelete="RESTRICT")
    )
    # "en", "es": the patient's preferred language picks the version to print.
    language: Mapped[str] = mapped_column(String(10), default="en")
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    # Text with placeholders ({patient_name}, {procedure}, {risks} …), validated on save.
    body: Mapped[str] = mapped_column(Text)
    risks: Mapped[str] = mapped_column(Text, default="")
    alternatives: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))

    template: Mapped[ConsentTemplate] = relationship(back_populates="versions")


class StoredDocument(Base):
    """A PDF or image belonging to a patient (signed consent, intake, letter, scan)."""

    __tablename__ = "stored_documents"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in DocumentKind]), name="kind_known"),
        CheckConstraint(check_in("mime_type", ALLOWED_MIME_TYPES), name="mime_type_allowed"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        # A signed consent says which wording was signed.
        CheckConstraint(
            "kind <> 'consent' OR signed_at IS NULL OR consent_version_id IS NOT NULL",
            name="signed_consent_has_version",
        ),
        Index("ix_stored_documents_patient_created_at", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # Hex SHA-256 of content: shows a stored signed consent was not altered.
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    consent_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("consent_versions.id", ondelete="RESTRICT"), index=True
    )
    # When the patient signed (signature captured on screen or a wet signature scanned).
    signed_at: Mapped[datetime | None]
    witness_name: Mapped[str] = mapped_column(String(120), default="")
    # A consent signed on screen: who signed (the patient or someone for them) and which
    # staff member witnessed it, when the witness was one.
    signer_name: Mapped[str] = mapped_column(String(120), default="")
    signer_relationship: Mapped[str] = mapped_column(String(30), default="")
    witness_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
