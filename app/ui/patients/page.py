"""The Patients page: find a patient in a keystroke, the recent ones, insurance to verify."""

from __future__ import annotations

import html
import re
from datetime import date

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.search import PatientHit
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.search_model import PatientSearchModel, birth_date_text
from app.ui.patients.verification_queue import VerificationQueue
from app.ui.widgets.row_table import list_table

#: Typing pauses this long before the search runs (each keystroke restarts the wait).
SEARCH_DELAY_MS = 25
RECENT_LIMIT = 15
_NAME_LIKE = re.compile(r"^[^\W\d_][\w\s'’.\-]*$")


def looks_like_name(text: str) -> bool:
    """Letters (any script), spaces, apostrophes, dots and hyphens: worth pre-filling a name."""
    return bool(_NAME_LIKE.fullmatch(text.strip()))


class SearchEdit(QLineEdit):
    """The search box: Down moves into the results, Escape clears it."""

    down_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down and not event.modifiers():
            self.down_pressed.emit()
            return
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


class PatientsPage(QWidget):
    """One search box over every patient; recent patients while it is empty."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._recent_generation = 0
        self._open_top_hit_when_loaded = False
        self._search_failed = ""

        title = QLabel("Patients")
        title.setObjectName("pageTitle")
        self.merge_button = QPushButton("&Merge two records…")
        self.merge_button.setObjectName("mergePatients")
        self.merge_button.setToolTip(
            "Select two patients in the results (Ctrl+click) who are the same person."
        )
        self.merge_button.setEnabled(False)
        self.new_button = QPushButton("&New patient…")
        self.new_button.setObjectName("primaryButton")
        self.new_button.setToolTip("Add a patient (Ctrl+N)")

        self.search_edit = SearchEdit()
        self.search_edit.setObjectName("patientSearch")
        self.search_edit.setPlaceholderText(
            "Find a patient by name, phone, email, date of birth or chart #"
        )
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(200)
        self.search_edit.setMinimumHeight(34)
        self.search_edit.setStyleSheet("QLineEdit#patientSearch { font-size: 12pt; }")
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)

        self.status_label = QLabel()
        self.status_label.setObjectName("searchStatus")
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.status_label.setOpenExternalLinks(False)
        self.status_label.setStyleSheet("QLabel#searchStatus { color: #24333a; font-weight: 600; }")

        self.results_model = PatientSearchModel(self._search, self._birth_date, parent=self)
        self.results_table = self._patient_table(self.results_model, "patientResults")
        if ctx.allows(Permission.MERGE_PATIENTS):
            self.results_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.recent_model = PatientSearchModel(None, self._birth_date, parent=self)
        self.recent_table = self._patient_table(self.recent_model, "recentPatients")
        self.empty_label = QLabel()
        self.empty_label.setObjectName("patientsEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setStyleSheet("QLabel#patientsEmpty { color: #5d6b72; padding: 32px; }")
        self.results_stack = QStackedWidget()
        for widget in (self.recent_table, self.results_table, self.empty_label):
            self.results_stack.addWidget(widget)

        find_tab = QWidget()
        find_layout = QVBoxLayout(find_tab)
        find_layout.setContentsMargins(0, 12, 0, 0)
        find_layout.setSpacing(8)
        find_layout.addWidget(self.search_edit)
        find_layout.addWidget(self.status_label)
        find_layout.addWidget(self.results_stack, 1)

        self.queue = VerificationQueue(ctx)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("patientsTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(find_tab, "&Find a patient")
        self.tabs.addTab(self.queue, "&Insurance to verify")

        header = QHBoxLayout()
        header.setSpacing(8)
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.merge_button)
        header.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.setSpacing(12)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        self.merge_button.setVisible(ctx.allows(Permission.MERGE_PATIENTS))
        self.new_button.setVisible(ctx.allows(Permission.EDIT_PATIENTS))

        self.find_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.new_shortcut = QShortcut(QKeySequence("Ctrl+N"), self)
        for shortcut in (self.find_shortcut, self.new_shortcut):
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QWidget.setTabOrder(self.search_edit, self.results_table)
        QWidget.setTabOrder(self.results_table, self.recent_table)

        self._connect_signals()
        self._show_recent_view()
        self.reload_recent()

    def _patient_table(self, model: PatientSearchModel, name: str) -> QTableView:
        table = list_table(model, name)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # Cells start where the header's titles do (the header has 8px of padding).
        table.setStyleSheet("QTableView::item { padding-left: 5px; }")
        table.verticalHeader().setDefaultSectionSize(30)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        # The name takes whatever width is left, so the list never scrolls sideways.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        for column, width in enumerate((0, 140, 130, 220, 90, 120)):
            if column:
                table.setColumnWidth(column, width)
        return table

    def _connect_signals(self) -> None:
        self.search_edit.textChanged.connect(self.on_search_text_changed)
        self.search_edit.returnPressed.connect(self.on_search_return_pressed)
        self.search_edit.down_pressed.connect(self.on_search_down_pressed)
        self.search_timer.timeout.connect(self.on_search_timer_timeout)
        self.results_model.loaded.connect(self.on_results_loaded)
        self.results_model.failed.connect(self.on_results_failed)
        self.results_table.activated.connect(self.on_results_activated)
        self.results_table.selectionModel().selectionChanged.connect(
            self.on_results_selection_changed
        )
        self.results_model.modelReset.connect(self.on_results_model_reset)
        self.recent_table.activated.connect(self.on_recent_activated)
        self.status_label.linkActivated.connect(self.on_status_link_activated)
        self.new_button.clicked.connect(self.on_new_patient_clicked)
        self.merge_button.clicked.connect(self.on_merge_clicked)
        self.find_shortcut.activated.connect(self.on_find_activated)
        self.new_shortcut.activated.connect(self.on_new_patient_clicked)
        self.queue.count_changed.connect(self.on_queue_count_changed)
        self.queue.patient_requested.connect(self.open_patient)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def _search(self, query: str, offset: int, limit: int) -> list[PatientHit]:
        """Runs on a worker thread (through the model): one page of hits."""
        from app.services.patients import search as patient_search

        return patient_search.search_patients(
            self.ctx.db, self.ctx.actor, query, limit=limit, offset=offset
        )

    def _birth_date(self, born: date | None) -> str:
        details = self.ctx.details
        return birth_date_text(born, details.locale, details.timezone)

    def reload_recent(self) -> None:
        from app.services.patients import search as patient_search

        self._recent_generation += 1
        generation = self._recent_generation
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: patient_search.recent_patients(db, actor, limit=RECENT_LIMIT),
            on_success=lambda rows: self._on_recent_loaded(generation, rows),
            on_failure=lambda exc: self._on_recent_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_recent_loaded(self, generation: int, rows: list[PatientHit]) -> None:
        if generation != self._recent_generation:
            return
        self.recent_model.set_rows(rows)
        if not self.query():
            self._show_recent_view()

    def _on_recent_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._recent_generation and not self.query():
            self.empty_label.setText(ops.user_message(exc))
            self.results_stack.setCurrentWidget(self.empty_label)

    def query(self) -> str:
        return self.search_edit.text().strip()

    def open_patient(self, patient_id: int) -> None:
        """Open (or raise) the patient's record window."""
        from app.ui.patients import windows

        hit = next((h for h in self.results_model.hits if h.id == patient_id), None)
        hit = hit or next((h for h in self.recent_model.hits if h.id == patient_id), None)
        windows.open_patient_record(self.ctx, patient_id, self)
        if hit is not None:
            # Shown at the top of Recent at once; the service's list follows on the next reload.
            others = [h for h in self.recent_model.hits if h.id != patient_id]
            self.recent_model.set_rows([hit, *others][:RECENT_LIMIT])

    # --- what the list area shows -------------------------------------------------------------

    def _show_recent_view(self) -> None:
        if self.recent_model.rowCount():
            self.status_label.setText("Recent patients — the ones you opened lately")
            self.results_stack.setCurrentWidget(self.recent_table)
        else:
            self.status_label.setText("")
            self.empty_label.setText(
                "Type a name, phone number, email, date of birth or chart number to find a "
                "patient. The patients you open will be listed here."
            )
            self.results_stack.setCurrentWidget(self.empty_label)

    def _show_results(self) -> None:
        query = self.query()
        count = self.results_model.rowCount()
        if self.results_model.loading and not count:
            self.status_label.setText("Searching…")
            return
        if self._search_failed:
            self.status_label.setText(html.escape(self._search_failed))
            self.results_stack.setCurrentWidget(self.empty_label)
            self.empty_label.setText("")
            return
        if count == 0:
            quoted = html.escape(query)
            new_link = (
                ' — <a href="new">New patient…</a>'
                if self.ctx.allows(Permission.EDIT_PATIENTS)
                else ""
            )
            self.status_label.setText(f"No patient matches “{quoted}”{new_link}")
            self.empty_label.setText(
                "Check the spelling, or try a phone number, date of birth or chart number."
            )
            self.results_stack.setCurrentWidget(self.empty_label)
            return
        if self.results_model.exhausted:
            noun = "patient matches" if count == 1 else "patients match"
            self.status_label.setText(f"{count} {noun}")
        else:
            self.status_label.setText(
                f"More than {count} patients match — scroll for more, or type more to narrow"
            )
        self.results_stack.setCurrentWidget(self.results_table)

    # --- slots --------------------------------------------------------------------------------

    @Slot(str)
    def on_search_text_changed(self, text: str) -> None:
        if not text.strip():  # cleared (the clear button, Escape, or by code)
            self.search_timer.stop()
            self._open_top_hit_when_loaded = False
            self.results_model.set_query("")
            self._show_recent_view()
        else:
            self.search_timer.start()  # each keystroke restarts the short wait

    @Slot()
    def on_search_timer_timeout(self) -> None:
        query = self.query()
        if query == self.results_model.query:
            return
        self._search_failed = ""
        self.results_model.set_query(query)
        if query:
            self._show_results()
        else:
            self._show_recent_view()

    @Slot()
    def on_results_loaded(self) -> None:
        if not self.query():
            return
        self._show_results()
        if self._open_top_hit_when_loaded and not self.results_model.loading:
            self._open_top_hit_when_loaded = False
            self._open_top_hit()

    @Slot(object)
    def on_results_failed(self, exc: BaseException) -> None:
        self._open_top_hit_when_loaded = False
        self._search_failed = ops.user_message(exc)
        self._show_results()

    def _open_top_hit(self) -> None:
        top = self.results_model.row_at(0)
        if top is not None:
            self.open_patient(top.id)

    @Slot()
    def on_search_return_pressed(self) -> None:
        query = self.query()
        if not query:
            top = self.recent_model.row_at(0)
            if top is not None:
                self.open_patient(top.id)
            return
        if self.search_timer.isActive() or query != self.results_model.query:
            self.search_timer.stop()
            self.on_search_timer_timeout()
        if self.results_model.loading and not self.results_model.rowCount():
            self._open_top_hit_when_loaded = True  # Enter typed before the results came
            return
        self._open_top_hit()

    @Slot()
    def on_search_down_pressed(self) -> None:
        table = self.results_stack.currentWidget()
        if not isinstance(table, QTableView) or not table.model().rowCount():
            return
        table.setFocus()
        table.selectRow(0)
        table.setCurrentIndex(table.model().index(0, 0))

    @Slot(QModelIndex)
    def on_results_activated(self, index: QModelIndex) -> None:
        hit = self.results_model.row_at(index.row())
        if hit is not None:
            self.open_patient(hit.id)

    @Slot(QModelIndex)
    def on_recent_activated(self, index: QModelIndex) -> None:
        hit = self.recent_model.row_at(index.row())
        if hit is not None:
            self.open_patient(hit.id)

    def selected_hits(self) -> list[PatientHit]:
        rows = sorted(i.row() for i in self.results_table.selectionModel().selectedRows())
        return [hit for r in rows if (hit := self.results_model.row_at(r)) is not None]

    @Slot(QItemSelection, QItemSelection)
    def on_results_selection_changed(self, _selected, _deselected) -> None:
        self._update_merge_button()

    @Slot()
    def on_results_model_reset(self) -> None:
        self._update_merge_button()

    def _update_merge_button(self) -> None:
        self.merge_button.setEnabled(len(self.selected_hits()) == 2)

    @Slot(str)
    def on_status_link_activated(self, link: str) -> None:
        if link == "new":
            self.on_new_patient_clicked()

    @Slot()
    def on_new_patient_clicked(self) -> None:
        if not self.ctx.allows(Permission.EDIT_PATIENTS):
            return
        from app.ui.patients.new_patient import NewPatientDialog

        typed = self.query()
        initial = typed if looks_like_name(typed) else ""
        patient_id = NewPatientDialog.ask(self.ctx, self, initial_name=initial)
        if patient_id is not None:
            self.open_patient(patient_id)

    @Slot()
    def on_merge_clicked(self) -> None:
        hits = self.selected_hits()
        if len(hits) != 2 or not self.ctx.allows(Permission.MERGE_PATIENTS):
            return
        from app.ui.patients.merge_dialog import MergeDialog

        MergeDialog.ask(self.ctx, self, hits[0], hits[1])

    @Slot()
    def on_find_activated(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    @Slot(int)
    def on_queue_count_changed(self, count: int) -> None:
        title = f"&Insurance to verify ({count})" if count else "&Insurance to verify"
        self.tabs.setTabText(self.tabs.indexOf(self.queue), title)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if not changes.patients:
            return
        self.results_model.refresh()
        self.reload_recent()

    # --- events -------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.tabs.currentIndex() == 0:
            self.search_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            self.search_edit.selectAll()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # Back from a record window: the patient just opened belongs at the top of Recent.
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.reload_recent()
