"""Settings → Providers, Rooms, Services: the clinic's bookable resources.

All three tabs share one shape (a table, New / Edit / Deactivate, "show
inactive"), so they share :class:`CatalogTab`; each adds its own columns and
its own dialog.  Nothing is deleted: appointments keep referring to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTime,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.services.changes import Changes
from app.services.clinic.catalog import (
    WEEKDAYS,
    Catalog,
    Interval,
    ProviderData,
    RoomData,
    ServiceData,
    format_minute,
)
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, growing_form
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

Index = QModelIndex | QPersistentModelIndex


class ColourButton(QPushButton):
    """Shows a colour; clicking opens the colour picker."""

    colour_changed = Signal(str)

    def __init__(
        self, colour: str = "#4a90d9", parent: QWidget | None = None, locale: str = "en_US"
    ) -> None:
        super().__init__(parent)
        self._colour = colour
        self._title = spelling(locale)("Choose a color")
        self.clicked.connect(self.on_clicked)
        self._paint()

    def colour(self) -> str:
        return self._colour

    def set_colour(self, colour: str) -> None:
        self._colour = colour
        self._paint()
        self.colour_changed.emit(colour)

    def _paint(self) -> None:
        self.setText(self._colour)
        text = "#ffffff" if QColor(self._colour).lightness() < 140 else "#1c2529"
        self.setStyleSheet(f"background: {self._colour}; color: {text};")

    @Slot()
    def on_clicked(self) -> None:
        chosen = QColorDialog.getColor(QColor(self._colour), self, self._title)
        if chosen.isValid():
            self.set_colour(chosen.name())


def _dialog_buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    buttons, _accept = dialog_buttons(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class _CatalogDialog(QDialog):
    """Shared ``ask``: show the dialog (with the error of a refused save), return its data."""

    def set_values(self, values) -> None:
        raise NotImplementedError

    def values(self):
        raise NotImplementedError

    @classmethod
    def ask(cls, parent: QWidget | None, initial, error: ValidationError | None = None, **kw):
        dialog = cls(parent, editing=initial.id is not None, **kw)
        dialog.set_values(initial)
        if error is not None and not dialog.errors.show(error):
            dialog.errors.show(ValidationError(str(error), "name"))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()


class RoomDialog(_CatalogDialog):
    def __init__(self, parent: QWidget | None, editing: bool, locale: str = "en_US") -> None:
        super().__init__(parent)
        spell = spelling(locale)
        self.setWindowTitle("Edit room" if editing else "New room")
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(80)
        self.name_edit.setPlaceholderText("e.g. Operatory 2, Laser room")
        self.colour_button = ColourButton(locale=locale)
        self.fields = {"name": FormField(self.name_edit), "colour": FormField(self.colour_button)}
        self.errors = FieldErrors(self.fields)
        form = QFormLayout()
        form.addRow("&Name", self.fields["name"])
        form.addRow(spell("&Color"), self.fields["colour"])
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_dialog_buttons(self, "Save" if editing else "Add room"))
        self.setMinimumWidth(380)
        self._data = RoomData("")

    def set_values(self, values: RoomData) -> None:
        self._data = values
        self.name_edit.setText(values.name)
        self.colour_button.set_colour(values.colour)

    def values(self) -> RoomData:
        return replace(self._data, name=self.name_edit.text(), colour=self.colour_button.colour())


class ServiceDialog(_CatalogDialog):
    def __init__(self, parent: QWidget | None, editing: bool, locale: str = "en_US") -> None:
        super().__init__(parent)
        self.locale = locale
        self.setWindowTitle("Edit service" if editing else "New service")
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(120)
        self.code_edit = QLineEdit()
        self.code_edit.setMaxLength(20)
        self.code_edit.setPlaceholderText("optional, e.g. D1110")
        self.category_edit = QLineEdit()
        self.category_edit.setMaxLength(60)
        self.category_edit.setPlaceholderText("e.g. Hygiene, Injectables")
        self.duration_spin = QSpinBox()
        self.duration_spin.setRange(5, 480)
        self.duration_spin.setSingleStep(5)
        self.duration_spin.setSuffix(" min")
        self.fee_edit = QLineEdit()
        self.fee_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.recall_spin = QSpinBox()
        self.recall_spin.setRange(0, 3650)
        self.recall_spin.setSpecialValueText("No recall")
        self.recall_spin.setSuffix(" days")
        # −1 shows "No follow-up call"; 0 is a call the same day.
        self.call_spin = QSpinBox()
        self.call_spin.setObjectName("followUpCallDays")
        self.call_spin.setRange(-1, 365)
        self.call_spin.setSpecialValueText("No follow-up call")
        self.call_spin.setSuffix(" days after")
        self.call_spin.setMinimumWidth(190)
        spell = spelling(locale)
        self.colour_button = ColourButton(locale=locale)
        self.preauth_check = QCheckBox(spell("Needs insurance pre-authorization"))
        self.description_edit = QPlainTextEdit()
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setFixedHeight(70)
        # Spanish documents (consents, handouts) print these; left empty they name the
        # service as a proper name in a Spanish sentence, never half in English.
        self.name_es_edit = QLineEdit()
        self.name_es_edit.setObjectName("nameEsEdit")
        self.name_es_edit.setMaxLength(120)
        self.name_es_edit.setPlaceholderText("optional, e.g. Corona de porcelana")
        self.description_es_edit = QPlainTextEdit()
        self.description_es_edit.setObjectName("descriptionEsEdit")
        self.description_es_edit.setTabChangesFocus(True)
        self.description_es_edit.setFixedHeight(50)
        self.fields = {
            "name": FormField(self.name_edit),
            "name_es": FormField(
                self.name_es_edit, "What Spanish consents and handouts print as its name."
            ),
            "code": FormField(self.code_edit),
            "category": FormField(self.category_edit),
            "default_duration_minutes": FormField(self.duration_spin),
            "fee": FormField(self.fee_edit),
            "recall": FormField(self.recall_spin, "When the patient is due back after a visit."),
            "follow_up_call_days": FormField(
                self.call_spin,
                "0 days: a call the same day.",
            ),
            "colour": FormField(self.colour_button),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Name", self.fields["name"])
        form.addRow("Co&de", self.fields["code"])
        form.addRow("Ca&tegory", self.fields["category"])
        form.addRow("&Duration", self.fields["default_duration_minutes"])
        form.addRow("&Fee", self.fields["fee"])
        form.addRow("&Recall", self.fields["recall"])
        form.addRow("Follow-up &call", self.fields["follow_up_call_days"])
        form.addRow(spell("Co&lor"), self.fields["colour"])
        form.addRow("", self.preauth_check)
        form.addRow("Descri&ption", self.description_edit)
        form.addRow("Name in &Spanish", self.fields["name_es"])
        form.addRow("Description in Spanis&h", self.description_es_edit)
        self.buttons = _dialog_buttons(self, "Save" if editing else "Add service")
        self.buttons.accepted.disconnect(self.accept)
        self.buttons.accepted.connect(self.on_accept_clicked)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._data = ServiceData("")
        self._fee = Decimal("0.00")

    def set_values(self, values: ServiceData) -> None:
        from app.i18n import format_number

        self._data = values
        self.name_edit.setText(values.name)
        self.code_edit.setText(values.code)
        self.category_edit.setText(values.category)
        self.duration_spin.setValue(values.default_duration_minutes)
        self.fee_edit.setText(format_number(values.fee, self.locale, places=2))
        self.recall_spin.setValue(values.recall_interval_days or 0)
        call = values.follow_up_call_days
        self.call_spin.setValue(-1 if call is None else call)
        self.colour_button.set_colour(values.colour)
        self.preauth_check.setChecked(values.requires_preauth)
        self.description_edit.setPlainText(values.description)
        self.name_es_edit.setText(values.name_es)
        self.description_es_edit.setPlainText(values.description_es)

    @Slot()
    def on_accept_clicked(self) -> None:
        from app.i18n import parse_money

        try:
            self._fee = parse_money(self.fee_edit.text() or "0", self.locale)
        except ValueError as exc:
            self.errors.show(ValidationError(str(exc), "fee"))
            return
        self.accept()

    def values(self) -> ServiceData:
        return replace(
            self._data,
            name=self.name_edit.text(),
            code=self.code_edit.text(),
            category=self.category_edit.text(),
            default_duration_minutes=self.duration_spin.value(),
            fee=self._fee,
            recall_interval_days=self.recall_spin.value() or None,
            follow_up_call_days=None if self.call_spin.value() < 0 else self.call_spin.value(),
            colour=self.colour_button.colour(),
            requires_preauth=self.preauth_check.isChecked(),
            description=self.description_edit.toPlainText(),
            name_es=self.name_es_edit.text(),
            description_es=self.description_es_edit.toPlainText(),
        )


def _time_edit(minute: int) -> QTimeEdit:
    edit = QTimeEdit(QTime(minute // 60, minute % 60))
    edit.setDisplayFormat("HH:mm")
    return edit


def _minute_of(edit: QTimeEdit) -> int:
    time = edit.time()
    return time.hour() * 60 + time.minute()


class WeekRow:
    """One weekday in the provider dialog: works?  from–to, with an optional break."""

    def __init__(self, weekday: int) -> None:
        self.weekday = weekday
        self.works = QCheckBox(WEEKDAYS[weekday])
        self.start = _time_edit(9 * 60)
        self.end = _time_edit(17 * 60)
        self.has_break = QCheckBox("Break")
        self.break_start = _time_edit(12 * 60)
        self.break_end = _time_edit(13 * 60)
        self.works.toggled.connect(self._update)
        self.has_break.toggled.connect(self._update)
        self._update()

    def widgets(self) -> list[QWidget]:
        return [self.works, self.start, self.end, self.has_break, self.break_start, self.break_end]

    def _update(self) -> None:
        works = self.works.isChecked()
        for widget in (self.start, self.end, self.has_break):
            widget.setEnabled(works)
        for widget in (self.break_start, self.break_end):
            widget.setEnabled(works and self.has_break.isChecked())

    def set_day(self, hours: list[Interval], breaks: list[Interval]) -> None:
        """Show the day's hours; a split shift shows as one span with its gap as the break."""
        self.works.setChecked(bool(hours))
        if not hours:
            return
        self.start.setTime(QTime(hours[0].start_minute // 60, hours[0].start_minute % 60))
        self.end.setTime(QTime(hours[-1].end_minute // 60, hours[-1].end_minute % 60))
        gap = (
            Interval(self.weekday, hours[0].end_minute, hours[1].start_minute)
            if len(hours) > 1
            else (breaks[0] if breaks else None)
        )
        self.has_break.setChecked(gap is not None)
        if gap is not None:
            self.break_start.setTime(QTime(gap.start_minute // 60, gap.start_minute % 60))
            self.break_end.setTime(QTime(gap.end_minute // 60, gap.end_minute % 60))

    def hours(self) -> tuple[Interval, ...]:
        if not self.works.isChecked():
            return ()
        return (Interval(self.weekday, _minute_of(self.start), _minute_of(self.end)),)

    def breaks(self) -> tuple[Interval, ...]:
        if not (self.works.isChecked() and self.has_break.isChecked()):
            return ()
        start, end = _minute_of(self.break_start), _minute_of(self.break_end)
        return (Interval(self.weekday, start, end, "Break"),)


class ProviderDialog(_CatalogDialog):
    def __init__(
        self,
        parent: QWidget | None,
        editing: bool,
        staff_choices: list[tuple[int, str]] | None = None,
        locale: str = "en_US",
    ) -> None:
        super().__init__(parent)
        spell = spelling(locale)
        self.setWindowTitle("Edit provider" if editing else "New provider")
        self.title_edit = QLineEdit()
        self.title_edit.setMaxLength(40)
        self.title_edit.setPlaceholderText("Dr.")
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(120)
        self.credentials_edit = QLineEdit()
        self.credentials_edit.setMaxLength(80)
        self.credentials_edit.setPlaceholderText("e.g. DDS, RN")
        self.licence_edit = QLineEdit()
        self.licence_edit.setMaxLength(40)
        self.colour_button = ColourButton(locale=locale)
        self.staff_combo = QComboBox()
        self.staff_combo.addItem("— no sign-in —", None)
        for staff_id, name in staff_choices or []:
            self.staff_combo.addItem(name, staff_id)
        self.week = [WeekRow(day) for day in range(7)]
        self.fields = {
            "name": FormField(self.name_edit),
            "colour": FormField(self.colour_button),
            "staff_id": FormField(
                self.staff_combo, "Their CareDesk account, to sign notes and see their day."
            ),
        }
        week_box = QWidget()
        grid = QGridLayout(week_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        for column, heading in enumerate(("", "From", "To", "", "Break from", "to")):
            label = QLabel(heading)
            label.setObjectName("fieldHint")
            grid.addWidget(label, 0, column)
        for row, day in enumerate(self.week, start=1):
            for column, widget in enumerate(day.widgets()):
                grid.addWidget(widget, row, column)
        self.hours_error = QLabel()
        self.hours_error.setObjectName("fieldError")
        self.hours_error.setWordWrap(True)
        hours_field = FormField(week_box)
        self.fields["hours"] = hours_field
        self.fields["breaks"] = hours_field
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Title", self.title_edit)
        form.addRow("&Name", self.fields["name"])
        form.addRow("C&redentials", self.credentials_edit)
        form.addRow(spell("&License no."), self.licence_edit)
        form.addRow(spell("Co&lor"), self.fields["colour"])
        form.addRow("&Sign-in", self.fields["staff_id"])
        form.addRow("Working &hours", hours_field)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_dialog_buttons(self, "Save" if editing else "Add provider"))
        self.setMinimumWidth(620)
        self._data = ProviderData("")

    def set_values(self, values: ProviderData) -> None:
        self._data = values
        self.title_edit.setText(values.title)
        self.name_edit.setText(values.name)
        self.credentials_edit.setText(values.credentials)
        self.licence_edit.setText(values.licence_number)
        self.colour_button.set_colour(values.colour)
        index = self.staff_combo.findData(values.staff_id)
        self.staff_combo.setCurrentIndex(max(index, 0))
        for day in self.week:
            day.set_day(
                [h for h in values.hours if h.weekday == day.weekday],
                [b for b in values.breaks if b.weekday == day.weekday],
            )

    def values(self) -> ProviderData:
        return replace(
            self._data,
            title=self.title_edit.text(),
            name=self.name_edit.text(),
            credentials=self.credentials_edit.text(),
            licence_number=self.licence_edit.text(),
            colour=self.colour_button.colour(),
            staff_id=self.staff_combo.currentData(),
            hours=tuple(h for day in self.week for h in day.hours()),
            breaks=tuple(b for day in self.week for b in day.breaks()),
        )


class CatalogTab(QWidget):
    """A table of one kind of resource with New / Edit / Deactivate and "show inactive"."""

    noun = "item"
    #: The kind of change that makes its list stale (the flag it reloads on).
    changes = Changes()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = RowTableModel(self.columns(), self)
        self.table = list_table(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, self.model.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.new_button = QPushButton(f"&New {self.noun}…")
        self.new_button.setShortcut(QKeySequence.StandardKey.New)
        self.new_button.setToolTip(f"New {self.noun} (Ctrl+N)")
        self.edit_button = QPushButton("&Edit…")
        self.active_button = QPushButton("&Deactivate")
        self.show_inactive = QCheckBox("Show &inactive")
        self.message_label = QLabel()
        self.message_label.setObjectName("fieldHint")
        self.message_label.setWordWrap(True)
        self.empty_label = QLabel(self.empty_text())
        self.empty_label.setObjectName("fieldHint")
        self.empty_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.active_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.show_inactive)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addLayout(buttons)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message_label)
        self._all_rows: list[Any] = []
        self._connect_signals()
        self._update_buttons()
        self.reload()

    # --- what each tab supplies ---------------------------------------------------------------

    def columns(self) -> list[Column]:
        raise NotImplementedError

    def empty_text(self) -> str:
        raise NotImplementedError

    def rows_of(self, catalog: Catalog) -> list[Any]:
        raise NotImplementedError

    def ask(self, initial, error: ValidationError | None):
        raise NotImplementedError

    def blank(self):
        raise NotImplementedError

    def save(self, values):
        """The service call that saves ``values`` (runs on the writer thread)."""
        raise NotImplementedError

    # --- shared behaviour ---------------------------------------------------------------------

    def _connect_signals(self) -> None:
        self.new_button.clicked.connect(self.on_new_clicked)
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.active_button.clicked.connect(self.on_active_clicked)
        self.show_inactive.toggled.connect(self.on_show_inactive_toggled)
        self.table.doubleClicked.connect(lambda _index: self.on_edit_clicked())
        self.table.activated.connect(lambda _index: self.on_edit_clicked())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    def reload(self) -> None:
        from app.services.clinic.catalog import load_catalog

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: self.rows_of(load_catalog(db, actor)),
            on_success=self.on_rows_loaded,
            on_failure=lambda exc: self.message_label.setText(ops.user_message(exc)),
            owner=self,
        )

    @Slot(object)
    def on_rows_loaded(self, rows: list[Any]) -> None:
        self._all_rows = rows
        self._show_rows()

    def _show_rows(self) -> None:
        selected = self.selected()
        shown = [r for r in self._all_rows if r.is_active or self.show_inactive.isChecked()]
        self.model.set_rows(shown)
        self.empty_label.setVisible(not self._all_rows)
        self.table.setVisible(bool(self._all_rows))
        if selected is not None:
            self.select_id(selected.id)

    @Slot(bool)
    def on_show_inactive_toggled(self, _checked: bool) -> None:
        self._show_rows()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        mine = ("providers", "rooms", "services")
        if any(getattr(changes, kind) and getattr(self.changes, kind) for kind in mine):
            self.reload()

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_id(self, row_id: int | None) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == row_id:
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        row = self.selected()
        self.edit_button.setEnabled(row is not None)
        self.active_button.setEnabled(row is not None)
        self.active_button.setText("Re&activate" if row and not row.is_active else "&Deactivate")

    def _save(self, values, done: str, retry: Callable[[ValidationError], None]) -> None:
        def succeeded(saved) -> None:
            self.message_label.setText(done)
            self.select_id(saved.id)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationError):
                retry(exc)
            else:
                show_warning(self, ops.user_message(exc))

        ops.run_write(
            lambda: self.save(values), on_success=succeeded, on_failure=failed, owner=self
        )

    @Slot()
    def on_new_clicked(self, initial=None, error: ValidationError | None = None) -> None:
        values = self.ask(initial or self.blank(), error)
        if values is not None:
            self._save(
                values,
                f"Added {' '.join(values.name.split())}.",
                retry=lambda exc: self.on_new_clicked(values, exc),
            )

    @Slot()
    def on_edit_clicked(self, initial=None, error: ValidationError | None = None) -> None:
        row = initial or self.selected()
        if row is None:
            return
        values = self.ask(row, error)
        if values is not None:
            self._save(
                values, "Changes saved.", retry=lambda exc: self.on_edit_clicked(values, exc)
            )

    @Slot()
    def on_active_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        active = not row.is_active
        message = (
            f"{row.name} is back in use."
            if active
            else f"{row.name} is no longer offered for new bookings; its history stays."
        )
        self._save(
            replace(row, is_active=active), message, retry=lambda exc: show_warning(self, str(exc))
        )


def _money(ctx: UiContext) -> Callable[[Decimal], str]:
    def fmt(amount: Decimal) -> str:
        from app.i18n import format_money

        return format_money(amount, ctx.details.currency, ctx.details.locale)

    return fmt


def _hours_summary(provider: ProviderData) -> str:
    if not provider.hours:
        return "No working hours"
    days = sorted({h.weekday for h in provider.hours})
    first = min(provider.hours, key=lambda h: h.start_minute).start_minute
    last = max(provider.hours, key=lambda h: h.end_minute).end_minute
    names = ", ".join(WEEKDAYS[d][:3] for d in days)
    return f"{names}  {format_minute(first)}–{format_minute(last)}"


class ProvidersTab(CatalogTab):
    noun = "provider"
    changes = Changes(providers=True)

    def columns(self) -> list[Column]:
        return [
            Column("Provider", lambda p: p.display_name, swatch=lambda p: p.colour),
            Column("Works", _hours_summary),
            Column("Status", lambda p: "Active" if p.is_active else "Inactive"),
        ]

    def empty_text(self) -> str:
        return (
            "No providers yet. Add the dentists, hygienists or practitioners patients are "
            "booked with, and their weekly hours."
        )

    def rows_of(self, catalog: Catalog) -> list[ProviderData]:
        return catalog.providers

    def blank(self) -> ProviderData:
        weekdays = tuple(Interval(d, 9 * 60, 17 * 60) for d in range(5))
        return ProviderData("", hours=weekdays)

    def _staff_choices(self) -> list[tuple[int, str]]:
        # A handful of rows from a small table: read when the dialog opens.
        from app.services.clinic.staff import list_staff

        if not self.ctx.allows(self._manage_staff()):
            return []
        return [(s.id, s.full_name) for s in list_staff(self.ctx.db, self.ctx.actor) if s.is_active]

    @staticmethod
    def _manage_staff():
        from app.services.clinic.permissions import Permission

        return Permission.MANAGE_STAFF

    def ask(self, initial, error):
        return ProviderDialog.ask(
            self,
            initial,
            error,
            staff_choices=self._staff_choices(),
            locale=self.ctx.details.locale,
        )

    def save(self, values: ProviderData) -> ProviderData:
        from app.services.clinic.catalog import save_provider

        return save_provider(self.ctx.db, self.ctx.actor, values)


class RoomsTab(CatalogTab):
    noun = "room"
    changes = Changes(rooms=True)

    def columns(self) -> list[Column]:
        return [
            Column("Room", lambda r: r.name, swatch=lambda r: r.colour),
            Column("Status", lambda r: "Active" if r.is_active else "Inactive"),
        ]

    def empty_text(self) -> str:
        return "No rooms yet. Add the operatories, chairs or treatment rooms you book."

    def rows_of(self, catalog: Catalog) -> list[RoomData]:
        return catalog.rooms

    def blank(self) -> RoomData:
        return RoomData("")

    def ask(self, initial, error):
        return RoomDialog.ask(self, initial, error, locale=self.ctx.details.locale)

    def save(self, values: RoomData) -> RoomData:
        from app.services.clinic.catalog import save_room

        return save_room(self.ctx.db, self.ctx.actor, values)


class ServicesTab(CatalogTab):
    noun = "service"
    changes = Changes(services=True)

    def columns(self) -> list[Column]:
        money = _money(self.ctx)
        return [
            Column("Service", lambda s: s.name, swatch=lambda s: s.colour),
            Column("Code", lambda s: s.code or "—"),
            Column("Category", lambda s: s.category or "—"),
            Column("Duration", lambda s: f"{s.default_duration_minutes} min", align_right=True),
            Column("Fee", lambda s: money(s.fee), align_right=True),
            Column(
                "Recall",
                lambda s: f"{s.recall_interval_days} days" if s.recall_interval_days else "—",
                align_right=True,
            ),
            Column(
                "Follow-up call",
                lambda s: "—" if s.follow_up_call_days is None else f"{s.follow_up_call_days} days",
                align_right=True,
            ),
            Column("Status", lambda s: "Active" if s.is_active else "Inactive"),
        ]

    def empty_text(self) -> str:
        return "No services yet. Add what patients book and pay for, with its usual length and fee."

    def rows_of(self, catalog: Catalog) -> list[ServiceData]:
        return catalog.services

    def blank(self) -> ServiceData:
        return ServiceData("")

    def ask(self, initial, error):
        return ServiceDialog.ask(self, initial, error, locale=self.ctx.details.locale)

    def save(self, values: ServiceData) -> ServiceData:
        from app.services.clinic.catalog import save_service

        return save_service(self.ctx.db, self.ctx.actor, values)
