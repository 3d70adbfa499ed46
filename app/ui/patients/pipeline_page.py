"""The Pipeline page: every patient's place in the journey, one column per stage.

A column is one ``QListView`` over a :class:`StageCardModel`, painted by a
:class:`CardDelegate` — no widget per card, so a stage can hold thousands of
patients.  Cards move by drag and drop between columns, or from the keyboard
with *Move to…* (Ctrl+M, or the context menu).  Moving someone to Inactive or
Lost asks why first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.journey import JourneyStage, PipelineCard, set_journey_stages
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import FormField, dialog_buttons
from app.ui.widgets.messages import show_warning

Index = QModelIndex | QPersistentModelIndex

#: The longest-waiting patients of each stage that the board loads (the service's order).
LIMIT_PER_STAGE = 1000
CARD_MIME_TYPE = "application/x-caredesk-pipeline-cards"
CARD_ROLE = Qt.ItemDataRole.UserRole + 1
PATIENT_ID_ROLE = Qt.ItemDataRole.UserRole

STAGE_LABELS: dict[str, str] = {
    JourneyStage.INQUIRY.value: "Inquiry",
    JourneyStage.CONSULTATION.value: "Consultation",
    JourneyStage.BOOKED.value: "Booked",
    JourneyStage.IN_TREATMENT.value: "In treatment",
    JourneyStage.FOLLOW_UP.value: "Follow-up",
    JourneyStage.INACTIVE.value: "Inactive",
    JourneyStage.LOST.value: "Lost",
}
STAGE_COLOURS: dict[str, str] = {
    JourneyStage.INQUIRY.value: "#4a7fd8",
    JourneyStage.CONSULTATION.value: "#8a63c9",
    JourneyStage.BOOKED.value: "#1f6f78",
    JourneyStage.IN_TREATMENT.value: "#2e8b57",
    JourneyStage.FOLLOW_UP.value: "#d98b1f",
    JourneyStage.INACTIVE.value: "#7d8a90",
    JourneyStage.LOST.value: "#b3261e",
}
#: Stages a patient leaves only by a staff decision; moving there needs a reason.
REASON_STAGES = (JourneyStage.INACTIVE.value, JourneyStage.LOST.value)
#: After this many days in an open stage a card's age is shown as overdue.
STALE_AFTER_DAYS: dict[str, int] = {
    JourneyStage.INQUIRY.value: 7,
    JourneyStage.CONSULTATION.value: 21,
    JourneyStage.BOOKED.value: 45,
    JourneyStage.IN_TREATMENT.value: 90,
    JourneyStage.FOLLOW_UP.value: 60,
}

INK = QColor("#24333a")
MUTED = QColor("#5d6b72")
OVERDUE = QColor("#9a4d00")
CARD_BORDER = QColor("#d3dade")
CARD_SELECTED = QColor("#1f6f78")
CARD_SELECTED_FILL = QColor("#eaf4f5")
COLUMN_FILL = "#eef2f3"
COLUMN_MIN_WIDTH = 170


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def days_text(days: int) -> str:
    if days <= 0:
        return "Today"
    return "1 day" if days == 1 else f"{days:,} days"


def is_overdue(card: PipelineCard) -> bool:
    limit = STALE_AFTER_DAYS.get(card.stage)
    return limit is not None and card.days_in_stage > limit


def encode_cards(stage: str, patient_ids: list[int]) -> QMimeData:
    """What a drag carries: the column it left and the patients' ids (no names: no PHI)."""
    mime = QMimeData()
    payload = json.dumps({"from": stage, "ids": patient_ids}).encode()
    mime.setData(CARD_MIME_TYPE, QByteArray(payload))
    return mime


def decode_cards(mime: QMimeData | None) -> tuple[str, list[int]] | None:
    if mime is None or not mime.hasFormat(CARD_MIME_TYPE):
        return None
    try:
        payload = json.loads(bytes(mime.data(CARD_MIME_TYPE).data()).decode())
        ids = [int(i) for i in payload["ids"]]
        return str(payload["from"]), ids
    except (ValueError, KeyError, TypeError):
        return None


# --- the model ------------------------------------------------------------------------------


class StageCardModel(QAbstractListModel):
    """The cards of one stage.  Dropping cards here asks for a move (``cards_dropped``);
    the page does the write and reloads, the model never changes a stage itself."""

    cards_dropped = Signal(list, str)  # patient ids, this stage

    def __init__(self, stage: str, *, can_move: bool, parent=None) -> None:
        super().__init__(parent)
        self.stage = stage
        self.can_move = can_move
        self._cards: list[PipelineCard] = []
        self._describe: Callable[[PipelineCard], str] = lambda card: card.name

    def set_cards(self, cards: list[PipelineCard]) -> None:
        self.beginResetModel()
        self._cards = list(cards)
        self.endResetModel()

    def set_describer(self, describe: Callable[[PipelineCard], str]) -> None:
        self._describe = describe

    def cards(self) -> list[PipelineCard]:
        return list(self._cards)

    def card_at(self, row: int) -> PipelineCard:
        return self._cards[row]

    def row_of(self, patient_id: int) -> int | None:
        for row, card in enumerate(self._cards):
            if card.patient_id == patient_id:
                return row
        return None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cards)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._cards):
            return None
        card = self._cards[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return card.name
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._describe(card)
        if role == PATIENT_ID_ROLE:
            return card.patient_id
        if role == CARD_ROLE:
            return card
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled if self.can_move else Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.can_move:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    # --- drag and drop ------------------------------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return [CARD_MIME_TYPE]

    def mimeData(self, indexes) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return encode_cards(self.stage, [self._cards[r].patient_id for r in rows])

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def canDropMimeData(self, data, action, row: int, column: int, parent: Index) -> bool:
        decoded = decode_cards(data)
        return (
            self.can_move
            and decoded is not None
            and decoded[0] != self.stage
            and bool(decoded[1])
            and action in (Qt.DropAction.MoveAction, Qt.DropAction.CopyAction)
        )

    def dropMimeData(self, data, action, row: int, column: int, parent: Index) -> bool:
        if action == Qt.DropAction.IgnoreAction:
            return True
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        decoded = decode_cards(data)
        assert decoded is not None
        self.cards_dropped.emit(decoded[1], self.stage)
        return True


# --- painting -------------------------------------------------------------------------------


class CardDelegate(QStyledItemDelegate):
    """Paints a card: name and open plan value, days in stage and provider, the next step."""

    MARGIN_X = 6
    MARGIN_Y = 4
    PAD = 9

    def __init__(self, money: Callable[[Decimal], str], show_money: bool, parent=None) -> None:
        super().__init__(parent)
        self._money = money
        self._show_money = show_money

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        return bold, small

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        bold, small = self._fonts(option)
        height = QFontMetrics(bold).height() + 2 * QFontMetrics(small).height() + 2 * self.PAD + 6
        return QSize(160, height + 2 * self.MARGIN_Y)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        card = index.data(CARD_ROLE)
        if card is None:
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        focused = bool(option.state & QStyle.StateFlag.State_HasFocus)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        rect = option.rect.adjusted(self.MARGIN_X, self.MARGIN_Y, -self.MARGIN_X, -self.MARGIN_Y)
        bold, small = self._fonts(option)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = CARD_SELECTED_FILL if selected else QColor("#f9fbfb" if hovered else "#ffffff")
        border = CARD_SELECTED if selected or focused else CARD_BORDER
        painter.setPen(QPen(border, 1.6 if selected else 1.0))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 6, 6)
        stripe = QRect(rect.left() + 1, rect.top() + 6, 3, rect.height() - 12)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STAGE_COLOURS.get(card.stage, "#7d8a90")))
        painter.drawRoundedRect(stripe, 1.5, 1.5)

        inner = rect.adjusted(self.PAD + 3, self.PAD - 2, -self.PAD, -self.PAD + 2)
        bold_metrics, small_metrics = QFontMetrics(bold), QFontMetrics(small)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        line1 = QRect(inner.left(), inner.top(), inner.width(), bold_metrics.height())
        line2 = QRect(inner.left(), line1.bottom() + 4, inner.width(), small_metrics.height())
        line3 = QRect(inner.left(), line2.bottom() + 3, inner.width(), small_metrics.height())

        painter.setFont(bold)
        painter.setPen(INK)
        painter.drawText(
            line1,
            left,
            bold_metrics.elidedText(card.name, Qt.TextElideMode.ElideRight, line1.width()),
        )

        painter.setFont(small)
        if card.stage in REASON_STAGES:
            step = f"Reason: {card.next_step}" if card.next_step else "No reason given"
            painter.setPen(MUTED)
        else:
            step = f"→ {card.next_step}" if card.next_step else ""
            painter.setPen(INK)
        painter.drawText(
            line2, left, small_metrics.elidedText(step, Qt.TextElideMode.ElideRight, line2.width())
        )

        room = line3.width()
        if self._show_money and card.open_plan_value > 0:
            value = self._money(card.open_plan_value)
            painter.setPen(QColor("#1f3b45"))
            painter.setFont(bold)
            painter.drawText(line3, right, value)
            room -= bold_metrics.horizontalAdvance(value) + 8
            painter.setFont(small)
        age = days_text(card.days_in_stage)
        painter.setPen(OVERDUE if is_overdue(card) else MUTED)
        age = small_metrics.elidedText(age, Qt.TextElideMode.ElideRight, max(0, room))
        painter.drawText(QRect(line3.left(), line3.top(), max(0, room), line3.height()), left, age)
        age_width = small_metrics.horizontalAdvance(age)
        if card.provider and room - age_width > 24:
            painter.setPen(MUTED)
            provider = small_metrics.elidedText(
                f"  ·  {card.provider}", Qt.TextElideMode.ElideRight, room - age_width
            )
            rest = QRect(line3.left() + age_width, line3.top(), room - age_width, line3.height())
            painter.drawText(rest, left, provider)
        painter.restore()


class StageListView(QListView):
    """One column's cards; says so when the column is empty and glows while a drop can land."""

    def __init__(self, stage: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = stage
        self._drop_ready = False
        self.setObjectName(f"pipelineList_{stage}")
        self.setAccessibleName(f"{stage_label(stage)} patients")
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformItemSizes(True)  # thousands of cards: one size, no per-row measuring
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setStyleSheet(
            f"QListView {{ background: {COLUMN_FILL}; border: none; }}"
            "QListView::item { background: transparent; }"
            "QScrollBar:vertical { width: 8px; background: transparent; margin: 2px 1px; }"
            "QScrollBar::handle:vertical { background: #c4cdd1; border-radius: 3px;"
            " min-height: 28px; }"
            "QScrollBar::handle:vertical:hover { background: #9fb0b7; }"
            "QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical { height: 0; }"
            "QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical { background: none; }"
        )

    def set_drop_ready(self, ready: bool) -> None:
        if ready != self._drop_ready:
            self._drop_ready = ready
            self.viewport().update()

    def dragEnterEvent(self, event) -> None:
        super().dragEnterEvent(event)
        model = self.model()
        ready = model is not None and model.canDropMimeData(
            event.mimeData(), Qt.DropAction.MoveAction, -1, -1, QModelIndex()
        )
        self.set_drop_ready(bool(ready))
        if ready:
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        super().dragMoveEvent(event)
        if self._drop_ready:
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        super().dragLeaveEvent(event)
        self.set_drop_ready(False)

    def dropEvent(self, event) -> None:
        self.set_drop_ready(False)
        self.stopAutoScroll()
        self.setState(QAbstractItemView.State.NoState)
        model = self.model()
        # Wherever the card lands in the column, it joins the stage (the column keeps its order).
        if model is not None and model.dropMimeData(
            event.mimeData(), Qt.DropAction.MoveAction, -1, -1, QModelIndex()
        ):
            # A move: the source model has no removeRows, so its card stays until the reload.
            event.acceptProposedAction()
        else:
            event.ignore()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        model = self.model()
        empty = model is None or model.rowCount() == 0
        if not empty and not self._drop_ready:
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.viewport().rect()
        if self._drop_ready:
            painter.setPen(
                QPen(QColor(STAGE_COLOURS.get(self.stage, "#1f6f78")), 2, Qt.PenStyle.DashLine)
            )
            painter.setBrush(QColor(255, 255, 255, 90))
            painter.drawRoundedRect(area.adjusted(3, 3, -3, -3), 6, 6)
        if empty:
            painter.setPen(MUTED)
            text = (
                f"Drop here to move to {stage_label(self.stage)}"
                if self._drop_ready
                else "No patients"
            )
            painter.drawText(
                area.adjusted(12, 24, -12, 0),
                Qt.AlignmentFlag.AlignHCenter
                | Qt.AlignmentFlag.AlignTop
                | Qt.TextFlag.TextWordWrap,
                text,
            )
        painter.end()


class DropStrip(QFrame):
    """A collapsed column: a narrow strip with the stage's name that still takes drops."""

    expand_requested = Signal()

    def __init__(self, model: StageCardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName(f"pipelineStrip_{model.stage}")
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._drop_ready = False
        self._caption = stage_label(model.stage)
        self.setToolTip(
            f"{stage_label(model.stage)}: click to show the column, or drop a card here"
        )

    def set_caption(self, text: str) -> None:
        self._caption = text
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.expand_requested.emit()
        super().mouseReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:
        ok = self.model.canDropMimeData(
            event.mimeData(), Qt.DropAction.MoveAction, -1, -1, QModelIndex()
        )
        self._drop_ready = ok
        self.update()
        if ok:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._drop_ready = False
        self.update()

    def dropEvent(self, event) -> None:
        self._drop_ready = False
        self.update()
        if self.model.dropMimeData(
            event.mimeData(), Qt.DropAction.MoveAction, -1, -1, QModelIndex()
        ):
            event.acceptProposedAction()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(STAGE_COLOURS.get(self.model.stage, "#7d8a90"))
        area = self.rect().adjusted(1, 1, -1, -1)
        painter.setBrush(QColor(COLUMN_FILL))
        pen = QPen(colour, 2, Qt.PenStyle.DashLine) if self._drop_ready else QPen(CARD_BORDER, 1)
        painter.setPen(pen)
        painter.drawRoundedRect(area, 6, 6)
        painter.setPen(colour)
        painter.setBrush(colour)
        painter.drawRoundedRect(
            QRect(area.left() + 8, area.top() + 8, area.width() - 16, 3), 1.5, 1.5
        )
        painter.translate(area.center().x(), area.top() + 20)
        painter.rotate(90)
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.setPen(INK)
        painter.drawText(QPoint(0, QFontMetrics(font).ascent() // 2 - 2), self._caption)
        painter.end()


class StageColumn(QFrame):
    """A stage's header (name, count, open plan value) above its cards."""

    def __init__(
        self,
        model: StageCardModel,
        delegate: CardDelegate,
        *,
        collapsible: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.stage = model.stage
        self.setObjectName(f"pipelineColumn_{self.stage}")
        colour = STAGE_COLOURS.get(self.stage, "#7d8a90")
        self.setStyleSheet(
            f"QFrame#pipelineColumn_{self.stage} {{ background: {COLUMN_FILL};"
            f" border-radius: 6px; border-top: 3px solid {colour}; }}"
        )
        self.title_label = QLabel(stage_label(self.stage))
        self.title_label.setStyleSheet("font-weight: 600; color: #1f3b45; font-size: 10.5pt;")
        self.count_label = QLabel("0")
        self.count_label.setObjectName("pipelineCount")
        self.count_label.setStyleSheet(
            f"background: {colour}; color: white; border-radius: 8px; padding: 0 7px;"
            " font-weight: 600; font-size: 9pt;"
        )
        self.value_label = QLabel("")
        self.value_label.setObjectName("pipelineValue")
        self.value_label.setStyleSheet("color: #5d6b72; font-size: 9pt;")
        self.value_label.setToolTip("Value of the open treatment plans in this column")
        self.collapse_button: QToolButton | None = None
        title_row = QHBoxLayout()
        title_row.setSpacing(6)
        title_row.addWidget(self.title_label)
        title_row.addWidget(self.count_label)
        title_row.addStretch(1)
        if collapsible:
            self.collapse_button = QToolButton()
            self.collapse_button.setObjectName(f"pipelineCollapse_{self.stage}")
            self.collapse_button.setText("›")
            self.collapse_button.setAutoRaise(True)
            self.collapse_button.setFixedSize(20, 20)
            self.collapse_button.setToolTip(f"Hide the {stage_label(self.stage)} column")
            self.collapse_button.setAccessibleName(f"Hide {stage_label(self.stage)}")
            title_row.addWidget(self.collapse_button)
        header = QVBoxLayout()
        header.setContentsMargins(10, 8, 8, 4)
        header.setSpacing(1)
        header.addLayout(title_row)
        header.addWidget(self.value_label)

        self.view = StageListView(self.stage)
        self.view.setModel(model)
        self.view.setItemDelegate(delegate)
        self.title_label.setBuddy(self.view)

        self.body = QWidget()
        self.body.setObjectName("pipelineColumnBody")
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(0)
        body_layout.addLayout(header)
        body_layout.addWidget(self.view, 1)

        self.strip = DropStrip(model)
        self.strip.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(0)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.strip, 1)
        self.setMinimumWidth(COLUMN_MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        if self.collapse_button is not None:
            self.collapse_button.clicked.connect(self.on_collapse_clicked)
            self.strip.expand_requested.connect(self.on_strip_expand_requested)

    def is_collapsed(self) -> bool:
        return self.strip.isVisibleTo(self)

    def set_collapsed(self, collapsed: bool) -> None:
        self.body.setVisible(not collapsed)
        self.strip.setVisible(collapsed)
        if collapsed:
            self.setMinimumWidth(44)
            self.setMaximumWidth(44)
            self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        else:
            self.setMinimumWidth(COLUMN_MIN_WIDTH)
            self.setMaximumWidth(16_777_215)
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_summary(
        self, count: int, capped: bool, value: str | None, has_value: bool = True
    ) -> None:
        shown = f"{count:,}"
        self.count_label.setText(shown)
        self.count_label.setAccessibleName(f"{shown} patients")
        if value is None:
            self.value_label.setText("")
        elif has_value:
            self.value_label.setText(f"{value} open")
        else:
            self.value_label.setText("No open plans")
        self.value_label.setVisible(value is not None)
        self.strip.set_caption(f"{stage_label(self.stage)}  ·  {shown}")
        if capped:
            self.count_label.setToolTip(
                f"{shown} patients; the board shows the {LIMIT_PER_STAGE:,} longest in this "
                "stage. Filter by provider or lead source to see the others."
            )
        else:
            self.count_label.setToolTip(f"{shown} patients")

    @Slot()
    def on_collapse_clicked(self) -> None:
        self.set_collapsed(True)

    @Slot()
    def on_strip_expand_requested(self) -> None:
        self.set_collapsed(False)
        self.view.setFocus()


# --- the reason dialog ----------------------------------------------------------------------


class JourneyReasonDialog(QDialog):
    """Asks why patients are moved to Inactive or Lost (the service needs a reason)."""

    SUGGESTIONS: dict[str, tuple[str, ...]] = {
        JourneyStage.LOST.value: (
            "Chose another clinic",
            "Cost of treatment",
            "No reply after several follow-ups",
            "Moved away",
            "Not ready for treatment",
        ),
        JourneyStage.INACTIVE.value: (
            "Treatment complete, no recall due",
            "Moved away",
            "No visit in 18 months",
            "Asked not to be contacted",
        ),
    }

    def __init__(self, parent: QWidget | None, stage: str, names: list[str]) -> None:
        super().__init__(parent)
        label = stage_label(stage)
        self.setWindowTitle(f"Move to {label}")
        word = label.lower()
        if len(names) == 1:
            question = f"Why is {names[0]} {word}?"
        else:
            question = f"Why are these {len(names)} patients {word}?"
        intro = QLabel(question)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.reason_combo = QComboBox()
        self.reason_combo.setObjectName("journeyReason")
        self.reason_combo.setEditable(True)
        self.reason_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.reason_combo.addItems(list(self.SUGGESTIONS.get(stage, ())))
        self.reason_combo.setCurrentIndex(-1)
        line = self.reason_combo.lineEdit()
        line.setMaxLength(200)
        line.setPlaceholderText("Type or choose a reason")
        self.reason_field = FormField(
            self.reason_combo, "Kept on the record and shown on the card."
        )
        reason_label = QLabel("&Reason")
        reason_label.setBuddy(self.reason_combo)
        self.buttons, self.ok_button = dialog_buttons(f"Move to {label}")
        self.ok_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(reason_label)
        layout.addWidget(self.reason_field)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.reason_combo.currentTextChanged.connect(self.on_reason_text_changed)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    @Slot(str)
    def on_reason_text_changed(self, text: str) -> None:
        self.ok_button.setEnabled(bool(text.strip()))

    def reason(self) -> str:
        return self.reason_combo.currentText().strip()

    def accept(self) -> None:
        if not self.reason():
            self.reason_field.set_error("Say why, in a few words.")
            return
        super().accept()

    @classmethod
    def ask(cls, parent: QWidget | None, stage: str, names: list[str]) -> str | None:
        dialog = cls(parent, stage, names)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.reason() if accepted else None


# --- the page -------------------------------------------------------------------------------


class PipelinePage(QWidget):
    """The patient journey as a board: who is where, for how long, and what comes next."""

    #: Emitted on the GUI thread each time the board has been (re)loaded.
    loaded = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("pipelinePage")
        self._can_move = ctx.allows(Permission.EDIT_PATIENTS)
        self._sees_plans = ctx.allows(Permission.VIEW_PLANS)
        self._board: dict[str, list[PipelineCard]] = {s.value: [] for s in JourneyStage}
        #: How many patients each stage holds (the board loads at most LIMIT_PER_STAGE).
        self._counts: dict[str, int] = {}
        self._generation = 0
        self._stale = False
        self._reselect: list[int] = []
        self._active_stage: str | None = None

        title = QLabel("Pipeline")
        title.setObjectName("pageTitle")
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("pipelineProvider")
        self.provider_combo.addItem("All providers", None)
        self.provider_combo.setMinimumContentsLength(16)
        self.provider_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.lead_source_combo = QComboBox()
        self.lead_source_combo.setObjectName("pipelineLeadSource")
        self.lead_source_combo.addItem("All lead sources", None)
        self.lead_source_combo.setMinimumContentsLength(14)
        self.lead_source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("pipelineSearch")
        self.search_edit.setPlaceholderText("Find a name on the board")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(200)

        self.open_button = QPushButton("&Open record")
        self.open_button.setObjectName("pipelineOpen")
        self.open_button.setToolTip("Open the selected patient's record (Enter)")
        self.move_button = QPushButton("&Move to…")
        self.move_button.setObjectName("pipelineMove")
        self.move_button.setToolTip("Move the selected patients to another stage (Ctrl+M)")
        self.move_menu = QMenu("&Move to", self)
        self.move_menu.setObjectName("pipelineMoveMenu")
        self.move_actions: dict[str, QAction] = {}
        for stage in JourneyStage:
            action = QAction(stage_label(stage.value), self)
            action.setData(stage.value)
            self.move_menu.addAction(action)
            self.move_actions[stage.value] = action
            if stage.value == JourneyStage.FOLLOW_UP.value:
                self.move_menu.addSeparator()
        self.move_button.setMenu(self.move_menu)
        self.move_shortcut = QAction("Move to…", self)
        self.move_shortcut.setShortcut(QKeySequence("Ctrl+M"))
        self.move_shortcut.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.move_shortcut)
        self.open_action = QAction("&Open record", self)

        filters = QHBoxLayout()
        filters.setSpacing(8)
        for text, widget in (
            ("&Provider", self.provider_combo),
            ("&Lead source", self.lead_source_combo),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            filters.addWidget(label)
            filters.addWidget(widget)
            filters.addSpacing(10)
        filters.addWidget(self.search_edit)
        filters.addStretch(1)
        filters.addWidget(self.open_button)
        filters.addWidget(self.move_button)

        money = self._format_money
        self.delegate = CardDelegate(money, self._sees_plans, self)
        self.models: dict[str, StageCardModel] = {}
        self.columns: dict[str, StageColumn] = {}
        board = QWidget()
        board.setObjectName("pageBody")
        board_layout = QHBoxLayout(board)
        board_layout.setContentsMargins(0, 0, 0, 0)
        board_layout.setSpacing(8)
        for stage in JourneyStage:
            model = StageCardModel(stage.value, can_move=self._can_move, parent=self)
            model.set_describer(self._describe)
            column = StageColumn(
                model, self.delegate, collapsible=stage.value in REASON_STAGES, parent=board
            )
            self.models[stage.value] = model
            self.columns[stage.value] = column
            board_layout.addWidget(column, 1)
        for stage in REASON_STAGES:
            self.columns[stage].set_collapsed(True)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("pageScroll")
        self.scroll.setWidget(board)
        self.scroll.setWidgetResizable(True)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)

        self.status_label = QLabel("Loading…")
        self.status_label.setObjectName("fieldHint")
        hint = QLabel(
            "Drag a card to another column to move the patient"
            + (", or select it and press Ctrl+M." if self._can_move else ".")
            + " Enter or double-click opens the record."
        )
        hint.setObjectName("fieldHint")
        if not self._can_move:
            hint.setText("Enter or double-click a card to open the patient's record.")
        footer = QHBoxLayout()
        footer.addWidget(hint)
        footer.addStretch(1)
        footer.addWidget(self.status_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addLayout(filters)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(footer)
        self.move_button.setVisible(self._can_move)
        self._connect_signals()
        self._update_buttons()
        self._load_filters()
        self.reload()

    def _connect_signals(self) -> None:
        self.provider_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.lead_source_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.search_edit.textChanged.connect(self.on_search_text_changed)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.open_action.triggered.connect(self.on_open_clicked)
        self.move_menu.aboutToShow.connect(self.on_move_menu_about_to_show)
        self.move_shortcut.triggered.connect(self.on_move_shortcut_triggered)
        for stage, action in self.move_actions.items():
            action.triggered.connect(
                lambda _checked=False, s=stage: self.on_move_action_triggered(s)
            )
        for stage, column in self.columns.items():
            view = column.view
            view.activated.connect(self.on_card_activated)
            view.customContextMenuRequested.connect(
                lambda pos, s=stage: self.on_card_context_menu_requested(s, pos)
            )
            view.selectionModel().selectionChanged.connect(
                lambda *_args, s=stage: self.on_view_selection_changed(s)
            )
            self.models[stage].cards_dropped.connect(self.on_cards_dropped)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- formatting -----------------------------------------------------------------------------

    def _format_money(self, amount: Decimal) -> str:
        from app.i18n import format_money

        details = self.ctx.details
        return format_money(amount, details.currency, details.locale)

    def _describe(self, card: PipelineCard) -> str:
        lines = [
            card.name,
            f"{stage_label(card.stage)} for {days_text(card.days_in_stage).lower()}",
        ]
        if card.next_step:
            prefix = "Reason" if card.stage in REASON_STAGES else "Next"
            lines.append(f"{prefix}: {card.next_step}")
        if card.provider:
            lines.append(f"Provider: {card.provider}")
        if card.lead_source:
            lines.append(f"Lead source: {card.lead_source}")
        if self._sees_plans and card.open_plan_value > 0:
            lines.append(f"Open plans: {self._format_money(card.open_plan_value)}")
        return "\n".join(lines)

    # --- loading --------------------------------------------------------------------------------

    def _load_filters(self) -> None:
        from app.services.clinic.catalog import load_catalog
        from app.services.patients.records import lead_sources

        db, actor = self.ctx.db, self.ctx.actor
        if self.ctx.allows(Permission.VIEW_SCHEDULE):
            ops.run_query(
                lambda: load_catalog(db, actor).providers,
                on_success=self.on_providers_loaded,
                on_failure=lambda _exc: None,  # the filter just offers "All providers"
                owner=self,
            )
        ops.run_query(
            lambda: lead_sources(db, actor),
            on_success=self.on_lead_sources_loaded,
            on_failure=lambda _exc: None,
            owner=self,
        )

    @staticmethod
    def _refill(combo: QComboBox, items: list[tuple[str, Any]]) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        while combo.count() > 1:
            combo.removeItem(1)
        for text, data in items:
            combo.addItem(text, data)
        found = combo.findData(current) if current is not None else 0
        combo.setCurrentIndex(max(found, 0))
        combo.blockSignals(False)
        if current is not None and found < 0:
            combo.currentIndexChanged.emit(0)

    @Slot(object)
    def on_providers_loaded(self, providers) -> None:
        items = [
            (p.display_name + ("" if p.is_active else " (inactive)"), p.id)
            for p in providers
            if p.id is not None
        ]
        self._refill(self.provider_combo, items)

    @Slot(object)
    def on_lead_sources_loaded(self, sources: list[str]) -> None:
        self._refill(self.lead_source_combo, [(source, source) for source in sources])

    def reload(self) -> None:
        """Fetch the board again with the current filters (on a worker thread)."""
        from app.services.patients.journey import pipeline, pipeline_counts

        self._stale = False
        self._generation += 1
        generation = self._generation
        db, actor = self.ctx.db, self.ctx.actor
        provider_id = self.provider_combo.currentData()
        lead_source = self.lead_source_combo.currentData()
        self.status_label.setText("Loading…")

        def load() -> tuple[dict[str, list[PipelineCard]], dict[str, int]]:
            filters = {"provider_id": provider_id, "lead_source": lead_source}
            board = pipeline(db, actor, limit_per_stage=LIMIT_PER_STAGE, **filters)
            return board, pipeline_counts(db, actor, **filters)

        ops.run_query(
            load,
            on_success=lambda loaded: self.on_board_loaded(generation, *loaded),
            on_failure=self.on_board_failed,
            ordered=False,
            owner=self,
        )

    def on_board_loaded(
        self,
        generation: int,
        board: dict[str, list[PipelineCard]],
        counts: dict[str, int] | None = None,
    ) -> None:
        if generation != self._generation:
            return  # a newer filter's answer is on its way
        self._counts = counts or {}
        keep = self._reselect or [c.patient_id for c in self.selected_cards()]
        self._reselect = []
        focus_stage = self._focused_stage()
        self._board = {stage.value: board.get(stage.value, []) for stage in JourneyStage}
        self._show_board()
        self._select_patients(keep, focus=focus_stage is not None)
        self.loaded.emit()

    @Slot(object)
    def on_board_failed(self, exc: BaseException) -> None:
        self.status_label.setText(ops.user_message(exc))

    def _show_board(self) -> None:
        needle = self.search_edit.text().strip().casefold()
        total = shown_total = 0
        for stage, cards in self._board.items():
            shown = [c for c in cards if needle in c.name.casefold()] if needle else cards
            total, shown_total = total + len(cards), shown_total + len(shown)
            self.models[stage].set_cards(shown)
            value = sum((c.open_plan_value for c in shown), Decimal("0.00"))
            # The stage may hold more patients than the board loads: say how many it holds.
            count = len(shown) if needle else max(len(cards), self._counts.get(stage, 0))
            capped = not needle and count > len(cards)
            self.columns[stage].set_summary(
                count,
                capped,
                self._format_money(value) if self._sees_plans else None,
                has_value=value > 0,
            )
        if needle:
            self.status_label.setText(f"{shown_total:,} of {total:,} patients match")
        else:
            self.status_label.setText(f"{total:,} patient{'' if total == 1 else 's'} on the board")
        self._update_buttons()

    def _focused_stage(self) -> str | None:
        for stage, column in self.columns.items():
            if column.view.hasFocus():
                return stage
        return None

    def _select_patients(self, patient_ids: list[int], *, focus: bool) -> None:
        from PySide6.QtCore import QItemSelectionModel

        if not patient_ids:
            return
        for stage, model in self.models.items():
            rows = [r for r in (model.row_of(pid) for pid in patient_ids) if r is not None]
            if not rows:
                continue
            view = self.columns[stage].view
            selection = view.selectionModel()
            flags = QItemSelectionModel.SelectionFlag.Select
            for row in rows:
                selection.select(model.index(row), flags)
            selection.setCurrentIndex(
                model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            view.scrollTo(model.index(rows[0]))
            if self.columns[stage].is_collapsed():
                self.columns[stage].set_collapsed(False)
            if focus:
                view.setFocus()
            return

    # --- selection and moving -------------------------------------------------------------------

    def selected_cards(self) -> list[PipelineCard]:
        """The cards selected in the one column that has a selection."""
        stage = self._active_stage
        if stage is None:
            return []
        view, model = self.columns[stage].view, self.models[stage]
        rows = sorted(i.row() for i in view.selectionModel().selectedRows())
        return [model.card_at(r) for r in rows if r < model.rowCount()]

    def _update_buttons(self) -> None:
        has = bool(self.selected_cards())
        self.open_button.setEnabled(len(self.selected_cards()) == 1)
        self.move_button.setEnabled(has and self._can_move)

    def on_view_selection_changed(self, stage: str) -> None:
        view = self.columns[stage].view
        if view.selectionModel().hasSelection():
            if self._active_stage not in (None, stage):
                other = self.columns[self._active_stage].view
                other.selectionModel().blockSignals(True)
                other.selectionModel().clearSelection()
                other.selectionModel().blockSignals(False)
                other.viewport().update()
            self._active_stage = stage
        elif self._active_stage == stage:
            self._active_stage = None
        self._update_buttons()

    def move_patients(self, patient_ids: list[int], stage: str) -> None:
        """Move the patients to ``stage`` (asking why first for Inactive and Lost)."""
        if not self._can_move:
            return
        on_board = {c.patient_id: c for cards in self._board.values() for c in cards}
        # A card no longer on the board (it reloaded during the drag) has no version to check.
        cards = [
            on_board[pid]
            for pid in dict.fromkeys(patient_ids)
            if pid in on_board and on_board[pid].stage != stage
        ]
        if not cards:
            return
        reason = ""
        if stage in REASON_STAGES:
            answer = JourneyReasonDialog.ask(self, stage, [c.name for c in cards])
            if answer is None:
                return
            reason = answer
        db, actor = self.ctx.db, self.ctx.actor
        seen_versions = {c.patient_id: c.version for c in cards}
        self.status_label.setText(f"Moving to {stage_label(stage)}…")
        ops.run_write(
            lambda: set_journey_stages(db, actor, seen_versions, stage, reason),
            on_success=self.on_move_done,
            on_failure=self.on_move_failed,
            owner=self,
        )

    @Slot(object)
    def on_move_done(self, moved: list[int]) -> None:
        self._reselect = list(moved)

    @Slot(object)
    def on_move_failed(self, exc: BaseException) -> None:
        show_warning(self, ops.user_message(exc))
        self.reload()

    @Slot(list, str)
    def on_cards_dropped(self, patient_ids: list[int], stage: str) -> None:
        # Later, not inside the drag's own event loop: the reason dialog may open.
        QTimer.singleShot(0, self, lambda: self.move_patients(patient_ids, stage))

    def on_move_action_triggered(self, stage: str) -> None:
        self.move_patients([c.patient_id for c in self.selected_cards()], stage)

    @Slot()
    def on_move_menu_about_to_show(self) -> None:
        cards = self.selected_cards()
        stages = {c.stage for c in cards}
        for stage, action in self.move_actions.items():
            action.setEnabled(bool(cards) and self._can_move and stages != {stage})
            suffix = "…" if stage in REASON_STAGES else ""
            action.setText(stage_label(stage) + suffix)

    @Slot()
    def on_move_shortcut_triggered(self) -> None:
        if self.move_button.isEnabled():
            self.move_button.showMenu()

    def on_card_context_menu_requested(self, stage: str, pos: QPoint) -> None:
        view = self.columns[stage].view
        index = view.indexAt(pos)
        if index.isValid() and not view.selectionModel().isSelected(index):
            view.setCurrentIndex(index)
        if not self.selected_cards():
            return
        if not index.isValid():  # from the keyboard's menu key: show it by the current card
            current = view.currentIndex()
            pos = view.visualRect(current).center() if current.isValid() else QPoint(8, 8)
        menu = QMenu(self)
        menu.addAction(self.open_action)
        self.open_action.setEnabled(len(self.selected_cards()) == 1)
        if self._can_move:
            menu.addSeparator()
            menu.addMenu(self.move_menu)
        menu.exec(view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    # --- opening records ------------------------------------------------------------------------

    def _open(self, patient_id: int) -> None:
        from app.ui.patients import windows

        windows.open_patient_record(self.ctx, patient_id, self)

    @Slot(QModelIndex)
    def on_card_activated(self, index: QModelIndex) -> None:
        patient_id = index.data(PATIENT_ID_ROLE)
        if patient_id is not None:
            self._open(patient_id)

    @Slot()
    def on_open_clicked(self) -> None:
        cards = self.selected_cards()
        if len(cards) == 1:
            self._open(cards[0].patient_id)

    # --- filters and refreshing -----------------------------------------------------------------

    @Slot()
    def on_filter_changed(self) -> None:
        self.reload()

    @Slot(str)
    def on_search_text_changed(self, _text: str) -> None:
        keep = [c.patient_id for c in self.selected_cards()]
        self._show_board()
        self._select_patients(keep, focus=False)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if not (changes.patients or changes.appointments or changes.plans):
            return
        if changes.patients:
            self._load_filters()  # a new lead source may have been typed
        if self.isVisible():
            self.reload()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()
