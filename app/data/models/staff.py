"""Staff accounts and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class Role(StrEnum):
    OWNER = "owner"
    COORDINATOR = "coordinator"
    RECEPTIONIST = "receptionist"
    PROVIDER = "provider"


class Staff(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint(check_in("role", [r.value for r in Role]), name="role_known"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
        CheckConstraint("length(username) >= 2", name="username_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case so "Maria" and "maria" are one account.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Granted by an owner: this user may open emergency (break-glass) access.
    may_break_glass: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None]
