"""The Details tab of a record window: the patient's form, saved explicitly, conflicts resolved.

Edits are kept in the form until the user saves (Save / Ctrl+S) or cancels.  A
save made against an outdated version is refused by the service
(``PatientChangedError``); the user then chooses to reload (after confirming
that their edits go) or to overwrite — nothing is lost without being asked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape

from PySide6.QtCore import Qt, Signal, Slot
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
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.errors import PatientChangedError, ValidationError
from app.services.patients import records as patients
from app.services.patients.records import PatientRecord
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.patient_form import PatientFormWidget
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.messages import show_warning

CloseCallback = Callable[[bool], None]


def format_moment(ctx: UiContext, moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return i18n.format_datetime(moment, ctx.details.timezone, ctx.details.locale)


def format_clock(ctx: UiContext, moment: datetime | None) -> str:
    """HH:MM in the clinic's zone (the error's own text uses the server's UTC)."""
    if moment is None:
        return "a moment ago"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return i18n.format_time(moment, ctx.details.timezone, ctx.details.locale)


class ConflictDialog:
    """Asks what to do when someone else saved the patient while the user was editing."""

    RELOAD = "reload"
    OVERWRITE = "overwrite"

    @classmethod
    def ask(cls, parent: QWidget | None, changed_by: str, when: str) -> str | None:
        """``RELOAD``, ``OVERWRITE`` or None (keep editing, nothing saved)."""
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Changed by someone else")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(f"Changed by {changed_by} at {when} — Reload / Overwrite?")
        box.setInformativeText(
            "Reload shows their version and throws away what you typed here. "
            "Overwrite saves your version over theirs."
        )
        reload_button = box.addButton("&Reload", QMessageBox.ButtonRole.AcceptRole)
        overwrite_button = box.addButton("&Overwrite", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(reload_button)
        box.exec()
        clicked = box.clickedButton()
        if clicked is reload_button:
            return cls.RELOAD
        if clicked is overwrite_button:
            return cls.OVERWRITE
        return None

    @classmethod
    def confirm_reload(cls, parent: QWidget | None) -> bool:
        """Last word before the user's edits are thrown away."""
        answer = QMessageBox.question(
            parent,
            "Reload the patient",
            "Throw away your edits to this patient and show the latest saved version?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes


class DetailsTab(RecordTab):
    """Everything on file about the patient; editable with ``EDIT_PATIENTS``."""

    #: A fresh record was shown (loaded, reloaded or saved).
    record_shown = Signal(object)

    def __init__(
        self,
        ctx: UiContext,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        autoload: bool = True,
    ) -> None:
        super().__init__(ctx, patient_id, parent)
        self.record: PatientRecord | None = None
        self.can_edit = ctx.allows(Permission.EDIT_PATIENTS)
        self._saving = False
        self._close_callbacks: list[CloseCallback] = []

        # Built top-down (each widget inside its parent): faster to style, the record opens fast.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        scroll = QScrollArea(self)
        scroll.setObjectName("pageScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        body.setObjectName("pageBody")
        scroll.setWidget(body)
        self.scroll = scroll
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(16, 12, 16, 12)
        self.notice_label = QLabel(body)
        self.notice_label.setObjectName("detailsNotice")
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(False)
        # Another PC saved this patient while it was open here (clinic server only).
        self.remote_notice = QLabel(body)
        self.remote_notice.setObjectName("remoteChangeNotice")
        self.remote_notice.setWordWrap(True)
        self.remote_notice.setTextFormat(Qt.TextFormat.RichText)
        self.remote_notice.setVisible(False)
        self.form = PatientFormWidget(ctx, body, with_deceased=True)
        self.form.set_read_only(True)  # until the record is here
        body_layout.addWidget(self.notice_label)
        body_layout.addWidget(self.remote_notice)
        body_layout.addWidget(self.form)
        body_layout.addStretch(1)

        self.changed_label = QLabel()
        self.changed_label.setObjectName("fieldHint")
        self.status_label = QLabel()
        self.status_label.setObjectName("detailsStatus")
        self.cancel_button = QPushButton("Cancel changes")
        self.cancel_button.setObjectName("cancelChangesButton")
        self.save_button = QPushButton("&Save")
        self.save_button.setObjectName("primaryButton")
        self.save_button.setToolTip("Save (Ctrl+S)")
        for button in (self.cancel_button, self.save_button):
            button.setEnabled(False)

        bar = QHBoxLayout()
        bar.setContentsMargins(16, 6, 16, 10)
        bar.addWidget(self.changed_label)
        bar.addStretch(1)
        bar.addWidget(self.status_label)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.save_button)

        layout.addWidget(scroll, 1)
        layout.addLayout(bar)
        for button in (self.cancel_button, self.save_button):
            button.setVisible(self.can_edit)

        if not self.can_edit:
            self._show_notice("Your role can read this record but not change it.")
        self._connect_signals()
        if self.can_edit:
            ops.run_query(
                lambda db=ctx.db, actor=ctx.actor: patients.lead_sources(db, actor),
                on_success=self.form.set_lead_sources,
                on_failure=lambda _exc: None,  # the list is a convenience; typing still works
                owner=self,
            )
        if autoload:
            self.reload()

    def _connect_signals(self) -> None:
        self.form.edited.connect(self.on_form_edited)
        self.form.email_confirm_requested.connect(self.on_email_confirm_requested)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.ctx.bus.remote_changed.connect(self.on_remote_changed)
        self.remote_notice.linkActivated.connect(self.on_remote_notice_link)

    # --- the record -----------------------------------------------------------------------------

    def reload(self, *, discard: bool = False) -> None:
        """Read the record again (not audited: the window's opening was)."""
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: patients.patient_header(db, actor, patient_id),
            on_success=lambda record: self.on_record_loaded(record, discard=discard),
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_record_loaded(self, record: PatientRecord, *, discard: bool = False) -> None:
        if self.form.is_dirty() and not discard:
            return  # never overwrite what the user is typing; a save will meet the conflict
        self.set_record(record)

    def on_load_failed(self, exc: BaseException) -> None:
        self._show_notice(ops.user_message(exc))

    def set_record(self, record: PatientRecord) -> None:
        """Show ``record`` as saved (the window passes the one it opened)."""
        self.record = record
        self.form.set_form(record.form)
        self.form.set_messaging_state(record.text_opted_out_at, record.email_bounced_at)
        merged = record.merged_into_id is not None
        self.form.set_read_only(not self.can_edit or merged)
        if merged:
            self._show_notice(
                "This record was merged into another one; open that one to make changes."
            )
        if record.last_changed_at is not None:
            who = record.last_changed_by or "someone"
            self.changed_label.setText(
                f"Last changed by {who}, {format_moment(self.ctx, record.last_changed_at)}"
            )
        else:
            self.changed_label.setText("")
        self._update_buttons()
        self.record_shown.emit(record)

    def _show_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))

    def _update_buttons(self) -> None:
        dirty = self.form.is_dirty()
        editable = self.can_edit and self.record is not None and not self.form.is_read_only()
        self.save_button.setEnabled(
            editable and dirty and not self._saving and self.form.is_valid()
        )
        self.cancel_button.setEnabled(editable and dirty and not self._saving)

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_form_edited(self) -> None:
        self.status_label.setText("")
        self._update_buttons()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients and not self._saving and not self.form.is_dirty():
            self.reload()

    @Slot(object)
    def on_remote_changed(self, change) -> None:
        """Another PC saved this patient: say who and where — a reload if the form is being
        edited here (what is typed is kept until the user chooses), a note if not (the
        record reloads by itself)."""
        if self.patient_id not in change.ids_of("patients"):
            return
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        workstation = change.workstation or "another PC"
        ops.run_query(
            lambda: patients.patient_header(db, actor, patient_id),
            on_success=lambda record: self.on_remote_change_named(record, workstation),
            on_failure=lambda _exc: None,  # the reload (or the save's conflict) still tells
            owner=self,
        )

    def on_remote_change_named(self, record: PatientRecord, workstation: str) -> None:
        who = escape(record.last_changed_by or "someone")
        when = format_clock(self.ctx, record.last_changed_at) if record.last_changed_at else "now"
        where = escape(workstation)
        if self.form.is_dirty():
            self.remote_notice.setText(
                f"<b>Changed at {where} by {who} at {when}</b> while you were editing. "
                "<a href='reload'>Reload</a> to see their changes (yours are discarded), "
                "or save to choose whether to keep theirs or yours."
            )
        else:
            self.remote_notice.setText(
                f"Updated: changed at {where} by {who} at {when}. <a href='dismiss'>Dismiss</a>"
            )
        self.remote_notice.setVisible(True)

    @Slot(str)
    def on_remote_notice_link(self, link: str) -> None:
        if link == "reload":
            if self.form.is_dirty() and not ConflictDialog.confirm_reload(self):
                return
            self.status_label.setText("Reloaded: your edits were discarded.")
            self.reload(discard=True)
        self.remote_notice.setVisible(False)

    @Slot()
    def on_save_clicked(self) -> None:
        self.save()

    @Slot()
    def on_email_confirm_requested(self) -> None:
        """The patient says the address that bounced is right: e-mail may go to it again."""
        if not self.can_edit or self.record is None or self._saving:
            return
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_write(
            lambda: patients.confirm_email_address(db, actor, patient_id),
            on_success=self.on_email_confirmed,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def on_email_confirmed(self, record: PatientRecord) -> None:
        if self.form.is_dirty():
            # Keep what is being typed; the save that follows is against this version.
            self.record = record
            self.form.set_messaging_state(record.text_opted_out_at, record.email_bounced_at)
        else:
            self.set_record(record)
        self.status_label.setText("E-mail may go to this address again.")

    @Slot()
    def on_cancel_clicked(self) -> None:
        self.discard_changes()

    # --- saving ---------------------------------------------------------------------------------

    def save(self) -> bool:
        """Save the edits (Save button, Ctrl+S); False when there was nothing to save."""
        if not self.can_edit or self.record is None or self._saving:
            return False
        if not self.form.is_dirty():
            return False
        if self.form.refresh_errors(show_all=True):
            self.form.focus_first_error()
            self._finish_close_callbacks(False)
            return False
        self._write(overwrite=False)
        return True

    def _write(self, *, overwrite: bool) -> None:
        assert self.record is not None
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        version, form = self.record.version, self.form.form()
        self._saving = True
        self.status_label.setText("Saving…")
        self._update_buttons()
        ops.run_write(
            lambda: patients.update_patient(
                db, actor, patient_id, version, form, overwrite=overwrite
            ),
            on_success=self.on_save_succeeded,
            on_failure=self.on_save_failed,
            owner=self,
        )

    def on_save_succeeded(self, record: PatientRecord) -> None:
        self._saving = False
        self.remote_notice.setVisible(False)
        self.set_record(record)
        self.status_label.setText("Saved.")
        self._finish_close_callbacks(True)

    def on_save_failed(self, exc: BaseException) -> None:
        self._saving = False
        self.status_label.setText("Not saved.")
        self._update_buttons()
        if isinstance(exc, PatientChangedError):
            self._resolve_conflict(exc)
            return
        if not (isinstance(exc, ValidationError) and self.form.show_error(exc)):
            show_warning(self, ops.user_message(exc))
        self._finish_close_callbacks(False)

    def _resolve_conflict(self, exc: PatientChangedError) -> None:
        answer = ConflictDialog.ask(
            self, exc.changed_by or "another user", format_clock(self.ctx, exc.changed_at)
        )
        if answer == ConflictDialog.OVERWRITE:
            self._write(overwrite=True)  # the close (if one waits) goes on after this save
            return
        if answer == ConflictDialog.RELOAD and ConflictDialog.confirm_reload(self):
            self.status_label.setText("Reloaded: your edits were discarded.")
            self.reload(discard=True)
        self._finish_close_callbacks(False)

    def _finish_close_callbacks(self, ok: bool) -> None:
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            callback(ok)

    # --- the RecordTab contract -----------------------------------------------------------------

    def has_unsaved_changes(self) -> bool:
        return self.can_edit and self.record is not None and self.form.is_dirty()

    def save_for_close(self, done: CloseCallback) -> None:
        """Save before the window closes; ``done(True)`` once saved, ``done(False)`` if not."""
        if not self.has_unsaved_changes():
            done(True)
            return
        self._close_callbacks.append(done)
        if not self._saving and not self.save():
            self._finish_close_callbacks(False)

    def discard_changes(self) -> None:
        if self.record is not None:
            self.form.set_form(self.record.form)
            self.form.set_messaging_state(
                self.record.text_opted_out_at, self.record.email_bounced_at
            )
        self.status_label.setText("")
        self._update_buttons()
