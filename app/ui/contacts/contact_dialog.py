"""Add or change one contact: who it is, how to reach it, its address, how it takes
records and — for an insurance payer only — what eligibility checks need.

A contact that looks like one already in the directory is not saved at once: the dialog
says which and why, and "Save anyway" keeps both.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.contacts.directory import (
    KIND_LABELS,
    SEND_RECORDS_LABELS,
    ContactDetails,
    ContactForm,
    PossibleDuplicateError,
)
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog

#: Longest text each line edit takes (the service says the same, beside the field).
_LENGTHS = {
    "organization": 160,
    "name": 120,
    "specialty": 80,
    "phone": 40,
    "other_phone": 40,
    "fax": 40,
    "email": 254,
    "address_line1": 120,
    "address_line2": 120,
    "city": 80,
    "region": 80,
    "postal_code": 20,
    "country": 2,
    "payer_id": 40,
    "eligibility_phone": 40,
}
_PAYER = "payer"


class ContactDialog(WriteDialog):
    """The contact form; saves through the contacts service and closes once it is stored
    (``saved`` then holds the contact as stored)."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        details: ContactDetails | None = None,
        kind: str | None = None,
        name: str = "",
    ) -> None:
        super().__init__(ctx, parent)
        self.details = details
        self.saved: ContactDetails | None = None
        self._allow_duplicate = False
        editing = details is not None
        self.setWindowTitle("Edit contact" if editing else "New contact")

        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("contactKind")
        for code, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, code)
        self.edits: dict[str, QLineEdit] = {}
        for field_name, longest in _LENGTHS.items():
            edit = QLineEdit()
            edit.setObjectName(f"contact_{field_name}")
            edit.setMaxLength(longest)
            self.edits[field_name] = edit
        self.edits["country"].setMaximumWidth(60)
        self.edits["country"].setPlaceholderText("US")
        self.edits["postal_code"].setMaximumWidth(140)
        self.edits["organization"].setPlaceholderText("Practice, company or office")
        self.edits["name"].setPlaceholderText("A person there, e.g. Dr. Maya Ortiz")
        self.send_combo = QComboBox()
        self.send_combo.setObjectName("contactSendRecordsBy")
        for code, label in SEND_RECORDS_LABELS.items():
            self.send_combo.addItem(label, code)
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setObjectName("contactNotes")
        self.notes_edit.setTabChangesFocus(True)
        self.notes_edit.setFixedHeight(56)

        field = FormField
        self.fields: dict[str, FormField] = {
            "kind": field(self.kind_combo),
            **{name: field(edit) for name, edit in self.edits.items()},
            "send_records_by": field(self.send_combo),
            "notes": field(self.notes_edit),
        }
        self.errors = FieldErrors(self.fields)
        f = self.fields

        who = self._group("Who", [
            ("&Kind", "kind"), ("&Organization", "organization"), ("&Name", "name"),
            ("S&pecialty", "specialty"),
        ])  # fmt: skip
        reach = self._group("Phones, e-mail and fax", [
            ("P&hone", "phone"), ("O&ther phone", "other_phone"), ("&Fax", "fax"),
            ("E-&mail", "email"),
        ])  # fmt: skip
        address = self._group("Address", [
            ("&Address", "address_line1"), ("", "address_line2"), ("C&ity", "city"),
            ("State or re&gion", "region"), ("&ZIP or postal code", "postal_code"),
            ("Co&untry", "country"),
        ])  # fmt: skip
        records = self._group("How to send records", [("Send records &by", "send_records_by")])
        self.payer_box = self._group("Insurance payer", [
            ("Pa&yer ID", "payer_id"), ("&Eligibility phone", "eligibility_phone"),
        ])  # fmt: skip
        f["payer_id"].set_hint("The payer's electronic ID, for claims and eligibility checks.")
        f["send_records_by"].set_hint("How this office wants referrals and reports sent.")
        notes = self._group("Notes", [("", "notes")])

        self.duplicate_frame = QFrame()
        self.duplicate_frame.setObjectName("duplicateWarning")
        self.duplicate_frame.setStyleSheet(
            "QFrame#duplicateWarning { background: #fff4d6; border: 1px solid #e0b84c;"
            " border-radius: 4px; }"
        )
        self.duplicate_label = QLabel()
        self.duplicate_label.setObjectName("duplicateText")
        self.duplicate_label.setWordWrap(True)
        self.duplicate_label.setTextFormat(Qt.TextFormat.PlainText)
        self.save_anyway_button = QPushButton("Save any&way")
        self.save_anyway_button.setObjectName("saveAnyway")
        self.save_anyway_button.setAutoDefault(False)  # Enter saves; this one is clicked
        warning_layout = QHBoxLayout(self.duplicate_frame)
        warning_layout.addWidget(self.duplicate_label, 1)
        warning_layout.addWidget(self.save_anyway_button, 0, Qt.AlignmentFlag.AlignTop)
        self.duplicate_frame.hide()

        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons("&Save contact")
        self.save_button.setObjectName("saveContact")

        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.addWidget(who, 0, 0)
        grid.addWidget(reach, 1, 0)
        grid.addWidget(records, 2, 0)
        grid.addWidget(address, 0, 1)
        grid.addWidget(self.payer_box, 1, 1)
        grid.addWidget(notes, 2, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addWidget(self.duplicate_frame)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(760)

        if details is not None:
            self.set_form(details.form)
        else:
            self.set_form(ContactForm(kind=kind or "specialist", organization=name))
        self._connect_signals()
        self.on_kind_changed()
        (self.edits["organization"] if details is None else self.kind_combo).setFocus()

    def _group(self, title: str, rows: list[tuple[str, str]]) -> QGroupBox:
        box = QGroupBox(title)
        form = growing_form(box)
        for label, name in rows:
            form.addRow(label, self.fields[name])
        return box

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.kind_combo.currentIndexChanged.connect(self.on_kind_changed)
        self.save_anyway_button.clicked.connect(self.on_save_anyway_clicked)
        for edit in self.edits.values():
            edit.textEdited.connect(self.on_form_edited)

    # --- the form -------------------------------------------------------------------------------

    def set_form(self, form: ContactForm) -> None:
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(form.kind)))
        for name, edit in self.edits.items():
            edit.setText(getattr(form, name))
            edit.setCursorPosition(0)  # a long e-mail shows its start
        self.send_combo.setCurrentIndex(max(0, self.send_combo.findData(form.send_records_by)))
        self.notes_edit.setPlainText(form.notes)

    def form(self) -> ContactForm:
        """What the form says; the payer's fields only for a payer (they are hidden else)."""
        kind = self.kind_combo.currentData()
        values = {name: edit.text() for name, edit in self.edits.items()}
        if kind != _PAYER:
            values.update(payer_id="", eligibility_phone="")
        values.update(
            kind=kind,
            send_records_by=self.send_combo.currentData(),
            notes=self.notes_edit.toPlainText(),
        )
        return ContactForm(**{f.name: values[f.name] for f in fields(ContactForm)})

    @Slot()
    def on_kind_changed(self, *_args) -> None:
        self.payer_box.setVisible(self.kind_combo.currentData() == _PAYER)

    @Slot()
    def on_form_edited(self, *_args) -> None:
        # What looked like a duplicate may not any more: ask again on the next save.
        self._allow_duplicate = False
        self.duplicate_frame.hide()

    # --- saving ---------------------------------------------------------------------------------

    @Slot()
    def on_save_clicked(self) -> None:
        if self.saving:
            return
        self.show_message("")
        self.errors.clear()
        form, allow = self.form(), self._allow_duplicate
        db, actor = self.ctx.db, self.ctx.actor
        if self.details is None:
            from app.services.contacts.directory import add_contact

            self.save_with(lambda: add_contact(db, actor, form, allow_duplicate=allow))
        else:
            from app.services.contacts.directory import update_contact

            contact_id, version = self.details.id, self.details.version
            self.save_with(
                lambda: update_contact(db, actor, contact_id, version, form, allow_duplicate=allow)
            )

    @Slot()
    def on_save_anyway_clicked(self) -> None:
        self._allow_duplicate = True
        self.duplicate_frame.hide()
        self.on_save_clicked()

    def on_save_failed(self, exc: BaseException) -> None:
        if isinstance(exc, PossibleDuplicateError):
            self.errors.clear()
            lines = "\n".join(f"• {m.sentence()}" for m in exc.matches)
            self.duplicate_label.setText(
                f"This may already be in Contacts:\n{lines}\nNothing was saved. Save anyway to "
                "keep both, or cancel and use the one that is there."
            )
            self.duplicate_frame.show()
            self.save_anyway_button.setFocus()
            return
        super().on_save_failed(exc)

    def on_saved(self, result: ContactDetails) -> None:
        self.saved = result
        super().on_saved(result)

    def update_buttons(self) -> None:
        super().update_buttons()
        self.save_anyway_button.setEnabled(not self.saving)

    def may_discard(self) -> bool:
        return True

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        details: ContactDetails | None = None,
        kind: str | None = None,
        name: str = "",
    ) -> ContactDetails | None:
        """Show the dialog; the contact as saved, or None when cancelled."""
        dialog = cls(ctx, parent, details=details, kind=kind, name=name)
        dialog.run()
        return dialog.saved
