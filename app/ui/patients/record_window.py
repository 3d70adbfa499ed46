"""The record window of one patient: the header, then the tabs (built when first selected).

Opening paints the header and the Details tab only; the other tabs' modules are
imported and built the first time the user selects them, so a record opens fast
on a large database.  The opening itself is audited (``open_patient``); later
refreshes are not.  Closing asks about every built tab with unsaved edits.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from app.services.patients import records as patients
from app.services.patients.records import PatientRecord
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.details_tab import DetailsTab
from app.ui.patients.record_header import RecordHeader
from app.ui.patients.record_tabs import RECORD_TABS, RecordTab, TabSpec
from app.ui.widgets.messages import show_warning
from app.ui.widgets.screen_fit import resize_within_screen

GEOMETRY_KEY = "patientRecord/geometry"


def tab_key(number: int) -> str:
    """The digit that selects the ``number``-th tab with Ctrl: 1–9, then 0 for the tenth."""
    return str(number % 10)


class UnsavedChangesDialog:
    """Save / Discard / Cancel for one tab with unsaved edits."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"

    @classmethod
    def ask(cls, parent: QWidget | None, tab_title: str, patient_name: str) -> str:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Unsaved changes")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(f"Save your changes to {tab_title} of {patient_name} before closing?")
        box.setInformativeText("If you discard them, what you typed is lost.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return cls.SAVE
        if answer == QMessageBox.StandardButton.Discard:
            return cls.DISCARD
        return cls.CANCEL


class PatientRecordWindow(QWidget):
    """One patient's record in its own top-level window (several may be open)."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.patient_id = patient_id
        self.record: PatientRecord | None = None
        self._may_close = False
        self._pending_saves = 0
        self._failed_save = False
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("patientRecordWindow")
        self.setWindowTitle("Patient record — CareDesk")
        # Ask for the record first: the query runs while the widgets below are built.
        self._open()

        # Children are made inside their parents (top-down): re-parenting a finished tree
        # under the style sheet costs a second styling pass, and the record must open fast.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.header = RecordHeader(ctx, patient_id, self)
        self.tab_widget = QTabWidget(self)
        self.tab_widget.setObjectName("recordTabs")
        self.tab_widget.setDocumentMode(True)
        self.specs: list[TabSpec] = [s for s in RECORD_TABS if ctx.allows(s.permission)]
        #: Tabs built so far, by key (the Details tab from the start).
        self.tabs: dict[str, RecordTab] = {}
        self._containers: list[QWidget] = []
        for number, spec in enumerate(self.specs, start=1):
            container = QWidget(self.tab_widget)
            container.setObjectName(f"{spec.key}Page")
            box = QVBoxLayout(container)
            box.setContentsMargins(0, 0, 0, 0)
            self._containers.append(container)
            self.tab_widget.addTab(container, spec.title)
            if number <= 10:
                self.tab_widget.setTabToolTip(number - 1, f"{spec.title} (Ctrl+{tab_key(number)})")
        self.details: DetailsTab = DetailsTab(ctx, patient_id, self._containers[0], autoload=False)
        if "details" in [s.key for s in self.specs]:
            self._place("details", self.details)

        layout.addWidget(self.header)
        layout.addWidget(self.tab_widget, 1)

        self._make_shortcuts()
        self._connect_signals()
        self._restore_geometry()
        self.tab_widget.tabBar().setFocus()

    def _make_shortcuts(self) -> None:
        for number in range(1, min(len(self.specs), 10) + 1):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{tab_key(number)}"), self)
            shortcut.activated.connect(lambda n=number: self.tab_widget.setCurrentIndex(n - 1))
        QShortcut(QKeySequence.StandardKey.Save, self).activated.connect(self.on_save_shortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.close)
        QShortcut(QKeySequence("Ctrl+W"), self).activated.connect(self.close)

    def _connect_signals(self) -> None:
        self.tab_widget.currentChanged.connect(self.on_tab_changed)
        self.header.record_shown.connect(self.on_record_shown)

    def _restore_geometry(self) -> None:
        geometry = QSettings().value(GEOMETRY_KEY)
        if geometry is None or not self.restoreGeometry(geometry):
            resize_within_screen(self, 1100, 750)

    # --- loading --------------------------------------------------------------------------------

    def _open(self) -> None:
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: patients.open_patient(db, actor, patient_id),
            on_success=self.on_record_opened,
            on_failure=self.on_open_failed,
            owner=self,
        )

    def on_record_opened(self, record: PatientRecord) -> None:
        self.header.set_record(record)
        self.details.set_record(record)

    def on_open_failed(self, exc: BaseException) -> None:
        self.header.name_label.setText("This patient record could not be opened.")
        self.tab_widget.setEnabled(False)
        show_warning(self, ops.user_message(exc))

    @Slot(object)
    def on_record_shown(self, record: PatientRecord) -> None:
        self.record = record
        self.setWindowTitle(f"{record.form.last_name}, {record.form.first_name} — CareDesk")

    def patient_name(self) -> str:
        if self.record is None:
            return "this patient"
        return f"{self.record.form.first_name} {self.record.form.last_name}"

    # --- tabs -----------------------------------------------------------------------------------

    def _place(self, key: str, tab: QWidget) -> None:
        index = [s.key for s in self.specs].index(key)
        container = self._containers[index]
        layout = container.layout()
        assert layout is not None
        layout.addWidget(tab)
        if isinstance(tab, RecordTab):
            self.tabs[key] = tab

    def show_part(self, part: str) -> None:
        """ "intake": preview the pre-filled intake form; any other: that tab (if the role
        has it)."""
        if part == "intake":
            self.header.print_intake(blank=False)
            return
        index = self.tab_index(part)
        if index >= 0:
            self.tab_widget.setCurrentIndex(index)

    def tab_index(self, key: str) -> int:
        keys = [s.key for s in self.specs]
        return keys.index(key) if key in keys else -1

    @Slot(int)
    def on_tab_changed(self, index: int) -> None:
        if not 0 <= index < len(self.specs):
            return
        spec = self.specs[index]
        if spec.key in self.tabs or self._containers[index].layout().count():
            return
        try:
            tab_class = spec.load()
            tab = tab_class(self.ctx, self.patient_id, self._containers[index])
        except Exception as exc:  # a broken tab must not take the record down with it
            from app.ui import crash

            crash.report(exc)
            message = QLabel(
                f"The {spec.title} tab could not be shown. "
                "The details were written to CareDesk's log."
            )
            message.setObjectName("fieldError")
            message.setWordWrap(True)
            message.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._place(spec.key, message)
            return
        self._place(spec.key, tab)
        self._note_viewed(spec.title)

    def _note_viewed(self, part: str) -> None:
        """A tab built is a part of the record shown: audited once per opening of the
        window (the tab stays built; switching back to it is not a new look)."""
        from app.services.patients import records

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_write(lambda: records.note_record_viewed(db, actor, patient_id, part), owner=self)

    def current_tab(self) -> RecordTab | None:
        index = self.tab_widget.currentIndex()
        if not 0 <= index < len(self.specs):
            return None
        return self.tabs.get(self.specs[index].key)

    @Slot()
    def on_save_shortcut(self) -> None:
        tab = self.current_tab()
        save = getattr(tab, "save", None)
        if callable(save):
            save()

    # --- closing --------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._may_close or self._ready_to_close():
            self._may_close = True
            self._save_geometry()
            super().closeEvent(event)
            return
        event.ignore()

    def _ready_to_close(self) -> bool:
        """Ask about unsaved edits; True to close now, False to stay (or wait for a save)."""
        if self._pending_saves:
            return False  # a save asked for on close is on its way
        titles = {s.key: s.title for s in self.specs}
        to_save: list[RecordTab] = []
        for key, tab in self.tabs.items():
            if not tab.has_unsaved_changes():
                continue
            answer = UnsavedChangesDialog.ask(self, titles[key], self.patient_name())
            if answer == UnsavedChangesDialog.CANCEL:
                return False
            if answer == UnsavedChangesDialog.DISCARD:
                tab.discard_changes()
            else:
                to_save.append(tab)
        waiting = [t for t in to_save if hasattr(t, "save_for_close")]
        for tab in self.tabs.values():
            if tab in waiting:
                continue
            if not tab.save_before_close():
                show_warning(self, "Something could not be saved, so the record stays open.")
                return False
        if not waiting:
            return True
        self._pending_saves = len(waiting)
        self._failed_save = False
        for tab in waiting:
            tab.save_for_close(self.on_close_save_done)
        return False

    def on_close_save_done(self, ok: bool) -> None:
        self._pending_saves -= 1
        self._failed_save = self._failed_save or not ok
        if self._pending_saves == 0 and not self._failed_save:
            self._close_now()

    def _close_now(self) -> None:
        self._may_close = True
        self.close()

    def _save_geometry(self) -> None:
        QSettings().setValue(GEOMETRY_KEY, self.saveGeometry())
