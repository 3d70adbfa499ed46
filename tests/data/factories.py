"""Plain helpers that add valid rows, so a test can change exactly one thing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

from sqlalchemy.orm import Session

from app.data.models import Appointment, Patient, Provider, Role, Service, Staff

_serial = count(1)


def another_workstation(clinic):
    """A second, independent connection to the test's clinic, as another PC would open it:
    the same encrypted file with its key, or the same server database."""
    from app.data.database import connect, connect_server

    if clinic.server is not None:
        from tests.pg_cluster import SERVER_APP_PASSWORD

        return connect_server(clinic.server, SERVER_APP_PASSWORD)
    return connect(clinic.path, clinic.key)


def owner_role_database(clinic):
    """The clinic's database as whoever holds the most power over it: the file with its key,
    or the server database as the role that owns the tables (never what a PC signs in as)."""
    if clinic.server is None:
        return clinic.db
    from app.data.database import connect_server
    from app.data.server_admin import OWNER_ROLE
    from tests.pg_cluster import SERVER_OWNER_PASSWORD

    return connect_server(clinic.server.with_user(OWNER_ROLE), SERVER_OWNER_PASSWORD)


def add_staff(session: Session, **overrides) -> Staff:
    n = next(_serial)
    staff = Staff(
        username=f"user{n}",
        full_name=f"Staff Member {n}",
        role=Role.COORDINATOR.value,
        password_hash="not-a-real-hash",
    )
    for name, value in overrides.items():
        setattr(staff, name, value)
    session.add(staff)
    session.flush()
    return staff


def add_patient(session: Session, **overrides) -> Patient:
    n = next(_serial)
    patient = Patient(
        chart_number=f"C{n:06d}",
        first_name="Ana",
        last_name=f"Example{n}",
        date_of_birth=date(1980, 5, 17),
    )
    for name, value in overrides.items():
        setattr(patient, name, value)
    session.add(patient)
    session.flush()
    return patient


def add_named_patient(db, first: str = "Zoë", last: str = "Nguyễn") -> int:
    """A patient row written straight to the database (no patients service involved)."""
    with db.uow() as session:
        return add_patient(session, first_name=first, last_name=last, date_of_birth=None).id


def add_provider(session: Session, **overrides) -> Provider:
    provider = Provider(name=f"Provider {next(_serial)}", title="Dr.")
    for name, value in overrides.items():
        setattr(provider, name, value)
    session.add(provider)
    session.flush()
    return provider


def add_service(session: Session, **overrides) -> Service:
    service = Service(name=f"Service {next(_serial)}", fee=Decimal("120.00"))
    for name, value in overrides.items():
        setattr(service, name, value)
    session.add(service)
    session.flush()
    return service


def add_appointment(
    session: Session, patient: Patient, provider: Provider, **overrides
) -> Appointment:
    starts = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    appointment = Appointment(
        patient_id=patient.id,
        provider_id=provider.id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
    )
    for name, value in overrides.items():
        setattr(appointment, name, value)
    session.add(appointment)
    session.flush()
    return appointment
