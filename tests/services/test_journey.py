"""The patient journey: events move it forward only; staff override with reasons."""

from __future__ import annotations

import pytest

from app.services.clinic.uow import unit_of_work
from app.services.errors import ValidationError
from app.services.patients import journey
from app.services.patients import records as patients
from app.services.patients.records import PatientForm


@pytest.fixture
def patient_id(clinic, owner) -> int:
    form = PatientForm(first_name="Ana", last_name="Ruiz")
    return patients.create_patient(clinic.db, owner, form).id


def _event(clinic, owner, patient_id, event) -> str:
    with unit_of_work(clinic.db, owner) as session:
        journey.advance_journey(session, patient_id, event)
    return patients.open_patient(clinic.db, owner, patient_id).journey_stage


def test_events_move_forward_and_never_back(clinic, owner, patient_id) -> None:
    steps = [
        ("consultation_note", "consultation"),
        ("booked", "booked"),
        ("consultation_note", "booked"),
        ("treatment_started", "in_treatment"),
        ("booked", "in_treatment"),
        ("treatment_completed", "follow_up"),
    ]
    for event, expected in steps:
        assert _event(clinic, owner, patient_id, event) == expected, event


@pytest.mark.parametrize("stage", ["lost", "inactive"])
def test_events_never_revive_lost_or_inactive_patients(clinic, owner, patient_id, stage) -> None:
    journey.set_journey_stage(clinic.db, owner, patient_id, stage, "Chose another clinic")
    assert _event(clinic, owner, patient_id, "booked") == stage


def test_lost_and_inactive_need_a_reason(clinic, owner, patient_id) -> None:
    for stage in ("lost", "inactive"):
        with pytest.raises(ValidationError):
            journey.set_journey_stage(clinic.db, owner, patient_id, stage, "  ")
    with pytest.raises(ValidationError):
        journey.set_journey_stage(clinic.db, owner, patient_id, "prospect")


def test_staff_override_records_stage_reason_and_since(clinic, owner, patient_id) -> None:
    before = patients.open_patient(clinic.db, owner, patient_id)
    lost = journey.set_journey_stage(clinic.db, owner, patient_id, "lost", "Price")
    assert (lost.journey_stage, lost.journey_reason, lost.is_active) == ("lost", "Price", True)
    assert lost.journey_stage_since >= before.journey_stage_since
    back = journey.set_journey_stage(clinic.db, owner, patient_id, "booked", "ignored")
    assert (back.journey_stage, back.journey_reason) == ("booked", "")
    inactive = journey.set_journey_stage(clinic.db, owner, patient_id, "inactive", "Moved")
    assert not inactive.is_active


def test_unknown_events_are_a_programming_error(clinic, owner, patient_id) -> None:
    with pytest.raises(ValueError):
        _event(clinic, owner, patient_id, "teleported")


def test_pipeline_has_every_stage_and_filters_by_lead_source(clinic, owner, patient_id) -> None:
    other = patients.create_patient(
        clinic.db, owner, PatientForm(first_name="Bo", last_name="Lee", lead_source="Instagram")
    )
    journey.set_journey_stage(clinic.db, owner, other.id, "lost", "Price")
    board = journey.pipeline(clinic.db, owner)
    assert list(board) == [
        "inquiry",
        "consultation",
        "booked",
        "in_treatment",
        "follow_up",
        "inactive",
        "lost",
    ]
    (card,) = board["inquiry"]
    assert (card.patient_id, card.name, card.days_in_stage) == (patient_id, "Ruiz, Ana", 0)
    assert card.next_step == "Book a consultation"
    assert card.open_plan_value == 0
    (lost,) = board["lost"]
    assert (lost.patient_id, lost.next_step, lost.lead_source) == (other.id, "Price", "Instagram")
    filtered = journey.pipeline(clinic.db, owner, lead_source="Instagram")
    assert [c.patient_id for cards in filtered.values() for c in cards] == [other.id]
    assert patients.lead_sources(clinic.db, owner) == ["Instagram"]


def test_pipeline_counts_every_patient_of_a_stage_not_only_those_shown(
    clinic, owner, patient_id
) -> None:
    for n in range(3):
        patients.create_patient(
            clinic.db, owner, PatientForm(first_name=f"P{n}", last_name="Lee", lead_source="Web")
        )
    shown = journey.pipeline(clinic.db, owner, limit_per_stage=2)
    assert len(shown["inquiry"]) == 2
    counts = journey.pipeline_counts(clinic.db, owner)
    assert counts["inquiry"] == 4 and counts["lost"] == 0
    assert list(counts) == list(shown)
    assert journey.pipeline_counts(clinic.db, owner, lead_source="Web")["inquiry"] == 3
