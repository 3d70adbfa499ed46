"""The waitlist: who fits a free slot (table-driven), what the form refuses, and in which order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from app.clock import today_in, utc_now
from app.data.models.appointments import WaitlistEntry
from app.services.errors import (
    ConcurrentEditError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.scheduling import waitlist
from app.services.scheduling.booking import at_local
from app.services.scheduling.waitlist import WaitlistData
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

ZONE = ZoneInfo("America/New_York")  # the clinic fixture's zone
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = frozenset({MON, TUE, WED, THU, FRI})


def _next_monday(weeks_ahead: int = 3) -> date:
    today = today_in(ZONE)
    return today + timedelta(days=(7 - today.weekday()) + 7 * weeks_ahead)


def _hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _plain(text: str) -> str:
    """Babel separates times with thin and narrow no-break spaces; compare with plain ones."""
    return " ".join(text.replace("\u202f", " ").replace("\u2009", " ").split())


@dataclass
class World:
    db: object
    owner: object
    okafor: int
    lindqvist: int
    filling: int  # 60 minutes
    cleaning: int  # 30 minutes
    patients: list[int]
    monday: date

    def at(self, weekday: int, hm: str) -> datetime:
        return at_local(self.monday + timedelta(days=weekday), _hm(hm), ZONE)

    def add(self, patient: int, **overrides) -> waitlist.WaitlistLine:
        data = WaitlistData(
            patient_id=patient,
            service_id=self.filling,
            weekdays=WEEKDAYS,
            earliest_minute=_hm("9:00"),
            latest_minute=_hm("12:00"),
        )
        return waitlist.add_to_waitlist(self.db, self.owner, replace(data, **overrides))

    def matches(self, provider: int, start: datetime, minutes: int) -> list[int]:
        found = waitlist.waitlist_matches(
            self.db, self.owner, provider, start, start + timedelta(minutes=minutes)
        )
        return [m.entry.id for m in found]


@pytest.fixture
def world(clinic, owner) -> World:
    with clinic.db.uow() as s:
        okafor = add_provider(s, name="Daniel Okafor", title="Dr.").id
        lindqvist = add_provider(s, name="Maja Lindqvist", title="Dr.").id
        filling = add_service(s, name="Composite filling", default_duration_minutes=60).id
        cleaning = add_service(s, name="Hygiene cleaning", default_duration_minutes=30).id
        patients = [
            add_patient(s, first_name=first, last_name=last, mobile_phone="+12075550100").id
            for first, last in [("Ana", "Ruiz"), ("Ben", "Okoro"), ("Chloe", "Marsh")]
        ]
    return World(clinic.db, owner, okafor, lindqvist, filling, cleaning, patients, _next_monday())


def _set_added(db, entry_id: int, days_ago: int) -> None:
    """Added ``days_ago`` days back on the clinic's calendar, at this time of day there:
    subtracting in the clinic's zone keeps the wall-clock time, where 30 × 24 hours back
    across a change of clocks can land on the day before (29 days waited, not 30)."""
    added = utc_now().astimezone(ZONE) - timedelta(days=days_ago)
    with db.uow() as s:
        s.execute(
            update(WaitlistEntry).where(WaitlistEntry.id == entry_id).values(created_at=added)
        )


def _book(db, world: World, patient: int, start: datetime, minutes: int, **kw) -> int:
    with db.uow() as s:
        from app.data.models import Patient, Provider

        return add_appointment(
            s,
            s.get(Patient, patient),
            s.get(Provider, kw.pop("provider", world.okafor)),
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            **kw,
        ).id


# --- matching, one rule per row ---------------------------------------------------------------

# (case, entry overrides, slot weekday, slot start, slot minutes, slot provider, fits?)
# The entry by default: Composite filling (60 min), Mon–Fri, 9:00–12:00, any provider.
SLOT_CASES = [
    ("inside the window", {}, MON, "9:00", 60, "okafor", True),
    ("starts exactly at the earliest time", {}, TUE, "9:00", 60, "okafor", True),
    ("one minute before the earliest time", {}, TUE, "8:59", 60, "okafor", False),
    ("ends exactly at the latest time", {}, WED, "11:00", 60, "okafor", True),
    ("ends one minute after the latest time", {}, WED, "11:01", 60, "okafor", False),
    ("a long slot: only the service's hour must fit", {}, MON, "11:00", 240, "okafor", True),
    ("slot shorter than the service", {}, MON, "9:00", 45, "okafor", False),
    ("Saturday is not ticked", {}, SAT, "9:00", 60, "okafor", False),
    ("only Wednesdays: a Tuesday slot", {"weekdays": frozenset({WED})}, TUE, "9:00", 60,
     "okafor", False),
    ("only Wednesdays: a Wednesday slot", {"weekdays": 1 << WED}, WED, "9:00", 60, "okafor",
     True),
    ("wants Dr. Lindqvist, slot is Dr. Okafor's", {"provider_id": "lindqvist"}, MON, "9:00",
     60, "okafor", False),
    ("wants Dr. Lindqvist, slot is hers", {"provider_id": "lindqvist"}, MON, "9:00", 60,
     "lindqvist", True),
    ("any provider takes Dr. Lindqvist", {}, MON, "9:00", 60, "lindqvist", True),
    ("wanted before that Monday", {"wanted_before": 0}, MON, "9:00", 60, "okafor", False),
    ("wanted before the Tuesday", {"wanted_before": 1}, MON, "9:00", 60, "okafor", True),
    ("a shorter service fits a half hour", {"service_id": "cleaning"}, MON, "11:30", 30,
     "okafor", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "weekday", "start", "minutes", "provider", "fits"),
    [pytest.param(*case[1:], id=case[0]) for case in SLOT_CASES],
)
def test_a_slot_fits_an_entry_only_when_every_rule_allows(
    world, overrides, weekday, start, minutes, provider, fits
):
    resolved = dict(overrides)
    if "provider_id" in resolved:
        resolved["provider_id"] = getattr(world, resolved["provider_id"])
    if "service_id" in resolved:
        resolved["service_id"] = getattr(world, resolved["service_id"])
    if "wanted_before" in resolved:
        resolved["wanted_before"] = world.monday + timedelta(days=resolved["wanted_before"])
    entry = world.add(world.patients[0], **resolved)
    found = world.matches(getattr(world, provider), world.at(weekday, start), minutes)
    assert found == ([entry.id] if fits else [])


# (case, where the current booking is, its status, fits?) for a Tuesday 9:00 slot
CURRENT_CASES = [
    ("current booking is a week later", (7 + TUE, "9:00"), "scheduled", True),
    ("current booking is the same day, later", (TUE, "11:00"), "confirmed", True),
    ("current booking is earlier than the slot", (MON, "10:00"), "scheduled", False),
    ("current booking is at the very same time", (TUE, "9:00"), "scheduled", False),
    ("current booking was cancelled: no bar to beat", (MON, "10:00"), "cancelled", True),
]


@pytest.mark.parametrize(
    ("where", "status", "fits"),
    [pytest.param(*case[1:], id=case[0]) for case in CURRENT_CASES],
)
def test_the_slot_must_be_earlier_than_the_patients_current_booking(world, where, status, fits):
    patient = world.patients[0]
    current = _book(world.db, world, patient, world.at(*where), 60, status="scheduled")
    entry = world.add(patient, current_appointment_id=current)
    if status != "scheduled":
        from app.data.models import Appointment

        with world.db.uow() as s:
            s.execute(update(Appointment).where(Appointment.id == current).values(status=status))
    found = world.matches(world.okafor, world.at(TUE, "9:00"), 60)
    assert found == ([entry.id] if fits else [])


# (case, other booking start, minutes, status, fits?) for a Monday 9:00–10:00 slot
BUSY_CASES = [
    ("booked with another provider at 9:30", "9:30", 30, "scheduled", False),
    ("booked 8:30–9:01, overlapping by a minute", "8:30", 31, "confirmed", False),
    ("booked right after, touching at 10:00", "10:00", 30, "scheduled", True),
    ("booked right before, touching at 9:00", "8:30", 30, "scheduled", True),
    ("a cancelled booking then does not count", "9:00", 60, "cancelled", True),
]


@pytest.mark.parametrize(
    ("start", "minutes", "status", "fits"),
    [pytest.param(*case[1:], id=case[0]) for case in BUSY_CASES],
)
def test_a_patient_already_booked_at_that_time_is_not_offered_it(
    world, start, minutes, status, fits
):
    patient = world.patients[0]
    entry = world.add(patient)
    _book(world.db, world, patient, world.at(MON, start), minutes, status=status,
          provider=world.lindqvist)  # fmt: skip
    found = world.matches(world.okafor, world.at(MON, "9:00"), 60)
    assert found == ([entry.id] if fits else [])


def test_booked_and_removed_entries_are_never_offered(world):
    booked = world.add(world.patients[0])
    removed = world.add(world.patients[1])
    waiting = world.add(world.patients[2])
    appointment = _book(world.db, world, world.patients[0], world.at(TUE, "9:00"), 60)
    waitlist.mark_waitlist_booked(world.db, world.owner, booked.id, appointment)
    waitlist.remove_from_waitlist(world.db, world.owner, removed.id, "Went to another clinic")
    assert world.matches(world.okafor, world.at(MON, "9:00"), 60) == [waiting.id]
    assert [line.id for line in waitlist.list_waitlist(world.db, world.owner)] == [waiting.id]


def test_matches_come_longest_waiting_first(world):
    newest = world.add(world.patients[0])
    oldest = world.add(world.patients[1])
    middle = world.add(world.patients[2])
    _set_added(world.db, newest.id, 1)
    _set_added(world.db, oldest.id, 30)
    _set_added(world.db, middle.id, 9)
    assert world.matches(world.okafor, world.at(MON, "9:00"), 60) == [
        oldest.id,
        middle.id,
        newest.id,
    ]
    lines = waitlist.list_waitlist(world.db, world.owner)
    assert [(line.id, line.waiting_days) for line in lines] == [
        (oldest.id, 30),
        (middle.id, 9),
        (newest.id, 1),
    ]


# --- the list in words ------------------------------------------------------------------------


def test_list_lines_say_who_what_and_when_in_words(world):
    current = _book(world.db, world, world.patients[0], world.at(7 + THU, "14:00"), 60)
    world.add(
        world.patients[0],
        provider_id=world.okafor,
        weekdays=frozenset({MON, WED}),
        earliest_minute=_hm("8:00"),
        latest_minute=_hm("12:00"),
        current_appointment_id=current,
        notes="  Can come at short notice  ",
    )
    world.add(world.patients[1], weekdays=WEEKDAYS, earliest_minute=0, latest_minute=1440)
    first, second = waitlist.list_waitlist(world.db, world.owner)
    assert first.patient_name == "Ruiz, Ana"
    assert first.phone == "(207) 555-0100"
    assert (first.service_name, first.duration_minutes) == ("Composite filling", 60)
    assert first.provider_name == "Dr. Daniel Okafor"
    assert _plain(first.preferred_text) == "Mon, Wed · 8:00 AM – 12:00 PM"
    assert first.notes == "Can come at short notice"
    assert first.current_appointment_at == world.at(7 + THU, "14:00")
    assert "2:00" in first.current_appointment_text
    assert second.provider_name == "Any provider"
    assert second.preferred_text == "Mon–Fri · Any time"
    assert second.waiting_days == 0


# --- validation -------------------------------------------------------------------------------


def _merge_or_deactivate(db, patient_id: int, merged_into: int | None) -> None:
    from app.data.models import Patient

    with db.uow() as s:
        s.execute(
            update(Patient)
            .where(Patient.id == patient_id)
            .values(is_active=False, merged_into_id=merged_into)
        )


def _deactivate(db, model, row_id: int) -> None:
    with db.uow() as s:
        s.execute(update(model).where(model.id == row_id).values(is_active=False))


INVALID_CASES = [
    ("no weekday ticked", {"weekdays": frozenset()}, "weekdays", "Tick at least one day"),
    ("earliest equals latest", {"earliest_minute": 600, "latest_minute": 600}, "latest",
     "earliest time must be before the latest"),
    ("earliest after latest", {"earliest_minute": 720, "latest_minute": 540}, "latest",
     "earliest time must be before the latest"),
    ("window shorter than the service", {"earliest_minute": 540, "latest_minute": 570},
     "latest", "Composite filling takes 60 minutes"),
    ("wanted before today", {"wanted_before": "today"}, "wanted_before", "after today"),
    ("wanted before yesterday", {"wanted_before": "yesterday"}, "wanted_before",
     "after today"),
    ("no service", {"service_id": None}, "service", "Choose the service"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in INVALID_CASES],
)
def test_the_form_refuses_what_cannot_be_matched(world, overrides, field, words):
    today = today_in(ZONE)
    when = {"today": today, "yesterday": today - timedelta(days=1)}
    resolved = {k: when.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()}
    with pytest.raises(ValidationError) as caught:
        world.add(world.patients[0], **resolved)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert waitlist.list_waitlist(world.db, world.owner) == []


def test_merged_and_inactive_patients_cannot_wait(world):
    merged, inactive = world.patients[0], world.patients[1]
    _merge_or_deactivate(world.db, merged, world.patients[2])
    _merge_or_deactivate(world.db, inactive, None)
    with pytest.raises(ValidationError, match="was merged into another record"):
        world.add(merged)
    with pytest.raises(ValidationError, match="inactive patient"):
        world.add(inactive)


def test_inactive_services_and_providers_are_refused(world):
    from app.data.models import Provider, Service

    _deactivate(world.db, Service, world.cleaning)
    _deactivate(world.db, Provider, world.lindqvist)
    with pytest.raises(ValidationError, match="no longer offered") as caught:
        world.add(world.patients[0], service_id=world.cleaning)
    assert caught.value.field == "service"
    with pytest.raises(ValidationError, match="no longer active") as caught:
        world.add(world.patients[0], provider_id=world.lindqvist)
    assert caught.value.field == "provider"


def test_a_second_entry_for_the_same_service_is_refused_by_name(world):
    world.add(world.patients[0])
    with pytest.raises(ValidationError) as caught:
        world.add(world.patients[0], weekdays=frozenset({FRI}))
    assert "Ruiz, Ana is already on the waitlist for Composite filling" in str(caught.value)
    # Another service is a separate wish.
    world.add(world.patients[0], service_id=world.cleaning)
    assert len(waitlist.list_waitlist(world.db, world.owner)) == 2


def test_someone_elses_appointment_cannot_be_the_current_one(world):
    other = _book(world.db, world, world.patients[1], world.at(FRI, "9:00"), 60)
    with pytest.raises(ValidationError, match="not this patient's"):
        world.add(world.patients[0], current_appointment_id=other)


def test_a_provider_may_read_the_list_but_not_change_it(world, make_staff):
    paul = make_staff("paul", "provider", "Dr Paul Provider")
    rita = make_staff("rita", "receptionist", "Rita Reception")
    line = waitlist.add_to_waitlist(
        world.db,
        rita,
        WaitlistData(patient_id=world.patients[0], service_id=world.filling),
    )
    assert [x.id for x in waitlist.list_waitlist(world.db, paul)] == [line.id]
    with pytest.raises(PermissionDeniedError):
        waitlist.remove_from_waitlist(world.db, paul, line.id, "Not needed")


# --- editing, removing, booking ---------------------------------------------------------------


def test_editing_changes_the_wish_and_stale_copies_are_refused(world):
    line = world.add(world.patients[0])
    data = WaitlistData(
        patient_id=line.patient_id,
        service_id=world.filling,
        provider_id=world.lindqvist,
        weekdays=frozenset({SAT}),
        earliest_minute=_hm("13:00"),
        latest_minute=_hm("17:00"),
        wanted_before=world.monday + timedelta(days=14),
        notes="Only Saturdays now",
        id=line.id,
        version=line.version,
    )
    edited = waitlist.update_waitlist_entry(world.db, world.owner, data)
    assert _plain(edited.preferred_text) == "Sat · 1:00 – 5:00 PM"
    assert edited.provider_name == "Dr. Maja Lindqvist"
    assert edited.wanted_before == world.monday + timedelta(days=14)
    assert world.matches(world.lindqvist, world.at(SAT, "13:00"), 60) == [line.id]
    assert world.matches(world.lindqvist, world.at(MON, "9:00"), 60) == []
    with pytest.raises(ConcurrentEditError):
        waitlist.update_waitlist_entry(world.db, world.owner, replace(data, notes="stale"))


def test_removing_needs_a_reason_and_keeps_it(world):
    line = world.add(world.patients[0], notes="Prefers mornings")
    with pytest.raises(ValidationError, match="Type the reason"):
        waitlist.remove_from_waitlist(world.db, world.owner, line.id, "   ")
    waitlist.remove_from_waitlist(world.db, world.owner, line.id, "Booked elsewhere")
    removed = waitlist.get_waitlist_entry(world.db, world.owner, line.id)
    assert removed.status == "removed"
    assert removed.notes == "Prefers mornings\nRemoved from the waitlist: Booked elsewhere"
    with pytest.raises(ValidationError, match="already removed"):
        waitlist.remove_from_waitlist(world.db, world.owner, line.id, "again")


def test_marking_booked_needs_the_patients_own_appointment(world):
    line = world.add(world.patients[0])
    theirs = _book(world.db, world, world.patients[0], world.at(TUE, "9:00"), 60)
    someone_else = _book(world.db, world, world.patients[1], world.at(TUE, "10:00"), 60)
    with pytest.raises(ValidationError, match="another patient"):
        waitlist.mark_waitlist_booked(world.db, world.owner, line.id, someone_else)
    waitlist.mark_waitlist_booked(world.db, world.owner, line.id, theirs)
    assert waitlist.get_waitlist_entry(world.db, world.owner, line.id).status == "booked"


# --- a slot that frees up ---------------------------------------------------------------------


def test_a_cancelled_appointment_offers_its_time_to_others_on_the_list(world):
    canceller, waiting_a, waiting_b = world.patients
    cancelled = _book(world.db, world, canceller, world.at(TUE, "9:00"), 60, status="cancelled")
    world.add(canceller)  # they gave the time up: not offered back to them
    a = world.add(waiting_a)
    b = world.add(waiting_b, service_id=world.cleaning)
    _set_added(world.db, b.id, 5)
    freed = waitlist.freed_slot_matches(world.db, world.owner, cancelled)
    assert [m.entry.id for m in freed.matches] == [b.id, a.id]
    assert [m.ends_at - m.starts_at for m in freed.matches] == [
        timedelta(minutes=30),
        timedelta(minutes=60),
    ]
    assert _plain(freed.headline) == (
        "2 patients on the waitlist fit "
        f"{world.at(TUE, '9:00').astimezone(ZONE):%a, %b} "
        f"{(world.monday + timedelta(days=1)).day}, 9:00 – 10:00 AM with Dr. Daniel Okafor"
    )


def test_a_moved_appointment_offers_its_former_time(world):
    mover, waiting = world.patients[0], world.patients[1]
    moved = _book(world.db, world, mover, world.at(THU, "15:00"), 60)
    entry = world.add(waiting)
    with pytest.raises(ValidationError, match="still holds its time"):
        waitlist.freed_slot_matches(world.db, world.owner, moved)
    freed = waitlist.freed_slot_matches(
        world.db,
        world.owner,
        moved,
        former_starts_at=world.at(WED, "10:00"),
        former_ends_at=world.at(WED, "11:00"),
        former_provider_id=world.okafor,
    )
    assert [m.entry.id for m in freed.matches] == [entry.id]
    assert freed.headline.startswith("1 patient on the waitlist fits ")


def test_a_slot_nobody_fits_says_so(world):
    world.add(world.patients[0])
    result = waitlist.slot_matches(
        world.db, world.owner, world.okafor, world.at(SUN, "9:00"), world.at(SUN, "10:00")
    )
    assert result.matches == ()
    assert result.headline.startswith("Nobody on the waitlist fits Sun,")
