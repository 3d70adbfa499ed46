"""Staff accounts: the owner creates, edits, deactivates, unlocks and resets them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.clock import utc_now
from app.data.database import Database
from app.data.models.staff import Role, Staff
from app.services.clinic import passwords, permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.auth import normalise_username
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class StaffRow:
    id: int
    username: str
    full_name: str
    role: Role
    is_active: bool
    locked: bool
    may_break_glass: bool
    last_login_at: datetime | None


def _row(s: Staff) -> StaffRow:
    locked = s.locked_until is not None and s.locked_until > utc_now()
    return StaffRow(
        s.id,
        s.username,
        s.full_name,
        Role(s.role),
        s.is_active,
        locked,
        s.may_break_glass,
        s.last_login_at,
    )


def validate_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise ValidationError(
            "A username is 2–64 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit.",
            field="username",
        )
    return name


def _validate_full_name(full_name: str) -> str:
    name = " ".join(full_name.split())
    if not name:
        raise ValidationError("Type the staff member's full name.", field="full_name")
    if len(name) > 120:
        raise ValidationError("The full name is longer than 120 characters.", field="full_name")
    return name


def add_staff_row(session, username: str, full_name: str, role: Role, password: str) -> Staff:
    """Validate and add a staff account in an open unit of work (setup and the owner use it)."""
    name = validate_username(username)
    passwords.check_strength(password, username=name)
    if session.scalar(select(Staff.id).where(Staff.username == name)) is not None:
        raise ValidationError(f"The username “{name}” is taken.", field="username")
    staff = Staff(
        username=name,
        full_name=_validate_full_name(full_name),
        role=Role(role).value,
        password_hash=passwords.hash_password(password),
        may_break_glass=Role(role) is Role.OWNER,
    )
    session.add(staff)
    session.flush()
    return staff


def list_staff(db: Database, actor: Actor) -> list[StaffRow]:
    permissions.require(actor, Permission.MANAGE_STAFF)
    with reading(db, actor) as session:
        return [_row(s) for s in session.scalars(select(Staff).order_by(Staff.full_name))]


def create_staff(
    db: Database, actor: Actor, username: str, full_name: str, role: Role, password: str
) -> StaffRow:
    """Create an account; the password must pass the strength rule."""
    permissions.require(actor, Permission.MANAGE_STAFF)
    with unit_of_work(db, actor) as session:
        return _row(add_staff_row(session, username, full_name, role, password))


def _get(session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFoundError("That staff account no longer exists.")
    return staff


def _other_active_owners(session, staff_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Staff.id)).where(
                Staff.role == Role.OWNER.value, Staff.is_active, Staff.id != staff_id
            )
        )
        or 0
    )


def update_staff(
    db: Database,
    actor: Actor,
    staff_id: int,
    *,
    full_name: str,
    role: Role,
    may_break_glass: bool,
) -> StaffRow:
    permissions.require(actor, Permission.MANAGE_STAFF)
    with unit_of_work(db, actor) as session:
        staff = _get(session, staff_id)
        demoting_owner = Role(role) is not Role.OWNER and staff.role == Role.OWNER.value
        if demoting_owner and _other_active_owners(session, staff_id) == 0:
            raise ValidationError("The clinic needs at least one active owner.", field="role")
        staff.full_name = _validate_full_name(full_name)
        staff.role = Role(role).value
        staff.may_break_glass = may_break_glass
        return _row(staff)


def set_active(db: Database, actor: Actor, staff_id: int, active: bool) -> StaffRow:
    """Deactivate (never delete: the audit trail names them) or reactivate an account."""
    permissions.require(actor, Permission.MANAGE_STAFF)
    with unit_of_work(db, actor) as session:
        staff = _get(session, staff_id)
        if (
            not active
            and staff.role == Role.OWNER.value
            and not _other_active_owners(session, staff_id)
        ):
            raise ValidationError("The clinic needs at least one active owner.")
        staff.is_active = active
        return _row(staff)


def reset_password(db: Database, actor: Actor, staff_id: int, new_password: str) -> None:
    """Set a new password; the user must change it at the next sign-in."""
    permissions.require(actor, Permission.MANAGE_STAFF)
    with unit_of_work(db, actor) as session:
        staff = _get(session, staff_id)
        passwords.check_strength(new_password, username=staff.username)
        staff.password_hash = passwords.hash_password(new_password)
        staff.must_change_password = staff.id != actor.staff_id
        staff.failed_logins = 0
        staff.locked_until = None


def unlock_account(db: Database, actor: Actor, staff_id: int) -> None:
    permissions.require(actor, Permission.MANAGE_STAFF)
    with unit_of_work(db, actor) as session:
        staff = _get(session, staff_id)
        staff.failed_logins = 0
        staff.locked_until = None
        record(session, AuditAction.ACCOUNT_UNLOCKED, entity="staff", entity_id=staff.id)
