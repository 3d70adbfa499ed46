"""What the clinic server itself guarantees, whatever program writes to it: no double
booking (exclusion constraints), an audit trail the PCs' role can only add to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import ProgrammingError

from app.data.models import Appointment, Patient, Room
from app.data.models.audit import AuditEntry
from app.services.clinic.uow import unit_of_work
from app.services.errors import TimeTakenMeanwhileError
from app.services.scheduling.booking import HOLDS_TIME
from tests.data.factories import add_appointment, add_patient, add_provider

pytestmark = pytest.mark.server_only

NINE = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def book(clinic):
    """Write a visit straight to the server, past every check of CareDesk's."""
    with clinic.db.uow() as s:
        patient, provider = add_patient(s), add_provider(s)
        room = Room(name="Room 1")
        s.add(room)
        s.flush()
        ids = (patient.id, provider.id, room.id)

    def write(start, minutes=30, *, provider=ids[1], room=None, **values):
        with unit_of_work(clinic.db, None) as s:
            return add_appointment(
                s,
                _Ref(ids[0]),
                _Ref(provider),
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                room_id=room,
                **values,
            ).id

    write.room = ids[2]
    write.provider = ids[1]
    return write


class _Ref:
    """What add_appointment reads of a patient or provider: its id."""

    def __init__(self, id_: int) -> None:
        self.id = id_


def test_the_server_refuses_an_overlapping_visit_of_the_same_provider(clinic, book):
    book(NINE)
    with pytest.raises(TimeTakenMeanwhileError, match="Another booking holds this time"):
        book(NINE + timedelta(minutes=15))
    with clinic.db.uow() as s:
        assert s.scalar(select(func.count()).select_from(Appointment)) == 1


def test_the_server_refuses_an_overlapping_visit_in_the_same_room(clinic, book):
    with clinic.db.uow() as s:
        other = add_provider(s).id
    book(NINE, room=book.room)
    with pytest.raises(TimeTakenMeanwhileError):
        book(NINE + timedelta(minutes=10), provider=other, room=book.room)


def test_touching_visits_cancelled_ones_and_chosen_double_bookings_are_allowed(clinic, book):
    book(NINE)
    book(NINE + timedelta(minutes=30))  # starts as the first ends
    book(NINE, status="cancelled")
    book(NINE, status="no_show")
    book(NINE, double_booked=True)  # "double-book anyway", audited by the service
    with clinic.db.uow() as s:
        assert s.scalar(select(func.count()).select_from(Appointment)) == 5


def test_the_constraint_counts_the_same_statuses_as_the_clash_check():
    import runpy

    from app.paths import migrations_dir

    script = migrations_dir() / "versions" / "0006_no_double_booking_on_the_server.py"
    revision = runpy.run_path(str(script))
    assert set(revision["HOLDS_TIME"]) == set(HOLDS_TIME)


def test_the_pcs_role_cannot_change_or_remove_the_audit_trail(clinic, owner):
    for sql in (
        "UPDATE audit_log SET username = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_no_update ON audit_log",
        "DROP TABLE audit_log",
    ):
        with pytest.raises(ProgrammingError), clinic.db.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    with clinic.db.uow() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) >= 3


def test_the_server_going_away_mid_action_saves_nothing_and_the_next_action_reconnects(
    clinic, owner, pg_cluster
):
    from app.data.server import ServerUnavailableError
    from app.services.patients.records import PatientForm, create_patient

    def count() -> int:
        with clinic.db.uow() as s:
            return s.scalar(select(func.count()).select_from(Patient))

    before = count()
    with pytest.raises(ServerUnavailableError, match="nothing of it was half-written"):  # noqa: SIM117
        with unit_of_work(clinic.db, owner) as s:
            add_patient(s)  # written inside the transaction…
            pg_cluster.admin_sql(  # …when the server drops every connection of this clinic
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{clinic.server.database}' AND pid <> pg_backend_pid()"
            )
            add_patient(s)
    assert count() == before  # the pool reconnected by itself; nothing was kept
    create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz"))
    assert count() == before + 1


def test_a_server_that_stopped_says_it_cannot_be_reached(clinic, owner):
    """Its own cluster, stopped under an open clinic: the next action says so plainly."""
    from app.data.database import connect_server
    from app.data.server import ServerUnreachableError
    from tests import pg_cluster as clusters

    cluster = clusters.start_cluster()
    try:
        address = clusters.prepare_database(cluster)
        db = connect_server(address, clusters.SERVER_APP_PASSWORD)
        cluster.stop()
        with pytest.raises(ServerUnreachableError, match="could not reach the clinic server"):  # noqa: SIM117
            with db.uow() as s:
                s.scalar(select(func.count()).select_from(Patient))
        db.close()
    finally:
        clusters.remove_cluster(cluster)


@pytest.mark.parametrize(
    ("revision", "words"),
    [
        ("0005", "still has an older CareDesk's tables"),
        ("9999", "written by a newer CareDesk"),
    ],
)
def test_a_server_whose_schema_is_not_this_caredesks_is_not_opened(clinic, revision, words):
    """The PCs never change the server's schema; one that does not match says which way."""
    from app.services.clinic.clinics import open_server_clinic
    from app.services.errors import CareDeskError
    from tests.data.factories import owner_role_database
    from tests.pg_cluster import SERVER_APP_PASSWORD

    owner_db = owner_role_database(clinic)
    try:
        with owner_db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")
    finally:
        owner_db.close()
    with pytest.raises(CareDeskError, match=words):
        open_server_clinic(clinic.server, SERVER_APP_PASSWORD)
