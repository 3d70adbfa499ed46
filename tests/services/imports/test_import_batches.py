"""An import as a whole: one transaction (Cancel and a failure keep nothing), its history,
undoing it the same day — and why it cannot be undone later or once what it made is used."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.data.models.appointments import Appointment, AppointmentStatusChange
from app.data.models.audit import AuditEntry
from app.data.models.imports import ImportBatch, ImportedRow, ImportKind
from app.data.models.patients import Patient, PatientSearchTerm
from app.services.clinic.audit_log import verify_chain
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.imports import batches
from app.services.imports.batches import ImportCancelled
from app.services.patients.search import search_patients
from app.services.scheduling.booking import move_appointment
from tests.data.factories import add_appointment, add_patient, add_provider
from tests.services.imports.builders import import_request, row_counts

#: Tuesday, March 10, 2026, 10:00 in the clinic (New York): "today" for these tests.
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
TABLES = (
    Patient.__table__,
    PatientSearchTerm.__table__,
    Appointment.__table__,
    AppointmentStatusChange.__table__,
    ImportBatch.__table__,
    ImportedRow.__table__,
    AuditEntry.__table__,
)


def _many(count: int, *, boom_at: int | None = None) -> list[dict[str, str]]:
    rows = []
    for n in range(count):
        last = "Boom" if n == boom_at else f"Ñandú{n}"
        rows.append(
            {
                "chart_number": f"M{n:05d}",
                "first_name": "Zoë",
                "last_name": last,
                "date_of_birth": "1980-03-14",
                "email": f"z{n}@example.com",
            }
        )
    return rows


def test_cancel_midway_keeps_nothing(clinic, owner):
    before = row_counts(clinic.db, *TABLES)
    seen: list[tuple[int, int]] = []

    def cancelled() -> bool:
        # Once the first 1,000 patients are written (what the progress said), Cancel.
        return any(done > 2500 for done, _total in seen)

    with pytest.raises(ImportCancelled, match="canceled: nothing was imported"):
        batches.run_import(
            clinic.db,
            owner,
            import_request(ImportKind.PATIENTS, _many(2500)),
            progress=lambda done, total: seen.append((done, total)),
            cancelled=cancelled,
        )

    assert seen[0] == (1000, 5000)  # reading the rows: the first half
    assert (3500, 5000) in seen  # 1,000 written before Cancel was seen
    assert row_counts(clinic.db, *TABLES) == before


def test_a_failure_in_a_later_chunk_keeps_nothing(clinic, owner):
    """The database refuses one row of the third chunk (a trigger standing for any failure):
    the two chunks written before it are rolled back with it."""
    with clinic.db.uow() as session:
        session.execute(
            text(
                "CREATE TRIGGER boom BEFORE INSERT ON patients WHEN NEW.last_name = 'Boom' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
    before = row_counts(clinic.db, *TABLES)

    with pytest.raises(Exception, match="refused by the test"):
        batches.run_import(
            clinic.db, owner, import_request(ImportKind.PATIENTS, _many(2500, boom_at=2200))
        )

    assert row_counts(clinic.db, *TABLES) == before


def test_a_dry_run_can_be_canceled_too(clinic, owner):
    with pytest.raises(ImportCancelled):
        batches.dry_run(
            clinic.db,
            owner,
            import_request(ImportKind.PATIENTS, _many(1500)),
            cancelled=lambda: True,
        )


@pytest.fixture
def today(frozen_clock):
    return frozen_clock(NOW)


@pytest.fixture
def lopez(clinic, owner) -> int:
    """A patient saved at the desk (chart P000001), whom the file updates."""
    from app.services.patients.records import PatientForm, create_patient

    form = PatientForm("María", "López", email="maria@example.com", city="Portland")
    return create_patient(clinic.db, owner, form).id


ROWS = [
    {"chart_number": "P000001", "email": "lopez@new.example", "city": "Bangor"},
    {"chart_number": "N1", "full_name": "Nguyễn, Zoë", "mobile_phone": "207-555-0142"},
    {"chart_number": "N2", "full_name": "Ruiz, Ana"},
]


def _lopez(clinic, patient_id):
    with clinic.db.uow() as session:
        p = session.get(Patient, patient_id)
        return (p.email, p.city, p.version)


@pytest.mark.both_backends
def test_undo_the_same_day_puts_back_exactly_what_was_there(clinic, owner, today, lopez):
    before = row_counts(clinic.db, Patient.__table__, PatientSearchTerm.__table__)
    fields_before = _lopez(clinic, lopez)
    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS))
    assert _lopez(clinic, lopez) == ("lopez@new.example", "Bangor", fields_before[2] + 1)

    undone = batches.undo_import(clinic.db, owner, outcome.batch_id)

    assert (undone.deleted, undone.restored) == (2, 1)
    assert undone.summary() == "Import undone: 2 patients removed, 1 put back as they were."
    assert undone.changes.patients and undone.changes.clinic
    assert row_counts(clinic.db, Patient.__table__, PatientSearchTerm.__table__) == before
    email, city, version = _lopez(clinic, lopez)
    assert (email, city) == fields_before[:2]
    assert version == fields_before[2] + 2  # put back is a change of its own: windows see it
    assert [h.id for h in search_patients(clinic.db, owner, "maria@example")] == [lopez]
    assert search_patients(clinic.db, owner, "lopez@new") == []
    [record] = batches.import_history(clinic.db, owner)
    assert (record.undone_at, record.undone_by, record.can_undo) == (NOW, "Olivia Owner", False)
    with clinic.db.uow() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "import_batches")
        ).all()
    assert actions == ["imported", "import_undone"]
    assert verify_chain(clinic.db).ok


def test_undo_is_refused_twice(clinic, owner, today, lopez):
    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS))
    batches.undo_import(clinic.db, owner, outcome.batch_id)

    with pytest.raises(ValidationError, match="This import was undone on Mar 10, 2026 by Olivia"):
        batches.undo_import(clinic.db, owner, outcome.batch_id)


def test_undo_is_refused_the_next_day(clinic, owner, frozen_clock, lopez):
    frozen_clock(NOW)
    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS))
    # 00:30 the next morning in New York.
    frozen_clock(datetime(2026, 3, 11, 4, 30, tzinfo=UTC))

    [record] = batches.import_history(clinic.db, owner)
    with pytest.raises(ValidationError) as refused:
        batches.undo_import(clinic.db, owner, outcome.batch_id)

    assert str(refused.value) == "An import can be undone only on the day it was made."
    assert (record.can_undo, record.why_not) == (False, str(refused.value))
    assert _lopez(clinic, lopez)[0] == "lopez@new.example"


def test_undo_is_refused_once_an_imported_patient_has_an_appointment(clinic, owner, today):
    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS[1:]))
    with clinic.db.uow() as session:
        zoe = session.scalars(select(Patient).where(Patient.chart_number == "N1")).one()
        add_appointment(session, zoe, add_provider(session))
    [record] = batches.import_history(clinic.db, owner)

    with pytest.raises(ValidationError) as refused:
        batches.undo_import(clinic.db, owner, outcome.batch_id)

    assert str(refused.value) == (
        "This import cannot be undone: what it created is now used by 1 appointment. Nothing "
        "was undone; change those records by hand instead."
    )
    assert not record.can_undo and record.why_not == str(refused.value)
    assert row_counts(clinic.db, ImportBatch.__table__) == {"import_batches": 1}


def test_undo_is_refused_once_an_updated_patient_was_changed_again(clinic, owner, today, lopez):
    from app.services.patients.records import open_patient, update_patient

    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS))
    record = open_patient(clinic.db, owner, lopez)
    update_patient(clinic.db, owner, lopez, record.version, replace(record.form, city="Augusta"))

    with pytest.raises(ValidationError, match="1 patient it updated was changed again since"):
        batches.undo_import(clinic.db, owner, outcome.batch_id)


def test_undo_is_refused_once_an_imported_appointment_was_moved(clinic, owner, today):
    with clinic.db.uow() as session:
        provider = add_provider(session, name="Hana Sato", title="Dr.")
        add_patient(session, chart_number="1001")
        provider_id = provider.id
    rows = [
        {
            "patient_chart_number": "1001",
            "date": "2026-04-01 9:00",
            "duration": "30",
            "provider": "Dr. Hana Sato",
        },
        {
            "patient_chart_number": "1001",
            "date": "2026-04-02 9:00",
            "duration": "30",
            "provider": "Dr. Hana Sato",
        },
    ]
    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.APPOINTMENTS, rows))
    with clinic.db.uow() as session:
        first = session.scalars(select(Appointment).order_by(Appointment.starts_at)).first()
        moved_to = first.starts_at + timedelta(hours=2)
        first_id, version = first.id, first.version
    move_appointment(
        clinic.db,
        owner,
        first_id,
        version,
        starts_at=moved_to,
        ends_at=moved_to + timedelta(minutes=30),
        provider_id=provider_id,
        room_id=None,
        double_book=True,
    )

    with pytest.raises(ValidationError, match="1 appointment it created was changed since"):
        batches.undo_import(clinic.db, owner, outcome.batch_id)


@pytest.mark.both_backends
def test_an_appointments_import_undone_takes_its_history_rows_too(clinic, owner, today):
    with clinic.db.uow() as session:
        add_provider(session, name="Hana Sato", title="Dr.")
        add_patient(session, chart_number="1001")
    before = row_counts(clinic.db, *TABLES[2:4])
    rows = [
        {
            "patient_chart_number": "1001",
            "date": "2026-03-02 9:00",
            "duration": "30",
            "provider": "Dr. Hana Sato",
            "source_id": "77",
        }
    ]
    request = import_request(ImportKind.APPOINTMENTS, rows)
    outcome = batches.run_import(clinic.db, owner, request)

    batches.undo_import(clinic.db, owner, outcome.batch_id)

    assert row_counts(clinic.db, *TABLES[2:4]) == before
    # Undone, its source ids are forgotten: the same file imports again.
    assert batches.dry_run(clinic.db, owner, request).created == 1


def test_the_history_newest_first(clinic, owner, today, lopez):
    first = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS[1:]))
    second = batches.run_import(
        clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS[:1], source="Dentrix")
    )

    history = batches.import_history(clinic.db, owner)

    assert [(r.id, r.source, r.created, r.updated, r.can_undo) for r in history] == [
        (second.batch_id, "Dentrix", 0, 1, True),
        (first.batch_id, "Open Dental", 2, 0, True),
    ]
    assert history[0].imported_by == "Olivia Owner"
    assert history[0].file_name == "patients.csv"


def test_only_the_owner_sees_the_history_and_undoes(clinic, owner, make_staff, today):
    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS[1:]))
    coordinator = make_staff("coord", "coordinator")

    with pytest.raises(PermissionDeniedError):
        batches.import_history(clinic.db, coordinator)
    with pytest.raises(PermissionDeniedError):
        batches.undo_import(clinic.db, coordinator, outcome.batch_id)


@pytest.mark.server_only
def test_other_pcs_hear_of_an_import_with_the_patients_it_changed(clinic, owner, lopez):
    """On the clinic server an import announces itself like any write: the kinds of thing it
    changed, and the patients it updated by id (another PC may have one open)."""
    import queue

    from app.data.server_events import ChangeListener
    from tests.pg_cluster import SERVER_APP_PASSWORD

    heard: queue.Queue = queue.Queue()
    connected: queue.Queue = queue.Queue()
    listener = ChangeListener(
        clinic.server, SERVER_APP_PASSWORD, heard.put, on_connection=connected.put
    )
    listener.start()
    try:
        assert connected.get(timeout=10) is True
        outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS))
        change = heard.get(timeout=10)
    finally:
        listener.stop()

    assert change.kinds == {"patients", "clinic", "audit"}
    assert lopez in change.ids_of("patients")
    assert outcome.batch_id in change.ids_of("import_batches")
