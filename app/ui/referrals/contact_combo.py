"""A plain drop-down of the directory's active contacts of some kinds (specialists and
clinics to refer to; providers, specialists and clinics who refer to us), read through
``contacts.directory.contact_choices``.  Type-ahead finds a name as in any combo box."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from app.ui import ops
from app.ui.context import UiContext

#: Who a referral goes to, and who sends us one.
OUTGOING_KINDS = ("specialist", "clinic", "referring_provider", "other")
INCOMING_KINDS = ("referring_provider", "specialist", "clinic", "other")
#: The most the list reads (a clinic's directory of specialists is far smaller).
LIMIT = 1000


class ContactCombo(QComboBox):
    """``contact_id()`` is the chosen contact (None while "Choose…" is on show)."""

    #: The contacts arrived (tests and dialogs wait on it).
    loaded = Signal()

    def __init__(
        self,
        ctx: UiContext,
        kinds: Iterable[str],
        parent: QWidget | None = None,
        *,
        none_text: str = "Choose…",
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.kinds = tuple(kinds)
        self.none_text = none_text
        self.ready = False
        self._wanted: int | None = None
        self.setObjectName("contactCombo")
        self.setMinimumContentsLength(30)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.addItem("Loading the directory…", None)
        self.reload()

    def reload(self) -> None:
        from app.services.contacts.directory import contact_choices

        db, actor, kinds = self.ctx.db, self.ctx.actor, self.kinds
        ops.run_query(
            lambda: contact_choices(db, actor, kinds=kinds, limit=LIMIT),
            on_success=self._on_loaded,
            on_failure=lambda exc: self._on_failed(ops.user_message(exc)),
            owner=self,
        )

    def _on_loaded(self, choices: list) -> None:
        wanted = self._wanted if self._wanted is not None else self.contact_id()
        self.clear()
        self.addItem(self.none_text, None)
        for choice in choices:
            text = f"{choice.label} · {choice.detail}" if choice.detail else choice.label
            self.addItem(text, choice.id)
        self.ready = True
        if wanted is not None:
            self.set_contact(wanted)
        self.loaded.emit()

    def _on_failed(self, text: str) -> None:
        self.clear()
        self.addItem(text, None)
        self.ready = True
        self.loaded.emit()

    def contact_id(self) -> int | None:
        return self.currentData()

    def set_contact(self, contact_id: int | None) -> None:
        """Choose ``contact_id`` (now, or once the list arrives)."""
        self._wanted = contact_id
        index = self.findData(contact_id) if contact_id is not None else 0
        if index >= 0 and self.ready:
            self.setCurrentIndex(index)
            self._wanted = None

    def labels(self) -> list[str]:
        return [self.itemText(i) for i in range(self.count())]
