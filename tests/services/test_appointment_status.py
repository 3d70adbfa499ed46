"""The appointment status flow: the transition table, history, fees, counts and settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.data.models.appointments import Appointment, AppointmentStatusChange
from app.data.models.audit import AuditEntry
from app.data.models.documents import ConsentTemplate, ConsentVersion
from app.data.models.patients import Patient
from app.data.models.payments import Charge
from app.data.models.providers import Provider, ServiceRequiredConsent
from app.i18n import format_time
from app.services.billing.balances import patient_balance
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.scheduling import appointment_book
from app.services.scheduling import appointment_status as st
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

pytestmark = pytest.mark.both_backends

#: 10:00 in Portland, Maine (the test clinic's zone) on Mon, Mar 2, 2026.
STARTS = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DURING = STARTS + timedelta(minutes=5)
ALL = [s.value for s in st.S]

#: Written out by hand, apart from the module's table: what the desk may do from each status.
EXPECTED = {
    "scheduled": {"confirmed", "arrived", "cancelled", "no_show"},
    "confirmed": {"arrived", "cancelled", "no_show", "scheduled"},
    "arrived": {"in_treatment", "completed", "confirmed", "scheduled"},
    "in_treatment": {"completed", "arrived"},
    "no_show": {"arrived", "scheduled"},
    "completed": set(),
    "cancelled": set(),
}


@pytest.fixture
def desk(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


@pytest.fixture
def booked(clinic):
    """One scheduled appointment (Mar 2, 10:00–10:30 local) for Ana Ruiz with a service."""
    with clinic.db.uow() as session:
        patient = add_patient(
            session, first_name="Ana", last_name="Ruiz", mobile_phone="+12075550188"
        )
        provider = add_provider(session, name="Daniel Okafor")
        service = add_service(session, name="Composite filling")
        appointment = add_appointment(session, patient, provider, service_id=service.id)
        return appointment.id


def _appointment(db, appointment_id: int) -> Appointment:
    with db.uow() as session:
        a = session.get(Appointment, appointment_id)
        session.expunge(a)
        return a


def _put(db, appointment_id: int, status: str) -> int:
    """Put the appointment straight into ``status`` (set-up only); returns its version."""
    with db.uow() as session:
        a = session.get(Appointment, appointment_id)
        a.status = status
        if status in ("arrived", "in_treatment"):
            a.arrived_at = STARTS
        session.flush()
        return a.version


def _charge_fees(db, owner, *, no_show="25.00", late="35.00", on=True) -> None:
    current = st.get_scheduling_settings(db, owner)
    st.update_scheduling_settings(
        db,
        owner,
        replace(
            current, charge_fees=on, no_show_fee=Decimal(no_show), late_cancel_fee=Decimal(late)
        ),
    )


# --- the table -----------------------------------------------------------------------------


@pytest.mark.parametrize(("from_status", "to_status"), list(product(ALL, ALL)))
def test_transition_table(from_status, to_status):
    if to_status in EXPECTED[from_status]:
        st.check_transition(from_status, to_status)
    else:
        with pytest.raises(ValidationError):
            st.check_transition(from_status, to_status)


@pytest.mark.parametrize(
    ("from_status", "to_status", "message"),
    [
        ("completed", "no_show", "A completed appointment cannot be marked as a no-show."),
        ("cancelled", "confirmed", "A canceled appointment cannot be marked as confirmed."),
        ("scheduled", "completed", "A scheduled appointment cannot be marked as completed."),
        ("confirmed", "confirmed", "This appointment is already confirmed."),
    ],
)
def test_refusals_name_both_statuses_in_words(from_status, to_status, message):
    with pytest.raises(ValidationError) as caught:
        st.check_transition(from_status, to_status)
    assert str(caught.value) == message


_STEPS = [
    (f, t) for f, ts in EXPECTED.items() for t in sorted(ts) if t not in ("cancelled", "no_show")
]


@pytest.mark.parametrize(("from_status", "to_status"), _STEPS)
def test_each_allowed_step_writes_status_and_history(
    clinic, desk, booked, monkeypatch, from_status, to_status
):
    version = _put(clinic.db, booked, from_status)
    result = st.change_status(clinic.db, desk, booked, version, to_status, now=DURING)
    assert result.status == to_status
    assert result.version > version
    history = st.status_history(clinic.db, desk, booked)
    last = history[-1]
    assert (last.from_status, last.to_status) == (from_status, to_status)
    assert last.changed_by_name == "Rita Reception"
    assert last.changed_at == DURING


def test_a_refused_step_changes_nothing(clinic, desk, booked):
    version = _put(clinic.db, booked, "completed")
    with pytest.raises(ValidationError, match="completed appointment cannot be marked as arrived"):
        st.change_status(clinic.db, desk, booked, version, "arrived", now=DURING)
    assert _appointment(clinic.db, booked).status == "completed"
    assert st.status_history(clinic.db, desk, booked) == []


def test_full_flow_keeps_who_and_when(clinic, desk, booked, monkeypatch):
    v = _appointment(clinic.db, booked).version
    times = [STARTS - timedelta(days=1)] + [STARTS + timedelta(minutes=m) for m in (7, 12, 40)]
    for to_status, at in zip(
        ["confirmed", "arrived", "in_treatment", "completed"], times, strict=True
    ):
        v = st.change_status(clinic.db, desk, booked, v, to_status, now=at).version
    history = st.status_history(clinic.db, desk, booked)
    assert [(h.from_status, h.to_status) for h in history] == [
        ("scheduled", "confirmed"),
        ("confirmed", "arrived"),
        ("arrived", "in_treatment"),
        ("in_treatment", "completed"),
    ]
    assert [h.changed_at for h in history] == times
    a = _appointment(clinic.db, booked)
    assert a.arrived_at == times[1] and a.completed_at == times[3]


def test_stale_version_is_a_concurrent_edit(clinic, desk, booked):
    version = _appointment(clinic.db, booked).version
    st.change_status(clinic.db, desk, booked, version, "confirmed", now=DURING)
    with pytest.raises(ConcurrentEditError):
        st.change_status(clinic.db, desk, booked, version, "scheduled", now=DURING)
    with pytest.raises(ConcurrentEditError):
        st.cancel_appointment(clinic.db, desk, booked, version, by="patient", reason="Ill")


def test_a_provider_cannot_change_status(clinic, make_staff, booked):
    provider = make_staff("paul", "provider", "Dr Paul Provider")
    with pytest.raises(PermissionDeniedError):
        st.change_status(clinic.db, provider, booked, 1, "confirmed", now=DURING)


def test_confirmation_is_audited_with_the_history_row(clinic, desk, booked):
    version = _appointment(clinic.db, booked).version
    st.change_status(clinic.db, desk, booked, version, "confirmed", now=DURING)
    with clinic.db.uow() as session:
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "appointments", AuditEntry.entity_id == booked
            )
        ).all()
        history = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "appointment_status_changes")
        ).all()
    assert [(e.action, e.staff_id) for e in audit] == [("update", desk.staff_id)]
    assert "status" in audit[0].fields and "confirmed_at" in audit[0].fields
    assert len(history) == 1


# --- arrival -------------------------------------------------------------------------------


@pytest.mark.parametrize(("arrives", "expected"), [(-12, -12), (0, 0), (17, 17)])
def test_arrival_says_how_early_or_late(clinic, desk, booked, monkeypatch, arrives, expected):
    at = STARTS + timedelta(minutes=arrives)
    result = st.change_status(clinic.db, desk, booked, 1, "arrived", now=at)
    assert result.minutes_late == expected
    summary = st.appointment_summary(clinic.db, desk, booked, now=at)
    assert summary.minutes_late == expected and summary.arrived_at == at


def test_arrival_repeats_the_consent_warning(clinic, desk, booked):
    with clinic.db.uow() as session:
        a = session.get(Appointment, booked)
        template = ConsentTemplate(key="composite")
        session.add(template)
        session.flush()
        session.add(
            ConsentVersion(template_id=template.id, version=1, title="Filling consent", body="…")
        )
        session.add(
            ServiceRequiredConsent(service_id=a.service_id, consent_template_id=template.id)
        )
    result = st.change_status(clinic.db, desk, booked, 1, "arrived", now=DURING)
    assert result.warnings == (
        "Composite filling needs the “Filling consent” form signed; it is not signed yet.",
    )


def test_arrival_on_a_future_day_is_refused(clinic, desk, booked):
    with pytest.raises(ValidationError, match="day of the visit"):
        st.change_status(clinic.db, desk, booked, 1, "arrived", now=STARTS - timedelta(days=1))


def test_undoing_an_arrival_clears_the_arrival_time(clinic, desk, booked, monkeypatch):
    v = st.change_status(clinic.db, desk, booked, 1, "arrived", now=DURING).version
    summary = st.appointment_summary(clinic.db, desk, booked, now=DURING)
    assert summary.undo_to == "scheduled"
    result = st.change_status(clinic.db, desk, booked, v, "scheduled", now=DURING)
    assert result.minutes_late is None
    assert _appointment(clinic.db, booked).arrived_at is None


def test_undoing_treatment_keeps_the_real_arrival_time(clinic, desk, booked, monkeypatch):
    v = st.change_status(clinic.db, desk, booked, 1, "arrived", now=DURING).version
    v = st.change_status(
        clinic.db, desk, booked, v, "in_treatment", now=DURING + timedelta(minutes=9)
    ).version
    st.change_status(clinic.db, desk, booked, v, "arrived", now=DURING + timedelta(minutes=10))
    assert _appointment(clinic.db, booked).arrived_at == DURING


# --- journey -------------------------------------------------------------------------------


def _stage(db, appointment_id) -> str:
    with db.uow() as session:
        a = session.get(Appointment, appointment_id)
        return session.get(Patient, a.patient_id).journey_stage


def test_treatment_and_completion_advance_the_journey(clinic, desk, booked):
    v = _put(clinic.db, booked, "arrived")
    v = st.change_status(clinic.db, desk, booked, v, "in_treatment", now=DURING).version
    assert _stage(clinic.db, booked) == "in_treatment"
    st.change_status(clinic.db, desk, booked, v, "completed", now=DURING)
    assert _stage(clinic.db, booked) == "follow_up"


# --- cancellation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before_start", "by", "late"),
    [
        (timedelta(hours=48), "patient", False),
        (timedelta(hours=24), "patient", False),  # exactly the window: not "less than 24 h"
        (timedelta(hours=23, minutes=59), "patient", True),
        (timedelta(hours=2), "patient", True),
        (timedelta(hours=-1), "patient", True),  # after the start
        (timedelta(hours=2), "clinic", False),  # the clinic's own cancellations never count
    ],
)
def test_late_cancel_inside_the_window_only(clinic, desk, booked, before_start, by, late):
    result = st.cancel_appointment(
        clinic.db, desk, booked, 1, by=by, reason="Patient ill", now=STARTS - before_start
    )
    assert result.late_cancel is late
    assert result.fee_added == Decimal("0.00")  # fees are off by default
    a = _appointment(clinic.db, booked)
    assert (a.status, a.cancelled_by, a.cancel_reason, a.late_cancel) == (
        "cancelled", by, "Patient ill", late,
    )  # fmt: skip
    assert st.status_history(clinic.db, desk, booked)[-1].reason == "Patient ill"


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_needs_a_reason(clinic, desk, booked, reason):
    with pytest.raises(ValidationError, match="Say why") as caught:
        st.cancel_appointment(clinic.db, desk, booked, 1, by="patient", reason=reason)
    assert caught.value.field == "reason"
    assert _appointment(clinic.db, booked).status == "scheduled"


@pytest.mark.parametrize("fees_on", [True, False])
def test_late_cancel_fee_only_when_the_switch_is_on(clinic, owner, desk, booked, fees_on):
    _charge_fees(clinic.db, owner, on=fees_on)
    result = st.cancel_appointment(
        clinic.db,
        desk,
        booked,
        1,
        by="patient",
        reason="Schedule conflict",
        now=STARTS - timedelta(hours=3),
    )
    a = _appointment(clinic.db, booked)
    with clinic.db.uow() as session:
        balance = patient_balance(session, a.patient_id)
        charges = session.scalars(select(Charge).where(Charge.appointment_id == booked)).all()
    if fees_on:
        assert (result.fee_added, result.fee_kind) == (Decimal("35.00"), "late_cancel_fee")
        assert balance == Decimal("35.00")
        [charge] = charges
        assert (charge.kind, charge.provider_id, str(charge.service_date)) == (
            "late_cancel_fee", a.provider_id, "2026-03-02",
        )  # fmt: skip
        assert charge.created_by_id == desk.staff_id
    else:
        assert result.fee_added == Decimal("0.00") and result.fee_kind is None
        assert balance == Decimal("0.00") and charges == []


def test_an_early_cancel_costs_nothing_even_with_fees_on(clinic, owner, desk, booked):
    _charge_fees(clinic.db, owner)
    result = st.cancel_appointment(
        clinic.db, desk, booked, 1, by="patient", reason="Weather", now=STARTS - timedelta(days=3)
    )
    assert not result.late_cancel and result.fee_added == Decimal("0.00")


def test_cancelled_is_final(clinic, desk, booked):
    st.cancel_appointment(clinic.db, desk, booked, 1, by="clinic", reason="Provider unavailable")
    v = _appointment(clinic.db, booked).version
    with pytest.raises(ValidationError, match="already canceled"):
        st.cancel_appointment(clinic.db, desk, booked, v, by="clinic", reason="Again")


# --- no-shows ------------------------------------------------------------------------------


def test_no_show_for_a_future_visit_is_refused(clinic, desk, booked):
    with pytest.raises(ValidationError, match="has not started yet"):
        st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS - timedelta(minutes=1))
    assert _appointment(clinic.db, booked).status == "scheduled"
    summary = st.appointment_summary(clinic.db, desk, booked, now=STARTS - timedelta(minutes=1))
    assert "no_show" not in summary.allowed_next


def test_no_show_fee_changes_the_balance_and_is_counted(clinic, owner, desk, booked):
    _charge_fees(clinic.db, owner, no_show="25.00")
    result = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20))
    assert (result.fee_added, result.fee_kind) == (Decimal("25.00"), "no_show_fee")
    a = _appointment(clinic.db, booked)
    with clinic.db.uow() as session:
        assert patient_balance(session, a.patient_id) == Decimal("25.00")
        assert st.attendance_counts(session, a.patient_id) == (1, 0)
    summary = st.appointment_summary(clinic.db, desk, booked, now=STARTS + timedelta(minutes=30))
    assert (summary.no_shows, summary.late_cancels) == (1, 0)
    assert summary.allowed_next == ("arrived", "scheduled")


def test_no_show_without_the_switch_adds_nothing(clinic, owner, desk, booked):
    _charge_fees(clinic.db, owner, on=False)
    result = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20))
    assert result.fee_added == Decimal("0.00")
    with clinic.db.uow() as session:
        assert session.scalars(select(Charge)).all() == []


def test_they_came_after_all_takes_the_fee_back(clinic, owner, desk, booked, monkeypatch):
    _charge_fees(clinic.db, owner, no_show="25.00")
    v = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20)).version
    result = st.change_status(
        clinic.db, desk, booked, v, "arrived", now=STARTS + timedelta(minutes=40)
    )
    assert result.fee_reversed == Decimal("25.00") and result.minutes_late == 40
    a = _appointment(clinic.db, booked)
    with clinic.db.uow() as session:
        assert patient_balance(session, a.patient_id) == Decimal("0.00")
        assert st.attendance_counts(session, a.patient_id) == (0, 0)


def test_a_no_show_is_undone_only_on_its_day(clinic, desk, booked):
    v = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20)).version
    with pytest.raises(ValidationError, match="only on the day of the visit"):
        st.change_status(clinic.db, desk, booked, v, "scheduled", now=STARTS + timedelta(days=1))


def test_counts_keep_no_shows_and_late_cancels_apart(clinic, desk):
    with clinic.db.uow() as session:
        patient = add_patient(session)
        provider = add_provider(session)
        ids = [
            add_appointment(session, patient, provider, starts_at=STARTS + timedelta(days=d),
                            ends_at=STARTS + timedelta(days=d, minutes=30)).id
            for d in range(4)
        ]  # fmt: skip
    st.mark_no_show(clinic.db, desk, ids[0], 1, now=STARTS + timedelta(hours=1))
    day1, day2 = STARTS + timedelta(days=1, hours=-2), STARTS + timedelta(days=2, hours=-2)
    st.cancel_appointment(clinic.db, desk, ids[1], 1, by="patient", reason="Ill", now=day1)
    st.cancel_appointment(clinic.db, desk, ids[2], 1, by="clinic", reason="Closed", now=day2)
    with clinic.db.uow() as session:
        assert st.attendance_counts(session, patient.id) == (1, 1)


# --- summary -------------------------------------------------------------------------------


def test_summary_has_what_the_details_dialog_shows(clinic, desk, booked):
    summary = st.appointment_summary(clinic.db, desk, booked, now=STARTS - timedelta(hours=2))
    assert summary.patient_name == "Ruiz, Ana"
    assert summary.patient_phone == "(207) 555-0188"
    assert summary.service_name == "Composite filling"
    assert summary.provider_name == "Dr. Daniel Okafor"
    assert summary.status == "scheduled" and summary.undo_to is None
    assert summary.allowed_next == ("confirmed", "arrived", "cancelled")
    assert summary.late_cancel_fee == Decimal("0.00")  # the switch is off


# --- settings ------------------------------------------------------------------------------


def test_settings_defaults_and_save(clinic, owner):
    current = st.get_scheduling_settings(clinic.db, owner)
    assert (current.late_cancel_hours, current.charge_fees) == (24, False)
    saved = st.update_scheduling_settings(
        clinic.db,
        owner,
        replace(current, late_cancel_hours=48, charge_fees=True, no_show_fee=Decimal("40"),
                opens_at_minute=7 * 60 + 30, closes_at_minute=19 * 60),
    )  # fmt: skip
    again = st.get_scheduling_settings(clinic.db, owner)
    assert again == saved
    assert (again.late_cancel_hours, again.no_show_fee, again.opens_at_minute) == (
        48, Decimal("40.00"), 450,
    )  # fmt: skip
    with clinic.db.uow() as session:
        assert appointment_book.opening_minutes(session) == (450, 1140)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"late_cancel_hours": -1}, "late_cancel_hours"),
        ({"late_cancel_hours": 169}, "late_cancel_hours"),
        ({"no_show_fee": Decimal("-5")}, "no_show_fee"),
        ({"late_cancel_fee": Decimal("12.345")}, "late_cancel_fee"),
        ({"opens_at_minute": 18 * 60, "closes_at_minute": 9 * 60}, "closes_at_minute"),
        ({"opens_at_minute": 9 * 60, "closes_at_minute": 9 * 60}, "closes_at_minute"),
    ],
)
def test_bad_settings_are_refused_and_nothing_saved(clinic, owner, change, field):
    current = st.get_scheduling_settings(clinic.db, owner)
    with pytest.raises(ValidationError) as caught:
        st.update_scheduling_settings(clinic.db, owner, replace(current, **change))
    assert caught.value.field == field
    assert st.get_scheduling_settings(clinic.db, owner) == current


def test_settings_stale_copy_and_permission(clinic, owner, desk):
    current = st.get_scheduling_settings(clinic.db, owner)
    st.update_scheduling_settings(clinic.db, owner, replace(current, late_cancel_hours=12))
    with pytest.raises(ConcurrentEditError):
        st.update_scheduling_settings(clinic.db, owner, replace(current, late_cancel_hours=6))
    with pytest.raises(PermissionDeniedError):
        st.update_scheduling_settings(clinic.db, desk, st.get_scheduling_settings(clinic.db, owner))


def test_history_rows_are_never_missed(clinic, desk, booked):
    st.cancel_appointment(clinic.db, desk, booked, 1, by="patient", reason="Ill", now=DURING)
    with clinic.db.uow() as session:
        rows = session.scalars(select(AppointmentStatusChange)).all()
        assert [(r.to_status, r.changed_by_id) for r in rows] == [("cancelled", desk.staff_id)]


# --- a visit put back on the book is a booking again ---------------------------------------------


def _give_the_time_away(db, appointment_id: int, *, double_booked: bool = False) -> int:
    """Book another patient with the same provider at the no-show's time (the desk filled
    the gap; ``double_booked`` when the visit still holds it, as "double-book anyway"
    marks it); returns that visit's id."""
    with db.uow() as session:
        gone = session.get(Appointment, appointment_id)
        filler = add_appointment(
            session,
            add_patient(session, first_name="Bo", last_name="Lind"),
            session.get(Provider, gone.provider_id),
            starts_at=gone.starts_at + timedelta(minutes=10),
            ends_at=gone.ends_at + timedelta(minutes=10),
            double_booked=double_booked,
        )
        return filler.id


def _double_booking_entries(db, appointment_id: int) -> list[AuditEntry]:
    with db.uow() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "double_booked", AuditEntry.entity_id == appointment_id
                )
            )
        )


@pytest.mark.parametrize("back_to", ["scheduled", "arrived"])
def test_undoing_a_no_show_whose_time_was_given_away_is_refused_naming_who_has_it(
    clinic, desk, booked, back_to
):
    v = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20)).version
    _give_the_time_away(clinic.db, booked)
    with pytest.raises(st.scheduling.ConflictError, match="already sees Lind, Bo") as refused:
        st.change_status(clinic.db, desk, booked, v, back_to, now=STARTS + timedelta(minutes=25))
    assert not refused.value.can_double_book  # the front desk may not override
    a = _appointment(clinic.db, booked)
    assert a.status == "no_show" and a.version == v and not a.double_booked  # nothing written


def test_a_coordinator_may_put_it_back_double_booked_and_it_is_audited(
    clinic, make_staff, desk, booked
):
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    v = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20)).version
    filler = _give_the_time_away(clinic.db, booked)
    with pytest.raises(st.scheduling.ConflictError) as refused:
        st.change_status(clinic.db, coordinator, booked, v, "arrived", now=STARTS)
    assert refused.value.can_double_book
    result = st.change_status(
        clinic.db, coordinator, booked, v, "arrived", now=STARTS + timedelta(minutes=25),
        double_book=True,
    )  # fmt: skip
    assert result.status == "arrived"
    a = _appointment(clinic.db, booked)
    assert a.status == "arrived" and a.double_booked
    (entry,) = _double_booking_entries(clinic.db, booked)
    assert "Lind, Bo" in entry.detail
    assert _appointment(clinic.db, filler).status == "scheduled"  # the other visit is untouched


def test_undoing_a_no_show_whose_time_is_still_free_needs_no_override(clinic, desk, booked):
    v = st.mark_no_show(clinic.db, desk, booked, 1, now=STARTS + timedelta(minutes=20)).version
    st.change_status(clinic.db, desk, booked, v, "scheduled", now=STARTS + timedelta(minutes=25))
    a = _appointment(clinic.db, booked)
    assert a.status == "scheduled" and not a.double_booked
    assert _double_booking_entries(clinic.db, booked) == []


def test_steps_that_keep_a_visit_on_the_book_do_not_check_it_again(clinic, desk, booked):
    """Checking in a visit that was double-booked on purpose is not refused all over again."""
    _give_the_time_away(clinic.db, booked, double_booked=True)
    result = st.change_status(clinic.db, desk, booked, 1, "arrived", now=STARTS)
    assert result.status == "arrived"


def test_a_stale_status_change_names_who_changed_the_visit_and_when_in_clinic_time(
    clinic, owner, desk, booked
):
    st.change_status(clinic.db, desk, booked, 1, "confirmed", now=STARTS - timedelta(hours=2))
    with pytest.raises(ConcurrentEditError) as stale:
        st.change_status(clinic.db, owner, booked, 1, "arrived", now=STARTS)
    with clinic.db.uow() as session:
        changed_at = session.scalar(
            select(AuditEntry.at)
            .where(AuditEntry.entity == "appointments", AuditEntry.entity_id == booked)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    local = changed_at.astimezone(ZoneInfo("America/New_York"))
    assert stale.value.changed_by == "rita" and stale.value.changed_at == local
    clock = format_time(local, "America/New_York", "en_US")  # as the clinic writes it
    assert clock.endswith(("AM", "PM"))
    assert str(stale.value) == (
        f"This appointment was changed by rita at {clock} while you were editing. "
        "Reload it to see the latest version."
    )
    assert _appointment(clinic.db, booked).status == "confirmed"
