"""Settings → Clinic details: the clinic's name, address, locale, paper size, the idle lock
and the logo printed on every document's letterhead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.clinics import (
    LOGO_BOX_INCHES,
    LOGO_FILE_FILTER,
    LOGO_MAX_BYTES,
    ClinicDetails,
    logo_print_size,
    read_logo_file,
)
from app.services.clinic.staff import Role
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.context import UiContext
from app.ui.settings.form_tab import SaveBar, scrolled_page
from app.ui.widgets.clinic_form import ClinicDetailsForm
from app.ui.widgets.form_field import FormField
from app.ui.widgets.messages import show_warning

#: (parent) → the logo file the user chose, or None when they cancelled.  Tests pass their own.
LogoChooser = Callable[[QWidget], "Path | None"]

_NO_LOGO = "No logo: documents print the clinic's name only."


def choose_logo_file(parent: QWidget) -> Path | None:
    path, _filter = QFileDialog.getOpenFileName(
        parent, "Choose the clinic's logo", "", f"{LOGO_FILE_FILTER};;All files (*)"
    )
    return Path(path) if path else None


class LogoPicker(QWidget):
    """The logo as it will print (its size on paper), with "Choose logo…" and "Remove logo"."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data: bytes | None = None
        self.preview = QLabel()
        self.preview.setObjectName("logoPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.preview.setWordWrap(True)
        self.preview.setStyleSheet(
            "QLabel#logoPreview { background: white; color: #52606D;"
            " border: 1px dashed #9AA5B1; padding: 4px; }"
        )
        self.choose_button = QPushButton("Choose lo&go…")
        self.choose_button.setToolTip(
            f"A PNG or JPEG image of at most {LOGO_MAX_BYTES // (1024 * 1024)} MB."
        )
        self.remove_button = QPushButton("Remo&ve logo")
        buttons = QVBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        row.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(buttons)
        row.addStretch(1)
        QWidget.setTabOrder(self.choose_button, self.remove_button)
        self.setFocusProxy(self.choose_button)
        self._fit_preview_box()
        self._show()

    def _inches(self, value: float) -> int:
        return round(value * self.logicalDpiX())

    def _fit_preview_box(self) -> None:
        # The box plus the label's padding and border, so the logo inside is at print size.
        width, height = (self._inches(v) for v in LOGO_BOX_INCHES)
        self.preview.setFixedSize(width + 10, max(height, 2 * self.fontMetrics().height()) + 10)

    def logo(self) -> bytes | None:
        return self._data

    def set_logo(self, data: bytes | None) -> None:
        if data == self._data:
            return
        self._data = data
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        self.remove_button.setEnabled(self._data is not None)
        pixmap = QPixmap()
        if self._data is None or not pixmap.loadFromData(QByteArray(self._data)):
            self.preview.setPixmap(QPixmap())
            self.preview.setText(_NO_LOGO)
            self.preview.setToolTip("")
            return
        width_in, height_in = logo_print_size(self._data)
        ratio = self.devicePixelRatioF()
        scaled = pixmap.scaled(
            round(self._inches(width_in) * ratio),
            round(self._inches(height_in) * ratio),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        scaled.setDevicePixelRatio(ratio)
        self.preview.setText("")
        self.preview.setPixmap(scaled)
        self.preview.setToolTip(
            f"Prints {width_in:.2f} × {height_in:.2f} in at the top left of every page."
        )


class ClinicDetailsTab(QWidget):
    #: The owner asked to move this PC's clinic to the clinic server (a MoveRequest): the
    #: main window signs out and the application moves it (the file must be closed).
    move_to_server_requested = Signal(object)

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        choose_logo: LogoChooser = choose_logo_file,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.choose_logo = choose_logo
        self.form = ClinicDetailsForm(with_settings=True)
        self.form.setMaximumWidth(720)
        self.logo_picker = LogoPicker()
        self.logo_field = FormField(
            self.logo_picker,
            f"Printed on every document's letterhead. PNG or JPEG, at most "
            f"{LOGO_MAX_BYTES // (1024 * 1024)} MB; shown here at the size it prints.",
        )
        # One more row of the same form, so its label lines up with the fields above.
        form_layout = self.form.layout()
        assert isinstance(form_layout, QFormLayout)
        form_layout.addRow("Letterhead logo", self.logo_field)
        QWidget.setTabOrder(self.form.idle_lock_spin, self.logo_picker.choose_button)
        QWidget.setTabOrder(self.logo_picker.choose_button, self.logo_picker.remove_button)

        bar = SaveBar()
        self.save_button, self.cancel_button = bar.save_button, bar.cancel_button
        self.status_label = bar.status_label
        self.reprint_button = QPushButton("&Reprint recovery kit…")
        self.reprint_button.setToolTip(
            "Save the recovery kit PDF again: the key that opens this clinic's data."
        )

        self.move_button = QPushButton("&Move to the clinic server…")
        self.move_button.setToolTip(
            "Several PCs: move this clinic from the file on this PC to the clinic's server."
        )
        self.where_label = QLabel(f"The clinic's data: {ctx.db.describe()}")
        self.where_label.setObjectName("fieldHint")
        self.where_label.setWordWrap(True)
        self.where_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.layout.insertWidget(0, self.reprint_button)
        bar.layout.insertWidget(1, self.move_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scrolled_page(self.form), 1)
        where = QHBoxLayout()
        where.setContentsMargins(24, 6, 24, 0)  # in line with the form's labels above
        where.addWidget(self.where_label)
        layout.addLayout(where)
        layout.addLayout(bar.layout)
        on_file = ctx.clinic.key is not None and ctx.clinic.path is not None
        # On the server there is no key of CareDesk's to print, and nothing to move.
        self.reprint_button.setVisible(ctx.actor.role == Role.OWNER and on_file)
        self.move_button.setVisible(ctx.actor.role == Role.OWNER and on_file)

        self._loaded: ClinicDetails = ctx.details
        self._show_details(ctx.details)
        self._update_buttons()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.form.edited.connect(self.on_form_edited)
        self.logo_picker.changed.connect(self.on_form_edited)
        self.logo_picker.choose_button.clicked.connect(self.on_choose_logo_clicked)
        self.logo_picker.remove_button.clicked.connect(self.on_remove_logo_clicked)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.reprint_button.clicked.connect(self.on_reprint_clicked)
        self.move_button.clicked.connect(self.on_move_clicked)

    def details(self) -> ClinicDetails:
        """What the tab shows now: the form's fields and the chosen logo."""
        return replace(self.form.details(), logo_png=self.logo_picker.logo())

    def _show_details(self, details: ClinicDetails) -> None:
        self.form.set_details(details)
        self.logo_picker.set_logo(details.logo_png)
        self.logo_field.set_error(None)

    def is_dirty(self) -> bool:
        return self.details() != self._loaded

    def _update_buttons(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty)
        self.cancel_button.setEnabled(dirty)

    @Slot()
    def on_form_edited(self) -> None:
        self.status_label.clear()
        self._update_buttons()

    # --- the logo -----------------------------------------------------------------------------

    @Slot()
    def on_choose_logo_clicked(self) -> None:
        path = self.choose_logo(self)
        if path is None:
            return
        self.logo_field.set_error(None)
        self.logo_picker.choose_button.setEnabled(False)
        self.status_label.setText("Reading the logo…")
        # Read on a worker: the file may sit on a slow network share.
        ops.run_query(
            lambda: read_logo_file(path),
            on_success=self._on_logo_read,
            on_failure=self._on_logo_refused,
            owner=self,
        )

    def _on_logo_read(self, data: bytes) -> None:
        self.logo_picker.choose_button.setEnabled(True)
        self.status_label.clear()
        self.logo_picker.set_logo(data)
        self._update_buttons()

    def _on_logo_refused(self, exc: BaseException) -> None:
        # The logo shown before stays: a bad file loses nothing.
        self.logo_picker.choose_button.setEnabled(True)
        self.status_label.clear()
        self.logo_field.set_error(ops.user_message(exc))
        self.logo_picker.choose_button.setFocus()

    @Slot()
    def on_remove_logo_clicked(self) -> None:
        self.logo_field.set_error(None)
        self.logo_picker.set_logo(None)
        self.logo_picker.choose_button.setFocus()

    # --- saving -------------------------------------------------------------------------------

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.clinic.clinics import update_details

        db, actor, details = self.ctx.db, self.ctx.actor, self.details()
        self.save_button.setEnabled(False)
        self.status_label.setText("Saving…")
        ops.run_write(
            lambda: update_details(db, actor, details),
            on_success=self._on_saved,
            on_failure=self._on_save_failed,
            owner=self,
        )

    def _on_saved(self, details: ClinicDetails) -> None:
        self.ctx.details = details
        self._loaded = details
        self._show_details(details)
        self._update_buttons()
        self.status_label.setText("✓ Saved.")

    def _on_save_failed(self, exc: BaseException) -> None:
        self.status_label.clear()
        self._update_buttons()
        if isinstance(exc, ValidationError) and exc.field == "logo_png":
            self.logo_field.set_error(str(exc))
            self.logo_picker.choose_button.setFocus()
        elif not (isinstance(exc, ValidationError) and self.form.errors.show(exc)):
            show_warning(self, ops.user_message(exc))

    @Slot()
    def on_cancel_clicked(self) -> None:
        self._show_details(self._loaded)
        self.status_label.clear()
        self._update_buttons()

    @Slot()
    def on_reprint_clicked(self) -> None:
        from app.ui.recovery_kit import RecoveryKitSaver

        def saved(path: Path) -> None:
            self.status_label.setText(f"✓ Recovery kit saved to {path.name}.")

        RecoveryKitSaver.save(
            self,
            self.ctx.clinic,
            self.ctx.details,
            self.ctx.actor,
            self.ctx.actor.full_name,
            on_saved=saved,
            on_failed=lambda message: show_warning(self, message),
        )

    @Slot()
    def on_move_clicked(self) -> None:
        from app.ui.settings.move_to_server import MoveToServerDialog

        if self.is_dirty():
            show_warning(self, "Save or cancel the changes to the clinic's details first.")
            return
        request = MoveToServerDialog.ask(self, str(self.ctx.clinic.path))
        if request is not None:
            self.move_to_server_requested.emit(request)
