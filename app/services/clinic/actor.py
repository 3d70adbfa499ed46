"""Who is doing something: the signed-in staff member, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.data.models.staff import Role


@dataclass(frozen=True)
class Actor:
    staff_id: int
    username: str
    full_name: str
    role: Role
    #: Set while emergency (break-glass) access is open; every action is flagged.
    emergency_reason: str | None = None
    #: The owner reset this password: the user chooses a new one before anything else.
    must_change_password: bool = False

    @property
    def in_emergency(self) -> bool:
        return self.emergency_reason is not None

    def with_emergency(self, reason: str) -> Actor:
        return replace(self, emergency_reason=reason)
