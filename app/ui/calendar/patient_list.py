"""What the desk's call lists share: the confirmation list and the recall list.

Each is a page with a title, a table of lines (one per visit or per patient) that
loads in the background, a sentence when the table is empty, *Open record* (or a
double-click), and a reload whenever appointments or patients change.  The pages
add their own filters, call buttons and wording.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.ui import ops
from app.ui.context import UiContext
from app.ui.messages.pick_several import pick_several_table
from app.ui.widgets.row_table import (
    Column,
    RowTableModel,
    empty_state_label,
    set_column_widths,
)

RED = "#b3261e"
GREEN = "#1e7d32"
#: How a logged call went, in the words of a list's cells.
OUTCOME_WORDS = {
    "reached": "reached",
    "confirmed": "confirmed",
    "left_message": "left message",
    "no_answer": "no answer",
    "wrong_number": "wrong number",
}


class PatientListPage(QWidget):
    """A call list: subclasses give ``columns()``, and ``fetch()`` and ``show_rows(rows)``
    for a list read whole — or, for a list read a page at a time (a lazy ``model_class``),
    their own ``reload()``.

    Calls are logged one line at a time; "Send message…" goes to every line selected
    (Shift/Ctrl+click), in the words of the page's ``message_kind`` unless changed."""

    #: The kind of message "Send message…" starts with.
    message_kind = "custom"

    #: Emitted after each load with the number of lines still to act on.
    count_changed = Signal(int)
    #: The table model's class (a subclass may add tooltips).
    model_class: type[RowTableModel] = RowTableModel

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        title: str,
        table_name: str,
        widths: tuple[int, ...],
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._generation = 0

        self.title_label = QLabel(title, self)
        self.title_label.setObjectName("pageTitle")
        self.title_label.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.count_label = QLabel(self)
        self.count_label.setStyleSheet("font-weight: 600;")

        self.model = self.model_class(self.columns(), parent=self)
        # Several lines may be picked for one message; the call buttons want exactly one.
        self.table = pick_several_table(self.model, table_name)
        self.table.setParent(self)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        set_column_widths(self.table, widths)
        self.empty_label = empty_state_label()
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.open_button = QPushButton("Open &record", self)
        self.open_button.setObjectName("openRecordButton")
        self.send_button = QPushButton("Send &message…", self)
        self.send_button.setObjectName("sendMessageButton")
        self.send_button.setToolTip(
            "Send a text or an e-mail to the patients selected (Shift or Ctrl+click for several)"
        )
        self.send_button.setVisible(ctx.allows(Permission.SEND_MESSAGES))
        self.send_button.setEnabled(False)
        #: What the last "Send message…" queued (and skipped).
        self.sent_label = QLabel(self)
        self.sent_label.setObjectName("messageSentNote")
        self.sent_label.setTextFormat(Qt.TextFormat.PlainText)
        self.sent_label.setStyleSheet("color: #6b7280;")
        #: The Send message dialog last opened (tests read what it sent).
        self.send_dialog = None

    def lay_out(self, top_bar: QHBoxLayout, actions: QHBoxLayout) -> None:
        """The page: title and the page's filters, the table, the actions and Open record."""
        top_bar.insertWidget(0, self.title_label)
        top_bar.insertSpacing(1, 16)
        top_bar.addStretch(1)
        top_bar.addWidget(self.count_label)
        actions.addWidget(self.send_button)
        actions.addWidget(self.sent_label, 1)
        actions.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top_bar)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)
        self._connect_list_signals()
        self.update_buttons()
        self.reload()

    def _connect_list_signals(self) -> None:
        self.table.doubleClicked.connect(self.on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(
            lambda _selected, _deselected: self._update_all_buttons()
        )
        self.model.modelReset.connect(self._update_all_buttons)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.send_button.clicked.connect(self.on_send_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- what a page says ------------------------------------------------------------------------

    def columns(self) -> list[Column]:
        raise NotImplementedError

    def fetch(self) -> Callable[[], list]:
        """The service call (run on a worker) that returns the lines, with today's filters."""
        raise NotImplementedError

    def show_rows(self, rows: list) -> None:
        raise NotImplementedError

    def update_buttons(self) -> None:
        self.open_button.setEnabled(self.current_line() is not None)

    # --- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Load the lines again; an answer to an older request is dropped."""
        self._generation += 1
        generation = self._generation
        ops.run_query(
            self.fetch(),
            on_success=lambda rows: self._on_loaded(generation, rows),
            on_failure=lambda exc: self._on_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_loaded(self, generation: int, rows: list) -> None:
        if generation == self._generation:
            self.show_rows(rows)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.model.set_rows([])
        self.count_label.setText("")
        self.empty_label.setText(ops.user_message(exc))
        self.stack.setCurrentWidget(self.empty_label)

    def rows(self) -> list:
        return [self.model.row_at(r) for r in range(self.model.rowCount())]

    def selected_lines(self) -> list:
        from app.ui.messages.send_dialog import selected_lines

        return selected_lines(self.table)

    def current_line(self):
        """The one line selected (None when none, or several: a call is about one patient)."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if len(rows) == 1 else None

    def _update_all_buttons(self) -> None:
        self.update_buttons()
        self.send_button.setEnabled(self.table.selectionModel().hasSelection())

    # --- slots -----------------------------------------------------------------------------------

    @Slot(QModelIndex)
    def on_table_double_clicked(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is not None:
            self.open_record(line.patient_id)

    @Slot()
    def on_open_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            self.open_record(line.patient_id)

    @Slot()
    def on_send_clicked(self) -> None:
        from app.ui.messages.send_dialog import result_sentence, send_to_lines

        self.send_dialog = send_to_lines(
            self.ctx, self, self.selected_lines(), kind=self.message_kind
        )
        if self.send_dialog is not None and self.send_dialog.sent is not None:
            self.sent_label.setText(
                result_sentence(self.send_dialog.sent, self.send_dialog.sent_by)
            )

    def open_record(self, patient_id: int) -> None:
        from app.ui.patients import windows

        windows.open_patient_record(self.ctx, patient_id)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.appointments or changes.patients:
            self.reload()
