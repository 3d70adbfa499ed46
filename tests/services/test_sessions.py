"""Every action is checked against the account as it is now, not as it was at sign-in: a
session whose account changed — on this PC or another — does nothing more (and nothing of
the refused action is saved); an Actor made up by hand is refused the same way."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models import Payment
from app.data.models.staff import Role
from app.services.billing.payments import PaymentInput, PaymentMethod, record_payment
from app.services.clinic import auth, staff
from app.services.clinic.actor import Actor
from app.services.clinic.sessions import SessionEndedError
from app.services.patients import notes
from app.services.patients.records import PatientForm, create_patient, open_patient
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.both_backends

CASH = PaymentInput(Decimal("20.00"), PaymentMethod.CASH)


@pytest.fixture
def patient(clinic, owner) -> int:
    return create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id


def _payments(db) -> int:
    with db.uow() as session:
        return session.scalar(select(func.count()).select_from(Payment))


def test_a_deactivated_receptionist_can_take_no_more_payments(clinic, owner, make_staff, patient):
    rita = make_staff("rita", Role.RECEPTIONIST, "Rita Reyes")
    record_payment(clinic.db, rita, patient, CASH)
    staff.set_active(clinic.db, owner, rita.staff_id, False)  # (on any PC)
    with pytest.raises(SessionEndedError, match="Your account was deactivated"):
        record_payment(clinic.db, rita, patient, CASH)
    with pytest.raises(SessionEndedError):
        open_patient(clinic.db, rita, patient)
    assert _payments(clinic.db) == 1  # nothing of the refused payment was saved


def test_a_demoted_coordinator_can_read_no_more_note_text(clinic, owner, make_staff, patient):
    cora = make_staff("cora", Role.COORDINATOR, "Cora Coordinator")
    note = notes.start_note(clinic.db, cora, patient, None)
    staff.update_staff(clinic.db, owner, cora.staff_id, full_name="Cora Coordinator",
                       role=Role.RECEPTIONIST, may_break_glass=False)  # fmt: skip
    with pytest.raises(SessionEndedError, match="you are now a receptionist"):
        notes.open_note(clinic.db, cora, note.summary.id)


def test_an_emergency_grant_withdrawn_mid_session_ends_it(clinic, owner, make_staff, patient):
    staff_row = staff.create_staff(clinic.db, owner, "pat", "Pat Provider", Role.PROVIDER,
                                   STAFF_PASSWORD)  # fmt: skip
    staff.update_staff(clinic.db, owner, staff_row.id, full_name="Pat Provider",
                       role=Role.PROVIDER, may_break_glass=True)  # fmt: skip
    pat = auth.login(clinic.db, "pat", STAFF_PASSWORD)
    pat = auth.start_emergency_access(clinic.db, pat, "Patient collapsed in the waiting room")
    open_patient(clinic.db, pat, patient)
    staff.update_staff(clinic.db, owner, staff_row.id, full_name="Pat Provider",
                       role=Role.PROVIDER, may_break_glass=False)  # fmt: skip
    with pytest.raises(SessionEndedError, match="emergency access was withdrawn"):
        open_patient(clinic.db, pat, patient)


def test_an_account_locked_by_wrong_passwords_elsewhere_stops_acting(clinic, make_staff, patient):
    rita = make_staff("rita", Role.RECEPTIONIST, "Rita Reyes")
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(Exception):  # noqa: B017  (refused, then locked)
            auth.login(clinic.db, "rita", "not her password")
    with pytest.raises(SessionEndedError, match="locked after too many wrong passwords"):
        record_payment(clinic.db, rita, patient, CASH)


@pytest.mark.parametrize(
    "forge",
    [
        lambda rita: replace(rita, role=Role.OWNER),  # a receptionist made owner by hand
        lambda rita: replace(rita, staff_id=9999),  # nobody of this clinic
        lambda rita: Actor(1, "mallory", "Mallory", Role.OWNER),  # the owner's id, not name
    ],
    ids=["role-raised", "unknown-id", "borrowed-id"],
)
def test_an_actor_made_up_by_hand_is_refused(clinic, make_staff, patient, forge):
    rita = make_staff("rita", Role.RECEPTIONIST, "Rita Reyes")
    with pytest.raises(SessionEndedError):
        record_payment(clinic.db, forge(rita), patient, CASH)
    assert _payments(clinic.db) == 0


def test_an_unchanged_account_goes_on_and_a_new_sign_in_takes_the_new_role(
    clinic, owner, make_staff, patient
):
    rita = make_staff("rita", Role.RECEPTIONIST, "Rita Reyes")
    staff.update_staff(clinic.db, owner, rita.staff_id, full_name="Rita R.",
                       role=Role.RECEPTIONIST, may_break_glass=False)  # fmt: skip
    record_payment(clinic.db, rita, patient, CASH)  # a new name is no reason to stop
    staff.update_staff(clinic.db, owner, rita.staff_id, full_name="Rita R.",
                       role=Role.COORDINATOR, may_break_glass=False)  # fmt: skip
    again = auth.login(clinic.db, "rita", STAFF_PASSWORD)
    assert again.role == Role.COORDINATOR
    record_payment(clinic.db, again, patient, CASH)
    assert _payments(clinic.db) == 2


def _reads(db, patient):
    """One of each kind of pure read a record window, the calendar and the lists make."""
    from datetime import date

    from app.services.billing import balances, treatment_plans
    from app.services.patients import communications, documents, insurance, records, search
    from app.services.patients import tasks as patient_tasks
    from app.services.scheduling import appointment_book, confirmations, recalls

    day = date(2026, 3, 2)
    return {
        "search": lambda a: search.search_patients(db, a, "Ruiz"),
        "record header": lambda a: records.patient_header(db, a, patient),
        "appointment history": lambda a: records.appointment_history(db, a, patient),
        "balance": lambda a: balances.patient_balance_for(db, a, patient),
        "documents": lambda a: documents.list_documents(db, a, patient),
        "insurance": lambda a: insurance.list_policies(db, a, patient),
        "notes list": lambda a: notes.list_notes(db, a, patient),
        "contacts": lambda a: communications.list_contacts(db, a, patient),
        "tasks": lambda a: patient_tasks.list_tasks(db, a, patient_id=patient),
        "plans": lambda a: treatment_plans.list_plans(db, a, patient),
        "schedule": lambda a: appointment_book.load_schedule(db, a, day, 1),
        "confirmations": lambda a: confirmations.confirmation_list(db, a, day),
        "recalls": lambda a: recalls.recall_list(db, a, as_of=day),
    }


READS = list(_reads(None, 0))


@pytest.mark.parametrize("read", READS)
def test_a_deactivated_account_reads_nothing_more(clinic, owner, make_staff, patient, read):
    """Reads are re-checked like writes: the record header, lists and the calendar of a
    session whose account was deactivated (on any PC) answer with the lock's reason."""
    cora = make_staff("cora", Role.COORDINATOR, "Cora Coordinator")
    do = _reads(clinic.db, patient)[read]
    do(cora)  # allowed while the account is as it signed in
    staff.set_active(clinic.db, owner, cora.staff_id, False)
    with pytest.raises(SessionEndedError, match="Your account was deactivated"):
        do(cora)
