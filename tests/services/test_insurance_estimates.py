"""Insurance estimates on plan items, from the patient's active primary policy: coverage %
after the deductible left, in the plan's order; typed by hand when the coordinator knows
better."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.data.models.insurance import InsurancePolicy
from app.services.billing import treatment_plans as tp
from app.services.patients import insurance
from app.services.patients.insurance import PolicyData, insurance_estimates
from tests.data.factories import add_patient, add_service
from tests.services.test_insurance import add_contact

D = Decimal


@pytest.mark.parametrize(
    ("amounts", "percent", "deductible", "estimates"),
    [
        (["1000.00"], 80, "0", ["800.00"]),
        (["1000.00"], 80, "50.00", ["760.00"]),  # (1000 − 50) × 80 %
        (["30.00", "1000.00"], 80, "50.00", ["0.00", "784.00"]),  # 20 left for line 2
        (["100.00"], 80, "250.00", ["0.00"]),  # all of it is deductible
        (["99.99"], 50, "0", ["50.00"]),  # half a cent rounds up
        (["1000.00"], 0, "0", ["0.00"]),
        (["1000.00"], 100, "0", ["1000.00"]),
        (["0.00", "200.00"], 80, "-5", ["0.00", "160.00"]),  # an over-met deductible
    ],
)
def test_coverage_after_the_deductible_left_in_order(amounts, percent, deductible, estimates):
    got = insurance_estimates([D(a) for a in amounts], percent, D(deductible))
    assert got == [D(e) for e in estimates]


def test_a_percent_outside_0_to_100_is_a_bug():
    with pytest.raises(ValueError):
        insurance_estimates([D("10.00")], 101, D("0"))


@pytest.fixture
def coordinator(make_staff):
    return make_staff("cora", "coordinator", "Cora Coordinator")


@pytest.fixture
def world(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s, first_name="Ana", last_name="Ruiz").id
        exam = add_service(s, name="Exam", fee=D("30.00")).id
        crown = add_service(s, name="Crown", fee=D("1000.00")).id
    payer = add_contact(clinic.db, "Delta Dental")
    insurance.save_policy(
        clinic.db,
        owner,
        patient,
        PolicyData(
            payer_id=payer, member_id="M1", plan_name="PPO Plus", coverage_percent=80,
            deductible=D("100.00"), deductible_met=D("50.00"),
        ),
    )  # fmt: skip
    return {"patient": patient, "exam": exam, "crown": crown}


@pytest.mark.both_backends
def test_items_added_are_estimated_from_the_primary_policy(clinic, coordinator, world):
    plan = tp.create_plan(clinic.db, coordinator, world["patient"], "Crown #3")
    plan = tp.add_phase(clinic.db, coordinator, plan.id, plan.version, "Exam")
    plan = tp.add_phase(clinic.db, coordinator, plan.id, plan.version, "Crown")
    coverage = tp.item_coverage(clinic.db, coordinator, plan.phases[0].id)
    assert (coverage.policy_name, coverage.coverage_percent) == ("Delta Dental — PPO Plus", 80)
    assert coverage.deductible_left == D("50.00")

    plan = tp.add_item(
        clinic.db, coordinator, plan.phases[1].id, plan.version, service_id=world["crown"]
    )
    plan = tp.add_item(
        clinic.db, coordinator, plan.phases[0].id, plan.version, service_id=world["exam"]
    )

    exam, crown = plan.phases[0].items[0], plan.phases[1].items[0]
    # The exam comes first in the plan: it uses $30 of the $50 deductible left.
    assert exam.insurance_estimate == D("0.00") and exam.patient_portion == D("30.00")
    assert tp.item_coverage(
        clinic.db, coordinator, plan.phases[1].id, crown.id
    ).deductible_left == D("20.00")
    # Added when the exam was not there yet: (1000 − 50) × 80 %.
    assert crown.insurance_estimate == D("760.00")

    # Repriced: estimated again with the deductible its place in the plan leaves.
    plan = tp.update_item(
        clinic.db, coordinator, crown.id, plan.version, service_id=world["crown"],
        description="Crown", fee=D("1200.00"), discount=D("100.00"),
    )  # fmt: skip
    crown = plan.phases[1].items[0]
    assert crown.insurance_estimate == D("864.00")  # (1200 − 100 − 20) × 80 %
    assert crown.patient_portion == D("236.00")

    # Typed by hand, it stays as typed.
    plan = tp.update_item(
        clinic.db, coordinator, crown.id, plan.version, service_id=world["crown"],
        description="Crown", fee=D("1200.00"), insurance_estimate=D("500.00"),
    )  # fmt: skip
    assert plan.phases[1].items[0].insurance_estimate == D("500.00")


@pytest.mark.both_backends
def test_no_estimate_without_an_active_primary_policy_in_effect(clinic, coordinator, owner, world):
    with clinic.db.uow() as s:
        policy = s.query(InsurancePolicy).one()
        policy.effective_to = date(2000, 12, 31)  # ended long ago
    plan = tp.create_plan(clinic.db, coordinator, world["patient"], "Crown #3")
    plan = tp.add_phase(clinic.db, coordinator, plan.id, plan.version, "Crown")
    assert tp.item_coverage(clinic.db, coordinator, plan.phases[0].id) is None
    plan = tp.add_item(
        clinic.db, coordinator, plan.phases[0].id, plan.version, service_id=world["crown"]
    )
    assert plan.phases[0].items[0].insurance_estimate == D("0.00")
