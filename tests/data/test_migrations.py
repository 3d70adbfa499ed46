"""Alembic: from an empty file to head, from the previous revision to head, and back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from app.data import migrate
from app.data.database import Database, connect, create_empty
from app.data.keys import DatabaseKey
from app.data.models import Base
from app.data.models.messages import DEFAULT_RULES

POSTGRES_MAX_IDENTIFIER = 63
AUDIT_TRIGGERS = {"audit_log_no_update", "audit_log_no_delete"}


def _triggers(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in rows}


def _schema_differences(db: Database) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_upgrade_from_empty_reaches_head_and_matches_the_models(migrated_db: Database) -> None:
    assert migrate.current_revision(migrated_db) == migrate.head_revision() == "0012"
    assert not migrate.needs_upgrade(migrated_db)
    tables = set(inspect(migrated_db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert _schema_differences(migrated_db) == []
    assert _triggers(migrated_db) == AUDIT_TRIGGERS


def test_a_model_change_without_migration_is_noticed(migrated_db: Database) -> None:
    """The comparison above is only worth something if it sees a missing column."""
    with migrated_db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE patients DROP COLUMN pronouns")
    differences = _schema_differences(migrated_db)
    assert any(d[0] == "add_column" and d[3].name == "pronouns" for d in differences)


def test_upgrade_from_0001_adds_triggers_and_keeps_rows(db_path: Path, db_key: DatabaseKey) -> None:
    db = create_empty(db_path, db_key)
    try:
        migrate.upgrade(db, "0001")
        assert migrate.current_revision(db) == "0001"
        assert _triggers(db) == set()
        at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO staff (username, full_name, role, password_hash, is_active,"
                    " failed_logins, must_change_password, may_break_glass, created_at,"
                    " updated_at, version) VALUES ('owner', 'Olivia Owner', 'owner', 'h', 1,"
                    " 0, 0, 0, :at, :at, 1)"
                ),
                {"at": at.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, username, action, entity, fields, detail,"
                    " break_glass, prev_hash, hash) VALUES (:at, 'owner', 'login', '', '', '',"
                    " 0, :prev, :hash)"
                ),
                {"at": at.replace(tzinfo=None), "prev": "0" * 64, "hash": "a" * 64},
            )
        # An older file on disk, reopened by a newer CareDesk.
        db.close()
        db = connect(db_path, db_key)
        assert migrate.needs_upgrade(db)
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        assert _triggers(db) == AUDIT_TRIGGERS
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT username FROM staff").scalars().all() == ["owner"]
            assert conn.exec_driver_sql("SELECT action, hash FROM audit_log").all() == [
                ("login", "a" * 64)
            ]
    finally:
        db.close()


def test_downgrade_to_base_and_upgrade_again(migrated_db: Database) -> None:
    migrate.downgrade(migrated_db, "0001")
    assert _triggers(migrated_db) == set()
    migrate.downgrade(migrated_db, "base")
    assert set(inspect(migrated_db.engine).get_table_names()) == {"alembic_version"}
    migrate.upgrade(migrated_db)
    assert _schema_differences(migrated_db) == []


def test_schema_compiles_for_postgresql_with_names_postgres_accepts() -> None:
    """The same models serve the clinic server: DDL compiles, no name is truncated."""
    dialect = postgresql.dialect()
    too_long = []
    for table in Base.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        too_long += [n for n in re.findall(r"CONSTRAINT (\w+)", ddl) if len(n) > 63]
        for index in table.indexes:
            statement = str(CreateIndex(index).compile(dialect=dialect))
            name = re.search(r"INDEX (\w+) ON", statement).group(1)
            if len(name) > POSTGRES_MAX_IDENTIFIER:
                too_long.append(name)
    assert too_long == []


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_every_foreign_key_says_what_happens_on_delete(table: str) -> None:
    """ON DELETE is a decision per reference (patients are never cascade-deleted)."""
    for fk in Base.metadata.tables[table].foreign_keys:
        assert fk.ondelete in {"RESTRICT", "CASCADE", "SET NULL"}, fk
        if fk.column.table.name == "patients":
            assert fk.ondelete == "RESTRICT", fk


def test_head_revision_constant_matches_the_scripts() -> None:
    assert migrate.head_revision() == migrate.HEAD_REVISION


def test_upgrade_from_0002_maps_journey_stages_and_keeps_triggers_and_references(
    db_path: Path, db_key: DatabaseKey
) -> None:
    db = create_empty(db_path, db_key)
    try:
        migrate.upgrade(db, "0002")
        at = datetime(2026, 1, 5, 9, 30)
        old_stages = ["lead", "consulted", "plan_accepted", "in_treatment", "recall", "inactive"]
        with db.engine.begin() as conn:
            for n, stage in enumerate(old_stages, start=1):
                conn.execute(
                    text(
                        "INSERT INTO patients (id, chart_number, first_name, middle_name,"
                        " last_name, preferred_name, search_name, pronouns, mobile_phone,"
                        " home_phone, work_phone, email, address_line1, address_line2, city,"
                        " region, postal_code, country, preferred_language, may_text,"
                        " may_email, may_voicemail, emergency_contact_name,"
                        " emergency_contact_phone, emergency_contact_relation, medical_alerts,"
                        " allergies, medications, lead_source, journey_stage,"
                        " journey_stage_since, inactive_reason, is_active, created_at,"
                        " updated_at, version) VALUES (:id, :chart, 'Ann', '', 'Lee', '', '',"
                        " '', '', '', '', '', '', '', '', '', '', '', 'en', 0, 0, 0, '', '', '',"
                        " '', '', '', '', :stage, :at, :reason, :active, :at, :at, 1)"
                    ),
                    {
                        "id": n,
                        "chart": f"P{n:06d}",
                        "stage": stage,
                        "at": at,
                        "reason": "Moved away" if stage == "inactive" else "",
                        "active": stage != "inactive",
                    },
                )
            # A row in another table refers to a patient: the rebuild must keep it valid.
            conn.execute(
                text(
                    "INSERT INTO communication_entries (patient_id, occurred_at, channel,"
                    " direction, purpose, summary, follow_up_needed, created_at)"
                    " VALUES (1, :at, 'call', 'inbound', 'general', 'x', 0, :at)"
                ),
                {"at": at},
            )
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        assert _triggers(db) == AUDIT_TRIGGERS
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT journey_stage, journey_reason FROM patients ORDER BY id"
            ).all()
        assert rows == [
            ("inquiry", ""),
            ("consultation", ""),
            ("consultation", ""),
            ("in_treatment", ""),
            ("follow_up", ""),
            ("inactive", "Moved away"),
        ]
        assert _schema_differences(db) == []
        migrate.downgrade(db, "0002")
        with db.engine.connect() as conn:
            stages = conn.exec_driver_sql("SELECT journey_stage FROM patients ORDER BY id")
            assert stages.scalars().all()[0] == "lead"
        assert _triggers(db) == AUDIT_TRIGGERS
    finally:
        db.close()


def test_upgrade_from_0003_gives_an_existing_clinic_the_default_apr_cap(clinic) -> None:
    """A clinic made before plans and payments keeps its settings and gains the APR cap."""
    db = clinic.db
    migrate.downgrade(db, "0003")
    with db.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("clinic_settings")}
    assert "max_apr_basis_points" not in columns
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT name, max_apr_basis_points FROM clinic_settings").one()
        assert "day_closeouts" in inspect(conn).get_table_names()
    assert row == ("Bayside Dental", 3600)
    assert _triggers(db) == AUDIT_TRIGGERS
    assert _schema_differences(db) == []


def test_upgrade_from_0007_adds_month_closes_and_keeps_the_books(clinic) -> None:
    """A clinic made before month closes keeps its rows, gains the empty month_closes table
    (nothing closed: closed through no day), and loses only that table going back."""
    db = clinic.db
    migrate.downgrade(db, "0007")
    with db.engine.connect() as conn:
        assert "month_closes" not in inspect(conn).get_table_names()
        staff_before = conn.exec_driver_sql("SELECT count(*) FROM staff").scalar()
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM month_closes").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM staff").scalar() == staff_before
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("month_closes")}
    assert indexes["ix_month_closes_closed_month"]["unique"]
    assert _triggers(db) == AUDIT_TRIGGERS
    assert _schema_differences(db) == []


def test_upgrade_from_0008_maps_every_old_referral_status_and_gives_each_one_event(
    clinic,
) -> None:
    """Referrals made before they could close keep their patient, contact and tasks; each
    old status maps to the new one (new → draft or received by direction, acknowledged →
    sent, scheduled → booked, completed → closed) and gets one event saying so."""
    from tests.data.factories import add_named_patient

    db = clinic.db
    patient_id = add_named_patient(db)
    migrate.downgrade(db, "0008")
    at = datetime(2026, 2, 3, 10, 0)
    old = [
        ("outgoing", "new", "draft"),
        ("incoming", "new", "received"),
        ("outgoing", "sent", "sent"),
        ("outgoing", "acknowledged", "sent"),
        ("outgoing", "scheduled", "booked"),
        ("incoming", "scheduled", "booked"),
        ("outgoing", "completed", "closed"),
        ("incoming", "completed", "closed"),
        ("outgoing", "cancelled", "cancelled"),
    ]
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (id, kind, organisation, name, specialty, phone, fax, email,"
                " address_line1, address_line2, city, region, postal_code, country, notes,"
                " is_active, created_at, updated_at, version) VALUES (1, 'specialist',"
                " 'Lee Oral Surgery', 'Dr. Ann Lee', 'Oral surgeon', '', '', '', '', '', '', '',"
                " '', '', '', 1, :at, :at, 1)"
            ),
            {"at": at},
        )
        for n, (direction, status, _new) in enumerate(old, start=1):
            conn.execute(
                text(
                    "INSERT INTO referrals (id, patient_id, direction, contact_id, status,"
                    " urgency, reason, attached_records, referred_on, notes, closed_on,"
                    " created_at, updated_at, version) VALUES (:id, :patient, :direction, 1,"
                    " :status, 'routine', 'Assessment', '', :on, '', :closed, :at, :updated, 1)"
                ),
                {
                    "id": n,
                    "patient": patient_id,
                    "direction": direction,
                    "status": status,
                    "on": at.date(),
                    "closed": at.date() if status == "completed" else None,
                    "at": at,
                    "updated": at.replace(day=n),
                },
            )
            conn.execute(
                text(
                    "INSERT INTO tasks (kind, title, details, patient_id, status, referral_id,"
                    " created_at, updated_at, version) VALUES ('referral', :title, '',"
                    " :patient, 'open', :id, :at, :at, 1)"
                ),
                {"title": f"Chase referral {n}", "patient": patient_id, "id": n, "at": at},
            )
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        statuses = conn.exec_driver_sql(
            "SELECT direction, status, contact_id, patient_id FROM referrals ORDER BY id"
        ).all()
        events = conn.exec_driver_sql(
            "SELECT referral_id, kind, from_status, to_status FROM referral_events"
            " ORDER BY referral_id"
        ).all()
        tasks = conn.exec_driver_sql(
            "SELECT referral_id, title, status FROM tasks ORDER BY referral_id"
        ).all()
        contact = conn.exec_driver_sql("SELECT kind, name, is_active FROM contacts").one()
        changed = conn.exec_driver_sql("SELECT status_changed_at FROM referrals WHERE id = 3")
        changed_at = changed.scalar()
    assert statuses == [(d, new, 1, patient_id) for d, _old, new in old]
    assert events == [(n, "status", None, new) for n, (_d, _old, new) in enumerate(old, start=1)]
    assert tasks == [(n, f"Chase referral {n}", "open") for n in range(1, len(old) + 1)]
    assert tuple(contact) == ("specialist", "Dr. Ann Lee", 1)
    # Days in stage count from the referral's last change, the nearest thing there is.
    assert str(changed_at).startswith("2026-02-03")
    assert _triggers(db) == AUDIT_TRIGGERS
    assert _schema_differences(db) == []


# --- the same revisions on the clinic server (PostgreSQL) --------------------------------------


@pytest.fixture
def server_db(pg_cluster, server_clinic_templates, request):
    """A server database prepared as `caredesk server setup` does (schema at head, no clinic),
    opened as the role that owns the tables: the one migrations run as."""
    from app.data.database import connect_server
    from app.data.server_admin import OWNER_ROLE
    from tests.pg_cluster import SERVER_OWNER_PASSWORD

    name = f"migrations_{request.node.name.split('[')[0][-30:].lower()}"
    address = server_clinic_templates.empty_database(name)
    db = connect_server(address.with_user(OWNER_ROLE), SERVER_OWNER_PASSWORD)
    yield db
    db.close()
    pg_cluster.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")


def _server_triggers_and_exclusions(db: Database) -> tuple[set[str], set[str]]:
    with db.engine.connect() as conn:
        triggers = conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid = 'audit_log'::regclass"
        )
        exclusions = conn.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE contype = 'x'"
            " AND conrelid = 'appointments'::regclass"
        )
        return {n for (n,) in triggers}, {n for (n,) in exclusions}


EXCLUSIONS = {
    "ex_appointments_provider_time_not_shared",
    "ex_appointments_room_time_not_shared",
}


def test_the_server_schema_reaches_head_and_matches_the_models(server_db: Database) -> None:
    assert migrate.current_revision(server_db) == migrate.HEAD_REVISION
    assert _schema_differences(server_db) == []
    triggers, exclusions = _server_triggers_and_exclusions(server_db)
    assert AUDIT_TRIGGERS | {"audit_log_no_truncate"} <= triggers
    assert exclusions == EXCLUSIONS


def test_the_server_schema_goes_down_to_base_and_up_again(server_db: Database) -> None:
    migrate.downgrade(server_db, "0005")
    assert _server_triggers_and_exclusions(server_db)[1] == set()
    migrate.downgrade(server_db, "base")
    assert set(inspect(server_db.engine).get_table_names()) == {"alembic_version"}
    migrate.upgrade(server_db)
    assert _schema_differences(server_db) == []
    assert _server_triggers_and_exclusions(server_db)[1] == EXCLUSIONS


def test_upgrade_from_0009_gives_an_existing_clinic_the_default_rules_and_keeps_patients(
    clinic,
) -> None:
    """A clinic made before messages keeps its patients and tasks, gains the empty outbox and
    the default reminder rules (once: going down and up again does not double them); an
    empty database (a new server, a move's target) gains no rows at all."""
    from tests.data.factories import add_named_patient

    db = clinic.db
    patient_id = add_named_patient(db, "Ana", "Ruiz")
    migrate.downgrade(db, "0009")
    with db.engine.connect() as conn:
        assert "messages" not in inspect(conn).get_table_names()
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        rules = conn.exec_driver_sql(
            "SELECT kind, offset_minutes, send_email, send_text FROM message_rules ORDER BY id"
        ).all()
        patient = conn.exec_driver_sql(
            "SELECT first_name, text_opted_out_at, email_bounced_at, deceased_on"
            " FROM patients WHERE id = ?",
            (patient_id,),
        ).one()
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM sender_leases").scalar() == 0
    assert [(k, o, bool(e), bool(t)) for k, o, e, t in rules] == [
        (kind.value, offset, email, text) for kind, offset, email, text in DEFAULT_RULES
    ]
    assert tuple(patient) == ("Ana", None, None, None)
    assert _triggers(db) == AUDIT_TRIGGERS
    assert _schema_differences(db) == []


def test_an_empty_database_upgraded_to_0010_holds_no_rows(migrated_db: Database) -> None:
    with migrated_db.engine.connect() as conn:
        for table in ("message_rules", "sender_leases", "messaging_settings", "messages"):
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0
