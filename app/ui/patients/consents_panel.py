"""A patient's consents: the ones still to sign, and the signed ones on file.

"Still to sign" lists the consents the services of the patient's booked visits and accepted
treatment require without a signed copy (the rule booking and check-in warn with); "Sign
now…" opens :class:`SignConsentDialog` on the chosen one.  "Signed on file" lists each signed
consent with its version, language, when, who signed and who witnessed; "Open" asks the
record window (``open_document_requested``) to show the stored PDF.  The panel refreshes
itself when a write changes documents, appointments, plans or the patient.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.consents import SignedConsent, UnsignedConsent
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.sign_consent import RELATIONSHIP_LABELS, SignConsentDialog
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

NOTHING_TO_SIGN = (
    "Nothing to sign: every consent this patient's booked visits and accepted treatment "
    "need is on file."
)
NOTHING_ON_FILE = "No consent has been signed on screen for this patient yet."
_LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
#: A long title is elided at this width, so the signer and witness stay in view.
_TITLE_MAX_WIDTH = 280


def _signed_by(consent: SignedConsent) -> str:
    if consent.signer_relationship in ("", "self"):
        return consent.signer_name
    relationship = RELATIONSHIP_LABELS.get(consent.signer_relationship, "")
    return (
        f"{consent.signer_name} ({relationship.lower()})" if relationship else consent.signer_name
    )


class ConsentsPanel(QWidget):
    """The consents part of a patient's record; ``ConsentsPanel(ctx, patient_id, parent)``."""

    #: A consent was signed here (a ``SignedConsent``).
    consent_signed = Signal(object)
    #: The user asked to see a signed copy: the stored document's id.
    open_document_requested = Signal(int)

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.setObjectName("consentsPanel")
        self.sign_dialog: SignConsentDialog | None = None
        self._loading = False
        self._reload_again = False

        self.unsigned_model = RowTableModel(
            [
                Column("Consent form", lambda u: u.title),
                Column("Needed for", lambda u: ", ".join(u.services)),
            ],
            self,
        )
        self.unsigned_table = list_table(self.unsigned_model, "unsignedConsentsTable")
        self.unsigned_table.horizontalHeader().setStretchLastSection(True)
        self.unsigned_stack = QStackedWidget()
        self.unsigned_stack.addWidget(self.unsigned_table)
        self.unsigned_empty = empty_state_label(NOTHING_TO_SIGN)
        self.unsigned_stack.addWidget(self.unsigned_empty)

        self.signed_model = RowTableModel(
            [
                Column("Consent form", lambda c: c.title),
                Column("Version", lambda c: str(c.version)),
                Column("Language", lambda c: _LANGUAGE_NAMES.get(c.language, c.language)),
                Column("Signed", self._when),
                Column("Signed by", _signed_by),
                Column("Witness", lambda c: c.witness_name),
            ],
            self,
        )
        self.signed_table = list_table(self.signed_model, "signedConsentsTable")
        # The form's name takes the spare width; the short columns stay beside their headers.
        self.signed_table.horizontalHeader().setStretchLastSection(False)
        self.signed_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.signed_stack = QStackedWidget()
        self.signed_stack.addWidget(self.signed_table)
        self.signed_empty = empty_state_label(NOTHING_ON_FILE)
        self.signed_stack.addWidget(self.signed_empty)

        self.sign_now_button = QPushButton("Sign &now…")
        self.sign_now_button.setObjectName("signNowButton")
        self.sign_now_button.setToolTip("Have the patient sign the consent chosen above")
        self.sign_other_button = QPushButton("Sign a &consent…")
        self.sign_other_button.setObjectName("signConsentButton")
        self.sign_other_button.setToolTip("Choose any consent form and have it signed on screen")
        self.open_button = QPushButton("&Open signed copy")
        self.open_button.setObjectName("openSignedButton")
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)

        unsigned_title = QLabel("<b>Consents still to sign</b>")
        signed_title = QLabel("<b>Signed consents on file</b>")
        unsigned_buttons = QHBoxLayout()
        unsigned_buttons.addStretch(1)
        unsigned_buttons.addWidget(self.sign_now_button)
        signed_buttons = QHBoxLayout()
        signed_buttons.addWidget(self.status_label, 1)
        signed_buttons.addWidget(self.open_button)
        signed_buttons.addWidget(self.sign_other_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(unsigned_title)
        layout.addWidget(self.unsigned_stack, 2)
        layout.addLayout(unsigned_buttons)
        layout.addSpacing(8)
        layout.addWidget(signed_title)
        layout.addWidget(self.signed_stack, 3)
        layout.addLayout(signed_buttons)
        # Only once the buttons have a parent: showing a parentless widget opens a window.
        may_sign = ctx.allows(Permission.EDIT_PATIENTS)
        for button in (self.sign_now_button, self.sign_other_button):
            button.setHidden(not may_sign)

        self._connect_signals()
        self._update_buttons()
        self.refresh()

    def _connect_signals(self) -> None:
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.sign_now_button.clicked.connect(self.on_sign_now_clicked)
        self.sign_other_button.clicked.connect(self.on_sign_other_clicked)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.unsigned_table.doubleClicked.connect(self.on_unsigned_activated)
        self.signed_table.doubleClicked.connect(self.on_signed_activated)
        self.unsigned_table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.signed_table.selectionModel().selectionChanged.connect(self._update_buttons)

    def _when(self, consent: SignedConsent) -> str:
        from app.i18n import format_datetime

        details = self.ctx.details
        return format_datetime(consent.signed_at, details.timezone, details.locale)

    # --- loading --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload both lists on a worker (a refresh asked for while one runs runs after it)."""
        from app.services.patients.consents import signed_consents, unsigned_required_consents

        if self._loading:
            self._reload_again = True
            return
        self._loading = True
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: (
                unsigned_required_consents(db, actor, patient_id),
                signed_consents(db, actor, patient_id),
            ),
            on_success=self.on_loaded,
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_loaded(self, result: tuple[list[UnsignedConsent], list[SignedConsent]]) -> None:
        self._loading = False
        unsigned, signed = result
        self.unsigned_model.set_rows(unsigned)
        self.signed_model.set_rows(signed)
        self.unsigned_stack.setCurrentWidget(
            self.unsigned_table if unsigned else self.unsigned_empty
        )
        self.signed_stack.setCurrentWidget(self.signed_table if signed else self.signed_empty)
        if unsigned:
            self.unsigned_table.selectRow(0)
        # Room to read a title at a glance; the last column takes what is left.
        self.unsigned_table.resizeColumnToContents(0)
        self.unsigned_table.setColumnWidth(0, max(260, self.unsigned_table.columnWidth(0) + 24))
        for column in range(5):
            self.signed_table.resizeColumnToContents(column)
            width = self.signed_table.columnWidth(column) + 16
            if column == 0:
                width = min(width, _TITLE_MAX_WIDTH)
            self.signed_table.setColumnWidth(column, width)
        self._update_buttons()
        if self._reload_again:
            self._reload_again = False
            self.refresh()

    def on_load_failed(self, exc: BaseException) -> None:
        self._loading = False
        self._reload_again = False
        self.status_label.setText(ops.user_message(exc))

    # --- what is selected -----------------------------------------------------------------------

    def selected_unsigned(self) -> UnsignedConsent | None:
        rows = self.unsigned_table.selectionModel().selectedRows()
        return self.unsigned_model.row_at(rows[0].row()) if rows else None

    def selected_signed(self) -> SignedConsent | None:
        rows = self.signed_table.selectionModel().selectedRows()
        return self.signed_model.row_at(rows[0].row()) if rows else None

    @Slot()
    def _update_buttons(self) -> None:
        self.sign_now_button.setEnabled(self.selected_unsigned() is not None)
        self.open_button.setEnabled(self.selected_signed() is not None)

    # --- slots ----------------------------------------------------------------------------------

    def on_bus_changed(self, changes: Changes) -> None:
        if changes.documents or changes.appointments or changes.plans or changes.patients:
            self.refresh()

    @Slot()
    def on_sign_now_clicked(self) -> None:
        chosen = self.selected_unsigned()
        if chosen is not None:
            self.open_sign_dialog(chosen.template_key, ", ".join(chosen.services))

    @Slot()
    def on_sign_other_clicked(self) -> None:
        self.open_sign_dialog(None)

    @Slot(QModelIndex)
    def on_unsigned_activated(self, index: QModelIndex) -> None:
        chosen = self.unsigned_model.row_at(index.row())
        if chosen is not None and self.sign_now_button.isVisible():
            self.open_sign_dialog(chosen.template_key, ", ".join(chosen.services))

    @Slot()
    def on_open_clicked(self) -> None:
        chosen = self.selected_signed()
        if chosen is not None:
            self.open_document_requested.emit(chosen.document_id)

    @Slot(QModelIndex)
    def on_signed_activated(self, index: QModelIndex) -> None:
        chosen = self.signed_model.row_at(index.row())
        if chosen is not None:
            self.open_document_requested.emit(chosen.document_id)

    def open_sign_dialog(self, template_key: str | None, procedure: str = "") -> SignConsentDialog:
        """Open the signing dialog (window-modal, not blocking); one at a time."""
        if self.sign_dialog is not None:
            self.sign_dialog.raise_()
            self.sign_dialog.activateWindow()
            return self.sign_dialog
        dialog = SignConsentDialog(
            self.ctx, self.patient_id, self.window(), template_key=template_key, procedure=procedure
        )
        dialog.signed.connect(self.on_consent_signed)
        dialog.finished.connect(self.on_sign_dialog_finished)
        self.sign_dialog = dialog
        dialog.open()
        return dialog

    def on_consent_signed(self, signed: SignedConsent) -> None:
        self.status_label.setText(f"Saved: the signed “{signed.title}”.")
        self.consent_signed.emit(signed)
        self.refresh()

    def on_sign_dialog_finished(self, _result: int) -> None:
        dialog, self.sign_dialog = self.sign_dialog, None
        if dialog is not None:
            dialog.deleteLater()
