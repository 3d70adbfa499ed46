"""Signing in: the login form, used by the login window and by the lock screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import ops

if TYPE_CHECKING:
    from app.services.clinic.actor import Actor
    from app.services.clinic.clinics import Database


class LoginWidget(QFrame):
    """Username, password, Sign in and a message line; Enter in either field submits."""

    sign_in_requested = Signal(str, str)  # username, password

    def __init__(self, title: str, subtitle: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loginCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(400)
        self.title_label = QLabel(title)
        self.title_label.setObjectName("loginTitle")
        self.title_label.setWordWrap(True)
        self.subtitle_label = QLabel(subtitle, self)
        self.subtitle_label.setObjectName("loginSubtitle")
        self.subtitle_label.setWordWrap(True)
        self.subtitle_label.setVisible(bool(subtitle))
        self.username_edit = QLineEdit()
        self.username_edit.setObjectName("username")
        self.username_edit.setPlaceholderText("e.g. maria")
        self.username_edit.setMaxLength(64)
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("primaryButton")
        self.sign_in_button.setDefault(True)
        self.message_label = QLabel()
        self.message_label.setObjectName("loginMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setVisible(False)

        form = QVBoxLayout()
        form.setSpacing(4)
        for text, edit in (("&Username", self.username_edit), ("&Password", self.password_edit)):
            label = QLabel(text)
            label.setBuddy(edit)
            form.addWidget(label)
            form.addWidget(edit)
            form.addSpacing(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(12)
        layout.addWidget(self.title_label)
        layout.addWidget(self.subtitle_label)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.sign_in_button)
        self.setTabOrder(self.username_edit, self.password_edit)
        self.setTabOrder(self.password_edit, self.sign_in_button)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.username_edit.returnPressed.connect(self.on_submit)
        self.password_edit.returnPressed.connect(self.on_submit)
        self.sign_in_button.clicked.connect(self.on_submit)

    @Slot()
    def on_submit(self) -> None:
        if not self.sign_in_button.isEnabled():
            return  # already checking
        username = self.username_edit.text().strip()
        if not username:
            self.show_message("Type your username.")
            self.username_edit.setFocus()
            return
        if not self.password_edit.text():
            self.show_message("Type your password.")
            self.password_edit.setFocus()
            return
        self.show_message("")
        self.sign_in_requested.emit(username, self.password_edit.text())

    def set_busy(self, busy: bool) -> None:
        self.sign_in_button.setEnabled(not busy)
        self.sign_in_button.setText("Checking…" if busy else "Sign in")
        self.username_edit.setReadOnly(busy)
        self.password_edit.setReadOnly(busy)

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def message(self) -> str:
        return self.message_label.text()

    def reset(self, username: str = "") -> None:
        """Empty form (or the username prefilled) with the focus where typing starts."""
        self.set_busy(False)
        self.show_message("")
        self.username_edit.setText(username)
        self.password_edit.clear()
        self.focus_first_empty()

    def failed(self, message: str) -> None:
        self.set_busy(False)
        self.show_message(message)
        self.password_edit.clear()
        self.password_edit.setFocus()

    def focus_first_empty(self) -> None:
        (self.password_edit if self.username_edit.text() else self.username_edit).setFocus()


class LoginWindow(QWidget):
    """The first window after the clinic opens: who is at the desk?

    It can be shown before the database is open (start-up paints it at once, a busy
    bar moving under the form); the form is enabled by :meth:`set_clinic` once the
    clinic is unlocked.
    """

    signed_in = Signal(object)  # Actor
    closed = Signal()

    def __init__(
        self, db: Database | None, clinic_name: str = "CareDesk", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.setObjectName("loginWindow")
        self.login = LoginWidget(clinic_name, "Sign in to CareDesk with your own account.")
        footer = QLabel("Patient information in CareDesk is encrypted on this computer.")
        footer.setObjectName("loginFooter")
        footer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Moving while the clinic opens (a backup and an upgrade can take a while).
        self.opening_bar = QProgressBar()
        self.opening_bar.setObjectName("openingClinic")
        self.opening_bar.setRange(0, 0)
        self.opening_bar.setTextVisible(False)
        self.opening_bar.setFixedWidth(self.login.width())
        self.opening_bar.setAccessibleName("Opening the clinic")
        policy = self.opening_bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the form does not jump once the clinic is open
        self.opening_bar.setSizePolicy(policy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 16)
        layout.addStretch(1)
        layout.addWidget(self.login, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.opening_bar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        layout.addWidget(footer)
        self.resize(600, 580)
        self._connect_signals()
        if db is None:
            self.setWindowTitle("CareDesk")
            self.login.set_busy(True)
            self.login.sign_in_button.setText("Opening the clinic…")
        else:
            self.set_clinic(db, clinic_name)

    def _connect_signals(self) -> None:
        self.login.sign_in_requested.connect(self.on_login_sign_in_requested)

    def set_clinic(self, db: Database, clinic_name: str) -> None:
        self.db = db
        self.opening_bar.hide()
        self.setWindowTitle(f"CareDesk — {clinic_name}")
        self.login.title_label.setText(clinic_name)
        self.login.reset()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.login.focus_first_empty()

    def closeEvent(self, event) -> None:
        super().closeEvent(event)
        self.closed.emit()

    @Slot(str, str)
    def on_login_sign_in_requested(self, username: str, password: str) -> None:
        from app.services.clinic import auth

        db = self.db
        if db is None:
            return
        self.login.set_busy(True)
        # argon2 takes ~50–100 ms on purpose: off the GUI thread.
        ops.run_write(
            lambda: auth.login(db, username, password),
            on_success=self.on_login_succeeded,
            on_failure=lambda exc: self.login.failed(ops.user_message(exc)),
            owner=self,
        )

    def on_login_succeeded(self, actor: Actor) -> None:
        self.login.reset()
        self.signed_in.emit(actor)
