"""The waitlist (ASAP list) beside the calendar, and the dialog that adds or edits an entry.

The panel lists everyone waiting for an earlier slot, longest-waiting first.
When the calendar selects a free slot, or an appointment is cancelled,
:meth:`WaitlistPanel.show_matches_for` / :meth:`~WaitlistPanel.show_freed_slot`
narrow it to the patients that slot suits; "Book" hands the entry and the slot
to the calendar, which opens its booking dialog.
"""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import QDate, QLocale, QModelIndex, Qt, QTime, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.catalog import Catalog
from app.services.clinic.permissions import Permission
from app.services.scheduling.waitlist import SlotMatches, WaitlistData, WaitlistLine, WaitlistMatch
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import (
    Column,
    RowTableModel,
    empty_state_label,
    list_table,
    set_column_widths,
)
from app.ui.widgets.write_dialog import WriteDialog

EMPTY_LIST = "Nobody is waiting for an earlier slot."
EMPTY_MATCHES = "Nobody on the waitlist fits this slot."
MINUTES_PER_DAY = 24 * 60


def _waiting_text(line: WaitlistLine) -> str:
    if line.waiting_days == 0:
        return "Today"
    return "1 day" if line.waiting_days == 1 else f"{line.waiting_days} days"


def _first_line(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 80 else first[:79] + "…"


COLUMNS = [
    Column("Patient", lambda r: r.patient_name),
    Column("Phone", lambda r: r.phone),
    Column("Service", lambda r: f"{r.service_name} ({r.duration_minutes} min)"),
    Column("Provider", lambda r: r.provider_name),
    Column("Preferred times", lambda r: r.preferred_text),
    Column("Booked now", lambda r: r.current_appointment_text or "—"),
    Column("Waiting", _waiting_text, align_right=True),
    Column("Notes", lambda r: _first_line(r.notes)),
]


class RemoveReasonDialog:
    """Asks why an entry leaves the waitlist (a class so tests can answer it)."""

    @classmethod
    def ask(cls, parent: QWidget | None, patient_name: str) -> str | None:
        text, ok = QInputDialog.getText(
            parent,
            "Remove from waitlist",
            f"Why is {patient_name} leaving the waitlist?",
            QLineEdit.EchoMode.Normal,
            "No longer wants an earlier slot",
        )
        return text if ok else None


class WaitlistPanel(QWidget):
    """Everyone waiting for an earlier slot, or only those a chosen slot suits."""

    #: (WaitlistLine, WaitlistMatch or None): the calendar opens its booking dialog.
    book_requested = Signal(object, object)
    patient_open_requested = Signal(int)
    #: Emitted after each load has reached the table (tests wait on it).
    loaded = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("waitlistPanel")
        #: The slot being matched (provider_id, starts_at, ends_at) or a freed appointment.
        self._slot: tuple[int, datetime, datetime] | None = None
        self._freed: tuple[int, dict] | None = None
        self._matches: dict[int, WaitlistMatch] = {}
        self._serial = 0

        self.header_label = QLabel()
        self.header_label.setObjectName("waitlistHeader")
        self.header_label.setWordWrap(True)
        self.header_label.setStyleSheet("font-weight: 600;")
        self.show_all_button = QPushButton("Show &everyone", self)
        self.show_all_button.setObjectName("showAllButton")
        self.show_all_button.setToolTip("Leave the slot's matches and list the whole waitlist")
        self.show_all_button.hide()

        self.model = RowTableModel(COLUMNS, self)
        self.table = list_table(self.model, "waitlistTable")
        self.table.setParent(self)
        self.table.setWordWrap(False)
        # Each column as wide as its widest line, the notes taking what is left; a narrow
        # panel scrolls sideways rather than cut a patient's name or service.
        set_column_widths(self.table, stretch=len(COLUMNS) - 1)
        self.empty_label = empty_state_label(EMPTY_LIST)
        self.empty_label.setParent(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        self.book_button = QPushButton("&Book…", self)
        self.book_button.setObjectName("bookButton")
        self.book_button.setToolTip("Book the selected patient (Enter)")
        self.edit_button = QPushButton("E&dit…", self)
        self.edit_button.setObjectName("editButton")
        self.remove_button = QPushButton("&Remove…", self)
        self.remove_button.setObjectName("removeButton")
        self.remove_button.setToolTip("Take the patient off the waitlist (Delete)")
        self.open_button = QPushButton("Open &patient", self)
        self.open_button.setObjectName("openPatientButton")
        can_manage = ctx.allows(Permission.MANAGE_APPOINTMENTS)
        for button in (self.book_button, self.edit_button, self.remove_button):
            button.setVisible(can_manage)

        top = QHBoxLayout()
        top.addWidget(self.header_label, 1)
        top.addWidget(self.show_all_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.book_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)

        self.book_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Return), self.table)
        self.book_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.book_shortcut_enter = QShortcut(QKeySequence(Qt.Key.Key_Enter), self.table)
        self.book_shortcut_enter.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        self.remove_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        self._connect_signals()
        self._update_buttons()
        self.refresh()

    def _connect_signals(self) -> None:
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.table.doubleClicked.connect(self.on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.model.modelReset.connect(self.on_selection_changed)
        self.book_button.clicked.connect(self.on_book_clicked)
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.remove_button.clicked.connect(self.on_remove_clicked)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.show_all_button.clicked.connect(self.clear_matches)
        self.book_shortcut.activated.connect(self.on_book_clicked)
        self.book_shortcut_enter.activated.connect(self.on_book_clicked)
        self.remove_shortcut.activated.connect(self.on_remove_clicked)

    # --- what the calendar calls -------------------------------------------------------------

    @property
    def in_matches_mode(self) -> bool:
        return self._slot is not None or self._freed is not None

    def show_matches_for(self, provider_id: int, starts_at: datetime, ends_at: datetime) -> None:
        """List only the entries this free slot suits."""
        self._slot, self._freed = (provider_id, starts_at, ends_at), None
        self.refresh()

    def show_freed_slot(self, appointment_id: int, **former) -> None:
        """List the entries that fit the time a cancelled (or moved) appointment freed.

        ``former`` takes ``former_starts_at``, ``former_ends_at`` and
        ``former_provider_id`` for an appointment that was moved away.
        """
        self._slot, self._freed = None, (appointment_id, dict(former))
        self.refresh()

    @Slot()
    def clear_matches(self) -> None:
        """Back to the whole waitlist."""
        self._slot = self._freed = None
        self.refresh()

    def selected_line(self) -> WaitlistLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def selected_match(self) -> WaitlistMatch | None:
        line = self.selected_line()
        return self._matches.get(line.id) if line is not None else None

    # --- loading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        from app.services.scheduling import waitlist

        self._serial += 1
        serial = self._serial
        db, actor = self.ctx.db, self.ctx.actor
        if self._slot is not None:
            provider_id, starts_at, ends_at = self._slot

            def fn():
                return waitlist.slot_matches(db, actor, provider_id, starts_at, ends_at)
        elif self._freed is not None:
            appointment_id, former = self._freed

            def fn():
                return waitlist.freed_slot_matches(db, actor, appointment_id, **former)
        else:

            def fn():
                return waitlist.list_waitlist(db, actor)

        ops.run_query(
            fn,
            on_success=lambda result: self.on_loaded(serial, result),
            on_failure=lambda exc: self.on_load_failed(serial, exc),
            owner=self,
        )

    def on_loaded(self, serial: int, result: list[WaitlistLine] | SlotMatches) -> None:
        if serial != self._serial:
            return  # an answer for a slot no longer shown
        keep = self.selected_line()
        if isinstance(result, SlotMatches):
            self._matches = {m.entry.id: m for m in result.matches}
            lines = [m.entry for m in result.matches]
            self.header_label.setText(result.headline)
            self.empty_label.setText(
                f"{EMPTY_MATCHES} Patients who want an earlier {result.provider_name} visit "
                "appear here when their days, times and service fit."
            )
            self.show_all_button.show()
        else:
            self._matches = {}
            lines = result
            n = len(lines)
            self.header_label.setText(
                "Waitlist" if n == 0 else f"Waitlist — {n} waiting for an earlier slot"
            )
            self.empty_label.setText(
                f"{EMPTY_LIST} Add a patient from their appointment when they would "
                "take an earlier time."
            )
            self.show_all_button.hide()
        self.model.set_rows(lines)
        self.stack.setCurrentWidget(self.table if lines else self.empty_label)
        if lines:
            self.table.resizeColumnsToContents()
            ids = [line.id for line in lines]
            row = ids.index(keep.id) if keep is not None and keep.id in ids else 0
            self.table.selectRow(row)
        self._update_buttons()
        self.loaded.emit()

    def on_load_failed(self, serial: int, exc: BaseException) -> None:
        if serial != self._serial:
            return
        self.header_label.setText(ops.user_message(exc))
        self.model.set_rows([])
        self.stack.setCurrentWidget(self.empty_label)
        self._update_buttons()
        self.loaded.emit()

    # --- slots --------------------------------------------------------------------------------

    def on_bus_changed(self, changes: Changes) -> None:
        if changes.appointments or changes.patients or changes.services or changes.providers:
            self.refresh()

    def _update_buttons(self) -> None:
        has = self.selected_line() is not None
        for button in (self.book_button, self.edit_button, self.remove_button, self.open_button):
            button.setEnabled(has)

    @Slot()
    def on_selection_changed(self, *_args) -> None:
        self._update_buttons()

    @Slot(QModelIndex)
    def on_table_double_clicked(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is None:
            return
        if self.ctx.allows(Permission.MANAGE_APPOINTMENTS):
            self.book_requested.emit(line, self._matches.get(line.id))
        else:
            self.patient_open_requested.emit(line.patient_id)

    @Slot()
    def on_book_clicked(self) -> None:
        line = self.selected_line()
        if line is not None and self.ctx.allows(Permission.MANAGE_APPOINTMENTS):
            self.book_requested.emit(line, self._matches.get(line.id))

    @Slot()
    def on_open_clicked(self) -> None:
        line = self.selected_line()
        if line is not None:
            self.patient_open_requested.emit(line.patient_id)

    @Slot()
    def on_edit_clicked(self) -> None:
        line = self.selected_line()
        if line is None or not self.ctx.allows(Permission.MANAGE_APPOINTMENTS):
            return
        WaitlistEntryDialog.ask(
            self.ctx, self, patient_id=line.patient_id, patient_name=line.patient_name, entry=line
        )

    @Slot()
    def on_remove_clicked(self) -> None:
        from app.services.scheduling.waitlist import remove_from_waitlist

        line = self.selected_line()
        if line is None or not self.ctx.allows(Permission.MANAGE_APPOINTMENTS):
            return
        reason = RemoveReasonDialog.ask(self, line.patient_name)
        if reason is None:
            return
        db, actor, entry_id, version = self.ctx.db, self.ctx.actor, line.id, line.version
        ops.run_write(
            lambda: remove_from_waitlist(db, actor, entry_id, reason, version=version),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )


# --- the add/edit dialog -------------------------------------------------------------------------


def _qtime(minute: int) -> QTime:
    minute = min(minute, MINUTES_PER_DAY - 1)
    return QTime(minute // 60, minute % 60)


def _minute(value: QTime, *, end: bool = False) -> int:
    minute = value.hour() * 60 + value.minute()
    # The last minute of the day stands for "until midnight".
    return MINUTES_PER_DAY if end and minute == MINUTES_PER_DAY - 1 else minute


class WaitlistEntryDialog(WriteDialog):
    """Adds a patient to the waitlist or changes what they would accept; saves before closing."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        patient_id: int,
        patient_name: str,
        service_id: int | None = None,
        provider_id: int | None = None,
        current_appointment_id: int | None = None,
        entry: WaitlistLine | None = None,
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.entry = entry
        self.saved_id: int | None = None
        self._service_id = entry.service_id if entry is not None else service_id
        self._provider_id = entry.provider_id if entry is not None else provider_id
        self._current_appointment_id = (
            entry.current_appointment_id if entry is not None else current_appointment_id
        )
        self.setObjectName("waitlistEntryDialog")
        self.setWindowTitle("Edit waitlist entry" if entry else "Add to waitlist")
        locale = QLocale(ctx.details.locale)

        self.patient_label = QLabel(patient_name)
        self.patient_label.setObjectName("patientLabel")
        self.patient_label.setStyleSheet("font-weight: 600;")
        self.service_combo = QComboBox()
        self.service_combo.setObjectName("serviceCombo")
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")

        mask = entry.weekday_mask if entry is not None else 0b0011111
        self.day_checks: list[QCheckBox] = []
        days_row = QWidget()
        days_layout = QHBoxLayout(days_row)
        days_layout.setContentsMargins(0, 0, 0, 0)
        for day in range(7):
            # QLocale numbers days Monday = 1 … Sunday = 7.
            check = QCheckBox(locale.dayName(day + 1, QLocale.FormatType.ShortFormat))
            check.setObjectName(f"dayCheck{day}")
            check.setChecked(bool(mask & (1 << day)))
            days_layout.addWidget(check)
            self.day_checks.append(check)
        days_layout.addStretch(1)

        time_format = locale.timeFormat(QLocale.FormatType.ShortFormat)
        self.earliest_edit = QTimeEdit(_qtime(entry.earliest_minute if entry else 8 * 60))
        self.earliest_edit.setObjectName("earliestEdit")
        self.latest_edit = QTimeEdit(_qtime(entry.latest_minute if entry else 17 * 60))
        self.latest_edit.setObjectName("latestEdit")
        for edit in (self.earliest_edit, self.latest_edit):
            edit.setDisplayFormat(time_format)
            edit.setLocale(locale)

        self.before_check = QCheckBox("Only &before")
        self.before_check.setObjectName("beforeCheck")
        wanted = entry.wanted_before if entry is not None else None
        self.before_edit = QDateEdit()
        self.before_edit.setObjectName("beforeEdit")
        self.before_edit.setCalendarPopup(True)
        self.before_edit.setLocale(locale)
        self.before_edit.setDisplayFormat(locale.dateFormat(QLocale.FormatType.ShortFormat))
        self.before_check.setChecked(wanted is not None)
        self.before_edit.setEnabled(wanted is not None)
        if wanted is None:
            self._default_before_date()
        else:
            self.before_edit.setDate(QDate(wanted.year, wanted.month, wanted.day))
        before_row = QWidget()
        before_layout = QHBoxLayout(before_row)
        before_layout.setContentsMargins(0, 0, 0, 0)
        before_layout.addWidget(self.before_check)
        before_layout.addWidget(self.before_edit)
        before_layout.addStretch(1)

        self.notes_edit = QPlainTextEdit(entry.notes if entry is not None else "")
        self.notes_edit.setObjectName("notesEdit")
        self.notes_edit.setTabChangesFocus(True)
        self.notes_edit.setPlaceholderText("e.g. Can come at an hour's notice; call the mobile.")
        self.notes_edit.setMaximumHeight(90)

        self.fields: dict[str, FormField] = {
            "service": FormField(self.service_combo),
            "provider": FormField(self.provider_combo),
            "weekdays": FormField(days_row),
            "earliest": FormField(self.earliest_edit),
            "latest": FormField(
                self.latest_edit,
                f"{locale.toString(QTime(23, 59), time_format)} means until the end of the day.",
            ),
            "wanted_before": FormField(before_row, "Slots on or after this date are not offered."),
            "notes": FormField(self.notes_edit),
        }
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()

        form = growing_form()
        form.addRow("Patient", self.patient_label)
        if entry is not None and entry.current_appointment_text:
            current = QLabel(f"{entry.current_appointment_text} — only earlier slots are offered")
            current.setObjectName("currentAppointmentLabel")
            form.addRow("Booked now", current)
        form.addRow("&Service", self.fields["service"])
        form.addRow("P&rovider", self.fields["provider"])
        form.addRow("Days", self.fields["weekdays"])
        form.addRow("&Earliest start", self.fields["earliest"])
        form.addRow("&Latest end", self.fields["latest"])
        form.addRow("", self.fields["wanted_before"])
        form.addRow("&Notes", self.fields["notes"])

        self.buttons, self.save_button = dialog_buttons("&Save" if entry else "&Add to waitlist")
        self.save_button.setObjectName("saveButton")
        self.save_button.setEnabled(False)  # until the services and providers are loaded
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self._connect_signals()
        self._load_catalog()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.before_check.toggled.connect(self.on_before_toggled)

    def _default_before_date(self) -> None:
        today = QDate.currentDate()
        self.before_edit.setDate(today.addDays(14))
        self.before_edit.setMinimumDate(today.addDays(1))

    def _load_catalog(self) -> None:
        from app.services.clinic.catalog import load_catalog

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: load_catalog(db, actor, include_inactive=False),
            on_success=self.on_catalog_loaded,
            on_failure=self.on_save_failed,
            owner=self,
        )

    def on_catalog_loaded(self, catalog: Catalog) -> None:
        self.service_combo.clear()
        for service in catalog.services:
            self.service_combo.addItem(
                f"{service.name} ({service.default_duration_minutes} min)", service.id
            )
        self.provider_combo.clear()
        self.provider_combo.addItem("Any provider", None)
        for provider in catalog.providers:
            self.provider_combo.addItem(provider.display_name, provider.id)
        if self._service_id is not None:
            index = self.service_combo.findData(self._service_id)
            self.service_combo.setCurrentIndex(max(0, index))
        if self._provider_id is not None:
            index = self.provider_combo.findData(self._provider_id)
            self.provider_combo.setCurrentIndex(max(0, index))
        self.save_button.setEnabled(True)
        self.service_combo.setFocus()

    # --- values -------------------------------------------------------------------------------

    def entry_data(self) -> WaitlistData:
        wanted = None
        if self.before_check.isChecked():
            d = self.before_edit.date()
            wanted = date(d.year(), d.month(), d.day())
        return WaitlistData(
            patient_id=self.patient_id,
            service_id=self.service_combo.currentData(),
            provider_id=self.provider_combo.currentData(),
            weekdays=frozenset(d for d, check in enumerate(self.day_checks) if check.isChecked()),
            earliest_minute=_minute(self.earliest_edit.time()),
            latest_minute=_minute(self.latest_edit.time(), end=True),
            wanted_before=wanted,
            current_appointment_id=self._current_appointment_id,
            notes=self.notes_edit.toPlainText(),
            id=self.entry.id if self.entry is not None else None,
            version=self.entry.version if self.entry is not None else None,
        )

    # --- slots --------------------------------------------------------------------------------

    @Slot(bool)
    def on_before_toggled(self, checked: bool) -> None:
        self.before_edit.setEnabled(checked)

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.scheduling.waitlist import add_to_waitlist, update_waitlist_entry

        if self.saving or not self.save_button.isEnabled():
            return
        self.show_message("")
        db, actor, data = self.ctx.db, self.ctx.actor, self.entry_data()
        write = update_waitlist_entry if self.entry is not None else add_to_waitlist
        self.save_with(lambda: write(db, actor, data))

    def on_saved(self, line: WaitlistLine) -> None:
        self.saved_id = line.id
        super().on_saved(line)

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving and self.service_combo.count() > 0)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        patient_id: int,
        patient_name: str,
        service_id: int | None = None,
        provider_id: int | None = None,
        current_appointment_id: int | None = None,
        entry: WaitlistLine | None = None,
    ) -> int | None:
        """Show the dialog; the saved entry's id, or None when cancelled."""
        dialog = cls(
            ctx,
            parent,
            patient_id=patient_id,
            patient_name=patient_name,
            service_id=service_id,
            provider_id=provider_id,
            current_appointment_id=current_appointment_id,
            entry=entry,
        )
        return dialog.saved_id if dialog.run() else None
