"""The patient journey: events move it forward only; staff override with reasons."""

from __future__ import annotations

import pytest

from app.services.clinic.uow import unit_of_work
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.patients import journey, merge
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


@pytest.fixture
def three(clinic, owner) -> dict[str, int]:
    """Three inquiries: Ruiz, Lee and Okafor."""
    return {
        last: patients.create_patient(
            clinic.db, owner, PatientForm(first_name=first, last_name=last)
        ).id
        for first, last in (("Ana", "Ruiz"), ("Bo", "Lee"), ("Chi", "Okafor"))
    }


def _board_versions(clinic, owner, *ids: int) -> dict[int, int]:
    cards = {c.patient_id: c for cs in journey.pipeline(clinic.db, owner).values() for c in cs}
    return {pid: cards[pid].version for pid in ids}


def _stages(clinic, owner, ids) -> list[str]:
    return [patients.open_patient(clinic.db, owner, pid).journey_stage for pid in ids]


def test_several_patients_move_together_with_the_reason(clinic, owner, three) -> None:
    ids = [three["Ruiz"], three["Lee"]]
    seen = _board_versions(clinic, owner, *ids)
    moved = journey.set_journey_stages(clinic.db, owner, seen, "lost", " Chose  another clinic ")
    assert moved == ids
    for pid in ids:
        record = patients.open_patient(clinic.db, owner, pid)
        assert (record.journey_stage, record.journey_reason) == ("lost", "Chose another clinic")
    assert _stages(clinic, owner, [three["Okafor"]]) == ["inquiry"]


def test_one_stale_card_moves_nobody_and_names_the_patient(clinic, owner, three) -> None:
    ids = [three["Ruiz"], three["Lee"]]
    seen = _board_versions(clinic, owner, *ids)
    # Someone else moves Lee after the board was read.
    journey.set_journey_stage(clinic.db, owner, three["Lee"], "booked")
    with pytest.raises(ConcurrentEditError, match="The record of Lee, Bo was changed"):
        journey.set_journey_stages(clinic.db, owner, seen, "consultation")
    assert _stages(clinic, owner, ids) == ["inquiry", "booked"]


def test_a_merged_record_in_the_batch_moves_nobody(clinic, owner, three) -> None:
    ids = [three["Ruiz"], three["Lee"]]
    merge.merge_patients(clinic.db, owner, three["Okafor"], three["Lee"])
    seen = _board_versions(clinic, owner, three["Ruiz"]) | {
        three["Lee"]: patients.open_patient(clinic.db, owner, three["Lee"]).version
    }
    with pytest.raises(ValidationError, match="The record of Lee, Bo was merged"):
        journey.set_journey_stages(clinic.db, owner, seen, "consultation")
    assert _stages(clinic, owner, ids) == ["inquiry", "inactive"]


def test_moving_several_needs_the_right_to_change_records_and_a_reason(
    clinic, owner, make_staff, three
) -> None:
    seen = _board_versions(clinic, owner, three["Ruiz"])
    with pytest.raises(PermissionDeniedError):
        journey.set_journey_stages(clinic.db, make_staff("hana", "provider"), seen, "booked")
    with pytest.raises(ValidationError):
        journey.set_journey_stages(clinic.db, owner, seen, "inactive", "  ")
    assert _stages(clinic, owner, [three["Ruiz"]]) == ["inquiry"]
