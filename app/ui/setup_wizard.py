"""First run: the clinic, its owner, (a passphrase,) the encrypted database and its recovery kit
— or joining the clinic's server, where several PCs share one clinic."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimeZone, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.ui import ops
from app.ui.widgets.clinic_form import ClinicDetailsForm
from app.ui.widgets.form_field import FormField, form_message, growing_form

WELCOME, CLINIC, OWNER, PASSPHRASE, SUMMARY, RECOVERY, JOIN = range(7)


def _explain(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("pageIntro")
    return label


class WelcomePage(QWizardPage):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.setTitle("Welcome to CareDesk")
        self.setSubTitle("Let's set up your clinic. It takes about two minutes.")
        layout = QVBoxLayout(self)
        self.new_clinic_radio = QRadioButton("Start a &new clinic on this computer")
        self.join_radio = QRadioButton("&Join the clinic's server (several PCs share one clinic)")
        self.new_clinic_radio.setChecked(True)
        choice = QButtonGroup(self)
        for button in (self.new_clinic_radio, self.join_radio):
            choice.addButton(button)
            layout.addWidget(button)
        layout.addSpacing(8)
        layout.addWidget(
            _explain(
                "A new clinic:\n\n"
                "  1.  Enter your clinic's name, address and time zone.\n"
                "  2.  Create the owner's account — the person who manages staff and settings.\n"
                "  3.  Save the recovery kit: a one-page PDF with the key to your clinic's data. "
                "Print it and keep it somewhere safe, such as the office safe.\n\n"
                "Everything you enter is stored encrypted on this computer.\n\n"
                "Joining the clinic's server: type the join code whoever set up the server "
                "gave you, and the password for CareDesk's PCs."
            )
        )
        layout.addStretch(1)
        where = QLabel(f"A new clinic's database will be created at:\n{path}")
        where.setObjectName("fieldHint")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(where)

    def nextId(self) -> int:
        return JOIN if self.join_radio.isChecked() else CLINIC


class JoinPage(QWizardPage):
    """Join the clinic's server with its join code: the server must prove it holds the
    clinic's certificate before the password is sent (see app.data.server_join)."""

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Join the clinic's server")
        self.setSubTitle(
            "Whoever set up the server has the join code (it starts with CD1-) and the "
            "password for CareDesk's PCs."
        )
        self.setCommitPage(False)
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("joinCode")
        self.code_edit.setPlaceholderText("CD1-…")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("joinPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = {
            "code": FormField(
                self.code_edit,
                "Paste it as it was given; a server address (postgresql://…) works too once "
                "this PC has the clinic's certificate.",
            ),
            "password": FormField(self.password_edit, "Kept in this computer's key store."),
        }
        form = growing_form(self)
        form.addRow("Join &code", self.fields["code"])
        form.addRow("&Password", self.fields["password"])
        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")
        self.status_label.setWordWrap(True)
        self.error_label = form_message()
        form.addRow(self.status_label)
        form.addRow(self.error_label)
        self.error_label.hide()
        self.joining = False
        for edit in (self.code_edit, self.password_edit):
            edit.textEdited.connect(self.completeChanged)

    def initializePage(self) -> None:
        self.setButtonText(QWizard.WizardButton.NextButton, "&Join")

    def cleanupPage(self) -> None:
        self.setButtonText(QWizard.WizardButton.NextButton, "&Next >")

    def isComplete(self) -> bool:
        typed = bool(self.code_edit.text().strip() and self.password_edit.text())
        return typed and not self.joining

    def validatePage(self) -> bool:
        w = self._wizard
        if w.clinic is not None or w.server_address is not None:
            return True  # joined (and opened, or an empty server to start a clinic on)
        if not self.joining:
            self._start_joining()
        return False

    def nextId(self) -> int:
        # An empty server: the clinic is started there (details and owner, no recovery kit).
        return CLINIC if self._wizard.clinic is None else -1

    def _start_joining(self) -> None:
        from app.services.clinic.clinics import ServerHasNoClinicError, open_server_clinic
        from app.services.clinic.server_join import join_server

        code, password = self.code_edit.text().strip(), self.password_edit.text()

        def join():
            address = join_server(code, password)
            try:
                return address, open_server_clinic(address, password)
            except ServerHasNoClinicError:
                return address, None

        self.joining = True
        self.error_label.hide()
        self.status_label.setText("Checking the server's certificate and signing in…")
        self.completeChanged.emit()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        ops.run_write(join, on_success=self._on_joined, on_failure=self._on_failed, owner=self)

    def _on_joined(self, joined) -> None:
        QGuiApplication.restoreOverrideCursor()
        address, clinic = joined
        self.joining = False
        w = self._wizard
        w.server_address, w.server_password = address, self.password_edit.text()
        w.clinic = clinic
        self.status_label.setText(
            f"Joined {address.describe()}."
            + ("" if clinic else " It holds no clinic yet: next, start one there.")
        )
        self.completeChanged.emit()
        if clinic is not None:
            w.accept()  # the clinic is on the server already: this PC is set up
        else:
            w.next()

    def _on_failed(self, exc: BaseException) -> None:
        QGuiApplication.restoreOverrideCursor()
        self.joining = False
        self.status_label.clear()
        self.error_label.setText(ops.user_message(exc))
        self.error_label.show()
        self.completeChanged.emit()


class ClinicPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your clinic")
        self.setSubTitle("These details appear on printed forms, handouts and receipts.")
        self.form = ClinicDetailsForm()
        zone = bytes(QTimeZone.systemTimeZoneId()).decode("ascii", "ignore")
        if zone and self.form.timezone_combo.findText(zone) >= 0:
            self.form.set_timezone(zone)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addStretch(1)
        self.form.edited.connect(self.completeChanged)

    def isComplete(self) -> bool:
        return self.form.validate(show="touched") is None


class OwnerPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("The owner's account")
        self.setSubTitle(
            "The owner manages staff accounts, settings and the audit log. "
            "Staff get their own accounts later, in Settings."
        )
        self.full_name_edit = QLineEdit()
        self.full_name_edit.setMaxLength(120)
        self.full_name_edit.setPlaceholderText("e.g. Maria Lopez")
        self.username_edit = QLineEdit()
        self.username_edit.setMaxLength(64)
        self.username_edit.setPlaceholderText("e.g. maria")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = {
            "full_name": FormField(self.full_name_edit),
            "username": FormField(
                self.username_edit, "Letters, digits, dots or dashes; used to sign in."
            ),
            "password": FormField(
                self.password_edit, "At least 12 characters. A short sentence works well."
            ),
            "confirm": FormField(self.confirm_edit),
        }
        self.strength_label = QLabel()
        self.strength_label.setObjectName("strengthOk")
        self.strength_label.setWordWrap(True)
        form = growing_form(self)
        form.addRow("&Full name", self.fields["full_name"])
        form.addRow("&Username", self.fields["username"])
        form.addRow("&Password", self.fields["password"])
        form.addRow("", self.strength_label)
        form.addRow("&Repeat password", self.fields["confirm"])
        self._touched: set[str] = set()
        for name, edit in (
            ("full_name", self.full_name_edit),
            ("username", self.username_edit),
            ("password", self.password_edit),
            ("confirm", self.confirm_edit),
        ):
            edit.textEdited.connect(lambda _t, n=name: self._on_edited(n))

    def _on_edited(self, name: str) -> None:
        self._touched.add(name)
        self.completeChanged.emit()

    def problems(self) -> dict[str, str]:
        """Field → what is wrong, for every field (empty when the page is complete)."""
        from app.services.clinic import passwords
        from app.services.clinic.staff import validate_username
        from app.services.errors import ValidationError

        found: dict[str, str] = {}
        if not " ".join(self.full_name_edit.text().split()):
            found["full_name"] = "Type the owner's full name."
        username = ""
        try:
            username = validate_username(self.username_edit.text())
        except ValidationError as error:
            found["username"] = str(error)
        try:
            passwords.check_strength(self.password_edit.text(), username=username)
        except ValidationError as error:
            found["password"] = str(error)
        if self.confirm_edit.text() != self.password_edit.text():
            found["confirm"] = "The two passwords are not the same."
        return found

    def isComplete(self) -> bool:
        found = self.problems()
        for name, field in self.fields.items():
            shown = name in self._touched and name in found
            if name == "confirm" and not self.confirm_edit.text():
                shown = False
            field.set_error(found[name] if shown else None)
        password_typed = bool(self.password_edit.text())
        if password_typed and "password" not in found:
            self.strength_label.setText("✓ Strong enough.")
        else:
            self.strength_label.setText("")
        return not found

    def nextId(self) -> int:
        from app.services.clinic import keys

        if self.wizard() is not None and self.wizard().server_address is not None:
            return SUMMARY  # the server's clinic has no key of CareDesk's
        return SUMMARY if keys.keyring_available() else PASSPHRASE


class PassphrasePage(QWizardPage):
    """Only where the computer has no key store: the database is keyed with a passphrase."""

    def __init__(self) -> None:
        super().__init__()
        from app.services.clinic.keys import MIN_PASSPHRASE_LENGTH

        self.min_length = MIN_PASSPHRASE_LENGTH
        self.setTitle("Database passphrase")
        self.setSubTitle(
            "This computer has no secure key store, so the clinic's data is locked with a "
            "passphrase. CareDesk asks for it each time it starts."
        )
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = {
            "passphrase": FormField(
                self.passphrase_edit,
                f"At least {MIN_PASSPHRASE_LENGTH} characters. It is printed in the recovery kit.",
            ),
            "confirm": FormField(self.confirm_edit),
        }
        form = growing_form(self)
        form.addRow("&Passphrase", self.fields["passphrase"])
        form.addRow("&Repeat passphrase", self.fields["confirm"])
        self.passphrase_edit.textEdited.connect(self.completeChanged)
        self.confirm_edit.textEdited.connect(self.completeChanged)

    def isComplete(self) -> bool:
        text = self.passphrase_edit.text()
        too_short = bool(text) and len(text) < self.min_length
        self.fields["passphrase"].set_error(
            f"The passphrase needs at least {self.min_length} characters." if too_short else None
        )
        mismatch = bool(self.confirm_edit.text()) and self.confirm_edit.text() != text
        self.fields["confirm"].set_error(
            "The two passphrases are not the same." if mismatch else None
        )
        return len(text) >= self.min_length and self.confirm_edit.text() == text


class SummaryPage(QWizardPage):
    """Shows what will be created; Create makes the encrypted database (in the background)."""

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Ready to create your clinic")
        self.setSubTitle("Check the details, then click Create clinic.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Create clinic")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("summary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")
        self.error_label = form_message()
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addStretch(1)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        self.creating = False

    def initializePage(self) -> None:
        w = self._wizard
        d = w.clinic_page.form.details()
        address = ", ".join(
            p
            for p in (
                d.address_line1,
                d.address_line2,
                " ".join(x for x in (d.city, d.region, d.postal_code) if x),
                d.country,
            )
            if p
        )
        lines = [
            f"Clinic:  {' '.join(d.name.split())}",
            f"Address:  {address or '—'}",
            f"Phone:  {d.phone or '—'}      Email:  {d.email or '—'}",
            f"Time zone:  {d.timezone}",
            f"Language and region:  {w.clinic_page.form.locale_combo.currentText()}",
            f"Currency:  {d.currency}",
            "",
            f"Owner:  {w.owner_page.full_name_edit.text().strip()} "
            f"(signs in as “{w.owner_page.username_edit.text().strip().lower()}”)",
            "",
            f"Database:  {w.server_address.describe() if w.server_address else w.path}",
        ]
        self.summary_label.setText("\n".join(lines))
        # On the server the clinic is complete once created (no recovery kit: no key of
        # ours), so this is the last page and its Finish button creates it.
        finish = "&Create clinic" if w.server_address is not None else "&Finish"
        w.setButtonText(QWizard.WizardButton.FinishButton, finish)
        self.error_label.hide()
        self.status_label.clear()

    def isComplete(self) -> bool:
        return not self.creating

    def validatePage(self) -> bool:
        if self._wizard.clinic is not None:
            return True
        if not self.creating:
            self._start_creating()
        return False

    def nextId(self) -> int:
        return -1 if self._wizard.server_address is not None else RECOVERY

    def _start_creating(self) -> None:
        from app.services.clinic.clinics import create_clinic, create_clinic_on_server

        w = self._wizard
        details = w.clinic_page.form.details()
        username = w.owner_page.username_edit.text()
        full_name = w.owner_page.full_name_edit.text()
        password = w.owner_page.password_edit.text()
        passphrase = w.passphrase_page.passphrase_edit.text() or None
        path = w.path
        self.creating = True
        self.error_label.hide()
        self.status_label.setText("Creating the encrypted database…")
        self.completeChanged.emit()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        server, server_password = w.server_address, w.server_password
        if server is not None:
            self.status_label.setText("Starting the clinic on the server…")

            def create():
                return create_clinic_on_server(
                    server, details, username, full_name, password, server_password=server_password
                )
        else:

            def create():
                return create_clinic(
                    path, details, username, full_name, password, passphrase=passphrase
                )

        ops.run_write(
            create,
            on_success=self._on_created,
            on_failure=self._on_failed,
            owner=self,
        )

    def _on_created(self, clinic) -> None:
        QGuiApplication.restoreOverrideCursor()
        self.creating = False
        self._wizard.clinic = clinic
        self.status_label.setText("Created.")
        self.completeChanged.emit()
        if self._wizard.server_address is not None:
            self._wizard.accept()  # the last page: nothing more to do on this PC
        else:
            self._wizard.next()

    def _on_failed(self, exc: BaseException) -> None:
        QGuiApplication.restoreOverrideCursor()
        self.creating = False
        self.status_label.clear()
        field = getattr(exc, "field", None)
        hint = " Click Back to correct it." if field else ""
        self.error_label.setText(ops.user_message(exc) + hint)
        self.error_label.show()
        self.completeChanged.emit()


class RecoveryPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Save the recovery kit")
        self.setSubTitle("Your clinic is created. One last, important step.")
        self.saved_path: Path | None = None
        intro = _explain(
            "The recovery kit is a one-page PDF holding the key to your clinic's encrypted "
            "data. If this computer breaks or is replaced, the kit is the only way to open "
            "the clinic's records again — without it, nobody (not even CareDesk support) "
            "can recover them.\n\n"
            "Save it now, print it, and keep the paper somewhere safe, such as the office "
            "safe. Then delete the PDF file."
        )
        self.save_button = QPushButton("&Save recovery kit PDF…")
        self.save_button.setObjectName("primaryButton")
        self.status_label = QLabel()
        self.status_label.setObjectName("strengthOk")
        self.status_label.setWordWrap(True)
        self.error_label = form_message()
        self.later_check = QCheckBox("I will print it later from Settings → Clinic details")
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(8)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.later_check)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.later_check.toggled.connect(self.completeChanged)

    def isComplete(self) -> bool:
        return self.saved_path is not None or self.later_check.isChecked()

    def nextId(self) -> int:
        return -1  # the last page (the join page's id comes after it)

    @Slot()
    def on_save_clicked(self) -> None:
        from app.ui.recovery_kit import RecoveryKitSaver

        w = self._wizard
        if w.clinic is None:
            return
        self.error_label.hide()
        started = RecoveryKitSaver.save(
            self,
            w.clinic,
            w.clinic_page.form.details(),
            None,
            w.owner_page.full_name_edit.text().strip(),
            on_saved=self._on_saved,
            on_failed=self._on_failed,
        )
        if started:
            self.save_button.setEnabled(False)
            self.status_label.setText("Saving…")

    def _on_saved(self, path: Path) -> None:
        self.saved_path = path
        self.save_button.setEnabled(True)
        self.save_button.setText("&Save another copy…")
        self.status_label.setText(f"✓ Saved to {path}. Print it, then keep the paper safe.")
        self.completeChanged.emit()

    def _on_failed(self, message: str) -> None:
        self.save_button.setEnabled(True)
        self.status_label.clear()
        self.error_label.setText(message)
        self.error_label.show()


class SetupWizard(QWizard):
    """Creates the clinic at ``path``; after ``exec``/``finished``, ``clinic`` is the OpenClinic."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.clinic = None
        #: Set once this PC joined the clinic's server (then the clinic lives there).
        self.server_address = None
        self.server_password: str | None = None
        self.setObjectName("setupWizard")
        self.setWindowTitle("Set up CareDesk")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.welcome_page = WelcomePage(self.path)
        self.clinic_page = ClinicPage()
        self.owner_page = OwnerPage()
        self.passphrase_page = PassphrasePage()
        self.summary_page = SummaryPage(self)
        self.recovery_page = RecoveryPage(self)
        self.join_page = JoinPage(self)
        self.setPage(WELCOME, self.welcome_page)
        self.setPage(JOIN, self.join_page)
        self.setPage(CLINIC, self.clinic_page)
        self.setPage(OWNER, self.owner_page)
        self.setPage(PASSPHRASE, self.passphrase_page)
        self.setPage(SUMMARY, self.summary_page)
        self.setPage(RECOVERY, self.recovery_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Finish")
        self.resize(760, 720)

    def reject(self) -> None:
        # Once the clinic exists the wizard only finishes (the kit decision is required).
        if self.clinic is not None or self.summary_page.creating or self.join_page.joining:
            return
        super().reject()
