"""ContactPicker: choose a contact from the directory by typing part of its name, phone or
e-mail, or add a new one on the spot.

    picker = ContactPicker(ctx, kinds=["payer"])       # only insurance payers
    picker.set_contact_id(policy.payer_id)             # show the current choice
    picker.contact_changed.connect(self.on_payer_changed)
    ...
    payer_id = picker.contact_id()                     # None until one is chosen

The API is small on purpose:

- ``ContactPicker(ctx, parent=None, *, kinds=(), new_text="Ne&w…")``: ``kinds`` limits
  the choices (and is the kind a new contact starts as: the first one); empty = every kind.
- ``contact_id() -> int | None``: the chosen contact.
- ``set_contact_id(contact_id: int | None)``: choose one (its name is read in the
  background; an inactive one still shows, as a policy's former payer must).
- ``contact_changed(object)``: the id chosen (or None once the text no longer names one).
- ``line_edit`` / ``new_button``: for labels' buddies, tab order and tests.

Typing searches the active contacts (merged ones never) as you type, a moment after the
last key; Down opens the list; Enter or a click chooses.  "New…" (shown to those who may
change contacts) opens the contact dialog set to the picker's kind, starting with what
was typed, and chooses the contact it saves.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLineEdit, QPushButton, QWidget

from app.services.clinic.permissions import Permission
from app.services.contacts.directory import KIND_LABELS, ContactChoice
from app.ui import ops
from app.ui.context import UiContext

#: Typing pauses this long before the search runs (each keystroke restarts the wait).
SEARCH_DELAY_MS = 150
#: How many choices the list shows at most.
CHOICES_LIMIT = 30
#: The choices' list is as wide as its longest line, up to this.
POPUP_MAX_WIDTH = 640
ID_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2


class _PickerEdit(QLineEdit):
    """The picker's line edit: Down opens the list even before anything is typed."""

    down_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self.completer().popup() if self.completer() else None
        if (
            event.key() == Qt.Key.Key_Down
            and not event.modifiers()
            and not (popup and popup.isVisible())
        ):
            self.down_pressed.emit()
            return
        super().keyPressEvent(event)


class ContactPicker(QWidget):
    """A line edit that finds contacts as you type, with a New… button beside it."""

    contact_changed = Signal(object)  # int | None

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        kinds: Sequence[str] = (),
        new_text: str = "Ne&w…",
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.kinds = tuple(kinds)
        self._contact_id: int | None = None
        self._generation = 0

        self.line_edit = _PickerEdit()
        self.line_edit.setObjectName("contactPickerEdit")
        self.line_edit.setClearButtonEnabled(True)
        self.line_edit.setMaxLength(200)
        what = (
            KIND_LABELS[self.kinds[0]].lower()
            if len(self.kinds) == 1 and self.kinds[0] in KIND_LABELS
            else "contact"
        )
        self.line_edit.setPlaceholderText(f"Type to find the {what}…")
        self.choices_model = QStandardItemModel(self)
        self.completer = QCompleter(self.choices_model, self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setCompletionRole(LABEL_ROLE)
        self.completer.setMaxVisibleItems(10)
        self.completer.setWidget(self.line_edit)
        self.line_edit.setCompleter(self.completer)
        self.new_button = QPushButton(new_text)
        self.new_button.setObjectName("contactPickerNew")
        self.new_button.setAutoDefault(False)  # Enter in the dialog keeps saving it
        self.new_button.setToolTip(f"Add a new {what} to Contacts and choose it")
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.line_edit, 1)
        layout.addWidget(self.new_button)
        # Only once it sits in the layout: shown parentless, it would flash up as a window.
        self.new_button.setVisible(ctx.allows(Permission.MANAGE_CONTACTS))
        self.setFocusProxy(self.line_edit)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.line_edit.textEdited.connect(self.on_text_edited)
        self.line_edit.down_pressed.connect(self.on_down_pressed)
        self.search_timer.timeout.connect(self.on_search_timer_timeout)
        self.completer.activated[QModelIndex].connect(self.on_choice_activated)
        self.new_button.clicked.connect(self.on_new_clicked)

    # --- the public API -------------------------------------------------------------------------

    def contact_id(self) -> int | None:
        """The contact chosen, or None."""
        return self._contact_id

    def set_contact_id(self, contact_id: int | None) -> None:
        """Choose ``contact_id`` (None: nothing); its name is shown once read."""
        self._generation += 1
        if contact_id is None:
            self.line_edit.clear()
            self._choose(None)
            return
        self._choose(contact_id)
        generation = self._generation
        db, actor = self.ctx.db, self.ctx.actor

        def read() -> ContactChoice:
            from app.services.contacts.directory import contact_choice

            return contact_choice(db, actor, contact_id)

        ops.run_query(
            read,
            on_success=lambda choice: self._on_choice_read(generation, choice),
            on_failure=lambda exc: self._on_choice_read(generation, None),
            owner=self,
        )

    # --- inside -----------------------------------------------------------------------------------

    def _choose(self, contact_id: int | None) -> None:
        if contact_id == self._contact_id:
            return
        self._contact_id = contact_id
        self.contact_changed.emit(contact_id)

    def _on_choice_read(self, generation: int, choice: ContactChoice | None) -> None:
        if generation != self._generation:
            return
        if choice is None:
            self.line_edit.setText("")
            self.line_edit.setPlaceholderText("That contact is no longer in the directory")
            return
        self.line_edit.setText(choice.label if choice.is_active else f"{choice.label} (inactive)")
        self.line_edit.setCursorPosition(0)

    @Slot(str)
    def on_text_edited(self, _text: str) -> None:
        # Typing means choosing again: what was chosen no longer shows.
        self._generation += 1
        self._choose(None)
        self.search_timer.start()

    @Slot()
    def on_down_pressed(self) -> None:
        self.search_timer.stop()
        self.on_search_timer_timeout()

    @Slot()
    def on_search_timer_timeout(self) -> None:
        from app.services.contacts.directory import contact_choices

        self._generation += 1
        generation = self._generation
        db, actor, kinds = self.ctx.db, self.ctx.actor, self.kinds
        text = "" if self._contact_id is not None else self.line_edit.text()
        ops.run_query(
            lambda: contact_choices(db, actor, kinds=kinds, search=text, limit=CHOICES_LIMIT),
            on_success=lambda choices: self._on_choices(generation, choices),
            on_failure=lambda exc: self.line_edit.setToolTip(ops.user_message(exc)),
            owner=self,
        )

    def _on_choices(self, generation: int, choices: list[ContactChoice]) -> None:
        if generation != self._generation:
            return  # typed on since: a newer search follows
        self.choices_model.clear()
        for choice in choices:
            text = f"{choice.label} · {choice.detail}" if choice.detail else choice.label
            item = QStandardItem(text)
            item.setData(choice.id, ID_ROLE)
            item.setData(choice.label, LABEL_ROLE)
            item.setEditable(False)
            self.choices_model.appendRow(item)
        if not choices:
            self.completer.popup().hide()
            typed = self.line_edit.text().strip()
            self.line_edit.setToolTip(
                f"Nothing in Contacts matches “{typed}”." if typed else "Contacts is empty."
            )
            return
        self.line_edit.setToolTip("")
        if self.line_edit.isVisible():
            # As wide as the longest choice (with its details), within reason.
            popup = self.completer.popup()
            wanted = popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width()
            rect = self.line_edit.rect()
            rect.setWidth(max(rect.width(), min(wanted + 12, POPUP_MAX_WIDTH)))
            self.completer.complete(rect)

    @Slot(QModelIndex)
    def on_choice_activated(self, index: QModelIndex) -> None:
        contact_id = index.data(ID_ROLE)
        if contact_id is None:
            return
        self._generation += 1
        self.line_edit.setText(index.data(LABEL_ROLE))
        self.line_edit.setCursorPosition(0)
        self._choose(int(contact_id))

    @Slot()
    def on_new_clicked(self) -> None:
        from app.ui.contacts.contact_dialog import ContactDialog

        typed = "" if self._contact_id is not None else self.line_edit.text().strip()
        kind = self.kinds[0] if self.kinds else None
        saved = ContactDialog.ask(self.ctx, self.window(), kind=kind, name=typed)
        if saved is None:
            return
        self._generation += 1
        if self.kinds and saved.form.kind not in self.kinds:
            # Saved as another kind than this picker offers: in Contacts, not a choice here.
            self.line_edit.clear()
            self.line_edit.setPlaceholderText(
                f"{saved.display_name} was added as {KIND_LABELS[saved.form.kind].lower()}: "
                "not a choice here"
            )
            self._choose(None)
            return
        self.line_edit.setText(saved.display_name)
        self.line_edit.setCursorPosition(0)
        self._choose(saved.id)
