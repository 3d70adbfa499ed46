"""Treatment plans: item money, editing rules, statuses, snapshots, alternatives, scheduling."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.data.models.appointments import Appointment
from app.data.models.plans import TreatmentItem
from app.data.models.providers import ProviderBreak, Service, WorkingHours
from app.services.billing import plan_details
from app.services.billing import treatment_plans as tp
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.scheduling import booking as scheduling
from tests.data.factories import add_patient, add_provider, add_service

pytestmark = pytest.mark.both_backends

D = Decimal
ZONE = ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


class Clinic:
    """A patient, a provider working 9-17 Mon-Fri and three catalogue services."""

    def __init__(self, db):
        with db.uow() as s:
            self.patient = add_patient(s, first_name="Ana", last_name="Ruiz").id
            self.provider = add_provider(s, name="Ada Lovelace").id
            for weekday in range(5):
                s.add(
                    WorkingHours(
                        provider_id=self.provider,
                        weekday=weekday,
                        start_minute=540,
                        end_minute=1020,
                    )
                )
                s.add(
                    ProviderBreak(
                        provider_id=self.provider,
                        weekday=weekday,
                        start_minute=720,
                        end_minute=780,
                        label="Lunch",
                    )
                )
            self.exam = add_service(s, name="Exam and X-rays", fee=D("95.00"), code="EX1").id
            self.implant = add_service(
                s, name="Implant placement", fee=D("1800.00"), default_duration_minutes=90
            ).id
            self.crown = add_service(s, name="Implant crown", fee=D("1250.00")).id
            self.retired = add_service(s, name="Amalgam filling", is_active=False).id


@pytest.fixture
def c(clinic) -> Clinic:
    return Clinic(clinic.db)


@pytest.fixture
def coordinator(make_staff):
    return make_staff("cora", "coordinator", "Cora Coordinator")


@pytest.fixture
def desk(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


def build(db, actor, c, *, phases=2) -> plan_details.PlanDetail:
    """A plan: phase 1 exam; phase 2 implant + crown (#14), the crown with a discount."""
    plan = tp.create_plan(db, actor, c.patient, "Replace #14", provider_id=c.provider)
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Consultation and imaging")
    plan = tp.add_item(db, actor, plan.phases[0].id, plan.version, service_id=c.exam)
    if phases > 1:
        plan = tp.add_phase(db, actor, plan.id, plan.version, "Implant placement")
        phase = plan.phases[1].id
        plan = tp.add_item(
            db,
            actor,
            phase,
            plan.version,
            service_id=c.implant,
            area="#14",
            insurance_estimate=D("500.00"),
        )
        plan = tp.add_item(
            db, actor, phase, plan.version, service_id=c.crown, area="#14", discount=D("125.00")
        )
    return plan


# --- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "qty", "discount", "estimate", "portion"),
    [
        ("100.00", 1, "0", "0", "100.00"),
        ("100.00", 3, "50.00", "100.00", "150.00"),
        ("33.33", 3, "0.99", "0", "99.00"),
        ("0.00", 1, "0", "0", "0.00"),
        ("100.00", 2, "200.00", "0", "0.00"),
    ],
)
def test_patient_portion_is_line_less_discount_less_estimate(fee, qty, discount, estimate, portion):
    amounts = tp.line_amounts(D(fee), qty, D(discount), D(estimate))
    assert amounts.patient_portion == D(portion)
    assert amounts.line_total == D(fee) * qty


@pytest.mark.parametrize(
    ("fee", "qty", "discount", "estimate", "field", "words"),
    [
        ("-1", 1, "0", "0", "fee", "negative"),
        ("1.234", 1, "0", "0", "fee", "2 decimal"),
        ("abc", 1, "0", "0", "fee", "not an amount"),
        ("NaN", 1, "0", "0", "fee", "not an amount"),
        ("10", 0, "0", "0", "quantity", "at least 1"),
        ("10", 2, "20.01", "0", "discount", "line total"),
        ("10", 2, "5", "15.01", "insurance_estimate", "less the discount"),
        ("10", 1, "-1", "0", "discount", "negative"),
    ],
)
def test_bad_item_numbers_are_refused_with_the_field(fee, qty, discount, estimate, field, words):
    with pytest.raises(ValidationError, match=words) as caught:
        tp.line_amounts(fee, qty, discount, estimate)
    assert caught.value.field == field


def test_float_money_is_refused():
    with pytest.raises(ValidationError):
        tp.line_amounts(10.5, 1)  # type: ignore[arg-type]


@given(
    fee=st.decimals(min_value=0, max_value=10000, places=2),
    qty=st.integers(1, 20),
    d=st.integers(0, 100),
    e=st.integers(0, 100),
)
def test_portion_never_negative_and_parts_add_up(fee, qty, d, e):
    line = fee * qty
    discount = (line * d / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
    estimate = ((line - discount) * e / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
    a = tp.line_amounts(fee, qty, discount, estimate)
    assert a.patient_portion >= 0
    assert a.patient_portion + a.discount + a.insurance_estimate == a.line_total


# --- editing ---------------------------------------------------------------------------------


def test_build_a_plan_with_totals_per_phase_and_overall(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c)
    assert [p.title for p in plan.phases] == ["Consultation and imaging", "Implant placement"]
    (exam,) = plan.phases[0].items
    assert (exam.description, exam.fee, exam.service_code) == ("Exam and X-rays", D("95.00"), "EX1")
    phase2 = plan.phases[1].totals
    assert phase2 == plan_details.Totals(D("3050.00"), D("125.00"), D("500.00"), D("2425.00"))
    assert plan.totals == plan_details.Totals(D("3145.00"), D("125.00"), D("500.00"), D("2520.00"))
    assert plan.status == "draft" and plan.provider_name == "Dr. Ada Lovelace"


def test_fee_is_copied_or_given_and_free_text_items_need_a_fee(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c, phases=1)
    phase = plan.phases[0].id
    plan = tp.add_item(
        clinic.db, coordinator, phase, plan.version, service_id=c.exam, fee=D("80.00")
    )
    assert plan.phases[0].items[-1].fee == D("80.00")
    with pytest.raises(ValidationError, match="Give the fee") as caught:
        tp.add_item(clinic.db, coordinator, phase, plan.version, description="Night guard")
    assert caught.value.field == "fee"
    plan = tp.add_item(
        clinic.db, coordinator, phase, plan.version, description="Night guard", fee=D("300")
    )
    assert plan.phases[0].items[-1].service_id is None
    with pytest.raises(ValidationError, match="no longer offered"):
        tp.add_item(clinic.db, coordinator, phase, plan.version, service_id=c.retired)


def test_reorder_update_and_remove(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c)
    second = plan.phases[1]
    plan = tp.move_phase(clinic.db, coordinator, second.id, plan.version, -1)
    assert [p.id for p in plan.phases] == [second.id, plan.phases[1].id]
    crown = plan.phases[0].items[1]
    plan = tp.move_item(clinic.db, coordinator, crown.id, plan.version, -1)
    assert plan.phases[0].items[0].id == crown.id
    plan = tp.update_item(
        clinic.db,
        coordinator,
        crown.id,
        plan.version,
        service_id=c.crown,
        description="Zirconia crown",
        area="#14",
        quantity=2,
        fee=D("1000.00"),
        discount=D("0"),
        insurance_estimate=D("600.00"),
    )
    item = plan.phases[0].items[0]
    assert (item.description, item.patient_portion) == ("Zirconia crown", D("1400.00"))
    plan = tp.update_phase(
        clinic.db, coordinator, second.id, plan.version, title="Implant", description="Heals 3 mo"
    )
    assert plan.phases[0].title == "Implant"
    plan = tp.remove_item(clinic.db, coordinator, crown.id, plan.version)
    assert [i.position for i in plan.phases[0].items] == [0]
    plan = tp.remove_phase(clinic.db, coordinator, second.id, plan.version)
    assert len(plan.phases) == 1 and plan.phases[0].position == 0


def test_stale_version_is_refused(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c, phases=1)
    tp.add_phase(clinic.db, coordinator, plan.id, plan.version, "Another")
    with pytest.raises(ConcurrentEditError):
        tp.add_phase(clinic.db, coordinator, plan.id, plan.version, "Stale")


def test_receptionist_sees_but_cannot_edit(clinic, coordinator, desk, c):
    plan = build(clinic.db, coordinator, c, phases=1)
    assert tp.load_plan(clinic.db, desk, plan.id).id == plan.id
    assert [p.id for p in tp.list_plans(clinic.db, desk, c.patient)] == [plan.id]
    with pytest.raises(PermissionDeniedError):
        tp.add_phase(clinic.db, desk, plan.id, plan.version, "Nope")


def test_merged_or_deactivated_patient_is_refused(clinic, coordinator):
    with clinic.db.uow() as s:
        kept = add_patient(s)
        gone = add_patient(s, is_active=False, merged_into_id=kept.id).id
        inactive = add_patient(s, is_active=False).id
    with pytest.raises(ValidationError, match="merged"):
        tp.create_plan(clinic.db, coordinator, gone, "Plan")
    with pytest.raises(ValidationError, match="deactivated"):
        tp.create_plan(clinic.db, coordinator, inactive, "Plan")
    with pytest.raises(ValidationError, match="title"):
        tp.create_plan(clinic.db, coordinator, kept.id, "   ")


# --- statuses --------------------------------------------------------------------------------

EXPECTED = {
    "draft": {"presented"},
    "presented": {"accepted", "partly_accepted", "declined"},
    "accepted": {"in_progress"},
    "partly_accepted": {"in_progress"},
    "in_progress": {"completed", "accepted", "partly_accepted"},
    "completed": {"in_progress"},
    "declined": set(),
}


@pytest.mark.parametrize("frm", list(EXPECTED))
@pytest.mark.parametrize("to", list(EXPECTED))
def test_transition_table(frm, to):
    if to in EXPECTED[frm]:
        tp.check_transition(frm, to)
    else:
        with pytest.raises(ValidationError) as caught:
            tp.check_transition(frm, to)
        assert str(caught.value).endswith(".") and len(str(caught.value)) > 15


def test_present_then_accept_freezes_a_snapshot_prices_do_not_touch(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c)
    with pytest.raises(ValidationError, match="Present the plan"):
        tp.accept_plan(clinic.db, coordinator, plan.id, plan.version)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    assert (plan.status, plan.presented_by_name, plan.presented_at) == (
        "presented", "Cora Coordinator", NOW,
    )  # fmt: skip
    assert {p.status for p in plan.phases} == {"presented"}
    plan = tp.accept_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    assert plan.status == "accepted" and plan.decided_at == NOW
    assert {i.status for p in plan.phases for i in p.items} == {"accepted"}
    snap = plan.accepted_snapshot
    assert snap["accepted_by"] == "Cora Coordinator"
    assert snap["totals"]["patient_portion"] == "2520.00"
    with clinic.db.uow() as s:
        s.get(Service, c.crown).fee = D("1999.00")
    with pytest.raises(ValidationError, match="frozen"):
        tp.add_item(clinic.db, coordinator, plan.phases[0].id, plan.version, service_id=c.exam)
    again = tp.load_plan(clinic.db, coordinator, plan.id)
    assert again.accepted_snapshot == snap
    crown = again.phases[1].items[1]
    assert crown.fee == D("1250.00") and again.totals == plan.totals
    assert json.loads(json.dumps(snap))["phases"][1]["items"][1]["fee"] == "1250.00"


def test_accepting_some_phases_is_partly_accepted(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version)
    first = plan.phases[0].id
    plan = tp.accept_plan(
        clinic.db, coordinator, plan.id, plan.version, [first], reason="Will decide after the exam"
    )
    assert plan.status == "partly_accepted"
    assert [(p.status, p.decline_reason) for p in plan.phases] == [
        ("accepted", ""), ("declined", "Will decide after the exam"),
    ]  # fmt: skip
    assert plan.accepted_totals.patient_portion == D("95.00")
    assert [p["id"] for p in plan.accepted_snapshot["phases"]] == [first]
    with pytest.raises(ValidationError, match="A partly accepted plan cannot be accepted"):
        tp.accept_plan(clinic.db, coordinator, plan.id, plan.version)


def test_decline_needs_a_reason_and_is_final(clinic, coordinator, c):
    plan = build(clinic.db, coordinator, c, phases=1)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version)
    with pytest.raises(ValidationError, match="Say why") as caught:
        tp.decline_plan(clinic.db, coordinator, plan.id, plan.version, "  ")
    assert caught.value.field == "reason"
    plan = tp.decline_plan(clinic.db, coordinator, plan.id, plan.version, "Cost concerns")
    assert (plan.status, plan.decline_reason) == ("declined", "Cost concerns")
    assert plan.phases[0].status == "declined"
    with pytest.raises(ValidationError):
        tp.present_plan(clinic.db, coordinator, plan.id, plan.version)


def test_present_an_empty_plan_is_refused(clinic, coordinator, c):
    plan = tp.create_plan(clinic.db, coordinator, c.patient, "Empty")
    with pytest.raises(ValidationError, match="at least one item"):
        tp.present_plan(clinic.db, coordinator, plan.id, plan.version)


# --- alternatives ----------------------------------------------------------------------------


def test_alternatives_side_by_side_and_accepting_one_declines_the_others(clinic, coordinator, c):
    a = build(clinic.db, coordinator, c)
    b = tp.add_alternative(clinic.db, coordinator, a.id, a.version)
    a = tp.load_plan(clinic.db, coordinator, a.id)
    assert (a.alternative_label, b.alternative_label) == ("Option A", "Option B")
    assert a.option_group == b.option_group is not None
    assert b.status == "draft" and b.totals == a.totals
    # Option B: a bridge instead of the implant.
    implant = b.phases[1].items[0]
    b = tp.update_item(
        clinic.db, coordinator, implant.id, b.version, service_id=None,
        description="Three-unit bridge", fee=D("2400.00"),
    )  # fmt: skip
    b = tp.remove_item(clinic.db, coordinator, b.phases[1].items[1].id, b.version)
    x = build(clinic.db, coordinator, c, phases=1)  # another case, listed on its own
    listed = tp.list_plans(clinic.db, coordinator, c.patient)
    assert [p.id for p in listed][:2] in ([x.id, a.id], [a.id, b.id])
    ids = [p.id for p in listed]
    assert abs(ids.index(a.id) - ids.index(b.id)) == 1
    comparison = tp.compare_options(clinic.db, coordinator, b.id)
    assert [o.label for o in comparison.options] == ["Option A", "Option B"]
    assert [o.totals.patient_portion for o in comparison.options] == [D("2520.00"), D("2495.00")]
    assert comparison.options[1].phases[1] == (
        "Implant placement", plan_details.Totals(D("2400.00"), D("0.00"), D("0.00"), D("2400.00")),
    )  # fmt: skip
    a = tp.load_plan(clinic.db, coordinator, a.id)
    tp.present_plan(clinic.db, coordinator, a.id, a.version)  # presents Option B with it
    b = tp.load_plan(clinic.db, coordinator, b.id)
    tp.accept_plan(clinic.db, coordinator, b.id, b.version)
    a = tp.load_plan(clinic.db, coordinator, a.id)
    assert (a.status, a.decline_reason) == ("declined", "Chose Option B")
    with pytest.raises(ValidationError, match="already chosen"):
        tp.add_alternative(
            clinic.db, coordinator, b.id, tp.load_plan(clinic.db, coordinator, b.id).version
        )


def test_a_third_option_gets_the_next_letter(clinic, coordinator, c):
    a = build(clinic.db, coordinator, c, phases=1)
    b = tp.add_alternative(clinic.db, coordinator, a.id, a.version)
    third = tp.add_alternative(clinic.db, coordinator, b.id, b.version)
    assert third.alternative_label == "Option C"
    with pytest.raises(ValidationError, match="already has"):
        tp.add_alternative(clinic.db, coordinator, b.id, b.version, label="Option A")


def test_an_alternative_gets_its_own_title_not_a_copy_of_the_original(clinic, coordinator, c):
    a = build(clinic.db, coordinator, c, phases=1)
    b = tp.add_alternative(clinic.db, coordinator, a.id, a.version)
    assert (b.alternative_label, b.title) == ("Option B", "Option B")
    assert plan_details.option_heading(b.alternative_label, b.title) == "Option B"
    a = tp.load_plan(clinic.db, coordinator, a.id)
    assert plan_details.option_heading(a.alternative_label, a.title) == "Option A — Replace #14"
    c_option = tp.add_alternative(clinic.db, coordinator, b.id, b.version, title=" Bridge  #13–15")
    assert (c_option.alternative_label, c_option.title) == ("Option C", "Bridge #13–15")
    listed = {p.id: p.title for p in tp.list_plans(clinic.db, coordinator, c.patient)}
    assert len(set(listed.values())) == 3


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Phase 1 — Implant", "Implant"),
        ("phase 2: crown", "crown"),
        ("Phase 3 Bone graft", "Bone graft"),
        ("Fase 1 – Implante", "Implante"),
        ("Phased approach", "Phased approach"),
        ("Implant", "Implant"),
        ("Phase 4", "Phase 4"),  # nothing else to keep
    ],
)
def test_a_typed_phase_number_is_not_kept_in_the_title(clinic, coordinator, c, typed, kept):
    plan = tp.create_plan(clinic.db, coordinator, c.patient, "Replace #14")
    plan = tp.add_phase(clinic.db, coordinator, plan.id, plan.version, typed)
    assert plan.phases[0].title == kept
    plan = tp.update_phase(
        clinic.db, coordinator, plan.phases[0].id, plan.version, title=f"Phase 1 — {kept}"
    )
    assert plan.phases[0].title == kept


def test_presenting_a_case_presents_every_open_option(clinic, coordinator, c):
    """The handout shows Option A and B side by side: presenting one presents both."""
    a = build(clinic.db, coordinator, c, phases=1)
    b = tp.add_alternative(clinic.db, coordinator, a.id, a.version)
    third = tp.add_alternative(clinic.db, coordinator, b.id, b.version)
    x = build(clinic.db, coordinator, c, phases=1)  # another case stays a draft

    tp.present_plan(clinic.db, coordinator, b.id, b.version, now=NOW)

    for plan_id in (a.id, b.id, third.id):
        plan = tp.load_plan(clinic.db, coordinator, plan_id)
        assert plan.status == "presented" and plan.presented_by_name == "Cora Coordinator"
        assert plan.presented_at.replace(tzinfo=UTC) == NOW
        assert {p.status for p in plan.phases} == {"presented"}
    assert tp.load_plan(clinic.db, coordinator, x.id).status == "draft"


def test_presenting_a_case_with_an_empty_option_names_it_and_presents_nothing(
    clinic, coordinator, c
):
    a = build(clinic.db, coordinator, c, phases=1)
    b = tp.add_alternative(clinic.db, coordinator, a.id, a.version)
    b = tp.remove_item(clinic.db, coordinator, b.phases[0].items[0].id, b.version)
    a = tp.load_plan(clinic.db, coordinator, a.id)
    with pytest.raises(ValidationError, match="Option B has no items"):
        tp.present_plan(clinic.db, coordinator, a.id, a.version)
    assert tp.load_plan(clinic.db, coordinator, a.id).status == "draft"


# --- scheduling a phase ----------------------------------------------------------------------


def _accepted(db, actor, c) -> plan_details.PlanDetail:
    plan = build(db, actor, c)
    plan = tp.present_plan(db, actor, plan.id, plan.version)
    return tp.accept_plan(db, actor, plan.id, plan.version)


def test_schedule_phase_books_one_visit_per_item_with_the_service_length(clinic, owner, c):
    plan = _accepted(clinic.db, owner, c)
    phase = plan.phases[1]
    first = scheduling.at_local(date(2027, 3, 8), 9 * 60, ZONE)
    preview = tp.preview_phase_visits(clinic.db, owner, phase.id, c.provider, None, first, 14)
    assert [v.free for v in preview] == [True, True]
    assert preview[0].ends_at - preview[0].starts_at == timedelta(minutes=90)
    assert preview[1].starts_at.astimezone(ZONE).date() == date(2027, 3, 22)
    booked = tp.schedule_phase(clinic.db, owner, phase.id, c.provider, None, first, 14)
    assert len(booked) == 2
    with clinic.db.uow() as s:
        visits = s.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
        assert [v.treatment_phase_id for v in visits] == [phase.id, phase.id]
        assert [v.service_id for v in visits] == [c.implant, c.crown]
        assert visits[0].series_id == visits[1].series_id is not None
        statuses = s.scalars(select(TreatmentItem.status).where(TreatmentItem.phase_id == phase.id))
        assert set(statuses) == {"scheduled"}
    with pytest.raises(ValidationError, match="already scheduled"):
        tp.preview_phase_visits(clinic.db, owner, phase.id, c.provider, None, first, 14)


def test_schedule_phase_names_clashes_and_saves_nothing(clinic, owner, coordinator, c):
    plan = _accepted(clinic.db, owner, c)
    phase = plan.phases[1]
    first = scheduling.at_local(date(2027, 3, 8), 9 * 60, ZONE)
    scheduling.book_appointment(
        clinic.db,
        owner,
        scheduling.AppointmentRequest(
            patient_id=c.patient,
            provider_id=c.provider,
            starts_at=scheduling.at_local(date(2027, 3, 15), 9 * 60, ZONE),
            ends_at=scheduling.at_local(date(2027, 3, 15), 9 * 60 + 30, ZONE),
        ),
    )
    preview = tp.preview_phase_visits(clinic.db, owner, phase.id, c.provider, None, first, 7)
    assert [v.free for v in preview] == [True, False]
    assert preview[1].clashes
    with pytest.raises(scheduling.ConflictError):
        tp.schedule_phase(clinic.db, coordinator, phase.id, c.provider, None, first, 7)
    with clinic.db.uow() as s:
        assert len(s.scalars(select(Appointment)).all()) == 1
        statuses = s.scalars(select(TreatmentItem.status).where(TreatmentItem.phase_id == phase.id))
        assert set(statuses) == {"accepted"}


def test_only_accepted_phases_are_scheduled(clinic, owner, c):
    plan = build(clinic.db, owner, c)
    first = scheduling.at_local(date(2027, 3, 8), 9 * 60, ZONE)
    with pytest.raises(ValidationError, match="accepted"):
        tp.preview_phase_visits(clinic.db, owner, plan.phases[0].id, c.provider, None, first, 7)
