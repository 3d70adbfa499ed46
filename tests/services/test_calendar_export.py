"""Day sheet data and iCalendar export: what is on them, what is never in them, and the audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from app.data.models import Appointment, AuditEntry, ProviderBreak, Room, WorkingHours
from app.data.models.payments import Charge
from app.services.errors import ValidationError
from app.services.scheduling import calendar_export
from tests.data.factories import add_patient, add_provider, add_service

ZONE = ZoneInfo("America/New_York")
#: A Tuesday in summer time (UTC-4).
DAY = date(2026, 6, 16)


def at(day: date, hhmm: str) -> datetime:
    """Clinic wall-clock time on ``day`` as the UTC instant the database stores."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@dataclass(frozen=True)
class SeededDay:
    okafor: int
    nunez: int
    ruiz_appointment: int
    nguyen_appointment: int
    no_show_appointment: int
    tomorrow_appointment: int


def seed_day(db, day: date = DAY) -> SeededDay:
    """Dr. Okafor's Tuesday: three visits (one a no-show), one cancelled, one the next day;
    Dr. Núñez has a visit the same morning.  Written straight to the database."""
    with db.uow() as s:
        okafor = add_provider(s, name="Daniel Okafor", title="Dr.", credentials="DDS")
        nunez = add_provider(s, name="Ana Núñez", title="Dr.", position=1)
        s.add_all(
            [
                WorkingHours(provider_id=okafor.id, weekday=wd, start_minute=480, end_minute=1020)
                for wd in range(5)
            ]
        )
        s.add(
            ProviderBreak(
                provider_id=okafor.id, weekday=day.weekday(), start_minute=720, end_minute=780,
                label="Lunch",
            )
        )  # fmt: skip
        op1, hyg = Room(name="Operatory 1"), Room(name="Hygiene 2")
        s.add_all([op1, hyg])
        s.flush()
        filling = add_service(s, name="Composite filling", fee=Decimal("180.00"))
        cleaning = add_service(s, name="Adult cleaning", fee=Decimal("120.00"))
        ruiz = add_patient(
            s, first_name="Ana", last_name="Ruiz", date_of_birth=date(1984, 3, 9),
            mobile_phone="+12075550111", allergies="Penicillin",
        )  # fmt: skip
        nguyen = add_patient(
            s, first_name="Zoë", last_name="Nguyễn", date_of_birth=date(1991, 11, 2),
            home_phone="+12075550199", medical_alerts="Blood thinners",
        )  # fmt: skip
        obrien = add_patient(s, first_name="Seán", last_name="O'Brien", date_of_birth=None)
        s.add(
            Charge(
                patient_id=ruiz.id, service_date=day - timedelta(days=30),
                description="Crown", amount=Decimal("250.00"),
            )
        )  # fmt: skip

        def book(patient, provider, start, minutes, **extra):
            appt = Appointment(
                patient_id=patient.id, provider_id=provider.id, starts_at=start,
                ends_at=start + timedelta(minutes=minutes), **extra,
            )  # fmt: skip
            s.add(appt)
            s.flush()
            return appt.id

        # Booked out of order on purpose: the sheet sorts by time.
        nguyen_id = book(nguyen, okafor, at(day, "10:00"), 60, service_id=cleaning.id,
                         room_id=hyg.id, notes="Prefers morning visits")  # fmt: skip
        ruiz_id = book(ruiz, okafor, at(day, "09:00"), 45, service_id=filling.id,
                       room_id=op1.id, status="confirmed",
                       notes="Upper left #14.\nNumb well; anxious patient.")  # fmt: skip
        no_show_id = book(obrien, okafor, at(day, "14:00"), 30, status="no_show")
        book(obrien, okafor, at(day, "11:00"), 30, status="cancelled", cancel_reason="Sick")
        book(ruiz, nunez, at(day, "09:00"), 30, service_id=cleaning.id)
        tomorrow_id = book(nguyen, okafor, at(day + timedelta(days=1), "08:30"), 45,
                           service_id=filling.id, room_id=op1.id)  # fmt: skip
        return SeededDay(okafor.id, nunez.id, ruiz_id, nguyen_id, no_show_id, tomorrow_id)


@pytest.fixture
def seeded(clinic) -> SeededDay:
    return seed_day(clinic.db)


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


# --- finding a provider ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("Daniel Okafor", "okafor"),
        ("dr. daniel okafor", "okafor"),
        ("DR DANIEL OKAFOR", "okafor"),
        ("  Dr.   Daniel   Okafor ", "okafor"),
        ("okafor", "okafor"),
        ("Ana Nunez", "nunez"),
        ("dr. ana núñez", "nunez"),
        ("NÚÑEZ", "nunez"),
    ],
)
def test_a_provider_is_found_by_name_ignoring_case_accents_and_title(
    clinic, receptionist, seeded, typed, expected
):
    found = calendar_export.find_provider(clinic.db, receptionist, typed)
    assert found.id == getattr(seeded, expected)


def test_an_unknown_provider_lists_the_active_ones(clinic, receptionist, seeded):
    with clinic.db.uow() as s:
        add_provider(s, name="Retired Person", title="Dr.", is_active=False)
    with pytest.raises(ValidationError) as raised:
        calendar_export.find_provider(clinic.db, receptionist, "Dr. Smith")
    message = str(raised.value)
    assert "No provider is called “Dr. Smith”" in message
    assert "Dr. Daniel Okafor" in message and "Dr. Ana Núñez" in message
    assert "Retired" not in message
    assert raised.value.field == "provider"


def test_an_ambiguous_name_names_the_matches(clinic, receptionist, seeded):
    with pytest.raises(ValidationError) as raised:
        calendar_export.find_provider(clinic.db, receptionist, "dr")
    assert "matches more than one provider" in str(raised.value)
    assert "Dr. Daniel Okafor; Dr. Ana Núñez" in str(raised.value)


def test_an_inactive_namesake_does_not_make_the_active_provider_ambiguous(
    clinic, receptionist, seeded
):
    with clinic.db.uow() as s:
        add_provider(s, name="Daniel Okafor", title="", is_active=False)
    assert calendar_export.find_provider(clinic.db, receptionist, "okafor").id == seeded.okafor


def test_the_export_list_holds_active_providers_in_column_order(clinic, receptionist, seeded):
    with clinic.db.uow() as s:
        add_provider(s, name="Gone Away", is_active=False)
    names = [p.name for p in calendar_export.export_providers(clinic.db, receptionist)]
    assert names == ["Dr. Daniel Okafor", "Dr. Ana Núñez"]


# --- the day sheet -----------------------------------------------------------------------------


def test_day_sheet_lists_the_days_visits_in_time_order_with_patient_facts(
    clinic, receptionist, seeded
):
    sheet = calendar_export.day_sheet_data(clinic.db, receptionist, seeded.okafor, DAY)
    assert sheet.provider_name == "Dr. Daniel Okafor, DDS"
    assert sheet.letterhead.name == "Bayside Dental" and sheet.letterhead.phone
    assert [r.appointment_id for r in sheet.rows] == [
        seeded.ruiz_appointment,
        seeded.nguyen_appointment,
        seeded.no_show_appointment,
    ]  # the cancelled visit, Dr. Núñez's and tomorrow's are not on it
    ruiz, nguyen, obrien = sheet.rows
    assert ruiz.starts_at.astimezone(ZONE).strftime("%H:%M") == "09:00"
    assert (ruiz.patient_name, ruiz.date_of_birth, ruiz.phone) == (
        "Ruiz, Ana",
        date(1984, 3, 9),
        "(207) 555-0111",
    )
    assert (ruiz.service, ruiz.room, ruiz.status) == (
        "Composite filling",
        "Operatory 1",
        "confirmed",
    )
    assert ruiz.notes == "Upper left #14.\nNumb well; anxious patient."
    assert (ruiz.has_allergies, ruiz.has_medical_alerts) == (True, False)
    assert ruiz.balance == Decimal("250.00")
    assert (nguyen.patient_name, nguyen.phone) == ("Nguyễn, Zoë", "(207) 555-0199")
    assert (nguyen.has_allergies, nguyen.has_medical_alerts) == (False, True)
    assert nguyen.balance == Decimal("0.00")
    assert obrien.status == "no_show" and obrien.service == ""


def test_day_sheet_hours_breaks_and_totals(clinic, receptionist, seeded):
    sheet = calendar_export.day_sheet_data(clinic.db, receptionist, seeded.okafor, DAY)
    local = [
        (s.starts_at.astimezone(ZONE).hour, s.ends_at.astimezone(ZONE).hour) for s in sheet.working
    ]
    assert local == [(8, 12), (13, 17)]  # lunch cut out
    (lunch,) = sheet.breaks
    assert lunch.label == "Lunch" and lunch.starts_at == at(DAY, "12:00")
    totals = sheet.totals
    assert (totals.appointments, totals.patients, totals.no_shows) == (3, 3, 1)
    assert totals.booked_minutes == 45 + 60  # the no-show holds no time
    assert totals.working_minutes == 8 * 60
    assert totals.booked_fees == Decimal("300.00")
    assert totals.balances_due == Decimal("250.00")


def test_a_day_off_has_no_hours_and_an_empty_sheet(clinic, receptionist, seeded):
    saturday = DAY + timedelta(days=4)
    sheet = calendar_export.day_sheet_data(clinic.db, receptionist, seeded.okafor, saturday)
    assert sheet.working == () and sheet.rows == ()
    assert sheet.totals.appointments == 0


def test_day_sheet_is_audited_as_a_print_without_patient_names(clinic, receptionist, seeded):
    calendar_export.day_sheet_pdf(clinic.db, receptionist, seeded.okafor, DAY)
    with clinic.db.uow() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.entity, entry.entity_id) == (
            "print",
            "providers",
            seeded.okafor,
        )
        assert entry.username == "rita"
        assert "2026-06-16" in entry.detail and "3 appointment(s)" in entry.detail
        assert "Ruiz" not in entry.detail


def test_a_missing_provider_is_refused(clinic, receptionist, seeded):
    from app.services.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no longer exists"):
        calendar_export.day_sheet_data(clinic.db, receptionist, 9999, DAY)


# --- iCalendar ---------------------------------------------------------------------------------


def _events(ics: bytes):
    return [c for c in Calendar.from_ical(ics).walk("VEVENT")]


def test_ics_has_one_event_per_visit_holding_time_in_utc(clinic, receptionist, seeded):
    ics = calendar_export.export_ics(
        clinic.db, receptionist, seeded.okafor, DAY, DAY + timedelta(days=1), with_names=False
    )
    events = _events(ics)
    assert [str(e["uid"]) for e in events] == [
        f"caredesk-appointment-{seeded.ruiz_appointment}@bayside-dental",
        f"caredesk-appointment-{seeded.nguyen_appointment}@bayside-dental",
        f"caredesk-appointment-{seeded.tomorrow_appointment}@bayside-dental",
    ]  # no cancelled visit, no no-show, nothing of Dr. Núñez
    first = events[0]
    assert first.decoded("dtstart") == datetime(2026, 6, 16, 13, 0, tzinfo=UTC)
    assert first.decoded("dtend") == datetime(2026, 6, 16, 13, 45, tzinfo=UTC)
    assert b"DTSTART:20260616T130000Z" in ics
    assert [str(e["summary"]) for e in events] == [
        "Composite filling",
        "Adult cleaning",
        "Composite filling",
    ]
    assert [str(e.get("location", "")) for e in events] == [
        "Operatory 1",
        "Hygiene 2",
        "Operatory 1",
    ]
    assert [str(e["status"]) for e in events] == ["CONFIRMED", "TENTATIVE", "TENTATIVE"]


def test_ics_without_names_holds_no_patient_data_at_all(clinic, receptionist, seeded):
    ics = calendar_export.export_ics(
        clinic.db, receptionist, seeded.okafor, DAY, DAY + timedelta(days=1), with_names=False
    )
    text = Calendar.from_ical(ics).to_ical().decode("utf-8")
    for secret in ("Ruiz", "Nguy", "Zo", "Brien", "+1207", "(207)", "Numb", "morning", "19840309"):
        assert secret not in text
    assert all("description" not in e for e in _events(ics))


def test_ics_with_names_adds_only_the_name(clinic, receptionist, seeded):
    ics = calendar_export.export_ics(
        clinic.db, receptionist, seeded.okafor, DAY, DAY, with_names=True
    )
    assert [str(e["summary"]) for e in _events(ics)] == [
        "Composite filling — Ruiz, Ana",
        "Adult cleaning — Nguyễn, Zoë",
    ]
    text = ics.decode("utf-8")
    for secret in ("+1207", "(207)", "Numb", "morning", "Penicillin", "19840309", "1984-03"):
        assert secret not in text


def test_ics_uids_are_stable_between_exports(clinic, receptionist, seeded):
    once, twice = (
        [str(e["uid"]) for e in _events(
            calendar_export.export_ics(clinic.db, receptionist, seeded.okafor, DAY, DAY,
                                       with_names=flag)
        )]
        for flag in (False, True)
    )  # fmt: skip
    assert once == twice


def test_ics_times_are_true_across_a_dst_change(clinic, receptionist, seeded):
    change_day = date(2026, 3, 8)  # clocks go forward at 2:00 in New York
    with clinic.db.uow() as s:
        patient = add_patient(s)
        s.add(
            Appointment(
                patient_id=patient.id,
                provider_id=seeded.okafor,
                starts_at=at(change_day, "01:30"),
                ends_at=at(change_day, "03:30"),
            )
        )
    ics = calendar_export.export_ics(
        clinic.db, receptionist, seeded.okafor, change_day, change_day, with_names=False
    )
    (event,) = _events(ics)
    assert event.decoded("dtstart") == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=1)


@pytest.mark.parametrize(
    "first,last,message",
    [
        (date(2026, 6, 16), date(2026, 6, 15), "The end date is before the start date"),
        (date(2026, 1, 1), date(2027, 1, 2), "at most 366 days"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_message(
    clinic, receptionist, seeded, first, last, message
):
    with pytest.raises(ValidationError, match=message) as raised:
        calendar_export.export_ics(
            clinic.db, receptionist, seeded.okafor, first, last, with_names=False
        )
    assert raised.value.field == "last_day"


def test_a_full_leap_year_is_allowed(clinic, receptionist, seeded):
    ics = calendar_export.export_ics(
        clinic.db, receptionist, seeded.okafor, date(2026, 1, 1), date(2027, 1, 1),
        with_names=False,
    )  # fmt: skip
    assert len(_events(ics)) == 3


def test_ics_export_is_audited_with_whether_names_were_included(clinic, receptionist, seeded):
    calendar_export.export_ics(clinic.db, receptionist, seeded.okafor, DAY, DAY, with_names=True)
    with clinic.db.uow() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.entity_id, entry.username) == ("export", seeded.okafor, "rita")
        assert "2 appointment(s), with patient names" in entry.detail


def test_the_command_line_versions_find_the_provider_and_audit_as_who_signed_in(
    clinic, owner, seeded
):
    ics = calendar_export.command_export_ics(clinic.db, owner, "okafor", DAY, DAY, with_names=False)
    assert len(_events(ics)) == 2
    pdf = calendar_export.command_day_sheet_pdf(clinic.db, owner, "Dr. Daniel Okafor", DAY)
    assert pdf.startswith(b"%PDF")
    with clinic.db.uow() as s:
        actions = [
            (e.action, e.username)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(2))
        ]
    assert actions == [("print", "owner"), ("export", "owner")]
