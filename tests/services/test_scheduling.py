"""The appointment book's rules: working time, clashes, booking, series, moves, reading."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.data.models import Appointment
from app.data.models.appointments import AppointmentSeries, AppointmentStatusChange
from app.data.models.audit import AuditEntry
from app.data.models.documents import ConsentTemplate, ConsentVersion, StoredDocument
from app.data.models.insurance import PreAuthorization
from app.data.models.patients import Patient
from app.data.models.providers import ProviderBreak, Room, ServiceRequiredConsent, WorkingHours
from app.services.errors import (
    ConcurrentEditError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.scheduling import appointment_book
from app.services.scheduling import booking as sch
from app.services.scheduling.booking import AppointmentRequest, ConflictError
from tests.data.factories import add_patient, add_provider, add_service, another_workstation

pytestmark = pytest.mark.both_backends


ZONE = ZoneInfo("America/New_York")  # the test clinic's zone
MONDAY = date(2027, 3, 1)


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return sch.at_local(day, hours * 60 + minutes, ZONE)


class Book:
    """A small clinic: two providers (9-17, lunch 12-13, Mon-Fri), two rooms, patients."""

    def __init__(self, db):
        self.db = db
        with db.uow() as s:
            self.ada = add_provider(s, name="Ada Lovelace").id
            self.ben = add_provider(s, name="Ben Carter", title="").id
            for pid in (self.ada, self.ben):
                for weekday in range(5):
                    s.add(
                        WorkingHours(
                            provider_id=pid, weekday=weekday, start_minute=540, end_minute=1020
                        )
                    )
                    s.add(
                        ProviderBreak(
                            provider_id=pid,
                            weekday=weekday,
                            start_minute=720,
                            end_minute=780,
                            label="Lunch",
                        )
                    )
            self.room1 = _room(s, "Operatory 1")
            self.room2 = _room(s, "Operatory 2")
            self.filling = add_service(s, name="Composite filling", default_duration_minutes=45).id
            self.ana = add_patient(s, first_name="Ana", last_name="Ruiz").id
            self.bo = add_patient(s, first_name="Bo", last_name="Lindqvist").id
            self.cy = add_patient(s, first_name="Cy", last_name="Okoro").id

    def request(self, start="09:00", end="09:30", day=MONDAY, **kw) -> AppointmentRequest:
        values = dict(
            patient_id=self.ana,
            provider_id=self.ada,
            starts_at=at(day, start),
            ends_at=at(day, end),
            service_id=self.filling,
        )
        values.update(kw)
        return AppointmentRequest(**values)


def _room(session, name: str) -> int:
    room = Room(name=name)
    session.add(room)
    session.flush()
    return room.id


@pytest.fixture
def book(clinic) -> Book:
    return Book(clinic.db)


def plain(text: str) -> str:
    """Babel puts a narrow no-break space before AM/PM; compare with plain spaces."""
    return text.replace("\u202f", " ")


def count_appointments(db) -> int:
    with db.uow() as s:
        return s.scalar(select(func.count(Appointment.id)))


# --- working time ------------------------------------------------------------------------------


def test_working_time_cuts_out_breaks_and_dated_days_off(clinic, book):
    with clinic.db.uow() as s:
        s.add(
            ProviderBreak(
                provider_id=book.ada,
                on_date=MONDAY + timedelta(days=1),
                start_minute=540,
                end_minute=660,
                label="Dentist course",
            )
        )
    with clinic.db.uow() as s:
        days = sch.provider_days(s, [book.ada], MONDAY, MONDAY + timedelta(days=6))
    monday = days[(book.ada, MONDAY)]
    assert [(w.starts_at, w.ends_at) for w in monday.working] == [
        (at(MONDAY, "09:00"), at(MONDAY, "12:00")),
        (at(MONDAY, "13:00"), at(MONDAY, "17:00")),
    ]
    assert [b.label for b in monday.breaks] == ["Lunch"]
    tuesday = days[(book.ada, MONDAY + timedelta(days=1))]
    assert tuesday.working[0].starts_at == at(MONDAY + timedelta(days=1), "11:00")
    assert days[(book.ada, MONDAY + timedelta(days=5))].working == ()  # Saturday


def test_working_hours_stay_on_the_wall_clock_across_dst(clinic, book):
    spring = date(2027, 3, 15)  # the Monday after clocks went forward (Mar 14)
    with clinic.db.uow() as s:
        days = sch.provider_days(s, [book.ada], MONDAY, spring)
    before = days[(book.ada, MONDAY)].working[0]
    after = days[(book.ada, spring)].working[0]
    assert before.starts_at.astimezone(ZONE).hour == after.starts_at.astimezone(ZONE).hour == 9
    assert before.starts_at.hour == 14 and after.starts_at.hour == 13  # UTC moved an hour


def test_local_day_span_is_23_hours_on_spring_forward():
    assert sch.local_day_span(date(2027, 3, 14), ZONE).minutes == 23 * 60
    assert sch.local_day_span(date(2027, 11, 7), ZONE).minutes == 25 * 60


# --- clashes (table-driven) --------------------------------------------------------------------

EXISTING = dict(start="10:00", end="10:45")  # Ana with Ada in Operatory 1


@pytest.mark.parametrize(
    ("name", "change", "kinds"),
    [
        (
            "same provider, overlapping",
            dict(patient="bo", start="10:30", end="11:00"),
            ["provider"],
        ),
        ("same provider, inside", dict(patient="bo", start="10:15", end="10:30"), ["provider"]),
        ("same provider, around", dict(patient="bo", start="09:30", end="11:30"), ["provider"]),
        ("back to back before", dict(patient="bo", start="09:15", end="10:00"), []),
        ("back to back after", dict(patient="bo", start="10:45", end="11:30"), []),
        (
            "same room, other provider",
            dict(patient="bo", provider="ben", room="room1", start="10:30", end="11:00"),
            ["room"],
        ),
        (
            "other room, other provider",
            dict(patient="bo", provider="ben", room="room2", start="10:30", end="11:00"),
            [],
        ),
        (
            "same patient, other provider",
            dict(provider="ben", room="room2", start="10:30", end="11:00"),
            ["patient"],
        ),
        ("same patient and provider", dict(start="10:30", end="11:00"), ["provider"]),
        ("before opening", dict(patient="bo", start="08:30", end="09:15"), ["hours"]),
        ("into lunch", dict(patient="bo", start="11:45", end="12:15"), ["hours"]),
        ("after closing", dict(patient="bo", start="16:45", end="17:15"), ["hours"]),
        ("ends exactly at closing", dict(patient="bo", start="16:30", end="17:00"), []),
        ("saturday", dict(patient="bo", day=MONDAY + timedelta(days=5)), ["hours"]),
    ],
)
def test_clash_rules(clinic, owner, book, name, change, kinds):
    sch.book_appointment(clinic.db, owner, book.request(room_id=book.room1, **EXISTING))
    kw = dict(change)
    values = dict(
        patient_id=getattr(book, kw.pop("patient", "ana")),
        provider_id=getattr(book, kw.pop("provider", "ada")),
        room_id=getattr(book, kw.pop("room", "room1")),
    )
    request = book.request(**kw, **values)
    check = sch.check_booking(clinic.db, owner, request)
    assert [c.kind for c in check.clashes] == kinds, name


def test_clash_message_names_the_clashing_appointment(clinic, owner, book):
    first = sch.book_appointment(clinic.db, owner, book.request(start="10:00", end="10:45"))
    with pytest.raises(ConflictError) as raised:
        sch.book_appointment(
            clinic.db, owner, book.request(start="10:30", end="11:00", patient_id=book.bo)
        )
    message = plain(str(raised.value))
    assert message == (
        "Dr. Ada Lovelace already sees Ruiz, Ana (Composite filling) "
        "10:00 AM–10:45 AM on Mon, Mar 1."
    )
    assert raised.value.clashes[0].appointment_id == first.appointment_id
    assert raised.value.can_double_book  # the owner may
    assert count_appointments(clinic.db) == 1


def test_outside_hours_message_gives_the_hours(clinic, owner, book):
    check = sch.check_booking(clinic.db, owner, book.request(start="17:00", end="17:30"))
    assert plain(check.clashes[0].message) == (
        "5:00 PM–5:30 PM on Mon, Mar 1 is outside Dr. Ada Lovelace's working hours "
        "(9:00 AM–12:00 PM, 1:00 PM–5:00 PM)."
    )
    lunch = sch.check_booking(clinic.db, owner, book.request(start="12:00", end="12:30"))
    assert plain(lunch.clashes[0].message).startswith(
        "Dr. Ada Lovelace is on a break (Lunch) 12:00 PM"
    )


def test_cancelled_and_no_show_appointments_free_their_time(clinic, owner, book):
    with clinic.db.uow() as s:
        for status in ("cancelled", "no_show"):
            s.add(
                Appointment(
                    patient_id=book.bo,
                    provider_id=book.ada,
                    status=status,
                    starts_at=at(MONDAY, "09:00"),
                    ends_at=at(MONDAY, "10:00"),
                )
            )
    assert sch.check_booking(clinic.db, owner, book.request()).free


# --- double-booking ----------------------------------------------------------------------------


def test_receptionist_cannot_double_book(clinic, owner, make_staff, book):
    desk = make_staff("rachel", "receptionist")
    sch.book_appointment(clinic.db, desk, book.request())
    with pytest.raises(ConflictError) as raised:
        sch.book_appointment(clinic.db, desk, book.request(patient_id=book.bo), double_book=True)
    assert not raised.value.can_double_book
    assert count_appointments(clinic.db) == 1


def test_coordinator_double_books_and_it_is_audited(clinic, owner, make_staff, book):
    coordinator = make_staff("camila", "coordinator")
    sch.book_appointment(clinic.db, coordinator, book.request())
    result = sch.book_appointment(
        clinic.db, coordinator, book.request(patient_id=book.bo), double_book=True
    )
    with clinic.db.uow() as s:
        assert s.get(Appointment, result.appointment_id).double_booked
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "double_booked")).one()
    assert entry.username == "camila"
    assert entry.entity_id == result.appointment_id
    assert "already sees Ruiz, Ana" in entry.detail


def test_provider_role_cannot_book(clinic, make_staff, book):
    provider = make_staff("drdan", "provider")
    with pytest.raises(PermissionDeniedError):
        sch.book_appointment(clinic.db, provider, book.request())


# --- bad input -----------------------------------------------------------------------------------


def _deactivate(db, model, row_id):
    with db.uow() as s:
        s.get(model, row_id).is_active = False


@pytest.mark.parametrize(
    ("setup", "change", "field", "message"),
    [
        (None, dict(start="10:00", end="09:30"), "duration", "The visit ends before it starts."),
        (None, dict(start="10:00", end="10:00"), "duration", "the end is the same as the start"),
        (None, dict(day=date(2077, 3, 1)), "date", "more than 5 years away"),
        ("inactive patient", {}, "patient", "inactive"),
        ("merged patient", {}, "patient", "merged into another record"),
        ("inactive provider", {}, "provider", "no longer active"),
        ("removed room", dict(room="room1"), "room", "Operatory 1 has been removed"),
        ("retired service", {}, "service", "“Composite filling” is no longer offered"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_saved(
    clinic, owner, book, setup, change, field, message
):
    db = clinic.db
    if setup == "inactive patient":
        _deactivate(db, Patient, book.ana)
    elif setup == "merged patient":
        with db.uow() as s:
            merged = s.get(Patient, book.ana)
            merged.merged_into_id, merged.is_active = book.bo, False
    elif setup == "inactive provider":
        from app.data.models.providers import Provider

        _deactivate(db, Provider, book.ada)
    elif setup == "removed room":
        _deactivate(db, Room, book.room1)
    elif setup == "retired service":
        from app.data.models.providers import Service

        _deactivate(db, Service, book.filling)
    kw = dict(change)
    if "room" in kw:
        kw["room_id"] = getattr(book, kw.pop("room"))
    with pytest.raises(ValidationError) as raised:
        sch.book_appointment(db, owner, book.request(**kw))
    assert raised.value.field == field
    assert message in str(raised.value)
    assert count_appointments(db) == 0


def test_a_visit_longer_than_twelve_hours_is_refused(clinic, owner, book):
    request = book.request()
    request = AppointmentRequest(
        **{**request.__dict__, "ends_at": request.starts_at + timedelta(hours=13)}
    )
    with pytest.raises(ValidationError, match="at most 12 hours"):
        sch.book_appointment(clinic.db, owner, request)


# --- the booking itself -----------------------------------------------------------------------


def test_booking_writes_history_and_moves_the_journey(clinic, owner, book):
    result = sch.book_appointment(clinic.db, owner, book.request(notes="  Anxious patient "))
    with clinic.db.uow() as s:
        appt = s.get(Appointment, result.appointment_id)
        assert appt.status == "scheduled"
        assert appt.notes == "Anxious patient"
        assert appt.booked_by_id == owner.staff_id
        history = s.scalars(select(AppointmentStatusChange)).all()
        assert [(h.from_status, h.to_status, h.changed_by_id) for h in history] == [
            (None, "scheduled", owner.staff_id)
        ]
        assert s.get(Patient, book.ana).journey_stage == "booked"


def test_two_workstations_racing_for_one_slot_exactly_one_wins(clinic, owner, book):
    """Two connections to the same file book the same time at the same moment."""
    second = another_workstation(clinic)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def attempt(db, patient_id):
        barrier.wait()
        try:
            outcomes.append(sch.book_appointment(db, owner, book.request(patient_id=patient_id)))
        except (ConflictError, ConcurrentEditError) as exc:
            outcomes.append(exc)

    threads = [
        threading.Thread(target=attempt, args=(clinic.db, book.bo)),
        threading.Thread(target=attempt, args=(second, book.cy)),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        second.close()
    assert sorted(type(o).__name__ for o in outcomes) == ["BookingResult", "ConflictError"]
    assert count_appointments(clinic.db) == 1


def test_a_booking_waits_for_another_workstations_open_booking_then_sees_it(clinic, owner, book):
    """The clash check runs under the write lock: an uncommitted booking elsewhere is seen
    as soon as it commits, never missed."""
    second = another_workstation(clinic)
    result: list[object] = []
    try:
        with second.uow() as s:
            sch.lock_book(s)
            s.add(
                Appointment(
                    patient_id=book.bo,
                    provider_id=book.ada,
                    starts_at=at(MONDAY, "09:00"),
                    ends_at=at(MONDAY, "09:30"),
                )
            )
            s.flush()

            def attempt():
                try:
                    result.append(sch.book_appointment(clinic.db, owner, book.request()))
                except ConflictError as exc:
                    result.append(exc)

            thread = threading.Thread(target=attempt)
            thread.start()
            thread.join(0.5)
            assert thread.is_alive()  # waiting for the other workstation's transaction
        thread.join(30)
    finally:
        second.close()
    assert isinstance(result[0], ConflictError)
    assert "Example" not in str(result[0]) and "Lindqvist, Bo" in str(result[0])


# --- warnings: pre-authorisation and consents ------------------------------------------------


@pytest.fixture
def crown(clinic):
    with clinic.db.uow() as s:
        return add_service(s, name="Porcelain crown", requires_preauth=True).id


@pytest.mark.parametrize(
    ("preauth", "warning"),
    [
        (None, "needs a pre-authorization and none is approved"),
        (dict(status="requested"), "none is approved"),
        (
            dict(status="approved", expires_on=date(2027, 2, 27)),
            "expires on Feb 27, 2027, before this visit",
        ),
        (
            dict(status="approved", approved_units=2, used_units=2),
            "All 2 approved visits of the pre-authorization for Porcelain crown are used",
        ),
        (dict(status="approved", approved_units=3, used_units=1), None),
        (dict(status="approved", expires_on=date(2027, 3, 1)), None),
    ],
)
def test_preauthorisation_warnings(clinic, owner, book, crown, preauth, warning):
    if preauth is not None:
        with clinic.db.uow() as s:
            s.add(PreAuthorization(patient_id=book.ana, service_id=crown, **preauth))
    check = sch.check_booking(clinic.db, owner, book.request(service_id=crown))
    assert check.free
    if warning is None:
        assert check.warnings == ()
    else:
        assert len(check.warnings) == 1 and warning in check.warnings[0]


def test_booked_visits_use_up_the_approved_units(clinic, owner, book, crown):
    with clinic.db.uow() as s:
        s.add(
            PreAuthorization(
                patient_id=book.ana, service_id=crown, status="approved", approved_units=1
            )
        )
    first = sch.book_appointment(clinic.db, owner, book.request(service_id=crown))
    assert first.warnings == ()
    second = sch.book_appointment(
        clinic.db, owner, book.request(service_id=crown, day=MONDAY + timedelta(days=7))
    )
    assert "are used or already booked" in second.warnings[0]


def test_unsigned_required_consent_is_named(clinic, owner, book):
    with clinic.db.uow() as s:
        template = ConsentTemplate(key="injectables_short_form")
        s.add(template)
        s.flush()
        version = ConsentVersion(
            template_id=template.id, version=1, title="Consent to injectable treatment", body="…"
        )
        s.add(version)
        s.add(ServiceRequiredConsent(service_id=book.filling, consent_template_id=template.id))
        s.flush()
        version_id = version.id
    check = sch.check_booking(clinic.db, owner, book.request())
    assert check.warnings == (
        "Composite filling needs the “Consent to injectable treatment” form signed; "
        "it is not signed yet.",
    )
    with clinic.db.uow() as s:
        s.add(
            StoredDocument(
                patient_id=book.ana,
                kind="consent",
                filename="c.pdf",
                mime_type="application/pdf",
                content=b"%PDF",
                size_bytes=4,
                consent_version_id=version_id,
                signed_at=at(MONDAY, "08:00"),
                sha256="0" * 64,
            )
        )
    assert sch.check_booking(clinic.db, owner, book.request()).warnings == ()


# --- series ------------------------------------------------------------------------------------


def test_series_keeps_the_wall_clock_time_across_dst(clinic, owner, book):
    first = book.request(day=date(2027, 3, 8))  # clocks go forward on Mar 14
    requests = sch.series_requests(first, 3, 28, timezone="America/New_York")
    local = [r.starts_at.astimezone(ZONE) for r in requests]
    assert [(d.date(), d.hour, d.minute) for d in local] == [
        (date(2027, 3, 8), 9, 0),
        (date(2027, 4, 5), 9, 0),
        (date(2027, 5, 3), 9, 0),
    ]
    assert all(r.ends_at - r.starts_at == timedelta(minutes=30) for r in requests)


@pytest.mark.parametrize(("count", "every"), [(1, 7), (53, 7), (3, 0), (3, 400)])
def test_series_limits(book, count, every):
    with pytest.raises(ValidationError):
        sch.series_requests(book.request(), count, every)


def test_series_preview_checks_each_instance_and_booking_is_all_or_nothing(clinic, owner, book):
    blocker = sch.book_appointment(
        clinic.db, owner, book.request(patient_id=book.bo, day=MONDAY + timedelta(days=28))
    )
    requests = sch.series_requests(book.request(), 3, 28, timezone="America/New_York")
    preview = sch.preview_series(clinic.db, owner, requests)
    assert [p.free for p in preview] == [True, False, True]
    assert preview[1].clashes[0].appointment_id == blocker.appointment_id
    desk_refusal = pytest.raises(ConflictError)
    with desk_refusal:
        sch.book_series(clinic.db, owner, requests)
    assert count_appointments(clinic.db) == 1  # nothing of the series was saved
    booked = sch.book_series(
        clinic.db, owner, [requests[0], requests[2]], description="Fillings, 2 visits"
    )
    with clinic.db.uow() as s:
        series_ids = {s.get(Appointment, r.appointment_id).series_id for r in booked}
        assert len(series_ids) == 1
        assert s.get(AppointmentSeries, series_ids.pop()).description == "Fillings, 2 visits"


def test_series_instances_that_overlap_each_other_clash(clinic, owner, book):
    requests = sch.series_requests(book.request(start="09:00", end="10:00"), 2, 1)
    same_day = [requests[0], requests[0]]
    preview = sch.preview_series(clinic.db, owner, same_day)
    assert preview[1].clashes[-1].message == "It overlaps visit 1 of this series."


# --- moving and editing ----------------------------------------------------------------------


def test_move_keeps_everything_but_time_and_column(clinic, owner, book):
    booked = sch.book_appointment(clinic.db, owner, book.request(notes="x", room_id=book.room1))
    moved = sch.move_appointment(
        clinic.db,
        owner,
        booked.appointment_id,
        booked.version,
        starts_at=at(MONDAY, "14:00"),
        ends_at=at(MONDAY, "14:45"),
        provider_id=book.ben,
        room_id=book.room2,
    )
    with clinic.db.uow() as s:
        appt = s.get(Appointment, booked.appointment_id)
        assert (appt.starts_at, appt.ends_at, appt.provider_id, appt.room_id) == (
            at(MONDAY, "14:00"),
            at(MONDAY, "14:45"),
            book.ben,
            book.room2,
        )
        assert (appt.notes, appt.service_id) == ("x", book.filling)
    assert moved.version == booked.version + 1


def test_move_into_a_clash_is_refused_and_nothing_changes(clinic, owner, book):
    sch.book_appointment(
        clinic.db, owner, book.request(patient_id=book.bo, start="14:00", end="15:00")
    )
    booked = sch.book_appointment(clinic.db, owner, book.request())
    with pytest.raises(ConflictError):
        sch.move_appointment(
            clinic.db,
            owner,
            booked.appointment_id,
            booked.version,
            starts_at=at(MONDAY, "14:30"),
            ends_at=at(MONDAY, "15:00"),
            provider_id=book.ada,
            room_id=None,
        )
    with clinic.db.uow() as s:
        assert s.get(Appointment, booked.appointment_id).starts_at == at(MONDAY, "09:00")


def test_a_move_does_not_clash_with_the_appointment_itself(clinic, owner, book):
    booked = sch.book_appointment(clinic.db, owner, book.request(start="09:00", end="10:00"))
    sch.move_appointment(
        clinic.db,
        owner,
        booked.appointment_id,
        booked.version,
        starts_at=at(MONDAY, "09:30"),
        ends_at=at(MONDAY, "10:30"),
        provider_id=book.ada,
        room_id=None,
    )


def test_moving_a_confirmed_visit_needs_a_new_confirmation(clinic, owner, book):
    booked = sch.book_appointment(clinic.db, owner, book.request())
    with clinic.db.uow() as s:
        appt = s.get(Appointment, booked.appointment_id)
        sch.record_status_change(s, appt, "confirmed", owner)
        s.flush()
        version = appt.version
    sch.move_appointment(
        clinic.db,
        owner,
        booked.appointment_id,
        version,
        starts_at=at(MONDAY, "15:00"),
        ends_at=at(MONDAY, "15:30"),
        provider_id=book.ada,
        room_id=None,
    )
    with clinic.db.uow() as s:
        appt = s.get(Appointment, booked.appointment_id)
        assert appt.status == "scheduled"
        assert [h.to_status for h in appt.status_changes] == ["scheduled", "confirmed", "scheduled"]


def test_a_stale_version_is_a_concurrent_edit(clinic, owner, book):
    booked = sch.book_appointment(clinic.db, owner, book.request())
    sch.move_appointment(
        clinic.db,
        owner,
        booked.appointment_id,
        booked.version,
        starts_at=at(MONDAY, "15:00"),
        ends_at=at(MONDAY, "15:30"),
        provider_id=book.ada,
        room_id=None,
    )
    with pytest.raises(ConcurrentEditError):
        sch.move_appointment(
            clinic.db,
            owner,
            booked.appointment_id,
            booked.version,
            starts_at=at(MONDAY, "16:00"),
            ends_at=at(MONDAY, "16:30"),
            provider_id=book.ada,
            room_id=None,
        )


def test_a_completed_visit_cannot_be_moved(clinic, owner, book):
    booked = sch.book_appointment(clinic.db, owner, book.request())
    with clinic.db.uow() as s:
        s.get(Appointment, booked.appointment_id).status = "completed"
    with pytest.raises(ValidationError, match="completed; only a booked visit"):
        sch.move_appointment(
            clinic.db,
            owner,
            booked.appointment_id,
            booked.version + 1,
            starts_at=at(MONDAY, "15:00"),
            ends_at=at(MONDAY, "15:30"),
            provider_id=book.ada,
            room_id=None,
        )


# --- reading ---------------------------------------------------------------------------------


def test_load_schedule_for_a_day_by_provider_and_by_room(clinic, owner, book):
    a = sch.book_appointment(clinic.db, owner, book.request(room_id=book.room2))
    sch.book_appointment(
        clinic.db, owner, book.request(patient_id=book.bo, day=MONDAY + timedelta(days=1))
    )
    schedule = appointment_book.load_schedule(clinic.db, owner, MONDAY, 1)
    assert [r.name for r in schedule.resources] == ["Dr. Ada Lovelace", "Ben Carter"]
    assert [b.id for b in schedule.blocks] == [a.appointment_id]
    block = schedule.blocks[0]
    assert (block.patient_name, block.service_name, block.room_name) == (
        "Ruiz, Ana",
        "Composite filling",
        "Operatory 2",
    )
    assert schedule.blocks_for(book.ada, MONDAY) == [block]
    assert schedule.resource_days[(book.ada, MONDAY)].breaks[0].label == "Lunch"
    by_room = appointment_book.load_schedule(clinic.db, owner, MONDAY, 1, by="room")
    assert [r.name for r in by_room.resources] == ["Operatory 1", "Operatory 2"]
    assert by_room.blocks_for(book.room2, MONDAY) == [block]


def test_a_late_evening_appointment_belongs_to_its_local_day(clinic, owner, book):
    with clinic.db.uow() as s:  # 23:30 in New York is 04:30 UTC the next day
        s.add(
            Appointment(
                patient_id=book.bo,
                provider_id=book.ada,
                starts_at=at(MONDAY, "23:30"),
                ends_at=at(MONDAY, "23:55"),
            )
        )
    schedule = appointment_book.load_schedule(clinic.db, owner, MONDAY, 1)
    assert len(schedule.blocks_for(book.ada, MONDAY)) == 1
    assert (
        appointment_book.load_schedule(clinic.db, owner, MONDAY + timedelta(days=1), 1).blocks == ()
    )


def test_month_overview_counts_and_free_time(clinic, owner, book):
    sch.book_appointment(clinic.db, owner, book.request(start="09:00", end="10:30"))
    days = appointment_book.month_overview(clinic.db, owner, 2027, 3)
    assert len(days) == 31
    monday = days[0]
    assert (monday.appointments, monday.booked_minutes) == (1, 90)
    assert monday.working_minutes == 2 * 7 * 60  # two providers, 7 bookable hours each
    assert monday.free_minutes == 2 * 7 * 60 - 90
    assert days[5].working_minutes == 0  # Saturday


def test_busy_spans_by_resource(clinic, owner, book):
    sch.book_appointment(clinic.db, owner, book.request(room_id=book.room1))
    with clinic.db.uow() as s:
        spans = sch.busy_spans(
            s,
            provider_ids=[book.ada, book.ben],
            room_ids=[book.room1],
            starts_at=at(MONDAY, "00:00"),
            ends_at=at(MONDAY, "23:59"),
        )
    assert [s.minutes for s in spans[("provider", book.ada)]] == [30]
    assert spans[("room", book.room1)] == spans[("provider", book.ada)]
    assert ("provider", book.ben) not in spans


def test_fee_settings_exist_for_the_status_flow(clinic):
    # The no-show / late-cancel fee switch is off in a new clinic.
    from app.data.models.clinic import ClinicSettings

    with clinic.db.uow() as s:
        settings = s.get(ClinicSettings, 1)
        assert settings.charge_no_show_fee is False
        assert settings.no_show_fee == Decimal("0.00")
