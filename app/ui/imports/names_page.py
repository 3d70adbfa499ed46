"""The import's third step, for appointments: the providers, rooms and services the file
names, each matched to one of this clinic's — a name written the same way (whatever its case,
with or without the provider's title) is preselected; any other is the user's choice, or
its rows are refused.  And whether appointments that clash go in as double bookings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.ui import ops
from app.ui.imports.choices import CHECK
from app.ui.imports.field_combo import FieldCombo

if TYPE_CHECKING:
    from app.services.imports.names import NameMatches
    from app.ui.imports.import_wizard import ImportWizard

REJECT_THEM = "— reject these rows —"
#: Each named field's heading.
HEADINGS = {"provider": "Providers", "room": "Rooms", "service": "Services"}


class NamesPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Providers, rooms and services")
        self.setSubTitle(
            "The names the file uses, and who or what each is in CareDesk. Appointments "
            f"whose name is left at “{REJECT_THEM}” are not imported."
        )
        self.ctx = wizard.ctx
        self.choices = wizard.choices
        self._built_for: tuple | None = None
        self._generation = 0
        self.loading = False
        #: field → file's name → its chooser.
        self.combos: dict[str, dict[str, QComboBox]] = {}

        self.grid_host = QWidget()
        self.grid_host.setObjectName("namesGrid")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(6)
        self.grid.setColumnStretch(0, 1)
        self.grid.setColumnStretch(1, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self.scroll.setWidget(self.grid_host)
        self.status_label = QLabel()
        self.status_label.setObjectName("fieldHint")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.double_book_check = QCheckBox("Import appointments that &clash as double bookings")
        self.double_book_check.setObjectName("importDoubleBook")
        clash_hint = QLabel(
            "Left unticked, an appointment at a time its provider or room is already taken "
            "is not imported: the check lists each one."
        )
        clash_hint.setObjectName("fieldHint")
        clash_hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.double_book_check)
        layout.addWidget(clash_hint)

    def initializePage(self) -> None:
        from app.services.imports.mappings import mapped_rows
        from app.services.imports.names import match_names

        source, mapping = self.choices.file, self.choices.mapping
        assert source is not None and mapping is not None
        key = (source.sha256, source.sheet, tuple(sorted(mapping.columns.items())))
        if key == self._built_for:
            return
        self._built_for = key
        self._clear()
        self.loading = True
        self.status_label.setText("Finding the names in the file…")
        self._generation += 1
        generation = self._generation
        db, actor = self.ctx.db, self.ctx.actor
        self.completeChanged.emit()
        ops.run_query(
            lambda: match_names(db, actor, mapped_rows(source, mapping)),
            on_success=lambda matches: self._on_matched(generation, matches),
            on_failure=lambda exc: self._on_match_failed(generation, exc),
            owner=self,
        )

    def _clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.combos = {}

    def _on_matched(self, generation: int, matches: NameMatches) -> None:
        if generation != self._generation:
            return
        self.loading = False
        row = 0
        first: QComboBox | None = None
        for what, names in matches.names.items():
            heading = QLabel(HEADINGS.get(what, what.title()))
            heading.setStyleSheet("font-weight: 600;")
            in_file = QLabel("In the file")
            in_file.setObjectName("fieldHint")
            in_care = QLabel("In CareDesk")
            in_care.setObjectName("fieldHint")
            if row:
                self.grid.setRowMinimumHeight(row, 10)
                row += 1
            self.grid.addWidget(heading, row, 0, 1, 2)
            row += 1
            self.grid.addWidget(in_file, row, 0)
            self.grid.addWidget(in_care, row, 1)
            row += 1
            self.combos[what] = {}
            for name, matched in names.items():
                label = QLabel(name)
                label.setTextFormat(Qt.TextFormat.PlainText)
                combo = FieldCombo()
                combo.setObjectName(f"names_{what}")
                combo.setAccessibleName(f"CareDesk's {what} for {name}")
                combo.addItem(REJECT_THEM, None)
                for choice in matches.choices.get(what, ()):
                    text = choice.label if choice.is_active else f"{choice.label} (inactive)"
                    combo.addItem(text, choice.id)
                combo.setCurrentIndex(max(0, combo.findData(matched)) if matched else 0)
                self.grid.addWidget(label, row, 0)
                self.grid.addWidget(combo, row, 1)
                self.combos[what][name] = combo
                first = first or combo
                row += 1
        self.grid.setRowStretch(row, 1)
        if not self.combos:
            self.status_label.setText("The file names no providers, rooms or services.")
        else:
            unmatched = sum(
                not c.currentIndex() for combos in self.combos.values() for c in combos.values()
            )
            self.status_label.setText(
                "Every name matched one of CareDesk's: check them, then go on."
                if not unmatched
                else f"{unmatched:,} name{'' if unmatched == 1 else 's'} matched nothing in "
                "CareDesk: choose who or what each is, or leave its rows out."
            )
        if first is not None:
            first.setFocus()
        self.completeChanged.emit()

    def _on_match_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self._built_for = None
        self.status_label.setText(ops.user_message(exc))
        self.completeChanged.emit()

    def combo_for(self, what: str, name: str) -> QComboBox:
        return self.combos[what][name]

    def isComplete(self) -> bool:
        return not self.loading and self._built_for is not None

    def validatePage(self) -> bool:
        self.choices.names = {
            what: {name: combo.currentData() for name, combo in combos.items()}
            for what, combos in self.combos.items()
        }
        self.choices.double_book = self.double_book_check.isChecked()
        return True

    def nextId(self) -> int:
        return CHECK
