"""Restoring a backup: checked first, the database as it was kept, swapped in one step,
refused for a newer CareDesk or a damaged backup, and for another clinic only on a yes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.data import keys
from app.data.keys import DatabaseKey
from app.services.backups import archive, restore, schedule
from app.services.backups.files import BackupError
from app.services.backups.manifest import manifest_path, read_manifest
from app.services.clinic.clinics import open_clinic
from tests.data.factories import add_named_patient


def _patients(db) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM patients").scalar()


@pytest.fixture
def backed_up(clinic, owner, tmp_path):
    """The clinic with one patient, backed up; then a second patient added after it."""
    add_named_patient(clinic.db, "Ada", "Before")
    report = schedule.back_up(
        clinic.db, clinic.key, owner, reason="manual", local=tmp_path / "backups"
    )
    assert report.ok
    add_named_patient(clinic.db, "Bea", "After")
    return report.places[0].backup


def test_a_restore_brings_back_the_backup_and_keeps_the_database_as_it_was(
    clinic, backed_up, tmp_path
):
    live = clinic.path
    clinic.db.close()

    result = restore.restore_file_backup(
        backed_up, clinic.key, live, live_key=clinic.key, keep_folder=tmp_path / "kept", by="owner"
    )

    restored = open_clinic(live, remember=False)  # the key store knows the restored file
    try:
        assert _patients(restored.db) == 1
        with restored.db.engine.connect() as conn:
            detail = conn.exec_driver_sql(
                "SELECT detail FROM audit_log WHERE action = 'backup_restored'"
            ).scalar()
        assert backed_up.name in detail and "by owner" in detail
    finally:
        restored.db.close()
    # The database as it was (two patients) is kept, checked, as a backup of its own.
    assert result.kept_before is not None
    assert read_manifest(result.kept_before).reason == "before restore"
    assert read_manifest(result.kept_before).rows["patients"] == 2
    assert archive.verify_backup(result.kept_before, clinic.key).ok
    assert not Path(str(live) + ".restoring").exists()


def test_a_damaged_backup_is_never_restored(clinic, backed_up, tmp_path):
    data = bytearray(backed_up.read_bytes())
    data[9000] ^= 0xFF
    backed_up.write_bytes(bytes(data))
    live = clinic.path
    clinic.db.close()
    before = live.read_bytes()

    with pytest.raises(BackupError, match="failed its check, so nothing was restored"):
        restore.restore_file_backup(
            backed_up, clinic.key, live, live_key=clinic.key, keep_folder=tmp_path / "kept"
        )

    assert live.read_bytes() == before
    assert not (tmp_path / "kept").exists()


def test_a_backup_from_a_newer_caredesk_is_refused(clinic, backed_up, tmp_path):
    manifest = read_manifest(backed_up)
    manifest_path(backed_up).write_text(
        replace(manifest, schema="0099", program="9.0").to_json(), encoding="utf-8"
    )
    clinic.db.close()
    # The manifest no longer matches the file's own schema: the check names that first.
    check = restore.check_restore(backed_up, clinic.key, None)
    assert check.refusal is not None and "schema" in check.refusal


def test_a_newer_schema_in_a_whole_backup_is_refused_by_name(clinic, backed_up, tmp_path):
    """A backup that checks out but whose schema this CareDesk does not know."""
    from app.data.database import connect

    db = connect(clinic.path, clinic.key)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    newer = archive.make_file_backup(db, clinic.key, backed_up.parent, reason="manual")[0]
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0012'")
    db.close()
    clinic.db.close()

    with pytest.raises(BackupError, match="made by a newer CareDesk"):
        restore.restore_file_backup(
            newer, clinic.key, clinic.path, live_key=clinic.key, keep_folder=tmp_path / "kept"
        )


def test_another_clinics_backup_needs_a_yes(clinic, tmp_path, clinic_details):
    from app.services.clinic.clinics import create_clinic

    other = create_clinic(
        tmp_path / "other.caredesk", replace(clinic_details, name="Harbor Smiles"), "owner",
        "Olivia Owner", "a-strong-password-for-tests-1",
    )  # fmt: skip
    (tmp_path / "others").mkdir()
    other_backup = archive.make_file_backup(
        other.db, other.key, tmp_path / "others", reason="manual"
    )[0]
    other.db.close()
    live = clinic.path
    clinic.db.close()
    check = restore.check_restore(other_backup, other.key, restore.trail_of(live, clinic.key))
    assert check.refusal is None
    assert check.other_clinic is not None and "Harbor Smiles" in check.other_clinic

    with pytest.raises(BackupError, match="another clinic"):
        restore.restore_file_backup(
            other_backup, other.key, live, live_key=clinic.key, keep_folder=tmp_path / "kept"
        )
    assert not (tmp_path / "kept").exists()  # refused before anything was done
    result = restore.restore_file_backup(
        other_backup, other.key, live, live_key=clinic.key, keep_folder=tmp_path / "kept",
        allow_other_clinic=True,
    )  # fmt: skip
    assert result.kept_before is not None
    assert restore.trail_of(live, other.key) == read_manifest(other_backup).trail


def test_a_restore_to_a_new_file_leaves_the_clinic_alone(clinic, backed_up, tmp_path):
    target = tmp_path / "elsewhere" / "copy.caredesk"

    result = restore.restore_file_backup(
        backed_up, clinic.key, target, live_key=None, keep_folder=tmp_path / "kept"
    )

    assert result.kept_before is None
    assert _patients(clinic.db) == 2  # the clinic itself is as it was
    copy = open_clinic(target, remember=False)
    try:
        assert _patients(copy.db) == 1
    finally:
        copy.db.close()


def test_a_damaged_live_database_is_kept_byte_for_byte_before_the_restore(
    clinic, backed_up, tmp_path
):
    live = clinic.path
    clinic.db.close()
    data = bytearray(live.read_bytes())
    data[:4096] = bytes(4096)  # its first page wiped: it no longer opens
    live.write_bytes(bytes(data))

    result = restore.restore_file_backup(
        backed_up, clinic.key, live, live_key=clinic.key, keep_folder=tmp_path / "kept"
    )

    assert result.kept_before.read_bytes() == bytes(data)
    assert "as-it-was" in result.kept_before.name


def test_the_recovery_key_opens_a_backup_whose_key_is_not_in_the_key_store(
    clinic, backed_up, tmp_path, memory_keyring
):
    key_text = clinic.key.recovery_text()
    live = clinic.path
    clinic.db.close()
    keys.forget_key(keys.database_id(live))

    typed = keys.parse_recovery_input(key_text)
    result = restore.restore_file_backup(
        backed_up, typed, live, live_key=None, keep_folder=tmp_path / "kept"
    )

    # Without the current key the database is kept as its bytes, and the restored file opens.
    assert result.kept_before is not None
    reopened = open_clinic(live, remember=False)
    reopened.db.close()


def test_a_wrong_key_restores_nothing(clinic, backed_up, tmp_path):
    live = clinic.path
    clinic.db.close()
    before = live.read_bytes()
    with pytest.raises(BackupError, match="key does not open it"):
        restore.restore_file_backup(
            backed_up, DatabaseKey.generate(), live, live_key=clinic.key,
            keep_folder=tmp_path / "kept",
        )  # fmt: skip
    assert live.read_bytes() == before
