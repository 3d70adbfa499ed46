"""Signing in, lockout, the lock screen and emergency access."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.clock import utc_now
from app.data.models.audit import AuditEntry
from app.data.models.staff import Role, Staff
from app.services.clinic import auth, staff
from app.services.errors import (
    AccountLockedError,
    LoginFailedError,
    PermissionDeniedError,
    ValidationError,
)
from tests.conftest import OWNER_PASSWORD, STAFF_PASSWORD


def _actions(db, username=None):
    with db.uow() as s:
        query = select(AuditEntry.action).order_by(AuditEntry.id)
        if username:
            query = query.where(AuditEntry.username == username)
        return list(s.scalars(query))


def test_owner_signs_in_with_any_username_case(clinic):
    actor = auth.login(clinic.db, "  OWNER ", OWNER_PASSWORD)
    assert actor.username == "owner"
    assert actor.role is Role.OWNER
    assert actor.full_name == "Olivia Owner"
    assert _actions(clinic.db)[-1] == "login"


@pytest.mark.parametrize(
    "username,password",
    [
        ("owner", "wrong password entirely"),
        ("nobody", OWNER_PASSWORD),
        ("owner", ""),
    ],
)
def test_wrong_credentials_give_one_message_and_are_audited(clinic, username, password):
    with pytest.raises(LoginFailedError, match="username or password is not right"):
        auth.login(clinic.db, username, password)
    assert _actions(clinic.db)[-1] == "login_failed"


def test_five_failures_lock_the_account_even_for_the_right_password(clinic, owner):
    staff.create_staff(clinic.db, owner, "rita", "Rita Reyes", Role.RECEPTIONIST, STAFF_PASSWORD)
    for _ in range(5):
        with pytest.raises(LoginFailedError):
            auth.login(clinic.db, "rita", "not her password")
    # Someone guessing learns nothing: a locked account answers as an unknown one…
    with pytest.raises(LoginFailedError, match="The username or password is not right"):
        auth.login(clinic.db, "rita", "another guess")
    with pytest.raises(LoginFailedError, match="The username or password is not right"):
        auth.login(clinic.db, "nobody-here", "a guess")
    # …while Rita, with her own password, is told it is locked and for how long.
    with pytest.raises(AccountLockedError, match="5 minutes"):
        auth.login(clinic.db, "rita", STAFF_PASSWORD)
    # Failed attempts name the account, so the owner sees whose password is being guessed.
    assert _actions(clinic.db, "rita")[-4:] == [
        "login_failed", "account_locked", "login_failed", "login_failed"
    ]  # fmt: skip
    rows = staff.list_staff(clinic.db, owner)
    assert next(r for r in rows if r.username == "rita").locked

    staff.unlock_account(clinic.db, owner, next(r.id for r in rows if r.username == "rita"))
    assert auth.login(clinic.db, "rita", STAFF_PASSWORD).username == "rita"
    assert "account_unlocked" in _actions(clinic.db, "owner")


def test_lock_expires_after_five_minutes(clinic, owner):
    staff.create_staff(clinic.db, owner, "rita", "Rita Reyes", Role.RECEPTIONIST, STAFF_PASSWORD)
    for _ in range(5):
        with pytest.raises((LoginFailedError, AccountLockedError)):
            auth.login(clinic.db, "rita", "not her password")
    with clinic.db.uow() as s:  # let the clock run: the lock ended a second ago
        s.execute(
            update(Staff)
            .where(Staff.username == "rita")
            .values(locked_until=utc_now() - timedelta(seconds=1))
        )
    assert auth.login(clinic.db, "rita", STAFF_PASSWORD).username == "rita"


def test_a_successful_sign_in_resets_the_failure_count(clinic, owner):
    staff.create_staff(clinic.db, owner, "rita", "Rita Reyes", Role.RECEPTIONIST, STAFF_PASSWORD)
    for _ in range(4):
        with pytest.raises(LoginFailedError):
            auth.login(clinic.db, "rita", "typo")
    auth.login(clinic.db, "rita", STAFF_PASSWORD)
    for _ in range(4):  # four more: still not locked
        with pytest.raises(LoginFailedError):
            auth.login(clinic.db, "rita", "typo")


def test_deactivated_staff_cannot_sign_in(clinic, owner, make_staff):
    rita = make_staff("rita", Role.RECEPTIONIST)
    staff.set_active(clinic.db, owner, rita.staff_id, False)
    with pytest.raises(LoginFailedError):
        auth.login(clinic.db, "rita", STAFF_PASSWORD)


def test_only_the_user_who_locked_the_screen_can_unlock_it(clinic, owner, make_staff):
    make_staff("rita", Role.RECEPTIONIST)
    auth.lock_screen(clinic.db, owner, idle=True)
    with pytest.raises(ValidationError, match="locked by Olivia Owner"):
        auth.unlock_screen(clinic.db, owner, "rita", STAFF_PASSWORD)
    with pytest.raises(LoginFailedError):
        auth.unlock_screen(clinic.db, owner, "owner", "wrong")
    again = auth.unlock_screen(clinic.db, owner, "owner", OWNER_PASSWORD)
    assert again.staff_id == owner.staff_id
    assert _actions(clinic.db, "owner")[-4:] == [
        "screen_locked",
        "login_failed",
        "login",
        "screen_unlocked",
    ]


def test_emergency_access_needs_a_grant_and_a_reason(clinic, owner, make_staff):
    rita = make_staff("rita", Role.RECEPTIONIST)
    with pytest.raises(PermissionDeniedError, match="owner must grant"):
        auth.start_emergency_access(clinic.db, rita, "patient collapsed in the waiting room")
    staff.update_staff(
        clinic.db,
        owner,
        rita.staff_id,
        full_name="Rita",
        role=Role.RECEPTIONIST,
        may_break_glass=True,
    )
    with pytest.raises(ValidationError, match="Say why"):
        auth.start_emergency_access(clinic.db, rita, "  urgent ")
    elevated = auth.start_emergency_access(clinic.db, rita, "patient collapsed in the waiting room")
    assert elevated.in_emergency
    auth.lock_screen(clinic.db, elevated, idle=False)
    after_unlock = auth.unlock_screen(clinic.db, elevated, "rita", STAFF_PASSWORD)
    assert after_unlock.in_emergency, "emergency access lasts the whole session"
    with clinic.db.uow() as s:
        flagged = list(s.scalars(select(AuditEntry.action).where(AuditEntry.break_glass)))
    assert flagged[:2] == ["emergency_access", "screen_locked"]
    assert "screen_unlocked" in flagged


def test_unknown_usernames_are_not_written_to_the_log(clinic):
    with pytest.raises(LoginFailedError):
        auth.login(clinic.db, "my secret password", "x")
    with clinic.db.uow() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (last.username, last.detail) == ("(unknown)", "unknown username")


def test_after_a_reset_the_user_must_choose_their_own_password(clinic, owner, make_staff):
    rita = make_staff("rita", Role.RECEPTIONIST)
    assert not rita.must_change_password
    staff.reset_password(clinic.db, owner, rita.staff_id, "temporary-pass-4471")
    rita = auth.login(clinic.db, "rita", "temporary-pass-4471")
    assert rita.must_change_password
    with pytest.raises(ValidationError, match="current password is not right"):
        auth.change_own_password(clinic.db, rita, "wrong", "my-own-new-pass-2026")
    with pytest.raises(ValidationError, match="different from the current"):
        auth.change_own_password(clinic.db, rita, "temporary-pass-4471", "temporary-pass-4471")
    with pytest.raises(ValidationError, match="at least 12"):
        auth.change_own_password(clinic.db, rita, "temporary-pass-4471", "short")
    rita = auth.change_own_password(clinic.db, rita, "temporary-pass-4471", "my-own-new-pass-2026")
    assert not rita.must_change_password
    assert not auth.login(clinic.db, "rita", "my-own-new-pass-2026").must_change_password
    with pytest.raises(LoginFailedError):
        auth.login(clinic.db, "rita", "temporary-pass-4471")


@pytest.mark.both_backends
def test_a_session_ends_when_its_account_is_deactivated_or_its_role_changes(
    clinic, owner, make_staff
):
    """Read on every PC when staff change (their own or another PC's): the session goes on
    only while the account is as it was at sign-in."""
    rita = make_staff("rita", Role.RECEPTIONIST, "Rita Reyes")
    assert auth.session_ended_by_account_change(clinic.db, rita) is None
    staff.update_staff(
        clinic.db, owner, rita.staff_id, full_name="Rita Reyes", role=Role.COORDINATOR,
        may_break_glass=False,
    )  # fmt: skip
    assert auth.session_ended_by_account_change(clinic.db, rita) == (
        "Your role was changed (you are now a coordinator), so you have been signed out. "
        "Sign in again to go on with what the new role allows."
    )
    again = auth.login(clinic.db, "rita", STAFF_PASSWORD)
    assert auth.session_ended_by_account_change(clinic.db, again) is None
    staff.set_active(clinic.db, owner, rita.staff_id, False)
    assert auth.session_ended_by_account_change(clinic.db, again).startswith(
        "Your account was deactivated, so you have been signed out."
    )
