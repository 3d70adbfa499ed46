"""A new outgoing referral, from the patient's record (or a consultation note): the
specialist, our provider, why, how urgent, when the visit is due, the records to send
(documents and signed notes picked from the record), anything else sent with it, notes.

"Save as draft" keeps it to finish later; "Save and send…" then asks how it went out (and
prints the packet).  Either way the referral's window opens on it (that sequence is
``referral_window.new_referral``, which the record's tab and the notes tab call).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.permissions import Permission
from app.services.referrals import stages
from app.ui import ops
from app.ui.contacts.picker import ContactPicker
from app.ui.context import UiContext
from app.ui.referrals.common import date_edit, day_text
from app.ui.widgets.form_field import FieldErrors, FormField, form_message, growing_form
from app.ui.widgets.write_dialog import WriteDialog

if TYPE_CHECKING:
    from app.services.referrals.referrals import RecordChoice, ReferralDetail, ReferralLine

NOTES_HEIGHT = 70
#: Who a referral goes to (the first is what "New specialist…" adds).
OUTGOING_KINDS = ("specialist", "clinic", "referring_provider", "other")


def _text_box(name: str, placeholder: str, height: int = NOTES_HEIGHT) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)
    edit.setFixedHeight(height)
    return edit


class NewReferralDialog(WriteDialog):
    """``created`` holds the draft once saved; ``send_after`` whether "Save and send…" saved it."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        *,
        patient_name: str = "",
        note_id: int | None = None,
        draft: ReferralDetail | None = None,
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.note_id = note_id
        #: The draft being finished (None: a new referral).
        self.draft = draft
        self.created: ReferralLine | None = None
        self.send_after = False
        self.choices_loaded = False
        self.setWindowTitle("New referral")
        self.setObjectName("newReferralDialog")

        intro = QLabel(
            f"A referral of {patient_name} to a specialist."
            if patient_name
            else "A referral to a specialist."
        )
        intro.setObjectName("dialogIntro")
        intro.setWordWrap(True)
        self.contact_picker = ContactPicker(ctx, kinds=OUTGOING_KINDS, new_text="New spec&ialist…")
        self.contact_picker.setObjectName("specialistPicker")
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("referringProvider")
        self.provider_combo.addItem("No provider named", None)
        self.reason_edit = _text_box(
            "referralReason", "e.g. Evaluation of impacted lower third molars"
        )
        self.urgency_combo = QComboBox()
        self.urgency_combo.setObjectName("urgencyCombo")
        for value, label in stages.URGENCY_LABELS.items():
            self.urgency_combo.addItem(label, value)
        # The visit's due date follows the urgency (Settings' days) until the desk changes it.
        self.visit_days: dict[str, int] = {}
        self.due_edited = False
        self._filling_due = False
        self.due_edit = date_edit(ctx, ctx.today())
        self.due_edit.setObjectName("visitDueEdit")
        self.due_edit.setMinimumDate(QDate(ctx.today().year, ctx.today().month, ctx.today().day))
        due_row = QWidget()
        row = QHBoxLayout(due_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.due_edit)
        row.addStretch(1)
        self.records_list = QListWidget()
        self.records_list.setObjectName("recordChoices")
        self.records_list.setMinimumHeight(110)
        self.records_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.records_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.records_list.addItem("Loading the record…")
        self.extra_edit = _text_box(
            "attachedRecords", "Anything else sent, one per line (e.g. Panoramic X-ray film)"
        )
        self.notes_edit = _text_box("referralNotes", "For the desk: not printed on the letter")

        self.fields: dict[str, FormField] = {
            "contact_id": FormField(self.contact_picker),
            "provider_id": FormField(self.provider_combo),
            "reason": FormField(self.reason_edit),
            "urgency": FormField(self.urgency_combo),
            "visit_due_on": FormField(due_row),
            "document_ids": FormField(self.records_list),
            "attached_records": FormField(self.extra_edit),
            "notes": FormField(self.notes_edit),
        }
        self.fields["note_ids"] = self.fields["document_ids"]
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("Spe&cialist", self.fields["contact_id"])
        form.addRow("Our &provider", self.fields["provider_id"])
        form.addRow("&Reason", self.fields["reason"])
        form.addRow("&Urgency", self.fields["urgency"])
        form.addRow("Visit &due by", self.fields["visit_due_on"])
        form.addRow("Rec&ords to send", self.fields["document_ids"])
        form.addRow("E&xtra items", self.fields["attached_records"])
        form.addRow("&Notes", self.fields["notes"])
        self.message_label = form_message()
        self.buttons = QDialogButtonBox()
        self.save_button = QPushButton("Save as dra&ft")
        self.save_button.setObjectName("saveDraftButton")
        self.send_button = QPushButton("Save and &send…")
        self.send_button.setObjectName("saveAndSendButton")
        self.send_button.setDefault(True)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.AcceptRole)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(620)
        self._connect_signals()
        if draft is not None:
            self._show_draft(draft)
        self._load()
        self.contact_picker.setFocus()

    def _connect_signals(self) -> None:
        self.save_button.clicked.connect(lambda: self.on_save_clicked(send=False))
        self.send_button.clicked.connect(lambda: self.on_save_clicked(send=True))
        self.buttons.rejected.connect(self.reject)
        self.urgency_combo.currentIndexChanged.connect(self.on_urgency_changed)
        self.due_edit.dateChanged.connect(self.on_due_date_changed)

    # --- loading --------------------------------------------------------------------------------

    def _load(self) -> None:
        from app.services.referrals.referrals import record_choices

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: record_choices(db, actor, patient_id),
            on_success=self.on_choices_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )
        from app.services.clinic.follow_ups import get_follow_up_settings

        ops.run_query(
            lambda: get_follow_up_settings(db, actor),
            on_success=self.on_follow_up_settings_loaded,
            on_failure=lambda _exc: None,  # the service dates the visit by the urgency itself
            owner=self,
        )
        if self.ctx.allows(Permission.VIEW_SCHEDULE):
            from app.services.clinic.catalog import load_catalog

            ops.run_query(
                lambda: load_catalog(db, actor, include_inactive=False),
                on_success=self.on_catalog_loaded,
                owner=self,
            )

    def on_choices_loaded(self, choices: list[RecordChoice]) -> None:
        self.records_list.clear()
        for choice in choices:
            text = f"{day_text(self.ctx, choice.on)} · {choice.title}"
            item = QListWidgetItem(text)
            item.setToolTip(text)
            item.setData(Qt.ItemDataRole.UserRole, (choice.kind, choice.id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            picked = (choice.kind, choice.id) in self._picked_at_start()
            item.setCheckState(Qt.CheckState.Checked if picked else Qt.CheckState.Unchecked)
            self.records_list.addItem(item)
        if not choices:
            empty = QListWidgetItem(
                "Nothing stored in the record yet: list what goes with it under Extra items."
            )
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.records_list.addItem(empty)
        self.choices_loaded = True

    def _picked_at_start(self) -> set[tuple[str, int]]:
        if self.draft is not None:
            return {(r.kind, r.id) for r in self.draft.records}
        return {("note", self.note_id)} if self.note_id is not None else set()

    def _show_draft(self, draft: ReferralDetail) -> None:
        """The draft's values in the form; its due date counts as chosen."""
        line = draft.line
        self.setWindowTitle("Finish the draft referral")
        self.contact_picker.set_contact_id(line.contact_id)
        if line.provider_id is not None:
            self.provider_combo.addItem(line.provider_name, line.provider_id)
            self.provider_combo.setCurrentIndex(self.provider_combo.count() - 1)
        self.reason_edit.setPlainText(line.reason)
        self.urgency_combo.setCurrentIndex(max(0, self.urgency_combo.findData(line.urgency)))
        if line.visit_due_on is not None:
            due = max(line.visit_due_on, self.ctx.today())
            self.due_edit.setDate(QDate(due.year, due.month, due.day))
            self.due_edited = True
        self.extra_edit.setPlainText(draft.attached_records)
        self.notes_edit.setPlainText(draft.notes)

    def on_follow_up_settings_loaded(self, settings) -> None:
        self.visit_days = {
            "routine": settings.referral_visit_days_routine,
            "soon": settings.referral_visit_days_soon,
            "urgent": settings.referral_visit_days_urgent,
        }
        self.fill_due_date()

    def fill_due_date(self) -> None:
        """Today + the clinic's days for the urgency, unless the desk chose the date."""
        days = self.visit_days.get(self.urgency_combo.currentData())
        if days is None:
            return
        if not self.due_edited:
            due = self.ctx.today() + timedelta(days=days)
            self._filling_due = True
            self.due_edit.setDate(QDate(due.year, due.month, due.day))
            self._filling_due = False
        label = self.urgency_combo.currentText().lower()
        self.fields["visit_due_on"].set_hint(
            f"A {label} referral: seen within {days} days (Settings → Follow-ups & referrals)."
        )

    @Slot()
    def on_urgency_changed(self) -> None:
        self.fill_due_date()

    @Slot()
    def on_due_date_changed(self) -> None:
        if not self._filling_due:
            self.due_edited = True

    def on_catalog_loaded(self, catalog) -> None:
        chosen = self.provider_combo.currentData() if self.draft is not None else None
        while self.provider_combo.count() > 1:  # all but "No provider named"
            self.provider_combo.removeItem(1)
        for provider in catalog.providers:
            self.provider_combo.addItem(provider.display_name, provider.id)
        if self.draft is None:  # a new referral: the signed-in provider refers
            chosen = next(
                (p.id for p in catalog.providers if p.staff_id == self.ctx.actor.staff_id), None
            )
        index = self.provider_combo.findData(chosen) if chosen is not None else -1
        if index >= 0:
            self.provider_combo.setCurrentIndex(index)

    # --- what the form says ---------------------------------------------------------------------

    def record_items(self) -> list[QListWidgetItem]:
        items = [self.records_list.item(i) for i in range(self.records_list.count())]
        return [i for i in items if i.data(Qt.ItemDataRole.UserRole) is not None]

    def check_record(self, kind: str, record_id: int, checked: bool = True) -> None:
        for item in self.record_items():
            if item.data(Qt.ItemDataRole.UserRole) == (kind, record_id):
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def picked(self, kind: str) -> tuple[int, ...]:
        return tuple(
            item.data(Qt.ItemDataRole.UserRole)[1]
            for item in self.record_items()
            if item.checkState() == Qt.CheckState.Checked
            and item.data(Qt.ItemDataRole.UserRole)[0] == kind
        )

    def visit_due_on(self) -> date | None:
        """The date shown; None while the clinic's days are not read yet and the desk has
        not chosen one (the service then dates it by the urgency itself)."""
        if not self.visit_days and not self.due_edited:
            return None
        d = self.due_edit.date()
        return date(d.year(), d.month(), d.day())

    def may_discard(self) -> bool:
        typed = (
            self.reason_edit.toPlainText().strip()
            or self.extra_edit.toPlainText().strip()
            or self.notes_edit.toPlainText().strip()
        )
        if not typed:
            return True
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            self,
            "Discard the referral?",
            "The referral is not saved. Close and lose what you typed?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving)
        self.send_button.setEnabled(not self.saving)

    # --- saving ---------------------------------------------------------------------------------

    @Slot()
    def on_save_clicked(self, send: bool = False) -> None:
        from app.services.referrals.referrals import create_outgoing, update_draft

        if self.saving:
            return
        self.show_message("")
        self.errors.clear()
        self.send_after = send
        db, actor = self.ctx.db, self.ctx.actor
        values: dict[str, Any] = {
            "patient_id": self.patient_id,
            "contact_id": self.contact_picker.contact_id(),
            "provider_id": self.provider_combo.currentData(),
            "reason": self.reason_edit.toPlainText(),
            "urgency": self.urgency_combo.currentData(),
            "document_ids": self.picked("document"),
            "note_ids": self.picked("note"),
            "attached_records": self.extra_edit.toPlainText(),
            "visit_due_on": self.visit_due_on(),
            "notes": self.notes_edit.toPlainText(),
        }
        if send and values["contact_id"] is None:
            self.fields["contact_id"].set_error("Choose the specialist it goes to.")
            self.contact_picker.setFocus()
            return
        if self.draft is None:
            self.save_with(lambda: create_outgoing(db, actor, **values))
            return
        del values["patient_id"]
        referral_id, version = self.draft.line.id, self.draft.line.version
        self.save_with(lambda: update_draft(db, actor, referral_id, version=version, **values))

    def on_saved(self, result: Any) -> None:
        self.created = result
        super().on_saved(result)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        *,
        patient_name: str = "",
        note_id: int | None = None,
        draft: ReferralDetail | None = None,
    ):
        """(the draft saved or None, send it now?)."""
        dialog = cls(
            ctx, parent, patient_id, patient_name=patient_name, note_id=note_id, draft=draft
        )
        accepted = dialog.run()
        return (dialog.created if accepted else None, dialog.send_after)
