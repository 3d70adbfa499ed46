"""Patient record → Consultation notes: the list, the structured editor, autosave, sign & lock.

Drafts save themselves (a few seconds after the last keystroke, when the focus
leaves the editor, when the tab hides, and before the window closes), so
``has_unsaved_changes`` is only true after a save failed.  Receptionists see
the list (that a consultation happened) but the body is never opened for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.patients.notes import Decision, NoteContent, NoteFields, NoteStatus, NoteSummary
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.note_editor import AddendumDialog, NoteEditor, SignNoteDialog, decision_label
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

#: Milliseconds after the last edit before the draft saves itself.
AUTOSAVE_DELAY_MS = 3000
BODY_HIDDEN = "Only clinical staff can read consultation notes."
_RED = "#b3261e"


def note_status_label(status: str) -> str:
    return "Signed" if status == NoteStatus.SIGNED.value else "Draft"


class NotesListModel(RowTableModel):
    """The patient's notes (``NoteSummary``), newest first."""

    def __init__(self, format_date: Callable[[datetime], str] = str, parent=None) -> None:
        super().__init__(
            [
                Column("Date", lambda n: format_date(n.created_at)),
                Column("Provider", lambda n: n.provider or "—"),
                Column("Status", lambda n: note_status_label(n.status)),
                Column("Decision", lambda n: decision_label(n.decision) if n.decision else "—"),
                Column(
                    "Addenda",
                    lambda n: str(n.addenda_count) if n.addenda_count else "—",
                    align_right=True,
                ),
            ],
            parent,
        )

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        # Elided cells (a long provider name) show in full on hover.
        if role == Qt.ItemDataRole.ToolTipRole:
            return super().data(index, Qt.ItemDataRole.DisplayRole)
        return super().data(index, role)


class NotesTab(RecordTab):
    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self._content: NoteContent | None = None
        self._dirty = False
        self._failed = False
        self._save_serial = 0
        self._in_flight = 0
        self._last_outcome: dict[str, Any] = {}
        self._reloading = False
        # Lists asked for, and how many had been asked for when the note on show arrived:
        # a list asked for before then may not know the note yet (see _on_list_loaded).
        self._lists_asked = 0
        self._content_after_list = 0
        self._providers: list[tuple[int, str]] = []
        self._own_provider_id: int | None = None

        self.model = NotesListModel(self._format_day, self)
        self.table = list_table(self.model, "notesTable")
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (2, 3, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.new_button = QPushButton("&New consultation note")
        self.new_button.setObjectName("newNoteButton")
        self.new_button.setToolTip("Start a draft note for this patient")

        self.sign_button = QPushButton("&Sign && lock…")
        self.sign_button.setObjectName("signNoteButton")
        self.addendum_button = QPushButton("&Add addendum…")
        self.addendum_button.setObjectName("addAddendumButton")
        self.refer_button = QPushButton("R&efer…")
        self.refer_button.setObjectName("referFromNoteButton")
        self.refer_button.setToolTip("Refer the patient to a specialist, with this signed note")
        self.save_status_label = QLabel()
        self.save_status_label.setObjectName("saveStatus")
        self.save_status_label.setTextFormat(Qt.TextFormat.PlainText)

        self.editor = NoteEditor(locale=ctx.details.locale)
        self.editor.setObjectName("noteEditor")
        self.placeholder_label = QLabel("Loading…")
        self.placeholder_label.setObjectName("notePlaceholder")
        self.placeholder_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder_label.setWordWrap(True)
        self.placeholder_label.setStyleSheet("color: #5d6b72; font-size: 11pt;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder_label)
        self.stack.addWidget(self.editor)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.new_button, 0, Qt.AlignmentFlag.AlignLeft)
        left_layout.addWidget(self.table, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 0, 0, 0)
        actions = QHBoxLayout()
        actions.addWidget(self.save_status_label, 1)
        actions.addWidget(self.refer_button)
        actions.addWidget(self.addendum_button)
        actions.addWidget(self.sign_button)
        right_layout.addLayout(actions)
        right_layout.addWidget(self.stack, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([470, 630])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.splitter)
        self.new_button.setVisible(
            ctx.allows(Permission.WRITE_NOTES) and ctx.allows(Permission.READ_NOTE_BODIES)
        )
        self.sign_button.setVisible(ctx.allows(Permission.SIGN_NOTES))
        self.addendum_button.setVisible(ctx.allows(Permission.WRITE_NOTES))
        self.refer_button.setVisible(ctx.allows(Permission.MANAGE_REFERRALS))
        QWidget.setTabOrder(self.new_button, self.table)

        self._connect_signals()
        self._show_content(None)
        self._load_providers()
        self.reload()

    def _connect_signals(self) -> None:
        self.new_button.clicked.connect(self.on_new_clicked)
        self.sign_button.clicked.connect(self.on_sign_clicked)
        self.addendum_button.clicked.connect(self.on_addendum_clicked)
        self.refer_button.clicked.connect(self.on_refer_clicked)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.editor.edited.connect(self.on_editor_edited)
        self.editor.decline_reason_edit.editingFinished.connect(self.on_editor_focus_left)
        self.autosave_timer.timeout.connect(self.on_autosave_timeout)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self.on_app_focus_changed)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- formatting -----------------------------------------------------------------------------

    def _format_date(self, value: datetime) -> str:
        from app.i18n import format_datetime

        return format_datetime(value, self.ctx.details.timezone, self.ctx.details.locale)

    def _format_day(self, value: datetime) -> str:
        from app.i18n import format_date, to_clinic_time

        local = to_clinic_time(value, self.ctx.details.timezone).date()
        return format_date(local, self.ctx.details.locale)

    def _format_time(self, value: datetime) -> str:
        from app.i18n import format_time

        return format_time(
            value, self.ctx.details.timezone, self.ctx.details.locale, format="medium"
        )

    # --- loading --------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients.notes import list_notes

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        self._lists_asked += 1
        asked = self._lists_asked
        ops.run_query(
            lambda: list_notes(db, actor, patient_id),
            on_success=lambda rows: self._on_list_loaded(rows, asked),
            on_failure=lambda exc: self._show_placeholder(ops.user_message(exc)),
            owner=self,
        )

    def _on_list_loaded(self, rows: list[NoteSummary], asked: int) -> None:
        selected = self._content.summary.id if self._content else self._selected_id()
        self._reloading = True
        try:
            self.model.set_rows(rows)
            self._select_id(selected)
        finally:
            self._reloading = False
        current = self._content
        # A list read before the note on show was started or signed (the read finishing
        # after the write) says nothing about it: the list the write's change asks for does.
        if current is not None and asked > self._content_after_list:
            row = next((r for r in rows if r.id == current.summary.id), None)
            if row is None:
                self._show_content(None)
            elif (row.status, row.addenda_count) != (
                current.summary.status,
                current.summary.addenda_count,
            ):
                self._open(row.id)  # signed or amended from another window
        if self._content is None and self._selected_id() is None:
            self._show_content(None)

    def _load_providers(self) -> None:
        from app.services.clinic.catalog import load_catalog

        if not self.ctx.allows(Permission.VIEW_SCHEDULE):
            return
        db, actor = self.ctx.db, self.ctx.actor

        def loaded(catalog) -> None:
            self._providers = [(p.id, p.display_name) for p in catalog.providers]
            self._own_provider_id = next(
                (p.id for p in catalog.providers if p.staff_id == actor.staff_id), None
            )
            self.editor.set_providers(self._providers)

        ops.run_query(
            lambda: load_catalog(db, actor, include_inactive=False),
            on_success=loaded,
            on_failure=lambda _exc: None,  # the combo stays empty; signing then says why
            owner=self,
        )

    def _selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        row = self.model.row_at(rows[0].row()) if rows else None
        return row.id if row is not None else None

    def _select_id(self, note_id: int | None) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == note_id:  # type: ignore[union-attr]
                self.table.selectRow(row)
                return

    @Slot()
    def on_selection_changed(self, *_args) -> None:
        if self._reloading:
            return
        note_id = self._selected_id()
        if note_id is None or (self._content and self._content.summary.id == note_id):
            return
        self.flush_draft()
        if not self.ctx.allows(Permission.READ_NOTE_BODIES):
            self._content = None
            self._show_placeholder(BODY_HIDDEN)
            return
        self._open(note_id)

    def _open(self, note_id: int) -> None:
        from app.services.patients.notes import open_note

        db, actor = self.ctx.db, self.ctx.actor
        self._show_placeholder("Opening the note…")
        ops.run_query(
            lambda: open_note(db, actor, note_id),
            on_success=self._show_content,
            on_failure=lambda exc: self._show_placeholder(ops.user_message(exc)),
            owner=self,
        )

    # --- showing --------------------------------------------------------------------------------

    def _show_placeholder(self, text: str) -> None:
        self.placeholder_label.setText(text)
        self.stack.setCurrentWidget(self.placeholder_label)
        self.sign_button.setEnabled(False)
        self.addendum_button.setEnabled(False)
        self.refer_button.setEnabled(False)
        self.save_status_label.clear()

    def _empty_text(self) -> str:
        if self.model.rowCount() == 0:
            if self.new_button.isVisible() or self.new_button.isVisibleTo(self):
                return "No consultation notes yet. Start one with “New consultation note”."
            return "No consultation notes yet."
        if not self.ctx.allows(Permission.READ_NOTE_BODIES):
            return BODY_HIDDEN
        return "Select a note on the left to read it."

    def _show_content(self, content: NoteContent | None) -> None:
        self.autosave_timer.stop()
        self._content = content
        self._content_after_list = self._lists_asked
        self._dirty = False
        self._failed = False
        if content is None:
            self._show_placeholder(self._empty_text())
            return
        summary = content.summary
        signed = summary.status == NoteStatus.SIGNED.value
        self.editor.set_fields(content.fields, summary.provider)
        self.editor.set_read_only(signed or not self.ctx.allows(Permission.WRITE_NOTES))
        if signed and summary.signed_at is not None:
            banner = (
                f"Signed by {summary.signed_by or 'unknown'} on "
                f"{self._format_date(summary.signed_at)} — locked"
            )
            if content.fields.decision == Decision.THINKING.value and content.fields.follow_up_on:
                day = i18n.format_date(content.fields.follow_up_on, self.ctx.details.locale)
                banner += f"\nA follow-up task was added for {day}."
            self.editor.set_banner(banner)
        else:
            self.editor.set_banner("")
        self.editor.set_addenda(content.addenda, self._format_date)
        self.stack.setCurrentWidget(self.editor)
        self.sign_button.setEnabled(not signed)
        self.addendum_button.setEnabled(signed)
        self.refer_button.setEnabled(signed)  # only signed notes go with a referral
        if signed:
            self._set_status("")
        else:
            self._set_status(f"Draft saved {self._format_time(content.saved_at)}")

    def _set_status(self, text: str, error: bool = False) -> None:
        self.save_status_label.setText(text)
        self.save_status_label.setStyleSheet(f"color: {_RED};" if error else "color: #5d6b72;")

    def _editable(self) -> bool:
        return (
            self._content is not None
            and self._content.summary.status == NoteStatus.DRAFT.value
            and not self.editor.is_read_only()
        )

    # --- autosave -------------------------------------------------------------------------------

    @Slot()
    def on_editor_edited(self) -> None:
        if not self._editable():
            return
        self._dirty = True
        self.autosave_timer.start()  # restarts: saves this long after the *last* edit
        if not self._failed:
            self._set_status("Unsaved changes…")

    @Slot()
    def on_autosave_timeout(self) -> None:
        self.flush_draft()

    @Slot()
    def on_editor_focus_left(self) -> None:
        self.flush_draft()

    @Slot(object, object)
    def on_app_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if self.editor.contains_focus(old) and not self.editor.contains_focus(new):
            self.flush_draft()

    def flush_draft(self) -> bool:
        """Save the draft now if anything changed; False when there was nothing to save."""
        self.autosave_timer.stop()
        if not self._dirty or not self._editable():
            return False
        from app.services.patients.notes import save_draft

        assert self._content is not None
        db, actor, note_id = self.ctx.db, self.ctx.actor, self._content.summary.id
        data = self.editor.note_fields()
        self._dirty = False
        self._save_serial += 1
        serial = self._save_serial
        box: dict[str, Any] = {}
        self._last_outcome = box
        self._in_flight += 1

        def save() -> datetime:
            try:
                return save_draft(db, actor, note_id, data)
            except BaseException as exc:  # noted for save_before_close, then reported as usual
                box["error"] = exc
                raise

        self._set_status("Saving…")
        ops.run_write(
            save,
            on_success=lambda saved_at: self._on_draft_saved(serial, note_id, data, saved_at),
            on_failure=lambda exc: self._on_draft_failed(serial, exc),
            owner=self,
        )
        return True

    def _on_draft_saved(self, serial: int, note_id: int, data: NoteFields, saved_at) -> None:
        self._in_flight -= 1
        if self._content is not None and self._content.summary.id == note_id:
            from dataclasses import replace

            self._content = replace(self._content, fields=data, saved_at=saved_at)
        if serial == self._save_serial:
            self._failed = False
            self.editor.errors.clear()
            self._set_status(f"Draft saved {self._format_time(saved_at)}")

    def _on_draft_failed(self, serial: int, exc: BaseException) -> None:
        self._in_flight -= 1
        self._failed = True
        self._dirty = True
        if serial != self._save_serial:
            return
        if isinstance(exc, ValidationError):
            self.editor.errors.show(exc)
        self._set_status(f"Not saved: {ops.user_message(exc)}", error=True)

    def hideEvent(self, event: QHideEvent) -> None:
        # Switching tabs or closing the window hides the tab: nothing typed waits for the timer.
        self.flush_draft()
        super().hideEvent(event)

    # --- RecordTab hooks ------------------------------------------------------------------------

    def has_unsaved_changes(self) -> bool:
        return self._failed and self._dirty

    def save_before_close(self) -> bool:
        flushed = self.flush_draft()
        if flushed or self._in_flight:
            # The window is about to go: wait for the writer rather than for its callback.
            ops.wait_for_done()
            return "error" not in self._last_outcome
        return not self._failed

    def discard_changes(self) -> None:
        self.autosave_timer.stop()
        self._dirty = False
        self._failed = False

    # --- actions --------------------------------------------------------------------------------

    @Slot()
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.notes:
            self.reload()
        if changes.providers:
            self._load_providers()

    @Slot()
    def on_new_clicked(self) -> None:
        from app.services.patients.notes import start_note

        self.flush_draft()
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        provider_id = self._own_provider_id

        def started(content: NoteContent) -> None:
            self._show_content(content)
            self.editor.reason_edit.setFocus()

        ops.run_write(
            lambda: start_note(db, actor, patient_id, provider_id),
            on_success=started,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    @Slot()
    def on_refer_clicked(self) -> None:
        from app.ui.referrals.referral_window import new_referral

        if self._content is None:
            return
        name = getattr(self.window(), "patient_name", None)
        new_referral(
            self.ctx,
            self,
            self.patient_id,
            patient_name=name() if callable(name) else "",
            note_id=self._content.summary.id,
        )

    @Slot()
    def on_sign_clicked(self) -> None:
        from app.services.patients.notes import save_draft, sign_note

        if self._content is None or self._content.summary.status != NoteStatus.DRAFT.value:
            return
        data = self.editor.note_fields()
        follow_up = data.follow_up_on if data.decision == Decision.THINKING.value else None
        if not SignNoteDialog.ask(self, follow_up_on=follow_up, locale=self.ctx.details.locale):
            return
        self.autosave_timer.stop()
        self._dirty = False
        self._save_serial += 1
        db, actor, note_id = self.ctx.db, self.ctx.actor, self._content.summary.id
        editable = self.ctx.allows(Permission.WRITE_NOTES)

        def save_and_sign() -> NoteContent:
            if editable:
                save_draft(db, actor, note_id, data)
            return sign_note(db, actor, note_id)

        def signed(content: NoteContent) -> None:
            self._show_content(content)

        def failed(exc: BaseException) -> None:
            self._dirty = True
            if isinstance(exc, ValidationError) and self.editor.errors.show(exc):
                self._set_status("Not signed: " + ops.user_message(exc), error=True)
            else:
                show_warning(self, ops.user_message(exc))

        self._set_status("Signing…")
        ops.run_write(save_and_sign, on_success=signed, on_failure=failed, owner=self)

    @Slot()
    def on_addendum_clicked(self, text: str = "", error: ValidationError | None = None) -> None:
        from app.services.patients.notes import add_addendum

        if self._content is None or self._content.summary.status != NoteStatus.SIGNED.value:
            return
        typed = AddendumDialog.ask(self, text=text, error=error)
        if typed is None:
            return
        db, actor, note_id = self.ctx.db, self.ctx.actor, self._content.summary.id

        def added(content: NoteContent) -> None:
            self._show_content(content)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationError):
                self.on_addendum_clicked(typed, exc)
            else:
                show_warning(self, ops.user_message(exc))

        ops.run_write(
            lambda: add_addendum(db, actor, note_id, typed),
            on_success=added,
            on_failure=failed,
            owner=self,
        )
