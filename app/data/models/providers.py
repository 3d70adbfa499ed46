"""The clinic's resources: providers (with their working hours and breaks), rooms,
and the services catalogue with the consents each service requires.

Hours and breaks are *local* wall-clock minutes after midnight in the clinic's
timezone, not UTC: "Tuesdays 9:00-17:00" must stay 9:00 across a DST change.
Providers, rooms and services are deactivated, not deleted, once anything
refers to them (appointments and plan items restrict the delete).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.data.models.base import Base, TimestampMixin, VersionedMixin

MINUTES_PER_DAY = 24 * 60
DEFAULT_COLOUR = "#4a90d9"

# A colour is "#rrggbb": the calendar and the PDFs both parse it.
_COLOUR_CHECK = "length(colour) = 7"
# Minutes after local midnight; an interval ends after it starts, within one day.
_MINUTE_RANGE_CHECK = (
    f"start_minute >= 0 AND end_minute <= {MINUTES_PER_DAY} AND end_minute > start_minute"
)


class Provider(TimestampMixin, VersionedMixin, Base):
    """Someone patients are booked with (dentist, hygienist, injector …)."""

    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint(_COLOUR_CHECK, name="colour_format"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # e.g. "Dr." — printed before the name on letters and day sheets.
    title: Mapped[str] = mapped_column(String(40), default="")
    # e.g. "DDS, MS" — printed after the name.
    credentials: Mapped[str] = mapped_column(String(80), default="")
    licence_number: Mapped[str] = mapped_column(String(40), default="")
    colour: Mapped[str] = mapped_column(String(7), default=DEFAULT_COLOUR)
    # Column order in the calendar's day view.
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The login of this provider, when they have one (to sign notes, see their day).
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="RESTRICT"), unique=True
    )

    working_hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="provider",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(WorkingHours.weekday, WorkingHours.start_minute)",
    )
    breaks: Mapped[list[ProviderBreak]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", passive_deletes=True
    )


class WorkingHours(Base):
    """One working interval of a provider on a weekday (split shifts are two rows)."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint(_MINUTE_RANGE_CHECK, name="minute_range"),
        Index("ix_working_hours_provider_weekday", "provider_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Configuration owned by the provider: it goes when the provider row goes.
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    # Python's convention: Monday = 0 … Sunday = 6.
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]

    provider: Mapped[Provider] = relationship(back_populates="working_hours")


class ProviderBreak(Base):
    """Time a provider cannot be booked: every week on a weekday (lunch) or on one date."""

    __tablename__ = "provider_breaks"
    __table_args__ = (
        CheckConstraint(
            "(weekday IS NOT NULL AND on_date IS NULL)"
            " OR (weekday IS NULL AND on_date IS NOT NULL)",
            name="weekly_or_dated",
        ),
        CheckConstraint("weekday IS NULL OR weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint(_MINUTE_RANGE_CHECK, name="minute_range"),
        Index("ix_provider_breaks_provider_weekday", "provider_id", "weekday"),
        Index("ix_provider_breaks_provider_on_date", "provider_id", "on_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    weekday: Mapped[int | None]
    on_date: Mapped[date | None]
    start_minute: Mapped[int]
    end_minute: Mapped[int]
    label: Mapped[str] = mapped_column(String(80), default="")

    provider: Mapped[Provider] = relationship(back_populates="breaks")


class Room(TimestampMixin, VersionedMixin, Base):
    """A treatment room or chair; removed rooms are deactivated so history keeps its name."""

    __tablename__ = "rooms"
    __table_args__ = (
        CheckConstraint(_COLOUR_CHECK, name="colour_format"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    colour: Mapped[str] = mapped_column(String(7), default="#9b9b9b")
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class Service(TimestampMixin, VersionedMixin, Base):
    """An entry of the services catalogue: what can be booked and charged."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(_COLOUR_CHECK, name="colour_format"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("default_duration_minutes > 0", name="duration_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint(
            "recall_interval_days IS NULL OR recall_interval_days > 0", name="recall_positive"
        ),
        CheckConstraint(
            "follow_up_call_days IS NULL OR follow_up_call_days >= 0",
            name="follow_up_call_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The clinic's own or a billing code (CDT, CPT …); optional but unique when given.
    code: Mapped[str | None] = mapped_column(String(20), unique=True)
    category: Mapped[str] = mapped_column(String(60), default="")
    default_duration_minutes: Mapped[int] = mapped_column(default=30)
    fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # Days after a completed visit when the patient is due back; NULL = no recall.
    recall_interval_days: Mapped[int | None]
    # Call the patient this many days after the service is done ("2 days after an
    # extraction"); NULL = no follow-up call, 0 = the same day.
    follow_up_call_days: Mapped[int | None]
    colour: Mapped[str] = mapped_column(String(7), default=DEFAULT_COLOUR)
    requires_preauth: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    # What a Spanish document prints (empty: it never mixes in the English name).
    name_es: Mapped[str] = mapped_column(String(120), default="")
    description_es: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    required_consents: Mapped[list[ServiceRequiredConsent]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class ServiceRequiredConsent(Base):
    """Booking or checking in this service needs a signed copy of this consent template."""

    __tablename__ = "service_consents"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    # Templates are never deleted (signed documents refer to their versions).
    consent_template_id: Mapped[int] = mapped_column(
        ForeignKey("consent_templates.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
