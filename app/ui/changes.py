"""The app-level broadcast of what a write changed, so open views refresh only that.

Nobody publishes by hand: :mod:`app.ui.ops` collects the :class:`Changes` each operation's
units of work committed and announces them on the GUI thread; the bus of the session
whose database they were committed to broadcasts them on ``changed``.  Views
connect to ``changed`` and look at the flags they care about.  No view polls and no
window reaches into another.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from app.services.changes import Changes
from app.ui import ops

if TYPE_CHECKING:
    from app.services.clinic.clinics import Database


class ChangeBus(QObject):
    """One per signed-in session; passed to every window through the :class:`UiContext`."""

    changed = Signal(object)  # Changes

    def __init__(self, db: Database) -> None:
        super().__init__()
        self._db = db
        # The relay lives as long as the application; Qt drops the connection with the bus.
        ops.committed_signal().connect(self.on_committed)

    @Slot(object, object)
    def on_committed(self, db: Database, changes: Changes) -> None:
        if db is self._db:  # another clinic's session (tests open several) is not ours
            self.publish(changes)

    def publish(self, changes: Changes) -> None:
        """Broadcast ``changes`` to this session's views."""
        # Every write is audited, so the audit view refreshes after any change.
        if changes.any() and not changes.audit:
            changes = replace(changes, audit=True)
        self.changed.emit(changes)
