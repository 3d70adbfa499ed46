"""Find next available: the earliest free slots for a visit, one click to pick one.

The criteria (service and length, providers, room, days, time of day, how far
ahead, how many) sit on the left; Search (Enter) asks the availability service
off the GUI thread and lists the slots on the right: each free gap once, at its
earliest start, and only on days the clinic is open (the days it is closed are
not ticked, and cannot be).  Double-clicking a slot, or Book with one selected,
closes the dialog with that slot (and the service it was searched for); the
booking dialog then opens filled in with it.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QEvent, QObject, Qt, QTime, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.clinic.catalog import Catalog, load_catalog
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.scheduling.availability import (
    MAX_COUNT,
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    WEEKDAY_NAMES,
    SlotQuery,
    describe_empty,
    find_next_available,
    open_weekdays,
    validate_query,
)
from app.services.scheduling.availability import (
    Slot as FreeSlot,
)
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_MINUTES = 30
DEFAULT_WEEKS = 6
DEFAULT_COUNT = 10


class FiveMinuteTimeEdit(QTimeEdit):
    """Arrow keys and the wheel move the minutes five at a time."""

    def stepBy(self, steps: int) -> None:
        if self.currentSection() == QTimeEdit.Section.MinuteSection:
            self.setTime(self.time().addSecs(steps * 5 * 60))
            return
        super().stepBy(steps)


class NextAvailableDialog(QDialog):
    """``chosen`` holds the slot picked once the dialog is accepted."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        patient_id: int | None = None,
        patient_name: str = "",
        service_id: int | None = None,
        provider_ids: tuple[int, ...] | list[int] | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.chosen: FreeSlot | None = None
        self._wanted_service = service_id
        self._wanted_providers = tuple(provider_ids) if provider_ids else None
        self._catalog: Catalog | None = None
        self._search_serial = 0
        self._last_query: SlotQuery | None = None
        self.setObjectName("nextAvailableDialog")
        self.setWindowTitle(f"Find next available — {patient_name}" if patient_name else
                            "Find next available")  # fmt: skip

        # --- criteria ---
        self.service_combo = QComboBox()
        self.service_combo.setObjectName("serviceCombo")
        self.service_combo.addItem("No particular service", None)
        self.duration_spin = QSpinBox()
        self.duration_spin.setObjectName("durationSpin")
        self.duration_spin.setRange(MIN_DURATION_MINUTES, MAX_DURATION_MINUTES)
        self.duration_spin.setSingleStep(5)
        self.duration_spin.setSuffix(" min")
        self.duration_spin.setValue(DEFAULT_MINUTES)
        self.duration_spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)

        self.provider_list = QListWidget()
        self.provider_list.setObjectName("providerList")
        self.room_combo = QComboBox()
        self.room_combo.setObjectName("roomCombo")
        self.room_combo.addItem("Any room", None)

        days_row = QWidget()
        days_layout = QHBoxLayout(days_row)
        days_layout.setContentsMargins(0, 0, 0, 0)
        days_layout.setSpacing(6)
        self.day_checks: list[QCheckBox] = []
        for index, label in enumerate(DAY_LABELS):
            check = QCheckBox(label)
            check.setObjectName(f"dayCheck{index}")
            check.setChecked(True)
            self.day_checks.append(check)
            days_layout.addWidget(check)
        days_layout.addStretch(1)

        self.window_check = QCheckBox("Only &between")
        self.window_check.setObjectName("windowCheck")
        self.earliest_edit = FiveMinuteTimeEdit(QTime(8, 0))
        self.earliest_edit.setObjectName("earliestEdit")
        self.latest_edit = FiveMinuteTimeEdit(QTime(17, 0))
        self.latest_edit.setObjectName("latestEdit")
        for edit in (self.earliest_edit, self.latest_edit):
            edit.setDisplayFormat(_time_format(ctx.details.locale))
            edit.setEnabled(False)
        window_row = QWidget()
        window_layout = QHBoxLayout(window_row)
        window_layout.setContentsMargins(0, 0, 0, 0)
        window_layout.addWidget(self.window_check)
        window_layout.addWidget(self.earliest_edit)
        window_layout.addWidget(QLabel("and"))
        window_layout.addWidget(self.latest_edit)
        window_layout.addStretch(1)

        self.horizon_spin = QSpinBox()
        self.horizon_spin.setObjectName("horizonSpin")
        self.horizon_spin.setRange(1, 52)
        self.horizon_spin.setValue(DEFAULT_WEEKS)
        self.horizon_spin.setSuffix(" weeks")
        self.count_spin = QSpinBox()
        self.count_spin.setObjectName("countSpin")
        self.count_spin.setRange(1, MAX_COUNT)
        self.count_spin.setValue(DEFAULT_COUNT)
        self.count_spin.setSuffix(" slots")

        self.fields: dict[str, FormField] = {
            "duration": FormField(self.duration_spin),
            "providers": FormField(self.provider_list),
            "room": FormField(self.room_combo),
            "weekdays": FormField(days_row),
            "earliest": FormField(window_row),
            "horizon": FormField(self.horizon_spin),
            "count": FormField(self.count_spin),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        if patient_name:
            patient_label = QLabel(patient_name)
            patient_label.setObjectName("patientLabel")
            patient_label.setStyleSheet("font-weight: 600;")
            form.addRow("Patient", patient_label)
        form.addRow("&Service", self.service_combo)
        form.addRow("&Length", self.fields["duration"])
        form.addRow("&Providers", self.fields["providers"])
        form.addRow("&Room", self.fields["room"])
        form.addRow("Days", self.fields["weekdays"])
        form.addRow("Time of day", self.fields["earliest"])
        form.addRow("Look a&head", self.fields["horizon"])
        form.addRow("S&how", self.fields["count"])
        self.search_button = QPushButton("&Search")
        self.search_button.setObjectName("searchButton")
        self.search_button.setDefault(True)
        self.search_button.setAutoDefault(True)
        criteria = QWidget()
        criteria.setObjectName("criteria")
        criteria_layout = QVBoxLayout(criteria)
        criteria_layout.setContentsMargins(0, 0, 0, 0)
        criteria_layout.addLayout(form)
        search_row = QHBoxLayout()
        search_row.addStretch(1)
        search_row.addWidget(self.search_button)
        criteria_layout.addLayout(search_row)
        criteria_layout.addStretch(1)

        # --- results ---
        zone = ctx.details.timezone
        locale = ctx.details.locale
        self.model = RowTableModel(
            [
                Column("Day", lambda s: _day_text(s.starts_at, zone, locale)),
                Column("Time", lambda s: _time_range(s, zone, locale)),
                Column("Provider", lambda s: s.provider_name),
                Column("Room", lambda s: s.room_name or "—"),
            ],
            self,
        )
        self.table = list_table(self.model, "slotTable")
        self.table.setParent(self)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.empty_label = empty_state_label("Choose what to look for, then press Search.")
        self.results = QStackedWidget()
        self.results.setObjectName("results")
        self.results.addWidget(self.empty_label)
        self.results.addWidget(self.table)
        self.status_label = QLabel("")
        self.status_label.setObjectName("statusLabel")
        self.status_label.setStyleSheet("color: #4b5563;")
        self.status_label.setWordWrap(True)
        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.status_label)
        results_layout.addWidget(self.results, 1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.book_button = self.buttons.addButton(
            "&Book this slot", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.book_button.setObjectName("bookButton")
        self.book_button.setEnabled(False)
        # Someone who may not book (a provider) can still look up free time.
        self.may_book = ctx.allows(Permission.MANAGE_APPOINTMENTS)
        self.book_button.setVisible(self.may_book)
        self.book_button.setAutoDefault(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)

        body = QGridLayout()
        body.addWidget(criteria, 0, 0)
        body.addWidget(results_box, 0, 1)
        body.setColumnStretch(0, 0)
        body.setColumnStretch(1, 1)
        body.setHorizontalSpacing(18)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.resize(980, 560)
        self.table.installEventFilter(self)
        self._connect_signals()
        self._set_searching(True, "Loading providers and services…")
        db, actor, today = ctx.db, ctx.actor, ctx.today()
        ops.run_query(
            lambda: (
                load_catalog(db, actor, include_inactive=False),
                open_weekdays(db, actor, today),
            ),
            on_success=lambda loaded: self.on_catalog_loaded(*loaded),
            on_failure=self.on_search_failed,
            owner=self,
        )

    def _connect_signals(self) -> None:
        self.horizon_spin.valueChanged.connect(self.on_horizon_changed)
        self.count_spin.valueChanged.connect(self.on_count_changed)
        self.service_combo.currentIndexChanged.connect(self.on_service_changed)
        self.window_check.toggled.connect(self.on_window_toggled)
        self.search_button.clicked.connect(self.on_search_clicked)
        self.table.doubleClicked.connect(self.on_slot_double_clicked)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.book_button.clicked.connect(self.on_book_clicked)
        self.buttons.rejected.connect(self.reject)

    # --- values ---------------------------------------------------------------------------------

    def checked_provider_ids(self) -> tuple[int, ...]:
        return tuple(
            self.provider_list.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.provider_list.count())
            if self.provider_list.item(row).checkState() == Qt.CheckState.Checked
        )

    def query(self) -> SlotQuery:
        """The search the form describes (the service validates it)."""
        days = frozenset(i for i, check in enumerate(self.day_checks) if check.isChecked())
        if not days:
            raise ValidationError("Tick at least one day of the week.", field="weekdays")
        earliest, latest = 0, 1440
        if self.window_check.isChecked():
            earliest = _minutes(self.earliest_edit.time())
            latest = _minutes(self.latest_edit.time())
        return SlotQuery(
            duration_minutes=self.duration_spin.value(),
            provider_ids=self.checked_provider_ids(),
            room_id=self.room_combo.currentData(),
            weekdays=frozenset() if len(days) == 7 else days,
            earliest_minute=earliest,
            latest_minute=latest,
            horizon_days=self.horizon_spin.value() * 7,
            count=self.count_spin.value(),
            patient_id=self.patient_id,
            service_id=self.service_combo.currentData(),
        )

    def selected_slot(self) -> FreeSlot | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    # --- slots ----------------------------------------------------------------------------------

    def on_catalog_loaded(self, catalog: Catalog, open_days: frozenset[int]) -> None:
        self._catalog = catalog
        self._show_open_days(open_days)
        for service in catalog.services:
            label = f"{service.name} ({service.default_duration_minutes} min)"
            self.service_combo.addItem(label, service.id)
        for room in catalog.rooms:
            self.room_combo.addItem(room.name, room.id)
        wanted = set(self._wanted_providers or ())
        for provider in catalog.providers:
            item = QListWidgetItem(provider.display_name, self.provider_list)
            item.setData(Qt.ItemDataRole.UserRole, provider.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = provider.id in wanted if wanted else True
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        # As tall as the providers need (up to six rows, then it scrolls).
        rows = min(max(self.provider_list.count(), 2), 6)
        frame = 2 * self.provider_list.frameWidth() + 4
        self.provider_list.setFixedHeight(rows * self.provider_list.sizeHintForRow(0) + frame)
        if self._wanted_service is not None:
            index = self.service_combo.findData(self._wanted_service)
            if index >= 0:
                self.service_combo.setCurrentIndex(index)
        self._set_searching(False, "")
        if not catalog.providers:
            self.empty_label.setText(
                "No active providers yet: add providers and their working hours in Settings."
            )
            self.search_button.setEnabled(False)
            return
        if self.patient_id is not None or self._wanted_service is not None:
            self.on_search_clicked()  # the caller said what to look for: show answers at once
        else:
            self.service_combo.setFocus()

    @Slot(int)
    def on_service_changed(self, _index: int) -> None:
        service_id = self.service_combo.currentData()
        if self._catalog is None or service_id is None:
            return
        for service in self._catalog.services:
            if service.id == service_id:
                self.duration_spin.setValue(service.default_duration_minutes)
                return

    @Slot(int)
    def on_horizon_changed(self, weeks: int) -> None:
        self.horizon_spin.setSuffix(" week" if weeks == 1 else " weeks")

    @Slot(int)
    def on_count_changed(self, count: int) -> None:
        self.count_spin.setSuffix(" slot" if count == 1 else " slots")

    @Slot(bool)
    def on_window_toggled(self, checked: bool) -> None:
        self.earliest_edit.setEnabled(checked)
        self.latest_edit.setEnabled(checked)

    @Slot()
    def on_search_clicked(self) -> None:
        if self._catalog is None:
            return  # providers and services are still loading
        try:
            query = self.query()
            validate_query(query)  # plain checks, no database: answer at once
        except ValidationError as exc:
            self._show_error(exc)
            return
        self.errors.clear()
        self._search_serial += 1
        serial = self._search_serial
        self._last_query = query
        db, actor = self.ctx.db, self.ctx.actor
        self._set_searching(True, "Searching…")
        ops.run_query(
            lambda: find_next_available(db, actor, query),
            on_success=lambda slots: self.on_slots_found(serial, slots),
            on_failure=lambda exc: self.on_search_failed(exc, serial),
            owner=self,
        )

    def on_slots_found(self, serial: int, slots: list[FreeSlot]) -> None:
        if serial != self._search_serial:
            return  # an older search answered after a newer one was started
        self._set_searching(False, "")
        self.model.set_rows(slots)
        if not slots:
            query = self._last_query
            self.empty_label.setText(describe_empty(query) if query else "No free slot found.")
            self.results.setCurrentWidget(self.empty_label)
            self.status_label.setText("")
            self.book_button.setEnabled(False)
            return
        self.results.setCurrentWidget(self.table)
        first = _day_text(slots[0].starts_at, self.ctx.details.timezone, self.ctx.details.locale)
        noun = "slot" if len(slots) == 1 else "slots"
        minutes = slots[0].minutes
        hint = " Double-click one (or press Enter) to book it." if self.may_book else ""
        self.status_label.setText(
            f"{len(slots)} free {noun} of {minutes} minutes, the first on {first}.{hint}"
        )
        self.table.selectRow(0)
        self.table.setFocus()

    def on_search_failed(self, exc: BaseException, serial: int | None = None) -> None:
        if serial is not None and serial != self._search_serial:
            return
        self._set_searching(False, "")
        if isinstance(exc, ValidationError) and self._show_error(exc):
            return
        self.model.set_rows([])
        self.empty_label.setText(ops.user_message(exc))
        self.results.setCurrentWidget(self.empty_label)

    def on_selection_changed(self, *_args) -> None:
        self.book_button.setEnabled(self.selected_slot() is not None)

    def on_slot_double_clicked(self, index) -> None:
        slot = self.model.row_at(index.row())
        if slot is not None:
            self._choose(slot)

    @Slot()
    def on_book_clicked(self) -> None:
        slot = self.selected_slot()
        if slot is not None:
            self._choose(slot)

    # --- helpers --------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Enter on the results books the selected slot (elsewhere it searches).
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            self.on_book_clicked()
            return True
        return super().eventFilter(watched, event)

    def _choose(self, slot: FreeSlot) -> None:
        if not self.may_book:
            return
        self.chosen = slot
        self.accept()

    def _show_error(self, exc: ValidationError) -> bool:
        if self.errors.show(exc):
            return True
        self.empty_label.setText(str(exc))
        self.results.setCurrentWidget(self.empty_label)
        return False

    def _show_open_days(self, open_days: frozenset[int]) -> None:
        """Tick the days the clinic is open; a closed day cannot be ticked (it has no slot).
        No open day at all (no working hours yet) leaves every day to choose."""
        if not open_days:
            return
        for weekday, check in enumerate(self.day_checks):
            is_open = weekday in open_days
            check.setChecked(is_open)
            check.setEnabled(is_open)
            check.setToolTip(
                "" if is_open else f"The clinic is closed on {WEEKDAY_NAMES[weekday]}s"
            )

    def _set_searching(self, busy: bool, text: str) -> None:
        self.search_button.setEnabled(not busy)
        self.status_label.setText(text)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, **kw) -> FreeSlot | None:
        """Show the dialog; the slot the user picked, or None."""
        dialog = cls(ctx, parent, **kw)
        try:
            accepted = dialog.exec() == QDialog.DialogCode.Accepted
            return dialog.chosen if accepted else None
        finally:
            dialog.deleteLater()


def _minutes(value: QTime) -> int:
    return value.hour() * 60 + value.minute()


def _time_format(locale: str) -> str:
    """Qt's short time format for the clinic's locale ("h:mm AP" / "HH:mm")."""
    from PySide6.QtCore import QLocale

    return QLocale(locale).timeFormat(QLocale.FormatType.ShortFormat)


def _day_text(moment: datetime, timezone: str, locale: str) -> str:
    local = i18n.to_clinic_time(moment, timezone)
    return i18n.format_weekday_date(local.date(), locale)


def _time_range(slot: FreeSlot, timezone: str, locale: str) -> str:
    start = i18n.format_time(slot.starts_at, timezone, locale)
    end = i18n.format_time(slot.ends_at, timezone, locale)
    return f"{start} – {end}"
