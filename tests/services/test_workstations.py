"""Several workstations writing to one clinic file at once: only real conflicts are reported.

Each "workstation" is its own connection pool on the same file (as two CareDesk processes
would be); their writes start together at a barrier, round after round."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data import database
from app.data.models.patients import Patient
from app.services.billing.balances import patient_balance
from app.services.billing.payments import PaymentInput, PaymentMethod, record_payment
from app.services.clinic import uow
from app.services.errors import DatabaseBusyError
from app.services.patients import notes
from app.services.patients.notes import NoteFields
from app.services.patients.records import PatientForm, create_patient, open_patient
from tests.data.factories import another_workstation

pytestmark = pytest.mark.both_backends

ROUNDS = 40


def _race(first: Callable[[int], object], second: Callable[[int], object]) -> list[BaseException]:
    """Run ``first(n)`` and ``second(n)`` side by side for every round; the failures."""
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def workstation(write: Callable[[int], object]) -> None:
        for n in range(ROUNDS):
            barrier.wait(30)
            try:
                write(n)
            except Exception as exc:
                failures.append(exc)

    threads = [threading.Thread(target=workstation, args=(w,)) for w in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return failures


def test_unrelated_writes_from_two_workstations_never_fail(clinic, owner):
    """Two desks adding different patients at the same moment: nothing is in conflict, so
    nothing may fail (a deferred transaction that read first used to be refused as
    "changed on another workstation" when the other desk committed in between)."""
    other_desk = another_workstation(clinic)
    try:
        failures = _race(
            lambda n: create_patient(clinic.db, owner, PatientForm("Ana", f"Front{n:03}")),
            lambda n: create_patient(other_desk, owner, PatientForm("Bo", f"Back{n:03}")),
        )
    finally:
        other_desk.close()
    assert failures == []
    with clinic.db.uow() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 2 * ROUNDS


def test_a_write_waits_its_turn_behind_another_workstations_long_write(clinic, owner, monkeypatch):
    """SQLite's own wait ran out (50 ms here), the unit of work backs off and tries again,
    and the write goes through once the other desk is done."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(uow, "BUSY_BACKOFF_SECONDS", (0.2, 0.5, 1, 2, 4))  # ≥ 0.3 s, for slow days
    desk, other_desk = another_workstation(clinic), another_workstation(clinic)
    try:
        holding = other_desk.uow(write=True)
        holding.__enter__()
        threading.Timer(0.3, holding.__exit__, args=(None, None, None)).start()
        record = create_patient(desk, owner, PatientForm("Ana", "Patient"))
        assert record.id
    finally:
        desk.close()
        other_desk.close()


def test_a_write_that_cannot_get_its_turn_says_so_and_changes_nothing(clinic, owner, monkeypatch):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(uow, "BUSY_BACKOFF_SECONDS", (0.01, 0.01))
    desk, other_desk = another_workstation(clinic), another_workstation(clinic)
    try:
        with (
            other_desk.uow(write=True),
            pytest.raises(DatabaseBusyError, match="busy with another workstation"),
        ):
            create_patient(desk, owner, PatientForm("Ana", "Patient"))
        with desk.uow() as session:
            assert session.scalar(select(func.count()).select_from(Patient)) == 0
    finally:
        desk.close()
        other_desk.close()


def test_opening_a_record_while_another_desk_autosaves_a_note_never_fails(
    clinic, owner, make_staff
):
    """The probe: 5 % of record openings (82 % without pacing) failed while a note
    autosaved elsewhere — opening a record writes its audit entry."""
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    patient = create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz"))
    note = notes.start_note(clinic.db, coordinator, patient.id, None)
    other_desk = another_workstation(clinic)
    try:
        failures = _race(
            lambda n: open_patient(clinic.db, owner, patient.id),
            lambda n: notes.save_draft(
                other_desk, coordinator, note.summary.id, NoteFields(reason=f"Draft {n}")
            ),
        )
    finally:
        other_desk.close()
    assert failures == []
    assert notes.open_note(clinic.db, coordinator, note.summary.id).fields.reason == (
        f"Draft {ROUNDS - 1}"
    )


def test_payments_for_different_patients_taken_at_the_same_moment_never_fail(clinic, owner):
    """The probe: 298 of 400 unrelated concurrent payments failed as "changed on another
    workstation"."""
    ana = create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id
    bo = create_patient(clinic.db, owner, PatientForm("Bo", "Lind")).id
    other_desk = another_workstation(clinic)
    cash = PaymentInput(Decimal("10.00"), PaymentMethod.CASH)
    try:
        failures = _race(
            lambda n: record_payment(clinic.db, owner, ana, cash),
            lambda n: record_payment(other_desk, owner, bo, cash),
        )
    finally:
        other_desk.close()
    assert failures == []
    with clinic.db.uow() as session:
        assert patient_balance(session, ana) == patient_balance(session, bo) == -10 * ROUNDS
