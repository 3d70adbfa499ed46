"""The month overview: what each day cell says, and opening a day from it."""

from __future__ import annotations

import calendar
from datetime import date

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from app.services.scheduling.appointment_book import DayCapacity
from app.ui.calendar.month import MonthOverview, free_text, hours_text

YEAR, MONTH = 2026, 6  # June 2026 starts on a Monday


def demo_month(year: int = YEAR, month: int = MONTH) -> list[DayCapacity]:
    """Weekdays open 8 hours for three providers, weekends closed, a busy middle of the month."""
    days = []
    for number in range(1, calendar.monthrange(year, month)[1] + 1):
        day = date(year, month, number)
        if day.weekday() >= 5:
            days.append(DayCapacity(day, 0, 0, 0))
            continue
        working = 3 * 8 * 60
        booked = min(working, (number * 97) % working + (400 if 10 <= number <= 20 else 0))
        days.append(DayCapacity(day, booked // 50, booked, working))
    return days


@pytest.fixture
def host(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def month(qtbot, host) -> MonthOverview:
    view = MonthOverview(host, today=date(YEAR, MONTH, 17))
    view.resize(900, 640)
    host.resize(900, 640)
    view.set_today(date(YEAR, MONTH, 17))
    view.set_month(YEAR, MONTH, demo_month())
    host.show()
    qtbot.waitExposed(host)
    return view


def test_texts_a_person_reads() -> None:
    assert hours_text(210) == "3 h 30"
    assert hours_text(240) == "4 h"
    assert hours_text(45) == "45 min"
    assert free_text(DayCapacity(date(2026, 6, 1), 5, 270, 480)) == "3 h 30 free"
    assert free_text(DayCapacity(date(2026, 6, 1), 9, 480, 480)) == "Fully booked"
    assert free_text(DayCapacity(date(2026, 6, 6), 0, 0, 0)) == "Closed"


def test_weeks_start_on_monday_and_cells_are_laid_out(month) -> None:
    first = month.cell_rect(date(YEAR, MONTH, 1))  # a Monday
    sunday = month.cell_rect(date(YEAR, MONTH, 7))
    next_monday = month.cell_rect(date(YEAR, MONTH, 8))
    assert first.left() == 0
    assert sunday.top() == first.top() and sunday.left() > first.left()
    assert next_monday.left() == first.left() and next_monday.top() > first.top()
    assert month.day_at(first.center().x(), first.center().y()) == date(YEAR, MONTH, 1)
    # July 1st is drawn (greyed) to fill the last week but is not a day of this month.
    july = month.cell_rect(date(YEAR, 7, 1))
    assert july.isValid()
    assert month.day_at(july.center().x(), july.center().y()) is None


def test_double_click_opens_the_day(qtbot, month) -> None:
    target = date(YEAR, MONTH, 18)
    with qtbot.waitSignal(month.day_activated) as opened:
        qtbot.mouseDClick(month, Qt.MouseButton.LeftButton, pos=month.cell_rect(target).center())
    assert opened.args == [target]
    assert month.selected_day() == target


def test_arrows_move_the_selection_and_enter_opens_it(qtbot, month) -> None:
    month.setFocus()
    qtbot.keyClick(month, Qt.Key.Key_Right)  # nothing selected yet: today
    assert month.selected_day() == date(YEAR, MONTH, 17)
    qtbot.keyClick(month, Qt.Key.Key_Right)
    qtbot.keyClick(month, Qt.Key.Key_Down)
    assert month.selected_day() == date(YEAR, MONTH, 25)
    qtbot.keyClick(month, Qt.Key.Key_Up)
    qtbot.keyClick(month, Qt.Key.Key_Left)
    assert month.selected_day() == date(YEAR, MONTH, 17)
    with qtbot.waitSignal(month.day_activated) as opened:
        qtbot.keyClick(month, Qt.Key.Key_Return)
    assert opened.args == [date(YEAR, MONTH, 17)]
    # The selection stays inside the month.
    month.select_day(date(YEAR, MONTH, 30))
    qtbot.keyClick(month, Qt.Key.Key_Down)
    assert month.selected_day() == date(YEAR, MONTH, 30)


def test_tooltip_gives_the_days_figures(qtbot, month) -> None:
    day = date(YEAR, MONTH, 3)
    capacity = month.capacity(day)
    centre = month.cell_rect(day).center()
    QApplication.sendEvent(
        month, QHelpEvent(QEvent.Type.ToolTip, centre, month.mapToGlobal(centre))
    )
    qtbot.waitUntil(QToolTip.isVisible)
    text = QToolTip.text()
    assert "Wednesday, June 3, 2026" in text
    assert f"{capacity.appointments} appointments" in text
    assert free_text(capacity) in text
    QToolTip.hideText()


def test_busy_days_get_a_fuller_red_bar_and_today_is_outlined(month) -> None:
    image = month.grab().toImage()

    def bar_colour(day: date):
        rect = month.cell_rect(day)
        # Sample the left end of the capacity bar, which is filled for any booked day.
        return image.pixelColor(QPoint(rect.left() + 10, rect.bottom() - 8))

    full = DayCapacity(date(YEAR, MONTH, 9), 12, 1440, 1440)
    light = DayCapacity(date(YEAR, MONTH, 10), 2, 120, 1440)
    others = [d for d in demo_month() if d.day not in (full.day, light.day)]
    month.set_month(YEAR, MONTH, [*others, full, light])
    image = month.grab().toImage()
    red, green = bar_colour(full.day), bar_colour(light.day)
    assert red.red() > 180 and red.green() < 120
    assert green.green() > green.red()
    today = month.cell_rect(date(YEAR, MONTH, 17))
    outline = image.pixelColor(QPoint(today.center().x(), today.top() + 1))
    assert outline.blue() > 200 and outline.red() < 60


def test_closed_days_are_greyed_and_say_closed(month) -> None:
    saturday = date(YEAR, MONTH, 6)
    assert month.tooltip_text(saturday).endswith("Closed")
    image = month.grab().toImage()
    rect = month.cell_rect(saturday)
    background = image.pixelColor(QPoint(rect.right() - 4, rect.center().y()))
    assert background.name() != "#ffffff"
    assert background.lightness() > 200
