"""The owner's month close (Open Dental's "lock date"): the books are closed through the end
of the latest month closed and not reopened.  Each close keeps the month-end report as it
stood and the audit trail's seal at that moment; a reopened close stays on file (who, when,
why), and closing the month again adds a new row."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.data.models.base import Base

# Either still closed, or reopened with who, when and a reason.
_REOPEN_CHECK = (
    "(reopened_at IS NULL AND reopened_by_id IS NULL AND reopen_reason = '') OR "
    "(reopened_at IS NOT NULL AND reopened_by_id IS NOT NULL AND reopen_reason <> '')"
)


class MonthClose(Base):
    __tablename__ = "month_closes"
    __table_args__ = (
        CheckConstraint("first_day <= last_day", name="month_in_order"),
        CheckConstraint(_REOPEN_CHECK, name="reopen_complete"),
        # A month is closed at most once at a time (the service refuses a second close with a
        # sentence; this is the database's own guard).
        Index(
            "ix_month_closes_closed_month",
            "first_day",
            unique=True,
            sqlite_where=text("reopened_at IS NULL"),
            postgresql_where=text("reopened_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The month's clinic-local days, both included.
    first_day: Mapped[date]
    last_day: Mapped[date]
    closed_at: Mapped[datetime] = mapped_column(default=utc_now)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # The month-end report as it stood at the close (reports.month_end.report_json, as JSON):
    # what the month's report says from then on, whatever is overridden later.
    report: Mapped[str] = mapped_column(Text)
    # The audit trail's head at the close (services.clinic.audit_seals.Seal); empty only for
    # a trail with no rows at all.
    seal_trail: Mapped[str] = mapped_column(String(64), default="")
    seal_last_id: Mapped[int | None]
    seal_last_hash: Mapped[str] = mapped_column(String(64), default="")
    seal_rows: Mapped[int | None]
    sealed_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    reopen_reason: Mapped[str] = mapped_column(String(200), default="")
