"""Automatic follow-ups: each rule creates its task on its day (not before, not once it is
history), once; closes it itself when its condition is met; and two PCs running the rules at
once make one task."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.data.models.communications import CommunicationEntry
from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy, InsuranceVerification, PreAuthorization
from app.data.models.patients import Patient
from app.data.models.plans import TreatmentPhase, TreatmentPlan
from app.data.models.tasks import Task
from app.services.clinic import follow_ups
from app.services.clinic.follow_ups import FollowUpSettings, refresh_follow_ups
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.patients import tasks
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

#: 10:00 in New York on Tuesday, March 10, 2026.
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)


def _at(day: date, hour_utc: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour_utc, 0, tzinfo=UTC)


def _run(clinic, owner, today: date, now: datetime | None = None):
    return refresh_follow_ups(clinic.db, owner, today=today, now=now or _at(today, 14))


def _automatic(clinic) -> list[Task]:
    with clinic.db.uow() as s:
        rows = s.scalars(select(Task).where(Task.automatic_key.is_not(None)).order_by(Task.id))
        out = rows.all()
        s.expunge_all()
        return out


# --- (a) the call after a treatment -------------------------------------------------------------


def _completed_extraction(clinic, visit_day: date, call_days: int | None = 2) -> int:
    with clinic.db.uow() as s:
        service = add_service(s, name="Extraction", follow_up_call_days=call_days)
        patient = add_patient(s)
        appt = add_appointment(
            s, patient, add_provider(s), starts_at=_at(visit_day),
            ends_at=_at(visit_day) + timedelta(minutes=30), status="completed",
            service_id=service.id,
        )  # fmt: skip
        return appt.id


@pytest.mark.parametrize(
    "today,made",
    [
        (date(2026, 3, 9), 0),  # the day after the visit: the call is due tomorrow
        (date(2026, 3, 10), 1),  # two days after: due today
        (date(2026, 4, 9), 1),  # 30 days late: still made
        (date(2026, 4, 10), 0),  # 31 days late: history, not a task
    ],
)
def test_the_call_after_a_treatment_is_made_on_its_day(clinic, owner, today, made):
    appointment_id = _completed_extraction(clinic, date(2026, 3, 8))
    assert _run(clinic, owner, today).created == made
    found = _automatic(clinic)
    assert len(found) == made
    if made:
        (task,) = found
        assert task.automatic_key == f"post_treatment_call:appointment:{appointment_id}"
        assert task.title == "Follow-up call after Extraction"
        assert task.due_on == date(2026, 3, 10) and task.kind == "follow_up"
        assert task.appointment_id == appointment_id and task.status == "open"


def test_a_service_without_a_call_makes_no_task(clinic, owner):
    _completed_extraction(clinic, date(2026, 3, 8), call_days=None)
    assert _run(clinic, owner, TODAY).created == 0


@pytest.mark.both_backends
def test_the_call_closes_itself_once_a_call_is_logged(clinic, owner):
    _completed_extraction(clinic, date(2026, 3, 8))
    assert _run(clinic, owner, TODAY) == follow_ups.FollowUpResult(created=1, closed=0)
    (task,) = _automatic(clinic)
    assert _run(clinic, owner, TODAY) == follow_ups.FollowUpResult(0, 0)  # idempotent
    with clinic.db.uow() as s:
        called = _at(date(2026, 3, 11))
        call = CommunicationEntry(patient_id=task.patient_id, channel="call",
                                  direction="outbound", occurred_at=called)  # fmt: skip
        s.add(call)
    assert _run(clinic, owner, date(2026, 3, 11)) == follow_ups.FollowUpResult(0, 1)
    (task,) = _automatic(clinic)
    assert task.status == "done" and task.completed_by_id is None
    assert task.resolution == "Closed automatically: a call was logged on Mar 11, 2026."
    # Created once: closed, it is never made again.
    assert _run(clinic, owner, date(2026, 3, 12)) == follow_ups.FollowUpResult(0, 0)


# --- (b) the consultation not converted -------------------------------------------------------


def _in_consultation(clinic, since: datetime) -> int:
    with clinic.db.uow() as s:
        return add_patient(s, journey_stage="consultation", journey_stage_since=since).id


@pytest.mark.parametrize(
    "today,made",
    [
        (date(2026, 3, 7), 0),
        (date(2026, 3, 8), 1),  # 7 days (the default) after the consultation
        (date(2026, 4, 7), 1),
        (date(2026, 4, 8), 0),
    ],
)
def test_a_consultation_not_converted_is_followed_up_after_its_days(clinic, owner, today, made):
    _in_consultation(clinic, _at(date(2026, 3, 1)))
    assert _run(clinic, owner, today).created == made


@pytest.mark.both_backends
def test_the_consultation_task_closes_when_the_patient_books(clinic, owner):
    patient_id = _in_consultation(clinic, _at(date(2026, 3, 1)))
    _run(clinic, owner, TODAY)
    (task,) = _automatic(clinic)
    assert task.kind == "treatment" and task.patient_id == patient_id
    with clinic.db.uow() as s:
        s.execute(update(Patient).where(Patient.id == patient_id)
                  .values(journey_stage="booked", journey_stage_since=_at(TODAY)))  # fmt: skip
    assert _run(clinic, owner, TODAY).closed == 1
    (task,) = _automatic(clinic)
    assert task.resolution == "Closed automatically: the patient was booked on Mar 10, 2026."


def test_the_consultation_days_follow_the_setting(clinic, owner):
    _in_consultation(clinic, _at(date(2026, 3, 1)))
    settings = follow_ups.get_follow_up_settings(clinic.db, owner)
    follow_ups.update_follow_up_settings(
        clinic.db, owner, FollowUpSettings(**{**settings.__dict__, "consult_follow_up_days": 9})
    )
    assert _run(clinic, owner, date(2026, 3, 9)).created == 0
    assert _run(clinic, owner, date(2026, 3, 10)).created == 1


# --- (c) accepted treatment not scheduled ---------------------------------------------------


def _accepted_phase(clinic, accepted: datetime) -> tuple[int, int]:
    with clinic.db.uow() as s:
        patient = add_patient(s)
        plan = TreatmentPlan(patient_id=patient.id, title="Implant #30", status="accepted",
                             decided_at=accepted)  # fmt: skip
        s.add(plan)
        s.flush()
        phase = TreatmentPhase(plan_id=plan.id, title="Surgery", status="accepted",
                               decided_at=accepted)  # fmt: skip
        s.add(phase)
        s.flush()
        return patient.id, phase.id


@pytest.mark.parametrize(
    "today,made", [(date(2026, 3, 14), 0), (date(2026, 3, 15), 1), (date(2026, 4, 15), 0)]
)
def test_accepted_treatment_not_scheduled_after_its_days(clinic, owner, today, made):
    _accepted_phase(clinic, _at(date(2026, 3, 1)))  # 14 days (the default) → Mar 15
    assert _run(clinic, owner, today).created == made


@pytest.mark.both_backends
def test_the_unscheduled_task_closes_when_the_visit_is_booked(clinic, owner):
    patient_id, phase_id = _accepted_phase(clinic, _at(date(2026, 3, 1)))
    _run(clinic, owner, date(2026, 3, 15))
    (task,) = _automatic(clinic)
    assert task.title == "Book the accepted treatment: Surgery"
    assert task.treatment_plan_id is not None
    line = tasks.clinic_tasks(clinic.db, owner, view="follow_ups", today=date(2026, 3, 15))[0]
    assert line.about == "Treatment plan: Implant #30" and line.automatic
    with clinic.db.uow() as s:
        patient = s.get(Patient, patient_id)
        add_appointment(s, patient, add_provider(s), treatment_phase_id=phase_id,
                        starts_at=_at(date(2026, 3, 20)), ends_at=_at(date(2026, 3, 20), 16),
                        created_at=_at(date(2026, 3, 16)))  # fmt: skip
    assert _run(clinic, owner, date(2026, 3, 16)).closed == 1
    (task,) = _automatic(clinic)
    assert task.resolution == "Closed automatically: the visit was booked on Mar 16, 2026."


# --- (d) insurance to verify before a visit ---------------------------------------------------


def _visit_with_policy(clinic, starts_at: datetime) -> tuple[int, int]:
    with clinic.db.uow() as s:
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        s.add(payer)
        patient = add_patient(s)
        s.flush()
        policy = InsurancePolicy(patient_id=patient.id, payer_id=payer.id, plan_name="PPO",
                                 member_id="X1")  # fmt: skip
        s.add(policy)
        appt = add_appointment(s, patient, add_provider(s), starts_at=starts_at,
                               ends_at=starts_at + timedelta(minutes=30))  # fmt: skip
        return appt.id, policy.id


@pytest.mark.parametrize("days_ahead,made", [(6, 1), (8, 0)])
def test_insurance_is_verified_before_a_visit_within_the_check_days(
    clinic, owner, days_ahead, made
):
    _visit_with_policy(clinic, NOW + timedelta(days=days_ahead))
    assert _run(clinic, owner, TODAY, NOW).created == made


@pytest.mark.both_backends
def test_the_verification_task_closes_once_verified(clinic, owner):
    appointment_id, policy_id = _visit_with_policy(clinic, NOW + timedelta(days=2))
    _run(clinic, owner, TODAY, NOW)
    (task,) = _automatic(clinic)
    assert (task.appointment_id, task.insurance_policy_id) == (appointment_id, policy_id)
    assert task.due_on == date(2026, 3, 11)  # the day before the visit
    with clinic.db.uow() as s:
        s.add(InsuranceVerification(policy_id=policy_id, verified_at=NOW, method="phone",
                                    result="active", verified_by_id=owner.staff_id))  # fmt: skip
    assert _run(clinic, owner, TODAY, NOW + timedelta(hours=1)).closed == 1
    assert _automatic(clinic)[0].resolution == (
        "Closed automatically: the insurance was verified on Mar 10, 2026."
    )


def test_the_queues_assigned_task_is_adopted_not_doubled(clinic, owner, frozen_clock):
    from app.services.patients.insurance import assign_verification

    frozen_clock(NOW)
    appointment_id, _policy = _visit_with_policy(clinic, NOW + timedelta(days=2))
    assign_verification(clinic.db, owner, appointment_id, owner.staff_id)
    assert _run(clinic, owner, TODAY, NOW).created == 0
    (task,) = _automatic(clinic)
    assert task.automatic_key == f"insurance_verification:appointment:{appointment_id}"
    assert task.assignee_id == owner.staff_id
    # And the queue's "Assign to…" then finds the rule's task rather than making another.
    assign_verification(clinic.db, owner, appointment_id, owner.staff_id)
    with clinic.db.uow() as s:
        assert len(s.scalars(select(Task)).all()) == 1


# --- (e) pre-authorizations ending --------------------------------------------------------------


@pytest.mark.parametrize("expires_in,made", [(30, 1), (31, 0), (-1, 0)])
def test_a_pre_authorization_about_to_expire(clinic, owner, expires_in, made):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        s.add(PreAuthorization(patient_id=patient.id, procedure="Crown #14", status="approved",
                               expires_on=TODAY + timedelta(days=expires_in),
                               approved_units=5, used_units=0))  # fmt: skip
    assert _run(clinic, owner, TODAY).created == made


@pytest.mark.both_backends
def test_the_pre_authorization_task_closes_when_it_is_extended(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        auth = PreAuthorization(patient_id=patient.id, procedure="Crown #14",
                                status="approved", expires_on=date(2026, 3, 20),
                                approved_units=2, used_units=0)  # fmt: skip
        s.add(auth)
        s.flush()
        auth_id = auth.id
    _run(clinic, owner, TODAY)
    (task,) = _automatic(clinic)
    assert task.title == "Crown #14: expires on Mar 20, 2026 (2 of 2 units left)"
    with clinic.db.uow() as s:
        s.execute(update(PreAuthorization).where(PreAuthorization.id == auth_id)
                  .values(expires_on=date(2026, 12, 31)))  # fmt: skip
    assert _run(clinic, owner, TODAY) == follow_ups.FollowUpResult(0, 1)
    assert "Dec 31, 2026" in _automatic(clinic)[0].resolution


# --- all rules together -----------------------------------------------------------------------


@pytest.mark.both_backends
def test_a_second_run_creates_nothing_and_the_run_is_audited_once(clinic, owner):
    from app.data.models.audit import AuditEntry

    _completed_extraction(clinic, date(2026, 3, 8))
    _in_consultation(clinic, _at(date(2026, 3, 1)))
    with clinic.db.uow() as s:
        before = len(s.scalars(select(AuditEntry.id)).all())
    assert _run(clinic, owner, TODAY).created == 2
    with clinic.db.uow() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.id > before)).all()
        details = [e.detail for e in entries if e.entity == "tasks"]
    assert details == ["Automatic follow-ups: 2 created, 0 closed"]
    assert _run(clinic, owner, TODAY) == follow_ups.FollowUpResult(0, 0)
    assert len(_automatic(clinic)) == 2


def test_a_task_made_meanwhile_elsewhere_is_not_made_again(clinic, owner, monkeypatch):
    """The other PC inserted the task between this run's look and its insert: the unique
    key refuses the second insert, and the run goes on with the other rules."""
    _completed_extraction(clinic, date(2026, 3, 8))
    _in_consultation(clinic, _at(date(2026, 3, 1)))
    assert _run(clinic, owner, TODAY).created == 2
    monkeypatch.setattr(follow_ups, "_taken_keys", lambda session, keys: set())
    assert _run(clinic, owner, TODAY).created == 0
    assert len(_automatic(clinic)) == 2


@pytest.mark.both_backends
def test_two_pcs_running_the_rules_at_once_make_one_task(clinic, owner):
    from tests.data.factories import another_workstation

    _completed_extraction(clinic, date(2026, 3, 8))
    other = another_workstation(clinic)
    results, errors = [], []
    start = threading.Barrier(2)

    def run(db) -> None:
        start.wait()
        try:
            results.append(refresh_follow_ups(db, owner, today=TODAY, now=NOW))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in (clinic.db, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.close()
    assert errors == []
    assert sorted(r.created for r in results) == [0, 1]
    assert len(_automatic(clinic)) == 1


# --- the settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,field",
    [
        ({"consult_follow_up_days": 0}, "consult_follow_up_days"),
        ({"unscheduled_treatment_days": 366}, "unscheduled_treatment_days"),
        ({"referral_booking_days": "7"}, "referral_booking_days"),
        ({"referral_report_days": True}, "referral_report_days"),
        ({"referral_visit_days_urgent": 20}, "referral_visit_days_urgent"),
        ({"referral_visit_days_soon": 40}, "referral_visit_days_soon"),
    ],
)
def test_bad_follow_up_settings_are_refused_and_nothing_saved(clinic, owner, change, field):
    before = follow_ups.get_follow_up_settings(clinic.db, owner)
    with pytest.raises(ValidationError) as raised:
        follow_ups.update_follow_up_settings(
            clinic.db, owner, FollowUpSettings(**{**before.__dict__, **change})
        )
    assert raised.value.field == field and str(raised.value)
    assert follow_ups.get_follow_up_settings(clinic.db, owner) == before


def test_follow_up_settings_round_trip_and_refuse_a_stale_copy(clinic, owner, make_staff):
    before = follow_ups.get_follow_up_settings(clinic.db, owner)
    assert (before.consult_follow_up_days, before.referral_visit_days_urgent) == (7, 3)
    saved = follow_ups.update_follow_up_settings(
        clinic.db, owner, FollowUpSettings(**{**before.__dict__, "referral_report_days": 21})
    )
    assert saved.referral_report_days == 21
    with pytest.raises(ConcurrentEditError):
        follow_ups.update_follow_up_settings(clinic.db, owner, before)
    desk = make_staff("desk", "receptionist")
    with pytest.raises(PermissionDeniedError):
        follow_ups.update_follow_up_settings(clinic.db, desk, saved)
