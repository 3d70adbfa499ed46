"""The audit log, for owners: who did what and when, filtered, newest first, loaded page by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QLocale, Qt, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.i18n import qt_date_format
from app.services.changes import Changes
from app.services.clinic.audit import AuditAction
from app.services.clinic.audit_log import LOOKED_AT_A_RECORD, AuditFilter, AuditRow
from app.ui import ops
from app.ui.calendar.patient_picker import PatientPicker
from app.ui.context import UiContext
from app.ui.labels import audit_action_label, entity_label
from app.ui.widgets.lazy_table import LazyTableModel, LazyTableStack
from app.ui.widgets.row_table import Column, Index, set_column_widths

PAGE_SIZE = 200
EMERGENCY_BACKGROUND = QColor("#fde8e6")
EMERGENCY_TEXT = QColor("#8c1d18")
DETAIL_COLUMN = 6


#: The action filter's entry for every way a record's contents were seen (LOOKED_AT_A_RECORD).
LOOKED_AT = "looked-at-a-record"


def _action_text(row: AuditRow) -> str:
    label = audit_action_label(row.action)
    return f"⚠ {label}" if row.break_glass else label


def _record_text(row: AuditRow) -> str:
    if not row.entity:
        return ""
    suffix = f" #{row.entity_id}" if row.entity_id is not None else ""
    return entity_label(row.entity) + suffix


def _patient_text(row: AuditRow) -> str:
    if row.patient_id is None:
        return ""
    return f"{row.patient_name} (#{row.patient_id})" if row.patient_name else f"#{row.patient_id}"


def _user_text(row: AuditRow) -> str:
    return row.staff_name or row.username


def _fields_text(row: AuditRow) -> str:
    return ", ".join(name.replace("_", " ") for name in row.fields.split(",") if name)


class AuditTableModel(LazyTableModel):
    """Audit rows fetched ``PAGE_SIZE`` at a time as the view scrolls (``fetchMore``);
    rows done under emergency access stand out."""

    def __init__(
        self,
        format_time: Callable[[datetime], str] = str,
        page_size: int = PAGE_SIZE,
        parent=None,
    ) -> None:
        super().__init__(
            [
                Column("When", lambda row: format_time(row.at)),
                Column("User", _user_text),
                Column("Action", _action_text),
                Column("Record", _record_text),
                Column("Patient", _patient_text),
                Column("Fields changed", _fields_text),
                Column("Detail", lambda row: row.detail),
            ],
            page_size=page_size,
            parent=parent,
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.break_glass:
                return "Done under emergency access"
            return row.detail if index.column() == DETAIL_COLUMN and row.detail else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(EMERGENCY_BACKGROUND) if row.break_glass else None
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(EMERGENCY_TEXT) if row.break_glass else None
        return super().data(index, role)


class AuditWindow(QWidget):
    """The Audit log page. Opening it is itself audited (once per page).

    Every read runs on the read pool: the rows page by page, the count of entries
    matching the filters (once per filter, not per page) and the staff for the filter.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._noted = False
        #: The filter the list and the count show (None: nothing loaded yet).
        self._shown_filter: AuditFilter | None = None
        #: New entries were written while the page was hidden: read again when shown.
        self._stale = False
        self._count_generation = 0

        title = QLabel("Audit log")
        title.setObjectName("pageTitle")
        self.user_combo = QComboBox()
        self.user_combo.setMinimumContentsLength(14)
        self.user_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.user_combo.addItem("Anyone", None)
        # Who looked at this patient: found by name, as everywhere else in CareDesk.
        self.patient_picker = PatientPicker(ctx, offer_new=False)
        self.patient_picker.setMinimumWidth(260)
        self.action_combo = QComboBox()
        self.action_combo.addItem("Any action", None)
        self.action_combo.addItem("Looked at a record (opened, viewed, printed)", LOOKED_AT)
        for action in AuditAction:
            self.action_combo.addItem(audit_action_label(action.value), action.value)
        today = QDate.currentDate()
        self.from_check = QCheckBox("&From")
        self.from_date = QDateEdit(today.addDays(-30))
        self.to_check = QCheckBox("&To")
        self.to_date = QDateEdit(today)
        date_format = qt_date_format(ctx.details.locale)
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            edit.setLocale(QLocale(ctx.details.locale))
            edit.setDisplayFormat(date_format)
            edit.setMinimumWidth(130)
            edit.setEnabled(False)
        self.month_button = QPushButton("This &month")
        self.month_button.setToolTip("From the 1st of this month to today")
        self.clear_button = QPushButton("&Clear filters")
        self.count_label = QLabel()
        self.count_label.setObjectName("fieldHint")

        filters = QHBoxLayout()
        filters.setSpacing(8)
        for text, widget in (
            ("&User", self.user_combo),
            ("&Action", self.action_combo),
            ("&Patient", self.patient_picker),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            filters.addWidget(label)
            filters.addWidget(widget)
            filters.addSpacing(8)
        filters.addStretch(1)
        dates = QHBoxLayout()
        dates.setSpacing(8)
        dates.addWidget(self.from_check)
        dates.addWidget(self.from_date)
        dates.addSpacing(8)
        dates.addWidget(self.to_check)
        dates.addWidget(self.to_date)
        dates.addSpacing(8)
        dates.addWidget(self.month_button)
        dates.addStretch(1)
        dates.addWidget(self.clear_button)

        self.model = AuditTableModel(self._format_time, parent=self)
        self.table = QTableView()
        self.table.setObjectName("auditTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        set_column_widths(self.table, (185, 150, 170, 150, 200, 130))
        self.stack = LazyTableStack(self.table, "No entries match these filters.")

        legend = QLabel("⚠ Rows in red were done under emergency (break-glass) access.")
        legend.setObjectName("fieldHint")
        footer = QHBoxLayout()
        footer.addWidget(legend)
        footer.addStretch(1)
        footer.addWidget(self.count_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addLayout(filters)
        layout.addLayout(dates)
        layout.addWidget(self.stack, 1)
        layout.addLayout(footer)
        self._load_users()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.user_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.action_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.patient_picker.patient_chosen.connect(self.on_patient_chosen)
        self.patient_picker.edited.connect(self.on_patient_text_edited)
        self.month_button.clicked.connect(self.on_month_clicked)
        self.from_check.toggled.connect(self.from_date.setEnabled)
        self.to_check.toggled.connect(self.to_date.setEnabled)
        for widget in (self.from_check, self.to_check):
            widget.toggled.connect(self.on_filter_changed)
        for edit in (self.from_date, self.to_date):
            edit.dateChanged.connect(self.on_filter_changed)
        self.clear_button.clicked.connect(self.on_clear_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def _format_time(self, value: datetime) -> str:
        from app.i18n import format_datetime

        details = self.ctx.details
        return format_datetime(value, details.timezone, details.locale, "medium", "medium")

    def _load_users(self) -> None:
        from app.services.clinic.permissions import Permission
        from app.services.clinic.staff import list_staff

        if not self.ctx.allows(Permission.MANAGE_STAFF):
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(lambda: list_staff(db, actor), on_success=self._on_users_loaded, owner=self)

    def _on_users_loaded(self, rows) -> None:
        for row in rows:
            self.user_combo.addItem(f"{row.full_name} ({row.username})", row.id)

    def _local_midnight_utc(self, day: date) -> datetime:
        zone = ZoneInfo(self.ctx.details.timezone)
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    def current_filter(self) -> AuditFilter:
        since = until = None
        if self.from_check.isChecked():
            since = self._local_midnight_utc(self.from_date.date().toPython())
        if self.to_check.isChecked():
            until = self._local_midnight_utc(self.to_date.date().toPython() + timedelta(days=1))
        action = self.action_combo.currentData()
        return AuditFilter(
            staff_id=self.user_combo.currentData(),
            patient_id=self.patient_picker.patient_id(),
            action=None if action == LOOKED_AT else action,
            actions=LOOKED_AT_A_RECORD if action == LOOKED_AT else (),
            since=since,
            until=until,
        )

    def show_entries(self, audit_filter: AuditFilter) -> None:
        """List the entries matching ``audit_filter`` from the newest, and count them."""
        from app.services.clinic.audit_log import list_entries

        self._shown_filter = audit_filter
        self._stale = False
        db, actor = self.ctx.db, self.ctx.actor
        self.model.set_fetch(
            lambda offset, limit: list_entries(db, actor, audit_filter, offset, limit)
        )
        self._count(audit_filter)

    def _count(self, audit_filter: AuditFilter) -> None:
        from app.services.clinic.audit_log import count_entries

        self._count_generation += 1
        generation = self._count_generation
        self.count_label.setText("Counting…")
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: count_entries(db, actor, audit_filter),
            on_success=lambda count: self._on_counted(generation, count),
            on_failure=lambda exc: self._on_count_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_counted(self, generation: int, count: int) -> None:
        if generation == self._count_generation:  # else the filter changed since
            self.count_label.setText(f"{count:,} entr{'y' if count == 1 else 'ies'}")

    def _on_count_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._count_generation:
            self.count_label.setText(ops.user_message(exc))

    @Slot()
    def on_filter_changed(self) -> None:
        audit_filter = self.current_filter()
        if not self.isVisible():
            self._stale = True  # read when the page is shown
        elif audit_filter != self._shown_filter:  # e.g. focus left the patient box unchanged
            self.show_entries(audit_filter)

    @Slot(str)
    @Slot(int, str)
    def on_patient_chosen(self, _patient_id: int, _name: str) -> None:
        self.on_filter_changed()

    @Slot()
    def on_patient_text_edited(self) -> None:
        # "Change", or the search box emptied: the list shows everyone again.
        shown = self._shown_filter
        if self.patient_picker.patient_id() is None and shown and shown.patient_id is not None:
            self.on_filter_changed()

    @Slot()
    def on_month_clicked(self) -> None:
        today = self.ctx.today()
        for check, edit, day in (
            (self.from_check, self.from_date, today.replace(day=1)),
            (self.to_check, self.to_date, today),
        ):
            check.blockSignals(True)
            edit.blockSignals(True)
            check.setChecked(True)
            edit.setEnabled(True)
            edit.setDate(day)
            check.blockSignals(False)
            edit.blockSignals(False)
        self.on_filter_changed()

    @Slot()
    def on_clear_clicked(self) -> None:
        for widget in (self.user_combo, self.action_combo, self.patient_picker, self.from_check):
            widget.blockSignals(True)
        self.user_combo.setCurrentIndex(0)
        self.action_combo.setCurrentIndex(0)
        self.patient_picker.set_patient(None)
        self.patient_picker.edit.clear()
        self.from_check.setChecked(False)
        self.to_check.blockSignals(True)
        self.to_check.setChecked(False)
        self.from_date.setEnabled(False)
        self.to_date.setEnabled(False)
        for widget in (
            self.user_combo,
            self.action_combo,
            self.patient_picker,
            self.from_check,
            self.to_check,
        ):
            widget.blockSignals(False)
        self.on_filter_changed()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if not changes.audit or self._shown_filter is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        # The same filter, newer entries on top: read the rows loaded again, in place.
        self.model.refresh()
        self._count(self._shown_filter)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._noted:
            from app.services.clinic.audit_log import note_audit_viewed

            self._noted = True
            db, actor = self.ctx.db, self.ctx.actor
            # Listed once written, so the list opens with this viewing on top.
            ops.run_write(
                lambda: note_audit_viewed(db, actor),
                on_success=lambda _r: self.show_entries(self.current_filter()),
                owner=self,
            )
        elif self._stale:
            self.show_entries(self.current_filter())
