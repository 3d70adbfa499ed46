"""The owner's month close in the window: closing a month, reopening it, and what a window
does when a write is refused because the month it is dated in is closed.

- :class:`CloseMonthDialog` and :class:`ReopenMonthDialog` (the Reports page opens them).
- :class:`OverrideClosedMonthDialog` asks the owner why a closed month has to change.
- When a service raises MonthClosedError, the owner is asked for that reason and the same
  write runs again with the override (:func:`overriding`); anyone else is shown the
  sentence, which says the owner can reopen the month or override.  Dialogs that save
  through :class:`~app.ui.widgets.write_dialog.WriteDialog` get this by taking
  :class:`OverridesClosedMonths` as their first base; other callers use
  :func:`ask_override` and :func:`overriding` themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.i18n import format_date, format_month_year
from app.services.billing import month_close
from app.services.billing.month_close import MonthCloseLine, MonthCloseState
from app.services.clinic.closed_months import OVERRIDE_REASON_MAX
from app.services.clinic.permissions import Permission
from app.services.errors import MonthClosedError, ValidationError
from app.services.reports import period as periods
from app.services.reports.period import Period
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FormField,
    dialog_buttons,
    growing_form,
)
from app.ui.widgets.write_dialog import FormWriteDialog

#: How many ended months the first close offers to choose from.
FIRST_CLOSE_MONTHS = 36


def may_override(ctx: UiContext) -> bool:
    """Whether the signed-in account may change what is dated in a closed month."""
    return ctx.allows(Permission.CLOSE_MONTHS)


def overriding(reason: str, write: Callable[[], Any]) -> Callable[[], Any]:
    """``write`` run with the owner's override (on the worker thread that runs it)."""

    def run() -> Any:
        with month_close.override_closed_months(reason):
            return write()

    return run


def ask_override(ctx: UiContext, parent: QWidget | None, exc: BaseException) -> str | None:
    """The owner's reason to go ahead although the month is closed; None when ``exc`` is no
    closed-month refusal, the account may not override, or the owner changed their mind."""
    if not isinstance(exc, MonthClosedError) or not may_override(ctx):
        return None
    return OverrideClosedMonthDialog.ask(ctx, parent, str(exc))


class _ReasonDialog(QDialog):
    """A sentence, a reason line (kept in the audit log), and a button named for the step."""

    def __init__(
        self, parent: QWidget | None, *, title: str, text: str, accept_text: str, hint: str
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.intro_label = QLabel(text)
        self.intro_label.setObjectName("dialogIntro")
        self.intro_label.setWordWrap(True)
        self.intro_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("overrideReasonEdit")
        self.reason_edit.setMaxLength(OVERRIDE_REASON_MAX)
        self.reason_edit.setPlaceholderText(hint)
        self.reason_field = FormField(self.reason_edit, "Kept in the audit log.")
        form = growing_form()
        form.addRow("&Reason", self.reason_field)
        self.buttons, self.ok_button = dialog_buttons(accept_text)
        self.ok_button.setObjectName("overrideButton")
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro_label)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self.buttons.accepted.connect(self.on_ok_clicked)
        self.buttons.rejected.connect(self.reject)
        self.reason_edit.textEdited.connect(lambda _text: self.reason_field.set_error(None))
        self.reason_edit.setFocus()

    def reason(self) -> str:
        return " ".join(self.reason_edit.text().split())

    @Slot()
    def on_ok_clicked(self) -> None:
        if not self.reason():
            self.reason_field.set_error("Say why: the reason is kept in the audit log.")
            self.reason_edit.setFocus()
            return
        self.accept()


class OverrideClosedMonthDialog(_ReasonDialog):
    """The write was refused because its month is closed: the owner may go ahead, saying why."""

    def __init__(self, parent: QWidget | None, message: str) -> None:
        super().__init__(
            parent,
            title="Closed month",
            text=f"{message}\n\nAs the owner you can make this change anyway. Say why; the "
            "reason and the change are kept in the audit log. The month's closed report does "
            "not change.",
            accept_text="&Change anyway",
            hint="e.g. The bank returned the card payment after the close",
        )
        self.setObjectName("overrideClosedMonthDialog")

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, message: str) -> str | None:
        """The reason given, or None when the owner cancels."""
        dialog = cls(parent, message)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.reason()
        finally:
            dialog.deleteLater()


class OverridesClosedMonths:
    """For a :class:`WriteDialog` (listed before it among the bases): a write refused for a
    closed month asks the owner for a reason and saves again with the override; others see
    the sentence under the form as for any refusal."""

    ctx: UiContext

    def save_with(self, write: Callable[[], Any]) -> None:
        self._closed_month_write = write
        super().save_with(write)

    def on_save_failed(self, exc: BaseException) -> None:
        reason = ask_override(self.ctx, self, exc)
        if reason is not None:
            self.save_with(overriding(reason, self._closed_month_write))
            return
        super().on_save_failed(exc)


# --- closing and reopening ------------------------------------------------------------------------


class _MonthCloseDialog(FormWriteDialog):
    """Reads what may be closed or reopened in the background, then writes one step."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, title: str) -> None:
        super().__init__(ctx, parent, title)
        self.state: MonthCloseState | None = None
        self.line: MonthCloseLine | None = None
        self.intro_label.setText("Reading the clinic's books…")
        self.intro_label.setTextFormat(Qt.TextFormat.PlainText)
        self.setMinimumWidth(520)
        self.save_button.setEnabled(False)  # until the books are read
        db, actor = ctx.db, ctx.actor
        ops.run_query(
            lambda: month_close.month_close_state(db, actor),
            on_success=self.on_state_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def month_name(self, period: Period) -> str:
        return format_month_year(period.first, self.ctx.details.locale)

    def day_name(self, day: date) -> str:
        return format_date(day, self.ctx.details.locale, "long")

    def through_sentence(self, state: MonthCloseState) -> str:
        if state.closed_through is None:
            return "No month is closed yet."
        return f"The books are closed through {self.day_name(state.closed_through)}."

    def on_state_loaded(self, state: MonthCloseState) -> None:
        self.state = state
        self.update_buttons()

    def chosen(self) -> Period | None:
        raise NotImplementedError

    def update_buttons(self) -> None:
        enabled = not self.saving and self.chosen() is not None
        self.save_button.setEnabled(enabled)
        if enabled:
            # Disabled while the books were read, it lost being the default: Enter saves.
            self.save_button.setDefault(True)

    def write(self) -> Callable[[], Any] | None:
        period = self.chosen()
        return None if period is None else self.write_for(period)

    def write_for(self, period: Period) -> Callable[[], Any] | None:
        raise NotImplementedError

    def on_saved(self, result: MonthCloseLine) -> None:
        self.line = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None = None) -> MonthCloseLine | None:
        """Show the dialog; the close (or reopened close) written, or None."""
        dialog = cls(ctx, parent)
        dialog.run()
        return dialog.line


class CloseMonthDialog(_MonthCloseDialog):
    """Close the next month: the first time, any month that has ended (and everything
    before it); afterwards the month after the one closed last."""

    save_text = "&Close month"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent, "Close a month")
        self.setObjectName("closeMonthDialog")
        self.months: list[Period] = []
        self.month_combo = QComboBox()
        self.month_combo.setObjectName("closeMonthCombo")
        self.add_field("period", "&Month", self.month_combo)
        self.month_combo.currentIndexChanged.connect(self.on_month_changed)
        self.month_combo.setEnabled(False)

    def on_state_loaded(self, state: MonthCloseState) -> None:
        self.month_combo.clear()
        self.months = []
        if state.next_to_close is not None:
            self.months.append(state.next_to_close)
            if state.closed_through is None:  # the first close: any month that has ended
                for _ in range(FIRST_CLOSE_MONTHS - 1):
                    self.months.append(self.months[-1].before())
        for period in self.months:
            self.month_combo.addItem(self.month_name(period))
        self.month_combo.setEnabled(self.month_combo.count() > 1)
        super().on_state_loaded(state)
        self.on_month_changed()
        self.month_combo.setFocus()

    def chosen(self) -> Period | None:
        index = self.month_combo.currentIndex()
        return self.months[index] if 0 <= index < len(self.months) else None

    @Slot()
    def on_month_changed(self, _index: int = 0) -> None:
        state, period = self.state, self.chosen()
        if state is None:
            return
        if period is None:
            following = periods.month(state.closed_through + timedelta(days=1))
            self.intro_label.setText(
                f"{self.through_sentence(state)} {self.month_name(following)} can be closed "
                "once it has ended."
            )
        else:
            earlier = " and every month before it" if state.closed_through is None else ""
            self.intro_label.setText(
                f"{self.through_sentence(state)} Closing {self.month_name(period)}{earlier} "
                f"locks every payment, refund, charge and adjustment dated up to "
                f"{self.day_name(period.last)}: none can be added, changed or voided unless "
                "the owner reopens the month or overrides with a reason.\n\nThe month's report "
                "is kept as it stands now, with the audit trail's seal. Months are closed one "
                "at a time, in order."
            )
        self.update_buttons()
        self.adjustSize()

    def write_for(self, period: Period):
        db, actor = self.ctx.db, self.ctx.actor
        return lambda: month_close.close_month(db, actor, period)


class ReopenMonthDialog(_MonthCloseDialog):
    """Reopen the month closed last, saying why."""

    save_text = "&Reopen month"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent, "Reopen a month")
        self.setObjectName("reopenMonthDialog")
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reopenReasonEdit")
        self.reason_edit.setMaxLength(OVERRIDE_REASON_MAX)
        self.reason_edit.setPlaceholderText("e.g. The lab’s invoice came after the close")
        self.add_field("reason", "&Reason", self.reason_edit, "Kept in the audit log.")

    def on_state_loaded(self, state: MonthCloseState) -> None:
        super().on_state_loaded(state)
        period = state.may_reopen
        if period is None:
            self.intro_label.setText("No month is closed: there is nothing to reopen.")
            self.adjustSize()
            return
        self.intro_label.setText(
            f"{self.through_sentence(state)} Reopening {self.month_name(period)} lets its "
            "payments, charges and adjustments be changed again, until it is closed again "
            "(which keeps a new report). Only the month closed last can be reopened."
        )
        self.adjustSize()
        self.reason_edit.setFocus()

    def chosen(self) -> Period | None:
        return self.state.may_reopen if self.state is not None else None

    def write_for(self, period: Period):
        reason = " ".join(self.reason_edit.text().split())
        if not reason:
            self.errors.show(ValidationError("Say why the month is reopened.", field="reason"))
            return None
        db, actor = self.ctx.db, self.ctx.actor
        return lambda: month_close.reopen_month(db, actor, period, reason)
