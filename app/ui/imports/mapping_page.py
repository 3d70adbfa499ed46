"""The import's second step: which CareDesk field each column of the file fills.

One line per column of the file: its header, its first values, and the field (or "— not
imported —").  The mapping last used for the same system and kind is offered again, else
the one guessed from the headers.  What keeps the mapping from being used is said as it
changes, and Next waits until nothing does.  When a date column holds a date that reads two
ways (03/04/2020), the order is asked for — with the file's own example — never guessed.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app import i18n
from app.ui import ops
from app.ui.imports.choices import CHECK, NAMES
from app.ui.imports.field_combo import FieldCombo

if TYPE_CHECKING:
    from app.services.imports.mappings import ColumnMapping
    from app.services.imports.sources import SourceFile
    from app.ui.imports.import_wizard import ImportWizard

NOT_IMPORTED = "— not imported —"
#: How many of a column's first values are shown as its sample.
SAMPLES = 3
SAMPLE_WIDTH = 300


def sample_text(source: SourceFile, index: int) -> str:
    """The column's first few filled values, as the file has them."""
    values: list[str] = []
    for row in source.rows[:200]:
        cell = row.cells[index] if index < len(row.cells) else ""
        if cell:
            values.append(cell)
            if len(values) == SAMPLES:
                break
    return "  ·  ".join(values)


def reading_of(cell: str, order: str, today: date, locale: str) -> str:
    """ "05/06/1980 → May 6, 1980", or that this order cannot read it."""
    from app.services.imports.values import parse_date

    try:
        day = parse_date(cell, order, today=today)
    except ValueError:
        return f"{cell} cannot be read this way"
    return f"{cell} → {i18n.format_date(day, locale, 'long')}"


class MappingPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("The columns")
        self.setSubTitle(
            "Which CareDesk field each column of the file fills. Columns left at "
            f"“{NOT_IMPORTED}” are not read."
        )
        self.ctx = wizard.ctx
        self.choices = wizard.choices
        #: (file sha256, sheet, kind, source) the lines below were made for.
        self._built_for: tuple | None = None
        self._generation = 0
        self._date_generation = 0
        self.loading = False
        self.checking_dates = False
        #: A cell of the mapped date columns that reads two ways, or None.
        self.ambiguous: str | None = None
        self._date_columns: tuple[int, ...] = ()
        self.problems: list[str] = []
        self.combos: list[QComboBox] = []

        self.grid_host = QWidget()
        self.grid_host.setObjectName("mappingGrid")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(6)
        self.grid.setColumnStretch(1, 1)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("mappingScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self.scroll.setWidget(self.grid_host)
        self.scroll.setMinimumHeight(200)

        self.problems_label = QLabel()
        self.problems_label.setObjectName("fieldError")
        self.problems_label.setWordWrap(True)
        self.problems_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problems_label.hide()

        self.date_box = QGroupBox("How does the file write its dates?")
        self.date_box.setObjectName("dateOrderBox")
        self.date_intro = QLabel()
        self.date_intro.setWordWrap(True)
        self.date_intro.setTextFormat(Qt.TextFormat.PlainText)
        self.date_group = QButtonGroup(self)
        self.date_radios: dict[str, QRadioButton] = {}
        box = QVBoxLayout(self.date_box)
        box.addWidget(self.date_intro)
        from app.services.imports.common import DATE_ORDERS

        for number, (order, sentence) in enumerate(DATE_ORDERS.items(), 1):
            radio = QRadioButton(sentence)
            radio.setObjectName(f"dateOrder{order}")
            radio.setProperty("sentence", f"&{number}  {sentence}")
            self.date_group.addButton(radio)
            self.date_radios[order] = radio
            box.addWidget(radio)
        self.date_box.hide()
        self.dates_label = QLabel("Checking the dates in the file…")
        self.dates_label.setObjectName("fieldHint")
        self.dates_label.hide()

        self.remember_check = QCheckBox()
        self.remember_check.setObjectName("rememberMapping")
        self.remember_check.setChecked(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.dates_label)
        layout.addWidget(self.date_box)
        layout.addWidget(self.remember_check)
        self.date_group.buttonToggled.connect(self.on_date_order_toggled)

    # --- building the lines -------------------------------------------------------------------

    def initializePage(self) -> None:
        source = self.choices.file
        assert source is not None
        self.remember_check.setText(f"&Remember this mapping for {self.choices.source}")
        key = (source.sha256, source.sheet, self.choices.kind, self.choices.source)
        if key == self._built_for:
            return  # back and forth: the lines keep what was chosen
        self._built_for = key
        self._clear()
        self.loading = True
        self._generation += 1
        generation = self._generation
        db, actor = self.ctx.db, self.ctx.actor
        kind, system = self.choices.kind, self.choices.source
        self.completeChanged.emit()

        def offered() -> ColumnMapping:
            from app.services.imports.mappings import guess_mapping, remembered_mapping

            remembered = remembered_mapping(db, actor, system, kind, source)
            if remembered is not None and remembered.columns:
                return remembered
            return guess_mapping(kind, source, system)

        ops.run_query(
            offered,
            on_success=lambda mapping: self._on_offered(generation, mapping),
            on_failure=lambda exc: self._on_offer_failed(generation, exc),
            owner=self,
        )

    def _clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.combos = []
        self.ambiguous = None
        self._date_columns = ()
        self.date_box.hide()
        for radio in self.date_radios.values():
            self.date_group.setExclusive(False)
            radio.setChecked(False)
            self.date_group.setExclusive(True)

    def _on_offered(self, generation: int, mapping: ColumnMapping) -> None:
        from app.services.imports.mappings import FIELDS

        if generation != self._generation:
            return
        self.loading = False
        source = self.choices.file
        assert source is not None
        specs = FIELDS[self.choices.kind]
        for column, title in enumerate(("Column in the file", "First values", "CareDesk field")):
            heading = QLabel(title)
            heading.setStyleSheet("font-weight: 600;")
            self.grid.addWidget(heading, 0, column)
        metrics = self.fontMetrics()
        for index, header in enumerate(source.headers):
            name = QLabel(header)
            name.setTextFormat(Qt.TextFormat.PlainText)
            name.setObjectName("mappingHeader")
            sample = sample_text(source, index)
            shown = metrics.elidedText(sample, Qt.TextElideMode.ElideRight, SAMPLE_WIDTH)
            sample_label = QLabel(shown or "(empty)")
            sample_label.setTextFormat(Qt.TextFormat.PlainText)
            sample_label.setObjectName("mappingSample")
            sample_label.setStyleSheet("color: #5d6b72;")
            sample_label.setToolTip(sample)
            combo = FieldCombo()
            combo.setObjectName(f"mappingField{index}")
            combo.setAccessibleName(f"Field for the column {header}")
            combo.addItem(NOT_IMPORTED, None)
            for spec in specs:
                label = f"{spec.label} (required)" if spec.required else spec.label
                combo.addItem(label, spec.name)
                if spec.help:
                    combo.setItemData(combo.count() - 1, spec.help, Qt.ItemDataRole.ToolTipRole)
            chosen = mapping.field_of(index)
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else 0)
            combo.setMinimumContentsLength(22)
            combo.currentIndexChanged.connect(self.on_field_changed)
            self.grid.addWidget(name, index + 1, 0)
            self.grid.addWidget(sample_label, index + 1, 1)
            self.grid.addWidget(combo, index + 1, 2)
            self.combos.append(combo)
        self.grid.setRowStretch(len(source.headers) + 1, 1)
        if mapping.date_order in self.date_radios:
            self.date_radios[mapping.date_order].setChecked(True)
        self.on_field_changed()
        if self.combos:
            self.combos[0].setFocus()

    def _on_offer_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self._built_for = None
        self.problems = [ops.user_message(exc)]
        self._show_problems()

    # --- the mapping --------------------------------------------------------------------------

    def mapping(self) -> ColumnMapping:
        from app.services.imports.mappings import ColumnMapping

        columns = {
            index: combo.currentData()
            for index, combo in enumerate(self.combos)
            if combo.currentData() is not None
        }
        order = self.date_order() if self.ambiguous is not None else None
        return ColumnMapping(
            source=self.choices.source, kind=self.choices.kind, columns=columns, date_order=order
        )

    def date_order(self) -> str | None:
        return next((o for o, radio in self.date_radios.items() if radio.isChecked()), None)

    def field_combo(self, header: str) -> QComboBox:
        """The field chooser of the file's column named ``header``."""
        source = self.choices.file
        assert source is not None
        return self.combos[source.headers.index(header)]

    @Slot()
    def on_field_changed(self, *_args) -> None:
        source = self.choices.file
        if source is None or self.loading:
            return
        mapping = self.mapping()
        self.problems = mapping.problems(source.headers, source.rows)
        self._show_problems()
        from app.services.imports.mappings import date_columns

        dates = date_columns(mapping)
        if dates != self._date_columns:
            self._date_columns = dates
            self._check_dates(dates)
        self.completeChanged.emit()

    def _show_problems(self) -> None:
        self.problems_label.setText("\n".join(self.problems))
        self.problems_label.setVisible(bool(self.problems))
        self.completeChanged.emit()

    def _check_dates(self, indexes: tuple[int, ...]) -> None:
        self._date_generation += 1
        generation = self._date_generation
        self.ambiguous = None
        self.date_box.hide()
        if not indexes:
            self.checking_dates = False
            self.dates_label.hide()
            return
        self.checking_dates = True
        self.dates_label.show()
        source, today = self.choices.file, self.ctx.today()
        assert source is not None
        from app.services.imports.mappings import ambiguous_date

        ops.run_query(
            lambda: ambiguous_date(source, indexes, today=today),
            on_success=lambda cell: self._on_dates_checked(generation, cell),
            on_failure=lambda exc: self._on_dates_checked(generation, None),
            owner=self,
        )

    def _on_dates_checked(self, generation: int, cell: str | None) -> None:
        if generation != self._date_generation:
            return
        self.checking_dates = False
        self.dates_label.hide()
        self.ambiguous = cell
        if cell is not None:
            today, locale = self.ctx.today(), self.ctx.details.locale
            self.date_intro.setText(
                f"Some dates in the file could be read two ways, like “{cell}”: choose the "
                "order the file writes them in. CareDesk does not guess."
            )
            for order, radio in self.date_radios.items():
                sentence = radio.property("sentence")
                radio.setText(f"{sentence}  —  {reading_of(cell, order, today, locale)}")
        self.date_box.setVisible(cell is not None)
        self.completeChanged.emit()

    @Slot()
    def on_date_order_toggled(self, *_args) -> None:
        self.completeChanged.emit()

    # --- the wizard ---------------------------------------------------------------------------

    def isComplete(self) -> bool:
        if self.loading or self.checking_dates or not self.combos or self.problems:
            return False
        return self.ambiguous is None or self.date_order() is not None

    def validatePage(self) -> bool:
        self.choices.mapping = self.mapping()
        self.choices.remember = self.remember_check.isChecked()
        if self.choices.kind != "appointments":
            # Names chosen for an appointments file before Back changed the kind.
            self.choices.names, self.choices.double_book = {}, False
        return True

    def nextId(self) -> int:
        return NAMES if self.choices.kind == "appointments" else CHECK
