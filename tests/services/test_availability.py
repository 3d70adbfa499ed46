"""Find next available, against answers worked out by hand.

The day used by most cases: Monday 14 June 2027 in New York, the provider works
9:00-17:00 with lunch 12:00-13:00, and is booked 9:00-10:20 and 13:00-15:00.
A 90-minute visit then fits in two free gaps: by default it is offered once in
each, at 10:20 and at 15:00; in 5-minute steps (``step_minutes=5``, most of the
cases below) at 10:20, 10:25, 10:30 (ending 12:00 sharp) and from 15:00 to 15:30
(ending 17:00 sharp).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from app.data.models import Appointment, Provider
from app.data.models.clinic import ClinicSettings
from app.data.models.providers import ProviderBreak, Room, WorkingHours
from app.services.errors import NotFoundError, ValidationError
from app.services.scheduling.availability import (
    SlotQuery,
    describe_empty,
    find_next_available,
    open_days,
    open_weekdays,
)
from tests.data.factories import add_patient, add_provider, add_service

NY = ZoneInfo("America/New_York")
MONDAY = date(2027, 6, 14)
H = 60


def local(day: date, hh: int, mm: int = 0, ss: int = 0, zone: ZoneInfo = NY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=zone).astimezone(UTC)


def hm(moment: datetime, zone: ZoneInfo = NY) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


class Clinic:
    """Rows for one case, written straight to the database."""

    def __init__(self, db) -> None:
        self.db = db
        with db.uow() as s:
            self.patient = add_patient(s).id
            self.other_patient = add_patient(s).id
            room = Room(name="Operatory 1")
            s.add(room)
            s.flush()
            self.room = room.id

    def provider(
        self,
        name: str,
        *,
        weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
        hours: tuple[int, int] = (9 * H, 17 * H),
        lunch: bool = True,
        active: bool = True,
    ) -> int:
        with self.db.uow() as s:
            p = add_provider(s, name=name, is_active=active)
            for wd in weekdays:
                s.add(WorkingHours(provider_id=p.id, weekday=wd, start_minute=hours[0],
                                   end_minute=hours[1]))  # fmt: skip
                if lunch:
                    s.add(ProviderBreak(provider_id=p.id, weekday=wd, start_minute=12 * H,
                                        end_minute=13 * H, label="Lunch"))  # fmt: skip
            return p.id

    def book(
        self,
        provider_id: int,
        starts: datetime,
        ends: datetime,
        *,
        patient_id: int | None = None,
        room_id: int | None = None,
        status: str = "scheduled",
    ) -> None:
        with self.db.uow() as s:
            s.add(
                Appointment(
                    patient_id=patient_id or self.other_patient,
                    provider_id=provider_id,
                    room_id=room_id,
                    starts_at=starts,
                    ends_at=ends,
                    status=status,
                )
            )

    def dated_break(self, provider_id: int, day: date, start: int, end: int) -> None:
        with self.db.uow() as s:
            s.add(ProviderBreak(provider_id=provider_id, on_date=day, start_minute=start,
                                end_minute=end, label="Dentist appointment"))  # fmt: skip

    def set_zone(self, name: str) -> None:
        with self.db.uow() as s:
            s.get(ClinicSettings, 1).timezone = name


@pytest.fixture
def data(clinic) -> Clinic:
    return Clinic(clinic.db)


@pytest.fixture
def monday_booked(data: Clinic) -> int:
    """The hand-worked day: one provider booked 9:00-10:20 and 13:00-15:00."""
    pid = data.provider("Amira Haddad")
    data.book(pid, local(MONDAY, 9), local(MONDAY, 10, 20))
    data.book(pid, local(MONDAY, 13), local(MONDAY, 15))
    return pid


def query(pid: int, **changes) -> SlotQuery:
    base = SlotQuery(
        duration_minutes=90,
        provider_ids=(pid,),
        not_before=local(MONDAY, 0),
        horizon_days=1,
        count=10,
        step_minutes=5,  # the hand-worked grid; the default (one per gap) has its own cases
    )
    return replace(base, **changes)


MORNING = ["10:20", "10:25", "10:30"]
AFTERNOON = ["15:00", "15:05", "15:10", "15:15", "15:20", "15:25", "15:30"]


def _cancelled_afternoon(data: Clinic, pid: int) -> None:
    with data.db.uow() as s:
        s.query(Appointment).filter(Appointment.starts_at == local(MONDAY, 13)).update(
            {"status": "cancelled"}
        )


CASES = [
    # (id, extra set-up, query changes, expected local start times)
    ("hand-worked day", None, {}, MORNING + AFTERNOON),
    ("count limits", None, {"count": 4}, [*MORNING, "15:00"]),
    ("earliest 15:10", None, {"earliest_minute": 15 * H + 10}, AFTERNOON[2:]),
    ("latest noon", None, {"latest_minute": 12 * H}, MORNING),
    ("latest 16:50", None, {"latest_minute": 16 * H + 50}, MORNING + AFTERNOON[:5]),
    ("60 minutes", None, {"duration_minutes": 60, "count": 3}, ["10:20", "10:25", "10:30"]),
    (
        "10-minute step",
        None,
        {"step_minutes": 10},
        ["10:20", "10:30", "15:00", "15:10", "15:20", "15:30"],
    ),
    ("now is 10:27", None, {"not_before": local(MONDAY, 10, 27)}, ["10:30", *AFTERNOON]),
    ("not before 15:31", None, {"not_before": local(MONDAY, 15, 31)}, []),
    ("two hours fit only at 15:00", None, {"duration_minutes": 120}, ["15:00"]),
    (
        "booking ends off the grid",
        lambda d, pid: d.book(pid, local(MONDAY, 10, 20), local(MONDAY, 10, 22)),
        {"latest_minute": 12 * H},
        ["10:22", "10:25", "10:30"],
    ),
    (
        "touching bookings stay free",
        lambda d, pid: d.book(pid, local(MONDAY, 10, 0), local(MONDAY, 10, 20)),
        {"latest_minute": 12 * H},
        MORNING,
    ),
    (
        "cancelled visit frees time",
        _cancelled_afternoon,
        {"count": 4},
        ["10:20", "10:25", "10:30", "13:00"],
    ),
    (
        "no-show holds no time",
        lambda d, pid: d.book(pid, local(MONDAY, 10, 20), local(MONDAY, 12), status="no_show"),
        {"latest_minute": 12 * H},
        MORNING,
    ),
    (
        "room busy in the afternoon",
        lambda d, pid: d.book(
            d.provider("Other"), local(MONDAY, 15), local(MONDAY, 16), room_id=d.room
        ),
        {"room_id": "ROOM"},
        MORNING,
    ),
    (
        "room busy elsewhere does not matter without a room",
        lambda d, pid: d.book(
            d.provider("Other"), local(MONDAY, 15), local(MONDAY, 16), room_id=d.room
        ),
        {},
        MORNING + AFTERNOON,
    ),
    (
        "patient busy with someone else",
        lambda d, pid: d.book(
            d.provider("Other"), local(MONDAY, 10), local(MONDAY, 11), patient_id=d.patient
        ),
        {"patient_id": "PATIENT"},
        AFTERNOON,
    ),
    (
        "dated break in the afternoon",
        lambda d, pid: d.dated_break(pid, MONDAY, 15 * H, 17 * H),
        {},
        MORNING,
    ),
    (
        "dated break on another day",
        lambda d, pid: d.dated_break(pid, MONDAY + timedelta(days=1), 9 * H, 17 * H),
        {},
        MORNING + AFTERNOON,
    ),
    (
        "weekday filter skips Monday",
        None,
        {"weekdays": frozenset({1}), "horizon_days": 2, "count": 2},
        ["09:00", "09:05"],
    ),
    ("weekday filter keeps Monday", None, {"weekdays": frozenset({0, 1}), "count": 1}, ["10:20"]),
    ("off on Saturday", None, {"not_before": local(MONDAY + timedelta(days=5), 0)}, []),
]


@pytest.mark.parametrize(("setup", "changes", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_hand_worked_answers(clinic, owner, data, monday_booked, setup, changes, expected):
    if setup is not None:
        setup(data, monday_booked)
    fixed = {
        k: {"ROOM": data.room, "PATIENT": data.patient}.get(v, v) if isinstance(v, str) else v
        for k, v in changes.items()
    }
    slots = find_next_available(clinic.db, owner, query(monday_booked, **fixed))
    assert [hm(s.starts_at) for s in slots] == expected
    for slot in slots:
        assert slot.ends_at - slot.starts_at == timedelta(minutes=fixed.get("duration_minutes", 90))
        assert slot.provider_id == monday_booked
        assert slot.provider_name == "Dr. Amira Haddad"


ONE_PER_GAP = [
    # (id, extra set-up, query changes, expected local start times) — step_minutes=None
    ("hand-worked day: one start per gap", None, {}, ["10:20", "15:00"]),
    ("now is 10:27: the gap's first start on the grid", None,
     {"not_before": local(MONDAY, 10, 27)}, ["10:30", "15:00"]),
    ("booking ends off the grid", lambda d, pid: d.book(pid, local(MONDAY, 10, 20),
     local(MONDAY, 10, 22)), {}, ["10:22", "15:00"]),
    ("a cancelled visit joins two gaps", _cancelled_afternoon, {}, ["10:20", "13:00"]),
    ("count limits", None, {"count": 1}, ["10:20"]),
    ("a free week: each day's morning and afternoon", None,
     {"horizon_days": 3, "duration_minutes": 60},
     ["10:20", "15:00", "Tue 09:00", "Tue 13:00", "Wed 09:00", "Wed 13:00"]),
    ("closed at the weekend", None,
     {"not_before": local(MONDAY + timedelta(days=5), 0), "horizon_days": 3, "count": 3},
     ["Mon 09:00", "Mon 13:00"]),
]  # fmt: skip


def day_and_time(moment: datetime) -> str:
    """ "10:20" on the hand-worked Monday, "Tue 09:00" on another day."""
    local_moment = moment.astimezone(NY)
    if local_moment.date() == MONDAY:
        return hm(moment)
    return local_moment.strftime("%a %H:%M")


@pytest.mark.parametrize(("setup", "changes", "expected"),
                         [c[1:] for c in ONE_PER_GAP], ids=[c[0] for c in ONE_PER_GAP])  # fmt: skip
def test_by_default_each_free_gap_is_offered_once(
    clinic, owner, data, monday_booked, setup, changes, expected
):
    """Ten answers are ten different times to offer, not one gap at 5-minute steps."""
    if setup is not None:
        setup(data, monday_booked)
    slots = find_next_available(
        clinic.db, owner, query(monday_booked, step_minutes=None, **changes)
    )
    assert [day_and_time(s.starts_at) for s in slots] == expected


def test_the_default_query_is_one_start_per_gap(clinic, owner, data, monday_booked):
    default = SlotQuery(duration_minutes=90, provider_ids=(monday_booked,),
                        not_before=local(MONDAY, 0), horizon_days=1)  # fmt: skip
    slots = find_next_available(clinic.db, owner, default)
    assert [hm(s.starts_at) for s in slots] == ["10:20", "15:00"]


def test_slot_carries_the_service_searched_for(clinic, owner, data, monday_booked):
    """Booking the slot books that service (its fee and recall), not a bare appointment."""
    with data.db.uow() as s:
        service = add_service(s, name="Crown prep", default_duration_minutes=90).id
    slots = find_next_available(clinic.db, owner, query(monday_booked, service_id=service))
    assert slots and {s.service_id for s in slots} == {service}
    [no_service] = find_next_available(clinic.db, owner, query(monday_booked, count=1))
    assert no_service.service_id is None


# --- when the clinic is open -----------------------------------------------------------------


def test_open_weekdays_are_the_days_some_active_provider_works(clinic, owner, data):
    data.provider("Amira Haddad")  # Monday to Friday
    data.provider("Ben Okafor", weekdays=(1, 5))  # Tuesdays and Saturdays
    data.provider("Eli Stone", weekdays=(6,), active=False)  # left: Sunday stays closed
    assert open_weekdays(clinic.db, owner, MONDAY) == frozenset({0, 1, 2, 3, 4, 5})


def test_no_working_hours_yet_means_no_open_weekday(clinic, owner, data):
    assert open_weekdays(clinic.db, owner, MONDAY) == frozenset()


@pytest.mark.both_backends
def test_a_day_every_provider_has_off_is_closed(clinic, data):
    amira = data.provider("Amira Haddad", lunch=False)
    ben = data.provider("Ben Okafor", weekdays=(0, 1), lunch=False)
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    for pid in (amira, ben):
        data.dated_break(pid, tuesday, 0, 24 * H)  # the whole team at a course
    data.dated_break(amira, wednesday, 9 * H, 12 * H)  # a morning off: still open
    with clinic.db.uow() as s:
        days = open_days(s, MONDAY, MONDAY + timedelta(days=6))
    assert [d.strftime("%a") for d in sorted(days)] == ["Mon", "Wed", "Thu", "Fri"]


def test_slot_carries_the_room_asked_for(clinic, owner, data, monday_booked):
    slots = find_next_available(clinic.db, owner, query(monday_booked, room_id=data.room, count=1))
    assert (slots[0].room_id, slots[0].room_name) == (data.room, "Operatory 1")


def test_count_and_order_across_two_providers(clinic, owner, data, monday_booked):
    """Ben is free 10:20-10:30 and 11:00-12:00: too short for 90 minutes; next 13:00."""
    other = data.provider("Ben Okafor")
    data.book(other, local(MONDAY, 9), local(MONDAY, 10, 20))
    data.book(other, local(MONDAY, 10, 30), local(MONDAY, 11))

    q = query(monday_booked, provider_ids=(other, monday_booked), count=5)
    slots = find_next_available(clinic.db, owner, q)
    assert [(hm(s.starts_at), s.provider_name) for s in slots] == [
        ("10:20", "Dr. Amira Haddad"),
        ("10:25", "Dr. Amira Haddad"),
        ("10:30", "Dr. Amira Haddad"),
        ("13:00", "Dr. Ben Okafor"),
        ("13:05", "Dr. Ben Okafor"),
    ]


def test_same_start_for_two_providers_lists_them_in_the_order_asked(clinic, owner, data):
    a = data.provider("Amira Haddad", lunch=False)
    b = data.provider("Ben Okafor", lunch=False)
    for pid in (a, b):
        data.book(pid, local(MONDAY, 9), local(MONDAY, 10, 20))

    slots = find_next_available(clinic.db, owner, query(a, provider_ids=(b, a), count=4))
    assert [(hm(s.starts_at), s.provider_id) for s in slots] == [
        ("10:20", b), ("10:20", a), ("10:25", b), ("10:25", a),
    ]  # fmt: skip


def test_horizon_end_is_the_last_local_day(clinic, owner, data):
    mondays_only = data.provider("Cara Lind", weekdays=(0,), lunch=False)
    tuesday = MONDAY + timedelta(days=1)
    six_days = query(mondays_only, not_before=local(tuesday, 0), horizon_days=6)
    seven_days = replace(six_days, horizon_days=7, count=1)

    assert find_next_available(clinic.db, owner, six_days) == []
    [slot] = find_next_available(clinic.db, owner, seven_days)
    assert slot.starts_at == local(MONDAY + timedelta(days=7), 9)


def test_searches_on_across_days_until_count_is_reached(clinic, owner, data, monday_booked):
    slots = find_next_available(clinic.db, owner, query(monday_booked, horizon_days=42, count=12))
    tuesday = MONDAY + timedelta(days=1)
    assert [s.starts_at for s in slots[10:]] == [local(tuesday, 9), local(tuesday, 9, 5)]


def test_dst_day_keeps_true_lengths(clinic, owner, data):
    """Sunday 14 March 2027, Chicago: 2:00 CST jumps to 3:00 CDT.

    Working 1:00-4:00 on the wall clock is two real hours (07:00-09:00 UTC), so a
    90-minute visit fits from 1:00 to 1:30 only; the 1:00 CST one ends at 3:30 CDT.
    """
    chicago = ZoneInfo("America/Chicago")
    data.set_zone("America/Chicago")
    sunday = date(2027, 3, 14)
    pid = data.provider("Dana Ruiz", weekdays=(6,), hours=(1 * H, 4 * H), lunch=False)

    slots = find_next_available(
        clinic.db, owner, query(pid, not_before=local(sunday, 0, zone=chicago))
    )
    assert [hm(s.starts_at, chicago) for s in slots] == [
        "01:00", "01:05", "01:10", "01:15", "01:20", "01:25", "01:30",
    ]  # fmt: skip
    assert slots[-1].starts_at == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert hm(slots[0].ends_at, chicago) == "03:30"
    assert hm(slots[-1].ends_at, chicago) == "04:00"
    assert all(s.ends_at - s.starts_at == timedelta(minutes=90) for s in slots)


def test_number_of_queries_does_not_grow_with_bookings(clinic, owner, data, monday_booked):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    q = query(monday_booked, horizon_days=42, room_id=data.room, patient_id=data.patient)
    event.listen(clinic.db.engine, "before_cursor_execute", count)
    try:
        find_next_available(clinic.db, owner, q)
        few = len(statements)
        for week in range(6):
            day = MONDAY + timedelta(days=7 * week + 1)
            for hour in range(9, 17):
                data.book(monday_booked, local(day, hour), local(day, hour, 45))
        statements.clear()
        find_next_available(clinic.db, owner, q)
    finally:
        event.remove(clinic.db.engine, "before_cursor_execute", count)
    assert len(statements) == few


INVALID = [
    ("duration 4", {"duration_minutes": 4}, "duration"),
    ("duration 721", {"duration_minutes": 721}, "duration"),
    ("duration 0", {"duration_minutes": 0}, "duration"),
    ("count 0", {"count": 0}, "count"),
    ("count 51", {"count": 51}, "count"),
    ("horizon 0", {"horizon_days": 0}, "horizon"),
    ("horizon 366", {"horizon_days": 366}, "horizon"),
    ("no provider", {"provider_ids": ()}, "providers"),
    ("earliest after latest", {"earliest_minute": 14 * H, "latest_minute": 9 * H}, "earliest"),
    ("earliest equals latest", {"earliest_minute": 9 * H, "latest_minute": 9 * H}, "earliest"),
    ("weekday 7", {"weekdays": frozenset({7})}, "weekdays"),
]


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])  # fmt: skip
def test_bad_searches_are_refused(clinic, owner, data, monday_booked, changes, field):
    with pytest.raises(ValidationError) as caught:
        find_next_available(clinic.db, owner, query(monday_booked, **changes))
    assert caught.value.field == field
    assert str(caught.value)


def test_inactive_provider_is_refused_by_name(clinic, owner, data):
    gone = data.provider("Eli Stone", active=False)
    with pytest.raises(ValidationError, match="Eli Stone is no longer active"):
        find_next_available(clinic.db, owner, query(gone))


def test_unknown_provider_or_removed_room(clinic, owner, data, monday_booked):
    with pytest.raises(NotFoundError):
        find_next_available(clinic.db, owner, query(monday_booked, provider_ids=(9999,)))
    with data.db.uow() as s:
        s.get(Room, data.room).is_active = False
    with pytest.raises(ValidationError, match="Operatory 1 has been removed"):
        find_next_available(clinic.db, owner, query(monday_booked, room_id=data.room))


def test_default_start_is_now(clinic, owner, data):
    pid = data.provider("Fay Moss", weekdays=tuple(range(7)), hours=(0, 24 * H), lunch=False)
    before = datetime.now(UTC)
    [slot] = find_next_available(
        clinic.db, owner, SlotQuery(duration_minutes=30, provider_ids=(pid,), count=1)
    )
    # Working hours end at midnight, so in the last half hour of the clinic's day the
    # first 30-minute slot is midnight: up to one duration later, never more.
    assert before <= slot.starts_at <= before + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        ({}, "No free 90-minute slot in the next 6 weeks for this provider."),
        (
            {"provider_ids": (1, 2, 3), "horizon_days": 7, "duration_minutes": 45},
            "No free 45-minute slot in the next week for these providers.",
        ),
        ({"horizon_days": 10}, "No free 90-minute slot in the next 10 days for this provider."),
    ],
)
def test_empty_state_sentence(changes, sentence):
    text = describe_empty(replace(SlotQuery(90, (1,)), **changes))
    assert text == f"{sentence} Try more providers, other days or a longer horizon."


def test_provider_model_name_is_used(clinic, owner, data, monday_booked):
    with data.db.uow() as s:
        s.get(Provider, monday_booked).title = ""
    [slot] = find_next_available(clinic.db, owner, query(monday_booked, count=1))
    assert slot.provider_name == "Amira Haddad"


@pytest.mark.both_backends
def test_busy_time_is_read_in_whole_seconds_rounded_outwards(clinic, data, monday_booked):
    """Each engine turns the stored times into epoch seconds itself (epoch_seconds): a visit
    ending at 16:30:15.5 holds the provider until 16:30:16 on both."""
    from app.services.scheduling.availability import _busy_by

    starts, ends = local(MONDAY, 16), local(MONDAY, 16, 30, 15) + timedelta(milliseconds=500)
    data.book(monday_booked, starts, ends)
    args = (Appointment.provider_id, (monday_booked,), local(MONDAY, 0), local(MONDAY, 23))
    with clinic.db.uow() as s:
        busy = _busy_by(s, *args)
    assert (int(starts.timestamp()), int(ends.timestamp()) + 1) in busy[monday_booked]


def test_sweep_matches_a_brute_force_search(clinic, owner, data):
    """Random bookings (overlapping, touching, off the grid) for two providers, a room and a
    patient over a week: the sweep finds exactly what checking every candidate finds."""
    import random

    from app.services.scheduling.booking import provider_days

    rng = random.Random(4)
    a = data.provider("Amira Haddad")
    b = data.provider("Ben Okafor", hours=(8 * H, 14 * H))
    busy: dict[str, list[tuple[datetime, datetime]]] = {"a": [], "b": [], "shared": []}
    for _ in range(60):
        day = MONDAY + timedelta(days=rng.randrange(7))
        start = local(day, rng.randrange(7, 18), rng.randrange(0, 60))
        end = start + timedelta(minutes=rng.choice((7, 15, 30, 45, 60, 90)))
        who = rng.choice(("a", "b", "room", "patient"))
        if who in ("a", "b"):
            data.book(a if who == "a" else b, start, end)
            busy[who].append((start, end))
        else:
            other = data.provider(f"Other {rng.random()}", weekdays=())
            data.book(other, start, end, room_id=data.room if who == "room" else None,
                      patient_id=data.patient if who == "patient" else None)  # fmt: skip
            busy["shared"].append((start, end))
    q = query(a, provider_ids=(a, b), horizon_days=7, duration_minutes=40, count=50,
              room_id=data.room, patient_id=data.patient, step_minutes=10,
              earliest_minute=8 * H + 30, latest_minute=16 * H + 45,
              not_before=local(MONDAY, 10, 3))  # fmt: skip

    with clinic.db.uow() as s:
        days = provider_days(s, (a, b), MONDAY, MONDAY + timedelta(days=6))
    expected = []
    length = timedelta(minutes=40)
    for order, (pid, key) in enumerate(((a, "a"), (b, "b"))):
        blocks = busy[key] + busy["shared"]
        for d in range(7):
            day = MONDAY + timedelta(days=d)
            lo, hi = local(day, 8, 30), local(day, 16, 45)
            for span in days[(pid, day)].working:
                candidates = {span.starts_at + k * timedelta(minutes=10) for k in range(200)}
                candidates |= {e for _, e in blocks} | {lo}
                for c in candidates:
                    fits = span.starts_at <= c and c + length <= span.ends_at
                    fits = fits and lo <= c and c + length <= hi and c >= q.not_before
                    if fits and not any(s < c + length and c < e for s, e in blocks):
                        expected.append((c, order, pid))
    expected.sort()
    slots = find_next_available(clinic.db, owner, q)
    assert [(s.starts_at, s.provider_id) for s in slots] == [(c, p) for c, _, p in expected[:50]]
    assert len(slots) == 50


def test_a_provider_listed_twice_is_searched_once(clinic, owner, data, monday_booked):
    slots = find_next_available(
        clinic.db, owner, query(monday_booked, provider_ids=(monday_booked, monday_booked))
    )
    assert [hm(s.starts_at) for s in slots] == MORNING + AFTERNOON
