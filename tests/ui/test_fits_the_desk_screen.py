"""Everything fits the front desk's 1366×768 screen (issue 17 §5).

The main window, on each of its pages, and every dialog and record window of ``app/ui``,
opened on a seeded clinic's realistic data under CareDesk's own style sheet, asks for no
more than 1366×728 (the screen less a taskbar).  ``OPENERS`` says how to open each
dialog; a QDialog subclass it does not name fails the test, so a new dialog cannot slip
past.  The offscreen screen is 800×600: what is checked is what each window asks for
(its minimum size and minimum size hint), not what the screen lets it have.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QDialog, QWidget

import app.ui
from app import paths
from app.demo import seed
from app.services.clinic import auth
from app.services.clinic.clinics import get_details
from app.ui import ops
from app.ui.context import UiContext

#: The desk's screen less a taskbar: what a window (frame included) may ask for.
DESK = QSize(1366, 728)
#: A seeded clinic's "today" (a Tuesday: every provider works) and the desk's clock in it.
SEED_DAY = seed.SEED_TODAY
NOW = datetime(SEED_DAY.year, SEED_DAY.month, SEED_DAY.day, 15, 20, tzinfo=UTC)


class _DeskClock(datetime):
    """``app.clock``'s datetime: every ``utc_now()`` and ``today_in()`` reads ``NOW``."""

    @classmethod
    def now(cls, tz=None):
        return NOW.astimezone(tz) if tz is not None else NOW.replace(tzinfo=None)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A small seeded clinic (the demo's made-up data: long Spanish names, payers, plans,
    payment plans, a waitlist), shared read-mostly by this module's tests."""
    folder = tmp_path_factory.mktemp("desk-screen")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
            clinic = seed.create_seeded_clinic(
                folder / "desk.caredesk",
                patients=80,
                years=1,
                seed=2026,
                passphrase="desk-screen-passphrase",
                today=SEED_DAY,
            )
    finally:
        keyring.set_keyring(previous)
    yield clinic
    ops.wait_for_done()
    clinic.db.close()


@pytest.fixture
def desk_clock(monkeypatch) -> None:
    monkeypatch.setattr("app.clock.datetime", _DeskClock)


@pytest.fixture
def styled(qapp) -> Iterator[None]:
    """CareDesk's own style sheet (its padding and bold headings are what the desk sees)."""
    from app.ui.application import application_style

    qapp.setStyleSheet(application_style())
    yield
    qapp.setStyleSheet("")


@pytest.fixture
def desk(seeded, desk_clock, styled) -> UiContext:
    """The owner of the seeded clinic, signed in (the owner sees every page and button)."""
    actor = auth.login(seeded.db, "owner", seed.DEMO_PASSWORD)
    return UiContext(seeded, actor, get_details(seeded.db))


# --- realistic rows to open dialogs on --------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    patient_id: int  # the longest name among those with a payment plan, a policy and payments
    other_patient_id: int
    appointment_id: int  # booked later today
    arrived_appointment_id: int | None
    plan_id: int  # an accepted (or in progress) treatment plan with phases
    presented_plan_id: int
    payment_plan_id: int
    payment_id: int  # a card payment of the patient's


def _one(conn, sql: str, *args):
    row = conn.exec_driver_sql(sql, args).first()
    return row[0] if row is not None else None


def rows_of(db) -> Rows:
    with db.engine.connect() as c:
        patient = _one(
            c,
            "SELECT p.id FROM patients p"
            " WHERE EXISTS (SELECT 1 FROM payment_plans pp WHERE pp.patient_id = p.id"
            "   AND pp.status = 'active')"
            " AND EXISTS (SELECT 1 FROM insurance_policies i WHERE i.patient_id = p.id)"
            " AND EXISTS (SELECT 1 FROM payments m WHERE m.patient_id = p.id"
            "   AND m.method = 'card' AND m.kind = 'payment' AND m.voided_at IS NULL)"
            " ORDER BY length(p.first_name) + length(p.last_name) DESC, p.id LIMIT 1",
        )
        other = _one(c, "SELECT id FROM patients WHERE id <> ? ORDER BY id LIMIT 1", patient)
        day = SEED_DAY.isoformat()
        appointment = _one(
            c,
            "SELECT id FROM appointments WHERE status IN ('scheduled', 'confirmed')"
            " AND date(starts_at) >= ? ORDER BY starts_at LIMIT 1",
            day,
        )
        arrived = _one(
            c,
            "SELECT id FROM appointments WHERE status IN ('arrived', 'in_treatment')"
            " ORDER BY starts_at DESC LIMIT 1",
        )
        plan = _one(
            c,
            "SELECT t.id FROM treatment_plans t WHERE t.status IN ('accepted', 'in_progress')"
            " AND EXISTS (SELECT 1 FROM treatment_phases f WHERE f.plan_id = t.id)"
            " ORDER BY t.status = 'accepted' DESC, t.id DESC LIMIT 1",
        )
        presented = _one(
            c, "SELECT id FROM treatment_plans WHERE status = 'presented' ORDER BY id LIMIT 1"
        )
        payment_plan = _one(
            c,
            "SELECT id FROM payment_plans WHERE patient_id = ? AND status = 'active' LIMIT 1",
            patient,
        )
        payment = _one(
            c,
            "SELECT id FROM payments WHERE patient_id = ? AND method = 'card'"
            " AND kind = 'payment' AND voided_at IS NULL ORDER BY id DESC LIMIT 1",
            patient,
        )
    return Rows(patient, other, appointment, arrived, plan, presented, payment_plan, payment)


# --- how each dialog and window is opened -----------------------------------------------------

Opener = Callable[[UiContext, Rows], QWidget]


def _booking(ctx: UiContext, rows: Rows):
    from app.services.scheduling import appointment_book
    from app.ui.calendar.booking_dialog import BookingDialog

    block = appointment_book.appointment_block(ctx.db, ctx.actor, rows.appointment_id)
    return BookingDialog(ctx, starts_at=block.starts_at, appointment=block)


def _export(ctx, rows):
    from app.ui.calendar.export_dialog import ExportScheduleDialog

    return ExportScheduleDialog(ctx, day=SEED_DAY)


def _next_available(ctx, rows):
    from app.ui.calendar.next_available import NextAvailableDialog

    return NextAvailableDialog(
        ctx, patient_id=rows.patient_id, patient_name="Mendizábal Ripoll, Juan Francisco"
    )


def _summary(ctx, rows):
    from app.services.scheduling import appointment_status as st

    return st.appointment_summary(ctx.db, ctx.actor, rows.appointment_id)


def _details(ctx, rows):
    from app.ui.calendar.status_dialogs import AppointmentDetailsDialog

    return AppointmentDetailsDialog(ctx, None, rows.appointment_id)


def _cancel(ctx, rows):
    from app.ui.calendar.status_dialogs import CancelDialog

    return CancelDialog(ctx, _summary(ctx, rows))


def _next_step(ctx, rows):
    from app.ui.calendar.status_dialogs import NextStepDialog

    return NextStepDialog(ctx, _summary(ctx, rows), "cancelled")


def _waitlist_entry(ctx, rows):
    from app.ui.calendar.waitlist_panel import WaitlistEntryDialog

    return WaitlistEntryDialog(
        ctx, None, patient_id=rows.patient_id, patient_name="Mendizábal Ripoll, Juan Francisco"
    )


def _change_password(ctx, rows):
    from app.ui.change_password import ChangePasswordDialog

    return ChangePasswordDialog(None, forced=True)


def _check_out(ctx, rows):
    from app.ui.check_out import CheckOutDialog

    return CheckOutDialog(ctx, None, rows.arrived_appointment_id or rows.appointment_id)


def _check_in(ctx, rows):
    from app.ui.front_desk import CheckInDialog

    return CheckInDialog(ctx, None, rows.appointment_id)


def _key(ctx, rows):
    from app.ui.key_dialog import KeyDialog

    return KeyDialog(
        None,
        "CareDesk could not find this clinic's key on this computer. Type the recovery key "
        "from the clinic's recovery kit, or the passphrase.",
        error="This key does not open the clinic's database.",
    )


def _emergency(ctx, rows):
    from app.ui.main_window import EmergencyAccessDialog

    return EmergencyAccessDialog()


def _payers(ctx, rows):
    with ctx.db.engine.connect() as c:
        return [
            (r[0], f"{r[1]} — {r[2]}")
            for r in c.exec_driver_sql(
                "SELECT id, organisation, name FROM contacts WHERE kind = 'payer'"
            )
        ]


def _policy(ctx, rows):
    from app.ui.patients.insurance_dialogs import PolicyDialog

    return PolicyDialog(ctx, None, editing=True)


def _contact(ctx, rows):
    from app.services.contacts.directory import get_contact, list_contacts
    from app.ui.contacts.contact_dialog import ContactDialog

    payer = list_contacts(ctx.db, ctx.actor, kind="payer")[0]
    return ContactDialog(ctx, None, details=get_contact(ctx.db, ctx.actor, payer.id))


def _merge_contacts(ctx, rows):
    from app.services.contacts.directory import list_contacts
    from app.ui.contacts.merge_dialog import MergeContactsDialog

    return MergeContactsDialog(ctx, None, list_contacts(ctx.db, ctx.actor, kind="specialist")[0])


def _referral_line(ctx, direction="outgoing"):
    from app.services.referrals.referrals import referral_detail

    with ctx.db.engine.connect() as c:
        referral_id = c.exec_driver_sql(
            "SELECT id FROM referrals WHERE direction = ? ORDER BY id LIMIT 1", (direction,)
        ).scalar()
    return referral_detail(ctx.db, ctx.actor, referral_id).line


def _new_referral(ctx, rows):
    from app.ui.referrals.new_referral import NewReferralDialog

    return NewReferralDialog(ctx, None, rows.patient_id, patient_name="María José Sanmartín")


def _incoming_referral(ctx, rows):
    from app.ui.referrals.incoming import IncomingReferralDialog

    return IncomingReferralDialog(ctx, None)


def _send_referral(ctx, rows):
    from app.ui.referrals.referral_window import SendReferralDialog

    return SendReferralDialog(ctx, None, _referral_line(ctx))


def _referral_date(ctx, rows):
    from app.ui.referrals.referral_window import ReferralDateDialog

    return ReferralDateDialog(ctx, None, _referral_line(ctx), step="booked")


def _end_referral(ctx, rows):
    from app.ui.referrals.referral_window import EndReferralDialog

    return EndReferralDialog(ctx, None, _referral_line(ctx), outcome="cancelled")


def _log_referral_call(ctx, rows):
    from app.ui.referrals.common import LogCallDialog

    return LogCallDialog(ctx, None, _referral_line(ctx))


def _referral_reminder(ctx, rows):
    from app.ui.referrals.common import ReminderDialog

    return ReminderDialog(ctx, None, _referral_line(ctx))


def _referral_window(ctx, rows):
    from app.ui.referrals.referral_window import ReferralWindow

    return ReferralWindow(ctx, _referral_line(ctx).id)


def _task_line(ctx, rows):
    from app.services.patients.tasks import add_task

    return add_task(
        ctx.db, ctx.actor, title="Call back about the whitening estimate",
        patient_id=rows.patient_id,
    )  # fmt: skip


def _new_task(ctx, rows):
    from app.ui.tasks.dialogs import NewTaskDialog

    return NewTaskDialog(ctx, None)


def _task_due(ctx, rows):
    from app.ui.tasks.dialogs import DueDateDialog

    return DueDateDialog(ctx, None, _task_line(ctx, rows))


def _cancel_task(ctx, rows):
    from app.ui.tasks.dialogs import CancelTaskDialog

    return CancelTaskDialog(ctx, None, _task_line(ctx, rows))


def _import_contacts(ctx, rows):
    from app.ui.contacts.import_dialog import ImportContactsDialog

    data = b"Kind,Organization,Phone\nlab,Main Street Lab,512 555 0161\nwizard,Merlin,\n"
    return ImportContactsDialog(ctx, None, data, "contacts.csv")


def _preauth(ctx, rows):
    from app.ui.patients.insurance_dialogs import PreauthDialog

    names = [(pid, f"{name} (primary)") for pid, name in _payers(ctx, rows)[:2]]
    return PreauthDialog(None, policies=names, editing=True)


def _verification(ctx, rows):
    from app.ui.patients.insurance_dialogs import VerificationDialog

    return VerificationDialog(None, _payers(ctx, rows)[0][1])


def _log_contact(ctx, rows):
    from app.ui.patients.log_contact import LogContactDialog

    return LogContactDialog(ctx, rows.patient_id, channel="phone", purpose="collections")


def _merge(ctx, rows):
    from app.services.patients import search
    from app.ui.patients.merge_dialog import MergeDialog

    hits = search.search_patients(ctx.db, ctx.actor, "a", limit=2)
    return MergeDialog(ctx, hits[0], hits[1])


def _new_patient(ctx, rows):
    from app.ui.patients.new_patient import NewPatientDialog

    return NewPatientDialog(ctx, initial_name="Mendizábal Ripoll, Juan Francisco")


def _addendum(ctx, rows):
    from app.ui.patients.note_editor import AddendumDialog

    return AddendumDialog(None)


def _journey_reason(ctx, rows):
    from app.ui.patients.pipeline_page import JourneyReasonDialog

    names = [f"Mendizábal Ripoll, Juan Francisco {n}" for n in range(12)]
    return JourneyReasonDialog(None, "inactive", names)


def _change_stage(ctx, rows):
    from app.ui.patients.record_header import ChangeStageDialog

    return ChangeStageDialog(None, "consultation")


def _consent_choice(ctx, rows):
    from app.services.patients.print_jobs import printable_consents
    from app.ui.patients.record_header import ConsentChoiceDialog

    return ConsentChoiceDialog(None, printable_consents(ctx.db, ctx.actor, rows.patient_id))


def _sign_consent(ctx, rows):
    from app.ui.patients.sign_consent import SignConsentDialog

    return SignConsentDialog(ctx, rows.patient_id, procedure="Implant placement #14")


def _adjustment(ctx, rows):
    from app.ui.plans.payment_dialogs import AdjustmentDialog

    return AdjustmentDialog(ctx, None, patient_id=rows.patient_id)


def _insurance_payment(ctx, rows):
    from app.ui.plans.payment_dialogs import InsurancePaymentDialog

    return InsurancePaymentDialog(ctx, None, patient_id=rows.patient_id)


def _refund(ctx, rows):
    from app.ui.plans.payment_dialogs import RefundDialog

    return RefundDialog(
        ctx, None, payment_id=rows.payment_id, refundable=Decimal("1350.00"), method="card"
    )


def _void(ctx, rows):
    from app.ui.plans.payment_dialogs import VoidDialog

    return VoidDialog(
        ctx,
        None,
        entry_type="payment",
        entry_id=rows.payment_id,
        version=1,
        description="Card payment $1,350.00 — Facial rejuvenation, phase 1 (Visa ending 4242)",
    )


def _money(amount) -> str:
    return f"${amount:,.2f}"


def _cancel_plan(ctx, rows):
    from app.services.billing import payment_plans as pp
    from app.ui.plans.payment_plan_window import CancelPlanDialog

    plan = pp.load_payment_plan(ctx.db, ctx.actor, rows.payment_plan_id)
    return CancelPlanDialog(plan, _money)


def _accept(ctx, rows):
    from app.services.billing import treatment_plans as tp
    from app.ui.plans.plan_editor import AcceptDialog

    return AcceptDialog(None, tp.load_plan(ctx.db, ctx.actor, rows.presented_plan_id), _money)


def _item(ctx, rows):
    from app.services.billing import treatment_plans as tp
    from app.services.clinic import catalog
    from app.ui.plans.plan_editor import ItemDialog

    services = catalog.load_catalog(ctx.db, ctx.actor, include_inactive=False).services
    plan = tp.load_plan(ctx.db, ctx.actor, rows.plan_id)
    return ItemDialog(ctx, services, None, plan.phases[0].items[0])


def _text(ctx, rows):
    from app.ui.plans.plan_editor import TextDialog

    return TextDialog(None, "Rename the plan", "Plan title", "Root canal and crown #3")


def _schedule_phase(ctx, rows):
    from app.services.billing import treatment_plans as tp
    from app.ui.plans.schedule_phase_dialog import SchedulePhaseDialog

    plan = tp.load_plan(ctx.db, ctx.actor, rows.plan_id)
    return SchedulePhaseDialog(ctx, None, plan, plan.phases[0])


def _take_payment(ctx, rows):
    from app.ui.plans.take_payment import TakePaymentDialog

    return TakePaymentDialog(ctx, rows.patient_id)


def _print_preview(ctx, rows):
    from app.services.billing import plan_handouts
    from app.services.patients.print_jobs import PrintSubject
    from app.ui.print_preview import PrintPreviewDialog

    db, actor, plan_id = ctx.db, ctx.actor, rows.plan_id
    return PrintPreviewDialog(
        ctx,
        title="Treatment plan handout",
        filename="Treatment plan handout.pdf",
        subject=PrintSubject("treatment plan handout", "treatment_plans", plan_id, None),
        render=lambda language: plan_handouts.plan_handout_pdf(
            db, actor, plan_id, language=language
        ),
    )


def _provider(ctx, rows):
    from app.ui.settings.catalog import ProviderDialog

    return ProviderDialog(None, True, [(1, "Dr. Hannah Whitfield (aesthetics)")])


def _room(ctx, rows):
    from app.ui.settings.catalog import RoomDialog

    return RoomDialog(None, True)


def _service(ctx, rows):
    from app.ui.settings.catalog import ServiceDialog

    return ServiceDialog(None, True, "en_US")


def _move_to_server(ctx, rows):
    from app.ui.settings.move_to_server import MoveToServerDialog

    return MoveToServerDialog(None, str(ctx.clinic.path))


def _reset_password(ctx, rows):
    from app.ui.settings.staff import ResetPasswordDialog

    return ResetPasswordDialog(None, "Hannah Whitfield")


def _staff(ctx, rows):
    from app.ui.settings.staff import StaffDialog

    return StaffDialog(None, True)


def _setup_wizard(ctx, rows):
    from app.ui.setup_wizard import SetupWizard

    return SetupWizard(Path(ctx.clinic.path).with_name("new.caredesk"))


def _to_do_list(ctx, rows):
    from app.services.clinic.to_do import to_do_lines
    from app.ui.today_page import ToDoListDialog

    return ToDoListDialog(ctx, None, "Tasks due", to_do_lines(ctx.db, ctx.actor, "tasks"))


def _close_month(ctx, rows):
    from app.ui.month_close import CloseMonthDialog

    return CloseMonthDialog(ctx)


def _reopen_month(ctx, rows):
    from app.ui.month_close import ReopenMonthDialog

    return ReopenMonthDialog(ctx)


def _override_closed_month(ctx, rows):
    from app.ui.month_close import OverrideClosedMonthDialog

    return OverrideClosedMonthDialog(
        None,
        "This payment was received on November 12, 2026, and November 2026 is closed: the "
        "owner can reopen it or override with a reason.",
    )


def _record(ctx, rows):
    from app.ui.patients.record_window import PatientRecordWindow

    return PatientRecordWindow(ctx, rows.patient_id)


def _plan_window(ctx, rows):
    from app.ui.plans.plan_window import PlanWindow

    return PlanWindow(ctx, rows.patient_id, None, rows.plan_id)


def _payment_plan_window(ctx, rows):
    from app.ui.plans.payment_plan_window import PaymentPlanWindow

    return PaymentPlanWindow(ctx, rows.patient_id, payment_plan_id=rows.payment_plan_id)


def _outbox_line(ctx, rows):
    """A failed reminder to the patient with the longest name, with a long reason."""
    from app.services.messages.outbox import OutboxLine

    return OutboxLine(
        id=1, kind="appointment_reminder", kind_label="Appointment reminder", channel="email",
        state="failed", state_label="Failed", patient_id=rows.patient_id,
        patient_name="Fernández-Castellanos, María Guadalupe", contact_name="",
        to_address="maria.guadalupe.fernandez-castellanos@example.org",
        subject="Reminder: your appointment at Bright Smile Clinic on Tuesday, December 8",
        body="", due_at=NOW, sent_at=None, state_changed_at=NOW, attempts=8,
        reason="The mail server did not answer (timed out after 20 s); tried 8 times.",
        version=1,
    )  # fmt: skip


def _send_message(ctx, rows):
    from app.ui.messages.send_dialog import SendMessageDialog

    return SendMessageDialog(ctx, [rows.patient_id], kind="confirmation_request")


def _cancel_message(ctx, rows):
    from app.ui.messages.outbox_page import CancelMessageDialog

    return CancelMessageDialog(ctx, None, _outbox_line(ctx, rows))


def _message_rule(ctx, rows):
    from app.services.clinic.catalog import load_catalog
    from app.services.messages.rules import rule_list
    from app.ui.settings.message_rules import RuleDialog

    services = load_catalog(ctx.db, ctx.actor, include_inactive=False).services
    return RuleDialog(ctx, None, rule_list(ctx.db, ctx.actor)[0], services)


def _message_test(ctx, rows):
    from app.ui.settings.messages_tab import MessageTestDialog

    return MessageTestDialog(None, "email", ctx.details.email)


def _restore_backup(ctx, rows):
    from app.services.backups import archive
    from app.ui.backups.lines import line_of
    from app.ui.backups.restore_dialog import RestoreDialog

    folder = Path(ctx.clinic.path).with_name("desk-backups")
    folder.mkdir(exist_ok=True)
    archive.make_file_backup(ctx.db, ctx.clinic.key, folder, reason="automatic")
    return RestoreDialog(ctx, None, line_of("USB disk", archive.list_backups(folder)[0]))


def _closing_backup(ctx, rows):
    from app.ui.backups.before_closing import ClosingBackupDialog

    return ClosingBackupDialog(None, closing=True)


def _record_export(ctx, rows):
    from app.ui.exports.record_export_dialog import RecordExportDialog

    return RecordExportDialog(
        ctx,
        None,
        rows.patient_id,
        patient_name="Juan Francisco Mendizábal Ripoll",
        chart_number="C000123",
    )


def _clinic_export(ctx, rows):
    from app.ui.exports.clinic_export_dialog import ClinicExportDialog

    dialog = ClinicExportDialog(ctx, None)
    dialog.encrypt_check.setChecked(True)  # its tallest: the password twice
    return dialog


def _import_wizard(ctx, rows):
    """The wizard on its widest step: the columns of a file with many, and long, headers."""
    from app.services.imports.mappings import KNOWN_HEADERS
    from app.services.imports.sources import read_source
    from app.ui.imports.import_wizard import ImportWizard

    headers = ["Chart Number", "First Name", "Last Name", "Birth Date", "Email", "Mobile Phone"]
    headers += [f"Custom field {n} from the previous practice software" for n in range(1, 25)]
    line = ["1001", "María Guadalupe", "Fernández-Castellanos", "1980-05-17", "maria@example.org",
            "(512) 555-0100"] + ["a long value someone typed into a custom field"] * 24  # fmt: skip
    path = Path(ctx.clinic.path).with_name("patients from the old system.csv")
    path.write_text(
        "\n".join(",".join(cells) for cells in (headers, line, line)) + "\n", encoding="utf-8"
    )
    wizard = ImportWizard(ctx, None)
    page = wizard.file_page
    page.path_edit.setText(str(path))
    wizard.choices.file = read_source(path, known_headers=KNOWN_HEADERS)
    page.read_path = path
    wizard.next()
    return wizard


def _import_history(ctx, rows):
    from app.ui.imports.history_dialog import ImportHistoryDialog

    return ImportHistoryDialog(ctx, None)


def _make_backups_here(ctx, rows):
    from app.ui.backups.backup_key_dialog import MakeBackupsHereDialog

    # The longest of its texts: another PC made the backups until now.
    return MakeBackupsHereDialog(None, "RECEPTION-WORKSTATION-02", "BACK-OFFICE-DESKTOP")


OPENERS: dict[str, Opener] = {
    "app.ui.backups.backup_key_dialog:MakeBackupsHereDialog": _make_backups_here,
    "app.ui.backups.before_closing:ClosingBackupDialog": _closing_backup,
    "app.ui.backups.restore_dialog:RestoreDialog": _restore_backup,
    "app.ui.calendar.booking_dialog:BookingDialog": _booking,
    "app.ui.calendar.export_dialog:ExportScheduleDialog": _export,
    "app.ui.calendar.next_available:NextAvailableDialog": _next_available,
    "app.ui.calendar.status_dialogs:AppointmentDetailsDialog": _details,
    "app.ui.calendar.status_dialogs:CancelDialog": _cancel,
    "app.ui.calendar.status_dialogs:NextStepDialog": _next_step,
    "app.ui.calendar.waitlist_panel:WaitlistEntryDialog": _waitlist_entry,
    "app.ui.change_password:ChangePasswordDialog": _change_password,
    "app.ui.check_out:CheckOutDialog": _check_out,
    "app.ui.front_desk:CheckInDialog": _check_in,
    "app.ui.key_dialog:KeyDialog": _key,
    "app.ui.main_window:EmergencyAccessDialog": _emergency,
    "app.ui.month_close:CloseMonthDialog": _close_month,
    "app.ui.month_close:OverrideClosedMonthDialog": _override_closed_month,
    "app.ui.month_close:ReopenMonthDialog": _reopen_month,
    "app.ui.patients.insurance_dialogs:PolicyDialog": _policy,
    "app.ui.contacts.contact_dialog:ContactDialog": _contact,
    "app.ui.contacts.import_dialog:ImportContactsDialog": _import_contacts,
    "app.ui.contacts.merge_dialog:MergeContactsDialog": _merge_contacts,
    "app.ui.tasks.dialogs:NewTaskDialog": _new_task,
    "app.ui.tasks.dialogs:DueDateDialog": _task_due,
    "app.ui.tasks.dialogs:CancelTaskDialog": _cancel_task,
    "app.ui.referrals.common:LogCallDialog": _log_referral_call,
    "app.ui.referrals.common:ReminderDialog": _referral_reminder,
    "app.ui.referrals.incoming:IncomingReferralDialog": _incoming_referral,
    "app.ui.referrals.new_referral:NewReferralDialog": _new_referral,
    "app.ui.referrals.referral_window:EndReferralDialog": _end_referral,
    "app.ui.referrals.referral_window:ReferralDateDialog": _referral_date,
    "app.ui.referrals.referral_window:SendReferralDialog": _send_referral,
    "app.ui.patients.insurance_dialogs:PreauthDialog": _preauth,
    "app.ui.patients.insurance_dialogs:VerificationDialog": _verification,
    "app.ui.patients.log_contact:LogContactDialog": _log_contact,
    "app.ui.patients.merge_dialog:MergeDialog": _merge,
    "app.ui.patients.new_patient:NewPatientDialog": _new_patient,
    "app.ui.patients.note_editor:AddendumDialog": _addendum,
    "app.ui.patients.pipeline_page:JourneyReasonDialog": _journey_reason,
    "app.ui.patients.record_header:ChangeStageDialog": _change_stage,
    "app.ui.patients.record_header:ConsentChoiceDialog": _consent_choice,
    "app.ui.patients.sign_consent:SignConsentDialog": _sign_consent,
    "app.ui.plans.payment_dialogs:AdjustmentDialog": _adjustment,
    "app.ui.plans.payment_dialogs:InsurancePaymentDialog": _insurance_payment,
    "app.ui.plans.payment_dialogs:RefundDialog": _refund,
    "app.ui.plans.payment_dialogs:VoidDialog": _void,
    "app.ui.plans.payment_plan_window:CancelPlanDialog": _cancel_plan,
    "app.ui.plans.plan_editor:AcceptDialog": _accept,
    "app.ui.plans.plan_editor:ItemDialog": _item,
    "app.ui.plans.plan_editor:TextDialog": _text,
    "app.ui.plans.schedule_phase_dialog:SchedulePhaseDialog": _schedule_phase,
    "app.ui.plans.take_payment:TakePaymentDialog": _take_payment,
    "app.ui.print_preview:PrintPreviewDialog": _print_preview,
    "app.ui.settings.catalog:ProviderDialog": _provider,
    "app.ui.settings.catalog:RoomDialog": _room,
    "app.ui.settings.catalog:ServiceDialog": _service,
    "app.ui.messages.outbox_page:CancelMessageDialog": _cancel_message,
    "app.ui.messages.send_dialog:SendMessageDialog": _send_message,
    "app.ui.settings.message_rules:RuleDialog": _message_rule,
    "app.ui.settings.messages_tab:MessageTestDialog": _message_test,
    "app.ui.settings.move_to_server:MoveToServerDialog": _move_to_server,
    "app.ui.settings.staff:ResetPasswordDialog": _reset_password,
    "app.ui.settings.staff:StaffDialog": _staff,
    "app.ui.setup_wizard:SetupWizard": _setup_wizard,
    "app.ui.exports.record_export_dialog:RecordExportDialog": _record_export,
    "app.ui.exports.clinic_export_dialog:ClinicExportDialog": _clinic_export,
    "app.ui.imports.import_wizard:ImportWizard": _import_wizard,
    "app.ui.imports.history_dialog:ImportHistoryDialog": _import_history,
    "app.ui.today_page:ToDoListDialog": _to_do_list,
    # The windows about one patient that are not dialogs.
    "app.ui.patients.record_window:PatientRecordWindow": _record,
    "app.ui.referrals.referral_window:ReferralWindow": _referral_window,
    "app.ui.plans.plan_window:PlanWindow": _plan_window,
    "app.ui.plans.payment_plan_window:PaymentPlanWindow": _payment_plan_window,
}

#: Bases no window is made of directly (each subclass is in OPENERS).
ABSTRACT = {
    "app.ui.widgets.write_dialog:WriteDialog",
    "app.ui.widgets.write_dialog:FormWriteDialog",
    "app.ui.plans.payment_dialogs:_AccountWriteDialog",
    "app.ui.month_close:_MonthCloseDialog",
    "app.ui.month_close:_ReasonDialog",
    "app.ui.settings.catalog:_CatalogDialog",
}


def dialog_classes() -> set[str]:
    """Every QDialog subclass defined in app.ui, as "module:Class"."""
    found = set()
    for info in pkgutil.walk_packages(app.ui.__path__, "app.ui."):
        if info.name == "app.ui.screenshots":  # a script: builds a demo clinic on import
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, QDialog) and obj.__module__ == info.name:
                found.add(f"{obj.__module__}:{obj.__qualname__}")
    return found


def test_every_dialog_has_a_way_to_open_it_here():
    missing = dialog_classes() - set(OPENERS) - ABSTRACT
    assert not missing, f"add an opener to OPENERS for: {sorted(missing)}"
    gone = ABSTRACT - dialog_classes()
    assert not gone, f"no longer dialogs: {sorted(gone)}"


def _settle(qtbot) -> None:
    from app.ui.backups.worker import backup_pending, wait_for_backups

    wait_for_backups()  # a restore's check of its backup
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0 and backup_pending() == 0, timeout=20_000)
    QApplication.processEvents()


def _fits(widget: QWidget) -> tuple[bool, str]:
    hint, minimum = widget.minimumSizeHint(), widget.minimumSize()
    width = max(hint.width(), minimum.width())
    height = max(hint.height(), minimum.height())
    fits = width <= DESK.width() and height <= DESK.height()
    return fits, f"asks for at least {width}×{height} (hint {hint.toTuple()})"


@pytest.mark.parametrize("name", sorted(OPENERS))
def test_the_dialog_fits_the_desk_screen(qtbot, desk, seeded, name):
    rows = rows_of(seeded.db)
    widget = OPENERS[name](desk, rows)
    qtbot.addWidget(widget)
    widget.show()
    _settle(qtbot)  # its data is in: long names and lists are shown
    fits, why = _fits(widget)
    assert fits, f"{name} {why}, more than {DESK.width()}×{DESK.height()}"
    widget.resize(DESK)
    assert widget.width() <= DESK.width() and widget.height() <= DESK.height()


def test_the_main_window_fits_on_every_page(qtbot, desk):
    from app.ui.main_window import MainWindow

    window = MainWindow(desk)
    qtbot.addWidget(window)
    window.resize(DESK)
    window.show()
    _settle(qtbot)
    assert window.page_titles()[-1] == "Audit log"  # the owner: every page
    for spec in window.allowed_pages():
        window.show_page(spec.key)
        _settle(qtbot)
        fits, why = _fits(window)
        assert fits, f"on {spec.title} the main window {why}"
        window.resize(DESK)
        assert window.size() == DESK, f"on {spec.title}: {window.size().toTuple()}"


def _main_window(qtbot, ctx):
    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(DESK)
    window.show()
    _settle(qtbot)
    return window


def test_every_page_shows_its_title_whole(qtbot, desk):
    from PySide6.QtWidgets import QLabel

    window = _main_window(qtbot, desk)
    for spec in window.allowed_pages():
        page = window.show_page(spec.key)
        _settle(qtbot)
        title = page.findChild(QLabel, "pageTitle")
        assert title is not None, f"{spec.title} has no title"
        assert title.isVisible() and title.text().strip(), spec.title
        assert title.width() >= title.sizeHint().width(), f"{spec.title}: title cut"


#: The lists the desk reads, as (page, tab attribute of the page or None, the table's path
#: from the page), each with the seeded clinic's rows in it.
LISTS = [
    ("confirmations", None, "table"),
    ("recalls", None, "table"),
    ("calendar", None, "waitlist.table"),
    ("patients", "queue", "queue.table"),
    ("plans", "open_plans", "open_plans.table"),
    ("plans", "unscheduled", "unscheduled.table"),
    ("plans", "payment_plans", "payment_plans.table"),
    ("plans", "today", "today.table"),
]


def _attribute(obj, path: str):
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


@pytest.mark.parametrize(("key", "tab", "path"), LISTS, ids=[f"{k}-{p}" for k, _t, p in LISTS])
def test_no_heading_or_cell_is_cut_while_space_sits_empty(qtbot, desk, key, tab, path):
    """At 1366 px every column is as wide as its heading and its widest cell (the list
    scrolls sideways if they cannot all fit), and spare room goes to a column, not to
    grey space after the last one."""
    window = _main_window(qtbot, desk)
    page = window.show_page(key)
    if tab is not None:
        page.tabs.setCurrentWidget(getattr(page, tab))
    if key == "recalls":
        # The small clinic has few patients overdue on its day: list those due within a year.
        page.due_within.setValue(page.due_within.maximum())
    table = _attribute(page, path)
    qtbot.waitUntil(lambda: table.model().rowCount() > 0, timeout=20_000)
    _settle(qtbot)
    assert table.isVisible()
    header = table.horizontalHeader()
    columns = [c for c in range(table.model().columnCount()) if not table.isColumnHidden(c)]
    for column in columns:
        title = table.model().headerData(column, header.orientation())
        width = table.columnWidth(column)
        assert width >= header.sectionSizeHint(column), f"heading {title!r} cut"
        assert width >= table.sizeHintForColumn(column), f"a cell under {title!r} cut"
    used = sum(table.columnWidth(c) for c in columns)
    assert used >= table.viewport().width(), "grey space after the last column"


def test_a_window_opens_no_larger_than_the_screen(qtbot):
    """The consent, print-preview and record windows ask for a comfortable size, but never
    more than the screen's free area (here the offscreen screen's 800×600): a 1366×768
    desk must see their buttons without dragging the window."""
    from PySide6.QtWidgets import QWidget

    from app.ui.widgets.screen_fit import resize_within_screen

    window = QWidget()
    qtbot.addWidget(window)
    room = window.screen().availableGeometry()
    resize_within_screen(window, 900, 960)
    assert window.width() <= room.width() and window.height() <= room.height()
    window.setMinimumSize(850, 100)  # a window that cannot be narrower keeps its minimum
    resize_within_screen(window, 900, 960)
    assert window.width() == 850
