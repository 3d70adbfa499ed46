"""The app-level broadcast of what a write changed, so open views refresh only that.

Every successful write in the UI ends with ``changes_bus.changed.emit(Changes(...))``;
views connect to ``changed`` and look at the flags they care about.  No view
polls and no window reaches into another.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class Changes:
    """Which kinds of thing a write changed.  Later areas add one flag each."""

    clinic: bool = False
    staff: bool = False
    audit: bool = False
    providers: bool = False
    rooms: bool = False
    services: bool = False
    patients: bool = False
    appointments: bool = False
    notes: bool = False
    plans: bool = False
    payments: bool = False
    referrals: bool = False
    documents: bool = False

    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


class ChangeBus(QObject):
    """One per signed-in session; passed to every window through the :class:`UiContext`."""

    changed = Signal(object)  # Changes

    def publish(self, changes: Changes) -> None:
        # Every write is audited, so the audit view refreshes after any change.
        if changes.any() and not changes.audit:
            from dataclasses import replace

            changes = replace(changes, audit=True)
        self.changed.emit(changes)
