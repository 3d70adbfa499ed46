"""Merge two contacts that are one: pick the duplicate to fold into the contact kept, see
what would move (referrals, insurance policies, payments …) and what would be filled in,
then merge — all in one transaction; the duplicate stays, inactive, pointing at the kept one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.services.contacts.directory import KIND_LABELS, ContactLine
from app.services.contacts.merging import MergePreview, MergeResult
from app.ui import ops
from app.ui.contacts.picker import ContactPicker
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog


def preview_text(preview: MergePreview) -> str:
    """What the merge would do, in sentences."""
    kept, duplicate = preview.kept.display_name, preview.duplicate.display_name
    lines = [f"{duplicate} will be folded into {kept}."]
    if preview.moves:
        lines.append(f"What moves to {kept}:")
        lines += [f"  • {m.count} {m.label}" for m in preview.moves]
    else:
        lines.append("Nothing names the duplicate yet: nothing moves.")
    if preview.fills:
        lines.append(f"{kept} gains its " + ", ".join(preview.fills) + ".")
    lines.append("The duplicate then stays, inactive, pointing at the contact kept.")
    return "\n".join(lines)


class MergeContactsDialog(WriteDialog):
    """Choose the duplicate of ``kept``, read what would move, merge."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, kept: ContactLine) -> None:
        super().__init__(ctx, parent)
        self.kept = kept
        self.preview: MergePreview | None = None
        self.merged: MergeResult | None = None
        self.setWindowTitle("Merge contacts")
        intro = QLabel(
            f"Keep <b>{_escape(kept.display_name)}</b> ({kept.kind_label.lower()}) and fold a "
            "duplicate of it into it: everything that names the duplicate will name this one."
        )
        intro.setObjectName("dialogIntro")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        # A payer folds in only a payer; the other kinds into one another (a specialist
        # entered once as a referring provider is still one office).
        payer = kept.kind == "payer"
        kinds = [k for k in KIND_LABELS if (k == "payer") == payer]
        self.picker = ContactPicker(ctx, kinds=kinds, new_text="")
        self.picker.new_button.hide()
        self.picker.line_edit.setPlaceholderText("Type the duplicate's name, phone or e-mail…")
        self.fields = {"duplicate": FormField(self.picker)}
        self.errors = FieldErrors(self.fields)
        self.preview_label = QLabel("Choose the duplicate to see what would move.")
        self.preview_label.setObjectName("mergePreview")
        self.preview_label.setWordWrap(True)
        self.preview_label.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_label.setMinimumHeight(90)
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons("&Merge")
        self.save_button.setObjectName("mergeContacts")

        form = growing_form()
        form.addRow("&Duplicate", self.fields["duplicate"])
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.preview_label, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.picker.contact_changed.connect(self.on_duplicate_changed)
        self.update_buttons()
        self.picker.setFocus()

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving and self.preview is not None)

    @Slot(object)
    def on_duplicate_changed(self, duplicate_id: int | None) -> None:
        self.preview = None
        self.show_message("")
        self.errors.clear()
        self.update_buttons()
        if duplicate_id is None:
            self.preview_label.setText("Choose the duplicate to see what would move.")
            return
        from app.services.contacts.merging import merge_preview

        self.preview_label.setText("Reading what would move…")
        db, actor, kept_id = self.ctx.db, self.ctx.actor, self.kept.id
        ops.run_query(
            lambda: merge_preview(db, actor, kept_id, duplicate_id),
            on_success=lambda preview: self._on_preview(duplicate_id, preview),
            on_failure=lambda exc: self._on_preview_failed(duplicate_id, exc),
            owner=self,
        )

    def _on_preview(self, duplicate_id: int, preview: MergePreview) -> None:
        if self.picker.contact_id() != duplicate_id:
            return
        self.preview = preview
        self.preview_label.setText(preview_text(preview))
        self.update_buttons()

    def _on_preview_failed(self, duplicate_id: int, exc: BaseException) -> None:
        if self.picker.contact_id() != duplicate_id:
            return
        self.preview_label.setText("")
        self.fields["duplicate"].set_error(ops.user_message(exc))

    @Slot()
    def on_save_clicked(self) -> None:
        if self.saving or self.preview is None:
            return
        from app.services.contacts.merging import merge_contacts

        db, actor = self.ctx.db, self.ctx.actor
        kept_id, duplicate_id = self.preview.kept.id, self.preview.duplicate.id
        self.save_with(lambda: merge_contacts(db, actor, kept_id, duplicate_id))

    def on_saved(self, result: MergeResult) -> None:
        self.merged = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, kept: ContactLine) -> MergeResult | None:
        """Show the dialog; what the merge did, or None when nothing was merged."""
        dialog = cls(ctx, parent, kept)
        dialog.run()
        return dialog.merged


def _escape(text: str) -> str:
    import html

    return html.escape(text)
