"""The appointment book: appointments, their status history, series and the waitlist.

Appointments are cancelled or marked no-show, never deleted: they are the
patient's history and the basis of no-show counts, recalls and charges.
Times are UTC-aware datetimes; the calendar converts to the clinic's zone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"
    IN_TREATMENT = "in_treatment"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class CancelledBy(StrEnum):
    PATIENT = "patient"
    CLINIC = "clinic"


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    BOOKED = "booked"
    REMOVED = "removed"


_STATUS_VALUES = [s.value for s in AppointmentStatus]
ALL_WEEKDAYS_MASK = 0b1111111


class AppointmentSeries(Base):
    """Visits booked together (e.g. 3 sessions 4 weeks apart), so they can be moved as one."""

    __tablename__ = "appointment_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))


class Appointment(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(check_in("status", _STATUS_VALUES), name="status_known"),
        CheckConstraint(
            "cancelled_by IS NULL OR " + check_in("cancelled_by", [c.value for c in CancelledBy]),
            name="cancelled_by_known",
        ),
        # Conflict checks and the day/week views read by resource and time.
        Index("ix_appointments_provider_starts_at", "provider_id", "starts_at"),
        # The month-end report finds a month's rows by these dates (docs/reports.md).
        Index("ix_appointments_created_at", "created_at"),
        Index("ix_appointments_seated_at", "seated_at"),
        Index("ix_appointments_room_starts_at", "room_id", "starts_at"),
        Index("ix_appointments_patient_starts_at", "patient_id", "starts_at"),
        Index("ix_appointments_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    # NULL for a visit that is not (yet) a catalogue service, e.g. "emergency, see notes".
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), index=True
    )
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment_series.id", ondelete="RESTRICT"), index=True
    )
    # The treatment phase this visit carries out ("accepted but not scheduled" list).
    treatment_phase_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_phases.id", ondelete="RESTRICT"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.SCHEDULED.value)
    notes: Mapped[str] = mapped_column(Text, default="")
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # Set when an owner/coordinator chose "double-book anyway" (also audited).
    double_booked: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    # Went in ("in treatment" since), and the provider was done ("ready to check out").
    seated_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(10))
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    # Cancelled inside the clinic's late-cancel window: counted apart from no-shows.
    late_cancel: Mapped[bool] = mapped_column(default=False)

    status_changes: Mapped[list[AppointmentStatusChange]] = relationship(
        back_populates="appointment", order_by="AppointmentStatusChange.changed_at"
    )


class AppointmentStatusChange(Base):
    """One step of an appointment's status flow: from, to, who, when."""

    __tablename__ = "appointment_status_changes"
    __table_args__ = (
        CheckConstraint(
            "from_status IS NULL OR " + check_in("from_status", _STATUS_VALUES),
            name="from_status_known",
        ),
        CheckConstraint(check_in("to_status", _STATUS_VALUES), name="to_status_known"),
        Index(
            "ix_appointment_status_changes_appointment_changed_at", "appointment_id", "changed_at"
        ),
        # When each visit was booked (its first row, with no "from" status): the report's
        # "booked in the month".
        Index(
            "ix_appointment_status_changes_booked_at",
            "changed_at",
            sqlite_where=text("from_status IS NULL"),
            postgresql_where=text("from_status IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # History outlives nothing it describes: appointments are never deleted.
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="RESTRICT"))
    # NULL for the first row (the booking itself).
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(String(200), default="")

    appointment: Mapped[Appointment] = relationship(back_populates="status_changes")


class WaitlistEntry(TimestampMixin, VersionedMixin, Base):
    """A patient who wants an earlier slot, with what and when they would accept."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint(check_in("status", [s.value for s in WaitlistStatus]), name="status_known"),
        CheckConstraint(
            f"preferred_weekdays BETWEEN 1 AND {ALL_WEEKDAYS_MASK}", name="weekdays_mask_range"
        ),
        CheckConstraint(
            "earliest_minute >= 0 AND latest_minute <= 1440 AND latest_minute > earliest_minute",
            name="minute_range",
        ),
        Index("ix_waitlist_entries_status_service", "status", "service_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    # NULL = any provider.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    # Bit 0 = Monday … bit 6 = Sunday (Python's weekday()).
    preferred_weekdays: Mapped[int] = mapped_column(default=ALL_WEEKDAYS_MASK)
    # Local wall-clock window, minutes after midnight.
    earliest_minute: Mapped[int] = mapped_column(default=0)
    latest_minute: Mapped[int] = mapped_column(default=1440)
    # Not worth offering slots after this moment (e.g. the current booking).
    wanted_before: Mapped[datetime | None]
    # The booking the patient already has and would move from, if any.
    current_appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    booked_appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=WaitlistStatus.WAITING.value)
    notes: Mapped[str] = mapped_column(Text, default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
