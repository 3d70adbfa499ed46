"""The skeleton of a Settings tab that edits one settings record: load, fill, save, undo.

A tab builds its fields, then calls :meth:`SettingsFormTab.finish` with the form.  It
supplies the service functions (:meth:`loader`, :meth:`saver`), how the record fills the
form (:meth:`fill`) and how the form reads back (:meth:`settings`, raising
ValidationError with its field); saving, undoing, the dirty state, the status line and
taking another tab's newer version of the same row happen here, once.

:class:`SaveBar` and :func:`scrolled_page` are also used by the tabs that do not fit that
skeleton (Clinic details, Consent forms), so every Settings tab ends in the same row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.services.changes import Changes
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors
from app.ui.widgets.messages import show_warning


class SaveBar:
    """The row under a Settings tab: [what the tab adds] … status, Undo changes, Save."""

    def __init__(
        self, save_text: str = "&Save changes", save_tip: str = "Save changes (Ctrl+S)"
    ) -> None:
        self.save_button = QPushButton(save_text)
        self.save_button.setObjectName("primaryButton")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_button.setToolTip(save_tip)
        self.cancel_button = QPushButton("&Undo changes")
        self.cancel_button.setObjectName("undoButton")
        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")
        self.layout = QHBoxLayout()
        self.layout.setContentsMargins(24, 8, 24, 12)
        self.layout.addStretch(1)
        self.layout.addWidget(self.status_label)
        self.layout.addWidget(self.cancel_button)
        self.layout.addWidget(self.save_button)


def scrolled_page(content: QWidget) -> QScrollArea:
    """``content`` at the top of a frameless page that scrolls when the window is short."""
    body = QWidget()
    body.setObjectName("pageBody")
    column = QVBoxLayout(body)
    column.setContentsMargins(24, 20, 24, 20)
    column.addWidget(content)
    column.addStretch(1)
    scroll = QScrollArea()
    scroll.setObjectName("pageScroll")
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(body)
    return scroll


class SettingsFormTab(QWidget):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._loaded: Any = None
        self._filling = False
        self.errors: FieldErrors

        self.bar = SaveBar()
        self.save_button = self.bar.save_button
        self.cancel_button = self.bar.cancel_button
        self.status_label = self.bar.status_label

    def finish(self, form_box: QWidget) -> None:
        """Lay out ``form_box`` above the buttons, wire them up and load the settings."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scrolled_page(form_box), 1)
        layout.addLayout(self.bar.layout)

        self.setEnabled(False)  # until the settings are loaded
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.reload()

    # --- what each tab supplies ---------------------------------------------------------------

    def loader(self) -> Callable[..., Any]:
        """The service function ``(db, actor) -> settings`` (run on a worker)."""
        raise NotImplementedError

    def saver(self) -> Callable[..., Any]:
        """The service function ``(db, actor, settings) -> saved settings``."""
        raise NotImplementedError

    def fill(self, settings: Any) -> None:
        """Show ``settings`` in the form's widgets."""
        raise NotImplementedError

    def settings(self) -> Any:
        """The form's values; raises ValidationError (with its field) for unreadable text."""
        raise NotImplementedError

    # --- values -------------------------------------------------------------------------------

    def reload(self) -> None:
        # The worker gets the service function and plain values, never this widget.
        load, db, actor = self.loader(), self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: load(db, actor),
            on_success=self.set_settings,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def set_settings(self, settings: Any) -> None:
        self._loaded = settings
        self._filling = True
        self.fill(settings)
        self._filling = False
        self.errors.clear()
        self.setEnabled(True)
        self._update_buttons()

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
    def on_save_clicked(self) -> None:
        try:
            settings = self.settings()
        except ValidationError as exc:
            self.errors.show(exc)
            return
        self.errors.clear()
        save, db, actor = self.saver(), self.ctx.db, self.ctx.actor
        self.save_button.setEnabled(False)
        self.status_label.setText("Saving…")
        ops.run_write(
            lambda: save(db, actor, settings),
            on_success=self._on_saved,
            on_failure=self._on_save_failed,
            owner=self,
        )

    def _on_saved(self, settings: Any) -> None:
        self.set_settings(settings)
        self.status_label.setText("✓ Saved.")

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
