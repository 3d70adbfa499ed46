"""Moving a clinic file to the clinic server: every row arrives as it was, the file is not
touched, and anything that goes wrong leaves the server's database empty."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import keyring
import pytest
import sqlcipher3.dbapi2 as sqlcipher
from PIL import Image
from sqlalchemy import select

from app import paths
from app.data import transfer
from app.data.database import Database, connect, connect_server
from app.data.errors import DatabaseTooNewError
from app.data.keys import DatabaseKey, MemoryKeyring
from app.data.server import ServerAddress
from app.services.billing import payments
from app.services.clinic import auth, clinics
from app.services.clinic.audit_log import verify_chain
from app.services.clinic.server_move import (
    CHECK_STAGE,
    MoveCheckError,
    move_clinic_to_server,
    owner_address,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import ValidationError
from app.services.patients import merge, records
from app.services.patients.records import PatientForm
from tests.conftest import OWNER_PASSWORD
from tests.data.factories import add_appointment, add_provider
from tests.pg_cluster import SERVER_APP_PASSWORD, SERVER_OWNER_PASSWORD

_databases = itertools.count(1)
#: Nothing listens here: the file is refused before the server is ever asked.
NO_SERVER = ServerAddress(host="127.0.0.1", port=1, database="none", sslmode="disable")


@pytest.fixture
def empty_target(pg_cluster, server_clinic_templates):
    """A database of the test's own, prepared by setup and empty: the application role's
    address, as a clinic's PCs would be told."""
    name = f"move_data_{os.getpid()}_{next(_databases)}"
    address = server_clinic_templates.empty_database(name)
    yield address
    pg_cluster.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DatabaseKey]:
    """A small made-up clinic with a year of history (~70,000 rows), made once for the
    module; each test copies it."""
    from app.demo.seed import create_seeded_clinic

    folder = tmp_path_factory.mktemp("seeded")
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
            opened = create_seeded_clinic(folder / "seeded.caredesk", patients=80, years=1, seed=3)
    finally:
        keyring.set_keyring(previous)
    opened.db.close()
    return opened.path, opened.key


def _hashes(path: Path) -> dict[str, str | None]:
    """The file and its -wal/-shm companions, each hashed (None: not there)."""
    found = {}
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        found[suffix] = hashlib.sha256(part.read_bytes()).hexdigest() if part.exists() else None
    return found


def _owner_db(address: ServerAddress) -> Database:
    return connect_server(owner_address(address), SERVER_OWNER_PASSWORD)


def _server_counts(address: ServerAddress) -> dict[str, int]:
    db = _owner_db(address)
    try:
        with db.engine.connect() as conn:
            return transfer.count_rows(conn)
    finally:
        db.close()


def _rows_by_key(db: Database) -> dict[str, dict[tuple, tuple]]:
    """Every row of every table, through the models' column types, by primary key."""
    everything = {}
    with db.engine.connect() as conn:
        for table in transfer.copy_order():
            key = [table.columns.keys().index(c.name) for c in table.primary_key.columns]
            rows = conn.execute(select(table)).all()
            everything[table.name] = {tuple(row[i] for i in key): tuple(row) for row in rows}
    return everything


def _raw_file(path: Path, key: DatabaseKey) -> sqlcipher.Connection:
    """The file as a program other than CareDesk could change it: foreign keys unchecked."""
    conn = sqlcipher.connect(str(path))
    conn.execute(f"PRAGMA key = {key.pragma_literal()}")
    conn.execute("PRAGMA foreign_keys = OFF")
    return conn


def _change_file(path: Path, key: DatabaseKey, *statements: str) -> None:
    with closing(_raw_file(path, key)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 80), "#1D4E89").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def closed_clinic(clinic, owner):
    """The test's clinic file with a little of everything, closed as CareDesk leaves it: a
    patient merged into one registered after him (a reference forward in its own table),
    a refunded payment, text with tabs, newlines and backslashes, yes/no fields, a logo."""
    older = records.create_patient(
        clinic.db,
        owner,
        PatientForm(
            first_name="Zoë",
            last_name="Nguyễn",
            may_text=True,
            medical_alerts="Latex\tallergy\nsee C:\\notes\\2024 — “severe”",
        ),
    )
    newer = records.create_patient(
        clinic.db, owner, PatientForm(first_name="Zoe", last_name="Nguyen", may_email=True)
    )
    merge.merge_patients(clinic.db, owner, keep_id=newer.id, merge_id=older.id)
    paid = payments.record_payment(
        clinic.db, owner, newer.id, payments.PaymentInput(amount=Decimal("120.50"), method="card")
    )
    payments.refund_payment(
        clinic.db, owner, paid.payment_id, Decimal("20.25"), "card", "charged twice"
    )
    clinics.update_details(
        clinic.db, owner, replace(clinics.get_details(clinic.db), logo_png=_picture())
    )
    with unit_of_work(clinic.db, owner) as session:
        patient = records.get_patient(session, newer.id)
        add_appointment(
            session,
            patient,
            add_provider(session),
            starts_at=datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC),
            double_booked=True,
        )
    clinic.db.close()  # the last connection folds the write-ahead log into the file
    return clinic


def test_every_row_arrives_as_it_was_and_the_file_is_not_touched(
    seeded_file, empty_target, tmp_path
) -> None:
    template, key = seeded_file
    path = tmp_path / "clinic.caredesk"
    path.write_bytes(template.read_bytes())
    before = _hashes(path)
    stages = []

    report = move_clinic_to_server(
        path, empty_target, SERVER_OWNER_PASSWORD, key=key, progress=lambda *a: stages.append(a)
    )

    assert _hashes(path) == before
    assert before["-wal"] is None and before["-shm"] is None
    file_db = connect(path, key)
    server_db = _owner_db(empty_target)
    try:
        in_file, on_server = _rows_by_key(file_db), _rows_by_key(server_db)
    finally:
        file_db.close()
        server_db.close()
    for table in in_file:
        assert on_server[table] == in_file[table], table
    assert {t.name: t.rows for t in report.tables} == {t: len(rows) for t, rows in in_file.items()}
    assert report.rows > 50_000
    assert len(in_file["patients"]) == 80
    assert report.audit_rows_checked == len(in_file["audit_log"])
    assert report.server == empty_target  # the address PCs join, as the application role
    copying = [s for s in stages if s[0] == transfer.COPY_STAGE]
    assert copying[0] == (transfer.COPY_STAGE, 0, report.rows)
    assert copying[-1] == (transfer.COPY_STAGE, report.rows, report.rows)
    assert stages[-1] == (CHECK_STAGE, 3, 3)


def test_the_server_carries_on_where_the_file_stopped(closed_clinic, empty_target) -> None:
    path, key = closed_clinic.path, closed_clinic.key
    before = _hashes(path)

    report = move_clinic_to_server(path, empty_target, SERVER_OWNER_PASSWORD)

    assert _hashes(path) == before
    file_db = connect(path, key)
    try:
        in_file = _rows_by_key(file_db)
    finally:
        file_db.close()
    server = clinics.open_server_clinic(empty_target, SERVER_APP_PASSWORD)
    try:
        assert _rows_by_key(server.db) == in_file
        older, newer = sorted(in_file["patients"])
        patients = {p.id: p for p in _patients(server.db)}
        assert patients[older[0]].merged_into_id == newer[0]  # forward in its own table
        assert clinics.get_details(server.db).logo_png == _picture()
        chain = verify_chain(server.db)
        assert chain.ok and chain.rows_checked == report.audit_rows_checked

        # A PC signs in to the server and adds a patient: the next id, the chain goes on.
        owner = auth.login(server.db, "owner", OWNER_PASSWORD)
        added = records.create_patient(
            server.db, owner, PatientForm(first_name="Ada", last_name="Lovelace")
        )
        assert added.id == newer[0] + 1
        chain = verify_chain(server.db)
        assert chain.ok and chain.rows_checked > report.audit_rows_checked
    finally:
        server.db.close()


def test_the_server_plans_with_the_moved_rows_counted(closed_clinic, empty_target) -> None:
    """COPY leaves the planner no statistics until autovacuum comes round; the move gathers
    them, or the first searches sort every match (bench: 236 ms instead of 1 ms)."""
    move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)
    db = _owner_db(empty_target)
    try:
        with db.engine.connect() as conn:
            never = conn.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables "
                "WHERE last_analyze IS NULL AND last_autoanalyze IS NULL"
            ).scalars()
            assert set(never) == set()
            # …and prices a random read as an SSD does (set by server setup).
            assert conn.exec_driver_sql("SHOW random_page_cost").scalar() == "1.1"
    finally:
        db.close()


def _patients(db: Database):
    from app.data.models import Patient

    with db.uow() as session:
        return list(session.scalars(select(Patient)))


def test_a_target_that_holds_a_clinic_is_refused_and_left_as_it_was(
    closed_clinic, empty_target, clinic_details
) -> None:
    clinics.create_clinic_on_server(
        empty_target, clinic_details, "boss", "Bea Boss", OWNER_PASSWORD,
        server_password=SERVER_APP_PASSWORD,
    ).db.close()  # fmt: skip
    before = _server_counts(empty_target)

    with pytest.raises(transfer.TargetNotEmptyError, match=r"already holds data .*clinic_settings"):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)

    assert _server_counts(empty_target) == before


def test_a_failure_in_the_middle_leaves_the_target_empty(
    closed_clinic, empty_target, monkeypatch
) -> None:
    owner_db = _owner_db(empty_target)
    with owner_db.engine.connect() as conn:
        foreign_keys = transfer._foreign_keys(conn)
    copy_table = transfer._copy_table
    tables_copied = []

    def copy_three_then_fail(source, target, table, report):
        if len(tables_copied) == 3:
            raise RuntimeError("the network cable was pulled")
        tables_copied.append(table.name)
        return copy_table(source, target, table, report)

    monkeypatch.setattr(transfer, "_copy_table", copy_three_then_fail)
    with pytest.raises(RuntimeError, match="cable"):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)

    assert tables_copied == [t.name for t in transfer.copy_order()[:3]]
    assert set(_server_counts(empty_target).values()) == {0}
    with owner_db.engine.connect() as conn:
        assert transfer._foreign_keys(conn) == foreign_keys  # set aside, and back
    owner_db.close()


def test_a_row_the_server_refuses_undoes_the_whole_copy(
    closed_clinic, empty_target, pg_cluster
) -> None:
    pg_cluster.admin_sql(
        "ALTER TABLE patients ADD CONSTRAINT no_nguyen_test CHECK (last_name <> 'Nguyen')",
        database=empty_target.database,
    )
    with pytest.raises(transfer.TransferError) as refused:
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)

    message = str(refused.value)
    assert "patients" in message and "no_nguyen_test" in message
    assert "Nguyen" not in message.replace("no_nguyen_test", "")  # no patient's data
    assert set(_server_counts(empty_target).values()) == {0}


def test_a_reference_to_a_row_that_is_not_there_is_refused(closed_clinic, empty_target) -> None:
    _change_file(
        closed_clinic.path,
        closed_clinic.key,
        "UPDATE appointments SET provider_id = 999",
    )
    with pytest.raises(transfer.TransferError, match=r"appointments .*fk_appointments_provider_id"):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)
    assert set(_server_counts(empty_target).values()) == {0}


def test_a_copy_that_differs_from_the_file_is_undone_and_says_how(
    closed_clinic, empty_target, monkeypatch
) -> None:
    copy_table = transfer._copy_table

    def copy_losing_a_row(source, target, table, report):
        copied = copy_table(source, target, table, report)
        if table.name == "patient_search_terms":
            target.execute(
                "DELETE FROM patient_search_terms "
                "WHERE ctid = (SELECT min(ctid) FROM patient_search_terms)"
            )
        return copied

    monkeypatch.setattr(transfer, "_copy_table", copy_losing_a_row)
    with pytest.raises(MoveCheckError, match=r"patient_search_terms: (\d+) rows in the file, "):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)
    assert set(_server_counts(empty_target).values()) == {0}


def test_a_file_whose_audit_trail_was_edited_is_not_moved(closed_clinic, empty_target) -> None:
    _change_file(
        closed_clinic.path,
        closed_clinic.key,
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET detail = 'nothing to see' WHERE id = 2",
    )
    with pytest.raises(MoveCheckError, match="audit trail: row 2 was changed after it was written"):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)
    assert set(_server_counts(empty_target).values()) == {0}


def test_a_file_with_an_older_schema_must_be_upgraded_first(closed_clinic) -> None:
    _change_file(
        closed_clinic.path, closed_clinic.key, "UPDATE alembic_version SET version_num = '0005'"
    )
    with pytest.raises(
        ValidationError, match=r"older CareDesk's tables \(0005.*caredesk db upgrade"
    ):
        move_clinic_to_server(closed_clinic.path, NO_SERVER, SERVER_OWNER_PASSWORD)


def test_a_file_from_a_newer_caredesk_is_refused(closed_clinic) -> None:
    _change_file(
        closed_clinic.path, closed_clinic.key, "UPDATE alembic_version SET version_num = 'ffff'"
    )
    with pytest.raises(DatabaseTooNewError):
        move_clinic_to_server(closed_clinic.path, NO_SERVER, SERVER_OWNER_PASSWORD)


def test_a_server_with_an_older_schema_must_be_upgraded_first(
    closed_clinic, empty_target, pg_cluster
) -> None:
    pg_cluster.admin_sql(
        "UPDATE alembic_version SET version_num = '0005'", database=empty_target.database
    )
    with pytest.raises(ValidationError, match=r"older CareDesk's tables.*caredesk server upgrade"):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)


def test_a_file_still_open_in_caredesk_is_refused_untouched(clinic, owner) -> None:
    records.create_patient(clinic.db, owner, PatientForm(first_name="Ada", last_name="Byron"))
    before = _hashes(clinic.path)
    assert before["-wal"] is not None

    with pytest.raises(transfer.SourceInUseError, match="Close CareDesk on this PC"):
        move_clinic_to_server(clinic.path, NO_SERVER, SERVER_OWNER_PASSWORD)
    assert _hashes(clinic.path) == before


def test_the_move_signs_in_as_the_owner_of_the_tables() -> None:
    app_address = ServerAddress.parse("postgresql://clinic-server/caredesk")
    assert owner_address(app_address).user == "caredesk_owner"
    admin = app_address.with_user("postgres")
    assert owner_address(admin) == admin


def test_every_table_comes_after_the_tables_it_refers_to() -> None:
    from app.data.models import Base

    order = transfer.copy_order()
    assert {t.name for t in order} == set(Base.metadata.tables)
    seen: set[str] = set()
    for table in order:
        assert {fk.column.table.name for fk in table.foreign_keys} - {table.name} <= seen
        seen.add(table.name)


def test_a_yes_no_field_holding_something_else_is_refused(closed_clinic, empty_target) -> None:
    _change_file(closed_clinic.path, closed_clinic.key, "UPDATE patients SET may_text = 2")
    with pytest.raises(transfer.TransferError, match=r"A row of patients .* neither yes nor no"):
        move_clinic_to_server(closed_clinic.path, empty_target, SERVER_OWNER_PASSWORD)
    assert set(_server_counts(empty_target).values()) == {0}
