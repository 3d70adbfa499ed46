"""Settings → Clinic details: the clinic's name, address, locale and the idle lock."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.data.models.staff import Role
from app.services.clinic import ClinicDetails
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.changes import Changes
from app.ui.context import UiContext
from app.ui.widgets.clinic_form import ClinicDetailsForm
from app.ui.widgets.messages import show_warning


class ClinicDetailsTab(QWidget):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.form = ClinicDetailsForm(with_settings=True)
        self.form.setMaximumWidth(720)
        self.save_button = QPushButton("&Save changes")
        self.save_button.setObjectName("primaryButton")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_button.setToolTip("Save changes (Ctrl+S)")
        self.cancel_button = QPushButton("&Undo changes")
        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")
        self.reprint_button = QPushButton("&Reprint recovery kit…")
        self.reprint_button.setToolTip(
            "Save the recovery kit PDF again: the key that opens this clinic's data."
        )

        body = QWidget()
        body.setObjectName("pageBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(24, 20, 24, 20)
        column.addWidget(self.form)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("pageScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(24, 8, 24, 12)
        buttons.addWidget(self.reprint_button)
        buttons.addStretch(1)
        buttons.addWidget(self.status_label)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.reprint_button.setVisible(ctx.actor.role == Role.OWNER)

        self._loaded: ClinicDetails = ctx.details
        self.form.set_details(ctx.details)
        self._update_buttons()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.form.edited.connect(self.on_form_edited)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.reprint_button.clicked.connect(self.on_reprint_clicked)

    def is_dirty(self) -> bool:
        return self.form.details() != self._loaded

    def _update_buttons(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty)
        self.cancel_button.setEnabled(dirty)

    @Slot()
    def on_form_edited(self) -> None:
        self.status_label.clear()
        self._update_buttons()

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.clinic import update_details

        db, actor, details = self.ctx.db, self.ctx.actor, self.form.details()
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
        self.form.set_details(details)
        self._update_buttons()
        self.status_label.setText("✓ Saved.")
        self.ctx.bus.publish(Changes(clinic=True))

    def _on_save_failed(self, exc: BaseException) -> None:
        self.status_label.clear()
        self._update_buttons()
        if not (isinstance(exc, ValidationError) and self.form.errors.show(exc)):
            show_warning(self, ops.user_message(exc))

    @Slot()
    def on_cancel_clicked(self) -> None:
        self.form.set_details(self._loaded)
        self.status_label.clear()
        self._update_buttons()

    @Slot()
    def on_reprint_clicked(self) -> None:
        from app.ui.recovery_kit import RecoveryKitSaver

        def saved(path: Path) -> None:
            self.status_label.setText(f"✓ Recovery kit saved to {path.name}.")
            self.ctx.bus.publish(Changes(audit=True))

        RecoveryKitSaver.save(
            self,
            self.ctx.clinic,
            self.ctx.details,
            self.ctx.actor,
            self.ctx.actor.full_name,
            on_saved=saved,
            on_failed=lambda message: show_warning(self, message),
        )
