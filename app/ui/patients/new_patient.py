"""New patient: the patient form, a duplicate check before saving, then the new chart.

Save first looks for patients with the same name and date of birth, phone or
e-mail; when there are some, the dialog lists them (each with an "Open" link)
and the user opens the existing record or chooses "Create anyway".
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.errors import ValidationError
from app.services.patients import records as patients
from app.services.patients.records import DuplicateMatch, PatientRecord
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.patient_form import PatientFormWidget
from app.ui.widgets.messages import show_warning
from app.ui.widgets.write_dialog import WriteDialog

_DUPLICATE_STYLE = """
#duplicateWarning { background: #fff4e5; border: 1px solid #f2a541; border-radius: 6px; }
#duplicateTitle { font-weight: 600; color: #7a4b00; }
"""


def split_typed_name(text: str) -> tuple[str, str]:
    """(first, last) from what was typed in the search box: "Nguyen, Zoe" or "Zoe Nguyen"."""
    text = " ".join(text.split())
    if not text:
        return "", ""
    if text.islower():
        text = text.title()
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    words = text.split(" ")
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


class DiscardNewPatient:
    @classmethod
    def ask(cls, parent: QWidget | None) -> bool:
        """True when the user agrees to throw away what they typed."""
        answer = QMessageBox.question(
            parent,
            "Discard new patient",
            "Close without saving this new patient? What you typed will be lost.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard


class NewPatientDialog(WriteDialog):
    def __init__(
        self, ctx: UiContext, parent: QWidget | None = None, initial_name: str = ""
    ) -> None:
        super().__init__(ctx, parent)
        self.created_id: int | None = None
        self.opened_id: int | None = None
        self._closing = False
        self.setWindowTitle("New patient — CareDesk")
        self.setObjectName("newPatientDialog")
        self.setStyleSheet(_DUPLICATE_STYLE)

        intro = QLabel("Fields marked * are required. Everything else can be added later.")
        intro.setObjectName("fieldHint")
        self.form = PatientFormWidget(ctx)
        first, last = split_typed_name(initial_name)
        if first or last:
            self.form.set_value("first_name", first)
            self.form.set_value("last_name", last)
            self.form.mark_saved()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(4, 4, 12, 4)
        body_layout.addWidget(self.form)
        scroll.setWidget(body)

        self.duplicate_frame = QFrame()
        self.duplicate_frame.setObjectName("duplicateWarning")
        self.duplicate_frame.setVisible(False)
        self.duplicate_layout = QVBoxLayout(self.duplicate_frame)
        self.duplicate_layout.setContentsMargins(12, 10, 12, 10)
        self.duplicate_links: list[QPushButton] = []

        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("&Save")
        self.save_button.setObjectName("primaryButton")
        self.save_button.setDefault(True)
        self.save_button.setAutoDefault(True)
        self.cancel_button.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.duplicate_frame)
        layout.addLayout(buttons)
        self.resize(1000, 720)
        self._connect_signals()
        ops.run_query(
            lambda db=ctx.db, actor=ctx.actor: patients.lead_sources(db, actor),
            on_success=self.form.set_lead_sources,
            on_failure=lambda _exc: None,  # a convenience list; typing a source still works
            owner=self,
        )
        self.form.focus_first_name()

    def _connect_signals(self) -> None:
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.reject)
        self.form.edited.connect(self.on_form_edited)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.form.focus_first_name()

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_form_edited(self) -> None:
        if self.duplicate_frame.isVisible():
            self._clear_duplicates()  # what they match may have changed
        self.status_label.setText("")

    @Slot()
    def on_save_clicked(self) -> None:
        if self.saving:
            return
        if self.form.refresh_errors(show_all=True):
            self.form.focus_first_error()
            self.status_label.setText("Some fields need a look before saving.")
            return
        form = self.form.form()
        db, actor = self.ctx.db, self.ctx.actor
        # Saving starts with the look for duplicates: the dialog waits for it as for the write.
        self._set_looking(True)
        self.status_label.setText("Looking for this patient on file…")
        ops.run_query(
            lambda: patients.find_duplicates(db, actor, form),
            on_success=self.on_duplicates_found,
            on_failure=self.on_duplicates_failed,
            owner=self,
        )

    def _set_looking(self, looking: bool) -> None:
        self.saving = looking
        self.update_buttons()

    def on_duplicates_failed(self, exc: BaseException) -> None:
        self._set_looking(False)
        self.on_save_failed(exc)

    def on_duplicates_found(self, matches: list[DuplicateMatch]) -> None:
        self._set_looking(False)
        if matches:
            self._show_duplicates(matches)
        else:
            self.create()

    @Slot()
    def on_create_anyway_clicked(self) -> None:
        self.create()

    def on_open_clicked(self, patient_id: int, _checked: bool = False) -> None:
        from app.ui.patients.windows import open_patient_record

        self.opened_id = patient_id
        open_patient_record(self.ctx, patient_id, self.parentWidget())
        self._closing = True
        super().reject()

    # --- duplicates -----------------------------------------------------------------------------

    def _clear_duplicates(self) -> None:
        while self.duplicate_layout.count():
            item = self.duplicate_layout.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
            elif item.layout() is not None:
                inner = item.layout()
                while inner.count():
                    child = inner.takeAt(0).widget()
                    if child is not None:
                        child.deleteLater()
        self.duplicate_links = []
        self.duplicate_frame.setVisible(False)

    def _show_duplicates(self, matches: list[DuplicateMatch]) -> None:
        self._clear_duplicates()
        count = len(matches)
        title = QLabel(
            "This may be a patient already on file:"
            if count == 1
            else f"These {count} patients on file look like this one:"
        )
        title.setObjectName("duplicateTitle")
        self.duplicate_layout.addWidget(title)
        for match in matches[:5]:
            hit = match.patient
            facts = [f"chart {hit.chart_number}"]
            if hit.date_of_birth is not None:
                born = i18n.format_date(hit.date_of_birth, self.ctx.details.locale)
                facts.append(f"born {born}")
            if hit.phone:
                facts.append(hit.phone)
            row = QHBoxLayout()
            label = QLabel(f"{hit.display_name} · {', '.join(facts)} — {', '.join(match.reasons)}")
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            link = QPushButton(f"Open {hit.last_name}, {hit.first_name}")
            link.setObjectName("linkButton")
            link.setCursor(Qt.CursorShape.PointingHandCursor)
            link.setAutoDefault(False)
            link.clicked.connect(partial(self.on_open_clicked, hit.id))
            self.duplicate_links.append(link)
            row.addWidget(label, 1)
            row.addWidget(link)
            self.duplicate_layout.addLayout(row)
        if count > 5:
            more = QLabel(f"…and {count - 5} more.")
            more.setObjectName("fieldHint")
            self.duplicate_layout.addWidget(more)
        create_row = QHBoxLayout()
        create_row.addStretch(1)
        self.create_anyway_button = QPushButton("Create &anyway")
        self.create_anyway_button.setObjectName("createAnywayButton")
        self.create_anyway_button.setAutoDefault(False)
        self.create_anyway_button.clicked.connect(self.on_create_anyway_clicked)
        create_row.addWidget(self.create_anyway_button)
        self.duplicate_layout.addLayout(create_row)
        self.duplicate_frame.setVisible(True)
        self.status_label.setText("Open the patient on file, or create a new one anyway.")
        if self.duplicate_links:
            self.duplicate_links[0].setFocus()

    # --- creating -------------------------------------------------------------------------------

    def create(self) -> None:
        if self.saving:
            return
        form = self.form.form()
        db, actor = self.ctx.db, self.ctx.actor
        self.status_label.setText("Saving…")
        self.save_with(lambda: patients.create_patient(db, actor, form))

    def on_saved(self, record: PatientRecord) -> None:
        self.created_id = record.id
        self._closing = True
        super().on_saved(record)

    def on_save_failed(self, exc: BaseException) -> None:
        self.status_label.setText("Not saved.")
        if not (isinstance(exc, ValidationError) and self.form.show_error(exc)):
            show_warning(self, ops.user_message(exc))

    # --- closing --------------------------------------------------------------------------------

    def may_discard(self) -> bool:
        """Ask first if something was typed (once: closing goes on after the answer)."""
        if self._closing or not self.form.is_dirty() or DiscardNewPatient.ask(self):
            self._closing = True
        return self._closing

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, initial_name: str = "") -> int | None:
        """The new patient's id, or None (cancelled, or an existing record was opened)."""
        dialog = cls(ctx, parent, initial_name)
        return dialog.created_id if dialog.run() else None
