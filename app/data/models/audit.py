"""The audit trail: append-only, each row hash-chained to the one before.

Rows carry field *names*, never values, so the log itself holds no clinical
content.  Database triggers (created by the migrations) abort UPDATE and
DELETE on this table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.data.models.base import Base

#: The triggers that make the database itself refuse to change or delete an audit row
#: (migration 0002); ``caredesk db check`` fails when one is missing.
AUDIT_GUARD_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")
GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_patient_at", "patient_id", "at"),
        Index("ix_audit_log_staff_at", "staff_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    # No foreign keys: the log must outlive anything it mentions, unchanged.
    staff_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    entity: Mapped[str] = mapped_column(String(40), default="")
    entity_id: Mapped[int | None]
    patient_id: Mapped[int | None]
    fields: Mapped[str] = mapped_column(String(1000), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    break_glass: Mapped[bool] = mapped_column(default=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
