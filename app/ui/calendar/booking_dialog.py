"""Book a visit (or a series of visits), or change a booked one.

Every change to the form is checked against the book a moment later (off the GUI
thread, stale answers dropped): clashes show in red, naming the appointment in the
way; pre-authorisation and consent warnings in amber.  Save books through the
scheduling service, which checks again inside its own transaction; a clash it
finds is explained, and an owner or coordinator may then double-book on purpose.
A new visit with no service is booked only once the user says so: it would carry
no fee and set no recall.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QLocale, Qt, QTime, QTimer, Slot
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.clinic.catalog import Catalog, ProviderData, RoomData, ServiceData
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.scheduling import booking as scheduling
from app.services.scheduling.appointment_book import AppointmentBlock
from app.services.scheduling.booking import (
    AppointmentRequest,
    BookingCheck,
    BookingResult,
    ConflictError,
)
from app.ui import ops
from app.ui.calendar.patient_picker import PatientPicker
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors, FormField, form_message, growing_form
from app.ui.widgets.messages import show_warning
from app.ui.widgets.write_dialog import WriteDialog

#: Edits pause this long before the book is checked (each change restarts the wait).
CHECK_DELAY_MS = 150
DEFAULT_MINUTES = 30
CLASH_COLOUR = "#b3261e"
WARNING_COLOUR = "#8a5a00"
FREE_COLOUR = "#1b6e3a"
_STYLE = f"""
#bookingCheck {{ background: #ffffff; border: 1px solid #d3dade; border-radius: 6px; }}
#clashText {{ color: {CLASH_COLOUR}; font-weight: 600; }}
#warningText {{ color: {WARNING_COLOUR}; background: #fff4e5; border-radius: 4px; padding: 4px; }}
#freeText {{ color: {FREE_COLOUR}; font-weight: 600; }}
#feeText {{ color: #24333a; }}
"""


class FiveMinuteTimeEdit(QTimeEdit):
    """Arrow keys and the wheel move the minutes five at a time."""

    def stepBy(self, steps: int) -> None:
        if self.currentSection() == QTimeEdit.Section.MinuteSection:
            self.setTime(self.time().addSecs(steps * 5 * 60))
            return
        super().stepBy(steps)


class NoServiceQuestion:
    """“Book without a service?” before a new visit is booked with none; tests answer
    through ``ask``."""

    @classmethod
    def ask(cls, parent: QWidget | None) -> bool:
        """True to book anyway; False to go back and choose a service (the default)."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "No service chosen",
            "Book this visit without a service?",
            parent=parent,
        )
        box.setInformativeText(
            "A visit without a service has no fee and sets no recall. Go back to choose "
            "the service, or book it as a plain appointment."
        )
        anyway = box.addButton("Book &without a service", QMessageBox.ButtonRole.AcceptRole)
        back = box.addButton("&Choose a service", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(back)
        box.setEscapeButton(back)
        box.exec()
        return box.clickedButton() is anyway


@dataclass(frozen=True)
class _SeriesPreview:
    key: tuple
    requests: list[AppointmentRequest]
    checks: list[BookingCheck]


class BookingDialog(WriteDialog):
    """``booked_ids`` holds the appointments saved once the dialog is accepted."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        starts_at: datetime,
        ends_at: datetime | None = None,
        provider_id: int | None = None,
        room_id: int | None = None,
        patient_id: int | None = None,
        patient_name: str = "",
        service_id: int | None = None,
        notes: str = "",
        appointment: AppointmentBlock | None = None,
    ) -> None:
        super().__init__(ctx, parent)
        self.appointment = appointment
        if appointment is not None:
            starts_at, ends_at = appointment.starts_at, appointment.ends_at
            provider_id, room_id = appointment.provider_id, appointment.room_id
            patient_id, patient_name = appointment.patient_id, appointment.patient_name
            service_id, notes = appointment.service_id, appointment.notes
        self.booked_ids: list[int] = []
        self.ready = False  # the lists of providers, rooms and services have landed
        self.last_check: BookingCheck | None = None
        self.series_preview: _SeriesPreview | None = None
        self._initial = (provider_id, room_id, service_id)
        self._explicit_length = ends_at is not None
        self._catalog = Catalog()
        self._check_generation = 0
        self._checked_key: tuple | None = None
        self._save_when_checked = False
        self._skipped: set[int] = set()
        self.setObjectName("bookingDialog")
        self.setWindowTitle("Edit appointment" if appointment else "Book appointment")
        self.setStyleSheet(_STYLE)

        locale = QLocale(ctx.details.locale)
        local_start = starts_at.astimezone(self._zone())
        minutes = int((ends_at - starts_at).total_seconds() // 60) if ends_at else DEFAULT_MINUTES

        # --- fields ---
        self.patient_picker = PatientPicker(ctx, self)
        if patient_id is not None:
            self.patient_picker.set_patient(patient_id, patient_name)
        self.service_combo = QComboBox()
        self.service_combo.setObjectName("serviceCombo")
        self.fee_label = QLabel()
        self.fee_label.setObjectName("feeText")
        service_row = QWidget()
        row = QHBoxLayout(service_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.service_combo, 1)
        row.addWidget(self.fee_label)
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        self.room_combo = QComboBox()
        self.room_combo.setObjectName("roomCombo")
        for combo in (self.service_combo, self.provider_combo, self.room_combo):
            combo.setMinimumContentsLength(24)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )

        self.date_edit = QDateEdit(QDate(local_start.year, local_start.month, local_start.day))
        self.date_edit.setObjectName("dateEdit")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setLocale(locale)
        self.date_edit.setDisplayFormat(i18n.qt_date_format(ctx.details.locale, "weekday"))
        self.time_edit = FiveMinuteTimeEdit(QTime(local_start.hour, local_start.minute))
        self.time_edit.setObjectName("timeEdit")
        self.time_edit.setLocale(locale)
        self.time_edit.setDisplayFormat(i18n.qt_time_format(ctx.details.locale))
        self.time_edit.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.duration_spin = QSpinBox()
        self.duration_spin.setObjectName("durationSpin")
        self.duration_spin.setRange(5, 12 * 60)
        self.duration_spin.setSingleStep(5)
        self.duration_spin.setSuffix(" min")
        self.duration_spin.setValue(max(5, minutes))
        self.time_edit.setMinimumWidth(110)
        self.duration_spin.setMinimumWidth(100)
        self.duration_spin.setMaximumWidth(120)
        self.end_label = QLabel()
        self.end_label.setObjectName("endLabel")
        when_row = QWidget()
        row = QHBoxLayout(when_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.time_edit)
        length = QLabel("&for")
        length.setBuddy(self.duration_spin)
        row.addWidget(length)
        row.addWidget(self.duration_spin)
        row.addWidget(self.end_label)
        row.addStretch(1)

        self.notes_edit = QPlainTextEdit(notes)
        self.notes_edit.setObjectName("notesEdit")
        self.notes_edit.setTabChangesFocus(True)
        self.notes_edit.setPlaceholderText("Anything the provider or the desk should know")
        self.notes_edit.setFixedHeight(64)

        self.fields: dict[str, FormField] = {
            "patient": FormField(self.patient_picker),
            "service": FormField(service_row),
            "provider": FormField(self.provider_combo),
            "room": FormField(self.room_combo),
            "date": FormField(self.date_edit),
            "duration": FormField(when_row),
            "notes": FormField(self.notes_edit, "Ctrl+Enter saves from here."),
        }
        self.fields["starts_at"] = self.fields["duration"]
        self.fields["service"].setFocusProxy(self.service_combo)
        self.fields["duration"].setFocusProxy(self.time_edit)
        self.errors = FieldErrors(self.fields)

        form = growing_form()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for label, name, buddy in (
            ("&Patient", "patient", self.patient_picker.edit),
            ("S&ervice", "service", self.service_combo),
            ("Pro&vider", "provider", self.provider_combo),
            ("&Room", "room", self.room_combo),
            ("&Date", "date", self.date_edit),
            ("&Time", "duration", self.time_edit),
            ("&Notes", "notes", self.notes_edit),
        ):
            title = QLabel(label)
            title.setBuddy(buddy)
            form.addRow(title, self.fields[name])

        # --- series ---
        self.series_check = QCheckBox("Book a &series of visits")
        self.series_check.setObjectName("seriesCheck")
        self.count_spin = QSpinBox()
        self.count_spin.setObjectName("seriesCount")
        self.count_spin.setRange(2, 52)
        self.count_spin.setValue(6)
        self.count_spin.setSuffix(" visits")
        self.every_spin = QSpinBox()
        self.every_spin.setObjectName("seriesEvery")
        self.every_spin.setRange(1, 52)
        self.every_spin.setValue(1)
        self.unit_combo = QComboBox()
        self.unit_combo.setObjectName("seriesUnit")
        self.unit_combo.addItem("weeks", 7)
        self.unit_combo.addItem("days", 1)
        self.series_table = QTableWidget(0, 6)
        self.series_table.setObjectName("seriesPreview")
        self.series_table.setHorizontalHeaderLabels(
            ["Skip", "Date", "Time", "Provider", "Room", "Status"]
        )
        self.series_table.verticalHeader().hide()
        self.series_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.series_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.series_table.setWordWrap(True)
        self.series_table.setMinimumHeight(220)
        header = self.series_table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column in range(5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.series_summary = QLabel()
        self.series_summary.setObjectName("fieldHint")
        self.series_summary.setWordWrap(True)
        self.series_frame = QFrame()
        self.series_frame.setObjectName("seriesFrame")
        series_layout = QVBoxLayout(self.series_frame)
        series_layout.setContentsMargins(0, 0, 0, 0)
        repeat_row = QHBoxLayout()
        repeat_row.addWidget(self.count_spin)
        every = QLabel("e&very")
        every.setBuddy(self.every_spin)
        repeat_row.addWidget(every)
        repeat_row.addWidget(self.every_spin)
        repeat_row.addWidget(self.unit_combo)
        repeat_row.addStretch(1)
        self.series_fields = {
            "count": FormField(self.count_spin),
            "every": FormField(self.every_spin),
        }
        series_layout.addLayout(repeat_row)
        series_layout.addWidget(self.series_table, 1)
        series_layout.addWidget(self.series_summary)
        self.series_frame.setVisible(False)
        self.series_check.setVisible(appointment is None)

        # --- the check and the buttons ---
        self.check_frame = QFrame()
        self.check_frame.setObjectName("bookingCheck")
        check_layout = QVBoxLayout(self.check_frame)
        check_layout.setContentsMargins(10, 8, 10, 8)
        self.free_label = QLabel()
        self.free_label.setObjectName("freeText")
        self.clash_label = QLabel()
        self.clash_label.setObjectName("clashText")
        self.warning_label = QLabel()
        self.warning_label.setObjectName("warningText")
        for label in (self.free_label, self.clash_label, self.warning_label):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setVisible(False)
            check_layout.addWidget(label)
        self.free_label.setText("Checking the book…")
        self.free_label.setObjectName("fieldHint")
        self.free_label.setVisible(True)

        self.message_label = form_message()
        self.double_book_button = QPushButton("&Double-book anyway")
        self.double_book_button.setObjectName("doubleBookButton")
        self.double_book_button.setAutoDefault(False)
        self.double_book_button.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setAutoDefault(False)
        self.save_button = QPushButton("&Save" if appointment else "&Book")
        self.save_button.setObjectName("primaryButton")
        self.save_button.setDefault(True)
        self.save_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.double_book_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check_frame)
        layout.addWidget(self.series_check)
        layout.addWidget(self.series_frame, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(640)
        self.resize(680, self.sizeHint().height())

        self.check_timer = QTimer(self)
        self.check_timer.setSingleShot(True)
        self.check_timer.setInterval(CHECK_DELAY_MS)
        self.save_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        self.save_shortcut_enter = QShortcut(QKeySequence("Ctrl+Enter"), self)
        self._set_tab_order()
        self._update_end_label()
        self._connect_signals()
        self._load_catalog()

    def _set_tab_order(self) -> None:
        chain = [
            self.patient_picker.edit,
            self.patient_picker.change_button,
            self.service_combo,
            self.provider_combo,
            self.room_combo,
            self.date_edit,
            self.time_edit,
            self.duration_spin,
            self.notes_edit,
            self.series_check,
            self.count_spin,
            self.every_spin,
            self.unit_combo,
            self.series_table,
            self.double_book_button,
            self.save_button,
            self.cancel_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _connect_signals(self) -> None:
        self.patient_picker.patient_chosen.connect(self.on_patient_chosen)
        self.patient_picker.edited.connect(self.on_form_changed)
        self.service_combo.activated.connect(self.on_service_activated)
        self.service_combo.currentIndexChanged.connect(self.on_form_changed)
        self.provider_combo.currentIndexChanged.connect(self.on_form_changed)
        self.room_combo.currentIndexChanged.connect(self.on_form_changed)
        self.date_edit.dateChanged.connect(self.on_form_changed)
        self.time_edit.timeChanged.connect(self.on_form_changed)
        self.duration_spin.valueChanged.connect(self.on_form_changed)
        self.notes_edit.textChanged.connect(self.on_notes_changed)
        self.series_check.toggled.connect(self.on_series_toggled)
        self.count_spin.valueChanged.connect(self.on_form_changed)
        self.every_spin.valueChanged.connect(self.on_form_changed)
        self.unit_combo.currentIndexChanged.connect(self.on_form_changed)
        self.series_table.itemChanged.connect(self.on_series_item_changed)
        self.check_timer.timeout.connect(self.on_check_timer_timeout)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.reject)
        self.double_book_button.clicked.connect(self.on_double_book_clicked)
        self.save_shortcut.activated.connect(self.on_save_clicked)
        self.save_shortcut_enter.activated.connect(self.on_save_clicked)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.patient_picker.patient_id() is None:
            self.patient_picker.edit.setFocus()
        else:
            self.service_combo.setFocus()

    # --- loading --------------------------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        return i18n.clinic_zone(self.ctx.details.timezone)

    def _load_catalog(self) -> None:
        from app.services.clinic.catalog import load_catalog

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: load_catalog(db, actor, include_inactive=True),
            on_success=self.on_catalog_loaded,
            on_failure=self.on_catalog_failed,
            owner=self,
        )

    def on_catalog_loaded(self, catalog: Catalog) -> None:
        self._catalog = catalog
        provider_id, room_id, service_id = self._initial
        combos = (self.service_combo, self.provider_combo, self.room_combo)
        for combo in combos:
            combo.blockSignals(True)
        self.service_combo.addItem("No service chosen", None)
        for service in catalog.services:
            if service.is_active or service.id == service_id:
                self.service_combo.addItem(self._service_text(service), service.id)
        for provider in catalog.providers:
            if provider.is_active or provider.id == provider_id:
                suffix = "" if provider.is_active else " (inactive)"
                self.provider_combo.addItem(provider.display_name + suffix, provider.id)
        self.room_combo.addItem("No room", None)
        for room in catalog.rooms:
            if room.is_active or room.id == room_id:
                suffix = "" if room.is_active else " (removed)"
                self.room_combo.addItem(room.name + suffix, room.id)
        self.service_combo.setCurrentIndex(max(0, self.service_combo.findData(service_id)))
        self.provider_combo.setCurrentIndex(max(0, self.provider_combo.findData(provider_id)))
        self.room_combo.setCurrentIndex(max(0, self.room_combo.findData(room_id)))
        for combo in combos:
            combo.blockSignals(False)
        self.ready = True
        if not self.provider_combo.count():
            self.fields["provider"].set_error(
                "No provider is set up yet: add one in Settings → Providers first."
            )
        self.save_button.setEnabled(self.provider_combo.count() > 0)
        if service_id is not None and not self._explicit_length:
            self._apply_service_length()
        self._update_fee()
        self.on_form_changed()

    def on_catalog_failed(self, exc: BaseException) -> None:
        self.show_message(ops.user_message(exc))

    def _service_text(self, service: ServiceData) -> str:
        suffix = "" if service.is_active else " (no longer offered)"
        return f"{service.name} · {service.default_duration_minutes} min{suffix}"

    # --- values ---------------------------------------------------------------------------------

    def service(self) -> ServiceData | None:
        sid = self.service_combo.currentData()
        return next((s for s in self._catalog.services if s.id == sid), None)

    def provider(self) -> ProviderData | None:
        pid = self.provider_combo.currentData()
        return next((p for p in self._catalog.providers if p.id == pid), None)

    def room(self) -> RoomData | None:
        rid = self.room_combo.currentData()
        return next((r for r in self._catalog.rooms if r.id == rid), None)

    def starts_at(self) -> datetime:
        """The date and time typed, read on the clinic's wall clock, as UTC."""
        d, t = self.date_edit.date(), self.time_edit.time()
        day = date(d.year(), d.month(), d.day())
        return scheduling.at_local(day, t.hour() * 60 + t.minute(), self._zone())

    def ends_at(self) -> datetime:
        return self.starts_at() + timedelta(minutes=self.duration_spin.value())

    def request(self) -> AppointmentRequest | None:
        """What the form asks for; None while no patient or provider is chosen."""
        patient_id = self.patient_picker.patient_id()
        provider_id = self.provider_combo.currentData()
        if patient_id is None or provider_id is None:
            return None
        starts_at = self.starts_at()
        return AppointmentRequest(
            patient_id=patient_id,
            provider_id=provider_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=self.duration_spin.value()),
            service_id=self.service_combo.currentData(),
            room_id=self.room_combo.currentData(),
            notes=self.notes_edit.toPlainText(),
        )

    def _books_without_service(self) -> bool:
        """A new visit (or series), otherwise ready to book, that has no service."""
        return (
            self.ready
            and not self.saving
            and self.appointment is None
            and self.request() is not None
            and self.service_combo.currentData() is None
        )

    def is_series(self) -> bool:
        return self.appointment is None and self.series_check.isChecked()

    def every_days(self) -> int:
        return self.every_spin.value() * int(self.unit_combo.currentData())

    def _key(self) -> tuple:
        """What the check depends on (notes do not change a clash)."""
        request = self.request()
        if request is None:
            return ()
        from dataclasses import replace

        series = (self.count_spin.value(), self.every_days()) if self.is_series() else ()
        return (replace(request, notes=""), series)

    # --- slots ----------------------------------------------------------------------------------

    @Slot(int, str)
    def on_patient_chosen(self, _patient_id: int, _name: str) -> None:
        self.on_form_changed()
        self.service_combo.setFocus()

    @Slot(int)
    def on_service_activated(self, _index: int) -> None:
        self._apply_service_length()
        self._update_fee()

    @Slot()
    def on_notes_changed(self) -> None:
        self.fields["notes"].set_error(None)

    @Slot()
    def on_form_changed(self, *_args) -> None:
        self._update_end_label()
        self._update_fee()
        self.double_book_button.setVisible(False)
        self.message_label.setVisible(False)
        if self.ready:
            self.check_timer.start()  # each change restarts the short wait

    @Slot(bool)
    def on_series_toggled(self, checked: bool) -> None:
        self.series_frame.setVisible(checked)
        self.check_frame.setVisible(not checked)
        self.save_button.setText("&Book series" if checked else "&Book")
        self._skipped.clear()
        if checked and self.width() < 900:
            self.resize(900, self.height())  # room for the preview's status column
        self._fit_later()
        self.on_form_changed()

    @Slot(QTableWidgetItem)
    def on_series_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        if item.checkState() == Qt.CheckState.Checked:
            self._skipped.add(item.row())
        else:
            self._skipped.discard(item.row())
        self._update_series_summary()

    @Slot()
    def on_check_timer_timeout(self) -> None:
        self._run_check()

    @Slot()
    def on_save_clicked(self) -> None:
        # Asked here, once per press of Book: not again when a series books after its
        # preview lands, nor for "Double-book anyway" (the same form, already answered).
        if self._books_without_service() and not NoServiceQuestion.ask(self):
            self.service_combo.setFocus()
            return
        self._save(double_book=False)

    @Slot()
    def on_double_book_clicked(self) -> None:
        self._save(double_book=True)

    # --- the live check -------------------------------------------------------------------------

    def check_pending(self) -> bool:
        return self.check_timer.isActive() or self._checked_key != self._key()

    def _run_check(self) -> None:
        self.check_timer.stop()
        self._check_generation += 1
        generation = self._check_generation
        key = self._key()
        request = self.request()
        if request is None:
            self._checked_key = key
            self._show_idle()
            return
        db, actor = self.ctx.db, self.ctx.actor
        if self.is_series():
            count, every, zone = (
                self.count_spin.value(),
                self.every_days(),
                self.ctx.details.timezone,
            )

            def preview() -> _SeriesPreview:
                requests = scheduling.series_requests(request, count, every, timezone=zone)
                return _SeriesPreview(key, requests, scheduling.preview_series(db, actor, requests))

            fn = preview
        else:
            ignore = self.appointment.id if self.appointment else None

            def fn() -> BookingCheck:
                return scheduling.check_booking(db, actor, request, ignore_appointment_id=ignore)

        ops.run_query(
            fn,
            on_success=lambda result: self._on_checked(generation, key, result),
            on_failure=lambda exc: self._on_check_failed(generation, key, exc),
            ordered=False,
            owner=self,
        )

    def _on_checked(self, generation: int, key: tuple, result) -> None:
        if generation != self._check_generation:
            return  # the form changed since; a newer check is on its way
        self._checked_key = key
        self.errors.clear()
        for field in self.series_fields.values():
            field.set_error(None)
        if isinstance(result, _SeriesPreview):
            self.series_preview = result
            self._fill_series(result)
        else:
            self.last_check = result
            self._show_check(result)
        self._after_check()

    def _on_check_failed(self, generation: int, key: tuple, exc: BaseException) -> None:
        if generation != self._check_generation:
            return
        self._checked_key = key
        self.last_check = None
        self.series_preview = None
        self.series_table.setRowCount(0)
        self._show_check(BookingCheck())
        self.free_label.setVisible(False)
        if not self._show_field_error(exc):
            self.show_message(ops.user_message(exc))
        self._save_when_checked = False

    def _after_check(self) -> None:
        if self._save_when_checked:
            self._save_when_checked = False
            self._save(double_book=False)

    def _show_idle(self) -> None:
        self.last_check = None
        self.series_preview = None
        self.series_table.setRowCount(0)
        self.clash_label.setVisible(False)
        self.warning_label.setVisible(False)
        self.free_label.setObjectName("fieldHint")
        self.free_label.setText(
            "Choose a patient to check this time against the book."
            if self.patient_picker.patient_id() is None
            else "Choose a provider to check this time against the book."
        )
        self._repolish(self.free_label)
        self.free_label.setVisible(True)
        self.series_summary.setText(self.free_label.text())

    def _show_check(self, check: BookingCheck) -> None:
        clashes = [c.message for c in check.clashes]
        self.clash_label.setText("\n".join(f"✕ {m}" for m in clashes))
        self.clash_label.setVisible(bool(clashes))
        self.warning_label.setText("\n".join(f"⚠ {w}" for w in check.warnings))
        self.warning_label.setVisible(bool(check.warnings))
        self.free_label.setObjectName("freeText")
        self._repolish(self.free_label)
        self.free_label.setText("✓ This time is free.")
        self.free_label.setVisible(not clashes)
        self._fit_later()

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    # --- the series preview ---------------------------------------------------------------------

    def _fill_series(self, preview: _SeriesPreview) -> None:
        zone, locale = self.ctx.details.timezone, self.ctx.details.locale
        provider = self.provider_combo.currentText()
        room = self.room_combo.currentText() if self.room_combo.currentData() else "—"
        table = self.series_table
        table.blockSignals(True)
        self._skipped = {i for i in self._skipped if i < len(preview.requests)}
        table.setRowCount(len(preview.requests))
        for row, (request, check) in enumerate(zip(preview.requests, preview.checks, strict=True)):
            local = request.starts_at.astimezone(self._zone())
            skip = QTableWidgetItem()
            skip.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            skip.setCheckState(
                Qt.CheckState.Checked if row in self._skipped else Qt.CheckState.Unchecked
            )
            skip.setToolTip("Skip this visit: it is not booked")
            if check.clashes:
                status = " ".join(c.message for c in check.clashes)
                colour = CLASH_COLOUR
            elif check.warnings:
                status = "Free — " + " ".join(check.warnings)
                colour = WARNING_COLOUR
            else:
                status, colour = "Free", FREE_COLOUR
            cells = [
                skip,
                QTableWidgetItem(i18n.format_weekday_date(local.date(), locale)),
                QTableWidgetItem(
                    i18n.format_time(request.starts_at, zone, locale)
                    + "–"
                    + i18n.format_time(request.ends_at, zone, locale)
                ),
                QTableWidgetItem(provider),
                QTableWidgetItem(room),
                QTableWidgetItem(status),
            ]
            cells[5].setForeground(QBrush(QColor(colour)))
            cells[5].setToolTip("\n".join([*(c.message for c in check.clashes), *check.warnings]))
            for column, item in enumerate(cells):
                if column:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                table.setItem(row, column, item)
        table.blockSignals(False)
        table.resizeRowsToContents()
        self._update_series_summary()
        self._fit_later()

    def series_rows_to_book(self) -> list[int]:
        if self.series_preview is None:
            return []
        return [i for i in range(len(self.series_preview.requests)) if i not in self._skipped]

    def _update_series_summary(self) -> None:
        preview = self.series_preview
        if preview is None:
            self.series_summary.setText("")
            return
        rows = self.series_rows_to_book()
        clashing = [i for i in rows if preview.checks[i].clashes]
        if clashing:
            # Nothing is booked while a visit clashes: say what to do about it first.
            numbers = ", ".join(str(i + 1) for i in clashing)
            one = len(clashing) == 1
            text = (
                f"Visit{'' if one else 's'} {numbers} clash{'es' if one else ''}: "
                f"skip {'it' if one else 'them'} or change the time, then book "
                f"{len(rows) - len(clashing)} of {len(preview.requests)} visits."
            )
        else:
            text = f"{len(rows)} of {len(preview.requests)} visits will be booked."
        self.series_summary.setText(text)

    # --- saving ---------------------------------------------------------------------------------

    def _save(self, *, double_book: bool) -> None:
        if self.saving or not self.ready:
            return
        self.errors.clear()
        self.message_label.setVisible(False)
        request = self.request()
        if self.patient_picker.patient_id() is None:
            self.fields["patient"].set_error(
                "Choose a patient: type a name and pick them from the list, or add a new one."
            )
            self.patient_picker.edit.setFocus()
            return
        if request is None:
            self.fields["provider"].set_error("Choose a provider.")
            return
        if self.is_series() and self.check_pending():
            # The preview on show is not for this form yet: book once it is.
            self._save_when_checked = True
            self._run_check()
            return
        db, actor = self.ctx.db, self.ctx.actor
        if self.is_series():
            preview = self.series_preview
            if preview is None:
                return
            requests = [preview.requests[i] for i in self.series_rows_to_book()]
            if not requests:
                self.show_message("Every visit is skipped: there is nothing to book.")
                return
            description = self.service_combo.currentText() if self.service() else ""

            def fn() -> list[BookingResult]:
                return scheduling.book_series(
                    db, actor, requests, description=description, double_book=double_book
                )
        elif self.appointment is not None:
            appt_id, version = self.appointment.id, self.appointment.version

            def fn() -> list[BookingResult]:
                return [
                    scheduling.update_appointment(
                        db, actor, appt_id, version, request, double_book=double_book
                    )
                ]
        else:

            def fn() -> list[BookingResult]:
                return [scheduling.book_appointment(db, actor, request, double_book=double_book)]

        self.save_with(fn)

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving and self.ready)
        self.double_book_button.setEnabled(not self.saving)

    def on_saved(self, results: list[BookingResult]) -> None:
        self.booked_ids = [r.appointment_id for r in results]
        warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
        if warnings:
            noun = "Saved" if self.appointment else "Booked"
            show_warning(
                self.parentWidget(),
                f"{noun}. Please note:\n\n" + "\n".join(f"• {w}" for w in warnings),
                title="Before the visit",
            )
        super().on_saved(results)

    def on_save_failed(self, exc: BaseException) -> None:
        if isinstance(exc, ConflictError):
            self._show_conflict(exc)
            return
        if not self._show_field_error(exc):
            self.show_message(ops.user_message(exc))

    def _show_conflict(self, exc: ConflictError) -> None:
        if not self.is_series():
            self._show_check(
                BookingCheck(exc.clashes, self.last_check.warnings if self.last_check else ())
            )
        allowed = exc.can_double_book and self.ctx.allows(Permission.DOUBLE_BOOK)
        # A single visit's clashes are listed just above; a series names the first one here.
        what = f"Some visits clash: {exc}" if self.is_series() else "This time is taken."
        if allowed:
            self.show_message(
                f"{what} Choose another time, provider or room — or, if the patient really "
                "must be seen then, double-book on purpose (it is recorded)."
            )
        else:
            self.show_message(
                f"{what} Choose another time, provider or room. Only an owner or a "
                "coordinator can double-book."
            )
        self.double_book_button.setVisible(allowed)

    def _show_field_error(self, exc: BaseException) -> bool:
        if not isinstance(exc, ValidationError):
            return False
        name = getattr(exc, "field", None)
        if name in self.series_fields and self.is_series():
            self.series_fields[name].set_error(str(exc))
            self.show_message(str(exc))
            return True
        return self.errors.show(exc)

    def show_message(self, text: str) -> None:
        super().show_message(text)
        self._fit_later()

    def _fit_later(self) -> None:
        QTimer.singleShot(0, self, self._fit)

    def _fit(self) -> None:
        """Grow to show a clash, a warning or the series preview in full (never shrink).

        Word-wrapped lines need more height than the layout's minimum says, so the
        window is sized from the height its layout wants at the current width.
        """
        layout = self.layout()
        layout.activate()
        width = self.width()
        wanted = (
            layout.totalHeightForWidth(width)
            if layout.hasHeightForWidth()
            else layout.totalSizeHint().height()
        )
        if wanted > self.height():
            self.resize(width, wanted)

    # --- asking ---------------------------------------------------------------------------------

    def _update_end_label(self) -> None:
        end = self.ends_at()
        self.end_label.setText(
            "ends " + i18n.format_time(end, self.ctx.details.timezone, self.ctx.details.locale)
        )

    def _apply_service_length(self) -> None:
        service = self.service()
        if service is not None:
            self.duration_spin.setValue(max(5, service.default_duration_minutes))

    def _update_fee(self) -> None:
        service = self.service()
        if service is None:
            self.fee_label.setText("")
            return
        fee = i18n.format_money(Decimal(service.fee), self.ctx.details.currency,
                                self.ctx.details.locale)  # fmt: skip
        self.fee_label.setText(f"Fee {fee}")

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, **kw) -> list[int] | None:
        """Show the dialog; the ids of the appointments booked or changed, or None."""
        dialog = cls(ctx, parent, **kw)
        return list(dialog.booked_ids) if dialog.run() else None
