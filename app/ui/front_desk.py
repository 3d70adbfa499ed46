"""The desk's steps with a visit — check in, seat, ready to check out, check out — from
wherever the visit is picked (Today, the calendar, the record).

Checking in opens a dialog that names the patient's medical alerts, allergies and
medications in full and lists what is still missing (a consent to sign, no intake form on
file, insurance to verify, a balance due), each with a button that does it from there.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.scheduling.day_board import STEP_LABELS, CheckInDetails, Missing
from app.ui import ops
from app.ui.calendar.status_dialogs import NotTodayQuestion, run_status_change
from app.ui.context import UiContext
from app.ui.patients.titles import patient_title
from app.ui.widgets.messages import show_warning

ALERT_RED = "#b3261e"

#: What each missing item's button says (and the permission it needs).
_FIX = {
    Missing.CONSENT: ("&Sign the consent…", Permission.EDIT_PATIENTS),
    Missing.INTAKE: ("Print the &intake form…", Permission.PRINT_DOCUMENTS),
    Missing.INSURANCE: ("&Verify insurance…", Permission.VIEW_PATIENTS),
    Missing.BALANCE: ("Take a &payment…", Permission.TAKE_PAYMENTS),
}


class CheckInDialog(QDialog):
    """Alerts in full, what is missing (each fixable from here), then Check in (Enter).

    Printing the intake form and verifying insurance happen in the patient's record: the
    dialog asks for it (``record_part_requested``) and whoever opened it shows the record
    (this module does not import the record window, which imports it)."""

    #: (patient id, "intake" or "insurance"): show that part of the patient's record.
    record_part_requested = Signal(int, str)

    def __init__(self, ctx: UiContext, parent: QWidget | None, appointment_id: int) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.appointment_id = appointment_id
        self.details: CheckInDetails | None = None
        #: The check-in was written (the dialog then closes).
        self.checked_in = False
        self.setObjectName("checkInDialog")
        self.setWindowTitle("Check in — CareDesk")
        self.setMinimumWidth(560)

        self.who_label = QLabel("Loading…")
        self.who_label.setObjectName("checkInWho")
        self.who_label.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.who_label.setWordWrap(True)
        self.visit_label = QLabel()
        self.visit_label.setObjectName("checkInVisit")
        self.visit_label.setWordWrap(True)
        self.alerts_frame = QFrame()
        self.alerts_frame.setObjectName("checkInAlerts")
        self.alerts_label = QLabel()
        self.alerts_label.setObjectName("checkInAlertsText")
        self.alerts_label.setWordWrap(True)
        self.alerts_label.setTextFormat(Qt.TextFormat.RichText)
        self.alerts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        alerts_box = QVBoxLayout(self.alerts_frame)
        alerts_box.setContentsMargins(12, 10, 12, 10)
        alerts_box.addWidget(self.alerts_label)
        self.missing_title = QLabel("Still to do")
        self.missing_title.setStyleSheet("font-weight: 600;")
        self.missing_grid = QGridLayout()
        self.missing_grid.setHorizontalSpacing(12)
        self.missing_grid.setVerticalSpacing(6)
        self.missing_grid.setColumnStretch(0, 1)
        #: The fix-it buttons shown, by kind (tests press them).
        self.fix_buttons: dict[Missing, QPushButton] = {}

        self.buttons = QDialogButtonBox()
        self.check_in_button = self.buttons.addButton(
            "&Check in", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.check_in_button.setObjectName("checkInButton")
        self.check_in_button.setDefault(True)
        self.check_in_button.setEnabled(False)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.who_label)
        layout.addWidget(self.visit_label)
        layout.addWidget(self.alerts_frame)
        layout.addWidget(self.missing_title)
        layout.addLayout(self.missing_grid)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.buttons.accepted.connect(self.on_check_in_clicked)
        self.buttons.rejected.connect(self.reject)
        ctx.bus.changed.connect(self.on_bus_changed)
        self.reload()

    # --- loading --------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.scheduling.day_board import check_in_details

        db, actor, appointment_id = self.ctx.db, self.ctx.actor, self.appointment_id
        ops.run_query(
            lambda: check_in_details(db, actor, appointment_id),
            on_success=self.show_details,
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_load_failed(self, exc: BaseException) -> None:
        self.who_label.setText(ops.user_message(exc))

    def show_details(self, details: CheckInDetails) -> None:
        self.details = details
        ctx = self.ctx
        title = patient_title(ctx, details.patient_name, details.date_of_birth)
        self.setWindowTitle(f"Check in — {title} — CareDesk")
        self.who_label.setText(title)
        when = i18n.format_datetime(details.starts_at, ctx.details.timezone, ctx.details.locale)
        what = " · ".join(p for p in (when, details.service_name, details.provider_name) if p)
        self.visit_label.setText(what)
        self._show_alerts(details)
        self._show_missing(details)
        self.check_in_button.setEnabled(details.status in ("scheduled", "confirmed", "no_show"))
        if not self.check_in_button.isEnabled():
            self.check_in_button.setToolTip("This visit has been checked in already.")

    def _show_alerts(self, details: CheckInDetails) -> None:
        rows = [
            ("Medical alerts", details.medical_alerts),
            ("Allergies", details.allergies),
            ("Medications", details.medications),
        ]
        alarming = bool(details.medical_alerts or details.allergies)
        if not any(text for _, text in rows):
            html = "No medical alerts, allergies or medications on file."
        else:
            html = "<br>".join(
                f"<b>{escape(label)}:</b> {escape(text).replace(chr(10), '<br>')}"
                for label, text in rows
                if text
            )
        self.alerts_label.setText(html)
        # Red only when there is something to be careful of: a red box that is always there
        # stops being read.
        colour = ALERT_RED if alarming else "#6b7280"
        background = "#fdecea" if alarming else "#f3f4f6"
        self.alerts_frame.setStyleSheet(
            f"#checkInAlerts {{ background: {background}; border: 1px solid {colour};"
            " border-radius: 6px; }"
            f" #checkInAlertsText {{ color: {'#5f1410' if alarming else '#374151'}; }}"
        )

    def _show_missing(self, details: CheckInDetails) -> None:
        while self.missing_grid.count():
            item = self.missing_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.fix_buttons.clear()
        if not details.missing:
            done = QLabel("Nothing is missing.")
            done.setObjectName("nothingMissing")
            done.setStyleSheet("color: #1e7d32;")
            self.missing_grid.addWidget(done, 0, 0)
            return
        for row, item in enumerate(details.missing):
            sentence = item.text
            if item.kind == Missing.BALANCE:
                money = i18n.format_money(
                    details.balance, self.ctx.details.currency, self.ctx.details.locale
                )
                sentence = f"A balance of {money} is due."
            text = QLabel(sentence)
            text.setWordWrap(True)
            self.missing_grid.addWidget(text, row, 0)
            label, permission = _FIX[item.kind]
            if item.kind in self.fix_buttons or not self.ctx.allows(permission):
                continue
            button = QPushButton(label)
            button.setObjectName(f"fix_{item.kind.value}")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _=False, kind=item.kind: self.fix(kind))
            self.missing_grid.addWidget(button, row, 1)
            self.fix_buttons[item.kind] = button

    # --- doing what is missing ----------------------------------------------------------------

    def fix(self, kind: Missing) -> None:
        details = self.details
        if details is None:
            return
        if kind == Missing.CONSENT:
            from app.ui.patients.sign_consent import SignConsentDialog

            SignConsentDialog.ask(self.ctx, self, details.patient_id)
        elif kind == Missing.INTAKE:
            self.record_part_requested.emit(details.patient_id, "intake")
        elif kind == Missing.INSURANCE:
            self.record_part_requested.emit(details.patient_id, "insurance")
        elif kind == Missing.BALANCE:
            from app.ui.plans.take_payment import TakePaymentDialog

            TakePaymentDialog.ask(self.ctx, self, details.patient_id)
        self.reload()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.any():
            self.reload()  # a consent signed, a verification or a payment recorded elsewhere

    # --- checking in ----------------------------------------------------------------------------

    @Slot()
    def on_check_in_clicked(self, not_today: bool = False) -> None:
        details = self.details
        if details is None or not self.check_in_button.isEnabled():
            return
        if details.not_today and not not_today:
            from app.services.scheduling.appointment_status import NotTodayError

            if not NotTodayQuestion.ask(
                self, str(NotTodayError(details.visit_day, self.ctx.details.locale))
            ):
                return
            not_today = True
        self.check_in_button.setEnabled(False)
        run_status_change(
            self.ctx,
            self,
            details.appointment_id,
            details.version,
            "arrived",
            self._on_checked_in,
            on_failed=lambda _exc: self.reload(),
            not_today=not_today,
            show_warnings=False,  # the consents still to sign are listed in this dialog
        )

    def _on_checked_in(self, _result) -> None:
        self.checked_in = True
        self.accept()


def do_step(
    ctx: UiContext,
    parent: QWidget | None,
    step: str,
    appointment_id: int,
    version: int,
    on_done: Callable[[], None] | None = None,
) -> QDialog | None:
    """One desk step with a visit: "check_in", "seat", "ready" or "check_out".  Check-in
    and check-out open their dialog (window-modal, returned); the others write at once."""
    if step not in STEP_LABELS:
        raise ValueError(step)
    done = (lambda _result=None: on_done()) if on_done is not None else None
    if step in ("check_in", "check_out"):
        if step == "check_in":
            dialog: QDialog = CheckInDialog(ctx, parent, appointment_id)
        else:
            from app.ui.check_out import CheckOutDialog

            dialog = CheckOutDialog(ctx, parent, appointment_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if done is not None:
            dialog.accepted.connect(done)
        dialog.open()
        return dialog
    if step == "seat":
        run_status_change(ctx, parent, appointment_id, version, "in_treatment", done)
    else:
        from app.services.scheduling.appointment_status import mark_ready

        db, actor = ctx.db, ctx.actor
        ops.run_write(
            lambda: mark_ready(db, actor, appointment_id, version),
            on_success=done,
            on_failure=lambda exc: show_warning(parent, ops.user_message(exc)),
            owner=parent,
        )
    return None
