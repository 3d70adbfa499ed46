"""Export a provider's schedule: the day sheet as a PDF, or a date range as an .ics file.

The file is written by a background write (the service audits the print or
export), through a temporary file beside the chosen name, so a failure leaves
nothing half-written.  Patient names go into an .ics file only when the user
ticks the box, and the dialog says what that means.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QLocale, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.i18n import qt_date_format
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.scheduling.calendar_export import ProviderChoice
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form
from app.ui.widgets.save_file import ask_save_path, write_file
from app.ui.widgets.write_dialog import WriteDialog

#: (parent, suggested path, file-type filter) → the chosen path, or None when cancelled.
PathChooser = Callable[[QWidget, Path, str], "Path | None"]

DAY_SHEET = "day_sheet"
ICS = "ics"
_FILTERS = {DAY_SHEET: "PDF documents (*.pdf)", ICS: "Calendar files (*.ics)"}
_SUFFIXES = {DAY_SHEET: ".pdf", ICS: ".ics"}
NAMES_WARNING = (
    "Patient names will be in the file, and the file leaves CareDesk's encrypted "
    "database: keep it somewhere safe."
)


def _safe_file_part(value: str) -> str:
    return "".join(c if c.isalnum() or c in " -_.," else "_" for c in value).strip() or "Provider"


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class ExportScheduleDialog(WriteDialog):
    """Pick a provider and a day (PDF) or a range (.ics), then Save… to a file."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        provider_id: int | None = None,
        day: date | None = None,
        choose_path: PathChooser | None = None,
    ) -> None:
        super().__init__(ctx, parent)
        self.choose_path: PathChooser = choose_path or ask_save_path
        self.saved_path: Path | None = None
        self._wanted_provider = provider_id
        self.setWindowTitle("Export schedule — CareDesk")
        self.setObjectName("exportScheduleDialog")
        today = day or ctx.today()
        locale = QLocale(ctx.details.locale)
        date_format = qt_date_format(ctx.details.locale)

        self.provider_combo = QComboBox(self)
        self.provider_combo.setObjectName("providerCombo")
        self.provider_combo.setEnabled(False)
        self.provider_combo.setMinimumContentsLength(24)
        self.empty_label = QLabel(
            "There are no active providers yet. Add one in Settings › Providers, "
            "then export their schedule here.",
            self,
        )
        self.empty_label.setObjectName("emptyProvidersLabel")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()

        self.day_sheet_radio = QRadioButton("&Day sheet (PDF)", self)
        self.day_sheet_radio.setObjectName("daySheetRadio")
        self.ics_radio = QRadioButton("&Calendar file (.ics)", self)
        self.ics_radio.setObjectName("icsRadio")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.day_sheet_radio)
        self.mode_group.addButton(self.ics_radio)
        self.day_sheet_radio.setChecked(True)
        modes = QHBoxLayout()
        modes.addWidget(self.day_sheet_radio)
        modes.addWidget(self.ics_radio)
        modes.addStretch(1)

        def date_edit(name: str, value: date) -> QDateEdit:
            edit = QDateEdit(_qdate(value), self)
            edit.setObjectName(name)
            edit.setCalendarPopup(True)
            edit.setLocale(locale)
            edit.setDisplayFormat(date_format)
            return edit

        self.day_edit = date_edit("dayEdit", today)
        self.from_edit = date_edit("fromEdit", today)
        self.to_edit = date_edit("toEdit", today + timedelta(days=30))
        self.names_check = QCheckBox("Include patient &names", self)
        self.names_check.setObjectName("namesCheck")
        self.names_warning = QLabel(NAMES_WARNING, self)
        self.names_warning.setObjectName("namesWarning")
        self.names_warning.setWordWrap(True)
        self.names_warning.setStyleSheet("color: #B42318;")

        self.fields: dict[str, FormField] = {
            "provider": FormField(self.provider_combo),
            "day": FormField(self.day_edit, "Appointments, hours and totals of this day."),
            "first_day": FormField(self.from_edit),
            "last_day": FormField(self.to_edit, "At most 366 days."),
        }
        self.errors = FieldErrors(self.fields)

        self.message_label = QLabel(self)
        self.message_label.setObjectName("messageLabel")
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        self.saved_label = QLabel(self)
        self.saved_label.setObjectName("savedLabel")
        self.saved_label.setWordWrap(True)
        self.saved_label.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = self.buttons.addButton("&Save…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.save_button.setEnabled(False)  # until the providers are loaded
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

        # One form for both modes (the labels line up); each mode shows its own rows.
        self.form = growing_form()
        self.form.addRow("&Provider", self.fields["provider"])
        self.form.addRow("", self.empty_label)
        self.form.addRow("Export", modes)
        self.form.addRow("D&ate", self.fields["day"])
        self.form.addRow("&From", self.fields["first_day"])
        self.form.addRow("&To", self.fields["last_day"])
        self.form.addRow("", self.names_check)
        self.form.addRow("", self.names_warning)
        self._day_rows: tuple[QWidget, ...] = (self.fields["day"],)
        self._ics_rows: tuple[QWidget, ...] = (
            self.fields["first_day"],
            self.fields["last_day"],
            self.names_check,
        )
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.saved_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self._connect_signals()
        self.on_mode_toggled(True)
        self._load_providers()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.day_sheet_radio.toggled.connect(self.on_mode_toggled)
        self.names_check.toggled.connect(self.on_names_toggled)

    def _load_providers(self) -> None:
        from app.services.scheduling.calendar_export import export_providers

        if not self.ctx.allows(Permission.VIEW_SCHEDULE):
            self.show_message("Your role does not allow you to see the appointment book.")
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: export_providers(db, actor),
            on_success=self.on_providers_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    # --- values -------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return DAY_SHEET if self.day_sheet_radio.isChecked() else ICS

    def provider(self) -> ProviderChoice | None:
        return self.provider_combo.currentData()

    def suggested_path(self) -> Path:
        provider = self.provider()
        name = _safe_file_part(provider.name if provider else "Provider")
        if self.mode == DAY_SHEET:
            stem = f"Day sheet - {name} - {_pydate(self.day_edit.date()).isoformat()}"
        else:
            first = _pydate(self.from_edit.date()).isoformat()
            last = _pydate(self.to_edit.date()).isoformat()
            stem = f"{name} - {first} to {last}"
        return Path.home() / f"{stem}{_SUFFIXES[self.mode]}"

    # --- slots --------------------------------------------------------------------------------

    def on_providers_loaded(self, providers: list[ProviderChoice]) -> None:
        self.provider_combo.clear()
        for choice in providers:
            self.provider_combo.addItem(choice.name, choice)
        if not providers:
            self.empty_label.show()
            return
        index = next((i for i, p in enumerate(providers) if p.id == self._wanted_provider), 0)
        self.provider_combo.setCurrentIndex(index)
        self.provider_combo.setEnabled(True)
        self.save_button.setEnabled(True)
        self.provider_combo.setFocus()

    @Slot(bool)
    def on_mode_toggled(self, day_sheet: bool) -> None:
        for widget in self._day_rows:
            self.form.setRowVisible(widget, day_sheet)
        for widget in self._ics_rows:
            self.form.setRowVisible(widget, not day_sheet)
        self.form.setRowVisible(self.names_warning, not day_sheet and self.names_check.isChecked())
        self.errors.clear()
        self._fit_height()

    @Slot(bool)
    def on_names_toggled(self, checked: bool) -> None:
        self.form.setRowVisible(self.names_warning, checked)
        self._fit_height()

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.scheduling.calendar_export import check_range, day_sheet_pdf, export_ics

        provider = self.provider()
        if self.saving or provider is None:
            return
        self.errors.clear()
        self.message_label.hide()
        mode = self.mode
        db, actor = self.ctx.db, self.ctx.actor
        if mode == DAY_SHEET:
            day = _pydate(self.day_edit.date())

            def build() -> bytes:
                return day_sheet_pdf(db, actor, provider.id, day)
        else:
            first, last = _pydate(self.from_edit.date()), _pydate(self.to_edit.date())
            with_names = self.names_check.isChecked()
            try:
                check_range(first, last, self.ctx.details.locale)  # before asking for a file
            except ValidationError as exc:
                self.errors.show(exc)
                return

            def build() -> bytes:
                return export_ics(db, actor, provider.id, first, last, with_names=with_names)

        path = self.choose_path(self, self.suggested_path(), _FILTERS[mode])
        if path is None:
            return

        def work() -> Path:
            write_file(path, build())
            return path

        self.saved_label.hide()
        self.save_with(work)

    def on_saved(self, path: Path) -> None:
        # The dialog stays open: another day or range may follow.
        self.saved_path = path
        what = "Day sheet" if path.suffix.lower() == ".pdf" else "Calendar file"
        self.saved_label.setText(f"✓ {what} saved to {path}")
        self.saved_label.show()
        self.close_button.setText("&Close")
        self._fit_height()

    def show_message(self, text: str) -> None:
        super().show_message(text)
        self._fit_height()

    def _fit_height(self) -> None:
        # Wrapped labels appear and disappear: grow to show them whole, keep the user's width.
        self.layout().activate()
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        provider_id: int | None = None,
        day: date | None = None,
    ) -> Path | None:
        """Show the dialog; the last file saved, or None when nothing was saved."""
        dialog = cls(ctx, parent, provider_id=provider_id, day=day)
        dialog.run()
        return dialog.saved_path
