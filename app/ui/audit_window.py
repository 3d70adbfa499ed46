"""The audit log, for owners: who did what and when, filtered, newest first, loaded page by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QIntValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.audit import AuditAction
from app.services.clinic.audit_log import AuditFilter, AuditRow
from app.ui import ops
from app.ui.context import UiContext
from app.ui.labels import audit_action_label, entity_label

Index = QModelIndex | QPersistentModelIndex
PAGE_SIZE = 200
EMERGENCY_BACKGROUND = QColor("#fde8e6")
EMERGENCY_TEXT = QColor("#8c1d18")

Fetch = Callable[[int, int], list[AuditRow]]


class AuditTableModel(QAbstractTableModel):
    """Audit rows fetched ``PAGE_SIZE`` at a time as the view scrolls (``fetchMore``)."""

    COLUMNS = ("When", "User", "Action", "Record", "Patient", "Fields changed", "Detail")

    def __init__(
        self,
        fetch: Fetch,
        format_time: Callable[[datetime], str] = str,
        page_size: int = PAGE_SIZE,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._format_time = format_time
        self._page_size = page_size
        self._rows: list[AuditRow] = []
        self._exhausted = False

    def reset(self, fetch: Fetch | None = None) -> None:
        """Start again from the newest row (new filter, or new rows were written)."""
        self.beginResetModel()
        if fetch is not None:
            self._fetch = fetch
        self._rows = []
        self._exhausted = False
        self.endResetModel()
        self.fetchMore()  # the first page at once: the view shows it without a blank frame

    def row_at(self, row: int) -> AuditRow:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._exhausted:
            return
        # One indexed page of a few hundred rows: a few milliseconds, fine on the GUI thread.
        rows = self._fetch(len(self._rows), self._page_size)
        if len(rows) < self._page_size:
            self._exhausted = True
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.break_glass:
                return "Done under emergency access"
            return self._display(row, column) if column == 6 and row.detail else None
        if row.break_glass:
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(EMERGENCY_BACKGROUND)
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(EMERGENCY_TEXT)
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    def _display(self, row: AuditRow, column: int) -> str:
        if column == 0:
            return self._format_time(row.at)
        if column == 1:
            return row.username
        if column == 2:
            label = audit_action_label(row.action)
            return f"⚠ {label}" if row.break_glass else label
        if column == 3:
            if not row.entity:
                return ""
            suffix = f" #{row.entity_id}" if row.entity_id is not None else ""
            return entity_label(row.entity) + suffix
        if column == 4:
            return str(row.patient_id) if row.patient_id is not None else ""
        if column == 5:
            return ", ".join(name.replace("_", " ") for name in row.fields.split(",") if name)
        return row.detail


class AuditWindow(QWidget):
    """The Audit log page. Opening it is itself audited (once per page)."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._noted = False

        title = QLabel("Audit log")
        title.setObjectName("pageTitle")
        self.user_combo = QComboBox()
        self.user_combo.setMinimumContentsLength(14)
        self.user_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.user_combo.addItem("Anyone", None)
        self.patient_edit = QLineEdit()
        self.patient_edit.setPlaceholderText("Number")
        self.patient_edit.setValidator(QIntValidator(1, 2_000_000_000, self))
        self.patient_edit.setFixedWidth(110)
        self.patient_edit.setClearButtonEnabled(True)
        self.action_combo = QComboBox()
        self.action_combo.addItem("Any action", None)
        for action in AuditAction:
            self.action_combo.addItem(audit_action_label(action.value), action.value)
        today = QDate.currentDate()
        self.from_check = QCheckBox("&From")
        self.from_date = QDateEdit(today.addDays(-30))
        self.to_check = QCheckBox("&To")
        self.to_date = QDateEdit(today)
        date_format = QLocale(ctx.details.locale).dateFormat(QLocale.FormatType.ShortFormat)
        if "yyyy" not in date_format:
            date_format = date_format.replace("yy", "yyyy")
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(date_format)
            edit.setMinimumWidth(130)
            edit.setEnabled(False)
        self.clear_button = QPushButton("&Clear filters")
        self.count_label = QLabel()
        self.count_label.setObjectName("fieldHint")

        filters = QHBoxLayout()
        filters.setSpacing(8)
        for text, widget in (
            ("&User", self.user_combo),
            ("&Action", self.action_combo),
            ("&Patient", self.patient_edit),
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
        dates.addStretch(1)
        dates.addWidget(self.clear_button)

        self.model = AuditTableModel(self._fetch_for(AuditFilter()), self._format_time, parent=self)
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
        for column, width in enumerate((185, 110, 160, 140, 70, 130)):
            self.table.setColumnWidth(column, width)

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
        layout.addWidget(self.table, 1)
        layout.addLayout(footer)
        self._load_users()
        self._connect_signals()
        self._update_count()

    def _connect_signals(self) -> None:
        self.user_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.action_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.patient_edit.editingFinished.connect(self.on_filter_changed)
        self.patient_edit.textChanged.connect(self.on_patient_text_changed)
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

    def _fetch_for(self, audit_filter: AuditFilter) -> Fetch:
        from app.services.clinic.audit_log import list_entries

        db, actor = self.ctx.db, self.ctx.actor
        return lambda offset, limit: list_entries(db, actor, audit_filter, offset, limit)

    def _load_users(self) -> None:
        from app.services.clinic.permissions import Permission
        from app.services.clinic.staff import list_staff

        if not self.ctx.allows(Permission.MANAGE_STAFF):
            return
        for row in list_staff(self.ctx.db, self.ctx.actor):
            self.user_combo.addItem(f"{row.full_name} ({row.username})", row.id)

    def _local_midnight_utc(self, day: date) -> datetime:
        zone = ZoneInfo(self.ctx.details.timezone)
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    def current_filter(self) -> AuditFilter:
        patient = self.patient_edit.text().strip()
        since = until = None
        if self.from_check.isChecked():
            since = self._local_midnight_utc(self.from_date.date().toPython())
        if self.to_check.isChecked():
            until = self._local_midnight_utc(self.to_date.date().toPython() + timedelta(days=1))
        return AuditFilter(
            staff_id=self.user_combo.currentData(),
            patient_id=int(patient) if patient.isdigit() else None,
            action=self.action_combo.currentData(),
            since=since,
            until=until,
        )

    def _update_count(self) -> None:
        from app.services.clinic.audit_log import count_entries

        count = count_entries(self.ctx.db, self.ctx.actor, self.current_filter())
        self.count_label.setText(f"{count:,} entr{'y' if count == 1 else 'ies'}")

    @Slot()
    def on_filter_changed(self) -> None:
        self.model.reset(self._fetch_for(self.current_filter()))
        self._update_count()

    @Slot(str)
    def on_patient_text_changed(self, text: str) -> None:
        if not text:  # the clear button: show everyone again
            self.on_filter_changed()

    @Slot()
    def on_clear_clicked(self) -> None:
        for widget in (self.user_combo, self.action_combo, self.patient_edit, self.from_check):
            widget.blockSignals(True)
        self.user_combo.setCurrentIndex(0)
        self.action_combo.setCurrentIndex(0)
        self.patient_edit.clear()
        self.from_check.setChecked(False)
        self.to_check.blockSignals(True)
        self.to_check.setChecked(False)
        self.from_date.setEnabled(False)
        self.to_date.setEnabled(False)
        for widget in (
            self.user_combo,
            self.action_combo,
            self.patient_edit,
            self.from_check,
            self.to_check,
        ):
            widget.blockSignals(False)
        self.on_filter_changed()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.audit and self.isVisible():
            self.on_filter_changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._noted:
            from app.services.clinic.audit_log import note_audit_viewed

            self._noted = True
            db, actor = self.ctx.db, self.ctx.actor
            ops.run_write(
                lambda: note_audit_viewed(db, actor),
                on_success=lambda _r: self.on_filter_changed(),
                owner=self,
            )
