"""Signing in and out, account lockout, the idle screen lock and emergency access."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from app.clock import utc_now
from app.data.database import Database
from app.data.models.staff import Role, Staff
from app.services.clinic import passwords
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.sessions import staff_row, why_session_ended
from app.services.clinic.uow import unit_of_work
from app.services.errors import (
    AccountLockedError,
    LoginFailedError,
    PermissionDeniedError,
    ValidationError,
    WeakPasswordError,
)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _actor_for(staff: Staff) -> Actor:
    return Actor(
        staff.id,
        staff.username,
        staff.full_name,
        Role(staff.role),
        must_change_password=staff.must_change_password,
    )


def _find(session, username: str) -> Staff | None:
    return session.scalar(select(Staff).where(Staff.username == normalise_username(username)))


def login(db: Database, username: str, password: str) -> Actor:
    """Check a username and password; five failures lock the account for five minutes."""
    failure: Exception | None = None
    with unit_of_work(db, None) as session:
        staff = _find(session, username)
        now = utc_now()
        if staff is None or not staff.is_active:
            passwords.verify_password(None, password)  # same cost as a real check
            # What was typed is not recorded: people type passwords into the username box.
            record(
                session,
                AuditAction.LOGIN_FAILED,
                username="(unknown)" if staff is None else staff.username,
                detail="unknown username" if staff is None else "account deactivated",
            )
            failure = LoginFailedError()
        elif staff.locked_until is not None and staff.locked_until > now:
            minutes = math.ceil((staff.locked_until - now).total_seconds() / 60)
            record(
                session,
                AuditAction.LOGIN_FAILED,
                entity="staff",
                entity_id=staff.id,
                username=staff.username,
                detail="account locked",
            )
            # Only the right password learns that the account is locked: to someone guessing,
            # a locked account answers as an unknown one does (no username is confirmed).
            right = passwords.verify_password(staff.password_hash, password)
            failure = AccountLockedError(minutes) if right else LoginFailedError()
        elif not passwords.verify_password(staff.password_hash, password):
            staff.failed_logins += 1
            record(
                session,
                AuditAction.LOGIN_FAILED,
                entity="staff",
                entity_id=staff.id,
                username=staff.username,
                detail=f"wrong password ({staff.failed_logins} in a row)",
            )
            if staff.failed_logins >= MAX_FAILED_LOGINS:
                staff.locked_until = now + LOCKOUT
                staff.failed_logins = 0
                record(
                    session,
                    AuditAction.ACCOUNT_LOCKED,
                    entity="staff",
                    entity_id=staff.id,
                    username=staff.username,
                )
            # The same answer as for an unknown username (see the locked case above).
            failure = LoginFailedError()
        else:
            staff.failed_logins = 0
            staff.locked_until = None
            staff.last_login_at = now
            if passwords.needs_rehash(staff.password_hash):
                staff.password_hash = passwords.hash_password(password)
            actor = _actor_for(staff)
            session.info["caredesk_actor"] = actor
            record(session, AuditAction.LOGIN, entity="staff", entity_id=staff.id)
    # Raised after the commit: the failed attempt and any lockout must be saved.
    if failure is not None:
        raise failure
    return actor


def logout(db: Database, actor: Actor) -> None:
    """Sign out, and seal the audit trail where it ends now (see audit_seals)."""
    from app.services.clinic.audit_seals import record_seal

    with unit_of_work(db, actor) as session:
        record(session, AuditAction.LOGOUT, entity="staff", entity_id=actor.staff_id)
    record_seal(db, "sign-out")


def session_ended_by_account_change(db: Database, actor: Actor) -> str | None:
    """Why ``actor``'s session may not go on since their account changed (possibly on
    another PC): see :mod:`app.services.clinic.sessions`; None while it is as they
    signed in."""
    with db.uow() as session:
        return why_session_ended(staff_row(session, actor.staff_id), actor)


def lock_ended_session(db: Database, actor: Actor, reason: str) -> None:
    """Record that ``actor``'s session was locked because their account changed; written as
    the system (the account may no longer act), naming them."""
    with unit_of_work(db, None) as session:
        record(
            session,
            AuditAction.SCREEN_LOCKED,
            entity="staff",
            entity_id=actor.staff_id,
            username=actor.username,
            detail=f"account changed: {reason}"[:200],
        )


def lock_screen(db: Database, actor: Actor, *, idle: bool) -> None:
    with unit_of_work(db, actor) as session:
        record(
            session,
            AuditAction.SCREEN_LOCKED,
            entity="staff",
            entity_id=actor.staff_id,
            detail="idle" if idle else "by user",
        )


def unlock_screen(db: Database, actor: Actor, username: str, password: str) -> Actor:
    """Re-authenticate at the lock screen.

    Only the user who locked it can unlock it and keep their unsaved work; the
    same lockout rules apply as at sign-in.
    """
    if normalise_username(username) != actor.username:
        raise ValidationError(
            f"This screen is locked by {actor.full_name}. Only they can unlock it "
            "(or sign out to let someone else sign in).",
            field="username",
        )
    fresh = login(db, username, password)
    # Emergency access lasts for the session, so it survives the lock screen — while the
    # account still holds the grant.
    if actor.emergency_reason is not None:
        kept = fresh.with_emergency(actor.emergency_reason)
        with db.uow() as session:
            if why_session_ended(staff_row(session, actor.staff_id), kept) is None:
                fresh = kept
    with unit_of_work(db, fresh) as session:
        record(session, AuditAction.SCREEN_UNLOCKED, entity="staff", entity_id=actor.staff_id)
    return fresh


def start_emergency_access(db: Database, actor: Actor, reason: str) -> Actor:
    """Open break-glass access: full read access for this session, every action flagged."""
    reason = reason.strip()
    if len(reason) < 10:
        raise ValidationError(
            "Say why emergency access is needed (at least 10 characters).", field="reason"
        )
    with unit_of_work(db, actor) as session:
        staff = session.get(Staff, actor.staff_id)
        if staff is None or not staff.is_active or not staff.may_break_glass:
            raise PermissionDeniedError("open emergency access (an owner must grant it first)")
        elevated = actor.with_emergency(reason)
        session.info["caredesk_actor"] = elevated
        record(
            session,
            AuditAction.EMERGENCY_ACCESS,
            entity="staff",
            entity_id=actor.staff_id,
            detail=reason,
        )
    return elevated


def change_own_password(
    db: Database, actor: Actor, current_password: str, new_password: str
) -> Actor:
    """A user sets their own password: the current one first, then a strong, different one."""
    with unit_of_work(db, actor) as session:
        staff = session.get(Staff, actor.staff_id)
        if staff is None or not passwords.verify_password(staff.password_hash, current_password):
            raise ValidationError("The current password is not right.", field="current_password")
        if new_password == current_password:
            raise WeakPasswordError("Choose a password different from the current one.")
        passwords.check_strength(new_password, username=staff.username)
        staff.password_hash = passwords.hash_password(new_password)
        staff.must_change_password = False
    return replace(actor, must_change_password=False)


def clinic_has_staff(db: Database) -> bool:
    with db.uow() as session:
        return (session.scalar(select(func.count(Staff.id))) or 0) > 0
