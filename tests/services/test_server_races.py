"""Two PCs on one clinic server, as two real processes racing round after round: a
double booking never gets through, unrelated payments never fail, and of two edits of
one patient the second is refused naming who saved first."""

from __future__ import annotations

import multiprocessing
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from app.data.database import connect_server
from app.data.models import Appointment, Patient, WorkingHours
from app.data.server_admin import APP_ROLE
from app.services.billing.balances import patient_balance
from app.services.billing.payments import PaymentInput, PaymentMethod, record_payment
from app.services.clinic.actor import Actor
from app.services.clinic.audit_log import verify_chain
from app.services.errors import CareDeskError
from app.services.patients.records import PatientForm, create_patient, update_patient
from app.services.scheduling import booking
from app.services.scheduling.booking import AppointmentRequest
from tests.data.factories import add_patient, add_provider
from tests.pg_cluster import SERVER_APP_PASSWORD

pytestmark = [
    pytest.mark.server_only,
    pytest.mark.slow,
]

BOOKING_ROUNDS = 500
PAYMENT_ROUNDS = 500
EDIT_ROUNDS = 100
ZONE = ZoneInfo("America/New_York")
FIRST_DAY = date(2027, 3, 1)
SLOT_MINUTES = 10


# --- what each PC does in round n (module level: the spawned processes import them) ----------


def _slot(n: int):
    day = FIRST_DAY + timedelta(days=n // (24 * 60 // SLOT_MINUTES))
    minute = (n * SLOT_MINUTES) % (24 * 60)
    starts = booking.at_local(day, minute, ZONE)
    return starts, starts + timedelta(minutes=SLOT_MINUTES)


def book_the_same_slot(db, actor, n, ids) -> None:
    provider, patient = ids
    starts, ends = _slot(n)
    booking.book_appointment(
        db,
        actor,
        AppointmentRequest(
            patient_id=patient, provider_id=provider, starts_at=starts, ends_at=ends
        ),
    )


def take_a_payment(db, actor, n, patient) -> None:
    record_payment(db, actor, patient, PaymentInput(Decimal("10.00"), PaymentMethod.CASH))


def edit_the_patient(db, actor, n, patient_and_version) -> None:
    """Both PCs loaded the record as it was after round n-1 (each round one save lands);
    each saves its own change."""
    patient, first_version = patient_and_version
    form = PatientForm("Ana", f"Ruiz {actor.username} {n}")
    update_patient(db, actor, patient, first_version + n, form)


def _pc(address, actor, job, args, rounds, barrier, results) -> None:
    db = connect_server(address, SERVER_APP_PASSWORD)
    outcomes: list[str] = []
    try:
        for n in range(rounds):
            barrier.wait(120)
            try:
                job(db, actor, n, args)
                outcomes.append("saved")
            except CareDeskError as error:
                outcomes.append(f"{type(error).__name__}: {error}")
    finally:
        db.close()
        results.put((actor.username, outcomes))


def _race(clinic, desks, job, rounds) -> dict[str, list[str]]:
    """Run ``job`` round after round on two processes, each with its own connection to the
    server; ``desks`` pairs each PC's actor with its job's argument.  Each PC's outcomes."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    address = clinic.server.with_user(APP_ROLE)
    processes = [
        context.Process(target=_pc, args=(address, actor, job, arg, rounds, barrier, results))
        for actor, arg in desks
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=600) for _ in processes)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    return outcomes


@pytest.fixture
def rita_and_sam(make_staff) -> tuple[Actor, Actor]:
    return make_staff("rita", "receptionist", "Rita Reyes"), make_staff(
        "sam", "receptionist", "Sam Stone"
    )


def test_two_pcs_booking_the_same_slots_never_double_book(clinic, rita_and_sam):
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Ada Lovelace").id
        for weekday in range(7):  # open around the clock: every slot is a working one
            s.add(WorkingHours(provider_id=provider, weekday=weekday, start_minute=0,
                               end_minute=1440))  # fmt: skip
        patients = [add_patient(s).id for _ in rita_and_sam]
    desks = [
        (actor, (provider, patient)) for actor, patient in zip(rita_and_sam, patients, strict=True)
    ]
    outcomes = _race(clinic, desks, book_the_same_slot, BOOKING_ROUNDS)
    rita, sam = outcomes["rita"], outcomes["sam"]
    for n in range(BOOKING_ROUNDS):
        pair = sorted(o.split(":")[0] for o in (rita[n], sam[n]))
        assert pair == ["ConflictError", "saved"], (n, rita[n], sam[n])
    other = aliased(Appointment)
    with clinic.db.uow() as s:
        assert s.scalar(select(func.count()).select_from(Appointment)) == BOOKING_ROUNDS
        overlapping = s.scalar(
            select(func.count())
            .select_from(Appointment)
            .join(
                other,
                and_(
                    other.id > Appointment.id,
                    other.provider_id == Appointment.provider_id,
                    other.starts_at < Appointment.ends_at,
                    other.ends_at > Appointment.starts_at,
                ),
            )
        )
        assert overlapping == 0
    # A thousand writes from two PCs, and the audit trail is still one straight line.
    chain = verify_chain(clinic.db)
    assert chain.ok, chain.problems


def test_two_pcs_taking_unrelated_payments_at_once_never_fail(clinic, owner, rita_and_sam):
    patients = [
        create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id,
        create_patient(clinic.db, owner, PatientForm("Bo", "Lind")).id,
    ]
    outcomes = _race(
        clinic, list(zip(rita_and_sam, patients, strict=True)), take_a_payment, PAYMENT_ROUNDS
    )
    assert outcomes == {"rita": ["saved"] * PAYMENT_ROUNDS, "sam": ["saved"] * PAYMENT_ROUNDS}
    with clinic.db.uow() as s:
        for patient in patients:
            assert patient_balance(s, patient) == -10 * PAYMENT_ROUNDS


def test_of_two_pcs_saving_one_patient_the_second_is_refused_naming_the_first(
    clinic, owner, rita_and_sam
):
    patient = create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id
    with clinic.db.uow() as s:
        first_version = s.scalar(select(Patient.version).where(Patient.id == patient))
    desks = [(actor, (patient, first_version)) for actor in rita_and_sam]
    outcomes = _race(clinic, desks, edit_the_patient, EDIT_ROUNDS)
    for n in range(EDIT_ROUNDS):
        rita, sam = outcomes["rita"][n], outcomes["sam"][n]
        assert sorted((rita == "saved", sam == "saved")) == [False, True], (n, rita, sam)
        refused, winner = (rita, "sam") if sam == "saved" else (sam, "rita")
        assert refused.startswith(f"PatientChangedError: This patient was changed by {winner} at")
    with clinic.db.uow() as s:
        version = s.scalar(select(Patient.version).where(Patient.id == patient))
    assert version == first_version + EDIT_ROUNDS  # one save per round, none lost or doubled
