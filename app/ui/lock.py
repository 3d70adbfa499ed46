"""The screen lock: after idle minutes (or Ctrl+L) the login form covers the window.

The overlay sits *on top of* the pages; nothing underneath is hidden, rebuilt
or reset, so after the same user signs in again every half-typed form is
exactly as it was, focus included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import ops
from app.ui.login import LoginWidget

if TYPE_CHECKING:
    from app.services.clinic.actor import Actor
    from app.ui.context import UiContext

_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)


class IdleWatcher(QObject):
    """Emits ``idle`` after ``minutes`` without keyboard or mouse input anywhere in the app."""

    idle = Signal()

    def __init__(self, minutes: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.idle)
        self.set_minutes(minutes)
        self._installed = False

    def set_minutes(self, minutes: int) -> None:
        self.timer.setInterval(max(1, minutes) * 60_000)
        if self.timer.isActive():
            self.timer.start()

    def start(self) -> None:
        app = QApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None and self._installed:
            app.removeEventFilter(self)
            self._installed = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS and self.timer.isActive():
            self.timer.start()  # restart the countdown
        return False


class LockOverlay(QWidget):
    """Covers its parent completely with an opaque panel holding the login form."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("lockOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAutoFillBackground(True)
        self.login = LoginWidget("Screen locked")
        self.sign_out_button = QPushButton("Sign out instead")
        self.sign_out_button.setObjectName("linkButton")
        self.sign_out_button.setAutoDefault(False)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(self.login, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.sign_out_button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(column)
        layout.addStretch(1)
        parent.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()


class ScreenLock(QObject):
    """Locks ``content`` under an overlay on ``host``; only the signed-in user unlocks it."""

    locked = Signal()
    unlocked = Signal(object)  # the (re-authenticated) Actor
    sign_out_requested = Signal()

    def __init__(self, ctx: UiContext, host: QWidget, content: QWidget) -> None:
        super().__init__(host)
        self.ctx = ctx
        self.host = host
        self.content = content
        self.overlay = LockOverlay(host)
        self.idle = IdleWatcher(ctx.details.idle_lock_minutes, self)
        self.is_locked = False
        self._focus_before: QWidget | None = None
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.idle.idle.connect(self.on_idle_idle)
        self.overlay.login.sign_in_requested.connect(self.on_login_sign_in_requested)
        self.overlay.sign_out_button.clicked.connect(self.sign_out_requested)

    def start(self) -> None:
        self.idle.start()

    def stop(self) -> None:
        self.idle.stop()

    @Slot()
    def on_idle_idle(self) -> None:
        self.lock(idle=True)

    def lock(self, *, idle: bool = False, reason: str | None = None) -> None:
        """Cover the window until its user signs in again.  ``reason``: the account changed
        (services/clinic/sessions.py) — said on the lock, and the lock is recorded as the
        system's (the account may no longer act)."""
        if self.is_locked:
            return
        from app.services.clinic import auth

        self.is_locked = True
        self.idle.timer.stop()
        focus = QApplication.focusWidget()
        self._focus_before = (
            focus if focus is not None and self.content.isAncestorOf(focus) else None
        )
        # A modal dialog would stay on top of the overlay, showing what it shows: close it.
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QDialog) and widget.isVisible() and widget.isModal():
                widget.reject()
        self.content.setEnabled(False)  # no Tab into the pages underneath; their state is kept
        actor = self.ctx.actor
        self.overlay.login.title_label.setText("Screen locked")
        self.overlay.login.subtitle_label.setText(
            reason
            or f"{actor.full_name} locked this screen. Sign in again to carry on where you "
            "left off."
        )
        self.overlay.login.subtitle_label.show()
        self.overlay.login.reset(actor.username)
        self.overlay.cover()
        self.overlay.login.password_edit.setFocus()
        db = self.ctx.db
        if reason is None:
            ops.run_write(lambda: auth.lock_screen(db, actor, idle=idle), owner=self)
        else:
            ops.run_write(lambda: auth.lock_ended_session(db, actor, reason), owner=self)
        self.locked.emit()

    @Slot(str, str)
    def on_login_sign_in_requested(self, username: str, password: str) -> None:
        from app.services.clinic import auth

        self.overlay.login.set_busy(True)
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: auth.unlock_screen(db, actor, username, password),
            on_success=self.on_unlock_succeeded,
            on_failure=lambda exc: self.overlay.login.failed(ops.user_message(exc)),
            owner=self,
        )

    def on_unlock_succeeded(self, actor: Actor) -> None:
        self.ctx.actor = actor
        self.overlay.login.reset()
        self.overlay.hide()
        self.content.setEnabled(True)
        if self._focus_before is not None and shiboken6.isValid(self._focus_before):
            self._focus_before.setFocus()
        self._focus_before = None
        self.is_locked = False
        self.idle.timer.start()
        self.unlocked.emit(actor)
