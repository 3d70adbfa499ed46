"""Domain errors, each carrying the sentence the user sees.

The UI catches ``CareDeskError`` and shows ``str(error)``; anything else is a
bug, logged without patient data and reported once.
"""

from __future__ import annotations

from datetime import date

from app.data.errors import (
    CareDeskError,
    DatabaseDamagedError,
    DatabaseExistsError,
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseTooNewError,
    NetworkShareError,
    NotACareDeskDatabaseError,
)

__all__ = [
    "AccountLockedError",
    "CareDeskError",
    "ConcurrentEditError",
    "DatabaseDamagedError",
    "DatabaseExistsError",
    "DatabaseLockedError",
    "DatabaseMissingError",
    "DatabaseTooNewError",
    "KeyRequiredError",
    "LoginFailedError",
    "MonthClosedError",
    "NetworkShareError",
    "NotACareDeskDatabaseError",
    "NotFoundError",
    "NoteLockedError",
    "PatientChangedError",
    "PermissionDeniedError",
    "TimeTakenMeanwhileError",
    "ValidationError",
    "WeakPasswordError",
]


class ValidationError(CareDeskError):
    """Input that cannot be saved; ``field`` names the form field to highlight."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MonthClosedError(ValidationError):
    """A payment, charge or adjustment dated in a closed month was to be added, changed or
    voided.  ``period`` is that month's (first, last) clinic-local day; ``closed_through``
    the last day the books are closed through.  The owner may do it anyway, with a reason
    (app.services.clinic.closed_months.override_closed_months); others are told who can."""

    def __init__(self, message: str, period: tuple[date, date], closed_through: date) -> None:
        super().__init__(message)
        self.period = period
        self.closed_through = closed_through


class WeakPasswordError(ValidationError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="password")


class LoginFailedError(CareDeskError):
    def __init__(self) -> None:
        super().__init__("The username or password is not right.")


class AccountLockedError(CareDeskError):
    def __init__(self, minutes_left: int) -> None:
        unit = "minute" if minutes_left == 1 else "minutes"
        super().__init__(
            "This account is locked after too many failed sign-ins. "
            f"Try again in {minutes_left} {unit}, or ask the owner to unlock it."
        )
        self.minutes_left = minutes_left


class PermissionDeniedError(CareDeskError):
    def __init__(self, what: str) -> None:
        super().__init__(f"Your role does not allow you to {what}.")


class NotFoundError(CareDeskError):
    pass


class ConcurrentEditError(CareDeskError):
    """The row changed since it was read; ``changed_by``/``changed_at`` (clinic time) name
    the change when the audit trail says who made it."""

    def __init__(
        self, what: str, changed_by: str = "", changed_at=None, *, clock: str = ""
    ) -> None:
        """``clock``: ``changed_at`` as the clinic writes a time ("4:59 PM"); 24-hour if not
        given."""
        who = f" by {changed_by}" if changed_by else ""
        clock = clock or (f"{changed_at:%H:%M}" if changed_at is not None else "")
        when = f" at {clock}" if clock else ""
        where = " on another workstation" if not who else ""
        super().__init__(
            f"{what} was changed{who}{when}{where} while you were editing. "
            "Reload it to see the latest version."
        )
        self.changed_by = changed_by
        self.changed_at = changed_at


class DatabaseBusyError(CareDeskError):
    """Another workstation held the clinic database for longer than a write can wait."""

    def __init__(self) -> None:
        super().__init__(
            "The clinic database is busy with another workstation's work, so this was not "
            "saved. Nothing was changed; try again in a moment."
        )


class TimeTakenMeanwhileError(CareDeskError):
    """The clinic server refused a booking that overlaps another (its exclusion constraint):
    another PC took the time in a way the clash check could not see."""

    def __init__(self) -> None:
        super().__init__(
            "Another booking holds this time with the same provider or room, so this was not "
            "saved. Look at the calendar again and choose a free time."
        )


class KeyRequiredError(CareDeskError):
    """The keyring holds no key for this database (or there is no keyring)."""

    def __init__(self, keyring_missing: bool) -> None:
        if keyring_missing:
            message = (
                "This computer has no key store, so CareDesk needs the clinic's passphrase "
                "(or the recovery key from the recovery kit) to open the database."
            )
        else:
            message = (
                "This computer's key store has no key for this clinic database. Type the "
                "recovery key from the clinic's recovery kit (or the passphrase)."
            )
        super().__init__(message)
        self.keyring_missing = keyring_missing


class PatientChangedError(ConcurrentEditError):
    """Someone else saved this patient since the form was loaded."""

    def __init__(self, changed_by: str, changed_at, *, clock: str = "") -> None:
        when = clock or (changed_at.strftime("%H:%M") if changed_at is not None else "")
        when = when or "a moment ago"
        CareDeskError.__init__(
            self,
            f"This patient was changed by {changed_by} at {when} while you were editing. "
            "Reload to see their changes, or overwrite them with yours.",
        )
        self.changed_by = changed_by
        self.changed_at = changed_at


class NoteLockedError(CareDeskError):
    def __init__(self) -> None:
        super().__init__(
            "This consultation note is signed and locked; it cannot be changed. "
            "Add an addendum to correct or complete it."
        )
