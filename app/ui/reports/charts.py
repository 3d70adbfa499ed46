"""A 12-month trend chart (QtCharts) for a Reports section: bars for amounts and counts, a
line for a rate, the months along the bottom.  With nothing to draw it says "No data"
instead of an empty frame a reader might take for zeros that were counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from app import i18n

#: The clinic palette's blues and a warm contrast, as on the printed summary.
COLOURS = ("#1f6f8b", "#9cc9d9", "#c0622d")


@dataclass(frozen=True)
class Series:
    """One line or set of bars: its name and a value per month (None: no figure)."""

    name: str
    values: tuple[Decimal | int | None, ...]


def _first_day(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def month_labels(months: list[str], locale: str) -> list[str]:
    """ "2026-11" → "N": a letter a month fits twelve under a small chart, where "Nov" did
    not; the axis's title says which months ("Dec 2025 – Nov 2026").

    The letters of one chart must be distinct for Qt's category axis, so a repeat gets an
    invisible mark (a zero-width space) per earlier use."""
    labels: list[str] = []
    for text in months:
        letter = i18n.format_month_letter(_first_day(text), locale)
        labels.append(
            letter + "\u200b" * sum(1 for seen in labels if seen.rstrip("\u200b") == letter)
        )
    return labels


def months_title(months: list[str], locale: str) -> str:
    if not months:
        return ""
    first, last = _first_day(months[0]), _first_day(months[-1])
    return f"{i18n.format_month_year(first, locale)} – {i18n.format_month_year(last, locale)}"


def has_data(series: list[Series]) -> bool:
    return any(value not in (None, 0) for s in series for value in s.values)


class TrendChart(QWidget):
    """Twelve months of one or two figures; ``rate`` draws percentages as a line."""

    def __init__(self, title: str, *, rate: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.rate = rate
        self.series: list[Series] = []
        self.chart = QChart()
        self.chart.setTitle(title)
        title_font = QFont()
        title_font.setBold(True)
        self.chart.setTitleFont(title_font)
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.view = QChartView(self.chart)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setMinimumHeight(190)
        self.no_data = QLabel(f"{title}\n\nNo data for these months yet.")
        self.no_data.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_data.setStyleSheet("color: #6b7280;")
        self.no_data.setObjectName("trendNoData")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.no_data)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def show_series(self, labels: list[str], series: list[Series], span: str = "") -> None:
        self.series = series
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        if not has_data(series):
            self.stack.setCurrentWidget(self.no_data)
            return
        months = QBarCategoryAxis()
        months.append(labels)
        small = QFont()
        small.setPointSizeF(8)
        months.setLabelsFont(small)
        months.setTitleFont(small)
        months.setTitleText(span)
        values = QValueAxis()
        values.setLabelFormat("%.0f%%" if self.rate else "%.0f")
        self.chart.addAxis(months, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(values, Qt.AlignmentFlag.AlignLeft)
        highest = 0.0
        if self.rate:
            for n, one in enumerate(series):
                line = QLineSeries()
                line.setName(one.name)
                line.setColor(QColor(COLOURS[n % len(COLOURS)]))
                for x, value in enumerate(one.values):
                    if value is not None:
                        percent = float(value) * 100
                        highest = max(highest, percent)
                        line.append(x, percent)
                self.chart.addSeries(line)
                line.attachAxis(values)
            # A line's x values are positions, so the category axis is for the labels only.
            positions = QValueAxis()
            positions.setRange(-0.5, len(labels) - 0.5)
            positions.setVisible(False)
            self.chart.addAxis(positions, Qt.AlignmentFlag.AlignBottom)
            for line in self.chart.series():
                line.attachAxis(positions)
        else:
            bars = QBarSeries()
            for n, one in enumerate(series):
                bar_set = QBarSet(one.name)
                bar_set.setColor(QColor(COLOURS[n % len(COLOURS)]))
                for value in one.values:
                    number = float(value or 0)
                    highest = max(highest, number)
                    bar_set.append(number)
                bars.append(bar_set)
            self.chart.addSeries(bars)
            bars.attachAxis(months)
            bars.attachAxis(values)
        values.setRange(0, highest * 1.1 if highest > 0 else 1)
        values.applyNiceNumbers()
        self.chart.legend().setVisible(len(series) > 1)
        self.stack.setCurrentWidget(self.view)


__all__ = ["Series", "TrendChart", "has_data", "month_labels", "months_title"]
