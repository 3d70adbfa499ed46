"""Backups: how often and where the clinic is backed up, and what each backup run did.

The backup files themselves live outside the database (a local folder and the owner's
chosen folder — a USB disk, a NAS share, a synced cloud folder), each beside a manifest;
the rows here are what every PC shows ("Last verified backup: today 14:00 (USB disk)").
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class BackupWhere(StrEnum):
    #: This PC's own backups folder (always written: the copy a failed USB disk cannot take).
    LOCAL = "local"
    #: The owner's chosen folder, off this PC.
    FOLDER = "folder"


class BackupOutcome(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"


class BackupSettings(TimestampMixin, VersionedMixin, Base):
    """The clinic's backup schedule, folder and how many to keep.  One row (id 1), absent
    until the owner first saves Settings → Backups (the defaults apply meanwhile)."""

    __tablename__ = "backup_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("every_minutes BETWEEN 15 AND 1440", name="every_minutes_valid"),
        CheckConstraint(
            "keep_hourly >= 1 AND keep_daily >= 0 AND keep_weekly >= 0 AND keep_monthly >= 0",
            name="keep_valid",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    automatic: Mapped[bool] = mapped_column(default=True)
    every_minutes: Mapped[int] = mapped_column(default=60)
    #: Hourly backups only while the clinic is open (its opening hours); the one made at
    #: sign-out and close is made whatever the hour.
    opening_hours_only: Mapped[bool] = mapped_column(default=True)
    #: The off-PC folder ("" = none chosen yet) and what people call it ("USB disk").
    folder: Mapped[str] = mapped_column(Text, default="")
    folder_label: Mapped[str] = mapped_column(String(60), default="")
    keep_hourly: Mapped[int] = mapped_column(default=24)
    keep_daily: Mapped[int] = mapped_column(default=14)
    keep_weekly: Mapped[int] = mapped_column(default=8)
    keep_monthly: Mapped[int] = mapped_column(default=12)


class BackupRun(Base):
    """One backup written to one place, and whether it verified."""

    __tablename__ = "backup_runs"
    __table_args__ = (
        CheckConstraint(check_in("place", [w.value for w in BackupWhere]), name="place_known"),
        CheckConstraint(
            check_in("outcome", [o.value for o in BackupOutcome]), name="outcome_known"
        ),
        Index("ix_backup_runs_place_finished_at", "place", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    #: Why it was made: "automatic", "sign-out", "manual", "before restore".
    reason: Mapped[str] = mapped_column(String(20))
    place: Mapped[str] = mapped_column(String(10))
    folder: Mapped[str] = mapped_column(Text, default="")
    folder_label: Mapped[str] = mapped_column(String(60), default="")
    file_name: Mapped[str] = mapped_column(String(255), default="")
    size_bytes: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(10))
    #: What went wrong, in words ("" when verified).
    message: Mapped[str] = mapped_column(Text, default="")
    #: The computer that made it.
    computer: Mapped[str] = mapped_column(String(100), default="")
