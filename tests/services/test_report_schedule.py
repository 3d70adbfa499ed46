"""The month-end's schedule figures on a small clinic whose every number is worked out by
hand below (docs/reports.md defines them): visits booked and how they ended, the no-show
and late-cancel rates, each provider's utilisation, how far ahead visits were booked and the
time left free while the waitlist had someone waiting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.data.models.appointments import Appointment, AppointmentStatusChange, WaitlistEntry
from app.data.models.providers import ProviderBreak, WorkingHours
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.reports import period as periods
from app.services.reports.schedule import (
    ProviderUtilisation,
    booked_at_column,
    booked_between,
    schedule_figures,
)
from tests.data.factories import add_appointment, add_patient, add_provider

pytestmark = pytest.mark.both_backends

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
#: After the month: all of November's working time is past.
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")  # the test clinic's zone; EST (UTC−5) from Nov 1
TUE, THU = 1, 3
MONDAY_ONLY, WEDNESDAY_ONLY = 0b1, 0b100


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` on the clinic's wall clock on ``day``, as a UTC instant."""
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)
    return wall.astimezone(UTC)


def utc(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def nov(day: int) -> date:
    return date(2026, 11, day)


def visit(s, patient, provider, starts, minutes, status, booked=None, **kw):
    """An appointment with its booking row in the status history (``booked``), or without
    one — as rows from before the history was kept — when ``booked`` is None."""
    ends = starts + timedelta(minutes=minutes)
    a = add_appointment(s, patient, provider, starts_at=starts, ends_at=ends, status=status, **kw)
    if booked is not None:
        s.add(AppointmentStatusChange(appointment_id=a.id, from_status=None,
                                      to_status="scheduled", changed_at=booked))  # fmt: skip
    if status != "scheduled":
        s.add(AppointmentStatusChange(appointment_id=a.id, from_status="scheduled",
                                      to_status=status, changed_at=starts))  # fmt: skip
    s.flush()
    return a


def hours(s, provider, weekday, start_hour, end_hour):
    s.add(WorkingHours(provider_id=provider.id, weekday=weekday,
                       start_minute=start_hour * 60, end_minute=end_hour * 60))  # fmt: skip


def waiting(s, patient, created, *, status="waiting", stopped=None, **kw):
    s.add(WaitlistEntry(patient_id=patient.id, status=status, created_at=created,
                        updated_at=stopped or created, **kw))  # fmt: skip


@pytest.fixture
def book(clinic):
    """A clinic's November appointment book, written straight to its tables.

    Dr. Okafor works Tuesdays 9–17 with lunch 12–13 and, on Nov 10 only, a 14–16 break.
    Dr. Lee works Thursdays 8–12.  Dr. Idle has no hours and no visits.
    """
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Ruiz")
        ben = add_patient(s, first_name="Ben", last_name="Cole")
        okafor = add_provider(s, name="Daniel Okafor")
        lee = add_provider(s, name="Mia Lee")
        add_provider(s, name="Idle")
        hours(s, okafor, TUE, 9, 17)
        s.add(ProviderBreak(provider_id=okafor.id, weekday=TUE, start_minute=12 * 60,
                            end_minute=13 * 60, label="Lunch"))  # fmt: skip
        s.add(ProviderBreak(provider_id=okafor.id, on_date=nov(10), start_minute=14 * 60,
                            end_minute=16 * 60, label="Course"))  # fmt: skip
        hours(s, lee, THU, 8, 12)

        # V1 Tue Nov 3 9:00–10:00 (14:00Z), done; booked Oct 30 14:00Z: 4 days ahead.
        visit(s, ana, okafor, local(nov(3), 9), 60, "completed", booked=utc(10, 30, 14))
        # V2 Tue Nov 3 10:00–10:30 (15:00Z), missed; booked Nov 2 15:00Z: 1 day.
        visit(s, ben, okafor, local(nov(3), 10), 30, "no_show", booked=utc(11, 2, 15))
        # V3 Tue Nov 10 9:00–11:00 (14:00Z), done; no history row, created Nov 5 14:00Z: 5 days.
        visit(s, ana, okafor, local(nov(10), 9), 120, "completed", created_at=utc(11, 5, 14))
        # V4 Tue Nov 17 9:00, cancelled late by the patient; booked Nov 16.
        visit(s, ben, okafor, local(nov(17), 9), 30, "cancelled", booked=utc(11, 16, 14),
              cancelled_by="patient", late_cancel=True)  # fmt: skip
        # V5 Tue Nov 24 13:00, cancelled by the clinic; booked Nov 20.
        visit(s, ana, okafor, local(nov(24), 13), 60, "cancelled", booked=utc(11, 20, 14),
              cancelled_by="clinic")  # fmt: skip
        # V6 Thu Nov 5 8:00–9:00 (13:00Z), done; booked Nov 4 13:00Z: 1 day.
        visit(s, ben, lee, local(nov(5), 8), 60, "completed", booked=utc(11, 4, 13))
        # V7 Mon Nov 30 11 pm (Dec 1 04:00Z), done: November's; booked at 10 pm on the 30th
        # (Dec 1 03:00Z, also November's): 1 hour ahead.  Outside Dr. Lee's hours.
        visit(s, ana, lee, local(nov(30), 23), 30, "completed", booked=utc(12, 1, 3))
        # V8 Thu Nov 12 8:00–9:00, cancelled in good time by the patient; booked Nov 1 13:00Z.
        visit(s, ben, lee, local(nov(12), 8), 60, "cancelled", booked=utc(11, 1, 13),
              cancelled_by="patient")  # fmt: skip
        # V9 Tue Dec 1 9:00: December's visit, booked Nov 25 (a November booking).
        visit(s, ana, okafor, local(date(2026, 12, 1), 9), 30, "completed",
              booked=utc(11, 25, 14))  # fmt: skip
        # V10 Oct 31 8:30 pm in New York (Nov 1 00:30Z): October's; booked Oct 20.
        visit(s, ben, okafor, datetime(2026, 11, 1, 0, 30, tzinfo=UTC), 30, "completed",
              booked=utc(10, 20, 14))  # fmt: skip

        # W1 anyone, any day: waiting Nov 9 10:00 to Nov 12 10:00 (removed).
        waiting(s, ana, utc(11, 9, 15), status="removed", stopped=utc(11, 12, 15))
        # W2 Dr. Lee only: waiting since Nov 18, still.
        waiting(s, ben, utc(11, 18, 15), provider_id=lee.id)
        # W3 booked in October: never waiting in November.
        waiting(s, ben, utc(10, 1, 15), status="booked", stopped=utc(10, 15, 15))
        # W4 Wednesdays only, waiting all month: nobody works Wednesdays.
        waiting(s, ana, utc(10, 20, 15), preferred_weekdays=WEDNESDAY_ONLY)


def test_each_schedule_figure_is_the_one_worked_out_by_hand(clinic, owner, book):
    f = schedule_figures(clinic.db, owner, NOVEMBER, now=NOW)
    # Booked in November (local): V2, V3 (created Nov 5), V4, V5, V6, V7 (10 pm on the
    # 30th), V8, V9 — not V1 (Oct 30) nor V10 (Oct 20).
    assert f.booked == 8
    # Starting in November: V1–V8 (V7 at 11 pm on the 30th); not V9 (Dec 1), V10 (Oct 31).
    assert f.visits == 8
    assert (f.completed, f.no_shows) == (4, 1)  # V1 V3 V6 V7; V2
    assert (f.cancelled, f.late_cancelled) == (3, 1)  # V4 V5 V8; V4
    assert f.no_show_rate == D("0.200")  # 1 ÷ (4 + 1)
    assert f.late_cancel_rate == D("0.143")  # 1 ÷ (8 − V5 cancelled by the clinic) = 1/7
    # Okafor: Tuesdays Nov 3, 17, 24 at 8 h − 1 h lunch = 420 each; Nov 10 420 − 120 = 300:
    # 1560 minutes.  Held: V1 60 + V3 120 (the no-show and the cancelled hold none).
    # Lee: Thursdays Nov 5, 12, 19, 26 at 240 = 960.  Held: V6 60 + V7 30 (outside hours).
    # Dr. Idle has neither, so is not listed.
    assert f.utilisation == (
        ProviderUtilisation("Dr. Daniel Okafor", 180, 1560, D("0.115")),  # 0.11538…
        ProviderUtilisation("Dr. Mia Lee", 90, 960, D("0.094")),  # 0.09375
    )
    # Not cancelled, starting in November: V1 4 d, V2 1 d, V3 5 d, V6 1 d, V7 1 h.
    # (11 + 1/24) ÷ 5 = 2.208…
    assert f.average_days_booked_ahead == D("2.2")
    # Provider-days with a matching entry waiting: W1 → Okafor Tue Nov 10 and Lee Thu
    # Nov 12; W2 → Lee Nov 19 and 26 (W3 ended in October, W4 wants Wednesdays).
    # Okafor Nov 10: 9–12, 13–14, 16–17 less V3 9–11 = 180; Lee Nov 12: 240 (V8 was
    # cancelled, its hour free); Nov 19 and 26: 240 each.  180 + 720 = 900.
    assert (f.waitlist_days, f.waitlist_unfilled_minutes) == (4, 900)


def test_unfilled_time_is_only_time_already_past(clinic, owner, book):
    """With the month in progress (Tue Nov 10, 11:30 in New York), only the working time up
    to now was left free: Okafor's 9:00–11:30 on the 10th, which V3 filled until 11:00."""
    f = schedule_figures(clinic.db, owner, NOVEMBER, now=local(nov(10), 11, 30))
    assert (f.waitlist_days, f.waitlist_unfilled_minutes) == (1, 30)


def test_an_empty_clinic_reports_zero_everywhere(clinic, owner):
    f = schedule_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert (f.booked, f.visits, f.completed, f.cancelled, f.late_cancelled, f.no_shows) == (
        0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    assert (f.no_show_rate, f.late_cancel_rate, f.average_days_booked_ahead) == (0, 0, 0)
    assert f.utilisation == ()
    assert (f.waitlist_days, f.waitlist_unfilled_minutes) == (0, 0)


def test_a_clinic_with_one_visit(clinic, owner):
    """One provider working Mondays 9–10 (5 Mondays in November: 300 minutes) and one
    30-minute visit on Mon Nov 16, booked two days before and done."""
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Solo")
        hours(s, provider, 0, 9, 10)
        starts = local(nov(16), 9)
        visit(s, add_patient(s), provider, starts, 30, "completed",
              booked=starts - timedelta(days=2))  # fmt: skip
    f = schedule_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert (f.booked, f.visits, f.completed, f.no_shows, f.cancelled) == (1, 1, 1, 0, 0)
    assert (f.no_show_rate, f.late_cancel_rate) == (D("0.000"), D("0.000"))
    assert f.utilisation == (ProviderUtilisation("Dr. Solo", 30, 300, D("0.100")),)
    assert f.average_days_booked_ahead == D("2.0")
    assert f.waitlist_unfilled_minutes == 0  # nobody waiting


@pytest.mark.parametrize(
    ("starts", "counted"),
    [
        (local(nov(30), 23), True),  # 11 pm on the last day: Dec 1 04:00 in UTC
        (local(date(2026, 12, 1), 0), False),  # midnight after the last day
        (local(nov(1), 0), True),  # the first minute (still EDT: Nov 1 04:00Z)
        (local(date(2026, 10, 31), 23, 30), False),  # the evening before: Nov 1 03:30Z
    ],
)
def test_a_visit_belongs_to_the_clinics_day_not_utcs(clinic, owner, starts, counted):
    with clinic.db.uow() as s:
        visit(s, add_patient(s), add_provider(s), starts, 30, "no_show",
              booked=starts - timedelta(days=1))  # fmt: skip
    f = schedule_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert (f.visits, f.no_shows) == ((1, 1) if counted else (0, 0))
    assert f.no_show_rate == (D("1.000") if counted else D("0.000"))


def test_a_period_a_report_cannot_cover_is_a_sentence(clinic, owner):
    with pytest.raises(ValidationError, match="has not begun yet"):
        schedule_figures(clinic.db, owner, periods.month(date(2027, 1, 1)), now=NOW)


def test_only_who_may_see_reports_sees_the_schedule_figures(clinic, make_staff):
    receptionist = make_staff("rita", "receptionist", "Rita Reception")
    with pytest.raises(PermissionDeniedError):
        schedule_figures(clinic.db, receptionist, NOVEMBER, now=NOW)


# --- booked: read by range, the same count ---------------------------------------------------


@pytest.fixture
def many_bookings(clinic):
    """Two hundred appointments made at random (the same every run) around November: most
    with their booking row, some without one (made before the history was kept), a few
    with two; the booking row near when the appointment was created or not, some exactly
    on the month's first or last moment; and later status rows, which are not bookings."""
    import random

    rng = random.Random(20261130)
    edges = [local(nov(1), 0), local(date(2026, 12, 1), 0)]

    def a_moment() -> datetime:
        if rng.random() < 0.1:
            return rng.choice(edges) + timedelta(microseconds=rng.choice((-1, 0, 0, 1)))
        return datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(92 * 24 * 60))

    with clinic.db.uow() as s:
        patient, provider = add_patient(s), add_provider(s)
        for n in range(200):
            # The first ones on the edges: made on November's first moment, or its end,
            # without a booking row and with one.
            created = edges[n % 2] if n < 4 else a_moment()
            starts = local(date(2026, 10, 20), 8) + timedelta(hours=n)  # one at a time
            a = add_appointment(
                s, patient, provider, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                created_at=created,
            )  # fmt: skip
            for _ in range((0, 0, 1, 1)[n] if n < 4 else rng.choice((0, 1, 1, 1, 1, 1, 1, 2))):
                booked = created if n < 4 or rng.random() < 0.5 else a_moment()
                s.add(AppointmentStatusChange(appointment_id=a.id, from_status=None,
                                              to_status="scheduled",
                                              changed_at=booked))  # fmt: skip
            if rng.random() < 0.5:
                s.add(AppointmentStatusChange(appointment_id=a.id, from_status="scheduled",
                                              to_status="confirmed",
                                              changed_at=a_moment()))  # fmt: skip
        s.flush()


@pytest.mark.parametrize(
    "period",
    [NOVEMBER, periods.month(date(2026, 10, 1)), periods.Period(nov(10), date(2026, 12, 5))],
    ids=["november", "october", "a-range"],
)
def test_booked_read_by_range_counts_each_appointments_booking_time(
    clinic, owner, many_bookings, period
):
    """The range reads count exactly the appointments whose booking time (the first
    booking row, else created_at) is in the period."""
    f = schedule_figures(clinic.db, owner, period, now=NOW)
    with clinic.db.uow() as s:
        start, end = period.bounds(NEW_YORK)
        booked_at = booked_at_column()
        each = s.scalar(
            select(func.count()).select_from(Appointment).where(booked_at >= start, booked_at < end)
        )
        assert s.scalar(booked_between(start, end)) == each
    assert f.booked == each > 0


def test_booked_is_read_through_the_indexes_of_when(clinic, backend):
    """On SQLite (which plans without statistics) the count reads the booking rows of the
    period and the appointments created in it through their indexes, not every row."""
    if backend != "sqlite":
        pytest.skip("the plan asked about is SQLite's")
    with clinic.db.uow() as s:
        start, end = NOVEMBER.bounds(NEW_YORK)
        compiled = booked_between(start, end).compile(s.get_bind())
        plan = " / ".join(
            row[3]
            for row in s.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled),
                tuple(compiled.construct_params()[name] for name in compiled.positiontup),
            )
        )
    assert "ix_appointment_status_changes_booked_at (changed_at>? AND changed_at<?)" in plan
    assert "ix_appointments_created_at (created_at>? AND created_at<?)" in plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
