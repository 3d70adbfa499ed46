"""Errors the persistence layer raises, each with a sentence a user understands.

``app.services.errors`` builds the domain errors on the same base, so the UI
catches one type (``CareDeskError``) and shows ``str(error)``.
"""

from __future__ import annotations


class CareDeskError(Exception):
    """An error a user can cause or fix; its message is shown as it is."""


class DatabaseLockedError(CareDeskError):
    """Wrong key or passphrase."""

    def __init__(self) -> None:
        super().__init__(
            "This database could not be unlocked: the key or passphrase is not the right one. "
            "Nothing in the file was changed. Try again, or use the recovery key from the "
            "clinic's recovery kit."
        )


class NotACareDeskDatabaseError(CareDeskError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"This file is not a CareDesk clinic database: {reason}")


class DatabaseDamagedError(CareDeskError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            "This clinic database is damaged and cannot be opened safely "
            f"({reason}). Restore the latest backup, or contact support."
        )


class DatabaseMissingError(CareDeskError):
    def __init__(self, path: str) -> None:
        super().__init__(f"There is no clinic database at {path}.")


class DatabaseExistsError(CareDeskError):
    def __init__(self, path: str) -> None:
        super().__init__(f"A file already exists at {path}; CareDesk will not overwrite it.")


class NetworkShareError(CareDeskError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is on a network share. CareDesk keeps its database on this PC's own disk: "
            "a shared database file gets damaged when two computers write to it. "
            "Several front-desk PCs will share one clinic through a database server."
        )


class DatabaseTooNewError(CareDeskError):
    def __init__(self) -> None:
        super().__init__(
            "This clinic database was written by a newer CareDesk. Install the latest version "
            "to open it."
        )
