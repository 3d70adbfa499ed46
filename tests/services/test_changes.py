"""Each write carries its changes: the unit of work collects them when it commits."""

from __future__ import annotations

import threading
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.data.models import Base
from app.data.models.providers import WorkingHours
from app.data.models.staff import Role
from app.data.models.tasks import Task
from app.services.billing.plan_settings import (
    get_payment_plan_settings,
    update_payment_plan_settings,
)
from app.services.changes import (
    COLUMN_FLAGS,
    TABLE_FLAGS,
    Changes,
    changes_of_writes,
    collect_changes,
)
from app.services.clinic import staff
from app.services.clinic.clinics import get_details, update_details
from app.services.clinic.uow import unit_of_work
from app.services.errors import ValidationError
from app.services.patients import records as patients
from app.services.patients.communications import ContactEntry, log_contact
from app.services.scheduling import appointment_status as st
from app.services.scheduling import booking
from app.services.scheduling.appointment_status import (
    get_scheduling_settings,
    update_scheduling_settings,
)
from tests.conftest import STAFF_PASSWORD
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

FLAGS = {f.name for f in fields(Changes)}


def test_every_table_of_the_schema_has_exactly_one_known_flag():
    """A new table without a flag would change data no open view ever hears about."""
    assert set(TABLE_FLAGS) == set(Base.metadata.tables)
    assert set(TABLE_FLAGS.values()) <= FLAGS
    for table, column in COLUMN_FLAGS:
        assert column in Base.metadata.tables[table].c
    assert set(COLUMN_FLAGS.values()) <= FLAGS


def test_an_unknown_table_is_an_error_not_a_silent_change():
    with pytest.raises(KeyError):
        changes_of_writes(["a_table_nobody_mapped"])


def _flags(changes: Changes) -> set[str]:
    return {name for name in FLAGS if getattr(changes, name)}


def _visit(db, status: str = "in_treatment") -> tuple[int, int]:
    """A visit for a service with a fee, the patient seated: (id, version)."""
    with db.uow() as s:
        patient, provider = add_patient(s), add_provider(s)
        service = add_service(s)
        starts = datetime.now(UTC) - timedelta(minutes=40)
        visit = add_appointment(
            s, patient, provider, service_id=service.id, status=status,
            starts_at=starts, ends_at=starts + timedelta(minutes=30), arrived_at=starts,
        )  # fmt: skip
        return visit.id, visit.version


def test_a_write_collects_the_flags_of_the_tables_it_wrote(clinic, owner, patient_id):
    entry = ContactEntry(
        channel="call", direction="outbound", summary="Confirmed Tuesday.",
        follow_up_needed=False, occurred_at=datetime.now(UTC),
    )  # fmt: skip
    with collect_changes() as collected:
        log_contact(clinic.db, owner, patient_id, entry)
    # The contact log belongs to the patient views; every write leaves an audit row.
    assert collected.changes == Changes(patients=True, audit=True)
    assert [db for db, _changes in collected.committed] == [clinic.db]


def test_completing_a_visit_with_a_fee_collects_payments(clinic, owner):
    visit_id, version = _visit(clinic.db)
    with collect_changes() as collected:
        result = st.change_status(clinic.db, owner, visit_id, version, "completed")
    assert result.charged > 0
    assert {"appointments", "payments", "audit"} <= _flags(collected.changes)


def test_a_read_that_audits_collects_only_the_audit(clinic, owner, patient_id):
    with collect_changes() as collected:
        patients.open_patient(clinic.db, owner, patient_id)
    assert collected.changes == Changes(audit=True)


def test_a_plain_read_collects_nothing(clinic, owner, patient_id):
    with collect_changes() as collected:
        patients.patient_header(clinic.db, owner, patient_id)
    assert collected.committed == []


def test_booking_takes_the_clinic_row_lock_without_flagging_the_clinic(clinic, owner):
    with clinic.db.uow() as s:
        provider, patient = add_provider(s), add_patient(s)
        for weekday in range(7):
            s.add(WorkingHours(provider_id=provider.id, weekday=weekday,
                               start_minute=0, end_minute=1440))  # fmt: skip
        provider_id, patient_id = provider.id, patient.id
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    request = booking.AppointmentRequest(
        patient_id=patient_id, provider_id=provider_id,
        starts_at=starts, ends_at=starts + timedelta(minutes=30),
    )  # fmt: skip
    with collect_changes() as collected:
        booking.book_appointment(clinic.db, owner, request, double_book=True)
    assert collected.changes.appointments and not collected.changes.clinic


@pytest.mark.parametrize(
    ("save", "shown_by"),
    [
        (
            lambda db, actor: update_scheduling_settings(
                db, actor, replace(get_scheduling_settings(db, actor), late_cancel_hours=48)
            ),
            "appointments",
        ),
        (
            lambda db, actor: update_payment_plan_settings(
                db, actor, replace(get_payment_plan_settings(db, actor), max_apr_basis_points=900)
            ),
            "plans",
        ),
    ],
    ids=["scheduling", "payment plans"],
)
def test_settings_tell_the_views_that_show_them(clinic, owner, save, shown_by):
    with collect_changes() as collected:
        save(clinic.db, owner)
    assert collected.changes == Changes(clinic=True, audit=True, **{shown_by: True})


def test_the_clinic_details_are_only_the_clinic(clinic, owner):
    details = get_details(clinic.db)
    with collect_changes() as collected:
        update_details(clinic.db, owner, replace(details, phone="(207) 555-0199"))
    assert collected.changes == Changes(clinic=True, audit=True)


def test_a_rolled_back_write_collects_nothing(clinic, owner, patient_id):
    with (
        collect_changes() as collected,
        pytest.raises(RuntimeError),
        unit_of_work(clinic.db, owner) as session,
    ):
        session.add(Task(title="Call back", patient_id=patient_id))
        session.flush()  # written and audited inside the transaction…
        raise RuntimeError("…then it rolls back")
    assert collected.committed == []
    with clinic.db.uow() as s:
        assert s.scalars(select(Task)).all() == []


def test_only_committed_units_count_when_a_later_one_fails(clinic, owner, patient_id):
    """A function that commits, then fails, still changed what it committed."""
    with collect_changes() as collected:
        patients.open_patient(clinic.db, owner, patient_id)
        with pytest.raises(ValidationError):
            staff.create_staff(clinic.db, owner, "", "", Role.RECEPTIONIST, STAFF_PASSWORD)
    assert collected.changes == Changes(audit=True)


def test_nested_collectors_each_see_their_own_block(clinic, owner, patient_id):
    with collect_changes() as outer:
        patients.open_patient(clinic.db, owner, patient_id)
        with collect_changes() as inner:
            staff.create_staff(clinic.db, owner, "rita", "Rita", Role.RECEPTIONIST, STAFF_PASSWORD)
        assert inner.changes == Changes(staff=True, audit=True)
    assert outer.changes == Changes(staff=True, audit=True)
    with collect_changes() as after:
        pass
    assert after.committed == []


def test_a_write_on_another_thread_is_not_collected_here(clinic, owner, patient_id):
    on_the_thread: list[Changes] = []

    def elsewhere() -> None:
        with collect_changes() as mine:
            staff.create_staff(clinic.db, owner, "rita", "Rita", Role.RECEPTIONIST, STAFF_PASSWORD)
        on_the_thread.append(mine.changes)

    with collect_changes() as here:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        patients.open_patient(clinic.db, owner, patient_id)
    assert on_the_thread == [Changes(staff=True, audit=True)]
    assert here.changes == Changes(audit=True)
