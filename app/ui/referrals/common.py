"""What the Referrals page, the referral window and the record's Referrals tab share: how a
referral's dates, stage and other office read, the small "Log call…" and "Reminder…"
dialogs, and the print previews of its letters (the packet, the reminder, the consult
letter) through the app's one print preview."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, QLocale
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDateEdit,
    QHBoxLayout,
    QLineEdit,
    QRadioButton,
    QWidget,
)

from app.i18n import format_date, format_datetime, qt_date_format, spelling
from app.services.clinic.permissions import Permission
from app.services.referrals import stages
from app.ui.widgets.write_dialog import FormWriteDialog

if TYPE_CHECKING:
    from app.services.referrals.referrals import ReferralEventLine, ReferralLine
    from app.ui.context import UiContext
    from app.ui.print_preview import PrintPreviewDialog

OVERDUE_RED = "#b3261e"
NOTE_MAX = 500
DIRECTION_LABELS = {"outgoing": "Out", "incoming": "In"}


def status_label(ctx: UiContext, status: str) -> str:
    """The stage in the desk's words ("Visit booked"), spelled as the clinic spells."""
    return spelling(ctx.details.locale)(stages.STATUS_LABELS.get(status, status))


def urgency_label(urgency: str) -> str:
    return stages.URGENCY_LABELS.get(urgency, urgency.capitalize())


def day_text(ctx: UiContext, value: date | None, empty: str = "—") -> str:
    return format_date(value, ctx.details.locale) if value is not None else empty


def moment_text(ctx: UiContext, value: datetime) -> str:
    return format_datetime(value, ctx.details.timezone, ctx.details.locale)


def days_text(days: int) -> str:
    if days <= 0:
        return "Today"
    return "1 day" if days == 1 else f"{days} days"


def other_office(line: ReferralLine) -> str:
    """Who is on the other end: "To Dr. Ann Lee, Lee Oral Surgery" / "From …"."""
    if line.direction == "outgoing":
        return f"To {line.contact_name}" if line.contact_name else "To: no specialist chosen"
    return f"From {line.contact_name}" if line.contact_name else "From: no referrer on file"


def visit_text(ctx: UiContext, line: ReferralLine) -> str:
    """The visit when booked, else the day it is due by."""
    if line.seen_on is not None:
        return f"Seen {day_text(ctx, line.seen_on)}"
    if line.visit_on is not None:
        return f"Visit {day_text(ctx, line.visit_on)}"
    if line.visit_due_on is not None:
        return f"Due by {day_text(ctx, line.visit_due_on)}"
    return "—"


def is_open(line: ReferralLine) -> bool:
    return bool(allowed_next(line))


def allowed_next(line: ReferralLine) -> frozenset[str]:
    """The statuses the referral may move to now (none once it is finished)."""
    return stages.allowed_next(line.direction, line.status)


def event_text(event: ReferralEventLine) -> str:
    """The timeline's sentence, with the note typed with it when the sentence lacks it."""
    text = event.text or event.kind.capitalize()
    if event.note and event.note not in text:
        text = f"{text} — {event.note}"
    return text


def may_acknowledge(ctx: UiContext) -> bool:
    """A provider (who signs notes) or the owner acknowledges a specialist's report."""
    return ctx.allows(Permission.SIGN_NOTES) or ctx.actor.role == "owner"


def document_language(ctx: UiContext) -> str:
    """Letters to another office print in the clinic's own language (else English)."""
    from app.ui.patients.tasks_tab import clinic_document_language

    return clinic_document_language(ctx)


def qdate_of(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def date_of(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def date_edit(ctx: UiContext, value: date) -> QDateEdit:
    edit = QDateEdit(qdate_of(value))
    edit.setCalendarPopup(True)
    edit.setLocale(QLocale(ctx.details.locale))
    edit.setDisplayFormat(qt_date_format(ctx.details.locale))
    return edit


# --- letters --------------------------------------------------------------------------------------


def preview_packet(
    parent: QWidget | None, ctx: UiContext, line: ReferralLine
) -> PrintPreviewDialog:
    """The referral letter with the records picked to go with it, one PDF (audited as a
    disclosure by the service)."""
    from app.services.referrals.referrals import referral_packet_pdf
    from app.ui.print_preview import PrintSubject, show_print_preview

    db, actor, referral_id = ctx.db, ctx.actor, line.id
    return show_print_preview(
        parent,
        ctx=ctx,
        title=f"Referral packet #{referral_id}",
        filename=f"Referral {referral_id}.pdf",
        subject=PrintSubject(
            f"referral packet #{referral_id}", "referrals", referral_id, line.patient_id
        ),
        render=lambda language: referral_packet_pdf(db, actor, referral_id, language=language),
        language=document_language(ctx),
    )


def preview_reminder(
    parent: QWidget | None, ctx: UiContext, line: ReferralLine
) -> PrintPreviewDialog:
    from app.services.referrals.referrals import reminder_letter_pdf
    from app.ui.print_preview import PrintSubject, show_print_preview

    db, actor, referral_id = ctx.db, ctx.actor, line.id
    return show_print_preview(
        parent,
        ctx=ctx,
        title=f"Reminder about referral #{referral_id}",
        filename=f"Referral {referral_id} reminder.pdf",
        subject=PrintSubject(
            f"referral reminder #{referral_id}", "referrals", referral_id, line.patient_id
        ),
        render=lambda language: reminder_letter_pdf(db, actor, referral_id, language=language),
        language=document_language(ctx),
    )


def preview_consult_letter(
    parent: QWidget | None, ctx: UiContext, line: ReferralLine
) -> PrintPreviewDialog:
    from app.services.referrals.referrals import consult_letter_pdf
    from app.ui.print_preview import PrintSubject, show_print_preview

    db, actor, referral_id = ctx.db, ctx.actor, line.id
    return show_print_preview(
        parent,
        ctx=ctx,
        title=f"Consult letter for referral #{referral_id}",
        filename=f"Referral {referral_id} consult letter.pdf",
        subject=PrintSubject(
            f"consult letter #{referral_id}", "referrals", referral_id, line.patient_id
        ),
        render=lambda language: consult_letter_pdf(db, actor, referral_id, language=language),
        language=document_language(ctx),
    )


# --- the two dialogs every list of referrals offers ---------------------------------------------


class LogCallDialog(FormWriteDialog):
    """A call to (or from) the other office: reached or not, and what was said."""

    save_text = "&Log call"

    def __init__(self, ctx: UiContext, parent: QWidget | None, line: ReferralLine) -> None:
        super().__init__(ctx, parent, "Log a call")
        self.setObjectName("logReferralCallDialog")
        self.line = line
        self.logged: ReferralEventLine | None = None
        office = line.contact_name or (
            "the specialist's office" if line.direction == "outgoing" else "the referrer"
        )
        self.intro_label.setText(f"A call with {office} about the referral of {line.patient_name}.")
        self.reached_radio = QRadioButton("&Reached them")
        self.reached_radio.setObjectName("callReached")
        self.not_reached_radio = QRadioButton("&Not reached (no answer, left a message)")
        self.not_reached_radio.setObjectName("callNotReached")
        self.reached_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.reached_radio)
        group.addButton(self.not_reached_radio)
        outcome = QWidget()
        row = QHBoxLayout(outcome)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.reached_radio)
        row.addWidget(self.not_reached_radio)
        row.addStretch(1)
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("callNote")
        self.note_edit.setMaxLength(NOTE_MAX)
        self.note_edit.setPlaceholderText("e.g. Spoke to Maria: visit booked for next Tuesday")
        self.add_field("reached", "Outcome", outcome)
        self.add_field("note", "N&ote", self.note_edit)
        self.note_edit.setFocus()

    def write(self):
        from app.services.referrals.referrals import log_referral_call

        db, actor, referral_id = self.ctx.db, self.ctx.actor, self.line.id
        note, reached = self.note_edit.text(), self.reached_radio.isChecked()
        return lambda: log_referral_call(db, actor, referral_id, note=note, reached=reached)

    def on_saved(self, result: Any) -> None:
        self.logged = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line: ReferralLine):
        """Show the dialog; the call's timeline entry, or None when abandoned."""
        dialog = cls(ctx, parent, line)
        return dialog.logged if dialog.run() else None


class ReminderDialog(FormWriteDialog):
    """A reminder to the other office, recorded on the timeline (and the patient's
    communication log); the printable letter is offered once it is recorded."""

    save_text = "&Record reminder"

    def __init__(self, ctx: UiContext, parent: QWidget | None, line: ReferralLine) -> None:
        super().__init__(ctx, parent, "Send a reminder")
        self.setObjectName("referralReminderDialog")
        self.line = line
        self.recorded: ReferralEventLine | None = None
        office = line.contact_name or "the other office"
        self.intro_label.setText(
            f"A reminder to {office} about the referral of {line.patient_name} "
            f"(next: {line.next_action.lower() or 'follow up'}). Print or fax the letter."
        )
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("reminderNote")
        self.note_edit.setMaxLength(NOTE_MAX)
        self.note_edit.setPlaceholderText("e.g. Faxed, second reminder")
        self.print_check = QCheckBox("&Print the reminder letter")
        self.print_check.setObjectName("printReminderLetter")
        self.print_check.setChecked(ctx.allows(Permission.PRINT_DOCUMENTS))
        self.add_field("note", "N&ote", self.note_edit)
        self.form.addRow("", self.print_check)
        # Shown or hidden once in its layout: a parentless widget shown is a window.
        self.print_check.setVisible(ctx.allows(Permission.PRINT_DOCUMENTS))
        self.note_edit.setFocus()

    def write(self):
        from app.services.referrals.referrals import record_reminder

        db, actor, referral_id = self.ctx.db, self.ctx.actor, self.line.id
        note = self.note_edit.text()
        return lambda: record_reminder(db, actor, referral_id, note=note)

    def on_saved(self, result: Any) -> None:
        self.recorded = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line: ReferralLine) -> tuple[Any, bool]:
        """Show the dialog; (the reminder's timeline entry or None, print the letter?)."""
        dialog = cls(ctx, parent, line)
        accepted = dialog.run()
        return (dialog.recorded if accepted else None, dialog.print_check.isChecked())


def send_reminder(parent: QWidget | None, ctx: UiContext, line: ReferralLine) -> Any:
    """Record a reminder, then open its letter's preview if asked; the entry or None."""
    recorded, print_it = ReminderDialog.ask(ctx, parent, line)
    if recorded is not None and print_it:
        preview_reminder(parent, ctx, line)
    return recorded
