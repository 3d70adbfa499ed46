"""Reports: the owner's month-end, the chosen month beside the month before and the same
month a year earlier.  Figures are worked out in the background (a large clinic's month
reads a few hundred thousand rows); each is defined in docs/reports.md.

So far the money section; the schedule and coordination sections follow (issue 18).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.i18n import spelling
from app.services.changes import Changes
from app.services.reports import period as periods
from app.services.reports.money import MoneyFigures
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

#: How many months back the month list offers.
MONTHS_OFFERED = 36
METHOD_WORDS = {
    "cash": "Cash",
    "card": "Card",
    "cheque": "Check",
    "bank_transfer": "Bank transfer",
    "financing": "Financing",
    "insurance": "Insurance",
}
ADJUSTMENT_WORDS = {
    "discount": "Discounts",
    "write_off": "Write-offs",
    "insurance_payment": "Insurance payments (older entries)",
    "fee": "Fees added",
}


@dataclass(frozen=True)
class FigureRow:
    """One line of the table: a figure in the three periods (None: not a money line)."""

    label: str
    values: tuple[Decimal | int | None, ...]
    heading: bool = False
    indent: bool = False

    @property
    def id(self) -> str:  # RowTableModel's UserRole
        return self.label


def figure_rows(figures: list[MoneyFigures]) -> list[FigureRow]:
    """The money section's lines, the same for each period side by side."""

    def row(label, pick, *, indent=False):
        return FigureRow(label, tuple(pick(f) for f in figures), indent=indent)

    def by(attribute, words):
        names: list[str] = []
        for f in figures:
            for name, _ in getattr(f, attribute):
                if name not in names:
                    names.append(name)
        return [
            row(
                words.get(name, name),
                lambda f, n=name: dict(getattr(f, attribute)).get(n, Decimal("0.00")),
                indent=True,
            )
            for name in names
        ]

    rows = [FigureRow("Production", (), heading=True)]
    rows.append(row("Treatment charged", lambda f: f.production))
    rows += by("production_by_provider", {})
    rows.append(row("Fees (no-show, late)", lambda f: f.fees))
    rows.append(FigureRow("Collections", (), heading=True))
    rows.append(row("Collected (less refunds)", lambda f: f.collections))
    rows += by("collections_by_method", METHOD_WORDS)
    rows.append(row("From patients", lambda f: dict(f.collections_by_payer)["patient"]))
    rows.append(row("From insurance", lambda f: dict(f.collections_by_payer)["insurance"]))
    rows.append(row("Refunds", lambda f: f.refunds))
    rows.append(FigureRow("Adjustments and voids", (), heading=True))
    rows += by("adjustments_by_kind", ADJUSTMENT_WORDS)
    rows.append(row("Payments voided (count)", lambda f: f.voids))
    rows.append(row("Payments voided (amount)", lambda f: f.voided_amount))
    rows.append(FigureRow("Accounts receivable", (), heading=True))
    rows.append(row("At the start", lambda f: f.receivable_start))
    rows.append(row("At the end", lambda f: f.receivable_end))
    rows.append(row("Change", lambda f: f.receivable_change))
    for bucket, words in (
        ("current", "Current (0–30 days)"),
        ("31-60", "31–60 days"),
        ("61-90", "61–90 days"),
        ("90+", "Over 90 days"),
    ):
        rows.append(row(words, lambda f, b=bucket: dict(f.aging)[b], indent=True))
    rows.append(row("Credits on accounts", lambda f: f.credits))
    return rows


class FiguresModel(RowTableModel):
    """The figures, each section's heading in bold."""

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.FontRole:
            line = self.row_at(index.row())
            if line is not None and line.heading:
                font = QFont()
                font.setBold(True)
                return font
        return super().data(index, role)


class ReportsPage(QWidget):
    """A month, and its money beside the month before and the same month a year earlier."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("reportsPage")
        self._generation = 0
        self.figures: list[MoneyFigures] = []

        self.title_label = QLabel("Reports")
        self.title_label.setObjectName("pageTitle")
        self.title_label.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.month_combo = QComboBox()
        self.month_combo.setObjectName("reportMonth")
        month_label = QLabel("&Month")
        month_label.setBuddy(self.month_combo)
        self._fill_months(ctx.today())
        self.status_label = QLabel()
        self.status_label.setObjectName("reportStatus")
        self.status_label.setStyleSheet("color: #4b5563;")

        self.model = FiguresModel(self._columns(["", "", ""]), parent=self)
        self.table = list_table(self.model, "moneyFigures")
        self.table.setSelectionMode(self.table.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(column, 170)
        self.empty_label = empty_state_label("Working out the month's figures…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.title_label)
        top.addStretch(1)
        top.addWidget(month_label)
        top.addWidget(self.month_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.status_label)
        layout.addWidget(self.stack, 1)

        self.month_combo.currentIndexChanged.connect(self.reload)
        ctx.bus.changed.connect(self.on_bus_changed)
        self.reload()

    def _fill_months(self, today: date) -> None:
        first = today.replace(day=1)
        locale = self.ctx.details.locale
        for _ in range(MONTHS_OFFERED):
            self.month_combo.addItem(i18n.format_month_year(first, locale), first)
            first = periods.month(first).before().first
        # The month just ended is the month-end's: chosen first (this month is still going).
        self.month_combo.setCurrentIndex(1)

    def _columns(self, titles: list[str]) -> list[Column]:
        def shown(row: FigureRow, n: int) -> str:
            if row.heading or n >= len(row.values):
                return ""
            value = row.values[n]
            if isinstance(value, int) and not isinstance(value, Decimal):
                return f"{value:,}"
            return i18n.format_money(value, self.ctx.details.currency, self.ctx.details.locale)

        return [
            Column("", lambda r: r.label if not r.indent else f"    {r.label}"),
            *(
                Column(title, lambda r, n=n: shown(r, n), align_right=True)
                for n, title in enumerate(titles)
            ),
        ]

    def period(self) -> periods.Period:
        return periods.month(self.month_combo.currentData())

    def reload(self) -> None:
        from app.services.reports.money import money_figures

        self._generation += 1
        generation = self._generation
        chosen = self.period()
        compared = [chosen, chosen.before(), chosen.year_before()]
        db, actor = self.ctx.db, self.ctx.actor
        self.status_label.setText("Working out the figures…")
        ops.run_query(
            lambda: [money_figures(db, actor, p) for p in compared],
            on_success=lambda figures: self._on_figures(generation, figures),
            on_failure=lambda exc: self._on_failed(generation, exc),
            owner=self,
        )

    def _on_figures(self, generation: int, figures: list[MoneyFigures]) -> None:
        if generation != self._generation:
            return
        self.figures = figures
        locale = self.ctx.details.locale
        titles = [i18n.format_month_year(f.period.first, locale) for f in figures]
        self.model.columns = self._columns(titles)
        self.model.set_rows(figure_rows(figures))
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 3)
        self.status_label.setText(
            spelling(locale)(
                "Money for the month, beside the month before and the same month a year "
                "earlier. What each figure counts: docs/reports.md."
            )
        )
        self.stack.setCurrentWidget(self.table)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.empty_label.setText(ops.user_message(exc))
            self.stack.setCurrentWidget(self.empty_label)
            self.status_label.setText("")

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.payments or changes.plans:
            self.reload()
