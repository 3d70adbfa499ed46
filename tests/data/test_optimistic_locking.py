"""Two workstations editing the same patient: the second stale save is refused."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app.data.database import Database
from app.data.models import Patient
from tests.data.factories import add_patient


def test_second_save_of_a_stale_copy_raises_stale_data(migrated_db: Database) -> None:
    with migrated_db.uow() as s:
        patient_id = add_patient(s, first_name="Lucia").id

    # Each window loads its own copy in its own unit of work.
    with migrated_db.uow() as s:
        at_front_desk = s.get(Patient, patient_id)
    with migrated_db.uow() as s:
        at_coordinator = s.get(Patient, patient_id)
    assert at_front_desk.version == at_coordinator.version == 1

    at_front_desk.mobile_phone = "+15552013344"
    with migrated_db.uow() as s:
        s.add(at_front_desk)
    assert at_front_desk.version == 2

    at_coordinator.mobile_phone = "+15559990000"
    with pytest.raises(StaleDataError), migrated_db.uow() as s:
        s.add(at_coordinator)

    with migrated_db.uow() as s:
        saved = s.get(Patient, patient_id)
        assert (saved.mobile_phone, saved.version) == ("+15552013344", 2)


def test_a_fresh_copy_saves_after_reload(migrated_db: Database) -> None:
    with migrated_db.uow() as s:
        patient_id = add_patient(s).id
    for phone in ("+15550000001", "+15550000002"):
        with migrated_db.uow() as s:
            s.get(Patient, patient_id).mobile_phone = phone
    with migrated_db.uow() as s:
        assert s.get(Patient, patient_id).version == 3


def test_overlapping_transactions_never_lose_an_update(migrated_db: Database) -> None:
    """On SQLite a unit of work that read before another committed cannot write at all
    (SQLITE_BUSY_SNAPSHOT, "database is locked"); callers treat it as a conflict too."""
    with migrated_db.uow() as s:
        patient_id = add_patient(s, first_name="Lucia").id

    with pytest.raises(OperationalError, match="locked"), migrated_db.uow() as first:
        stale = first.get(Patient, patient_id)
        with migrated_db.uow() as second:
            second.get(Patient, patient_id).first_name = "Lucía"
        stale.first_name = "Lucy"
        first.flush()

    with migrated_db.uow() as s:
        assert s.get(Patient, patient_id).first_name == "Lucía"
