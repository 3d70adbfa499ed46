"""The month-end's patients-and-coordination figures on a small clinic whose every number is
worked out by hand below (docs/reports.md defines them).  The clinic is in New York: 10 pm
there on November 30th is 3 am on December 1st in UTC, and still November."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.notes import ConsultationNote
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.referrals import Referral
from app.services.errors import PermissionDeniedError
from app.services.reports import period as periods
from app.services.reports.coordination import Acceptance, coordination_figures
from app.services.reports.month_end import report_json
from tests.data.factories import (
    add_appointment,
    add_patient,
    add_provider,
    add_service,
    add_staff,
)

pytestmark = pytest.mark.both_backends

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
OCTOBER = periods.month(date(2026, 10, 1))
DECEMBER_SO_FAR = periods.Period(date(2026, 12, 1), date(2026, 12, 7))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


def at(day: date, hour: int = 15) -> datetime:
    """``hour`` UTC on ``day``: 10:00 (11:00 in summer) in New York."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def clinic_month(clinic, owner):
    """A clinic's November, written straight to its tables (the figures worked out below)."""
    with clinic.db.uow() as s:
        cora = add_staff(s, full_name="Cora Lane")
        okafor = add_provider(s, name="Daniel Okafor")
        lee = add_provider(s, name="Mina Lee")
        crown = add_service(s, name="Crown")
        cleaning = add_service(s, name="Cleaning", recall_interval_days=180)

        def patient(first, created, source=""):
            return add_patient(s, first_name=first, lead_source=source, created_at=created)

        def visit(who, starts, created, status="completed", **kw):
            return add_appointment(s, who, okafor, starts_at=starts,
                                   ends_at=starts + timedelta(minutes=30), status=status,
                                   created_at=created, **kw)  # fmt: skip

        def note(who, created):
            s.add(ConsultationNote(patient_id=who.id, author_id=owner.staff_id, created_at=created))

        ana = patient("Ana", at(date(2026, 10, 20)), "Google")
        ben = patient("Ben", at(date(2026, 11, 5)))
        cy = patient("Cy", at(date(2026, 11, 12)))
        hal = patient("Hal", at(date(2026, 11, 20)))
        ivy = patient("Ivy", at(date(2026, 10, 1)))
        dee = patient("Dee", at(date(2025, 1, 5)))
        eve = patient("Eve", at(date(2025, 1, 5)))
        fay = patient("Fay", at(date(2025, 1, 5)))
        gil = patient("Gil", at(date(2025, 1, 5)))

        # Ana: consultation Nov 2, booked Nov 3, seen (and first completed visit) Nov 10.
        note(ana, at(date(2026, 11, 2)))
        visit(ana, at(date(2026, 11, 10)), at(date(2026, 11, 3)), service_id=crown.id,
              seated_at=at(date(2026, 11, 10)))  # fmt: skip
        # Ben: booked Nov 6 without a consultation; seen 11:30 pm on Nov 30 in New York.
        late = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
        visit(ben, late, at(date(2026, 11, 6)), seated_at=late)
        # Hal: a consultation on Nov 21, nothing booked.
        note(hal, at(date(2026, 11, 21)))
        # Ivy: booked Nov 2, the consultation note after it (Nov 4): she skipped that stage.
        visit(ivy, at(date(2026, 12, 20)), at(date(2026, 11, 2)), status="scheduled")
        note(ivy, at(date(2026, 11, 4)))
        # Gil: first completed visit 11:30 pm on Oct 31 in New York (Nov 1 in UTC): October's.
        gil_at = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
        visit(gil, gil_at, at(date(2026, 10, 20)), seated_at=gil_at)

        # Recalls (cleaning, every 180 days from the visit's local date):
        # Dee seen May 14 → due Nov 10; booked Nov 25 for Dec 10.
        visit(dee, at(date(2026, 5, 14)), at(date(2026, 5, 1)), service_id=cleaning.id)
        visit(dee, at(date(2026, 12, 10)), at(date(2026, 11, 25)), status="scheduled")
        # Eve seen May 20 → due Nov 16; booked Nov 22 but cancelled Nov 23: not booked.
        visit(eve, at(date(2026, 5, 20)), at(date(2026, 5, 1)), service_id=cleaning.id)
        visit(eve, at(date(2026, 12, 12)), at(date(2026, 11, 22)), status="cancelled",
              cancelled_at=at(date(2026, 11, 23)))  # fmt: skip
        # Fay seen 10:30 pm on June 3 in New York (June 4 in UTC) → due Nov 30: November's.
        visit(fay, datetime(2026, 6, 4, 2, 30, tzinfo=UTC), at(date(2026, 5, 1)),
              service_id=cleaning.id)  # fmt: skip

        def plan(who, provider, presenter, presented, value_by_phase, *, status, decided=None,
                 accepted=(), group=None):  # fmt: skip
            row = TreatmentPlan(patient_id=who.id, provider_id=provider.id, title="Plan",
                                option_group=group, status=status, created_by_id=presenter,
                                presented_by_id=presenter, presented_at=presented,
                                decided_at=decided)  # fmt: skip
            s.add(row)
            s.flush()
            phases = []
            for n, value in enumerate(value_by_phase):
                taken = n in accepted
                decided_status = "accepted" if taken else ("declined" if decided else "presented")
                phase = TreatmentPhase(plan_id=row.id, title=f"Phase {n}", position=n,
                                       status=decided_status, presented_at=presented,
                                       decided_at=decided)  # fmt: skip
                s.add(phase)
                s.flush()
                item_status = {"accepted": "accepted", "declined": "declined"}.get(
                    decided_status, "proposed"
                )
                s.add(TreatmentItem(phase_id=phase.id, description="x", fee=D(value),
                                    patient_portion=D(value), status=item_status))  # fmt: skip
                phases.append(phase)
            s.flush()
            return phases

        # Ana: 1,000 + 300 presented Nov 4 by Cora; the 1,000 phase accepted Nov 5 (the
        # 300 declined), and nothing booked for it.
        plan(ana, okafor, cora.id, at(date(2026, 11, 4)), ["1000.00", "300.00"],
             status="partly_accepted", decided=at(date(2026, 11, 5)), accepted={0})  # fmt: skip
        # Ben: Option A 3,000 (Dr. Lee) or Option B 2,000 (Dr. Okafor), presented Nov 8 by
        # Cora; B chosen Nov 9 and its visit booked, A declined.
        plan(ben, lee, cora.id, at(date(2026, 11, 8)), ["3000.00"], status="declined",
             decided=at(date(2026, 11, 9)), group="ben-implant")  # fmt: skip
        (b_phase,) = plan(ben, okafor, cora.id, at(date(2026, 11, 8)), ["2000.00"],
                          status="accepted", decided=at(date(2026, 11, 9)), accepted={0},
                          group="ben-implant")  # fmt: skip
        visit(ben, at(date(2026, 12, 15)), at(date(2026, 11, 9)), status="scheduled",
              treatment_phase_id=b_phase.id)  # fmt: skip
        # Cy: 500 presented Nov 20 by the owner (Dr. Lee's), accepted only on Dec 2.
        plan(cy, lee, owner.staff_id, at(date(2026, 11, 20)), ["500.00"], status="accepted",
             decided=at(date(2026, 12, 2)), accepted={0})  # fmt: skip
        # Dee: 400 presented and accepted in October, nothing booked.
        plan(dee, okafor, cora.id, at(date(2026, 10, 10)), ["400.00"], status="accepted",
             decided=at(date(2026, 10, 12)), accepted={0})  # fmt: skip

        def referral(who, on, status="sent", closed=None, direction="outgoing"):
            s.add(Referral(patient_id=who.id, direction=direction, status=status,
                           referred_on=on, closed_on=closed))  # fmt: skip

        referral(ana, date(2026, 11, 3), "completed", date(2026, 11, 20))
        referral(ben, date(2026, 11, 15), "completed", date(2026, 12, 2))  # done in December
        referral(cy, date(2026, 10, 1), "completed", date(2026, 10, 20))  # October's
        referral(hal, date(2026, 11, 5), direction="incoming")  # sent to us: not counted


def test_each_coordination_figure_is_the_one_worked_out_by_hand(clinic, owner, clinic_month):
    f = coordination_figures(clinic.db, owner, NOVEMBER, now=NOW)
    # First completed visits in November: Ana (Nov 10, Google) and Ben (11:30 pm on the
    # 30th, no lead source); Gil's (Oct 31 late evening) is October's, Dee's, Eve's and
    # Fay's are in the spring.
    assert f.new_patients == 2
    assert f.new_patients_by_lead_source == (("Google", 1), ("Not recorded", 1))
    journey = {c.stage: (c.next_stage, c.entered, c.converted) for c in f.journey}
    # Inquiry: Ben (booked Nov 6), Cy (nothing), Hal (consultation Nov 21) were created in
    # November; Ben and Hal moved on.
    assert journey["inquiry"] == ("consultation", 3, 2)
    # Consultation: Ana (booked the next day) and Hal (nothing); Ivy was booked before her
    # consultation note, so she skipped the stage.
    assert journey["consultation"] == ("booked", 2, 1)
    # Booked: Ana (seen Nov 10), Ben (seated 11:30 pm Nov 30, local), Ivy (not yet seen).
    assert journey["booked"] == ("in_treatment", 3, 2)
    # Cases presented: Ana's 1,300 (1,000 accepted), Ben's two options as one case worth the
    # larger 3,000 (Option B's 2,000 accepted), Cy's 500 (accepted only in December).
    assert f.acceptance == Acceptance(3, D("4800.00"), 2, D("3000.00"))
    assert f.acceptance.rate == D("0.6667") and f.acceptance.value_rate == D("0.6250")
    assert f.acceptance_by_coordinator == (
        ("Cora Lane", Acceptance(2, D("4300.00"), 2, D("3000.00"))),
        ("Olivia Owner", Acceptance(1, D("500.00"), 0, D("0.00"))),
    )
    # Ben's case goes to the option he chose (Option B, Dr. Okafor's).
    assert f.acceptance_by_provider == (
        ("Dr. Daniel Okafor", Acceptance(2, D("4300.00"), 2, D("3000.00"))),
        ("Dr. Mina Lee", Acceptance(1, D("500.00"), 0, D("0.00"))),
    )
    # Accepted, nothing booked, by Nov 30: Ana's 1,000 phase and Dee's 400 (October's); Ben's
    # phase is booked, Cy's was accepted in December.
    assert (f.accepted_not_scheduled_value, f.accepted_not_scheduled_phases) == (
        D("1400.00"),
        2,
    )
    # Outgoing referrals made in November: Ana's (completed Nov 20) and Ben's (Dec 2).
    assert (f.referrals_made, f.referrals_completed) == (2, 1)
    assert f.referral_completion_rate == D("0.5000")
    assert f.median_days_to_specialist_visit is None  # no visit date is recorded
    # Recalls due in November: Dee (Nov 10, booked), Eve (Nov 16, booking cancelled), Fay
    # (Nov 30 by her visit's New York date).
    assert (f.recalls_due, f.recalls_booked) == (3, 1)
    assert f.recall_rate == D("0.3333")


def test_the_zone_edge_puts_a_late_evening_on_its_local_day(clinic, owner, clinic_month):
    """Gil's first visit at 11:30 pm on Oct 31 in New York is October's; Ben's at 11:30 pm
    on Nov 30 is November's, not December's; Fay's recall falls due on Nov 30, not Dec 1."""
    october = coordination_figures(clinic.db, owner, OCTOBER, now=NOW)
    assert (october.new_patients, october.new_patients_by_lead_source) == (
        1,
        (("Not recorded", 1),),
    )
    december = coordination_figures(clinic.db, owner, DECEMBER_SO_FAR, now=NOW)
    assert december.new_patients == 0
    assert december.recalls_due == 0


def test_an_empty_clinic_reports_zero_or_none_everywhere(clinic, owner):
    f = coordination_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert (f.new_patients, f.new_patients_by_lead_source) == (0, ())
    assert all((c.entered, c.converted, c.rate) == (0, 0, None) for c in f.journey)
    assert f.acceptance == Acceptance(0, D("0.00"), 0, D("0.00"))
    assert (f.acceptance.rate, f.acceptance.value_rate) == (None, None)
    assert f.acceptance_by_coordinator == () == f.acceptance_by_provider
    assert (f.accepted_not_scheduled_value, f.accepted_not_scheduled_phases) == (0, 0)
    assert (f.referrals_made, f.referral_completion_rate) == (0, None)  # no referrals yet
    assert f.median_days_to_specialist_visit is None
    assert (f.recalls_due, f.recall_rate) == (0, None)


def test_the_owner_and_coordinators_see_the_coordination_figures(clinic, make_staff):
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    assert coordination_figures(clinic.db, coordinator, NOVEMBER, now=NOW).new_patients == 0
    receptionist = make_staff("rita", "receptionist", "Rita Reception")
    with pytest.raises(PermissionDeniedError):
        coordination_figures(clinic.db, receptionist, NOVEMBER, now=NOW)


def test_a_coordinators_report_has_no_money(clinic, owner, make_staff):
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    theirs = report_json(clinic.db, coordinator, NOVEMBER, now=NOW)
    assert "money" not in theirs and {"schedule", "coordination"} <= set(theirs)
    assert "money" in report_json(clinic.db, owner, NOVEMBER, now=NOW)
