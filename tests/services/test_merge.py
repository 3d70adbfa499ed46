"""Merging two patient records: everything moves, one transaction, audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models import Base
from app.data.models.communications import CommunicationEntry
from app.data.models.payments import Charge
from app.services.clinic import audit_log
from app.services.clinic.uow import unit_of_work
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.patients import merge
from app.services.patients import records as patients
from app.services.patients import search as patient_search
from app.services.patients.records import PatientForm

pytestmark = pytest.mark.both_backends


def _add_history(clinic, owner, patient_id: int) -> None:
    with unit_of_work(clinic.db, owner) as session:
        session.add(CommunicationEntry(patient_id=patient_id, channel="call", direction="inbound"))
        session.add(
            Charge(
                patient_id=patient_id,
                service_date=date(2026, 1, 5),
                description="Cleaning",
                amount=Decimal("120.00"),
            )
        )


@pytest.fixture
def pair(clinic, owner) -> tuple[int, int]:
    keep = patients.create_patient(
        clinic.db, owner, PatientForm(first_name="Ana", last_name="Ruiz")
    )
    dup = patients.create_patient(
        clinic.db, owner, PatientForm(first_name="Anna", last_name="Ruiz", email="anna@example.com")
    )
    _add_history(clinic, owner, dup.id)
    return keep.id, dup.id


def test_every_reference_moves_and_the_duplicate_points_at_the_kept_record(
    clinic, owner, pair
) -> None:
    keep_id, dup_id = pair
    result = merge.merge_patients(clinic.db, owner, keep_id, dup_id)
    assert result.moved == {"charges": 1, "communication_entries": 1}
    with clinic.db.uow() as session:
        for table_name, column in merge.patient_references():
            if table_name == "patient_search_terms" or column == "merged_into_id":
                continue
            column_obj = Base.metadata.tables[table_name].c[column]
            left = session.scalar(select(func.count()).where(column_obj == dup_id))
            assert left == 0, table_name
    merged = patients.open_patient(clinic.db, owner, dup_id)
    assert merged.merged_into_id == keep_id
    assert not merged.is_active
    assert merged.journey_stage == "inactive"
    kept = patients.open_patient(clinic.db, owner, keep_id)
    assert kept.balance == Decimal("120.00")
    # The kept record is found by the duplicate's details no longer; the duplicate is hidden.
    assert [h.id for h in patient_search.search_patients(clinic.db, owner, "ruiz")] == [keep_id]
    rows = audit_log.list_entries(clinic.db, owner, audit_log.AuditFilter(patient_id=dup_id))
    assert any("merged into patient" in row.detail for row in rows)
    assert audit_log.verify_chain(clinic.db).ok


def test_every_table_that_refers_to_patients_is_known_to_the_merge() -> None:
    references = merge.patient_references()
    tables = {t for t, _ in references}
    assert {"appointments", "charges", "payments", "communication_entries"} <= tables


@pytest.mark.parametrize("who", ["receptionist", "provider"])
def test_only_coordinators_and_owners_merge(clinic, make_staff, pair, who) -> None:
    actor = make_staff("someone", who)
    with pytest.raises(PermissionDeniedError):
        merge.merge_patients(clinic.db, actor, *pair)


def test_a_record_is_not_merged_twice_or_into_itself(clinic, owner, pair) -> None:
    keep_id, dup_id = pair
    with pytest.raises(ValidationError):
        merge.merge_patients(clinic.db, owner, keep_id, keep_id)
    merge.merge_patients(clinic.db, owner, keep_id, dup_id)
    with pytest.raises(ValidationError):
        merge.merge_patients(clinic.db, owner, keep_id, dup_id)


def test_a_failed_merge_changes_nothing(clinic, owner, pair, monkeypatch) -> None:
    keep_id, dup_id = pair
    original = patient_search.index_patient

    def failing(session, patient):
        original(session, patient)
        raise RuntimeError("power cut")

    monkeypatch.setattr(merge, "index_patient", failing)
    with pytest.raises(RuntimeError):
        merge.merge_patients(clinic.db, owner, keep_id, dup_id)
    assert patients.open_patient(clinic.db, owner, dup_id).merged_into_id is None
    assert patients.open_patient(clinic.db, owner, dup_id).balance == Decimal("120.00")
