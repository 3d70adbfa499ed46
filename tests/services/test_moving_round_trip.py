"""Moving out and in again: a clinic's patients, appointments and balances written as the
moving files of its export, imported into an empty clinic, come back the same."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.appointments import Appointment
from app.data.models.clinic import ClinicSettings
from app.data.models.imports import ImportKind
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Room, Service
from app.demo import seed
from app.services.billing.balances import balances_at
from app.services.clinic import auth, catalog
from app.services.clinic.clock import clinic_zone
from app.services.exports.moving_files import moving_files
from app.services.imports import batches, mappings, names, sources
from app.services.imports.common import ImportRequest

#: What a patient is, compared field by field (the rest is CareDesk's own bookkeeping).
PATIENT_FIELDS = (
    "chart_number", "first_name", "last_name", "middle_name", "preferred_name",
    "date_of_birth", "sex", "mobile_phone", "home_phone", "work_phone", "email",
    "address_line1", "address_line2", "city", "region", "postal_code", "country",
    "preferred_language", "emergency_contact_name", "emergency_contact_phone",
    "emergency_contact_relation", "medical_alerts", "allergies", "medications", "lead_source",
    "may_text", "may_email", "is_active", "deceased_on",
)  # fmt: skip


def _patients(db) -> dict[str, tuple]:
    with db.uow() as session:
        found = session.scalars(select(Patient).where(Patient.merged_into_id.is_(None)))
        return {p.chart_number: tuple(getattr(p, f) for f in PATIENT_FIELDS) for p in found}


def _appointments(db) -> list[tuple]:
    with db.uow() as session:
        providers = {p.id: p.name for p in session.scalars(select(Provider))}
        rooms = {r.id: r.name for r in session.scalars(select(Room))}
        services = {s.id: s.name for s in session.scalars(select(Service))}
        rows = session.execute(
            select(Appointment, Patient.chart_number).join(
                Patient, Patient.id == Appointment.patient_id
            )
        )
        return sorted(
            (
                chart,
                a.starts_at,
                a.ends_at,
                providers[a.provider_id],
                rooms.get(a.room_id),
                services.get(a.service_id),
                a.status,
                a.notes,
            )
            for a, chart in rows
        )


def _balances(db, moment: datetime) -> dict[str, Decimal]:
    with db.uow() as session:
        charts = dict(session.execute(select(Patient.id, Patient.chart_number)).all())
        return {charts[p]: b for p, b in balances_at(session, moment).items() if b}


def _copy_catalog(source_db, source_actor, target_db, target_actor) -> None:
    """The new clinic's set-up, done first as a clinic would: the same providers, rooms and
    services (by name), before the appointments come in."""
    from dataclasses import replace

    made = catalog.load_catalog(source_db, source_actor)
    for provider in made.providers:
        catalog.save_provider(
            target_db, target_actor, replace(provider, id=None, version=None, staff_id=None)
        )
    for room in made.rooms:
        catalog.save_room(target_db, target_actor, replace(room, id=None, version=None))
    for service in made.services:
        catalog.save_service(target_db, target_actor, replace(service, id=None, version=None))


def _import(db, actor, kind: ImportKind, data: bytes, name: str, *, as_of=None):
    source_file = sources.read_source_bytes(data, name)
    mapping = mappings.guess_mapping(kind.value, source_file, mappings.GENERIC)
    assert mapping.problems(source_file.headers) == []
    rows = mappings.mapped_rows(source_file, mapping)
    chosen = {}
    if kind is ImportKind.APPOINTMENTS:
        matches = names.match_names(db, actor, rows)
        assert matches.unmatched() == {}
        chosen = matches.names
    request = ImportRequest(
        kind=kind,
        source=mapping.source,
        file_name=name,
        file_sha256=source_file.sha256,
        encoding=source_file.encoding,
        headers=source_file.headers,
        rows=rows,
        date_order="YMD",
        providers=chosen.get("provider", {}),
        rooms=chosen.get("room", {}),
        services=chosen.get("service", {}),
        # The old book's history as it was, double bookings and all.
        double_book=True,
        as_of=as_of,
    )
    preview = batches.dry_run(db, actor, request)
    assert preview.rejects == (), [r.sentence() for r in preview.rejects[:5]]
    return batches.run_import(db, actor, request)


@pytest.fixture
def demo(tmp_path):
    made = seed.create_seeded_clinic(
        tmp_path / "demo.caredesk", patients=40, years=1, seed=21, today=seed.SEED_TODAY
    )
    yield made
    made.db.close()


def test_the_demo_clinic_moves_out_and_into_an_empty_clinic_unchanged(demo, clinic, owner):
    demo_owner = auth.login(demo.db, "owner", seed.DEMO_PASSWORD)
    moment = datetime.fromisoformat("2026-12-01T12:00:00+00:00")
    with demo.db.uow() as session:
        zone = clinic_zone(session)
        files = dict(moving_files(session, moment=moment, zone=zone))
    assert set(files) == {"patients.csv", "appointments.csv", "balances.csv"}
    assert files["patients.csv"].startswith(b"\xef\xbb\xbf")

    _copy_catalog(demo.db, demo_owner, clinic.db, owner)
    # The new clinic keeps the old one's time zone, or the times of day would shift.
    with clinic.db.uow(write=True) as session:
        session.scalars(select(ClinicSettings)).one().timezone = zone.key

    imported = {}
    for kind, name in (
        (ImportKind.PATIENTS, "patients.csv"),
        (ImportKind.APPOINTMENTS, "appointments.csv"),
        (ImportKind.BALANCES, "balances.csv"),
    ):
        imported[kind] = _import(clinic.db, owner, kind, files[name], name, as_of=moment.date())

    assert imported[ImportKind.PATIENTS].created == len(_patients(demo.db)) >= 30
    assert _patients(clinic.db) == _patients(demo.db)
    assert _appointments(clinic.db) == _appointments(demo.db)
    assert imported[ImportKind.APPOINTMENTS].created == len(_appointments(demo.db))
    # The old clinic's balances today, as opening balances dated the day of the move.
    later = datetime.fromisoformat("2026-12-02T12:00:00+00:00")
    assert _balances(clinic.db, later) == _balances(demo.db, moment)
    assert any(b > 0 for b in _balances(demo.db, moment).values())
    # Balances are read back from the file as written: every one, to the cent.
    text = io.StringIO(files["balances.csv"].decode("utf-8-sig"))
    assert len(text.read().splitlines()) - 1 == len(_balances(demo.db, moment))
