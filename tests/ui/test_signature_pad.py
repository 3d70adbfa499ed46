"""The signature pad, driven with the mouse, keyboard and touch as a person would."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.ui.widgets.signature_pad import MIN_INK_LENGTH, SignaturePad


@pytest.fixture
def pad(qtbot) -> SignaturePad:
    widget = SignaturePad()
    widget.resize(600, 200)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def drag(pad: SignaturePad, points: list[tuple[int, int]]) -> None:
    """Press at the first point, move through the rest, release at the last."""
    first = QPoint(*points[0])
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    for x, y in points[1:]:
        QTest.mouseMove(pad, QPoint(x, y))
    QTest.mouseRelease(
        pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*points[-1])
    )


def squiggle(x0: int = 60, y0: int = 120, n: int = 24) -> list[tuple[int, int]]:
    return [(x0 + 12 * i, y0 + (18 if i % 2 else -18)) for i in range(n)]


def ink_pixels(image: QImage) -> int:
    count = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            if image.pixelColor(x, y).lightness() < 140:
                count += 1
    return count


def test_a_new_pad_is_empty_and_exports_nothing(pad):
    assert pad.is_empty() and pad.stroke_count() == 0
    assert pad.signature_png() == b""
    assert not pad.can_undo() and not pad.can_redo()
    assert pad.focusPolicy() == Qt.FocusPolicy.StrongFocus
    assert pad.testAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents)


def test_drags_become_strokes_and_emit_changed(pad, qtbot):
    with qtbot.waitSignal(pad.changed):
        drag(pad, squiggle())
    drag(pad, [(100, 60), (300, 70), (420, 64)])
    assert pad.stroke_count() == 2
    assert pad.ink_length() > MIN_INK_LENGTH
    assert not pad.is_empty()
    assert pad.hasFocus()


def test_a_tap_or_a_tiny_mark_is_not_a_signature(pad):
    QTest.mouseClick(
        pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 90)
    )
    assert pad.stroke_count() == 1  # drawn as a dot (an i's dot), but no signature yet
    assert pad.is_empty() and pad.signature_png() == b""
    drag(pad, [(300, 100), (306, 102), (310, 104)])
    assert pad.stroke_count() == 2 and pad.is_empty()
    drag(pad, squiggle())
    assert not pad.is_empty()


def test_undo_redo_and_clear(pad, qtbot):
    drag(pad, squiggle())
    drag(pad, [(100, 60), (300, 70)])
    pad.undo()
    assert pad.stroke_count() == 1 and pad.can_redo()
    pad.redo()
    assert pad.stroke_count() == 2 and not pad.can_redo()
    pad.clear()
    assert pad.stroke_count() == 0 and pad.is_empty()
    pad.undo()  # Clear is undone as one step
    assert pad.stroke_count() == 2
    pad.undo()
    pad.undo()
    assert pad.stroke_count() == 0 and not pad.can_undo()
    pad.redo()
    assert pad.stroke_count() == 1
    # A new stroke after an undo drops what was undone.
    drag(pad, [(80, 50), (200, 150)])
    assert pad.stroke_count() == 2 and not pad.can_redo()


def test_keyboard_undo_redo_and_delete(pad, qtbot):
    drag(pad, squiggle())
    drag(pad, [(100, 60), (300, 70)])
    pad.setFocus()
    qtbot.keyClick(pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert pad.stroke_count() == 1
    qtbot.keyClick(
        pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert pad.stroke_count() == 2
    qtbot.keyClick(pad, Qt.Key.Key_Delete)
    assert pad.stroke_count() == 0
    qtbot.keyClick(pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert pad.stroke_count() == 2


def test_the_png_is_trimmed_to_the_ink_at_print_resolution(pad):
    drag(pad, squiggle(x0=200, y0=100, n=12))  # spans x 200..332, y 82..118
    png = pad.signature_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = QImage.fromData(png, "PNG")
    assert not image.isNull()
    # Trimmed: about (132 + margins) × (36 + margins) pad pixels, at four times that.
    assert 560 <= image.width() <= 640 and 170 <= image.height() <= 240
    assert image.width() >= 600 * 0.9  # about 300 dpi at two inches wide
    assert ink_pixels(image) > 300
    # The corners are paper, not ink.
    assert image.pixelColor(0, 0).lightness() == 255
    assert image.pixelColor(image.width() - 1, image.height() - 1).lightness() == 255


def test_touch_draws_a_stroke(pad, qtbot):
    device = QTest.createTouchDevice()
    sequence = QTest.touchEvent(pad, device)
    sequence.press(0, QPoint(80, 100), pad).commit()
    for x in range(90, 400, 20):
        sequence.move(0, QPoint(x, 100 + (x % 40)), pad).commit()
    sequence.release(0, QPoint(400, 110), pad).commit()
    assert pad.stroke_count() == 1
    assert not pad.is_empty()


def test_the_pad_paints_its_guide_and_ink(pad):
    drag(pad, squiggle())
    image = pad.grab().toImage()
    baseline = int(pad.baseline_y())
    # The baseline's grey runs across the pad.
    assert image.pixelColor(300, baseline).lightness() < 230
    # The smooth curve passes through the midpoints between the points dragged through.
    points = squiggle()
    middles = [
        QPointF((a[0] + b[0]) / 2, (a[1] + b[1]) / 2).toPoint()
        for a, b in itertools.pairwise(points[2:9])
    ]
    assert all(image.pixelColor(p).lightness() < 160 for p in middles)
    # Away from the line the paper is white.
    assert image.pixelColor(QPoint(500, 30)).lightness() == 255
