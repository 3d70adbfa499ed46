"""A signature pad: the patient signs with a mouse, a pen or a finger.

Strokes are kept as points with a width (a pen's pressure makes the line thicker, as ink
does) and drawn as smooth curves through the midpoints of the points, antialiased.  The
pad shows a baseline with an ✕ and a "Sign here" hint; Clear, Undo and Redo work from
buttons (the dialog's) or the keyboard once the pad has focus (Ctrl+Z, Ctrl+Shift+Z or
Ctrl+Y, Delete).  :meth:`SignaturePad.signature_png` gives the ink trimmed to its bounding
box on white, at four times the screen's size, so it prints crisply about two inches wide.

A tap or a tiny scribble is not a signature: :meth:`SignaturePad.is_empty` stays true
until the strokes add up to :data:`MIN_INK_LENGTH` pixels of line.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

#: Strokes shorter than this in total (screen pixels) are not a signature.
MIN_INK_LENGTH = 30.0
#: The exported picture is this many times the pad's size (print resolution).
EXPORT_SCALE = 4.0
#: Blank space kept around the ink in the exported picture, in pad pixels.
EXPORT_MARGIN = 6.0
INK = QColor("#13206b")
#: Line width in pad pixels: a mouse draws the middle one; a pen from thin to thick.
MOUSE_WIDTH = 2.4
PEN_MIN_WIDTH = 1.0
PEN_MAX_WIDTH = 4.4
#: Closer points than this add nothing but noise.
_MIN_STEP = 1.2


@dataclass
class Stroke:
    """One line from pen-down to pen-up: points and the line's width at each."""

    points: list[QPointF] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)

    def add(self, point: QPointF, width: float) -> bool:
        if self.points:
            last = self.points[-1]
            if math.hypot(point.x() - last.x(), point.y() - last.y()) < _MIN_STEP:
                return False
        self.points.append(QPointF(point))
        self.widths.append(width)
        return True

    def length(self) -> float:
        return sum(
            math.hypot(b.x() - a.x(), b.y() - a.y()) for a, b in itertools.pairwise(self.points)
        )

    def bounds(self) -> QRectF:
        xs = [p.x() for p in self.points]
        ys = [p.y() for p in self.points]
        half = max(self.widths) / 2
        return QRectF(
            min(xs) - half,
            min(ys) - half,
            max(xs) - min(xs) + 2 * half,
            max(ys) - min(ys) + 2 * half,
        )


def draw_stroke(painter: QPainter, stroke: Stroke, color: QColor = INK) -> None:
    """A smooth curve through the stroke's midpoints; each piece at its point's width."""
    points, widths = stroke.points, stroke.widths
    if not points:
        return
    pen = QPen(color, widths[0], Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    if len(points) == 1:  # a dot: the i's and full stops of a signature
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        radius = max(widths[0], 1.6) / 2 + 0.4
        painter.drawEllipse(points[0], radius, radius)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        return
    painter.setBrush(Qt.BrushStyle.NoBrush)
    start = points[0]
    for index in range(1, len(points)):
        control = points[index]
        end = (
            points[index] if index == len(points) - 1 else (points[index] + points[index + 1]) / 2.0
        )
        piece = QPainterPath(start)
        piece.quadTo(control, end)
        pen.setWidthF((widths[index - 1] + widths[index]) / 2)
        painter.setPen(pen)
        painter.drawPath(piece)
        start = end


class SignaturePad(QWidget):
    """Captures a handwritten signature; ``changed`` is emitted after every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, hint: str = "Sign here") -> None:
        super().__init__(parent)
        self.setObjectName("signaturePad")
        self.setAccessibleName("Signature pad")
        self.setAccessibleDescription(
            "Sign with the mouse, a pen or a finger. Ctrl+Z undoes the last stroke, "
            "Ctrl+Shift+Z redoes it, Delete clears the pad."
        )
        self.setToolTip("Sign here with the mouse, a pen or a finger")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(360, 140)
        self._hint = hint
        self._strokes: list[Stroke] = []
        # Undo history: ("stroke", Stroke) or ("clear", the strokes cleared).
        self._done: list[tuple[str, object]] = []
        self._undone: list[tuple[str, object]] = []
        self._current: Stroke | None = None
        #: "mouse", "tablet" or "touch" while a stroke is being drawn.
        self._device: str | None = None

    # --- what callers read ---------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(620, 200)

    def strokes(self) -> list[Stroke]:
        """The finished strokes, oldest first (the one being drawn is not included)."""
        return list(self._strokes)

    def stroke_count(self) -> int:
        return len(self._strokes)

    def ink_length(self) -> float:
        return sum(stroke.length() for stroke in self._strokes)

    def is_empty(self) -> bool:
        """True until the strokes make a mark worth calling a signature (not a tap)."""
        return self.ink_length() < MIN_INK_LENGTH

    def can_undo(self) -> bool:
        return bool(self._done)

    def can_redo(self) -> bool:
        return bool(self._undone)

    # --- editing -----------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every stroke (Undo brings them all back)."""
        self._current = None
        self._device = None
        if not self._strokes:
            self.update()
            return
        self._done.append(("clear", list(self._strokes)))
        self._undone.clear()
        self._strokes = []
        self.update()
        self.changed.emit()

    def undo(self) -> None:
        """Take back the last stroke, or bring back what Clear removed."""
        if not self._done:
            return
        action = self._done.pop()
        kind, payload = action
        if kind == "stroke":
            self._strokes.pop()
        else:
            self._strokes = list(payload)
        self._undone.append(action)
        self.update()
        self.changed.emit()

    def redo(self) -> None:
        """Do again what Undo took back."""
        if not self._undone:
            return
        action = self._undone.pop()
        kind, payload = action
        if kind == "stroke":
            self._strokes.append(payload)
        else:
            self._strokes = []
        self._done.append(action)
        self.update()
        self.changed.emit()

    # --- export ------------------------------------------------------------------------------

    def ink_bounds(self) -> QRectF:
        bounds = QRectF()
        for stroke in self._strokes:
            bounds = bounds.united(stroke.bounds())
        return bounds

    def signature_image(self, scale: float = EXPORT_SCALE) -> QImage:
        """The ink on white, trimmed to its bounding box plus a margin; a null image if empty."""
        if self.is_empty():
            return QImage()
        box = self.ink_bounds().adjusted(
            -EXPORT_MARGIN, -EXPORT_MARGIN, EXPORT_MARGIN, EXPORT_MARGIN
        )
        width = max(1, math.ceil(box.width() * scale))
        height = max(1, math.ceil(box.height() * scale))
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.scale(scale, scale)
        painter.translate(-box.left(), -box.top())
        for stroke in self._strokes:
            draw_stroke(painter, stroke)
        painter.end()
        return image

    def signature_png(self) -> bytes:
        """The signature as PNG bytes (see :meth:`signature_image`); ``b""`` when empty."""
        image = self.signature_image()
        if image.isNull():
            return b""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        return bytes(data.data())

    # --- drawing input -----------------------------------------------------------------------

    def _begin(self, point: QPointF, width: float, device: str) -> None:
        self._device = device
        self._current = Stroke()
        self._current.add(point, width)
        self.update()

    def _extend(self, point: QPointF, width: float) -> None:
        if self._current is not None and self._current.add(point, width):
            self.update()

    def _finish(self) -> None:
        stroke, self._current = self._current, None
        self._device = None
        if stroke is None or not stroke.points:
            return
        self._strokes.append(stroke)
        self._done.append(("stroke", stroke))
        self._undone.clear()  # a new stroke makes what was undone unreachable, as in any editor
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._device not in (None, "mouse"):
            event.ignore()
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._begin(event.position(), MOUSE_WIDTH, "mouse")
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._device != "mouse":
            event.ignore()
            return
        self._extend(event.position(), MOUSE_WIDTH)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._device != "mouse" or event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self._extend(event.position(), MOUSE_WIDTH)
        self._finish()
        event.accept()

    def tabletEvent(self, event: QTabletEvent) -> None:
        # Accepting the pen's events stops Qt from also sending them as mouse events.
        width = PEN_MIN_WIDTH + (PEN_MAX_WIDTH - PEN_MIN_WIDTH) * max(
            0.0, min(1.0, event.pressure())
        )
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self.setFocus(Qt.FocusReason.OtherFocusReason)
            self._begin(event.position(), width, "tablet")
        elif kind == QTabletEvent.Type.TabletMove and self._device == "tablet":
            self._extend(event.position(), width)
        elif kind == QTabletEvent.Type.TabletRelease and self._device == "tablet":
            self._extend(event.position(), width)
            self._finish()
        event.accept()

    def event(self, event) -> bool:
        kind = event.type()
        if kind in (
            event.Type.TouchBegin,
            event.Type.TouchUpdate,
            event.Type.TouchEnd,
            event.Type.TouchCancel,
        ):
            self._touch(event)
            return True
        return super().event(event)

    def _touch(self, event) -> None:
        # One finger signs; a second finger (a palm, a pinch) is ignored.
        points = event.points()
        kind = event.type()
        if kind == event.Type.TouchCancel:
            self._current = None
            self._device = None
            self.update()
        elif points:
            position = points[0].position()
            if kind == event.Type.TouchBegin:
                self.setFocus(Qt.FocusReason.OtherFocusReason)
                self._begin(position, MOUSE_WIDTH + 0.4, "touch")
            elif self._device == "touch":
                self._extend(position, MOUSE_WIDTH + 0.4)
                if kind == event.Type.TouchEnd:
                    self._finish()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
        elif event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z
            and event.modifiers()
            == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        ):
            self.redo()
        elif event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not event.modifiers():
            self.clear()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    # --- painting ----------------------------------------------------------------------------

    def baseline_y(self) -> float:
        return self.height() * 0.74

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        border = (
            self.palette().color(QPalette.ColorRole.Highlight)
            if self.hasFocus()
            else QColor("#9aa5b1")
        )
        painter.setPen(QPen(border, 2.0 if self.hasFocus() else 1.0))
        painter.setBrush(QColor("white"))
        painter.drawRoundedRect(frame, 6, 6)

        guide = QColor("#9aa5b1")
        left, right = 28.0, self.width() - 28.0
        baseline = self.baseline_y()
        painter.setPen(QPen(guide, 1.2))
        painter.drawLine(QPointF(left, baseline), QPointF(right, baseline))
        cross = QFont(self.font())
        cross.setPointSizeF(max(cross.pointSizeF(), 9.0) * 1.5)
        painter.setFont(cross)
        painter.drawText(
            QRectF(left, baseline - 34, 30, 30),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
            "✕",
        )
        hint = QFont(self.font())
        painter.setFont(hint)
        painter.setPen(QColor("#52606d"))
        painter.drawText(
            QRectF(left, baseline + 4, right - left, 24),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            self._hint,
        )

        painter.setClipRect(frame.adjusted(2, 2, -2, -2))
        for stroke in self._strokes:
            draw_stroke(painter, stroke)
        if self._current is not None:
            draw_stroke(painter, self._current)
        painter.end()
