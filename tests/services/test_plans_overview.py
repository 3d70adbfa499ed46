"""The Plans & Payments page's figures: open plans, unscheduled phases, payment plans,
the collections queue, the day's payments and the close-out of the drawer."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.data.models.communications import CommunicationEntry, Purpose
from app.data.models.payments import (
    DayCloseOut,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentPlan,
)
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.services.billing import balances
from app.services.billing import plans_overview as po
from app.services.errors import PermissionDeniedError, ValidationError
from tests.data.factories import add_appointment, add_patient, add_provider

TODAY = date(2026, 6, 15)
D = Decimal


# --- builders (ORM rows, not the other engineers' services) ------------------------------------


def _at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add_plan(
    session,
    patient,
    *,
    status="presented",
    phases=(("accepted", (("100.00", 1, "0.00", "80.00", "accepted"),)),),
    title="Implant #14",
    option="",
    created=date(2026, 5, 1),
    presented=None,
    decided=None,
):
    """A plan with phases of (status, items of (fee, qty, discount, portion, item status))."""
    plan = TreatmentPlan(
        patient_id=patient.id,
        title=title,
        alternative_label=option,
        status=status,
        created_at=_at(created),
        presented_at=_at(presented) if presented else None,
        decided_at=_at(decided) if decided else None,
    )
    session.add(plan)
    session.flush()
    for position, (phase_status, items) in enumerate(phases):
        phase = TreatmentPhase(
            plan_id=plan.id,
            position=position,
            title=f"Phase {position + 1}",
            status=phase_status,
            decided_at=_at(decided) if decided else None,
        )
        session.add(phase)
        session.flush()
        for n, (fee, qty, discount, portion, item_status) in enumerate(items):
            session.add(
                TreatmentItem(
                    phase_id=phase.id,
                    position=n,
                    description=f"Item {n}",
                    quantity=qty,
                    fee=D(fee),
                    discount=D(discount),
                    patient_portion=D(portion),
                    status=item_status,
                )
            )
    session.flush()
    return plan


def add_payment_plan(session, patient, dues, *, status="active", amount="100.00"):
    """An active payment plan with one installment of ``amount`` per due date."""
    total = D(amount) * len(dues)
    plan = PaymentPlan(
        patient_id=patient.id,
        status=status,
        plan_date=dues[0] - timedelta(days=30),
        total_amount=total,
        financed_amount=total,
        installment_count=len(dues),
        first_due_on=dues[0],
    )
    session.add(plan)
    session.flush()
    remaining = total
    for n, due in enumerate(dues, start=1):
        remaining -= D(amount)
        session.add(
            Installment(
                payment_plan_id=plan.id,
                sequence=n,
                due_on=due,
                amount=D(amount),
                principal=D(amount),
                balance_after=remaining,
            )
        )
    session.flush()
    return plan


def installments_of(session, plan):
    return session.scalars(
        select(Installment)
        .where(Installment.payment_plan_id == plan.id)
        .order_by(Installment.sequence)
    ).all()


def pay(
    session,
    patient,
    amount,
    *,
    method="cash",
    kind="payment",
    to=(),
    when=None,
    voided=False,
    staff_id=None,
    reference="",
):
    payment = Payment(
        patient_id=patient.id,
        kind=kind,
        method=method,
        amount=D(amount),
        received_at=when or _at(TODAY),
        reference=reference,
        received_by_id=staff_id,
    )
    if voided:
        payment.voided_at = _at(TODAY)
        payment.voided_by_id = staff_id or 1
        payment.void_reason = "Entered twice"
    session.add(payment)
    session.flush()
    for installment, part in to:
        session.add(
            PaymentAllocation(payment_id=payment.id, installment_id=installment.id, amount=D(part))
        )
        if not voided:  # what the payments service keeps beside each allocation
            installment.paid_amount += D(part)
    session.flush()
    return payment


def every_page(read, size: int) -> list:
    """Read a list page by page until a short page, as a lazy view does while it scrolls."""
    rows: list = []
    while True:
        page = read(len(rows), size)
        rows.extend(page)
        if len(page) < size:
            return rows


@pytest.fixture
def provider_actor(make_staff):
    return make_staff("pia", "provider", "Pia Provider")


@pytest.fixture
def receptionist_actor(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


# --- open plans --------------------------------------------------------------------------------


def test_open_plans_counts_and_values_by_status(clinic, owner):
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Alvarez")
        ben = add_patient(s, first_name="Ben", last_name="Brook")
        add_plan(
            s,
            ana,
            status="draft",
            phases=(("draft", (("50.00", 2, "10.00", "90.00", "proposed"),)),),
        )
        add_plan(s, ben, status="presented", presented=date(2026, 6, 1))
        # Partly accepted: the declined item and the declined phase are not counted.
        add_plan(
            s,
            ben,
            status="partly_accepted",
            decided=date(2026, 6, 10),
            phases=(
                (
                    "accepted",
                    (
                        ("200.00", 1, "0.00", "150.00", "accepted"),
                        ("999.00", 1, "0.00", "999.00", "declined"),
                    ),
                ),
                ("declined", (("500.00", 1, "0.00", "500.00", "proposed"),)),
            ),
        )
        add_plan(s, ana, status="completed")
        add_plan(s, ana, status="declined")
    totals_in_order = po.open_plan_totals(clinic.db, owner)
    lines = po.open_plans(clinic.db, owner, today=TODAY)
    totals = {t.status: t for t in totals_in_order}
    assert [t.status for t in totals_in_order] == list(po.OPEN_STATUSES)
    assert (totals["draft"].count, totals["draft"].total, totals["draft"].patient_portion) == (
        1,
        D("90.00"),
        D("90.00"),
    )
    assert (totals["presented"].count, totals["presented"].total) == (1, D("100.00"))
    assert totals["presented"].patient_portion == D("80.00")
    assert (totals["partly_accepted"].total, totals["partly_accepted"].patient_portion) == (
        D("200.00"),
        D("150.00"),
    )
    assert totals["accepted"].count == 0 and totals["accepted"].total == D("0.00")
    assert sum(t.count for t in totals_in_order) == len(lines) == 3
    # Newest first; completed and declined plans are not open.
    assert [line.status for line in lines] == ["partly_accepted", "presented", "draft"]
    partly, presented, draft = lines
    assert partly.days_in_status == 5 and partly.decided_on == date(2026, 6, 10)
    assert presented.days_in_status == 14
    assert draft.days_in_status == (TODAY - date(2026, 5, 1)).days
    assert partly.patient_name == "Brook, Ben"


def test_open_plans_filter_limit_and_bad_status(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        for n in range(5):
            add_plan(s, patient, status="presented", presented=date(2026, 6, 1 + n), title=f"P{n}")
        add_plan(s, patient, status="draft")
    page = po.open_plans(clinic.db, owner, status="presented", limit=2, offset=1, today=TODAY)
    assert [line.title for line in page] == ["P3", "P2"]
    totals = {t.status: t.count for t in po.open_plan_totals(clinic.db, owner)}
    assert totals["presented"] == 5
    with pytest.raises(ValidationError) as error:
        po.open_plans(clinic.db, owner, status="completed")
    assert error.value.field == "status"


def test_open_plan_option_label_is_shown(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        add_plan(s, patient, option="Option B")
    (line,) = po.open_plans(clinic.db, owner, today=TODAY)
    assert line.option == "Option B"


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_open_plan_pages_add_up_to_the_whole_list_once(clinic, owner, size):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        # Plans on the same days: their order still holds from one page to the next.
        for n in range(7):
            presented = date(2026, 6, 1) if n % 2 else None
            add_plan(s, patient, status="presented" if n % 2 else "draft", presented=presented)
    for status, count in ((None, 7), ("presented", 3), ("draft", 4)):
        whole = po.open_plans(clinic.db, owner, status=status, limit=100, today=TODAY)
        paged = every_page(
            lambda offset, limit, status=status: po.open_plans(
                clinic.db, owner, status=status, offset=offset, limit=limit, today=TODAY
            ),
            size,
        )
        assert paged == whole and len(paged) == count
        assert len({line.plan_id for line in paged}) == count
        assert status is None or {line.status for line in paged} == {status}


# --- accepted, not scheduled -------------------------------------------------------------------


def test_accepted_phases_without_a_live_visit_oldest_first(clinic, owner):
    with clinic.db.uow() as s:
        provider = add_provider(s)
        old = add_patient(s, first_name="Olga", last_name="Old", mobile_phone="+12075550100")
        new = add_patient(s, first_name="Nina", last_name="New")
        booked = add_patient(s, first_name="Bo", last_name="Booked")
        cancelled = add_patient(s, first_name="Cy", last_name="Cancelled")
        declined = add_patient(s, first_name="Di", last_name="Declined")
        add_plan(s, new, status="accepted", decided=date(2026, 6, 1))
        add_plan(s, old, status="in_progress", decided=date(2026, 3, 1))
        plan = add_plan(s, booked, status="accepted", decided=date(2026, 2, 1))
        add_appointment(s, booked, provider, treatment_phase_id=plan.phases[0].id)
        plan = add_plan(s, cancelled, status="partly_accepted", decided=date(2026, 1, 1))
        add_appointment(
            s, cancelled, provider, treatment_phase_id=plan.phases[0].id, status="cancelled"
        )
        add_appointment(
            s, cancelled, provider, treatment_phase_id=plan.phases[0].id, status="no_show"
        )
        add_plan(s, declined, status="declined", decided=date(2025, 1, 1))
        # A presented (not yet accepted) phase of an accepted plan is not waiting either.
        add_plan(s, new, status="accepted", decided=date(2025, 1, 1),
                 phases=(("presented", (("10.00", 1, "0.00", "10.00", "proposed"),)),))  # fmt: skip
    lines = po.accepted_not_scheduled(clinic.db, owner, today=TODAY)
    assert [line.patient_name for line in lines] == ["Cancelled, Cy", "Old, Olga", "New, Nina"]
    assert lines[1].days_waiting == (TODAY - date(2026, 3, 1)).days
    assert lines[1].phone == "(207) 555-0100"
    assert lines[1].total == D("100.00") and lines[1].patient_portion == D("80.00")
    assert lines[0].accepted_on == date(2026, 1, 1)


@pytest.mark.parametrize("size", [1, 2, 4])
def test_unscheduled_phase_pages_add_up_to_the_whole_list_once(clinic, owner, size):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        # Undated decisions sort first, and several phases share a day.
        for decided in (None, date(2026, 6, 1), None, date(2026, 6, 1), date(2026, 5, 1)):
            add_plan(s, patient, status="accepted", decided=decided)
        add_plan(s, patient, status="presented")  # not accepted: never listed
    whole = po.accepted_not_scheduled(clinic.db, owner, today=TODAY)
    paged = every_page(
        lambda offset, limit: po.accepted_not_scheduled(
            clinic.db, owner, offset=offset, limit=limit, today=TODAY
        ),
        size,
    )
    assert paged == whole and len(paged) == 5
    assert len({line.phase_id for line in paged}) == 5


# --- payment plans and the collections queue ---------------------------------------------------


def test_payment_plans_due_overdue_next_and_paid(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s, first_name="Paula", last_name="Plan")
        dues = [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)]
        plan = add_payment_plan(s, patient, dues)
        first, second, _third, fourth = installments_of(s, plan)
        pay(s, patient, "100.00", to=[(first, "100.00")])
        pay(s, patient, "30.00", to=[(second, "30.00")])
        pay(s, patient, "100.00", to=[(fourth, "100.00")], voided=True)  # counts for nothing
        # A cancelled plan is not listed.
        add_payment_plan(s, patient, dues, status="cancelled")
        plan_id = plan.id
    (line,) = po.payment_plans_due(clinic.db, owner, today=TODAY)
    assert line.payment_plan_id == plan_id
    assert (line.overdue_count, line.overdue_amount) == (2, D("170.00"))
    assert line.days_late == (TODAY - date(2026, 5, 1)).days
    assert (line.next_due_on, line.next_due_amount) == (date(2026, 7, 1), D("100.00"))
    assert line.paid_to_date == D("130.00")


def test_payment_plan_with_nothing_overdue_sorts_after_late_ones(clinic, owner):
    with clinic.db.uow() as s:
        early = add_patient(s, last_name="Early")
        late = add_patient(s, last_name="Late")
        plan = add_payment_plan(s, early, [date(2026, 6, 1), date(2026, 6, 20)])
        pay(s, early, "150.00", to=[(installments_of(s, plan)[0], "100.00"),
                                    (installments_of(s, plan)[1], "50.00")])  # fmt: skip
        add_payment_plan(s, late, [date(2026, 6, 10)])
    lines = po.payment_plans_due(clinic.db, owner, today=TODAY)
    assert [line.patient_name.split(",")[0] for line in lines] == ["Late", "Early"]
    assert lines[1].overdue_count == 0 and lines[1].days_late == 0
    # Half of the next installment is paid: what is left is due.
    assert (lines[1].next_due_on, lines[1].next_due_amount) == (date(2026, 6, 20), D("50.00"))
    assert lines[0].next_due_on is None


@pytest.fixture
def plans_due(clinic) -> dict[str, int]:
    """Active payment plans in an order with ties on every key but the plan: several as late,
    due next on the same day, under the same name."""
    with clinic.db.uow() as s:
        ids = {}
        for n in range(4):
            patient = add_patient(s, first_name="Ann", last_name="Tie")
            ids[f"tie{n}"] = add_payment_plan(s, patient, [date(2026, 5, 1), date(2026, 7, 1)]).id
        # The name is compared as the line shows it: "Van Dyke, Bo" before "Van, Al".
        for first, last in (("Al", "Van"), ("Bo", "Van Dyke")):
            patient = add_patient(s, first_name=first, last_name=last)
            ids[last] = add_payment_plan(s, patient, [date(2026, 5, 1), date(2026, 7, 1)]).id
        twice = add_patient(s, first_name="Two", last_name="Plans")
        ids["later"] = add_payment_plan(s, twice, [date(2026, 6, 1)]).id
        ids["coming"] = add_payment_plan(s, twice, [date(2026, 6, 20)]).id
        done = add_patient(s, first_name="Dana", last_name="Done")
        plan = add_payment_plan(s, done, [date(2026, 4, 1)])
        pay(s, done, "100.00", to=[(installments_of(s, plan)[0], "100.00")])
        ids["paid"] = plan.id
        add_payment_plan(s, done, [date(2026, 4, 1)], status="cancelled")  # never listed
    return ids


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=11))
def test_payment_plan_pages_add_up_to_the_whole_list_once(clinic, owner, plans_due, size):
    whole = po.payment_plans_due(clinic.db, owner, today=TODAY)
    paged = every_page(
        lambda offset, limit: po.payment_plans_due(
            clinic.db, owner, offset=offset, limit=limit, today=TODAY
        ),
        size,
    )
    assert paged == whole
    assert [line.payment_plan_id for line in paged] == [
        plans_due[key]
        for key in ("tie0", "tie1", "tie2", "tie3", "Van Dyke", "Van", "later", "coming", "paid")
    ]
    # Most days late first, then the next due date, the name and the plan.
    assert whole == sorted(
        whole,
        key=lambda line: (
            -line.days_late,
            line.next_due_on or date.max,
            line.patient_name,
            line.payment_plan_id,
        ),
    )
    totals = po.payment_plan_totals(clinic.db, owner, today=TODAY)
    assert totals.plan_count == len(whole) == 9
    assert totals.overdue_count == sum(1 for line in whole if line.overdue_count) == 7


def test_payment_plan_pages_refuse_a_page_below_zero_and_need_view_plans(
    clinic, owner, receptionist_actor, monkeypatch
):
    for page in ({"offset": -1}, {"limit": -1}):
        with pytest.raises(ValidationError) as error:
            po.payment_plans_due(clinic.db, owner, **page)
        assert error.value.field == "limit"
    assert po.payment_plan_totals(clinic.db, receptionist_actor) == po.PaymentPlanTotals(0, 0)
    from app.services.clinic import permissions

    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, receptionist_actor.role, frozenset())
    with pytest.raises(PermissionDeniedError):
        po.payment_plan_totals(clinic.db, receptionist_actor)


def balances_for(db, actor, patient_id):
    from app.services.billing.balances import patient_balance_for

    return patient_balance_for(db, actor, patient_id)


def test_collections_queue_one_line_per_patient_longest_overdue_first(clinic, owner):
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Alvarez", mobile_phone="+12075550111")
        ben = add_patient(s, first_name="Ben", last_name="Brook")
        paid_up = add_patient(s, first_name="Pat", last_name="Paid")
        not_yet = add_patient(s, first_name="Nat", last_name="Notyet")
        # Ana: two plans, both overdue; one line, the older plan named.
        a1 = add_payment_plan(s, ana, [date(2026, 5, 20), date(2026, 6, 20)])
        a2 = add_payment_plan(s, ana, [date(2026, 6, 1)], amount="40.00")
        # Ben: older overdue, partly paid; a voided payment does not reduce it.
        b = add_payment_plan(s, ben, [date(2026, 3, 15), date(2026, 4, 15)])
        b1, _b2 = installments_of(s, b)
        pay(s, ben, "25.00", to=[(b1, "25.00")])
        pay(s, ben, "75.00", to=[(b1, "75.00")], voided=True)
        p = add_payment_plan(s, paid_up, [date(2026, 5, 1)])
        pay(s, paid_up, "100.00", to=[(installments_of(s, p)[0], "100.00")])
        add_payment_plan(s, not_yet, [date(2026, 6, 15)])  # due today: not late yet
        add_payment_plan(s, not_yet, [date(2026, 1, 1)], status="superseded")
        s.add(
            CommunicationEntry(
                patient_id=ben.id,
                occurred_at=_at(date(2026, 6, 2)),
                channel="call",
                direction="outbound",
                purpose=Purpose.COLLECTIONS.value,
                outcome="left_message",
            )
        )
        s.add(  # a recall call is not a collections contact
            CommunicationEntry(
                patient_id=ana.id,
                occurred_at=_at(date(2026, 6, 3)),
                channel="call",
                direction="outbound",
                purpose=Purpose.RECALL.value,
            )
        )
        ids = (ana.id, ben.id, a1.id, a2.id, b.id)
    ana_id, ben_id, a1_id, a2_id, b_id = ids
    lines = po.collections_queue(clinic.db, owner, today=TODAY)
    assert [line.patient_id for line in lines] == [ben_id, ana_id]
    totals = po.collections_totals(clinic.db, owner, today=TODAY)
    assert (totals.patient_count, totals.amount_overdue) == (2, D("315.00"))
    ben_line, ana_line = lines
    assert ben_line.days_overdue == (TODAY - date(2026, 3, 15)).days
    assert (ben_line.amount_overdue, ben_line.installments_overdue) == (D("175.00"), 2)
    assert ben_line.payment_plan_id == b_id
    assert ben_line.last_contact_at == _at(date(2026, 6, 2))
    # The same balance as the record header (no charges here: Ben's 25.00 is a credit).
    assert ben_line.balance == D("-25.00")
    assert [line.balance for line in lines] == [
        balances_for(clinic.db, owner, line.patient_id) for line in lines
    ]
    assert ben_line.last_contact_outcome == "left_message"
    assert (ana_line.amount_overdue, ana_line.installments_overdue) == (D("140.00"), 2)
    assert ana_line.payment_plan_id == a1_id and ana_line.payment_plan_ids == (a1_id, a2_id)
    assert ana_line.last_contact_at is None
    assert ana_line.phone == "(207) 555-0111"
    first = po.collections_queue(clinic.db, owner, today=TODAY, limit=1)
    assert [line.patient_id for line in first] == [ben_id]
    rest = po.collections_queue(clinic.db, owner, today=TODAY, limit=1, offset=1)
    assert rest == [ana_line]
    assert po.collection_line(clinic.db, owner, ana_id, today=TODAY) == ana_line


@pytest.mark.parametrize("size", [1, 2, 3, 6])
def test_collections_queue_pages_add_up_to_the_whole_queue_once(clinic, owner, size):
    with clinic.db.uow() as s:
        # Five patients exactly as late and owing as much: the patient breaks the tie.
        for _ in range(5):
            add_payment_plan(s, add_patient(s), [date(2026, 5, 1)])
        add_payment_plan(s, add_patient(s), [date(2026, 4, 1)])
        paid = add_patient(s)
        plan = add_payment_plan(s, paid, [date(2026, 4, 1)])
        pay(s, paid, "100.00", to=[(installments_of(s, plan)[0], "100.00")])
    whole = po.collections_queue(clinic.db, owner, today=TODAY)
    paged = every_page(
        lambda offset, limit: po.collections_queue(
            clinic.db, owner, offset=offset, limit=limit, today=TODAY
        ),
        size,
    )
    assert paged == whole and len(paged) == 6
    assert len({line.patient_id for line in paged}) == 6
    assert po.collections_totals(clinic.db, owner, today=TODAY).patient_count == 6
    assert paged[0].oldest_due_on == date(2026, 4, 1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_collections_queue_agrees_with_balances_installment_paid(clinic, owner, seed):
    """The queue's grouped query and a plain walk over balances.installment_paid agree
    (random payments, some voided, some partial)."""
    rng = random.Random(seed)
    with clinic.db.uow() as s:
        for _ in range(6):
            patient = add_patient(s)
            dues = [date(2026, 1, 10) + timedelta(days=30 * k) for k in range(rng.randint(1, 7))]
            plan = add_payment_plan(s, patient, dues, amount=f"{rng.randint(20, 90)}.50")
            for installment in installments_of(s, plan):
                if rng.random() < 0.6:
                    part = (
                        D(rng.randint(1, int(installment.amount)))
                        if rng.random() < 0.5
                        else (installment.amount)
                    )
                    pay(s, patient, part, to=[(installment, part)], voided=rng.random() < 0.3)
    with clinic.db.uow() as s:
        # What the queue reads (paid_amount) is what the live allocations say.
        assert balances.unbalanced_installments(s) == []
        expected: dict[int, tuple[Decimal, int, date]] = {}
        active = s.scalars(select(PaymentPlan).where(PaymentPlan.status == "active")).all()
        for plan in active:
            paid = balances.plan_installments_paid(s, plan.id)
            for installment in plan.installments:
                owed = installment.amount - paid[installment.id]
                if installment.due_on < TODAY and owed > 0:
                    amount, count, oldest = expected.get(plan.patient_id, (D(0), 0, date.max))
                    expected[plan.patient_id] = (
                        amount + owed,
                        count + 1,
                        min(oldest, installment.due_on),
                    )
    got = {
        line.patient_id: (line.amount_overdue, line.installments_overdue, line.oldest_due_on)
        for line in po.collections_queue(clinic.db, owner, today=TODAY)
    }
    assert got == expected
    assert got  # the random data has something overdue


# --- the day's payments and the close-out ------------------------------------------------------


def test_payments_by_method_nets_refunds_and_skips_voided(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s, first_name="Cara", last_name="Cash")
        pay(s, patient, "50.00", staff_id=owner.staff_id, reference="R1")
        pay(s, patient, "20.00", kind="refund")
        pay(s, patient, "300.00", method="card")
        pay(s, patient, "999.00", method="card", voided=True)
        # 23:30 in New York on the 15th is the 16th in UTC: still the 15th's takings.
        pay(s, patient, "5.00", when=datetime(2026, 6, 16, 3, 30, tzinfo=UTC))
        # 23:30 on the 14th (New York) is not.
        pay(s, patient, "7.00", when=datetime(2026, 6, 15, 3, 30, tzinfo=UTC))
    day = po.payments_by_method(clinic.db, owner, TODAY)
    totals = {t.method: t for t in day.totals}
    assert [t.method for t in day.totals] == list(po.METHODS)
    assert totals["cash"].net == D("35.00") and totals["cash"].count == 3
    assert (totals["cash"].received, totals["cash"].refunded) == (D("55.00"), D("20.00"))
    assert totals["card"].net == D("300.00") and totals["card"].count == 1
    assert totals["cheque"].net == D("0.00")
    assert day.net_total == D("335.00")
    assert [line.amount for line in day.lines] == [D("50.00"), D("-20.00"), D("300.00"), D("5.00")]
    assert day.lines[0].taken_by == "Olivia Owner" and day.lines[0].reference == "R1"
    assert day.lines[0].patient_name == "Cash, Cara"


def test_close_out_matching_count_needs_no_note_and_recount_wins(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        pay(s, patient, "80.00")
        pay(s, patient, "120.00", method="card")
    counted = {"cash": D("80.00"), "card": D("120.00")}
    first = po.close_out_day(clinic.db, owner, TODAY, counted, today=TODAY)
    assert first.balanced and first.difference == D("0.00")
    assert first.expected["cash"] == D("80.00") and first.closed_by == "Olivia Owner"
    second = po.close_out_day(
        clinic.db, owner, TODAY, {"cash": D("70.00"), "card": D("120.00")}, "  ten  short ",
        today=TODAY,
    )  # fmt: skip
    assert second.difference == D("-10.00") and not second.balanced
    assert second.difference_of("cash") == D("-10.00") and second.note == "ten short"
    assert po.last_close_out(clinic.db, owner, TODAY) == second
    assert po.last_close_out(clinic.db, owner, TODAY - timedelta(days=1)) is None
    with clinic.db.uow() as s:
        rows = s.scalars(select(DayCloseOut).order_by(DayCloseOut.id)).all()
        assert len(rows) == 2  # the first count is kept
        assert json.loads(rows[1].counted)["cash"] == "70.00"


def test_close_out_difference_that_nets_to_zero_still_needs_a_note(clinic, owner):
    with clinic.db.uow() as s:
        patient = add_patient(s)
        pay(s, patient, "50.00")
        pay(s, patient, "50.00", method="card")
    swapped = {"cash": D("40.00"), "card": D("60.00")}
    with pytest.raises(ValidationError) as error:
        po.close_out_day(clinic.db, owner, TODAY, swapped, today=TODAY)
    assert error.value.field == "note"
    with clinic.db.uow() as s:
        assert s.scalars(select(DayCloseOut)).all() == []


@pytest.mark.parametrize(
    ("counted", "field"),
    [
        ({"cash": D("-1.00")}, "cash"),
        ({"cash": D("1.001")}, "cash"),
        ({"cash": 1.5}, "cash"),
        ({"cash": D("NaN")}, "cash"),
        ({"bitcoin": D("1.00")}, "counted"),
    ],
)
def test_close_out_refuses_bad_counts(clinic, owner, counted, field):
    with pytest.raises(ValidationError) as error:
        po.close_out_day(clinic.db, owner, TODAY, counted, "note", today=TODAY)
    assert error.value.field == field


def test_close_out_refuses_a_future_day_and_needs_take_payments(
    clinic, owner, provider_actor, receptionist_actor
):
    with pytest.raises(ValidationError) as error:
        po.close_out_day(clinic.db, owner, TODAY + timedelta(days=1), {}, today=TODAY)
    assert error.value.field == "day"
    with pytest.raises(PermissionDeniedError):
        po.close_out_day(clinic.db, provider_actor, TODAY, {}, today=TODAY)
    closed = po.close_out_day(clinic.db, receptionist_actor, TODAY, {}, today=TODAY)
    assert closed.balanced and closed.closed_by == "Rita Reception"
    # Every role sees the page's lists.
    assert po.collections_queue(clinic.db, provider_actor, today=TODAY) == []
