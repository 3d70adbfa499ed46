"""The Plans & Payments page: open plans, accepted phases nobody booked, payment plans,
the collections queue and the day's payments with the end-of-day close-out.

Each tab loads the first time it is shown, in the background; the lists that grow
with the clinic (open plans, unscheduled phases, payment plans, collections) load a page
at a time as their table scrolls.  A change to plans, payments, appointments or patients marks
the tabs that show them stale, and the one on screen reloads at once.  Enter or a
double-click on a line opens the record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from PySide6.QtCore import QDate, QLocale, QModelIndex, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import (
    format_date,
    format_money,
    format_time,
    parse_money,
    qt_date_format,
    spelling,
    to_clinic_time,
)
from app.services.billing.plans_overview import METHODS, OPEN_STATUSES
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.ui import ops
from app.ui.context import UiContext
from app.ui.messages.pick_several import pick_several_table
from app.ui.widgets.lazy_table import Fetch, LazyTableModel, LazyTableStack
from app.ui.widgets.row_table import Column, list_table, set_column_widths

RED = "#b3261e"
GREEN = "#1e7d32"
#: Lines a long list reads at a time, as its table scrolls.
PAGE_SIZE = 100
#: Lines a short list (read whole) shows at most; its count line says when there are more.
SHOWN_AT_MOST = 500
STATUS_WORDS = {
    "draft": "Draft",
    "presented": "Presented",
    "accepted": "Accepted",
    "partly_accepted": "Partly accepted",
    "in_progress": "In progress",
}
METHOD_WORDS = {
    "cash": "Cash",
    "card": "Card",
    "cheque": "Check",  # en_GB: "Cheque" (spelling)
    "bank_transfer": "Bank transfer",
    "financing": "Financing",
    "insurance": "Insurance",
}
OUTCOME_WORDS = {
    "reached": "reached",
    "confirmed": "confirmed",
    "left_message": "left message",
    "no_answer": "no answer",
    "wrong_number": "wrong number",
}


def days_text(days: int) -> str:
    """A span of days as the desk says it: "12 days", "5 months", "3 years"."""
    if days < 60:
        return "today" if days == 0 else "1 day" if days == 1 else f"{days} days"
    if days < 730:
        return f"{days // 30} months"
    return f"{days // 365} years"


class Section(QWidget):
    """One tab: a heading line and a table (or a sentence in its place), loaded in the
    background.  Long lists page as the table scrolls (``pages()``); ``summary()`` is the
    one query per load beside them (counts and totals, or the whole of a short list)."""

    #: Changes flags that make this tab's figures stale.
    watches: tuple[str, ...] = ()
    #: Lines may be picked several at a time (for one message to them all).
    pick_several = False

    def __init__(self, page: PlansPage, name: str, empty_text: str) -> None:
        super().__init__(page.tabs)
        self.page = page
        self.ctx = page.ctx
        self.setObjectName(name)
        self.loaded = False
        self.stale = True
        self._generation = 0
        self._summary = None
        self._selected_id = None
        self.count_label = QLabel(self)
        self.count_label.setObjectName(f"{name}Count")
        self.model = LazyTableModel(self.columns(), page_size=PAGE_SIZE, parent=self)
        # Collections: several patients may be picked for one message; a call is about one.
        build = pick_several_table if self.pick_several else list_table
        self.table = build(self.model, f"{name}Table")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.stack = LazyTableStack(self.table, empty_text, self)
        self.empty_label = self.stack.empty_label
        self.top = QHBoxLayout()
        self.top.addWidget(self.count_label)
        self.top.addStretch(1)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(8, 8, 8, 8)
        self.layout_.addLayout(self.top)
        self.layout_.addWidget(self.stack, 1)
        self.table.activated.connect(self.on_table_activated)
        self.model.modelAboutToBeReset.connect(self.on_model_about_to_be_reset)
        self.model.loaded.connect(self.on_model_loaded)
        self.model.failed.connect(self.on_model_failed)

    # --- what subclasses give ---------------------------------------------------------------

    def columns(self) -> list[Column]:  # pragma: no cover - every section overrides it
        raise NotImplementedError

    def pages(self) -> Fetch | None:
        """The pages of a long list, for the filters shown (None: ``rows_of`` the summary)."""
        return None

    def summary(self) -> Callable[[], object] | None:
        """The query run once per load beside the pages (None: the pages say it all)."""
        return None

    def rows_of(self, summary) -> list | None:
        """The rows of a short list, read whole by the summary (None: the list pages)."""
        return None

    def count_text(self, summary) -> str:
        """The heading line, from the latest summary (None before it came) and the model."""
        return ""

    def shown(self, summary) -> None:
        """After the summary came: subclasses update what sits beside the table."""

    # --- shared -----------------------------------------------------------------------------

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.ctx.details.currency, self.ctx.details.locale)

    def day(self, value: date | None) -> str:
        return format_date(value, self.ctx.details.locale) if value else "—"

    def reload(self) -> None:
        """Read the tab again: the summary, and the rows loaded so far in place."""
        self._generation += 1
        generation = self._generation
        self.stale = False
        summary = self.summary()
        if summary is not None:
            ops.run_query(
                summary,
                on_success=lambda result: self._on_summary(generation, result),
                on_failure=lambda exc: self._on_summary_failed(generation, exc),
                ordered=False,
                owner=self,
            )
        if not self.loaded:
            self.loaded = True
            self.restart_pages()
        else:
            self.model.refresh()

    def restart_pages(self) -> None:
        """The filters changed: the list starts again from its first page."""
        pages = self.pages()
        if pages is not None:
            self.model.set_fetch(pages)

    def _on_summary(self, generation: int, result) -> None:
        if generation != self._generation:
            return  # a newer load is on its way
        self._summary = result
        rows = self.rows_of(result)
        if rows is not None:
            self.model.set_rows(rows[:SHOWN_AT_MOST])
        self.count_label.setText(self.count_text(result))
        self.shown(result)

    def _on_summary_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.stale = True
            self.stack.show_message(ops.user_message(exc))

    @Slot()
    def on_model_about_to_be_reset(self) -> None:
        line = self.current_line()
        if line is not None:
            self._selected_id = line.id  # selected again once the rows are back

    @Slot()
    def on_model_loaded(self) -> None:
        if self.model.rowCount() and not self.table.selectionModel().hasSelection():
            rows = range(self.model.rowCount())
            self.table.selectRow(
                next((r for r in rows if self.model.row_at(r).id == self._selected_id), 0)
            )
        self.count_label.setText(self.count_text(self._summary))

    @Slot(object)
    def on_model_failed(self, _exc: BaseException) -> None:
        self.stale = True  # the stack says why; the next change or visit tries again

    def current_line(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def patient_of(self, line) -> int:
        return line.patient_id

    @Slot(QModelIndex)
    def on_table_activated(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is not None:
            from app.ui.patients import windows

            windows.open_patient_record(self.ctx, self.patient_of(line), self.window())


class OpenPlansSection(Section):
    watches = ("plans", "patients")

    def __init__(self, page: PlansPage) -> None:
        super().__init__(
            page,
            "openPlans",
            "No open treatment plans: plans being drafted, presented, accepted or under way "
            "appear here with their value.",
        )
        self.status_combo = QComboBox(self)
        self.status_combo.setObjectName("openPlanStatus")
        self.status_combo.addItem("All open plans", None)
        for status in OPEN_STATUSES:
            self.status_combo.addItem(STATUS_WORDS[status], status)
        status_label = QLabel("&Show", self)
        status_label.setBuddy(self.status_combo)
        self.top.addWidget(status_label)
        self.top.addWidget(self.status_combo)
        self.strip = QHBoxLayout()
        self.strip.setSpacing(8)
        self.status_cards: dict[str, QLabel] = {}
        for status in OPEN_STATUSES:
            card = QLabel(self)
            card.setObjectName(f"status_{status}")
            card.setTextFormat(Qt.TextFormat.RichText)
            # Five cards side by side fit 1366 px: a card's figures wrap onto a second
            # line rather than widen the window past the screen.
            card.setWordWrap(True)
            card.setStyleSheet(
                "QLabel { border: 1px solid #d0d4da; border-radius: 6px; padding: 6px 10px;"
                " background: #f7f8fa; }"
            )
            self.status_cards[status] = card
            self.strip.addWidget(card, 1)
        self.layout_.insertLayout(1, self.strip)
        self.status_combo.currentIndexChanged.connect(self.on_status_changed)
        set_column_widths(self.table, (190, 220, 80, 120, 110, 110, 135, 120))

    def columns(self) -> list[Column]:
        return [
            Column("Patient", lambda r: r.patient_name),
            Column("Plan", lambda r: r.title),
            Column("Option", lambda r: r.option or "—"),
            Column("Status", lambda r: STATUS_WORDS.get(r.status, r.status)),
            Column("Presented", lambda r: self.day(r.presented_on)),
            Column("Decided", lambda r: self.day(r.decided_on)),
            Column("Patient portion", lambda r: self.money(r.patient_portion), align_right=True),
            Column("Total", lambda r: self.money(r.total), align_right=True),
            Column("In status", lambda r: days_text(r.days_in_status), align_right=True),
        ]

    def pages(self) -> Fetch:
        from app.services.billing.plans_overview import open_plans

        db, actor, status = self.ctx.db, self.ctx.actor, self.status_combo.currentData()
        return lambda offset, limit: open_plans(
            db, actor, status=status, offset=offset, limit=limit
        )

    def summary(self):
        from app.services.billing.plans_overview import open_plan_totals

        db, actor = self.ctx.db, self.ctx.actor
        return lambda: open_plan_totals(db, actor)

    def count_text(self, totals) -> str:
        if totals is None:
            return ""
        status = self.status_combo.currentData()
        count = sum(t.count for t in totals if status is None or t.status == status)
        return "1 plan" if count == 1 else f"{count:,} plans"

    def shown(self, totals) -> None:
        for total in totals:
            self.status_cards[total.status].setText(
                f"<b>{STATUS_WORDS[total.status]}</b> · {total.count}<br>"
                f"{self.money(total.total)} "
                f"<span style='color:#6b7280'>(patient {self.money(total.patient_portion)})</span>"
            )

    @Slot()
    def on_status_changed(self) -> None:
        # The totals by status do not depend on the status shown: only the list starts over.
        self.restart_pages()
        self.count_label.setText(self.count_text(self._summary))


class UnscheduledSection(Section):
    watches = ("plans", "appointments", "patients")

    def __init__(self, page: PlansPage) -> None:
        super().__init__(
            page,
            "unscheduled",
            "Every accepted phase has a visit booked. Accepted phases with nothing booked — "
            "where treatment is most often lost — appear here, the longest waiting first.",
        )
        set_column_widths(self.table, (190, 130, 200, 200, 120, 110))

    def columns(self) -> list[Column]:
        return [
            Column("Patient", lambda r: r.patient_name),
            Column("Phone", lambda r: r.phone or "No phone on file"),
            Column("Plan", lambda r: r.plan_title),
            Column("Phase", lambda r: r.phase_title),
            Column("Value", lambda r: self.money(r.patient_portion), align_right=True),
            Column("Accepted", lambda r: self.day(r.accepted_on)),
            Column(
                "Waiting",
                lambda r: days_text(r.days_waiting),
                align_right=True,
                colour=lambda r: RED if r.days_waiting >= 30 else None,
            ),
        ]

    def pages(self) -> Fetch:
        from app.services.billing.plans_overview import accepted_not_scheduled

        db, actor = self.ctx.db, self.ctx.actor
        return lambda offset, limit: accepted_not_scheduled(db, actor, offset=offset, limit=limit)

    def count_text(self, _summary) -> str:
        count = self.model.rowCount()
        if not self.model.exhausted:
            return f"More than {count:,} phases waiting — scroll for more" if count else ""
        return "1 phase waiting" if count == 1 else f"{count:,} phases waiting"


class PaymentPlansSection(Section):
    watches = ("plans", "payments", "patients")

    def __init__(self, page: PlansPage) -> None:
        super().__init__(
            page,
            "paymentPlans",
            "No active payment plans. Plans patients are paying off appear here with their "
            "next due date and anything overdue.",
        )
        set_column_widths(self.table, (190, 130, 110, 110, 110, 110, 80, 120))

    def columns(self) -> list[Column]:
        return [
            Column("Patient", lambda r: r.patient_name),
            Column("Phone", lambda r: r.phone or "No phone on file"),
            Column("Financed", lambda r: self.money(r.financed_amount), align_right=True),
            Column("Paid to date", lambda r: self.money(r.paid_to_date), align_right=True),
            Column("Next due", lambda r: self.day(r.next_due_on)),
            Column(
                "Next amount",
                lambda r: self.money(r.next_due_amount) if r.next_due_on else "—",
                align_right=True,
            ),
            Column(
                "Overdue",
                lambda r: str(r.overdue_count) if r.overdue_count else "—",
                align_right=True,
            ),
            Column(
                "Overdue amount",
                lambda r: self.money(r.overdue_amount) if r.overdue_count else "—",
                align_right=True,
                colour=lambda r: RED if r.overdue_count else None,
            ),
            Column(
                "Days late",
                lambda r: days_text(r.days_late) if r.overdue_count else "—",
                align_right=True,
                colour=lambda r: RED if r.days_late >= 30 else None,
            ),
        ]

    def pages(self) -> Fetch:
        from app.services.billing.plans_overview import payment_plans_due

        db, actor = self.ctx.db, self.ctx.actor
        return lambda offset, limit: payment_plans_due(db, actor, offset=offset, limit=limit)

    def summary(self):
        from app.services.billing.plans_overview import payment_plan_totals

        db, actor = self.ctx.db, self.ctx.actor
        return lambda: payment_plan_totals(db, actor)

    def count_text(self, totals) -> str:
        if totals is None:
            return ""
        noun = "active payment plan" if totals.plan_count == 1 else "active payment plans"
        return f"{totals.plan_count:,} {noun} · {totals.overdue_count:,} with overdue installments"


class CollectionsSection(Section):
    watches = ("plans", "payments", "patients")
    pick_several = True

    def __init__(self, page: PlansPage) -> None:
        super().__init__(
            page,
            "collections",
            "Nobody is behind on a payment plan. Patients with overdue installments their "
            "credit does not cover appear here, the longest overdue first.",
        )
        self.call_button = QPushButton("&Log a call…", self)
        self.call_button.setObjectName("logCollectionsCall")
        # Ctrl+L locks the screen everywhere in the main window; this is Ctrl+Shift+L.
        self.call_button.setToolTip(
            "Log a collections call with the selected patient (Ctrl+Shift+L)"
        )
        self.call_button.setVisible(self.ctx.allows(Permission.EDIT_PATIENTS))
        self.call_shortcut = QShortcut(QKeySequence("Ctrl+Shift+L"), self)
        self.top.addWidget(self.call_button)
        self.call_button.clicked.connect(self.on_call_clicked)
        self.call_shortcut.activated.connect(self.on_call_clicked)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.model.modelReset.connect(self.on_selection_changed)
        self.call_button.setEnabled(False)
        self.send_button = QPushButton("Send &message…", self)
        self.send_button.setObjectName("sendMessageButton")
        self.send_button.setToolTip(
            "Send a text or an e-mail to the patients selected (Shift or Ctrl+click for several)"
        )
        self.send_button.setVisible(self.ctx.allows(Permission.SEND_MESSAGES))
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self.on_send_clicked)
        self.top.addWidget(self.send_button)
        #: What the last "Send message…" queued (and skipped), under the list.
        self.sent_label = QLabel(self)
        self.sent_label.setObjectName("messageSentNote")
        self.sent_label.setWordWrap(True)
        self.sent_label.setTextFormat(Qt.TextFormat.PlainText)
        self.sent_label.setStyleSheet("color: #6b7280;")
        self.sent_label.setVisible(False)
        self.layout_.addWidget(self.sent_label)
        #: The Send message dialog last opened (tests read what it sent).
        self.send_dialog = None
        set_column_widths(self.table, (190, 130, 90, 100, 130, 110, 110, 210))

    def columns(self) -> list[Column]:
        return [
            Column("Patient", lambda r: r.patient_name),
            Column("Phone", lambda r: r.phone or "No phone on file"),
            Column(
                "Overdue",
                lambda r: days_text(r.days_overdue),
                align_right=True,
                colour=lambda r: RED if r.days_overdue >= 60 else None,
            ),
            Column("Amount", lambda r: self.money(r.amount_overdue), align_right=True),
            Column("Balance", self._balance_text, align_right=True),
            Column("Installments", lambda r: str(r.installments_overdue), align_right=True),
            Column("Oldest due", lambda r: self.day(r.oldest_due_on)),
            Column("Last contact", self._contact_text),
            Column("Plan", lambda r: ", ".join(f"#{i}" for i in r.payment_plan_ids)),
        ]

    def _balance_text(self, line) -> str:
        # The record header's words: what is owed, or a credit (paid ahead of treatment).
        if line.balance < 0:
            return f"{self.money(-line.balance)} credit"
        return self.money(line.balance)

    def _contact_text(self, line) -> str:
        if line.last_contact_at is None:
            return "Not contacted"
        day = to_clinic_time(line.last_contact_at, self.ctx.details.timezone).date()
        outcome = OUTCOME_WORDS.get(line.last_contact_outcome or "", "")
        text = format_date(day, self.ctx.details.locale)
        return f"{text} · {outcome}" if outcome else text

    def pages(self) -> Fetch:
        from app.services.billing.plans_overview import collections_queue

        db, actor = self.ctx.db, self.ctx.actor
        return lambda offset, limit: collections_queue(db, actor, offset=offset, limit=limit)

    def summary(self):
        from app.services.billing.plans_overview import collections_totals

        db, actor = self.ctx.db, self.ctx.actor
        return lambda: collections_totals(db, actor)

    def count_text(self, totals) -> str:
        if totals is None:
            return ""
        noun = "patient" if totals.patient_count == 1 else "patients"
        return f"{totals.patient_count:,} {noun} overdue · {self.money(totals.amount_overdue)} owed"

    def current_line(self):
        """The one line selected (None when none, or several: a call is about one patient)."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if len(rows) == 1 else None

    @Slot()
    def on_selection_changed(self, *_args) -> None:
        self.call_button.setEnabled(self.current_line() is not None)
        self.send_button.setEnabled(self.table.selectionModel().hasSelection())

    @Slot()
    def on_send_clicked(self) -> None:
        from app.ui.messages.send_dialog import result_sentence, selected_lines, send_to_lines

        self.send_dialog = send_to_lines(
            self.ctx, self, selected_lines(self.table), kind="installment_overdue"
        )
        if self.send_dialog is not None and self.send_dialog.sent is not None:
            self.sent_label.setText(
                result_sentence(self.send_dialog.sent, self.send_dialog.sent_by)
            )
            self.sent_label.setVisible(True)

    @Slot()
    def on_call_clicked(self) -> None:
        line = self.current_line()
        if line is None or not self.ctx.allows(Permission.EDIT_PATIENTS):
            return
        from app.ui.patients.log_contact import LogContactDialog

        if LogContactDialog.ask(self.ctx, self, line.patient_id, "phone", purpose="collections"):
            self.reload()  # the line shows its new last contact


class TodaySection(Section):
    watches = ("payments", "patients")

    def __init__(self, page: PlansPage) -> None:
        super().__init__(
            page,
            "todayPayments",
            "No payments were taken on this day. Payments and refunds appear here as the "
            "desk records them.",
        )
        today = page.ctx.today()
        self.day_edit = QDateEdit(QDate(today.year, today.month, today.day), self)
        self.day_edit.setObjectName("paymentsDay")
        self.day_edit.setCalendarPopup(True)
        self.day_edit.setMaximumDate(QDate(today.year, today.month, today.day))
        self.day_edit.setLocale(QLocale(self.ctx.details.locale))
        self.day_edit.setDisplayFormat(qt_date_format(self.ctx.details.locale))
        day_label = QLabel("&Day", self)
        day_label.setBuddy(self.day_edit)
        self.top.insertWidget(0, day_label)
        self.top.insertWidget(1, self.day_edit)
        self.top.insertSpacing(2, 12)

        # The close-out: one line per method, counted → difference as it is typed.
        self.closeout = QWidget(self)
        self.closeout.setObjectName("closeOut")
        grid = QGridLayout(self.closeout)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setHorizontalSpacing(14)
        for column, title in enumerate(("Method", "Payments", "Expected", "Counted", "Difference")):
            header = QLabel(f"<b>{title}</b>", self.closeout)
            if column in (1, 2, 4):
                header.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(header, 0, column)
        self.expected: dict[str, Decimal] = dict.fromkeys(METHODS, Decimal("0.00"))
        self.count_labels: dict[str, QLabel] = {}
        self.expected_labels: dict[str, QLabel] = {}
        self.counted_edits: dict[str, QLineEdit] = {}
        self.difference_labels: dict[str, QLabel] = {}
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for row, method in enumerate(METHODS, start=1):
            grid.addWidget(QLabel(self._method_word(method), self.closeout), row, 0)
            self.count_labels[method] = QLabel("0", self.closeout)
            self.expected_labels[method] = QLabel(self.closeout)
            edit = QLineEdit(self.closeout)
            edit.setObjectName(f"counted_{method}")
            edit.setAlignment(right)
            edit.setMaximumWidth(140)
            self.counted_edits[method] = edit
            self.difference_labels[method] = QLabel(self.closeout)
            self.difference_labels[method].setObjectName(f"difference_{method}")
            for widget in (
                self.count_labels[method],
                self.expected_labels[method],
                self.difference_labels[method],
            ):
                widget.setAlignment(right)
            grid.addWidget(self.count_labels[method], row, 1)
            grid.addWidget(self.expected_labels[method], row, 2)
            grid.addWidget(edit, row, 3)
            grid.addWidget(self.difference_labels[method], row, 4)
            edit.textChanged.connect(self.on_counted_changed)
        total_row = len(METHODS) + 1
        grid.addWidget(QLabel("<b>Total</b>", self.closeout), total_row, 0)
        self.expected_total = QLabel(self.closeout)
        self.expected_total.setAlignment(right)
        self.difference_total = QLabel(self.closeout)
        self.difference_total.setObjectName("differenceTotal")
        self.difference_total.setAlignment(right)
        grid.addWidget(self.expected_total, total_row, 2)
        grid.addWidget(self.difference_total, total_row, 4)
        grid.setColumnStretch(5, 1)
        self.note_edit = QLineEdit(self.closeout)
        self.note_edit.setObjectName("closeOutNote")
        self.note_edit.setPlaceholderText("Why the count differs (needed when it does)")
        self.note_edit.setMaxLength(300)
        self.save_button = QPushButton("&Save close-out", self.closeout)
        self.save_button.setObjectName("saveCloseOut")
        self.save_button.setVisible(self.ctx.allows(Permission.TAKE_PAYMENTS))
        self.closeout_message = QLabel(self.closeout)
        self.closeout_message.setObjectName("closeOutMessage")
        self.closeout_message.setWordWrap(True)
        note_label = QLabel("&Note", self.closeout)
        note_label.setBuddy(self.note_edit)
        grid.addWidget(note_label, total_row + 1, 0)
        grid.addWidget(self.note_edit, total_row + 1, 1, 1, 4)
        grid.addWidget(self.save_button, total_row + 1, 5, Qt.AlignmentFlag.AlignLeft)
        grid.addWidget(self.closeout_message, total_row + 2, 0, 1, 6)
        self.layout_.addWidget(self.closeout)
        set_column_widths(self.table, (80, 200, 190, 110, 150))
        self.day_edit.dateChanged.connect(self.on_day_changed)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.note_edit.returnPressed.connect(self.on_save_clicked)
        self._update_differences()

    def columns(self) -> list[Column]:
        return [
            Column("Time", self._time_text),
            Column("Patient", lambda r: r.patient_name),
            Column("Method", self._method_text),
            Column(
                "Amount",
                lambda r: self.money(r.amount),
                align_right=True,
                colour=lambda r: RED if r.amount < 0 else None,
            ),
            Column("Reference", lambda r: r.reference or "—"),
            Column("Taken by", lambda r: r.taken_by or "—"),
        ]

    def _time_text(self, line) -> str:
        return format_time(line.received_at, self.ctx.details.timezone, self.ctx.details.locale)

    def _method_word(self, method: str) -> str:
        return spelling(self.ctx.details.locale)(METHOD_WORDS.get(method, method))

    def _method_text(self, line) -> str:
        # An insurance payment is the payer's money: say whose ("Insurance · Delta Dental").
        method = self._method_word(line.method)
        return f"{method} · {line.payer}" if line.payer else method

    def chosen_day(self) -> date:
        d = self.day_edit.date()
        return date(d.year(), d.month(), d.day())

    def summary(self):
        from app.services.billing.plans_overview import last_close_out, payments_by_method

        db, actor, day = self.ctx.db, self.ctx.actor, self.chosen_day()
        return lambda: (payments_by_method(db, actor, day), last_close_out(db, actor, day))

    def rows_of(self, result) -> list:
        return list(result[0].lines)

    def count_text(self, result) -> str:
        if result is None:
            return ""
        day = result[0]
        noun = "payment" if len(day.lines) == 1 else "payments"
        return f"{len(day.lines)} {noun} · {self.money(day.net_total)} net"

    def shown(self, result) -> None:
        day, last = result
        self.expected = day.expected()
        for total in day.totals:
            self.count_labels[total.method].setText(str(total.count))
            self.expected_labels[total.method].setText(self.money(total.net))
        self.expected_total.setText(self.money(day.net_total))
        if last is not None:
            when = format_time(last.closed_at, self.ctx.details.timezone, self.ctx.details.locale)
            verdict = (
                "the count matched"
                if last.balanced
                else f"difference {self.money(last.difference)}"
            )
            self.closeout_message.setStyleSheet(f"color: {GREEN if last.balanced else RED};")
            self.closeout_message.setText(
                f"Closed by {last.closed_by or 'someone'} at "
                f"{when}: {verdict}. "
                "Saving again records a recount; the newest counts."
            )
        else:
            self.closeout_message.setStyleSheet("")
            self.closeout_message.setText("This day has not been closed out yet.")
        self._update_differences()

    def counted(self) -> tuple[dict[str, Decimal], str | None]:
        """The amounts typed (empty = 0.00), or the first problem with what was typed."""
        amounts: dict[str, Decimal] = {}
        for method, edit in self.counted_edits.items():
            text = edit.text().strip()
            if not text:
                amounts[method] = Decimal("0.00")
                continue
            try:
                amounts[method] = parse_money(text, self.ctx.details.locale)
            except ValueError as exc:
                return amounts, f"{self._method_word(method)}: {exc}"
        return amounts, None

    def _update_differences(self) -> None:
        """A difference for each method once its count is typed — none, and no red, for a
        count not typed yet (the day's expected amounts are not 'missing' before anyone
        counted); the total over what was typed."""
        amounts, problem = self.counted()
        total = Decimal("0.00")
        all_match = problem is None
        typed = {m for m, edit in self.counted_edits.items() if edit.text().strip()}
        for method in METHODS:
            label = self.difference_labels[method]
            if method not in amounts or method not in typed:
                label.setText("")
                label.setStyleSheet("")
                continue
            difference = amounts[method] - self.expected.get(method, Decimal("0.00"))
            total += difference
            all_match = all_match and difference == 0
            label.setText("✓" if difference == 0 else self.money(difference))
            label.setStyleSheet(f"color: {GREEN if difference == 0 else RED};")
        if problem is None and typed:
            self.difference_total.setText(self.money(total))
            self.difference_total.setStyleSheet(f"color: {GREEN if all_match else RED};")
        else:
            self.difference_total.setText("")
            self.difference_total.setStyleSheet("")
        if problem is not None:
            self.closeout_message.setStyleSheet(f"color: {RED};")
            self.closeout_message.setText(problem)
        self.save_button.setEnabled(problem is None)

    @Slot()
    def on_counted_changed(self) -> None:
        self._update_differences()

    @Slot()
    def on_day_changed(self) -> None:
        for edit in self.counted_edits.values():
            edit.blockSignals(True)
            edit.clear()
            edit.blockSignals(False)
        self.note_edit.clear()
        self.reload()

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.billing.plans_overview import close_out_day

        amounts, problem = self.counted()
        if problem is not None or not self.save_button.isVisible():
            return
        self.save_button.setEnabled(False)
        db, actor, day, note = self.ctx.db, self.ctx.actor, self.chosen_day(), self.note_edit.text()
        ops.run_write(
            lambda: close_out_day(db, actor, day, amounts, note),
            on_success=self.on_closed,
            on_failure=self.on_close_failed,
            owner=self,
        )

    def on_closed(self, _closeout) -> None:
        self.save_button.setEnabled(True)

    def on_close_failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.closeout_message.setStyleSheet(f"color: {RED};")
        self.closeout_message.setText(ops.user_message(exc))
        if getattr(exc, "field", None) == "note":
            self.note_edit.setFocus()


class PlansPage(QWidget):
    """Open plans, unscheduled phases, payment plans, collections and the day's payments."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("plansPage")
        self.title_label = QLabel("Plans & Payments", self)
        self.title_label.setObjectName("pageTitle")
        self.title_label.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("plansTabs")
        self.open_plans = OpenPlansSection(self)
        self.unscheduled = UnscheduledSection(self)
        self.payment_plans = PaymentPlansSection(self)
        self.collections = CollectionsSection(self)
        self.today = TodaySection(self)
        self.sections: list[Section] = [
            self.open_plans,
            self.unscheduled,
            self.payment_plans,
            self.collections,
            self.today,
        ]
        titles = (
            "&1 Open plans",
            "&2 Accepted, not scheduled",
            "&3 Payment plans",
            "&4 Collections",
            "&5 Payments by day",
        )
        for section, title in zip(self.sections, titles, strict=True):
            self.tabs.addTab(section, title)
        # Alt+1 … Alt+5 switch tabs (the titles' mnemonics); Ctrl+1 … are the main
        # window's pages.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 0)
        layout.addWidget(self.title_label)
        layout.addWidget(self.tabs, 1)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.tabs.currentChanged.connect(self.on_tab_changed)
        self.ctx.bus.changed.connect(self.on_changed)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._load_current()

    def _load_current(self) -> None:
        section = self.tabs.currentWidget()
        if isinstance(section, Section) and section.stale:
            section.reload()

    @Slot(int)
    def on_tab_changed(self, _index: int) -> None:
        if self.isVisible():
            self._load_current()
        section = self.tabs.currentWidget()
        if isinstance(section, Section):
            section.table.setFocus()

    @Slot(object)
    def on_changed(self, changes: Changes) -> None:
        for section in self.sections:
            if any(getattr(changes, flag, False) for flag in section.watches):
                section.stale = True
        if self.isVisible():
            self._load_current()
