"""Reports: the owner's month-end, and the coordinator's schedule and coordination figures.

A month (or any range of days) beside the period before and the same period a year
earlier, one tab per section, each with its 12-month trend.  Everything is worked out in
the background — a large clinic's month reads a few hundred thousand rows — with a busy
bar meanwhile.  Every figure is defined once in docs/reports.md and computed by
``app.services.reports``; the tables only read the report's stable keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.documents.month_end_tables import (
    FigureTable,
    Kind,
    columns,
    figure_tables,
    format_value,
    period_heading,
)
from app.i18n import spelling
from app.services.billing.month_close import MonthCloseState
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.reports import period as periods
from app.ui import ops
from app.ui.context import UiContext
from app.ui.month_close import CloseMonthDialog, ReopenMonthDialog
from app.ui.print_preview import PrintPreviewDialog, PrintSubject, show_print_preview
from app.ui.reports.charts import Series, TrendChart, month_labels, months_title
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table
from app.ui.widgets.save_file import ask_save_path, write_file

#: How many months back the month list offers.
MONTHS_OFFERED = 36
#: The list's last choice: any range of days.
OTHER_DATES = "other"


@dataclass(frozen=True)
class Loaded:
    """What one recalculation brought back: the report for each period compared (the chosen
    one first; a closed month's as kept at its close) and the 12 months up to the chosen
    period's last month (None when there can be none)."""

    compared: tuple[periods.Period, ...]
    reports: tuple[dict, ...]
    trends: dict | None
    #: What may be closed or reopened next, and the day the books are closed through.
    books: MonthCloseState
    #: The month-end summary itself: the tables are read from it as the PDF reads them.
    summary: dict


def load(db, actor, chosen: periods.Period) -> Loaded:
    """The chosen period's report beside the period before and a year earlier, and the
    trends — the month-end summary the PDF and spreadsheets print (run in the background).
    A comparison no report may cover (more than five years back, say) is left out."""
    from app.services.billing.month_close import month_close_state
    from app.services.reports.summary import month_end_summary

    summary = month_end_summary(db, actor, chosen)
    compared, reports = [], []
    for period, report in (
        (chosen, summary["report"]),
        (chosen.before(), summary["month_before"]),
        (chosen.year_before(), summary["year_before"]),
    ):
        if report is not None:
            compared.append(period)
            reports.append(report)
    books = month_close_state(db, actor)
    return Loaded(tuple(compared), tuple(reports), summary["trends"], books, summary)


#: The exports a Reports page offers besides the PDF: format, button, file filter.
EXPORTS = (
    ("xlsx", "E&xcel…", "Excel workbook (*.xlsx)"),
    ("csv", "CS&V files…", "CSV files in a zip (*.zip)"),
)


@dataclass(frozen=True)
class FigureRow:
    """One line of a section's table: a table's title (``heading``), a sub-heading (the
    provider or stage the indented lines below detail), or a figure in each period."""

    label: str
    values: tuple[Decimal | int | None, ...] = ()
    kind: Kind = "count"
    heading: bool = False
    indent: bool = False
    total: bool = False

    @property
    def id(self) -> str:  # RowTableModel's UserRole
        return self.label


def section_rows(tables: list[FigureTable]) -> list[FigureRow]:
    """The lines of a section's tables, laid out as the PDF prints them: each table's
    title, its lines (those detailing one provider or stage indented under its name), or
    its note when it has none ("No referrals yet.")."""
    rows: list[FigureRow] = []
    for table in tables:
        rows.append(FigureRow(table.title, heading=True))
        if not table.lines and table.note:
            rows.append(FigureRow(table.note))
        parent = ""
        for line in table.lines:
            if line.parent and line.parent != parent:
                rows.append(FigureRow(line.parent))
            parent = line.parent
            rows.append(
                FigureRow(line.label, line.values, line.kind, indent=bool(parent), total=line.total)
            )
    return rows


class FiguresModel(RowTableModel):
    """A section's figures: table titles and totals in bold."""

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            line = self.row_at(index.row())
            return line.label if line is not None else None  # a long label cut short
        if role == Qt.ItemDataRole.FontRole:
            line = self.row_at(index.row())
            if line is not None and (line.heading or line.total):
                font = QFont()
                font.setBold(True)
                return font
        return super().data(index, role)


class SectionView(QWidget):
    """One section: its table of figures, and its two trend charts beside it."""

    def __init__(self, name: str, charts: tuple[TrendChart, TrendChart], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}Section")
        self.model = FiguresModel([], parent=self)
        self.table: QTableView = list_table(self.model, f"{name}Figures")
        self.table.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.charts = charts
        chart_column = QWidget()
        chart_layout = QVBoxLayout(chart_column)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        for chart in charts:
            chart_layout.addWidget(chart, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(chart_column)
        splitter.setStretchFactor(0, 11)
        splitter.setStretchFactor(1, 9)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(splitter)

    def show_rows(self, columns: list[Column], rows: list[FigureRow]) -> None:
        self.model.columns = columns
        self.model.set_rows(rows)
        # A heading is a line of its own: it may run across the period columns.
        self.table.clearSpans()
        for number, line in enumerate(rows):
            if line.heading:
                self.table.setSpan(number, 0, 1, len(columns))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(columns)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def row(self, label: str) -> FigureRow | None:
        for number in range(self.model.rowCount()):
            line = self.model.row_at(number)
            if line.label == label and not line.heading:
                return line
        return None


class ReportsPage(QWidget):
    """A period's report, section by section, beside the period before and a year earlier."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("reportsPage")
        self._generation = 0
        self._stale = False
        self.loaded: Loaded | None = None
        self.sees_money = ctx.allows(Permission.VIEW_REPORTS)
        locale = ctx.details.locale
        words = spelling(locale)

        self.title_label = QLabel("Reports")
        self.title_label.setObjectName("pageTitle")
        self.title_label.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.period_combo = QComboBox()
        self.period_combo.setObjectName("reportPeriod")
        period_label = QLabel("&Period")
        period_label.setBuddy(self.period_combo)
        self.first_edit = self._date_edit("reportFrom")
        self.last_edit = self._date_edit("reportTo")
        self.range_box = QWidget()
        range_layout = QHBoxLayout(self.range_box)
        range_layout.setContentsMargins(0, 0, 0, 0)
        from_label = QLabel("&From")
        from_label.setBuddy(self.first_edit)
        to_label = QLabel("&To")
        to_label.setBuddy(self.last_edit)
        self.show_button = QPushButton("&Show")
        self.show_button.setObjectName("reportShowRange")
        for widget in (from_label, self.first_edit, to_label, self.last_edit, self.show_button):
            range_layout.addWidget(widget)
        self.range_box.setVisible(False)
        self._fill_periods(ctx.today())

        self.pdf_button = QPushButton("Print or P&DF…")
        self.pdf_button.setObjectName("reportPdf")
        self.pdf_button.setToolTip("The one-page summary and its tables, to print or save")
        self.export_buttons: dict[str, QPushButton] = {}
        for fmt, text, _filter in EXPORTS:
            button = QPushButton(text)
            button.setObjectName(f"report_{fmt}")
            button.clicked.connect(lambda _=False, f=fmt: self.export(f))
            self.export_buttons[fmt] = button
        self.close_button = QPushButton("C&lose a month…")
        self.close_button.setObjectName("closeMonth")
        self.reopen_button = QPushButton("&Reopen…")
        self.reopen_button.setObjectName("reopenMonth")
        #: Where an export is saved (tests answer it with a path).
        self.choose_save_path = ask_save_path

        self.progress = QProgressBar()
        self.progress.setObjectName("reportProgress")
        self.progress.setRange(0, 0)  # busy: how long depends on the clinic's size
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.status_label = QLabel()
        self.status_label.setObjectName("reportStatus")
        self.status_label.setStyleSheet("color: #4b5563;")
        self.status_label.setWordWrap(True)

        self.sections: dict[str, SectionView] = {}
        self.tabs = QTabWidget()
        self.tabs.setObjectName("reportSections")
        if self.sees_money:
            self._add_section("money", "&Money", "Production and collections", "Receivable")
        self._add_section("schedule", "Sc&hedule", "Completed visits", "No-show rate", rate=True)
        self._add_section(
            "coordination",
            words("Patients && c&oordination"),
            "New patients",
            "Case acceptance",
            rate=True,
        )
        self.message_label = empty_state_label("Working out the figures…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(self.message_label)
        self.stack.setCurrentWidget(self.message_label)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.title_label)
        top.addStretch(1)
        top.addWidget(period_label)
        top.addWidget(self.period_combo)
        top.addWidget(self.range_box)
        status = QHBoxLayout()
        status.addWidget(self.status_label, 1)
        status.addWidget(self.progress)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        actions.addWidget(self.pdf_button)
        for button in self.export_buttons.values():
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.close_button)
        actions.addWidget(self.reopen_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(status)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)
        # Shown or hidden only once in the layout: a parentless widget shown is a window.
        for button in (self.close_button, self.reopen_button):
            button.setVisible(ctx.allows(Permission.CLOSE_MONTHS))

        self.period_combo.currentIndexChanged.connect(self._on_period_chosen)
        self.show_button.clicked.connect(self.reload)
        self.pdf_button.clicked.connect(self.show_pdf)
        self.close_button.clicked.connect(self.close_month)
        self.reopen_button.clicked.connect(self.reopen_month)
        ctx.bus.changed.connect(self.on_bus_changed)
        self.reload()

    # --- building ---------------------------------------------------------------------------

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat(i18n.qt_date_format(self.ctx.details.locale))
        return edit

    def _add_section(self, name: str, title: str, first: str, second: str, *, rate=False):
        charts = (TrendChart(first), TrendChart(second, rate=rate))
        view = SectionView(name, charts)
        self.sections[name] = view
        self.tabs.addTab(view, title)

    def _fill_periods(self, today: date) -> None:
        first = today.replace(day=1)
        locale = self.ctx.details.locale
        for _ in range(MONTHS_OFFERED):
            self.period_combo.addItem(i18n.format_month_year(first, locale), first)
            first = periods.month(first).before().first
        self.period_combo.addItem("Other dates…", OTHER_DATES)
        # The month just ended is the month-end's: chosen first (this month is still going).
        self.period_combo.setCurrentIndex(1)
        last_month = periods.month(today.replace(day=1) - timedelta(days=1))
        self.first_edit.setDate(QDate(last_month.first))
        self.last_edit.setDate(QDate(last_month.last))

    # --- the period -------------------------------------------------------------------------

    def period(self) -> periods.Period:
        chosen = self.period_combo.currentData()
        if chosen == OTHER_DATES:
            return periods.Period(
                self.first_edit.date().toPython(), self.last_edit.date().toPython()
            )
        return periods.month(chosen)

    def _on_period_chosen(self) -> None:
        other = self.period_combo.currentData() == OTHER_DATES
        self.range_box.setVisible(other)
        if other:
            self.first_edit.setFocus()
        else:
            self.reload()

    def _period_title(self, period: periods.Period) -> str:
        return period_heading(period.first, period.last, self.ctx.details.locale)

    # --- loading ----------------------------------------------------------------------------

    def reload(self) -> None:
        self._generation += 1
        generation = self._generation
        chosen = self.period()
        db, actor = self.ctx.db, self.ctx.actor
        self.progress.setVisible(True)
        self.status_label.setText(f"Working out the figures for {self._period_title(chosen)}…")
        ops.run_query(
            lambda: load(db, actor, chosen),
            on_success=lambda loaded: self._on_loaded(generation, loaded),
            on_failure=lambda exc: self._on_failed(generation, exc),
            owner=self,
        )

    def _set_exports_enabled(self, enabled: bool) -> None:
        for button in (self.pdf_button, *self.export_buttons.values()):
            button.setEnabled(enabled)

    def _on_loaded(self, generation: int, loaded: Loaded) -> None:
        if generation != self._generation:
            return
        self.loaded = loaded
        self._set_exports_enabled(True)
        self.close_button.setEnabled(loaded.books.next_to_close is not None)
        self.reopen_button.setEnabled(loaded.books.may_reopen is not None)
        self.progress.setVisible(False)
        words = spelling(self.ctx.details.locale)
        heads = [c.heading for c in columns(loaded.summary, self.ctx.details.locale, words)]
        tables = figure_tables(loaded.summary, words)
        for name, view in self.sections.items():
            view.show_rows(
                self._columns(heads), section_rows([t for t in tables if t.section == name])
            )
        self._show_trends(loaded.trends)
        self.status_label.setText(self._status_text(loaded))
        self.stack.setCurrentWidget(self.tabs)

    def _status_text(self, loaded: Loaded) -> str:
        closed = loaded.reports[0].get("closed")
        details = self.ctx.details
        if closed:
            moment = datetime.fromisoformat(closed["closed_at"])
            when = i18n.format_date(
                i18n.to_clinic_time(moment, details.timezone).date(), details.locale
            )
            return (
                f"{self._period_title(loaded.compared[0])} was closed on {when} by "
                f"{closed['closed_by']}: these are its figures as closed."
            )
        text = spelling(details.locale)(
            "Beside the period before and the same period a year earlier; the charts show "
            "the 12 months up to it. What each figure counts: docs/reports.md."
        )
        through = loaded.books.closed_through
        if through is not None:
            text += f" The books are closed through {i18n.format_date(through, details.locale)}."
        return text

    def _show_trends(self, trends: dict | None) -> None:
        trends = trends or {"months": []}
        labels = month_labels(trends["months"], self.ctx.details.locale)
        span = months_title(trends["months"], self.ctx.details.locale)

        def series(name: str, key: str) -> Series:
            values = trends.get(key) or [None] * len(labels)
            return Series(name, tuple(None if v is None else Decimal(str(v)) for v in values))

        wanted = {
            "money": (
                [series("Production", "production"), series("Collections", "collections")],
                [series("Receivable at month end", "receivable")],
            ),
            "schedule": (
                [series("Completed visits", "visits_completed")],
                [series("No-show rate", "no_show_rate")],
            ),
            "coordination": (
                [series("New patients", "new_patients")],
                [series("Acceptance rate", "case_acceptance_rate")],
            ),
        }
        for name, view in self.sections.items():
            for chart, shown_series in zip(view.charts, wanted[name], strict=True):
                chart.show_series(labels, shown_series, span)

    def _columns(self, titles: list[str]) -> list[Column]:
        currency, locale = self.ctx.details.currency, self.ctx.details.locale

        def cell(row: FigureRow, n: int) -> str:
            if n >= len(row.values):
                return ""
            return format_value(row.values[n], row.kind, currency, locale)

        return [
            Column("", lambda r: f"    {r.label}" if r.indent else r.label),
            *(
                Column(title, lambda r, n=n: cell(r, n), align_right=True)
                for n, title in enumerate(titles)
            ),
        ]

    # --- printing, exports and closing ----------------------------------------------------

    def _file_stem(self) -> str:
        period = self.period()
        if period.is_month:
            return f"month-end {period.first:%Y-%m}"
        return f"report {period.first.isoformat()} to {period.last.isoformat()}"

    @Slot()
    def show_pdf(self) -> PrintPreviewDialog:
        """The one-page summary and its tables in the print preview (English or Spanish);
        each rendering is audited as an export, printing or saving it as the preview's."""
        from app.services.reports.summary import export_summary

        db, actor, period = self.ctx.db, self.ctx.actor, self.period()
        return show_print_preview(
            self,
            ctx=self.ctx,
            title=f"Report — {self._period_title(period)}",
            filename=f"{self._file_stem()}.pdf",
            subject=PrintSubject(
                document=f"month-end report {period.first}–{period.last}",
                entity="reports",
                entity_id=None,
                patient_id=None,
            ),
            render=lambda language: export_summary(
                db, actor, period, "pdf", locale=language, how="pdf to the print preview"
            ),
            language=i18n.language_of(self.ctx.details.locale),
        )

    def export(self, fmt: str) -> None:
        """Save the report as a spreadsheet or CSV files, where the user chooses."""
        from app.services.reports.summary import export_summary

        file_filter = next(f for code, _text, f in EXPORTS if code == fmt)
        suffix = ".zip" if fmt == "csv" else f".{fmt}"
        path = self.choose_save_path(
            self, Path.home() / f"{self._file_stem()}{suffix}", file_filter
        )
        if path is None:
            return
        db, actor, period = self.ctx.db, self.ctx.actor, self.period()
        self.status_label.setText(f"Saving {path.name}…")
        ops.run_write(
            lambda: export_summary(
                db,
                actor,
                period,
                fmt,
                how=f"{fmt} to {path.name}",
                deliver=lambda data: write_file(path, data),
            ),
            on_success=lambda _data: self.status_label.setText(f"Saved {path}."),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc), "Not saved"),
            owner=self,
        )

    @Slot()
    def close_month(self) -> None:
        if CloseMonthDialog.ask(self.ctx, self) is not None:
            self.reload()

    @Slot()
    def reopen_month(self) -> None:
        if ReopenMonthDialog.ask(self.ctx, self) is not None:
            self.reload()

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.loaded = None
            self._set_exports_enabled(False)
            self.progress.setVisible(False)
            self.message_label.setText(ops.user_message(exc))
            self.stack.setCurrentWidget(self.message_label)
            self.status_label.setText("")

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if not (changes.payments or changes.plans or changes.appointments or changes.patients):
            return
        # A big clinic's report takes a while: worked out again when it is next looked at,
        # not on every booking made on another page.
        if self.isVisible():
            self.reload()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.reload()


__all__ = ["ReportsPage", "load"]
