"""The painted day/week grid: where blocks land, what drags ask for, what a person reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QHelpEvent, QImage
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from app.services.scheduling.appointment_book import AppointmentBlock, CalendarResource, Schedule
from app.services.scheduling.booking import ResourceDay, TimeSpan, at_local
from app.ui.calendar.grid import EMPTY_TEXT, ROW_HEIGHT, ScheduleGrid

ZONE_NAME = "America/Chicago"
ZONE = ZoneInfo(ZONE_NAME)
MONDAY = date(2026, 6, 15)
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)

PROVIDERS = (
    CalendarResource("provider", 1, "Dr. Daniel Okafor", "#3f7fd9"),
    CalendarResource("provider", 2, "Dr. Maria Chen", "#d9663f"),
    CalendarResource("provider", 3, "Sam Patel, RDH", "#3fa66b"),
)
SERVICES = {
    "Exam and cleaning": "#7cb342",
    "Composite filling": "#5c6bc0",
    "Crown prep": "#8e24aa",
    "Root canal": "#e53935",
    "Consultation": "#00897b",
    "Whitening": "#fbc02d",
    "Emergency visit": "#f4511e",
}


# --- building schedules by hand (no database) -----------------------------------------------


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, hour * 60 + minute, ZONE)


def make_block(
    block_id: int,
    provider: CalendarResource,
    day: date,
    hour: int,
    minute: int,
    minutes: int,
    patient: str = "Ruiz, Ana",
    service: str = "Exam and cleaning",
    status: str = "scheduled",
    **extra,
) -> AppointmentBlock:
    starts_at = local(day, hour, minute)
    return AppointmentBlock(
        id=block_id,
        version=1,
        patient_id=1000 + block_id,
        patient_name=patient,
        provider_id=provider.id,
        provider_name=provider.name,
        provider_colour=provider.colour,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        status=status,
        service_id=list(SERVICES).index(service) + 1 if service in SERVICES else None,
        service_name=service,
        service_colour=SERVICES.get(service, "#9b9b9b"),
        **extra,
    )


def working_days(
    resources, days: list[date], hours=(8 * 60, 17 * 60), lunch=(12 * 60, 13 * 60)
) -> dict[tuple[int, date], ResourceDay]:
    result = {}
    for day in days:
        for resource in resources:
            if day.weekday() >= 5:
                result[(resource.id, day)] = ResourceDay(resource.id, day, ())
                continue
            a, b = at_local(day, hours[0], ZONE), at_local(day, hours[1], ZONE)
            la, lb = at_local(day, lunch[0], ZONE), at_local(day, lunch[1], ZONE)
            result[(resource.id, day)] = ResourceDay(
                resource.id, day, (TimeSpan(a, la), TimeSpan(lb, b)), (TimeSpan(la, lb, "Lunch"),)
            )
    return result


def make_schedule(
    first_day: date, days: int, resources, blocks, *, opens=8 * 60, closes=18 * 60, rdays=None
) -> Schedule:
    dates = [first_day + timedelta(days=i) for i in range(days)]
    return Schedule(
        first_day=first_day,
        days=days,
        timezone=ZONE_NAME,
        by="provider",
        opens_minute=opens,
        closes_minute=closes,
        resources=tuple(resources),
        resource_days=rdays if rdays is not None else working_days(resources, dates),
        blocks=tuple(blocks),
    )


LATEX = {"alerts": "Alerts: Latex allergy"}
_DAY_PLAN = [
    # provider index, start, minutes, patient, service, status, extras
    (0, "8:00", 45, "Ruiz, Ana", "Exam and cleaning", "completed", {}),
    (0, "8:45", 60, "Okonkwo, Chidi", "Composite filling", "completed", {"notes": "Numbing"}),
    (0, "10:00", 90, "Lindqvist, Freja", "Crown prep", "in_treatment", LATEX),
    (0, "11:30", 30, "Moreau, Camille", "Consultation", "arrived", {"arrived_minutes": -8}),
    (0, "13:00", 60, "Haddad, Karim", "Root canal", "confirmed", {}),
    (0, "14:00", 30, "Nakamura, Yui", "Emergency visit", "confirmed", {"double_booked": True}),
    (0, "14:15", 45, "Brennan, Siobhan", "Composite filling", "scheduled", {"double_booked": True}),
    (0, "15:30", 60, "Kowalski, Piotr", "Crown prep", "scheduled", {}),
    (1, "8:30", 60, "Silva, João", "Consultation", "completed", {}),
    (1, "9:30", 30, "Abernathy, Grace", "Exam and cleaning", "no_show", {}),
    (1, "10:00", 45, "Duarte, Luis", "Whitening", "arrived", {"arrived_minutes": 12}),
    (1, "11:00", 60, "Fitzgerald, Aoife", "Root canal", "confirmed", {"notes": "Anxious"}),
    (1, "13:15", 30, "Goldberg, Miriam", "Consultation", "confirmed", {}),
    (1, "14:00", 90, "Ivanova, Katya", "Crown prep", "scheduled", LATEX),
    (1, "15:45", 15, "Jensen, Mads", "Emergency visit", "scheduled", {}),
    (1, "16:00", 60, "Kim, Ji-woo", "Composite filling", "scheduled", {}),
    (2, "8:00", 60, "Larsen, Ingrid", "Exam and cleaning", "completed", {}),
    (2, "9:00", 60, "Mbeki, Thandi", "Exam and cleaning", "completed", {}),
    (2, "10:00", 60, "Novak, Tomas", "Exam and cleaning", "in_treatment", {}),
    (2, "11:00", 60, "O'Connor, Liam", "Exam and cleaning", "arrived", {"arrived_minutes": 0}),
    (2, "13:00", 60, "Petrov, Alexei", "Exam and cleaning", "confirmed", {}),
    (2, "14:00", 60, "Quinn, Harper", "Whitening", "confirmed", {"notes": "Sensitive teeth"}),
    (2, "15:00", 45, "Rossi, Giulia", "Exam and cleaning", "scheduled", {}),
    (2, "15:45", 45, "Schmidt, Jonas", "Exam and cleaning", "scheduled", {}),
    (2, "16:30", 30, "Tanaka, Hiro", "Consultation", "scheduled", {}),
]


def demo_day(day: date = MONDAY) -> Schedule:
    """Three providers, 25 realistic appointments."""
    blocks = []
    for i, (who, start, minutes, patient, service, status, extras) in enumerate(_DAY_PLAN, 1):
        hour, minute = map(int, start.split(":"))
        extras = dict(extras)
        arrived = extras.pop("arrived_minutes", None)
        if arrived is not None:
            extras["arrived_at"] = local(day, hour, minute) + timedelta(minutes=arrived)
        blocks.append(
            make_block(
                i,
                PROVIDERS[who],
                day,
                hour,
                minute,
                minutes,
                patient,
                service,
                status,
                patient_phone=f"(312) 555-01{i:02d}",
                **extras,
            )
        )
    return make_schedule(day, 1, PROVIDERS, blocks)


def demo_week(first_day: date = MONDAY) -> Schedule:
    """One provider's week, Monday to Sunday: each weekday borrows one column of the demo day."""
    provider = PROVIDERS[0]
    blocks = []
    for offset in range(5):
        day = first_day + timedelta(days=offset)
        for who, start, minutes, patient, service, status, extras in _DAY_PLAN:
            if who != offset % 3:
                continue
            hour, minute = map(int, start.split(":"))
            extras = {k: v for k, v in extras.items() if k != "arrived_minutes"}
            blocks.append(
                make_block(
                    len(blocks) + 1, provider, day, hour, minute, minutes, patient, service,
                    status if offset == 0 else "scheduled", **extras,
                )
            )  # fmt: skip
    return make_schedule(first_day, 7, [provider], blocks)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def host(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def grid(qtbot, host) -> ScheduleGrid:
    grid = ScheduleGrid(host)
    grid.resize(1000, 700)
    host.resize(1000, 700)
    host.show()
    qtbot.waitExposed(host)
    grid.set_now(local(MONDAY, 10, 20))
    return grid


def two_provider_day() -> Schedule:
    blocks = [
        make_block(1, PROVIDERS[0], MONDAY, 9, 0, 45, "Ruiz, Ana"),
        make_block(2, PROVIDERS[0], MONDAY, 10, 0, 60, "Okonkwo, Chidi"),
        make_block(3, PROVIDERS[1], MONDAY, 9, 0, 30, "Silva, João"),
    ]
    return make_schedule(MONDAY, 1, PROVIDERS[:2], blocks)


def vp(grid: ScheduleGrid) -> QWidget:
    return grid.viewport()


def drag(qtbot, grid: ScheduleGrid, start: QPoint, end: QPoint, *, release: bool = True) -> None:
    viewport = grid.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    middle = QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2)
    qtbot.mouseMove(viewport, middle)
    qtbot.mouseMove(viewport, end)
    if release:
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def pixel(grid: ScheduleGrid, point: QPoint) -> QColor:
    image: QImage = grid.viewport().grab().toImage()
    return image.pixelColor(point)


# --- layout ----------------------------------------------------------------------------------


def test_block_top_and_height_follow_its_times(grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    ruiz, okonkwo = grid.block_rect(1), grid.block_rect(2)
    nine = grid.point_for(1, MONDAY, 9 * 60).y()
    ten = grid.point_for(1, MONDAY, 10 * 60).y()
    hour = ten - nine
    assert hour == 60 * ROW_HEIGHT // 15
    assert abs(ruiz.top() - nine) <= 2
    assert abs(ruiz.height() - hour * 45 / 60) <= 3
    assert abs(okonkwo.top() - ten) <= 2
    assert abs(okonkwo.height() - hour) <= 3
    # Different provider, same time: the next column, same height on screen.
    silva = grid.block_rect(3)
    assert silva.left() > ruiz.right()
    assert silva.top() == ruiz.top()


def test_zoom_makes_rows_taller_and_keeps_blocks_on_their_times(grid) -> None:
    grid.set_schedule(two_provider_day())
    heights = {}
    for zoom in (15, 10, 5):
        grid.set_zoom(zoom)
        assert grid.zoom() == zoom
        heights[zoom] = grid.block_rect(2).height()
        assert abs(grid.block_rect(2).top() - grid.point_for(1, MONDAY, 600).y()) <= 2
    assert heights[15] < heights[10] < heights[5]
    with pytest.raises(ValueError):
        grid.set_zoom(7)


def test_overlapping_blocks_sit_side_by_side(grid) -> None:
    blocks = [
        make_block(1, PROVIDERS[0], MONDAY, 9, 0, 60, "Ruiz, Ana"),
        make_block(2, PROVIDERS[0], MONDAY, 9, 30, 60, "Okonkwo, Chidi", double_booked=True),
        make_block(3, PROVIDERS[0], MONDAY, 11, 0, 30, "Silva, João"),
    ]
    grid.set_schedule(make_schedule(MONDAY, 1, PROVIDERS[:1], blocks))
    first, second, alone = grid.block_rect(1), grid.block_rect(2), grid.block_rect(3)
    assert not first.intersects(second)
    assert second.left() > first.left()
    assert abs(first.width() - second.width()) <= 2
    # A block with nobody beside it takes the whole lane width.
    assert alone.width() > first.width() * 1.8


def test_grid_extends_to_show_a_block_outside_opening_hours(grid) -> None:
    blocks = [make_block(1, PROVIDERS[0], MONDAY, 19, 0, 60, "Late, Evening")]
    grid.set_schedule(make_schedule(MONDAY, 1, PROVIDERS[:1], blocks))
    grid.scroll_to_time(19 * 60)
    rect = grid.block_rect(1)
    assert rect.isValid()
    assert grid.viewport().rect().intersects(rect)


@pytest.mark.parametrize("dst_day", [SPRING_FORWARD, FALL_BACK])
def test_nine_oclock_lines_up_on_a_clock_change_day(grid, dst_day) -> None:
    normal = dst_day - timedelta(days=1)
    provider = PROVIDERS[0]
    blocks = [
        make_block(1, provider, normal, 9, 0, 60, "Ruiz, Ana"),
        make_block(2, provider, dst_day, 9, 0, 60, "Okonkwo, Chidi"),
    ]
    grid.set_schedule(make_schedule(normal, 2, [provider], blocks))
    assert grid.block_rect(1).top() == grid.block_rect(2).top()
    assert grid.block_rect(1).height() == grid.block_rect(2).height()


def test_a_visit_across_spring_forward_keeps_its_true_length(grid) -> None:
    provider = PROVIDERS[0]
    starts_at = local(SPRING_FORWARD, 1, 0)
    ends_at = local(SPRING_FORWARD, 4, 0)  # 1:00 CST → 4:00 CDT is two real hours
    assert ends_at - starts_at == timedelta(hours=2)
    block = make_block(1, provider, SPRING_FORWARD, 1, 0, 120, "Early, Bird")
    assert block.ends_at == ends_at
    grid.set_schedule(make_schedule(SPRING_FORWARD, 1, [provider], [block], opens=0))
    grid.scroll_to_time(0)
    rect = grid.block_rect(1)
    one = grid.point_for(provider.id, SPRING_FORWARD, 60).y()
    three = grid.point_for(provider.id, SPRING_FORWARD, 180).y()
    assert abs(rect.top() - one) <= 2
    assert abs(rect.bottom() - three) <= 3


def test_header_notes_the_clock_change(grid) -> None:
    provider = PROVIDERS[0]
    grid.set_schedule(make_schedule(SPRING_FORWARD - timedelta(days=1), 2, [provider], []))
    assert SPRING_FORWARD in grid._dst_days
    assert SPRING_FORWARD - timedelta(days=1) not in grid._dst_days
    header = grid.findChild(QWidget, "scheduleHeader")
    image = header.grab().toImage()
    # The note is drawn in amber under the date of the clock change only.
    second_column = range(header.width() // 2 + 20, header.width() - 10)
    first_column = range(grid._gutter_width + 5, header.width() // 2 - 10)

    def has_amber(xs) -> bool:
        for x in xs:
            for y in range(24, 40):
                c = image.pixelColor(x, y)
                if c.red() > 150 and c.blue() < 90 and c.red() - c.blue() > 80:
                    return True
        return False

    assert has_amber(second_column)
    assert not has_amber(first_column)


# --- drags -----------------------------------------------------------------------------------


def test_drag_over_empty_time_requests_that_slot_snapped_to_rows(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    start = grid.point_for(2, MONDAY, 13 * 60 + 5)
    end = grid.point_for(2, MONDAY, 14 * 60 + 20)
    with qtbot.waitSignal(grid.slot_requested) as blocker:
        drag(qtbot, grid, start, end)
    resource_id, starts_at, ends_at = blocker.args
    assert resource_id == 2
    assert starts_at == local(MONDAY, 13, 0)
    assert ends_at == local(MONDAY, 14, 30)
    assert starts_at.tzinfo is not None and starts_at.utcoffset() == timedelta(0)


def test_drag_upwards_and_finer_zoom_snap_to_the_row(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.set_zoom(5)
    grid.scroll_to_time(13 * 60)
    start = grid.point_for(1, MONDAY, 13 * 60 + 42)
    end = grid.point_for(1, MONDAY, 13 * 60 + 11)
    with qtbot.waitSignal(grid.slot_requested) as blocker:
        drag(qtbot, grid, start, end)
    assert blocker.args[1:] == [local(MONDAY, 13, 10), local(MONDAY, 13, 45)]


def test_double_click_on_empty_time_requests_half_an_hour(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    point = grid.point_for(2, MONDAY, 15 * 60 + 20)
    with qtbot.waitSignal(grid.slot_requested) as blocker:
        qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [2, local(MONDAY, 15, 15), local(MONDAY, 15, 45)]


def test_a_click_on_empty_time_asks_for_nothing(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    with qtbot.assertNotEmitted(grid.slot_requested):
        qtbot.mouseClick(
            grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.point_for(2, MONDAY, 15 * 60)
        )


def test_drag_a_block_to_another_provider_and_time(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    rect = grid.block_rect(1)  # Ruiz, 9:00-9:45 with provider 1
    grab = rect.center()
    delta = grid.point_for(2, MONDAY, 11 * 60) - grid.point_for(1, MONDAY, 9 * 60)
    with qtbot.waitSignal(grid.move_requested) as blocker:
        drag(qtbot, grid, grab, grab + delta)
    block, resource_id, starts_at, ends_at = blocker.args
    assert block.id == 1
    assert resource_id == 2
    assert starts_at == local(MONDAY, 11, 0)
    assert ends_at - starts_at == timedelta(minutes=45)


def test_drag_the_bottom_edge_resizes(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    rect = grid.block_rect(2)  # Okonkwo 10:00-11:00
    edge = QPoint(rect.center().x(), rect.bottom() - 1)
    target = QPoint(edge.x(), grid.point_for(1, MONDAY, 11 * 60 + 31).y())
    with qtbot.waitSignal(grid.move_requested) as blocker:
        drag(qtbot, grid, edge, target)
    block, resource_id, starts_at, ends_at = blocker.args
    assert (block.id, resource_id) == (2, 1)
    assert starts_at == block.starts_at
    assert ends_at == local(MONDAY, 11, 30)


def test_resize_never_goes_below_one_row(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    rect = grid.block_rect(2)
    edge = QPoint(rect.center().x(), rect.bottom() - 1)
    target = QPoint(edge.x(), grid.point_for(1, MONDAY, 9 * 60).y())
    with qtbot.waitSignal(grid.move_requested) as blocker:
        drag(qtbot, grid, edge, target)
    assert blocker.args[3] == local(MONDAY, 10, 15)


def test_escape_cancels_a_drag(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    grab = grid.block_rect(1).center()
    drag(qtbot, grid, grab, grab + QPoint(0, 120), release=False)
    assert grid.is_dragging()
    qtbot.keyClick(grid, Qt.Key.Key_Escape)
    assert not grid.is_dragging()
    with qtbot.assertNotEmitted(grid.move_requested):
        qtbot.mouseRelease(grid.viewport(), Qt.MouseButton.LeftButton, pos=grab + QPoint(0, 120))


def test_after_a_drop_the_block_stays_put_until_new_data_arrives(qtbot, grid) -> None:
    schedule = two_provider_day()
    grid.set_schedule(schedule)
    grid.scroll_to_time(8 * 60)
    before = grid.block_rect(1)
    grab = before.center()
    target = grab + QPoint(
        0, grid.point_for(1, MONDAY, 660).y() - grid.point_for(1, MONDAY, 540).y()
    )
    with qtbot.waitSignal(grid.move_requested):
        drag(qtbot, grid, grab, target)
    assert grid.block_rect(1) == before
    # The slot it was dragged to is still drawn empty: no block colour there.
    assert pixel(grid, target + QPoint(0, 5)).name() == "#ffffff"
    assert pixel(grid, grab).name() != "#ffffff"
    # The page commits and hands over the new schedule: now it moves.
    moved = schedule.blocks[0]
    new_start = local(MONDAY, 11, 0)
    moved = moved._replace(starts_at=new_start, ends_at=new_start + timedelta(minutes=45))
    grid.set_schedule(make_schedule(MONDAY, 1, PROVIDERS[:2], [moved, *schedule.blocks[1:]]))
    assert grid.block_rect(1).top() > before.top() + 100


def test_read_only_grid_does_not_drag(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    grid.set_editable(False)
    grab = grid.block_rect(1).center()
    with qtbot.assertNotEmitted(grid.move_requested), qtbot.assertNotEmitted(grid.slot_requested):
        drag(qtbot, grid, grab, grab + QPoint(0, 100))
        empty = grid.point_for(2, MONDAY, 14 * 60)
        drag(qtbot, grid, empty, empty + QPoint(0, 60))


# --- selection, keyboard, signals ------------------------------------------------------------


def test_click_selects_and_double_click_activates(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    with qtbot.waitSignal(grid.current_block_changed) as changed:
        qtbot.mouseClick(
            grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.block_rect(3).center()
        )
    assert changed.args[0].id == 3
    assert grid.current_block().id == 3
    with qtbot.waitSignal(grid.block_activated) as activated:
        qtbot.mouseDClick(
            grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.block_rect(2).center()
        )
    assert activated.args[0].id == 2
    with qtbot.waitSignal(grid.current_block_changed) as cleared:
        qtbot.mouseClick(
            grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.point_for(2, MONDAY, 15 * 60)
        )
    assert cleared.args == [None]


def test_keyboard_walks_a_column_and_opens_the_block(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.setFocus()
    grid.select_block(1)
    with qtbot.waitSignal(grid.current_block_changed) as changed:
        qtbot.keyClick(grid, Qt.Key.Key_Down)
    assert changed.args[0].id == 2
    qtbot.keyClick(grid, Qt.Key.Key_Up)
    assert grid.current_block().id == 1
    with qtbot.waitSignal(grid.block_activated) as activated:
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert activated.args[0].id == 1
    with qtbot.waitSignal(grid.block_context_menu) as menu:
        qtbot.keyClick(grid, Qt.Key.Key_Delete)
    assert menu.args[0].id == 1
    assert isinstance(menu.args[1], QPoint)


def test_left_right_and_t_are_left_to_the_page(qtbot, host, grid) -> None:
    grid.set_schedule(two_provider_day())
    seen = []

    class Page(QWidget):
        def keyPressEvent(self, event) -> None:
            seen.append(event.key())

    page = Page(host)
    grid.setParent(page)
    page.show()
    grid.show()
    grid.setFocus()
    for key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_T):
        qtbot.keyClick(grid, key)
    qtbot.keyClick(grid, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    keys = [key for key in seen if key != Qt.Key.Key_Control]
    assert keys == [Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_T, Qt.Key.Key_X]


def test_right_click_asks_for_the_block_menu(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    from PySide6.QtGui import QContextMenuEvent

    centre = grid.block_rect(2).center()
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, centre, grid.viewport().mapToGlobal(centre)
    )
    with qtbot.waitSignal(grid.block_context_menu) as menu:
        QApplication.sendEvent(grid.viewport(), event)
    assert menu.args[0].id == 2
    assert menu.args[1] == grid.viewport().mapToGlobal(centre)
    assert grid.current_block().id == 2


def test_new_data_keeps_the_selection(qtbot, grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.select_block(2)
    grid.set_schedule(two_provider_day())
    assert grid.current_block().id == 2
    with qtbot.waitSignal(grid.current_block_changed) as gone:
        grid.set_schedule(make_schedule(MONDAY, 1, PROVIDERS[:2], []))
    assert gone.args == [None]


# --- what a person reads ---------------------------------------------------------------------


def test_tooltip_tells_who_what_when(qtbot, grid) -> None:
    block = make_block(
        1, PROVIDERS[0], MONDAY, 9, 0, 45, "Ruiz, Ana", "Composite filling", "arrived",
        patient_phone="(312) 555-0142", notes="Prefers the left chair", room_name="Room 2",
        arrived_at=local(MONDAY, 9, 12),
    )  # fmt: skip
    grid.set_schedule(make_schedule(MONDAY, 1, PROVIDERS[:1], [block]))
    grid.scroll_to_time(8 * 60)
    centre = grid.block_rect(1).center()
    event = QHelpEvent(QEvent.Type.ToolTip, centre, grid.viewport().mapToGlobal(centre))
    QApplication.sendEvent(grid.viewport(), event)
    qtbot.waitUntil(QToolTip.isVisible)
    text = QToolTip.text()
    expected = ("Ruiz, Ana", "(312) 555-0142", "Composite filling", "Dr. Daniel Okafor", "Room 2")
    expected += ("9:00", "9:45", "Arrived", "+12 min late", "Prefers the left chair")
    for part in expected:
        assert part in text
    QToolTip.hideText()


def test_early_arrival_reads_early(grid) -> None:
    block = make_block(1, PROVIDERS[0], MONDAY, 9, 0, 45, arrived_at=local(MONDAY, 8, 52),
                       status="arrived")  # fmt: skip
    assert "8 min early" in grid.tooltip_text(block)


def test_empty_schedule_says_what_to_do(grid) -> None:
    grid.set_schedule(make_schedule(MONDAY, 1, [], []))
    assert grid.column_count() == 0
    assert "Settings → Providers" in EMPTY_TEXT
    image = grid.viewport().grab().toImage()
    dark = sum(
        1
        for x in range(0, image.width(), 2)
        if image.pixelColor(x, image.height() // 2).lightness() < 200
    )
    assert dark > 20  # the sentence is drawn across the middle
    assert grid.empty_text() == EMPTY_TEXT
    grid.set_schedule(replace(make_schedule(MONDAY, 1, [], []), by="room"))
    assert "Settings → Rooms" in grid.empty_text()


def test_colour_by_changes_the_block_colour(grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    stripe = grid.block_rect(1).topLeft() + QPoint(2, 10)
    by_provider = pixel(grid, stripe)
    assert by_provider.name() == "#3f7fd9"
    grid.set_colour_by("service")
    assert pixel(grid, stripe).name() == SERVICES["Exam and cleaning"]
    grid.set_colour_by("status")
    assert pixel(grid, stripe).name() != by_provider.name()
    assert grid.colour_by() == "status"
    with pytest.raises(ValueError):
        grid.set_colour_by("mood")


def test_now_line_is_red_on_todays_column_at_the_time(grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    grid.set_now(local(MONDAY, 15, 30))
    point = grid.point_for(2, MONDAY, 15 * 60 + 30)
    colour = pixel(grid, point)
    assert colour.red() > 200 and colour.green() < 100
    grid.set_now(local(MONDAY + timedelta(days=1), 15, 30))
    colour = pixel(grid, point)
    assert not (colour.red() > 200 and colour.green() < 100)


def test_highlighted_slots_are_drawn_green(grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.scroll_to_time(8 * 60)
    grid.set_highlighted_slots(
        [(2, local(MONDAY, 14, 0), local(MONDAY, 15, 0))], label="Fits waitlist: Ruiz"
    )
    assert grid.highlighted_slot_count() == 1
    point = grid.point_for(2, MONDAY, 14 * 60 + 30)
    colour = pixel(grid, point)
    assert colour.green() > colour.red() and colour.green() > colour.blue()


def test_now_timer_belongs_to_the_grid(grid) -> None:
    from PySide6.QtCore import QTimer

    timer = grid.findChild(QTimer, "nowTimer")
    assert timer is not None and timer.interval() == 60_000
    grid.set_now(None)
    assert timer.isActive()
    assert abs(grid.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_highlighted_slots_survive_a_refresh(grid) -> None:
    grid.set_schedule(two_provider_day())
    grid.set_highlighted_slots([(2, local(MONDAY, 14, 0), local(MONDAY, 15, 0))], "Fits")
    grid.set_schedule(two_provider_day())
    assert grid.highlighted_slot_count() == 1
    grid.set_highlighted_slots([])
    assert grid.highlighted_slot_count() == 0


def test_a_week_of_eight_providers_scrolls_sideways(qtbot, grid) -> None:
    colours = [
        "#3f7fd9",
        "#d9663f",
        "#3fa66b",
        "#8e24aa",
        "#00897b",
        "#fbc02d",
        "#f4511e",
        "#5c6bc0",
    ]
    eight = [CalendarResource("provider", i, f"Provider {i}", c) for i, c in enumerate(colours, 1)]
    sunday = MONDAY + timedelta(days=6)
    blocks = [
        make_block(1, eight[0], MONDAY, 9, 0, 30, "Ruiz, Ana"),
        make_block(2, eight[7], sunday, 9, 0, 30, "Silva, João"),
    ]
    grid.set_schedule(make_schedule(MONDAY, 7, eight, blocks))
    assert grid.column_count() == 56
    last = grid.block_rect(2)
    assert last.left() > grid.viewport().width()  # off to the right at first
    assert grid.block_rect(1).width() >= 90  # columns keep a readable width
    grid.select_block(2)  # selecting scrolls it into view
    assert grid.viewport().rect().contains(grid.block_rect(2))
    point = grid.point_for(8, sunday, 10 * 60 + 5)
    with qtbot.waitSignal(grid.slot_requested) as blocker:
        qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [8, local(sunday, 10, 0), local(sunday, 10, 30)]


def test_long_names_stay_inside_their_block(grid) -> None:
    name = "Vandenberghe-Oyelaran-Kristiansdottir, Maximiliana Gwendolyn"
    blocks = [
        make_block(i, PROVIDERS[0], MONDAY, 9, 0, 60, name, double_booked=True) for i in (1, 2, 3)
    ]
    grid.set_schedule(make_schedule(MONDAY, 1, PROVIDERS[:1], blocks))
    grid.scroll_to_time(8 * 60)
    rightmost = max((grid.block_rect(i) for i in (1, 2, 3)), key=lambda r: r.left())
    beyond = QPoint(rightmost.right() + 4, rightmost.top() + 8)
    assert pixel(grid, beyond).name() == "#ffffff"


def test_dragging_to_the_edge_scrolls_the_week(qtbot, grid) -> None:
    eight = [CalendarResource("provider", i, f"Provider {i}", "#3f7fd9") for i in range(1, 9)]
    grid.set_schedule(make_schedule(MONDAY, 7, eight, [make_block(1, eight[0], MONDAY, 9, 0, 30)]))
    grid.scroll_to_time(8 * 60)
    grab = grid.block_rect(1).center()
    edge = QPoint(grid.viewport().width() - 5, grab.y())
    drag(qtbot, grid, grab, edge, release=False)
    assert grid.horizontalScrollBar().value() > 0
    qtbot.keyClick(grid, Qt.Key.Key_Escape)
    qtbot.mouseRelease(grid.viewport(), Qt.MouseButton.LeftButton, pos=edge)


def test_the_tooltip_names_the_alerts_and_a_block_without_any_has_no_mark(grid) -> None:
    """Not "see the patient record": the alerts themselves, where a mistake would happen."""
    alerts = "Alerts: Latex allergy · Allergies: Penicillin"
    block = make_block(1, PROVIDERS[0], MONDAY, 9, 0, 45, alerts=alerts)
    assert f"⚠ {alerts}" in grid.tooltip_text(block).splitlines()
    plain = make_block(2, PROVIDERS[0], MONDAY, 10, 0, 45)
    assert "⚠" not in grid.tooltip_text(plain) and not plain.has_alerts
