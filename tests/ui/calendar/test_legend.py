"""Status marks a person can tell apart, and the calendar's legend (issue 17 §5): a confirmed
visit shows a green ✓, a completed one the word "Done" in grey — not ✓ beside ✔ — and the
Legend button explains each mark, the book's backgrounds and the colours on screen."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from app.data.models.appointments import Appointment
from app.ui.calendar import grid as g
from tests.ui.calendar.test_calendar_page import MONDAY, book, booked, make_page, wait_loaded

__all__ = ["book", "make_page"]  # fixtures used here


def _set_status(db, appointment_id: int, status: str) -> None:
    with db.uow() as s:
        s.get(Appointment, appointment_id).status = status


def _green_pixels(image: QImage, rect) -> int:
    """Pixels on the first line of a block (its name line) that are clearly green: the
    confirmed mark's ink (the block's own tint here is the provider's blue)."""
    count = 0
    for x in range(rect.left(), rect.right()):
        for y in range(rect.top(), min(rect.top() + 20, rect.bottom())):
            c = image.pixelColor(x, y)
            if c.green() > c.red() + 40 and c.green() > c.blue() + 20:
                count += 1
    return count


def test_confirmed_and_completed_look_different_on_the_book(qtbot, owner_ctx, book, make_page):
    confirmed = booked(owner_ctx, book, "09:00", "09:45")
    completed = booked(owner_ctx, book, "10:00", "10:45", patient=book.bo)
    _set_status(owner_ctx.db, confirmed, "confirmed")
    _set_status(owner_ctx.db, completed, "completed")
    page = make_page(day=MONDAY)
    page.refresh()
    wait_loaded(qtbot, page)
    grid = page.grid
    image = grid.viewport().grab().toImage()
    # The confirmed visit's tick is green; the completed one has no green mark at all.
    assert QColor(g.STATUS_MARK_COLOURS["confirmed"]).green() > 100
    assert _green_pixels(image, grid.block_rect(confirmed)) > 3
    assert _green_pixels(image, grid.block_rect(completed)) == 0
    # And they are different marks, not two weights of a tick.
    assert g.STATUS_GLYPHS["completed"] == "Done"
    assert {g.STATUS_GLYPHS["confirmed"], g.STATUS_GLYPHS["completed"]} != {"✓", "✔"}


def test_the_legend_explains_every_mark_and_the_colours_on_screen(
    qtbot, owner_ctx, book, make_page
):
    booked(owner_ctx, book, "09:00", "09:45")
    page = make_page(day=MONDAY)
    button = page.legend_button
    assert button.isVisible() and button.text() == "Legend"
    button.menu().aboutToShow.emit()  # what opening the popup does
    legend = button.legend
    said = dict(legend.entries)
    assert said["✓"] == "Confirmed by the patient"
    assert said["Done"] == "Completed — the visit is done"
    for status, glyph in g.STATUS_GLYPHS.items():
        assert (glyph or "(no mark)") in said, status
    for mark in ("⚠", "2×", "✎"):
        assert mark in said
    # Provider colours: one line per provider column, in the book's own colours.
    resources = page.grid.schedule().resources
    assert legend.colours == [(r.name, r.colour) for r in resources]
    assert legend.colours_heading.text() == "Colors: each provider (or room)"  # an en_US clinic
    # Status colours: the key follows the "colour by" choice.
    page.colour_combo.setCurrentIndex(page.colour_combo.findData("status"))
    assert ("Confirmed", g.STATUS_COLOURS["confirmed"]) in legend.colours
    assert ("Completed", g.STATUS_COLOURS["completed"]) in legend.colours
    # The popup is a readable size on the desk's screen.
    legend.show()
    qtbot.waitExposed(legend)
    assert legend.height() < 700 and legend.width() < 700
