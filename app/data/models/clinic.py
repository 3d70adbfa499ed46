"""The clinic's own details and settings: one row."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in

PAPER_SIZES = ("letter", "a4")


class ClinicSettings(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "clinic_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(check_in("paper_size", PAPER_SIZES), name="paper_size_known"),
        CheckConstraint("idle_lock_minutes BETWEEN 1 AND 240", name="idle_lock_range"),
        CheckConstraint("late_cancel_hours >= 0", name="late_cancel_hours_not_negative"),
        CheckConstraint("no_show_fee >= 0 AND late_cancel_fee >= 0", name="fees_not_negative"),
        CheckConstraint("verification_max_age_days > 0", name="verification_age_positive"),
        CheckConstraint(
            "referral_visit_days_routine > 0 AND referral_visit_days_soon > 0"
            " AND referral_visit_days_urgent > 0 AND referral_booking_days > 0"
            " AND referral_report_days > 0 AND consult_follow_up_days > 0"
            " AND unscheduled_treatment_days > 0",
            name="follow_up_days_positive",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(120))
    address_line1: Mapped[str] = mapped_column(String(120), default="")
    address_line2: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="US")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(20), default="en_US")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    paper_size: Mapped[str] = mapped_column(String(10), default="letter")
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    privacy_line: Mapped[str] = mapped_column(
        String(300),
        default="Confidential patient information, handled under the clinic's privacy policy.",
    )
    idle_lock_minutes: Mapped[int] = mapped_column(default=10)
    late_cancel_hours: Mapped[int] = mapped_column(default=24)
    charge_no_show_fee: Mapped[bool] = mapped_column(default=False)
    no_show_fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    late_cancel_fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    verification_max_age_days: Mapped[int] = mapped_column(default=30)
    # Today: a patient waiting longer is highlighted; insurance is checked this many days ahead.
    wait_warning_minutes: Mapped[int] = mapped_column(default=15)
    insurance_check_days: Mapped[int] = mapped_column(default=7)
    # Referrals: the specialist should see the patient within this many days of the referral,
    # by urgency; a sent referral with no visit booked after ``referral_booking_days``, or a
    # visit with no report after ``referral_report_days``, is overdue.
    referral_visit_days_routine: Mapped[int] = mapped_column(default=30)
    referral_visit_days_soon: Mapped[int] = mapped_column(default=14)
    referral_visit_days_urgent: Mapped[int] = mapped_column(default=3)
    referral_booking_days: Mapped[int] = mapped_column(default=7)
    referral_report_days: Mapped[int] = mapped_column(default=14)
    # Automatic follow-ups: a consultation not converted after this many days, accepted
    # treatment not scheduled after this many.
    consult_follow_up_days: Mapped[int] = mapped_column(default=7)
    unscheduled_treatment_days: Mapped[int] = mapped_column(default=14)
    # The highest APR a payment plan may charge (the clinic's legal cap), in basis points.
    max_apr_basis_points: Mapped[int] = mapped_column(default=3600)
    # Opening hours for the calendar grid, minutes after local midnight.
    opens_at_minute: Mapped[int] = mapped_column(default=8 * 60)
    closes_at_minute: Mapped[int] = mapped_column(default=18 * 60)
