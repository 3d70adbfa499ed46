"""Payment plans: drafts, signing, versions, cancelling, late fees, refusals, permissions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.payments import (
    AccountAdjustment,
    Charge,
    ChargeKind,
    Frequency,
    Installment,
    LateFeeKind,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentPlanStatus,
)
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.services.billing import payment_plans as pp
from app.services.billing.balances import patient_balance
from app.services.billing.payment_plans import InstallmentState, PaymentPlanTerms
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

pytestmark = pytest.mark.both_backends

D = Decimal
TODAY = date(2027, 1, 10)


def plan_terms(**changes) -> PaymentPlanTerms:
    values = {
        "total_amount": D("1200.00"),
        "down_payment": D("0.00"),
        "installment_count": 4,
        "frequency": Frequency.MONTHLY,
        "first_due_on": date(2027, 1, 31),
        "plan_date": TODAY,
    }
    values.update(changes)
    return PaymentPlanTerms(**values)


def add_treatment_plan(db, patient_id, status=PlanStatus.ACCEPTED) -> int:
    with db.uow() as session:
        plan = TreatmentPlan(patient_id=patient_id, title="Implant", status=status.value)
        phase = TreatmentPhase(title="Phase 1", status=status.value)
        phase.items = [
            TreatmentItem(description="Implant", patient_portion=D("2400.00"),
                          status=ItemStatus.ACCEPTED.value),
            TreatmentItem(description="Crown", patient_portion=D("900.50"),
                          status=ItemStatus.COMPLETED.value),
            TreatmentItem(description="Whitening", patient_portion=D("300.00"),
                          status=ItemStatus.DECLINED.value),
        ]  # fmt: skip
        plan.phases = [phase]
        session.add(plan)
        session.flush()
        return plan.id


def pay(db, patient_id, installment_id, amount) -> None:
    with db.uow() as session:
        payment = Payment(patient_id=patient_id, method=PaymentMethod.CASH.value, amount=D(amount))
        session.add(payment)
        session.flush()
        session.add(
            PaymentAllocation(
                payment_id=payment.id, installment_id=installment_id, amount=D(amount)
            )
        )
        # What the payments service keeps beside each allocation.
        installment = session.get(Installment, installment_id)
        installment.paid_amount += D(amount)


def balance(db, patient_id) -> Decimal:
    with db.uow() as session:
        return patient_balance(session, patient_id)


@pytest.fixture
def coordinator(make_staff):
    return make_staff("carla", "coordinator")


@pytest.fixture
def signed_apr_plan(clinic, coordinator, patient_id):
    draft = pp.create_payment_plan(
        clinic.db, coordinator, patient_id, plan_terms(apr_basis_points=1200), today=TODAY
    )
    return pp.sign_payment_plan(clinic.db, coordinator, draft.id, draft.version, today=TODAY)


# --- drafts --------------------------------------------------------------------------------------


def test_a_draft_for_a_free_amount_stores_the_schedule(clinic, coordinator, patient_id):
    view = pp.create_payment_plan(clinic.db, coordinator, patient_id, plan_terms(), today=TODAY)
    assert view.status is PaymentPlanStatus.DRAFT
    assert view.financed_amount == D("1200.00")
    assert [r.amount for r in view.installments] == [D("300.00")] * 4
    assert [r.due_on for r in view.installments] == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)
    ]  # fmt: skip
    assert all(r.state is InstallmentState.UPCOMING for r in view.installments)
    assert view.versions == (pp.PlanVersion(view.id, 1, PaymentPlanStatus.DRAFT, None),)
    # A draft owes nothing yet.
    assert balance(clinic.db, patient_id) == 0


def test_the_total_comes_from_the_accepted_items_patient_portion(clinic, coordinator, patient_id):
    tp = add_treatment_plan(clinic.db, patient_id)
    assert pp.treatment_plan_portion(clinic.db, coordinator, tp) == D("3300.50")
    view = pp.create_payment_plan(
        clinic.db, coordinator, patient_id, plan_terms(total_amount=None, down_payment=D("300.50")),
        treatment_plan_id=tp, today=TODAY,
    )  # fmt: skip
    assert (view.total_amount, view.financed_amount, view.treatment_plan_id) == (
        D("3300.50"), D("3000.00"), tp,
    )  # fmt: skip
    with pytest.raises(ValidationError, match=r"patient portion \(3300.50\)"):
        pp.create_payment_plan(
            clinic.db, coordinator, patient_id, plan_terms(), treatment_plan_id=tp, today=TODAY
        )


def test_a_treatment_plan_not_accepted_is_refused(clinic, coordinator, patient_id):
    tp = add_treatment_plan(clinic.db, patient_id, status=PlanStatus.PRESENTED)
    with pytest.raises(ValidationError, match="Only an accepted treatment plan"):
        pp.create_payment_plan(
            clinic.db, coordinator, patient_id, plan_terms(total_amount=None),
            treatment_plan_id=tp, today=TODAY,
        )  # fmt: skip


def test_a_draft_is_edited_in_place(clinic, coordinator, patient_id):
    draft = pp.create_payment_plan(clinic.db, coordinator, patient_id, plan_terms(), today=TODAY)
    edited = pp.update_payment_plan_draft(
        clinic.db, coordinator, draft.id, draft.version,
        plan_terms(installment_count=3, frequency=Frequency.WEEKLY,
                   late_fee_kind=LateFeeKind.AMOUNT, late_fee_amount=D("15.00"), grace_days=5,
                   notes="Pays on Fridays"),
        today=TODAY,
    )  # fmt: skip
    assert edited.id == draft.id and edited.terms_version == 1
    assert [r.amount for r in edited.installments] == [D("400.00")] * 3
    assert [r.due_on for r in edited.installments][-1] == date(2027, 2, 14)
    assert (edited.late_fee_kind, edited.late_fee_amount, edited.grace_days, edited.notes) == (
        LateFeeKind.AMOUNT, D("15.00"), 5, "Pays on Fridays",
    )  # fmt: skip
    with pytest.raises(ConcurrentEditError):
        pp.update_payment_plan_draft(
            clinic.db, coordinator, draft.id, draft.version, plan_terms(), today=TODAY
        )


def test_custom_due_dates_are_stored(clinic, coordinator, patient_id):
    dates = (date(2027, 2, 3), date(2027, 2, 20), date(2027, 6, 1))
    view = pp.create_payment_plan(
        clinic.db, coordinator, patient_id,
        plan_terms(frequency=Frequency.CUSTOM, installment_count=3, custom_due_dates=dates),
        today=TODAY,
    )  # fmt: skip
    assert view.custom_due_dates == dates
    assert view.first_due_on == dates[0]


# --- signing and interest ------------------------------------------------------------------------


def test_signing_activates_and_charges_the_interest(clinic, signed_apr_plan, patient_id):
    plan = signed_apr_plan
    assert plan.status is PaymentPlanStatus.ACTIVE and plan.signed_at is not None
    assert plan.total_interest == sum(r.interest for r in plan.installments) > 0
    with clinic.db.uow() as session:
        (charge,) = session.scalars(select(Charge).where(Charge.patient_id == patient_id)).all()
        assert charge.kind == ChargeKind.OTHER.value
        assert charge.description == f"Finance charge, payment plan #{plan.id}"
        assert charge.amount == plan.total_interest
    assert balance(clinic.db, patient_id) == plan.total_interest


def test_signing_twice_is_refused(clinic, coordinator, signed_apr_plan):
    with pytest.raises(ValidationError, match="already signed"):
        pp.sign_payment_plan(clinic.db, coordinator, signed_apr_plan.id, signed_apr_plan.version)
    with pytest.raises(ValidationError, match="Change terms"):
        pp.update_payment_plan_draft(
            clinic.db, coordinator, signed_apr_plan.id, signed_apr_plan.version, plan_terms()
        )


def test_a_plan_without_interest_posts_no_charge(clinic, coordinator, patient_id):
    draft = pp.create_payment_plan(clinic.db, coordinator, patient_id, plan_terms(), today=TODAY)
    pp.sign_payment_plan(clinic.db, coordinator, draft.id, draft.version, today=TODAY)
    assert balance(clinic.db, patient_id) == 0


# --- versions ------------------------------------------------------------------------------------


def test_changing_signed_terms_makes_a_new_version_financing_the_unpaid_part(
    clinic, coordinator, signed_apr_plan, patient_id
):
    old = signed_apr_plan
    first = old.installments[0]
    pay(clinic.db, patient_id, first.id, first.amount)
    pay(clinic.db, patient_id, old.installments[1].id, "50.00")
    pay(clinic.db, patient_id, old.installments[2].id, "99.00")
    today = date(2027, 2, 1)  # installment 1 was due on 31 Jan; 2-4 are not yet due
    old_view = pp.load_payment_plan(clinic.db, coordinator, old.id, today=today)
    unpaid = old_view.outstanding
    unearned = sum(min(r.interest, r.outstanding) for r in old_view.installments[1:])
    new = pp.revise_payment_plan(
        clinic.db, coordinator, old.id, old.version,
        plan_terms(total_amount=None, installment_count=6, apr_basis_points=0,
                   first_due_on=date(2027, 3, 1), plan_date=today),
        today=today,
    )  # fmt: skip
    assert (new.terms_version, new.supersedes_id, new.status) == (
        2, old.id, PaymentPlanStatus.ACTIVE,
    )  # fmt: skip
    assert new.financed_amount == unpaid - unearned
    assert sum(r.amount for r in new.installments) == unpaid - unearned
    assert [v.id for v in new.versions] == [old.id, new.id]
    kept = pp.load_payment_plan(clinic.db, coordinator, old.id, today=today)
    assert kept.status is PaymentPlanStatus.SUPERSEDED and kept.read_only
    assert kept.installments == tuple(r for r in old_view.installments), (
        "the old installments and what was paid of them are kept"
    )
    assert [v.id for v in kept.versions] == [old.id, new.id]
    with clinic.db.uow() as session:
        (credit,) = session.scalars(select(AccountAdjustment)).all()
        assert (credit.kind, credit.amount, credit.reason) == (
            "write_off", unearned, "Unearned plan interest",
        )  # fmt: skip
    # Balance: interest charged − unearned credited − payments; the new plan adds no interest.
    paid = first.amount + D("50.00") + D("99.00")
    assert balance(clinic.db, patient_id) == old.total_interest - unearned - paid
    with pytest.raises(ValidationError, match="earlier version"):
        pp.revise_payment_plan(
            clinic.db, coordinator, old.id, kept.version, plan_terms(total_amount=None), today=today
        )
    with pytest.raises(ValidationError, match="earlier version"):
        pp.cancel_payment_plan(clinic.db, coordinator, old.id, kept.version, "moved away")


def test_a_revision_refuses_a_stale_version_and_a_wrong_total(clinic, coordinator, signed_apr_plan):
    with pytest.raises(ConcurrentEditError):
        pp.revise_payment_plan(
            clinic.db, coordinator, signed_apr_plan.id, signed_apr_plan.version - 1,
            plan_terms(total_amount=None), today=TODAY,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="still unpaid"):
        pp.revise_payment_plan(
            clinic.db, coordinator, signed_apr_plan.id, signed_apr_plan.version,
            plan_terms(total_amount=D("5.00")), today=TODAY,
        )  # fmt: skip
    # Nothing was written by the refusals.
    assert pp.load_payment_plan(clinic.db, coordinator, signed_apr_plan.id).versions == (
        signed_apr_plan.versions
    )


def test_a_draft_cannot_be_revised(clinic, coordinator, patient_id):
    draft = pp.create_payment_plan(clinic.db, coordinator, patient_id, plan_terms(), today=TODAY)
    with pytest.raises(ValidationError, match="still a draft"):
        pp.revise_payment_plan(clinic.db, coordinator, draft.id, draft.version, plan_terms())


# --- cancelling ----------------------------------------------------------------------------------


def test_cancelling_credits_back_the_interest_not_yet_due(
    clinic, coordinator, signed_apr_plan, patient_id
):
    plan = signed_apr_plan
    today = date(2027, 3, 1)  # installments 1 (31 Jan) and 2 (28 Feb) are due; 3 and 4 are not
    cancelled = pp.cancel_payment_plan(
        clinic.db, coordinator, plan.id, plan.version, "  Paid in full elsewhere ", today=today
    )
    assert cancelled.status is PaymentPlanStatus.CANCELLED
    assert cancelled.cancel_reason == "Paid in full elsewhere"
    unearned = plan.installments[2].interest + plan.installments[3].interest
    assert balance(clinic.db, patient_id) == plan.total_interest - unearned
    with pytest.raises(ValidationError, match="was canceled"):
        pp.revise_payment_plan(clinic.db, coordinator, plan.id, cancelled.version, plan_terms())
    with pytest.raises(ValidationError, match="was canceled"):
        pp.sign_payment_plan(clinic.db, coordinator, plan.id, cancelled.version)


def test_cancelling_needs_a_reason(clinic, coordinator, signed_apr_plan):
    with pytest.raises(ValidationError, match="Say why") as error:
        pp.cancel_payment_plan(clinic.db, coordinator, signed_apr_plan.id, 1, "   ")
    assert error.value.field == "reason"


# --- reading -------------------------------------------------------------------------------------


def test_installment_states_and_days_late(clinic, coordinator, patient_id):
    draft = pp.create_payment_plan(clinic.db, coordinator, patient_id, plan_terms(), today=TODAY)
    plan = pp.sign_payment_plan(clinic.db, coordinator, draft.id, draft.version, today=TODAY)
    rows = plan.installments
    pay(clinic.db, patient_id, rows[0].id, "300.00")
    pay(clinic.db, patient_id, rows[1].id, "100.00")
    pay(clinic.db, patient_id, rows[2].id, "20.00")
    with clinic.db.uow() as session:  # a voided payment counts for nothing
        payment = Payment(patient_id=patient_id, method="cash", amount=D("280.00"))
        session.add(payment)
        session.flush()
        session.add(PaymentAllocation(payment_id=payment.id, installment_id=rows[2].id,
                                      amount=D("280.00")))  # fmt: skip
        payment.voided_at = payment.received_at
        payment.voided_by_id = coordinator.staff_id
        payment.void_reason = "Card declined"
    view = pp.load_payment_plan(clinic.db, coordinator, plan.id, today=date(2027, 3, 5))
    states = [(r.state, r.days_late, r.paid, r.outstanding) for r in view.installments]
    assert states == [
        (InstallmentState.PAID, 0, D("300.00"), D("0.00")),
        (InstallmentState.OVERDUE, 5, D("100.00"), D("200.00")),
        (InstallmentState.PARTLY_PAID, 0, D("20.00"), D("280.00")),
        (InstallmentState.UPCOMING, 0, D("0.00"), D("300.00")),
    ]
    on_the_day = pp.load_payment_plan(clinic.db, coordinator, plan.id, today=date(2027, 4, 30))
    assert on_the_day.installments[3].state is InstallmentState.DUE
    (summary,) = pp.list_payment_plans(clinic.db, coordinator, patient_id, today=date(2027, 3, 5))
    assert (summary.paid, summary.outstanding, summary.overdue_amount) == (
        D("420.00"), D("780.00"), D("200.00"),
    )  # fmt: skip
    assert (summary.next_due_on, summary.next_due_amount) == (date(2027, 2, 28), D("200.00"))


def test_missing_things_are_not_found(clinic, coordinator):
    with pytest.raises(NotFoundError):
        pp.load_payment_plan(clinic.db, coordinator, 999)
    with pytest.raises(NotFoundError):
        pp.list_payment_plans(clinic.db, coordinator, 999)
    with pytest.raises(NotFoundError):
        pp.create_payment_plan(clinic.db, coordinator, 999, plan_terms())


# --- late fees -----------------------------------------------------------------------------------


def _late_fee_plan(db, actor, patient_id, **changes):
    terms = plan_terms(grace_days=3, **changes)
    draft = pp.create_payment_plan(db, actor, patient_id, terms, today=TODAY)
    return pp.sign_payment_plan(db, actor, draft.id, draft.version, today=TODAY)


def test_late_fees_after_the_grace_days_once_only(clinic, coordinator, patient_id):
    plan = _late_fee_plan(
        clinic.db, coordinator, patient_id, late_fee_kind=LateFeeKind.AMOUNT,
        late_fee_amount=D("25.00"),
    )  # fmt: skip
    # Due 31 Jan, 3 grace days: still in grace on 3 Feb.
    assert pp.assess_late_fees(clinic.db, None, date(2027, 2, 3)) == []
    (fee,) = pp.assess_late_fees(clinic.db, None, date(2027, 2, 4))
    assert (fee.installment_id, fee.amount, fee.payment_plan_id) == (
        plan.installments[0].id, D("25.00"), plan.id,
    )  # fmt: skip
    assert pp.assess_late_fees(clinic.db, None, date(2027, 2, 10)) == []
    assert balance(clinic.db, patient_id) == D("25.00")
    with clinic.db.uow() as session:
        charge = session.get(Charge, fee.charge_id)
        assert charge.kind == ChargeKind.LATE_PAYMENT_FEE.value
        assert "installment 1" in charge.description
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "charges", AuditEntry.entity_id == charge.id
            )
        ).one()
        assert audit.username == "system"


def test_percent_fees_are_rounded_and_paid_installments_skipped(clinic, coordinator, patient_id):
    plan = _late_fee_plan(
        clinic.db, coordinator, patient_id, total_amount=D("1000.00"), installment_count=3,
        late_fee_kind=LateFeeKind.PERCENT, late_fee_basis_points=525,
    )  # fmt: skip
    pay(clinic.db, patient_id, plan.installments[0].id, plan.installments[0].amount)
    pay(clinic.db, patient_id, plan.installments[1].id, "100.00")
    fees = pp.assess_late_fees(clinic.db, coordinator, date(2027, 3, 10))
    # Installment 2: 333.33 − 100 = 233.33 late; 5.25 % = 12.249825 → 12.25.
    assert [(f.installment_id, f.amount) for f in fees] == [(plan.installments[1].id, D("12.25"))]


def test_no_late_fees_on_plans_without_a_rule_drafts_or_cancelled(clinic, coordinator, patient_id):
    _late_fee_plan(clinic.db, coordinator, patient_id)
    pp.create_payment_plan(
        clinic.db, coordinator, patient_id,
        plan_terms(late_fee_kind=LateFeeKind.AMOUNT, late_fee_amount=D("5")), today=TODAY,
    )  # fmt: skip
    cancelled = _late_fee_plan(
        clinic.db, coordinator, patient_id, late_fee_kind=LateFeeKind.AMOUNT,
        late_fee_amount=D("5"),
    )  # fmt: skip
    pp.cancel_payment_plan(clinic.db, coordinator, cancelled.id, cancelled.version, "Stopped")
    assert pp.assess_late_fees(clinic.db, None, date(2028, 1, 1)) == []


# --- refusals and permissions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"total_amount": D("-1")}, "total_amount"),
        ({"total_amount": D("10.001")}, "total_amount"),
        ({"installment_count": 0}, "installment_count"),
        ({"installment_count": None, "installment_amount": D("5000")}, "installment_amount"),
        ({"apr_basis_points": 3700}, "apr"),
        ({"first_due_on": date(2027, 1, 9)}, "first_due_on"),
        ({"late_fee_kind": LateFeeKind.AMOUNT}, "late_fee"),
        ({"late_fee_kind": LateFeeKind.AMOUNT, "late_fee_amount": D("1.005")}, "late_fee"),
        ({"late_fee_kind": LateFeeKind.PERCENT, "late_fee_basis_points": 0}, "late_fee"),
        ({"late_fee_kind": LateFeeKind.PERCENT, "late_fee_basis_points": 10001}, "late_fee"),
        ({"grace_days": -1}, "grace_days"),
        ({"grace_days": 366}, "grace_days"),
        ({"total_amount": None}, "total_amount"),
    ],
)
def test_bad_terms_write_nothing(clinic, coordinator, patient_id, changes, field):
    with pytest.raises(ValidationError) as error:
        pp.create_payment_plan(clinic.db, coordinator, patient_id, plan_terms(**changes))
    assert error.value.field == field
    assert pp.list_payment_plans(clinic.db, coordinator, patient_id) == []


def test_the_apr_cap_is_the_clinics_setting(clinic, coordinator, patient_id):
    from app.data.models.clinic import ClinicSettings

    with clinic.db.uow() as session:
        session.get(ClinicSettings, 1).max_apr_basis_points = 1000
    with pytest.raises(ValidationError, match=r"legal cap of 10\.00 %"):
        pp.create_payment_plan(
            clinic.db, coordinator, patient_id, plan_terms(apr_basis_points=1200)
        )


def test_who_may_do_what(clinic, make_staff, patient_id, signed_apr_plan):
    receptionist = make_staff("rita", "receptionist")
    provider = make_staff("paul", "provider")
    assert pp.load_payment_plan(clinic.db, receptionist, signed_apr_plan.id).id
    assert pp.list_payment_plans(clinic.db, receptionist, patient_id)
    for attempt in (
        lambda: pp.create_payment_plan(clinic.db, receptionist, patient_id, plan_terms()),
        lambda: pp.cancel_payment_plan(
            clinic.db, receptionist, signed_apr_plan.id, signed_apr_plan.version, "x"
        ),
        lambda: pp.revise_payment_plan(
            clinic.db, receptionist, signed_apr_plan.id, signed_apr_plan.version, plan_terms()
        ),
        lambda: pp.assess_late_fees(clinic.db, receptionist, TODAY),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()
    assert pp.create_payment_plan(clinic.db, provider, patient_id, plan_terms()).id


# --- custom due dates typed in the clinic's format -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("1/31/2027", "en_US", date(2027, 1, 31)),
        ("1/31/27", "en_US", date(2027, 1, 31)),
        ("31/1/2027", "es_ES", date(2027, 1, 31)),
        ("31/01/2027", "en_GB", date(2027, 1, 31)),
        ("31.01.2027", "de_DE", date(2027, 1, 31)),
        ("2027-01-31", "en_US", date(2027, 1, 31)),  # ISO is always understood
        ("2027-01-31", "es_ES", date(2027, 1, 31)),
        ("31/1/2027", "en_US", None),  # month first: 31 is not a month, never guessed
        ("2/30/2027", "en_US", None),
        ("1/31/202", "en_US", None),
        ("1/31", "en_US", None),
        ("Jan 31, 2027", "en_US", None),
        ("", "en_US", None),
    ],
)
def test_a_due_date_is_read_in_the_clinics_format(text, locale, expected):
    assert pp.parse_due_date(text, locale) == expected


@pytest.mark.parametrize(
    ("locale", "shown"),
    [("en_US", "1/31/2027"), ("es_ES", "31/1/2027"), ("de_DE", "31.01.2027")],
)
def test_a_due_date_is_shown_in_the_clinics_format_and_reads_back(locale, shown):
    assert pp.format_due_date(date(2027, 1, 31), locale) == shown
    assert pp.parse_due_date(shown, locale) == date(2027, 1, 31)


def test_a_list_of_due_dates_names_the_first_bad_one():
    assert pp.parse_due_dates("31/1/2027; 28/2/2027\n2027-03-31  30/4/2027", "es_ES") == (
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30),
    )  # fmt: skip
    assert pp.parse_due_dates("  ", "en_US") == ()
    with pytest.raises(ValidationError) as refused:
        pp.parse_due_dates("1/31/2027, 31/2/2027, 3/31/2027", "en_US", example=date(2028, 1, 31))
    assert refused.value.field == "custom_due_dates"
    assert str(refused.value) == (
        "“31/2/2027” is not a date; type dates like 1/31/2028, separated by commas."
    )
