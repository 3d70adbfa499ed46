"""The recovery kit's key, as the service hands it out: the clinic file's own key, or — for a
clinic on the server — the server backup key, printed only on the PC that holds it (owner
only, and audited either way); and which PC makes the backups."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import utc_now
from app.data.models.audit import AuditEntry
from app.data.models.backups import BackupOutcome, BackupRun, BackupWhere
from app.data.models.staff import Role
from app.services.backups.schedule import backup_pc
from app.services.backups.server_dump import server_backup_key
from app.services.clinic.audit import AuditAction
from app.services.clinic.clinics import NO_SERVER_KIT, recovery_kit_info
from app.services.errors import PermissionDeniedError, ValidationError

server = pytest.mark.server_only


def kit_prints(db) -> list[str]:
    with db.uow() as s:
        return list(
            s.scalars(
                select(AuditEntry.detail)
                .where(AuditEntry.action == AuditAction.RECOVERY_KIT.value)
                .order_by(AuditEntry.id)
            )
        )


def add_run(db, computer: str, *, ok: bool, minutes_ago: int) -> None:
    finished = utc_now() - timedelta(minutes=minutes_ago)
    with db.uow() as s:
        s.add(
            BackupRun(
                started_at=finished - timedelta(seconds=5),
                finished_at=finished,
                reason="automatic",
                place=BackupWhere.LOCAL.value,
                folder="/backups",
                file_name="clinic.caredesk-backup" if ok else "",
                outcome=(BackupOutcome.VERIFIED if ok else BackupOutcome.FAILED).value,
                message="" if ok else "this PC has no backup key for the clinic server",
                computer=computer,
            )
        )


# --- a clinic file ---------------------------------------------------------------------------


def test_a_clinic_files_kit_holds_its_own_key_and_the_print_is_audited(clinic, owner):
    info = recovery_kit_info(clinic, owner)

    assert info.kind == "database"
    assert info.recovery_text == clinic.key.recovery_text()
    assert info.database_path == str(clinic.path) and info.database_id
    assert info.server_address == "" and info.computer == ""
    assert kit_prints(clinic.db) == ["recovery kit printed"]
    assert clinic.key.recovery_text() not in repr(info)  # never in a log or a traceback


# --- a clinic server ------------------------------------------------------------------------


@server
def test_a_pc_without_the_server_backup_key_has_no_kit_to_print(clinic, owner):
    with pytest.raises(ValidationError) as refused:
        recovery_kit_info(clinic, owner)

    assert str(refused.value) == NO_SERVER_KIT
    assert "printed on the PC that makes the backups" in NO_SERVER_KIT
    assert kit_prints(clinic.db) == []  # nothing was printed, nothing audited
    assert server_backup_key(clinic.db, create=False) is None  # and no key made by asking


@server
def test_the_pc_holding_the_server_backup_key_prints_that_key(clinic, owner):
    key = server_backup_key(clinic.db, create=True)

    info = recovery_kit_info(clinic, owner)

    assert info.kind == "server_backups"
    assert info.recovery_text == key.recovery_text() and info.is_raw_key
    assert info.server_address == f"{clinic.server.host}:{clinic.server.port}"
    assert info.server_database == clinic.server.database
    assert info.computer == socket.gethostname()
    assert info.database_path == "" and info.database_id == ""
    assert kit_prints(clinic.db) == ["backup key recovery kit printed"]
    assert key.recovery_text() not in repr(info)


@server
def test_only_the_owner_prints_the_server_backup_key(clinic, make_staff):
    server_backup_key(clinic.db, create=True)
    coordinator = make_staff("cora", Role.COORDINATOR)

    with pytest.raises(PermissionDeniedError):
        recovery_kit_info(clinic, coordinator)
    assert kit_prints(clinic.db) == []


# --- which PC makes the backups -------------------------------------------------------------


def test_the_backup_pc_is_the_one_that_made_the_newest_verified_backup(clinic, owner):
    assert backup_pc(clinic.db, owner) is None

    add_run(clinic.db, "FRONT-DESK-1", ok=True, minutes_ago=90)
    add_run(clinic.db, "BACK-OFFICE", ok=True, minutes_ago=60)
    # A PC without the key trying `caredesk backup now` records a failure: it does not
    # make the backups.
    add_run(clinic.db, "RECEPTION-2", ok=False, minutes_ago=5)

    assert backup_pc(clinic.db, owner) == "BACK-OFFICE"
