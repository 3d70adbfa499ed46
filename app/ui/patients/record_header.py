"""The top of a record window: who the patient is, what to watch for, what happens next."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.clock import utc_now
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.patients import journey
from app.services.patients import records as patients
from app.services.patients.journey import JourneyStage
from app.services.patients.print_jobs import ConsentPrintChoices
from app.services.patients.records import PatientRecord
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.patient_form import LANGUAGES, format_birth_date
from app.ui.widgets.form_field import FormField, dialog_buttons, growing_form
from app.ui.widgets.messages import show_warning

STAGE_LABELS: dict[str, str] = {
    JourneyStage.INQUIRY.value: "Inquiry",
    JourneyStage.CONSULTATION.value: "Consultation",
    JourneyStage.BOOKED.value: "Booked",
    JourneyStage.IN_TREATMENT.value: "In treatment",
    JourneyStage.FOLLOW_UP.value: "Follow-up",
    JourneyStage.INACTIVE.value: "Inactive",
    JourneyStage.LOST.value: "Lost",
}
STAGES_WITH_REASON = (JourneyStage.LOST.value, JourneyStage.INACTIVE.value)
ALERT_RED = "#b3261e"
_MAX_ALERT_CHARS = 160
_HEADER_STYLE = f"""
#recordHeader {{ background: #ffffff; border-bottom: 1px solid #d3dade; }}
#patientName {{ font-size: 18pt; font-weight: 600; color: #1f3b45; }}
#preferredName {{ font-size: 12pt; color: #5d6b72; }}
#headerFacts, #headerCaption {{ color: #5d6b72; }}
#medicalAlerts {{ color: {ALERT_RED}; font-weight: 600; }}
#balanceAmount {{ font-size: 14pt; font-weight: 600; color: #1f3b45; }}
#balanceAmount[owed="true"] {{ color: {ALERT_RED}; }}
#balanceAmount[credit="true"] {{ color: #1b6e3a; }}
#journeyStage, #nextAppointment {{ color: #24333a; font-weight: 600; }}
QPushButton#linkButton {{ padding: 0px 2px; min-height: 0px; }}
"""


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def _one_line(text: str) -> str:
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= _MAX_ALERT_CHARS else line[: _MAX_ALERT_CHARS - 1] + "…"


class ElidedLabel(QLabel):
    """One line that ends in "…" when it does not fit, instead of widening the window."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        elided = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment()), elided)

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()


class ChangeStageDialog(QDialog):
    """Choose the journey stage by hand; lost and inactive need a reason."""

    def __init__(self, parent: QWidget | None, current: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change journey stage")
        self.stage_combo = QComboBox()
        self.stage_combo.setObjectName("stageCombo")
        for stage in JourneyStage:
            self.stage_combo.addItem(stage_label(stage.value), stage.value)
        self.stage_combo.setCurrentIndex(max(0, self.stage_combo.findData(current)))
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setMaxLength(200)
        self.reason_edit.setPlaceholderText("e.g. moved away, chose another clinic")
        self.reason_field = FormField(
            self.reason_edit, "Needed when the patient is lost or inactive."
        )
        form = growing_form()
        form.addRow("&Stage", self.stage_combo)
        form.addRow("&Reason", self.reason_field)
        self.buttons, _accept = dialog_buttons("Change stage")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self._connect_signals()
        self.on_stage_changed()

    def _connect_signals(self) -> None:
        self.stage_combo.currentIndexChanged.connect(self.on_stage_changed)
        self.buttons.accepted.connect(self.on_accept_clicked)
        self.buttons.rejected.connect(self.reject)

    @Slot()
    def on_stage_changed(self) -> None:
        self.reason_edit.setEnabled(self.stage() in STAGES_WITH_REASON)
        self.reason_field.set_error(None)

    @Slot()
    def on_accept_clicked(self) -> None:
        if self.stage() in STAGES_WITH_REASON and not self.reason_edit.text().strip():
            self.reason_field.set_error("Say why the patient is lost or inactive.")
            self.reason_edit.setFocus()
            return
        self.accept()

    def stage(self) -> str:
        return self.stage_combo.currentData()

    def reason(self) -> str:
        return self.reason_edit.text().strip() if self.stage() in STAGES_WITH_REASON else ""

    @classmethod
    def ask(cls, parent: QWidget | None, current: str) -> tuple[str, str] | None:
        dialog = cls(parent, current)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.stage(), dialog.reason()


#: The provider choice that prints ``{provider}`` as a line to write on.
PROVIDER_BY_HAND = "A line to fill in by hand"


class ConsentChoiceDialog(QDialog):
    """Which consent form to print for a wet signature, for which procedure and provider."""

    def __init__(self, parent: QWidget | None, choices: ConsentPrintChoices) -> None:
        super().__init__(parent)
        self.setWindowTitle("Print a consent form")
        self.template_combo = QComboBox()
        self.template_combo.setObjectName("consentTemplateCombo")
        for key, title in choices.templates:
            self.template_combo.addItem(title, key)
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("consentProviderCombo")
        self.provider_combo.addItem(PROVIDER_BY_HAND, None)
        for provider_id, name in choices.providers:
            self.provider_combo.addItem(name, provider_id)
        self.provider_combo.setCurrentIndex(
            max(0, self.provider_combo.findData(choices.default_provider_id))
        )
        self.procedure_edit = QLineEdit()
        self.procedure_edit.setObjectName("consentProcedureEdit")
        self.procedure_edit.setMaxLength(200)
        self.procedure_edit.setPlaceholderText(
            "Optional: left blank, it prints as a line to fill in"
        )
        form = growing_form()
        form.addRow("&Consent form", self.template_combo)
        form.addRow("&Procedure", self.procedure_edit)
        form.addRow("P&rovider", self.provider_combo)
        self.buttons, _accept = dialog_buttons("Preview…")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def choice(self) -> tuple[str, str, str, int | None]:
        """The template's key, its title, the procedure typed and the provider's id (None:
        a line to fill in)."""
        return (
            self.template_combo.currentData(),
            self.template_combo.currentText(),
            self.procedure_edit.text().strip(),
            self.provider_combo.currentData(),
        )

    @classmethod
    def ask(
        cls, parent: QWidget | None, choices: ConsentPrintChoices
    ) -> tuple[str, str, str, int | None] | None:
        dialog = cls(parent, choices)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()


class RecordHeader(QFrame):
    """Name, alerts, balance, next appointment, journey stage and the quick actions."""

    #: A fresh record was shown (the window retitles itself).
    record_shown = Signal(object)

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.record: PatientRecord | None = None
        self.setObjectName("recordHeader")
        self.setStyleSheet(_HEADER_STYLE)
        can_edit = ctx.allows(Permission.EDIT_PATIENTS)

        self.name_label = ElidedLabel("Loading…")
        self.name_label.setObjectName("patientName")
        self.preferred_label = ElidedLabel()
        self.preferred_label.setObjectName("preferredName")
        self.facts_label = ElidedLabel()
        self.facts_label.setObjectName("headerFacts")
        self.alerts_label = QLabel()
        self.alerts_label.setObjectName("medicalAlerts")
        self.alerts_label.setWordWrap(True)
        self.alerts_label.setTextFormat(Qt.TextFormat.PlainText)
        self.alerts_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.alerts_label.setVisible(False)

        self.balance_caption = QLabel("Balance")
        self.balance_caption.setObjectName("headerCaption")
        self.balance_label = QLabel()
        self.balance_label.setObjectName("balanceAmount")
        self.balance_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.balance_caption.setAlignment(Qt.AlignmentFlag.AlignRight)

        next_caption = QLabel("Next appointment")
        next_caption.setObjectName("headerCaption")
        self.next_label = ElidedLabel()
        self.next_label.setObjectName("nextAppointment")
        stage_caption = QLabel("Journey stage")
        stage_caption.setObjectName("headerCaption")
        self.stage_label = QLabel()
        self.stage_label.setObjectName("journeyStage")
        self.stage_label.setTextFormat(Qt.TextFormat.PlainText)
        self.change_stage_button = QPushButton("Change stage…")
        self.change_stage_button.setObjectName("linkButton")
        self.change_stage_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.check_in_button = QPushButton("Chec&k in")
        self.check_in_button.setObjectName("recordCheckInButton")
        self.check_in_button.setVisible(False)
        self.log_call_button = QPushButton("&Log a call")
        self.log_call_button.setObjectName("logCallButton")
        self.log_call_button.setToolTip("Note a phone call with this patient in the log")
        # A push button with a menu, so it looks like its neighbour "Log a call".
        self.print_button = QPushButton("Pr&int")
        self.print_button.setObjectName("printMenuButton")
        self.print_button.setToolTip("Print a form for this patient")
        self.print_menu = QMenu(self.print_button)
        self.intake_action = self.print_menu.addAction("&Intake form (pre-filled)")
        self.blank_intake_action = self.print_menu.addAction("&Blank intake form")
        self.consent_action = self.print_menu.addAction("&Consent form for signature…")
        self.export_separator = self.print_menu.addSeparator()
        self.export_action = self.print_menu.addAction("E&xport a copy of the record…")
        self.print_button.setMenu(self.print_menu)
        #: The last print preview opened (tests drive it).
        self.preview = None

        name_row = QHBoxLayout()
        name_row.setSpacing(10)
        name_row.addWidget(self.name_label)
        name_row.addWidget(self.preferred_label)
        name_row.addStretch(1)
        who = QVBoxLayout()
        who.setSpacing(2)
        who.addLayout(name_row)
        who.addWidget(self.facts_label)
        who.addWidget(self.alerts_label)
        who.addStretch(1)

        money = QVBoxLayout()
        money.setSpacing(0)
        money.addWidget(self.balance_caption)
        money.addWidget(self.balance_label)
        money.addStretch(1)

        next_box = QVBoxLayout()
        next_box.setSpacing(0)
        next_box.addWidget(next_caption)
        next_box.addWidget(self.next_label)
        stage_box = QVBoxLayout()
        stage_box.setSpacing(0)
        stage_box.addWidget(stage_caption)
        stage_line = QHBoxLayout()
        stage_line.setSpacing(8)
        stage_line.addWidget(self.stage_label)
        stage_line.addWidget(self.change_stage_button)
        stage_line.addStretch(1)
        stage_box.addLayout(stage_line)

        grid = QGridLayout(self)
        grid.setContentsMargins(18, 12, 18, 10)
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(8)
        grid.addLayout(who, 0, 0, 1, 2)
        grid.addLayout(money, 0, 2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        grid.addLayout(next_box, 1, 0)
        grid.addLayout(stage_box, 1, 1)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        actions.addWidget(self.check_in_button)
        actions.addWidget(self.print_button)
        actions.addWidget(self.log_call_button)
        grid.addLayout(actions, 1, 2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.change_stage_button.setVisible(can_edit)
        self.log_call_button.setVisible(can_edit)
        may_print = ctx.allows(Permission.PRINT_DOCUMENTS)
        may_export = ctx.allows(Permission.EXPORT_RECORDS)
        for action in (self.intake_action, self.blank_intake_action, self.consent_action):
            action.setVisible(may_print)
        self.export_separator.setVisible(may_print and may_export)
        self.export_action.setVisible(may_export)
        self.print_button.setVisible(may_print or may_export)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.change_stage_button.clicked.connect(self.on_change_stage_clicked)
        self.log_call_button.clicked.connect(self.on_log_call_clicked)
        self.check_in_button.clicked.connect(self.on_check_in_clicked)
        self.intake_action.triggered.connect(lambda: self.print_intake(blank=False))
        self.blank_intake_action.triggered.connect(lambda: self.print_intake(blank=True))
        self.consent_action.triggered.connect(self.on_consent_clicked)
        self.export_action.triggered.connect(self.on_export_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- showing --------------------------------------------------------------------------------

    def set_record(self, record: PatientRecord) -> None:
        self.record = record
        ctx, form = self.ctx, record.form
        self.name_label.setText(f"{form.last_name}, {form.first_name}")
        self.name_label.setToolTip(self.name_label.text())
        self.preferred_label.setText(f"“{form.preferred_name}”" if form.preferred_name else "")
        # The full name gives way first; a preferred name stays readable up to a point.
        self.preferred_label.setMinimumWidth(min(self.preferred_label.sizeHint().width(), 180))

        facts = []
        if record.age is not None and form.date_of_birth is not None:
            born = format_birth_date(form.date_of_birth, ctx.details.locale)
            facts.append(f"{record.age} years · born {born}")
        else:
            facts.append("Date of birth not on file")
        facts.append(f"Chart {record.chart_number}")
        languages = dict(LANGUAGES)
        facts.append(f"Speaks {languages.get(form.preferred_language, form.preferred_language)}")
        if not record.is_active:
            facts.append("Inactive")
        if form.deceased_on is not None:
            facts.append(f"Died {format_birth_date(form.deceased_on, ctx.details.locale)}")
        # Before a call or a message: texts the patient stopped, an address that bounced.
        if record.text_opted_out_at is not None:
            facts.append("No texts (STOP)")
        if record.email_bounced_at is not None:
            facts.append("E-mail bounced")
        self.facts_label.setText(" · ".join(facts))

        alerts = []
        if form.medical_alerts:
            alerts.append(f"⚠ {_one_line(form.medical_alerts)}")
        if form.allergies:
            alerts.append(f"Allergies: {_one_line(form.allergies)}")
        self.alerts_label.setText("    ".join(alerts))
        self.alerts_label.setToolTip(
            "\n\n".join(t for t in (form.medical_alerts, form.allergies) if t)
        )
        self.alerts_label.setVisible(bool(alerts))

        self._show_balance(record.balance)
        self._show_next_appointment(record)
        self._show_check_in(record)
        since = record.journey_stage_since
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        days = max(0, (utc_now() - since).days)
        in_stage = "since today" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
        text = f"{stage_label(record.journey_stage)} · {in_stage}"
        if record.journey_reason:
            text += f" — {record.journey_reason}"
        self.stage_label.setText(text)
        self.change_stage_button.setEnabled(record.merged_into_id is None)
        self.record_shown.emit(record)

    def _show_balance(self, balance: Decimal) -> None:
        amount = i18n.format_money(abs(balance), self.ctx.details.currency, self.ctx.details.locale)
        owed, credit = balance > 0, balance < 0
        if owed:
            self.balance_caption.setText("Balance owed")
        elif credit:
            self.balance_caption.setText("Credit on account")
        else:
            self.balance_caption.setText("Balance")
        self.balance_label.setText(amount)
        self.balance_label.setProperty("owed", owed)
        self.balance_label.setProperty("credit", credit)
        self.balance_label.style().unpolish(self.balance_label)
        self.balance_label.style().polish(self.balance_label)

    def _show_next_appointment(self, record: PatientRecord) -> None:
        line = record.next_appointment
        if line is None:
            self.next_label.setText("No upcoming appointment")
            self.next_label.setToolTip("")
            return
        when = i18n.format_datetime(
            line.starts_at, self.ctx.details.timezone, self.ctx.details.locale
        )
        parts = [when, line.service or "Appointment", line.provider]
        text = " · ".join(p for p in parts if p)
        self.next_label.setText(text)
        self.next_label.setToolTip(text)

    def _show_check_in(self, record: PatientRecord) -> None:
        """ "Check in (9:00 AM)" while today's visit is still to be checked in."""
        visit = record.visit_to_check_in
        can = self.ctx.allows(Permission.MANAGE_APPOINTMENTS) and visit is not None
        self.check_in_button.setVisible(can)
        if visit is not None:
            when = i18n.format_time(visit.starts_at, self.ctx.details.timezone,
                                    self.ctx.details.locale)  # fmt: skip
            self.check_in_button.setText(f"Chec&k in ({when})")
            self.check_in_button.setToolTip(
                "Check in today's visit: the alerts and what is still missing first"
            )

    @Slot()
    def on_check_in_clicked(self) -> None:
        record = self.record
        if record is None or record.visit_to_check_in is None:
            return
        from app.ui.front_desk import do_step

        visit = record.visit_to_check_in
        window = self.window()
        # The dialog reads the visit's version itself; 0 stands for "not known here".
        #: The check-in dialog opened (tests drive it).
        self.check_in_dialog = do_step(self.ctx, window, "check_in", visit.id, 0)
        # Intake and insurance are parts of this very record window.
        self.check_in_dialog.record_part_requested.connect(
            lambda _patient_id, part: window.show_part(part)
        )

    def balance_is_owed(self) -> bool:
        return bool(self.balance_label.property("owed"))

    # --- refreshing -----------------------------------------------------------------------------

    def reload(self) -> None:
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: patients.patient_header(db, actor, patient_id),
            on_success=self.set_record,
            on_failure=lambda _exc: None,  # the window's own load reports a missing patient
            owner=self,
        )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if self.record is None:
            return
        if changes.patients or changes.appointments or changes.payments or changes.notes:
            self.reload()

    # --- actions --------------------------------------------------------------------------------

    @Slot()
    def on_change_stage_clicked(self) -> None:
        if self.record is None:
            return
        answer = ChangeStageDialog.ask(self.window(), self.record.journey_stage)
        if answer is None:
            return
        stage, reason = answer
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_write(
            lambda: journey.set_journey_stage(db, actor, patient_id, stage, reason),
            on_success=self.on_stage_saved,
            on_failure=self.on_stage_failed,
            owner=self,
        )

    def on_stage_saved(self, record: PatientRecord) -> None:
        self.set_record(record)

    def on_stage_failed(self, exc: BaseException) -> None:
        message = ops.user_message(exc)
        if isinstance(exc, ValidationError):
            message = str(exc)
        show_warning(self.window(), message)

    @Slot()
    def on_log_call_clicked(self) -> None:
        try:
            from app.ui.patients.log_contact import LogContactDialog
        except ImportError:
            show_warning(self.window(), "Calls cannot be logged from this window yet.")
            return
        LogContactDialog.ask(self.ctx, self.window(), self.patient_id, channel="phone")

    # --- printing -------------------------------------------------------------------------------

    def print_intake(self, *, blank: bool) -> None:
        """Preview the intake form, pre-filled from the record or blank for the clipboard."""
        from app.services.patients.intake import intake_pdf
        from app.ui.print_preview import PrintSubject, show_print_preview

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        kind = "blank intake form" if blank else "intake form"
        self.preview = show_print_preview(
            self,
            ctx=self.ctx,
            title=kind.capitalize(),
            filename=f"{kind.capitalize()}.pdf",
            subject=PrintSubject(kind, "patients", patient_id, patient_id),
            render=lambda language: intake_pdf(
                db, actor, patient_id, blank=blank, language=language
            ),
        )

    @Slot()
    def on_consent_clicked(self) -> None:
        from app.services.patients.print_jobs import printable_consents

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id

        ops.run_write(
            lambda: printable_consents(db, actor, patient_id),
            on_success=self.on_consent_templates_loaded,
            on_failure=lambda exc: show_warning(self.window(), ops.user_message(exc)),
            owner=self,
        )

    def on_consent_templates_loaded(self, choices: ConsentPrintChoices) -> None:
        if not choices.templates:
            show_warning(
                self.window(),
                "No consent form is switched on. The owner turns them on in "
                "Settings → Consent forms.",
            )
            return
        chosen = ConsentChoiceDialog.ask(self.window(), choices)
        if chosen is not None:
            self.print_consent(*chosen)

    def print_consent(
        self, key: str, title: str, procedure: str = "", provider_id: int | None = None
    ) -> None:
        """Preview a consent form for a wet signature (procedure and provider optional)."""
        from app.services.patients.consents import consent_pdf
        from app.ui.print_preview import PrintSubject, show_print_preview

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        self.preview = show_print_preview(
            self,
            ctx=self.ctx,
            title=title,
            filename=f"{title}.pdf",
            subject=PrintSubject(
                f"consent form {key} for signing", "patients", patient_id, patient_id
            ),
            render=lambda language: consent_pdf(
                db,
                actor,
                patient_id,
                key,
                procedure=procedure,
                provider_id=provider_id,
                language=language,
            ),
        )

    # --- a copy of the record -------------------------------------------------------------------

    @Slot()
    def on_export_clicked(self) -> None:
        """A copy of the record for the patient or whoever they name: an audited disclosure."""
        from app.ui.exports.record_export_dialog import RecordExportDialog

        record = self.record
        if record is None:
            return
        RecordExportDialog.ask(
            self.ctx,
            self.window(),
            self.patient_id,
            patient_name=f"{record.form.first_name} {record.form.last_name}".strip(),
            chart_number=record.chart_number,
        )
