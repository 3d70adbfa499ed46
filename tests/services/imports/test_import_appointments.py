"""Importing appointments: onto patients by chart number and providers, rooms and services by
name, in the clinic's zone (New York) stored as UTC, with their status as history — and the
clashes listed, refused, or imported as double bookings the server's constraint lets through."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.data.models.appointments import Appointment, AppointmentStatusChange
from app.data.models.audit import AuditEntry
from app.data.models.imports import ImportKind
from app.data.models.providers import Room
from app.services.imports import batches
from tests.data.factories import add_appointment, add_patient, add_provider, add_service
from tests.services.imports.builders import import_request, row_counts


@pytest.fixture
def book(clinic) -> dict[str, int]:
    """Two providers (one retired), two rooms, a 45-minute cleaning, three patients."""
    with clinic.db.uow() as session:
        sato = add_provider(session, name="Hana Sato", title="Dr.")
        park = add_provider(session, name="Leo Park", title="")
        gone = add_provider(session, name="Ivy Old", title="Dr.", is_active=False)
        op1, op2 = Room(name="Op 1"), Room(name="Op 2")
        session.add_all([op1, op2])
        cleaning = add_service(session, name="Cleaning", default_duration_minutes=45)
        ids = {"sato": sato.id, "park": park.id, "gone": gone.id, "cleaning": cleaning.id}
        for chart in ("1001", "1002", "1003"):
            ids[chart] = add_patient(session, chart_number=chart).id
        session.flush()
        ids.update(op1=op1.id, op2=op2.id)
        return ids


def _request(rows, **options):
    return import_request(
        ImportKind.APPOINTMENTS, rows, providers={"Sato": None}, rooms={}, services={}, **options
    )


def _visit(chart="1001", when="2026-03-02 09:00", **cells):
    return {"patient_chart_number": chart, "date": when, "provider": "Dr. Hana Sato", **cells}


def test_the_dry_run_says_what_each_row_would_do_and_why(clinic, owner, book):
    rows = [
        _visit(duration="30", room="Op 1", service="Cleaning", status="Complete"),  # 2
        _visit(chart="9999"),  # 3
        _visit(provider="Dr. Who", duration="30"),  # 4
        _visit(provider="Sato", duration="30"),  # 5: left unmatched by the user
        _visit(status="Planned", duration="30"),  # 6
        _visit(when="2026-03-08", start_time="2:30 AM", duration="30"),  # 7: clocks skip it
        _visit(when="2026-03-03", start_time="10:00", duration="XXXX//", status="2"),  # 8
        _visit(when="2026-03-04 11:00", service="cleaning"),  # 9: the service's length
        _visit(when="2026-03-05 11:00"),  # 10: no end, no length
        _visit(when="03/04/2026 9:00", duration="30"),  # 11: reads two ways
        _visit(when="2026-03-06 9:00", duration="1h", source_id="A1", provider="leo park"),  # 12
        _visit(when="2026-03-06 9:00", duration="1h", source_id="A1", provider="Leo Park"),  # 13
        _visit(when="2026-03-07 9:00", duration="13h"),  # 14
    ]
    before = row_counts(clinic.db, Appointment.__table__)

    preview = batches.dry_run(clinic.db, owner, _request(rows))

    assert preview.summary() == (
        "4 appointments will be created, 0 updated, 2 skipped; 7 rows cannot be imported."
    )
    reasons = {r.line: r.reason for r in preview.rejects}
    assert reasons == {
        3: "No patient with chart number 9999: import the patients first (or check the chart "
        "number).",
        4: "Provider “Dr. Who” is not matched to a provider in CareDesk: choose one.",
        5: "Provider “Sato” was left unmatched: its rows are not imported.",
        7: "The start 2:30\u202fAM on Mar 8, 2026 does not exist in the clinic's time zone (the "
        "clocks went forward that night).",
        10: "The appointment has no end time or length.",
        11: "Date: “03/04/2026” could be month first or day first: choose the date order of "
        "this file.",
        14: "The appointment is longer than 12 hours: check its end or length.",
    }
    assert {r.line: r.reason for r in preview.skipped_rows} == {
        6: "Not imported: a planned appointment, not one on the book.",
        13: "Repeats line 12 of the file (the same appointment A1).",
    }
    assert preview.unknown_names == {"provider": ("Dr. Who",)}
    assert preview.date_order_needed
    assert row_counts(clinic.db, Appointment.__table__) == before


def _appointments(clinic) -> list[Appointment]:
    with clinic.db.uow() as session:
        found = list(session.scalars(select(Appointment).order_by(Appointment.starts_at)))
        session.expunge_all()
        return found


def test_the_import_stores_utc_times_the_resources_and_the_status_as_history(clinic, owner, book):
    rows = [
        _visit(duration="30", room="Op 1", service="Cleaning", status="Complete", notes="Bring x"),
        _visit(
            chart="1002",
            when="11/01/2026",
            start_time="1:30 AM",
            end_time="2:00 AM",
            provider="Hana Sato",
            status="confirmed",
        ),
        _visit(
            chart="1003",
            when="2026-07-06",
            start_time="3:00 PM",
            duration="XXXX//",
            provider="Leo Park",
            status="5",
        ),
        _visit(
            chart="1003",
            when="2026-07-07 15:00",
            duration="45",
            status="cancelled",
            provider="Leo Park",
        ),
    ]
    request = replace(_request(rows), date_order="MDY")

    outcome = batches.run_import(clinic.db, owner, request)

    assert (outcome.created, outcome.rejected) == (4, 0)
    assert outcome.changes.appointments and outcome.changes.clinic
    first, summer, cancelled, fall_back = _appointments(clinic)
    # 9:00 in New York on March 2 (EST) is 14:00 UTC.
    assert (first.starts_at, first.ends_at) == (
        datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
    )
    assert (first.provider_id, first.room_id, first.service_id) == (
        book["sato"],
        book["op1"],
        book["cleaning"],
    )
    assert (first.status, first.completed_at, first.notes) == (
        "completed",
        first.ends_at,
        "Bring x",
    )
    assert first.booked_by_id == owner.staff_id and not first.double_booked
    # Open Dental's pattern: 6 × 5 minutes; AptStatus 5 ("broken"): a no-show.
    assert (summer.starts_at, summer.ends_at) == (
        datetime(2026, 7, 6, 19, 0, tzinfo=UTC),
        datetime(2026, 7, 6, 19, 30, tzinfo=UTC),
    )
    assert (summer.provider_id, summer.status) == (book["park"], "no_show")
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    # 1:30 happens twice on November 1: the first (still summer time, UTC−4).
    assert fall_back.starts_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert fall_back.status == "confirmed"
    with clinic.db.uow() as session:
        history = session.execute(
            select(
                AppointmentStatusChange.appointment_id,
                AppointmentStatusChange.from_status,
                AppointmentStatusChange.to_status,
                AppointmentStatusChange.reason,
                AppointmentStatusChange.changed_by_id,
            ).where(AppointmentStatusChange.appointment_id == first.id)
        ).all()
    assert history == [(first.id, None, "completed", "Imported from Open Dental", owner.staff_id)]


def _clashing_rows():
    return [
        # 2: Dr. Sato is seeing someone already booked 10:00–10:30.
        _visit(when="2026-03-02 10:15", duration="30"),
        # 3 and 4: two providers in Op 2 at once.
        _visit(
            chart="1002", when="2026-03-02 11:00", duration="30", provider="Leo Park", room="Op 2"
        ),
        _visit(chart="1003", when="2026-03-02 11:15", duration="30", room="Op 2"),
        # 5: touches line 3's start in Op 1 and Dr. Park's next visit: no clash.
        _visit(
            chart="1003", when="2026-03-02 10:30", duration="30", provider="Leo Park", room="Op 1"
        ),
        # 6: canceled: holds no time.
        _visit(chart="1002", when="2026-03-02 10:00", duration="30", status="canceled"),
    ]


@pytest.fixture
def booked(clinic, book) -> int:
    """Dr. Sato already sees patient 1001 from 10:00 to 10:30 (New York) on March 2."""
    with clinic.db.uow() as session:
        from app.data.models.patients import Patient
        from app.data.models.providers import Provider

        appointment = add_appointment(
            session,
            session.get(Patient, book["1001"]),
            session.get(Provider, book["sato"]),
            starts_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
            ends_at=datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
        )
        return appointment.id


@pytest.mark.both_backends
def test_clashes_are_listed_and_refused(clinic, owner, booked):
    preview = batches.dry_run(clinic.db, owner, _request(_clashing_rows()))

    assert {r.line: r.reason for r in preview.clashes} == {
        2: "Clash: Dr. Hana Sato is already booked 10:00\u2009–\u200910:30\u202fAM on Mon, Mar 2, "
        "2026 by an appointment already in CareDesk.",
        3: "Clash: Op 2 is already taken 11:15\u2009–\u200911:45\u202fAM on Mon, Mar 2, 2026 by "
        "line 4 of the file.",
        4: "Clash: Op 2 is already taken 11:00\u2009–\u200911:30\u202fAM on Mon, Mar 2, 2026 by "
        "line 3 of the file.",
    }
    assert [r.line for r in preview.rejects] == [2, 3, 4]
    assert (preview.created, preview.double_booked) == (2, 0)


@pytest.mark.both_backends
def test_clashes_imported_as_double_bookings_when_asked(clinic, owner, booked):
    request = replace(_request(_clashing_rows()), double_book=True)

    preview = batches.dry_run(clinic.db, owner, request)
    outcome = batches.run_import(clinic.db, owner, request)

    assert preview.summary() == (
        "5 appointments will be created, 0 updated, 0 skipped (3 double-booked)."
    )
    assert (outcome.created, outcome.double_booked) == (5, 3)
    doubles = {
        a.starts_at.astimezone(UTC).hour * 60 + a.starts_at.minute: a.double_booked
        for a in _appointments(clinic)
        if a.id != booked
    }
    assert doubles == {
        15 * 60 + 15: True,
        16 * 60: True,
        16 * 60 + 15: True,
        15 * 60 + 30: False,
        15 * 60: False,
    }
    with clinic.db.uow() as session:
        detail = session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "imported"))
        double_rows = session.scalar(
            select(AuditEntry.id).where(AuditEntry.action == "double_booked")
        )
    assert detail.endswith("5 created, 0 updated, 0 skipped, 0 left out, 3 double-booked")
    assert double_rows is None  # counted once, in the import's row


def test_the_same_appointments_from_the_same_source_are_not_imported_twice(clinic, owner, book):
    rows = [
        _visit(when="2026-03-02 9:00", duration="30", source_id="501"),
        _visit(when="2026-03-03 9:00", duration="30", source_id="502"),
    ]
    batches.run_import(clinic.db, owner, _request(rows))

    again = batches.dry_run(
        clinic.db,
        owner,
        _request([*rows, _visit(when="2026-03-04 9:00", duration="30", source_id="503")]),
    )
    other_source = batches.dry_run(clinic.db, owner, replace(_request(rows), source="Dentrix"))

    assert again.created == 1
    assert [r.reason for r in again.skipped_rows] == [
        "Already imported from Open Dental (its appointment 501).",
        "Already imported from Open Dental (its appointment 502).",
    ]
    # From another system the ids mean other appointments (these clash with the first ones).
    assert other_source.skipped == 0 and len(other_source.clashes) == 2


def test_history_may_be_on_a_retired_provider_the_future_may_not(clinic, owner, book, clinic_day):
    future = date(clinic_day.year + 1, 1, 5).isoformat()
    rows = [
        _visit(when="2020-01-06 9:00", duration="30", provider="Dr. Ivy Old"),
        _visit(when=f"{future} 9:00", duration="30", provider="Dr. Ivy Old"),
    ]

    preview = batches.dry_run(clinic.db, owner, _request(rows))

    assert preview.created == 1
    assert [r.line for r in preview.rejects] == [3]
    assert preview.rejects[0].reason.startswith("The provider Dr. Ivy Old is no longer active")
