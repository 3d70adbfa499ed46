"""Whether a signed-in session may go on: the account as it is *now*, not as it was at
sign-in.  Every unit of work that acts for someone asks (one indexed lookup), so an account
deactivated, given another role, locked, or stripped of its emergency grant — on this PC or
another — stops acting at its very next step; an Actor built by hand is refused the same
way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.staff import Role, Staff
from app.services.clinic.actor import Actor
from app.services.errors import CareDeskError


class SessionEndedError(CareDeskError):
    """The signed-in account changed since sign-in: nothing of the action was done."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _with_article(role: str) -> str:
    return ("an " if role[:1] in "aeiou" else "a ") + role


def why_session_ended(row, actor: Actor, now: datetime | None = None) -> str | None:
    """Why ``actor``'s session may not go on, given their staff ``row`` (username, is_active,
    role, may_break_glass, locked_until) as it is now; None while it may."""
    if row is None or row.username != actor.username:
        return (
            "This session does not belong to an account of this clinic, so nothing was done. "
            "Sign in again."
        )
    if not row.is_active:
        return (
            "Your account was deactivated, so you have been signed out. Ask the clinic's "
            "owner if this is a mistake."
        )
    if Role(row.role) != actor.role:
        return (
            f"Your role was changed (you are now {_with_article(row.role)}), so you have been "
            "signed out. Sign in again to go on with what the new role allows."
        )
    if actor.in_emergency and not row.may_break_glass:
        return (
            "Your emergency access was withdrawn, so you have been signed out. Sign in again "
            "to go on with your own role's access."
        )
    if row.locked_until is not None and row.locked_until > (now or utc_now()):
        return (
            "Your account was locked after too many wrong passwords were typed for it, so "
            "you have been signed out. Sign in again once the lock has passed."
        )
    return None


def staff_row(session: Session | Connection, staff_id: int):
    return session.execute(
        select(
            Staff.username, Staff.is_active, Staff.role, Staff.may_break_glass, Staff.locked_until
        ).where(Staff.id == staff_id)
    ).first()


def require_session(session: Session | Connection, actor: Actor) -> None:
    """Raise SessionEndedError unless ``actor`` may still act (see the module)."""
    reason = why_session_ended(staff_row(session, actor.staff_id), actor)
    if reason is not None:
        raise SessionEndedError(reason)
