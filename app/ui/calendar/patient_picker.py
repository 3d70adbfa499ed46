"""Pick a patient by typing: a line edit with a list of matches that follows the keyboard.

Each keystroke restarts a short wait, then :func:`app.services.patients.search.search_patients`
runs off the GUI thread; an answer for an older text is dropped.  The list shows name,
date of birth and phone; its last row offers "New patient “<typed>”…".  Up/Down move,
Enter picks, Escape closes the list (or goes back to the patient chosen before).
Inactive and merged records are never offered (the search leaves them out).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFocusEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.permissions import Permission
from app.services.patients.search import PatientHit
from app.ui import ops
from app.ui.context import UiContext

#: Typing pauses this long before the search runs (each keystroke restarts the wait).
SEARCH_DELAY_MS = 25
#: Matches shown in the list; typing more narrows it.
MATCH_LIMIT = 8
NEW_PATIENT_ROW = -1
_NEW_PATIENT_TEXT = QColor("#1f6f78")
_QUIET_TEXT = QColor("#5d6b72")


def hit_name(hit: PatientHit) -> str:
    return f"{hit.last_name}, {hit.first_name}"


class _SearchEdit(QLineEdit):
    """Hands Up/Down/Enter/Escape to the picker while its list is open."""

    def __init__(self, picker: PatientPicker) -> None:
        super().__init__(picker)
        self._picker = picker

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._picker.handle_key(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self._picker.on_edit_focus_lost()


class PatientPicker(QWidget):
    """Choose one patient; ``patient_chosen(id, "Last, First")`` when one is picked."""

    patient_chosen = Signal(int, str)
    #: The typed search text changed (the dialog clears a "choose a patient" error).
    edited = Signal()

    def __init__(
        self, ctx: UiContext, parent: QWidget | None = None, *, offer_new: bool = True
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        #: Whether the list's last row offers a new patient (not where one is only looked up).
        self.offer_new = offer_new
        self._patient_id: int | None = None
        self._display = ""
        self._generation = 0
        self._searched = ""  # the text the list on show answers
        self._hits: list[PatientHit] = []
        self._choose_top_when_loaded = False
        self._watched: QWidget | None = None
        self.setObjectName("patientPicker")

        self.edit = _SearchEdit(self)
        self.edit.setObjectName("patientSearch")
        self.edit.setPlaceholderText("Type a name, phone, date of birth or chart #")
        self.edit.setMaxLength(200)
        self.edit.setClearButtonEnabled(True)

        self.chosen_label = QLabel()
        self.chosen_label.setObjectName("chosenPatient")
        self.chosen_label.setTextFormat(Qt.TextFormat.PlainText)
        self.chosen_label.setStyleSheet("QLabel#chosenPatient { font-weight: 600; }")
        self.change_button = QPushButton("Change")
        self.change_button.setObjectName("linkButton")
        self.change_button.setToolTip("Pick another patient")
        self.change_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.change_button.setAutoDefault(False)
        chosen = QWidget(self)
        chosen_row = QHBoxLayout(chosen)
        chosen_row.setContentsMargins(2, 0, 0, 0)
        chosen_row.addWidget(self.chosen_label)
        chosen_row.addWidget(self.change_button)
        chosen_row.addStretch(1)
        self._chosen_page = chosen

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.edit)
        self.stack.addWidget(chosen)
        self.stack.setSizePolicy(self.edit.sizePolicy())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.setFocusProxy(self.edit)

        # A frameless window that never takes the focus: typing stays in the line edit.
        self.popup = QTableWidget(0, 3, self)
        self.popup.setObjectName("patientMatches")
        self.popup.setWindowFlags(Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.popup.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.popup.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.popup.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.popup.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.popup.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.popup.horizontalHeader().hide()
        self.popup.verticalHeader().hide()
        self.popup.setShowGrid(False)
        self.popup.setWordWrap(False)
        self.popup.verticalHeader().setDefaultSectionSize(26)
        header = self.popup.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.popup.setStyleSheet(
            "QTableWidget#patientMatches { background: #ffffff; border: 1px solid #9fb0b7; }"
            "QTableWidget#patientMatches::item { padding: 0 8px; }"
            "QTableWidget#patientMatches::item:selected { background: #d7ebed; color: #1f3b45; }"
        )
        self.popup.hide()

        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.edit.textEdited.connect(self.on_edit_text_edited)
        self.search_timer.timeout.connect(self.on_search_timer_timeout)
        self.popup.cellClicked.connect(self.on_popup_cell_clicked)
        self.change_button.clicked.connect(self.on_change_clicked)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self and window is not self._watched:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            window.installEventFilter(self)
            self._watched = window

    # --- public -------------------------------------------------------------------------------

    def patient_id(self) -> int | None:
        return self._patient_id

    def display_name(self) -> str:
        return self._display

    def set_patient(self, patient_id: int | None, display: str = "") -> None:
        """Show ``display`` as the chosen patient (None: nobody chosen, the search box)."""
        self._patient_id = patient_id
        self._display = display if patient_id is not None else ""
        self._hide_popup()
        if patient_id is None:
            self.stack.setCurrentWidget(self.edit)
            return
        self.chosen_label.setText(display)
        self.edit.setText(display)
        self.stack.setCurrentWidget(self._chosen_page)
        self.setFocusProxy(self.change_button)

    def matches(self) -> list[PatientHit]:
        return list(self._hits)

    def popup_texts(self) -> list[str]:
        """Each row of the list as shown ("Nguyễn, Zoë · 5/17/1980 (45) · (207) 555-0100")."""
        rows = []
        for row in range(self.popup.rowCount()):
            cells = [self.popup.item(row, c) for c in range(3)]
            rows.append(" · ".join(c.text() for c in cells if c is not None and c.text()))
        return rows

    def is_searching(self) -> bool:
        return self.search_timer.isActive() or self._searched != self.query()

    def query(self) -> str:
        return self.edit.text().strip()

    # --- keys ---------------------------------------------------------------------------------

    def handle_key(self, event: QKeyEvent) -> bool:
        """True when the picker used the key (the line edit then ignores it)."""
        key, mods = event.key(), event.modifiers()
        if mods & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        open_ = self.popup.isVisible()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            if not open_ and self.query():
                self._run_search_now()
                return True
            if open_:
                step = 1 if key == Qt.Key.Key_Down else -1
                row = (self.popup.currentRow() + step) % self.popup.rowCount()
                self.popup.selectRow(row)
                return True
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if open_ and self.popup.currentRow() >= 0 and not self.is_searching():
                self._choose_row(self.popup.currentRow())
                return True
            if self.query() and self.stack.currentWidget() is self.edit:
                # Enter typed before the matches came: pick the top one when they land.
                self._choose_top_when_loaded = True
                self._run_search_now()
                return True
            return False
        if key == Qt.Key.Key_Escape:
            if open_:
                self._hide_popup()
                return True
            if self._patient_id is not None and self.stack.currentWidget() is self.edit:
                self.set_patient(self._patient_id, self._display)  # back to the one chosen
                self.change_button.setFocus()
                return True
        return False

    # --- slots --------------------------------------------------------------------------------

    @Slot(str)
    def on_edit_text_edited(self, text: str) -> None:
        self._choose_top_when_loaded = False
        self.edited.emit()
        if not text.strip():
            self.search_timer.stop()
            self._generation += 1
            self._searched = ""
            self._hide_popup()
            return
        self.search_timer.start()

    @Slot()
    def on_search_timer_timeout(self) -> None:
        self._run_search_now()

    def _run_search_now(self) -> None:
        from app.services.patients import search as patient_search

        self.search_timer.stop()
        query = self.query()
        if not query:
            return
        self._generation += 1
        generation = self._generation
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: patient_search.search_patients(db, actor, query, limit=MATCH_LIMIT),
            on_success=lambda hits: self._on_hits(generation, query, hits),
            on_failure=lambda exc: self._on_search_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_hits(self, generation: int, query: str, hits: list[PatientHit]) -> None:
        if generation != self._generation or self.stack.currentWidget() is not self.edit:
            return  # an older text's answer, or a patient was chosen meanwhile
        self._searched = query
        self._hits = [h for h in hits if h.is_active]
        self._fill_popup(query)
        if self._choose_top_when_loaded:
            self._choose_top_when_loaded = False
            self._choose_row(0)

    def _on_search_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._choose_top_when_loaded = False
        self._hits = []
        self.popup.setRowCount(1)
        self._set_row(0, ops.user_message(exc), "", "", _QUIET_TEXT)
        self.popup.setSpan(0, 0, 1, 3)
        self._show_popup()

    @Slot(int, int)
    def on_popup_cell_clicked(self, row: int, _column: int) -> None:
        self._choose_row(row)

    @Slot()
    def on_change_clicked(self) -> None:
        self.stack.setCurrentWidget(self.edit)
        self.setFocusProxy(self.edit)
        self.edit.setFocus()
        self.edit.selectAll()

    def on_edit_focus_lost(self) -> None:
        # A click in the list does not take the focus, so this is focus really leaving.
        if not self.popup.underMouse():
            self._hide_popup()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The list is its own little window: follow the dialog, and go when it goes.
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize) and self.popup.isVisible():
            self._place_popup()
        elif event.type() in (QEvent.Type.Hide, QEvent.Type.WindowDeactivate):
            self._hide_popup()
        return False

    # --- the list -----------------------------------------------------------------------------

    def _fill_popup(self, query: str) -> None:
        from app.ui.patients.search_model import birth_date_text

        details = self.ctx.details
        self.popup.clearSpans()
        rows = len(self._hits) + (1 if self._may_create() else 0)
        if not self._hits and rows == 0:
            self._hide_popup()
            return
        self.popup.setRowCount(max(rows, 1))
        for row, hit in enumerate(self._hits):
            born = birth_date_text(hit.date_of_birth, details.locale, details.timezone)
            self._set_row(row, hit_name(hit), born or "No date of birth", hit.phone)
        if rows > len(self._hits):
            row = len(self._hits)
            prefix = "" if self._hits else "No patient matches. "
            self._set_row(row, f"{prefix}New patient “{query}”…", "", "", _NEW_PATIENT_TEXT)
            self.popup.setSpan(row, 0, 1, 3)
        self.popup.selectRow(0)
        self._show_popup()

    def _set_row(self, row: int, name: str, born: str, phone: str, colour=None) -> None:
        for column, text in enumerate((name, born, phone)):
            item = QTableWidgetItem(text)
            if colour is not None:
                item.setForeground(colour)
            elif column:
                item.setForeground(_QUIET_TEXT)
            self.popup.setItem(row, column, item)

    def _show_popup(self) -> None:
        if self.stack.currentWidget() is not self.edit or not self.isVisible():
            return
        self._place_popup()
        self.popup.show()
        self.popup.raise_()

    def _place_popup(self) -> None:
        rows = self.popup.rowCount()
        height = sum(self.popup.rowHeight(r) for r in range(rows)) + 2
        width = max(self.edit.width(), 460)
        self.popup.setGeometry(
            self.edit.mapToGlobal(QPoint(0, self.edit.height() + 2)).x(),
            self.edit.mapToGlobal(QPoint(0, self.edit.height() + 2)).y(),
            width,
            height,
        )

    def _hide_popup(self) -> None:
        if self.popup.isVisible():
            self.popup.hide()

    # --- choosing -----------------------------------------------------------------------------

    def _choose_row(self, row: int) -> None:
        if 0 <= row < len(self._hits):
            hit = self._hits[row]
            self._pick(hit.id, hit_name(hit))
        elif row == len(self._hits) and self._may_create():
            self._create_new(self.query())

    def _may_create(self) -> bool:
        return self.offer_new and self.ctx.allows(Permission.EDIT_PATIENTS)

    def _pick(self, patient_id: int, display: str) -> None:
        self.set_patient(patient_id, display)
        self.patient_chosen.emit(patient_id, display)

    def _create_new(self, typed: str) -> None:
        from app.services.patients import records as patients
        from app.ui.patients.new_patient import NewPatientDialog

        self._hide_popup()
        new_id = NewPatientDialog.ask(self.ctx, self.window(), typed)
        if new_id is None:
            self.edit.setFocus()
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: patients.patient_header(db, actor, new_id),
            on_success=lambda rec: self._pick(
                rec.id, f"{rec.form.last_name}, {rec.form.first_name}"
            ),
            owner=self,
        )
