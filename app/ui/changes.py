"""The app-level broadcast of what a write changed, so open views refresh only that.

Nobody publishes by hand: :mod:`app.ui.ops` collects the :class:`Changes` each operation's
units of work committed and announces them on the GUI thread; the bus of the session
whose database they were committed to broadcasts them on ``changed``.  Views
connect to ``changed`` and look at the flags they care about.  No view polls and no
window reaches into another.

On the clinic server, other PCs' writes arrive the same way: the bus listens to the
server (:mod:`app.data.server_events`) and broadcasts what each of them changed, within
a moment of its commit.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from app.services.changes import Changes, changes_of_kinds
from app.ui import ops

if TYPE_CHECKING:
    from app.services.clinic.clinics import Database


class ChangeBus(QObject):
    """One per signed-in session; passed to every window through the :class:`UiContext`."""

    changed = Signal(object)  # Changes
    #: Another PC's write (a ServerChange: kinds, row ids, which PC), after ``changed``
    #: broadcast it: for views that say *who* changed what they show.
    remote_changed = Signal(object)
    #: False when the live connection to the clinic server is lost, True when it is back.
    server_connection = Signal(bool)
    #: From the listener's thread; queued to the GUI thread by Qt.
    _heard = Signal(object)

    def __init__(self, db: Database) -> None:
        super().__init__()
        self._db = db
        # The relay lives as long as the application; Qt drops the connection with the bus.
        ops.committed_signal().connect(self.on_committed)
        self._heard.connect(self.on_heard)
        #: Whether other PCs' changes are being heard right now (None on the file).
        self.live: bool | None = None
        self.server_connection.connect(self.on_server_connection)
        self._listener = db.change_listener(self._heard.emit, on_connection=self._connection)
        if self._listener is not None:
            self._listener.start()

    def _connection(self, up: bool) -> None:
        self.server_connection.emit(up)  # on the listener's thread: Qt queues it

    @Slot(bool)
    def on_server_connection(self, up: bool) -> None:
        self.live = up

    def close(self) -> None:
        """Stop listening to the server (the session ended)."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    @Slot(object)
    def on_heard(self, change) -> None:
        """Another PC committed ``change``; None when the connection came back after a gap
        (what changed meanwhile is not known, so everything is refreshed)."""
        if self._listener is None:
            return  # closed meanwhile
        if change is None:
            self.publish(Changes(**{f.name: True for f in fields(Changes)}))
            return
        self.publish(changes_of_kinds(change.kinds))
        self.remote_changed.emit(change)

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
