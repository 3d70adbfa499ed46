"""The backup status every PC shows — "Last verified backup: today 2:00 PM (USB disk)" and
each warning — read on a worker, shown on Today and in Settings → Backups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui import ops

if TYPE_CHECKING:
    from app.ui.context import UiContext

#: The app's notice colours (the style sheet's #remoteChangeNotice): something to act on.
WARNING_STYLE = (
    "QLabel#backupWarning { background: #fff4d6; border: 1px solid #e0b84f;"
    " border-radius: 4px; color: #3d2f00; padding: 6px 10px; }"
)


@dataclass(frozen=True)
class StatusView:
    """The status as words: the headline, each warning, and whether any backup verified."""

    headline: str
    warnings: tuple[str, ...]
    verified: bool
    status: Any


def read_status(ctx: UiContext) -> Callable[[], StatusView]:
    """The worker's function: the status at this moment, in the clinic's words."""
    from app.clock import utc_now
    from app.services.backups.schedule import backup_status

    db, actor, locale = ctx.db, ctx.actor, ctx.details.locale

    def read() -> StatusView:
        now = utc_now()
        status = backup_status(db, actor, now)
        return StatusView(
            status.headline(now, locale),
            status.warnings,
            status.last_verified is not None,
            status,
        )

    return read


def load_status(
    ctx: UiContext,
    on_success: Callable[[StatusView], None],
    owner: QObject,
    on_failure: Callable[[BaseException], None] | None = None,
) -> None:
    """Read the status off the GUI thread (it looks at the backup folder, perhaps a network
    share that takes its time to answer)."""
    ops.run_query(read_status(ctx), on_success=on_success, on_failure=on_failure, owner=owner)


def warning_label(text: str) -> QLabel:
    label = QLabel("⚠  " + text)
    label.setObjectName("backupWarning")
    label.setStyleSheet(WARNING_STYLE)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class BackupWarnings(QWidget):
    """The warnings, one notice each; with ``button`` (Today, for the owner) a "Backups…"
    button beside them.  Hidden while there is nothing to warn of."""

    def __init__(self, button: QPushButton | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("backupWarnings")
        self.labels: list[QLabel] = []
        self._column = QVBoxLayout()
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(4)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        row.addLayout(self._column, 1)
        if button is not None:
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def set_warnings(self, warnings: tuple[str, ...] | list[str]) -> None:
        if [label.text() for label in self.labels] == ["⚠  " + w for w in warnings]:
            return
        for label in self.labels:
            self._column.removeWidget(label)
            label.deleteLater()
        self.labels = [warning_label(text) for text in warnings]
        for label in self.labels:
            self._column.addWidget(label)
        self.setVisible(bool(warnings))

    def texts(self) -> list[str]:
        return [label.text().removeprefix("⚠  ") for label in self.labels]
