"""Merging two records of the same person: side by side, which one is kept, then for good."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.patients.merge import MergeResult
from app.services.patients.search import PatientHit
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.search_model import birth_date_text, stage_label

#: (label, how a hit shows it) for each compared line.
_LINES: tuple[tuple[str, Callable[[PatientHit, UiContext], str]], ...] = (
    ("Name", lambda h, _c: h.display_name),
    ("Date of birth", lambda h, c: birth_date_text(h.date_of_birth, *_where(c))),
    ("Phone", lambda h, _c: h.phone),
    ("Email", lambda h, _c: h.email),
    ("Chart #", lambda h, _c: h.chart_number),
    ("Stage", lambda h, _c: stage_label(h.journey_stage)),
)


def _where(ctx: UiContext) -> tuple[str, str]:
    return ctx.details.locale, ctx.details.timezone


def moved_summary(moved: dict[str, int]) -> str:
    """``{"appointments": 3, "insurance_policies": 1}`` → "…: appointments (3), insurance…"."""
    if not moved:
        return "Nothing else was on file for the merged record."
    parts = []
    for key, count in sorted(moved.items()):
        table, _, column = key.partition(".")
        words = table.replace("_", " ")
        if column:
            words += f" by {column.removesuffix('_id').replace('_', ' ')}"
        parts.append(f"{words} ({count})")
    return "Moved to the kept record: " + ", ".join(parts) + "."


class MergeDialog(QDialog):
    """Shows both records; the user chooses which is kept, confirms, and the merge runs."""

    merged = Signal(object)  # MergeResult

    def __init__(
        self, ctx: UiContext, first: PatientHit, second: PatientHit, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Merge two patient records")
        # The older record (smaller id) is usually the one with the history: keep it by default.
        self.keep, self.merge = sorted((first, second), key=lambda h: h.id)
        self.result_value: MergeResult | None = None
        self._merging = False

        intro = QLabel(
            "Merge two records that belong to the same person. Everything on the second "
            "record moves to the one that is kept; the second stays as an inactive pointer."
        )
        intro.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(18)
        self.grid.setVerticalSpacing(6)
        self.keep_title = QLabel()
        self.keep_title.setObjectName("mergeKeepTitle")
        self.merge_title = QLabel()
        self.merge_title.setObjectName("mergeAwayTitle")
        for label in (self.keep_title, self.merge_title):
            label.setStyleSheet("font-weight: 600; color: #1f3b45;")
        self.grid.addWidget(self.keep_title, 0, 1)
        self.grid.addWidget(self.merge_title, 0, 2)
        self._cells: list[tuple[QLabel, QLabel]] = []
        for row, (name, _text) in enumerate(_LINES, start=1):
            caption = QLabel(name)
            caption.setObjectName("fieldHint")
            left, right = QLabel(), QLabel()
            for cell in (left, right):
                cell.setTextFormat(Qt.TextFormat.PlainText)
                cell.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                cell.setMinimumWidth(200)
                cell.setWordWrap(True)
            self.grid.addWidget(caption, row, 0)
            self.grid.addWidget(left, row, 1)
            self.grid.addWidget(right, row, 2)
            self._cells.append((left, right))
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self.swap_button = QPushButton("&Swap: keep the other record")
        self.swap_button.setObjectName("mergeSwap")

        self.warning = QLabel()
        self.warning.setObjectName("fieldError")
        self.warning.setWordWrap(True)
        self.confirm_check = QCheckBox("I understand that a merge &cannot be undone")
        self.confirm_check.setObjectName("mergeConfirm")
        self.result_label = QLabel()
        self.result_label.setObjectName("mergeResult")
        self.result_label.setWordWrap(True)
        self.result_label.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge_button = self.buttons.addButton(
            "&Merge records", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.merge_button.setObjectName("primaryButton")
        self.merge_button.setEnabled(False)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addLayout(self.grid)
        layout.addWidget(self.swap_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.warning)
        layout.addWidget(self.confirm_check)
        layout.addWidget(self.result_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(620)
        self._connect_signals()
        self._show_pair()
        self.cancel_button.setFocus()

    def _connect_signals(self) -> None:
        self.swap_button.clicked.connect(self.on_swap_clicked)
        self.confirm_check.toggled.connect(self.on_confirm_toggled)
        # Our own slot, not accept(): the dialog stays open until the merge is done.
        self.buttons.accepted.connect(self.on_merge_clicked)
        self.buttons.rejected.connect(self.reject)

    def _show_pair(self) -> None:
        self.keep_title.setText("✔ Kept")
        self.merge_title.setText("Merged into the kept record")
        for (left, right), (_name, text) in zip(self._cells, _LINES, strict=True):
            left.setText(text(self.keep, self.ctx) or "—")
            right.setText(text(self.merge, self.ctx) or "—")
        self.warning.setText(
            f"Appointments, notes, plans, payments and documents of chart "
            f"{self.merge.chart_number} move to chart {self.keep.chart_number}, and chart "
            f"{self.merge.chart_number} is closed. This cannot be undone."
        )

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_swap_clicked(self) -> None:
        self.keep, self.merge = self.merge, self.keep
        self._show_pair()

    @Slot(bool)
    def on_confirm_toggled(self, checked: bool) -> None:
        self.merge_button.setEnabled(checked and self.result_value is None)

    @Slot()
    def on_merge_clicked(self) -> None:
        if not self.confirm_check.isChecked() or self.result_value is not None:
            return
        from app.services.patients.merge import merge_patients

        self._merging = True
        self.merge_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.swap_button.setEnabled(False)
        self.confirm_check.setEnabled(False)
        db, actor = self.ctx.db, self.ctx.actor
        keep_id, merge_id = self.keep.id, self.merge.id
        ops.run_write(
            lambda: merge_patients(db, actor, keep_id, merge_id),
            on_success=self._on_merged,
            on_failure=self._on_failed,
            owner=self,
        )

    def _on_merged(self, result: MergeResult) -> None:
        self._merging = False
        self.result_value = result
        self.cancel_button.setEnabled(True)
        self.warning.hide()
        self.confirm_check.hide()
        self.merge_button.hide()
        self.swap_button.hide()
        self.result_label.setText(
            f"Chart {self.merge.chart_number} was merged into chart {self.keep.chart_number}. "
            + moved_summary(result.moved)
        )
        self.result_label.show()
        self.cancel_button.setText("Close")
        self.cancel_button.setFocus()
        self.merged.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        self._merging = False
        self.cancel_button.setEnabled(True)
        self.result_label.setText(ops.user_message(exc))
        self.result_label.show()
        self.swap_button.setEnabled(True)
        self.confirm_check.setEnabled(True)
        self.merge_button.setEnabled(self.confirm_check.isChecked())

    def reject(self) -> None:
        if self._merging:
            return  # the merge is being written: closing now would lose its outcome
        super().reject()

    @classmethod
    def ask(
        cls, ctx: UiContext, parent: QWidget | None, first: PatientHit, second: PatientHit
    ) -> bool:
        """Show the dialog; True when the two records were merged."""
        dialog = cls(ctx, first, second, parent)
        dialog.exec()
        return dialog.result_value is not None
