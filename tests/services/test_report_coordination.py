"""The month-end's patients-and-coordination figures on a small clinic whose every number is
worked out by hand below (docs/reports.md defines them).  The clinic is in New York: 10 pm
there on November 30th is 3 am on December 1st in UTC, and still November."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, or_, select

from app.data.models.appointments import Appointment
from app.data.models.notes import ConsultationNote
from app.data.models.patients import Patient
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.providers import Service
from app.data.models.referrals import Referral, ReferralEvent
from app.services.clinic.clock import clinic_zone
from app.services.errors import PermissionDeniedError
from app.services.reports import period as periods
from app.services.reports.coordination import (
    Acceptance,
    StageConversion,
    coordination_figures,
    referral_overdue,
)
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

        def referral(who, sent, status, *, closed=None, direction="outgoing", booked=None,
                     visit=None, seen=None, report=None, due=None):  # fmt: skip
            row = Referral(patient_id=who.id, direction=direction, status=status,
                           referred_on=(sent or at(date(2026, 11, 12))).date(), sent_at=sent,
                           visit_on=visit, seen_on=seen, report_received_on=report,
                           visit_due_on=due, closed_on=closed)  # fmt: skip
            s.add(row)
            s.flush()
            if booked is not None:  # the step that booked the specialist's visit
                s.add(ReferralEvent(referral_id=row.id, at=booked, kind="status",
                                    from_status="sent", to_status="booked"))  # fmt: skip

        # The clinic's referral settings: booking within 7 days, the report 14 days after.
        # Sent in November (the cohort):
        # Ana: Nov 3, seen Nov 10 (7 days), report Nov 18, closed Nov 20: completed.
        referral(ana, at(date(2026, 11, 3)), "closed", booked=at(date(2026, 11, 4)),
                 visit=date(2026, 11, 10), seen=date(2026, 11, 10), report=date(2026, 11, 18),
                 closed=date(2026, 11, 20))  # fmt: skip
        # Ben: Nov 15, seen Nov 28 (13 days), the report only on Dec 2: not completed in
        # November, and open at its end (two days after the visit: not overdue).
        referral(ben, at(date(2026, 11, 15)), "closed", booked=at(date(2026, 11, 16)),
                 visit=date(2026, 11, 28), seen=date(2026, 11, 28), report=date(2026, 12, 2),
                 closed=date(2026, 12, 3))  # fmt: skip
        # Hal: Nov 6, seen Nov 20 (14 days), report Nov 25 waiting to be acknowledged.
        referral(
            hal,
            at(date(2026, 11, 6)),
            "report_received",
            booked=at(date(2026, 11, 9)),
            visit=date(2026, 11, 20),
            seen=date(2026, 11, 20),
            report=date(2026, 11, 25),
        )
        # Gil: Nov 2, booked (before steps were kept) for Dec 10, but due by Nov 25: overdue.
        referral(gil, at(date(2026, 11, 2)), "booked", visit=date(2026, 12, 10),
                 due=date(2026, 11, 25))  # fmt: skip
        # Cy: Nov 16, the visit booked only on Dec 2: unbooked for 14 days on Nov 30, overdue.
        referral(cy, at(date(2026, 11, 16)), "booked", booked=at(date(2026, 12, 2)),
                 visit=date(2026, 12, 10))  # fmt: skip
        # Dee: sent 10:30 pm on Nov 30 in New York (Dec 1 in UTC): November's, not overdue.
        referral(dee, datetime(2026, 12, 1, 3, 30, tzinfo=UTC), "sent")
        # Sent in October:
        # Cy: Oct 1, seen Oct 8 (7 days), report Oct 15, closed Oct 20.
        referral(cy, at(date(2026, 10, 1)), "closed", booked=at(date(2026, 10, 2)),
                 visit=date(2026, 10, 8), seen=date(2026, 10, 8), report=date(2026, 10, 15),
                 closed=date(2026, 10, 20))  # fmt: skip
        # Ivy: Oct 10, seen Oct 20 (10 days), then cancelled Oct 30.
        referral(
            ivy,
            at(date(2026, 10, 10)),
            "cancelled",
            booked=at(date(2026, 10, 12)),
            visit=date(2026, 10, 20),
            seen=date(2026, 10, 20),
            closed=date(2026, 10, 30),
        )
        # Fay: Oct 25, booked Oct 28 for Nov 5, seen then (no seen date kept: the visit's
        # day, 11 days), no report by Nov 30 (25 days after): overdue.
        referral(fay, at(date(2026, 10, 25)), "seen", booked=at(date(2026, 10, 28)),
                 visit=date(2026, 11, 5))  # fmt: skip
        # Eve: 11:30 pm on Oct 31 in New York (Nov 1 in UTC): October's; never booked, so
        # overdue on Nov 30.
        referral(eve, datetime(2026, 11, 1, 3, 30, tzinfo=UTC), "sent")
        # Not counted: a draft never sent, a referral sent to us, and one closed with no day
        # (kept from before closing days were).
        referral(ivy, None, "draft")
        referral(hal, at(date(2026, 11, 5)), "received", direction="incoming")
        referral(dee, at(date(2026, 9, 1)), "closed")


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
    # Outgoing referrals sent in November: Ana, Ben, Hal, Gil, Cy and Dee (late on the 30th);
    # with the report by Nov 30: Ana's and Hal's (Ben's came on Dec 2).
    assert (f.referrals_sent, f.referrals_completed) == (6, 2)
    assert f.referral_completion_rate == D("0.3333")
    # Seen by Nov 30: Ana after 7 days, Ben 13, Hal 14.
    assert f.median_days_to_specialist_visit == D("13.0")
    # Open and overdue on Nov 30: Gil (due Nov 25), Cy (unbooked 14 days), Fay (no report
    # 25 days after the visit), Eve (unbooked 30 days).
    assert f.referrals_overdue == 4
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


def test_referrals_are_a_cohort_by_the_local_day_they_were_sent(clinic, owner, clinic_month):
    """Eve's referral sent late on Oct 31 in New York is October's, Dee's late on Nov 30
    November's; what became of a cohort is read up to its period's last day."""
    october = coordination_figures(clinic.db, owner, OCTOBER, now=NOW)
    # Sent: Cy, Ivy, Fay, Eve; the report by Oct 31: Cy's.  Seen by Oct 31: Cy after 7
    # days, Ivy after 10 (Fay on Nov 5): the median of an even count is halfway.
    assert (october.referrals_sent, october.referrals_completed) == (4, 1)
    assert october.median_days_to_specialist_visit == D("8.5")
    # Open on Oct 31: Fay (booked in time, the visit still to come) and Eve (sent that day).
    assert october.referrals_overdue == 0
    both = coordination_figures(clinic.db, owner, periods.Period(OCTOBER.first, NOVEMBER.last),
                                now=NOW)  # fmt: skip
    assert (both.referrals_sent, both.referrals_completed) == (10, 3)
    # 7 (Ana), 7 (Cy), 10 (Ivy), 11 (Fay), 13 (Ben), 14 (Hal).
    assert both.median_days_to_specialist_visit == D("10.5")
    assert both.referrals_overdue == 4
    december = coordination_figures(clinic.db, owner, DECEMBER_SO_FAR, now=NOW)
    assert (december.referrals_sent, december.median_days_to_specialist_visit) == (0, None)
    # On Dec 7: Gil (due Nov 25), Fay and Eve still overdue; Cy's visit was booked on Dec 2,
    # Ben's referral closed on Dec 3, and Dee's was sent 7 days ago (overdue after 7).
    assert december.referrals_overdue == 3


def _d(month: int, day: int) -> date:
    return date(2026, month, day)


N30 = _d(11, 30)


# On Nov 30, with 7 booking days and 14 report days: sent, booked (the day the booking was
# recorded), the visit, seen, report received, due by; overdue?
@pytest.mark.parametrize(
    ("why", "sent", "booked", "visit", "seen", "report", "due", "overdue"),
    [
        ("sent today", N30, None, None, None, None, None, False),
        ("unbooked for exactly the booking days", _d(11, 23), None, None, None, None, None, False),
        ("unbooked a day longer", _d(11, 22), None, None, None, None, None, True),
        ("booked in time", _d(11, 1), _d(11, 5), _d(12, 10), None, None, None, False),
        ("booked after the day asked", _d(11, 1), _d(12, 1), _d(12, 10), None, None, None, True),
        ("seen 14 days ago, no report", _d(11, 1), _d(11, 2), _d(11, 16), _d(11, 16), None,
         None, False),
        ("seen 15 days ago, no report", _d(11, 1), _d(11, 2), _d(11, 15), _d(11, 15), None,
         None, True),
        ("seen long ago, the report in", _d(10, 1), _d(10, 2), _d(10, 10), _d(10, 10), N30,
         None, False),
        ("the report came only after", _d(10, 1), _d(10, 2), _d(10, 10), _d(10, 10),
         _d(12, 1), None, True),
        ("booked visit long past, not marked seen", _d(10, 1), _d(10, 2), _d(10, 10), None,
         None, None, True),
        ("due yesterday, not seen", _d(11, 20), _d(11, 21), _d(12, 5), None, None, _d(11, 29),
         True),
        ("due today, not seen", _d(11, 20), _d(11, 21), _d(12, 5), None, None, N30, False),
        ("due yesterday, seen", _d(11, 20), _d(11, 21), _d(11, 28), _d(11, 28), None,
         _d(11, 29), False),
        ("seen after the day asked", _d(11, 20), _d(11, 21), _d(11, 28), _d(12, 1), None,
         _d(11, 29), True),
    ],
)  # fmt: skip
def test_a_referrals_overdue_rule(why, sent, booked, visit, seen, report, due, overdue):
    assert (
        referral_overdue(
            N30,
            sent_on=sent,
            booked_on=booked,
            visit_on=visit,
            seen_on=seen,
            report_received_on=report,
            visit_due_on=due,
            booking_days=7,
            report_days=14,
        )
        is overdue
    ), why


def test_an_empty_clinic_reports_zero_or_none_everywhere(clinic, owner):
    f = coordination_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert (f.new_patients, f.new_patients_by_lead_source) == (0, ())
    assert all((c.entered, c.converted, c.rate) == (0, 0, None) for c in f.journey)
    assert f.acceptance == Acceptance(0, D("0.00"), 0, D("0.00"))
    assert (f.acceptance.rate, f.acceptance.value_rate) == (None, None)
    assert f.acceptance_by_coordinator == () == f.acceptance_by_provider
    assert (f.accepted_not_scheduled_value, f.accepted_not_scheduled_phases) == (0, 0)
    assert (f.referrals_sent, f.referral_completion_rate) == (0, None)  # no referrals yet
    assert (f.median_days_to_specialist_visit, f.referrals_overdue) == (None, 0)
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


# --- the same figures as reading every row ----------------------------------------------------
# The section reads only the period's rows and then those patients' history (fast on a clinic
# of ten years).  Below is the definition read the plain way — every patient's and every
# recall visit's whole history, for every period — kept to hold the fast reading to it.


def _every_first_moment(session, column, patient_column, *conditions) -> dict:
    return {
        pid: moment
        for pid, moment in session.execute(
            select(patient_column, func.min(column)).where(*conditions).group_by(patient_column)
        )
        if moment is not None
    }


def _new_patients_from_every_row(session, start, end) -> tuple:
    first_visit = _every_first_moment(
        session,
        Appointment.starts_at,
        Appointment.patient_id,
        Appointment.status == "completed",
    )
    by_source: dict[str, int] = defaultdict(int)
    for pid, source in session.execute(
        select(Patient.id, Patient.lead_source).where(Patient.merged_into_id.is_(None))
    ):
        if pid in first_visit and start <= first_visit[pid] < end:
            by_source[(source or "").strip() or "Not recorded"] += 1
    return tuple(sorted(by_source.items(), key=lambda p: (-p[1], p[0])))


def _journey_from_every_row(session, start, end) -> tuple:
    funnel = ("inquiry", "consultation", "booked", "in_treatment")
    entries = {
        "inquiry": _every_first_moment(
            session, Patient.created_at, Patient.id, Patient.merged_into_id.is_(None)
        ),
        "consultation": _every_first_moment(
            session, ConsultationNote.created_at, ConsultationNote.patient_id
        ),
        "booked": _every_first_moment(session, Appointment.created_at, Appointment.patient_id),
        "in_treatment": _every_first_moment(session, Appointment.seated_at, Appointment.patient_id),
    }
    conversions = []
    for index, stage in enumerate(funnel[:-1]):
        later = funnel[index + 1 :]
        entered = converted = 0
        for pid in entries["inquiry"]:
            moment = entries[stage].get(pid)
            if moment is None or not start <= moment < end:
                continue
            if any(entries[s].get(pid, moment) < moment for s in later):
                continue  # a later stage first: this one was skipped
            entered += 1
            converted += any(entries[s].get(pid, end) < end for s in later)
        conversions.append(StageConversion(stage, funnel[index + 1], entered, converted))
    return tuple(conversions)


def _recalls_from_every_row(session, period, end) -> tuple[int, int]:
    zone = clinic_zone(session)
    visits: dict[int, list] = defaultdict(list)
    for pid, starts_at, interval in session.execute(
        select(Appointment.patient_id, Appointment.starts_at, Service.recall_interval_days)
        .join(Service, Service.id == Appointment.service_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.status == "completed",
            Service.recall_interval_days.is_not(None),
            Patient.merged_into_id.is_(None),
        )
        # Two visits at one moment: the later row is the later visit.
        .order_by(Appointment.patient_id, Appointment.starts_at, Appointment.id)
    ):
        visits[pid].append((starts_at, interval))
    due = []
    for pid, rows in visits.items():
        for index, (starts_at, interval) in enumerate(rows):
            due_on = starts_at.astimezone(zone).date() + timedelta(days=interval)
            if not period.first <= due_on <= period.last:
                continue
            if any(later.astimezone(zone).date() < due_on for later, _ in rows[index + 1 :]):
                continue  # seen again before it fell due
            due.append((pid, starts_at))
    booked = 0
    for pid, seen in due:
        booked += bool(
            session.scalar(
                select(func.count()).where(
                    Appointment.patient_id == pid,
                    Appointment.created_at < end,
                    or_(Appointment.status != "cancelled", Appointment.cancelled_at >= end),
                    Appointment.starts_at > seen,
                )
            )
        )
    return len(due), booked


STATUSES = ("scheduled", "confirmed", "arrived", "in_treatment", "completed", "completed",
            "completed", "cancelled", "no_show")  # fmt: skip


@pytest.fixture
def years_of_clinic(clinic, owner):
    """Four years of a small clinic drawn at random (a fixed seed): patients added, noted,
    booked and seen at any hour — many in the New York evening, a UTC day later — mostly in
    the journey's order, within weeks, some not; some merged away, some seen twice at one
    moment, visits cancelled before and after a month's end, recall services of 90, 180 and
    365 days.  One provider with many chairs: the visits may overlap (double_booked)."""
    rng = random.Random(20261207)

    def moment(after: datetime, *days: int) -> datetime:
        """A moment ``days`` (one of them at random) after ``after``'s date, at any hour."""
        day = after + timedelta(days=rng.choice(days))
        hour = rng.choice((1, 3, 4, 4, 14, 15, 16, 21, 23))
        return day.replace(hour=hour, minute=rng.choice((0, 15, 30, 45)))

    with clinic.db.uow() as s:
        provider = add_provider(s, name="Ruth Ames")
        recall = {
            days: add_service(s, name=f"Recall {days}", recall_interval_days=days).id
            for days in (90, 180, 365)
        }
        services = [None, add_service(s, name="Crown").id, *recall.values()]
        patients = []
        for n in range(160):
            created = moment(datetime(2023, 1, 1, tzinfo=UTC), *range(4 * 365))
            source = rng.choice(("", " ", "Google", "Referral", "Walk-in"))
            patients.append(add_patient(s, first_name=f"P{n}", lead_source=source,
                                        created_at=created))  # fmt: skip
        for patient in rng.sample(patients, 12):
            patient.merged_into_id = rng.choice([p for p in patients if p is not patient]).id
            patient.is_active = False
        for patient in patients:
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                noted = moment(patient.created_at, -3, 0, 1, 2, 5, 9, 20, 40, 300)
                s.add(ConsultationNote(patient_id=patient.id, author_id=owner.staff_id,
                                       created_at=noted))  # fmt: skip
            starts = None
            for _ in range(rng.choice((0, 1, 2, 4, 6, 9))):
                if starts is None or rng.random() < 0.95:  # else seen twice at one moment
                    made = moment(starts or patient.created_at, -2, 0, 1, 3, 8, 20, 90, 200)
                    starts = moment(made, 0, 1, 2, 6, 14, 30)
                status = rng.choice(STATUSES)
                extra = {}
                if status in ("in_treatment", "completed") and rng.random() < 0.8:
                    extra["seated_at"] = starts + timedelta(minutes=rng.choice((0, 10)))
                if status == "cancelled" and rng.random() < 0.9:
                    extra["cancelled_at"] = made + timedelta(days=rng.choice((0, 2, 15, 45)))
                add_appointment(s, patient, provider, starts_at=starts,
                                ends_at=starts + timedelta(minutes=30), status=status,
                                created_at=made, service_id=rng.choice(services),
                                double_booked=True, **extra)  # fmt: skip

        # And two that chance may not draw.  Tia was seen twice at one moment on July 13th:
        # the 90-day recall (due Oct 11) and then the 180-day one, the later row, which
        # replaces it.  Mo, seen on April 20th (due Oct 17), was merged away: not counted.
        tia = add_patient(s, first_name="Tia", created_at=at(date(2026, 1, 5)))
        mo = add_patient(s, first_name="Mo", created_at=at(date(2026, 1, 5)),
                         merged_into_id=tia.id, is_active=False)  # fmt: skip
        for who, day, service in ((tia, date(2026, 7, 13), recall[90]),
                                  (tia, date(2026, 7, 13), recall[180]),
                                  (mo, date(2026, 4, 20), recall[180])):  # fmt: skip
            add_appointment(s, who, provider, starts_at=at(day), ends_at=at(day, 16),
                            status="completed", created_at=at(day, 1), service_id=service,
                            double_booked=True)  # fmt: skip


@pytest.mark.parametrize(
    "period",
    [
        periods.month(date(2023, 3, 1)),  # clocks forward in the month
        periods.month(date(2024, 2, 1)),
        periods.month(date(2024, 11, 1)),  # clocks back in the month
        periods.month(date(2025, 6, 1)),
        periods.month(date(2025, 12, 1)),
        periods.month(date(2026, 3, 1)),
        periods.month(date(2026, 10, 1)),
        periods.month(date(2026, 11, 1)),
        DECEMBER_SO_FAR,
    ],
    ids=lambda period: f"{period.first}..{period.last}",
)
def test_reading_the_period_s_rows_gives_the_figures_every_row_gives(
    clinic, owner, years_of_clinic, period
):
    f = coordination_figures(clinic.db, owner, period, now=NOW)
    with clinic.db.uow() as s:
        start, end = period.bounds(clinic_zone(s))
        assert f.new_patients_by_lead_source == _new_patients_from_every_row(s, start, end)
        assert f.journey == _journey_from_every_row(s, start, end)
        assert (f.recalls_due, f.recalls_booked) == _recalls_from_every_row(s, period, end)


def test_the_clinic_drawn_at_random_has_something_to_count(clinic, owner, years_of_clinic):
    """Each figure the comparison above holds is non-zero in some month of the clinic."""
    months = [periods.month(date(year, m, 1)) for year in (2024, 2025) for m in range(1, 13)]
    figures = [coordination_figures(clinic.db, owner, month, now=NOW) for month in months]
    assert sum(f.new_patients for f in figures) > 20
    assert all(sum(f.journey[i].converted for f in figures) > 5 for i in range(3))
    assert sum(f.recalls_due for f in figures) > 10
    assert 0 < sum(f.recalls_booked for f in figures) < sum(f.recalls_due for f in figures)


def test_patients_imported_in_the_month_are_no_leads_of_it(clinic, owner):
    """The move-in month's funnel counts the patients who came to the clinic that month, not
    the thousands brought in from the previous system (their rows are new, they are not)."""
    from app.data.models.imports import ImportBatch, ImportedRow

    with clinic.db.uow(write=True) as s:
        new = add_patient(s, first_name="Nia", created_at=at(date(2026, 11, 10)))
        moved = add_patient(s, first_name="Old", created_at=at(date(2026, 11, 10)))
        batch = ImportBatch(kind="patients", source="Dentrix", file_name="patients.csv",
                            file_sha256="0" * 64, imported_at=at(date(2026, 11, 10)))  # fmt: skip
        s.add(batch)
        s.flush()
        s.add(ImportedRow(batch_id=batch.id, table_name="patients", row_id=moved.id,
                          action="created", line=2))  # fmt: skip
        assert new.id != moved.id

    figures = coordination_figures(clinic.db, owner, NOVEMBER, now=NOW)
    inquiry = next(c for c in figures.journey if c.stage == "inquiry")
    assert inquiry.entered == 1
