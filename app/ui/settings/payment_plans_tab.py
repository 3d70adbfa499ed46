"""Settings → Payment plans: the highest APR a payment plan may charge (the legal cap)."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.services.errors import ValidationError
from app.services.plan_settings import PaymentPlanSettings, format_cap, parse_cap
from app.ui import ops
from app.ui.changes import Changes
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors, FormField
from app.ui.widgets.messages import show_warning

CAP_HINT = (
    "Payment plans may not charge more than this annual rate (your state's or country's "
    "legal limit). 0 % allows interest-free plans only."
)


class PaymentPlansTab(QWidget):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._loaded: PaymentPlanSettings | None = None
        self._filling = False

        self.cap_edit = QLineEdit()
        self.cap_edit.setObjectName("maxApr")
        self.cap_edit.setMaximumWidth(120)
        self.cap_edit.setAccessibleName("Highest APR allowed, percent a year")
        percent = QLabel("%")
        percent.setBuddy(self.cap_edit)
        cap_row = QWidget()
        cap_layout = QHBoxLayout(cap_row)
        cap_layout.setContentsMargins(0, 0, 0, 0)
        cap_layout.setSpacing(6)
        cap_layout.addWidget(self.cap_edit)
        cap_layout.addWidget(percent)
        cap_layout.addStretch(1)
        cap_row.setFocusProxy(self.cap_edit)

        self.fields: dict[str, FormField] = {
            "max_apr_basis_points": FormField(cap_row, CAP_HINT),
        }
        self.errors = FieldErrors(self.fields)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Highest APR allowed", self.fields["max_apr_basis_points"])
        form_box = QWidget()
        form_box.setLayout(form)
        form_box.setMaximumWidth(720)

        self.save_button = QPushButton("&Save changes")
        self.save_button.setObjectName("primaryButton")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_button.setToolTip("Save changes (Ctrl+S)")
        self.cancel_button = QPushButton("&Undo changes")
        self.cancel_button.setObjectName("undoButton")
        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")

        body = QWidget()
        body.setObjectName("pageBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(24, 20, 24, 20)
        column.addWidget(form_box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("pageScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(24, 8, 24, 12)
        buttons.addStretch(1)
        buttons.addWidget(self.status_label)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

        self.setEnabled(False)  # until the settings are loaded
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.cap_edit.textEdited.connect(self.on_form_edited)
        self.cap_edit.returnPressed.connect(self.on_return_pressed)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- values -------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.plan_settings import get_payment_plan_settings

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: get_payment_plan_settings(db, actor),
            on_success=self.set_settings,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def set_settings(self, settings: PaymentPlanSettings) -> None:
        self._loaded = settings
        self._filling = True
        self.cap_edit.setText(format_cap(settings.max_apr_basis_points, self.ctx.details.locale))
        self._filling = False
        self.errors.clear()
        self.setEnabled(True)
        self._update_buttons()

    def settings(self) -> PaymentPlanSettings:
        """The form's values; raises ValidationError (with its field) for unreadable text."""
        assert self._loaded is not None
        return PaymentPlanSettings(
            max_apr_basis_points=parse_cap(self.cap_edit.text(), self.ctx.details.locale),
            version=self._loaded.version,
        )

    def is_dirty(self) -> bool:
        if self._loaded is None:
            return False
        try:
            return self.settings() != self._loaded
        except ValidationError:
            return True

    def _update_buttons(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty)
        self.cancel_button.setEnabled(dirty)

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_form_edited(self) -> None:
        if self._filling:
            return
        self.status_label.clear()
        self._update_buttons()

    @Slot()
    def on_return_pressed(self) -> None:
        if self.save_button.isEnabled():
            self.on_save_clicked()

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.plan_settings import update_payment_plan_settings

        try:
            settings = self.settings()
        except ValidationError as exc:
            self.errors.show(exc)
            return
        self.errors.clear()
        db, actor = self.ctx.db, self.ctx.actor
        self.save_button.setEnabled(False)
        self.status_label.setText("Saving…")
        ops.run_write(
            lambda: update_payment_plan_settings(db, actor, settings),
            on_success=self._on_saved,
            on_failure=self._on_save_failed,
            owner=self,
        )

    def _on_saved(self, settings: PaymentPlanSettings) -> None:
        self.set_settings(settings)
        self.status_label.setText("✓ Saved.")
        self.ctx.bus.publish(Changes(clinic=True, plans=True))

    def _on_save_failed(self, exc: BaseException) -> None:
        self.status_label.clear()
        self._update_buttons()
        if not (isinstance(exc, ValidationError) and self.errors.show(exc)):
            show_warning(self, ops.user_message(exc))

    @Slot()
    def on_cancel_clicked(self) -> None:
        if self._loaded is not None:
            self.set_settings(self._loaded)
        self.status_label.clear()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        # Other tabs save the same row: take its new version when nothing is typed.
        if changes.clinic and not self.is_dirty():
            self.reload()
