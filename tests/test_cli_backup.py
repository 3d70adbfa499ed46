"""``caredesk backup now|list|verify|restore`` as a clinic's scheduled task or its IT person
runs them: real processes, one clear line each, a non-zero exit on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.data.database import backup_copy, connect
from app.data.keys import DatabaseKey
from tests.conftest import OWNER_PASSWORD, STAFF_PASSWORD
from tests.data.factories import add_named_patient
from tests.test_cli import PASSPHRASE, no_traceback, run

AS_OWNER = {"CAREDESK_USER": "owner", "CAREDESK_PASSWORD": OWNER_PASSWORD}
KEY = DatabaseKey(passphrase=PASSPHRASE)


@pytest.fixture
def clinic_file(clinic, tmp_path) -> Path:
    """The test's clinic with one patient, as a file keyed with a passphrase."""
    add_named_patient(clinic.db, "Ada", "Before")
    path = tmp_path / "front-desk.caredesk"
    backup_copy(clinic.db, path, KEY)
    return path


def backup(tmp_path: Path, *args: str, env=None, passphrase=PASSPHRASE):
    return run(["backup", *args], tmp_path / "cli-data", env_extra=env, passphrase=passphrase)


def patients(path: Path, key: DatabaseKey = KEY) -> int:
    db = connect(path, key)
    try:
        with db.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM patients").scalar()
    finally:
        db.close()


def test_now_list_verify_and_restore(clinic_file, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    made = backup(tmp_path, "now", "--to", str(usb), "--db", str(clinic_file))
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    assert lines[0].startswith("Backup verified in this PC: ")
    assert lines[1].startswith("Backup verified in the chosen folder: " + str(usb))
    (copy,) = usb.glob("*.caredesk")

    listed = backup(tmp_path, "list", "--folder", str(usb), "--db", str(clinic_file))
    assert listed.returncode == 0, listed.stderr
    assert "manual" in listed.stdout and "schema 0012" in listed.stdout
    assert str(copy) in listed.stdout

    checked = backup(tmp_path, "verify", str(copy), "--db", str(clinic_file))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("audit trail verified")

    # A patient added after the backup goes away with the restore; the clinic as it was
    # is kept first.
    db = connect(clinic_file, KEY)
    add_named_patient(db, "Bea", "After")
    db.close()
    assert patients(clinic_file) == 2
    restored = backup(tmp_path, "restore", str(copy), "--db", str(clinic_file), env=AS_OWNER)
    assert restored.returncode == 0, restored.stderr
    assert f"Restored {copy.name}" in restored.stdout
    assert "the clinic as it was is kept as" in restored.stdout
    assert patients(clinic_file) == 1


def test_a_damaged_backup_fails_verify_and_restore_leaving_the_clinic_alone(clinic_file, tmp_path):
    made = backup(tmp_path, "now", "--db", str(clinic_file))
    path = Path(made.stdout.split(": ", 1)[1].splitlines()[0].strip())
    data = bytearray(path.read_bytes())
    data[6000] ^= 0x10
    path.write_bytes(bytes(data))

    checked = backup(tmp_path, "verify", str(path), "--db", str(clinic_file))
    assert checked.returncode == 1
    assert "failed its check" in checked.stderr and "SHA-256" in checked.stderr
    assert no_traceback(checked)

    before = clinic_file.read_bytes()
    restored = backup(tmp_path, "restore", str(path), "--db", str(clinic_file), env=AS_OWNER)
    assert restored.returncode == 1
    assert "nothing was restored" in restored.stderr
    assert clinic_file.read_bytes() == before


def test_restore_needs_the_owner(clinic, clinic_file, tmp_path):
    from app.services.clinic import staff
    from app.services.clinic.auth import login

    db = connect(clinic_file, KEY)
    owner = login(db, "owner", OWNER_PASSWORD)
    staff.create_staff(db, owner, "desk", "Desk", "receptionist", STAFF_PASSWORD)
    db.close()
    made = backup(tmp_path, "now", "--db", str(clinic_file))
    path = Path(made.stdout.split(": ", 1)[1].splitlines()[0].strip())

    as_desk = {"CAREDESK_USER": "desk", "CAREDESK_PASSWORD": STAFF_PASSWORD}
    refused = backup(tmp_path, "restore", str(path), "--db", str(clinic_file), env=as_desk)

    assert refused.returncode == 1 and "settings" in refused.stderr
    assert no_traceback(refused)


def test_restore_into_a_new_file_with_the_recovery_key(clinic, tmp_path):
    """The clinic's PC is gone: only the backup and the recovery kit are left."""
    from app.services.backups.archive import make_file_backup

    add_named_patient(clinic.db)
    (tmp_path / "usb").mkdir()
    path = make_file_backup(clinic.db, clinic.key, tmp_path / "usb", reason="manual")[0]
    target = tmp_path / "new-pc" / "clinic.caredesk"
    env = {"CAREDESK_RECOVERY_KEY": clinic.key.recovery_text()}

    result = backup(tmp_path, "restore", str(path), "--to", str(target), env=env, passphrase=None)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"into {target}.")
    assert patients(target, clinic.key) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["verify", "/no/such/backup.caredesk"], "there is no backup file at"),
        (["restore", "/no/such/backup.caredesk"], "there is no backup file at"),
        (["now", "--to", "/no/such/folder"], "there is no folder there"),
    ],
)
def test_bad_arguments_get_one_clear_line(clinic_file, tmp_path, args, words):
    result = backup(tmp_path, *args, "--db", str(clinic_file))
    assert result.returncode == 2
    assert words in result.stderr and no_traceback(result)


def test_a_wrong_recovery_key_and_a_taken_target_file(clinic_file, tmp_path):
    made = backup(tmp_path, "now", "--db", str(clinic_file))
    path = Path(made.stdout.split(": ", 1)[1].splitlines()[0].strip())
    wrong = {"CAREDESK_RECOVERY_KEY": DatabaseKey.generate().recovery_text()}
    checked = backup(tmp_path, "verify", str(path), env=wrong, passphrase=None)
    assert checked.returncode == 1 and "key does not open it" in checked.stderr

    # Anything that is not a raw key is taken for a passphrase: a typo is a key that does
    # not open it, said the same way.
    typo = backup(tmp_path, "verify", str(path), env={"CAREDESK_RECOVERY_KEY": "12"},
                  passphrase=None)  # fmt: skip
    assert typo.returncode == 1 and "key does not open it" in typo.stderr
    assert no_traceback(typo)

    existing = tmp_path / "taken.caredesk"
    existing.write_text("x")
    taken = backup(tmp_path, "restore", str(path), "--to", str(existing))
    assert taken.returncode == 2 and "already there" in taken.stderr
