"""Creating and opening the encrypted clinic: keys, wrong keys, bad files, upgrades."""

import hashlib
from dataclasses import replace
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from sqlalchemy import text

from app.data import keys, migrate
from app.data.database import create_empty, is_network_path
from app.data.keys import DatabaseKey, parse_recovery_input
from app.services.clinic import clinics as clinic_service
from app.services.clinic.clinics import create_clinic, open_clinic
from app.services.errors import (
    DatabaseDamagedError,
    DatabaseExistsError,
    DatabaseLockedError,
    DatabaseMissingError,
    KeyRequiredError,
    NetworkShareError,
    NotACareDeskDatabaseError,
    ValidationError,
    WeakPasswordError,
)
from tests.conftest import OWNER_PASSWORD


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture
def clinic(created_clinic):
    """These tests are about creating a clinic: theirs is made by ``create_clinic`` itself,
    not copied from the session's template."""
    return created_clinic


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_new_clinic_key_lives_in_the_keyring(clinic, memory_keyring):
    db_id = keys.database_id(clinic.path)
    assert len(db_id) == 32
    stored = memory_keyring.entries[("caredesk", db_id)]
    assert bytes.fromhex(stored) == clinic.key.raw
    assert clinic.key_in_keyring
    clinic.db.close()
    reopened = open_clinic(clinic.path)
    assert clinic_service.get_details(reopened.db).name == "Bayside Dental"
    reopened.db.close()


def test_clinic_file_holds_no_plaintext(clinic):
    clinic.db.close()
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(clinic.path) + suffix)
        if part.exists():
            data = part.read_bytes()
            assert b"Bayside" not in data and b"Olivia" not in data and b"CREATE TABLE" not in data


def test_wrong_key_leaves_every_file_byte_identical(clinic):
    clinic.db.close()
    before = _fingerprint(clinic.path.parent)
    with pytest.raises(DatabaseLockedError, match="could not be unlocked"):
        open_clinic(clinic.path, DatabaseKey.generate())
    with pytest.raises(DatabaseLockedError):
        open_clinic(clinic.path, DatabaseKey(passphrase="not the passphrase at all"))
    assert _fingerprint(clinic.path.parent) == before


def test_missing_keyring_entry_asks_for_the_recovery_key(clinic, memory_keyring):
    clinic.db.close()
    recovery = clinic.key.recovery_text()
    memory_keyring.entries.clear()
    with pytest.raises(KeyRequiredError, match="recovery key") as raised:
        open_clinic(clinic.path)
    assert not raised.value.keyring_missing
    # Typed with different grouping and case, as people do.
    typed = recovery.lower().replace(" ", "-")
    reopened = open_clinic(clinic.path, parse_recovery_input(typed))
    reopened.db.close()
    assert reopened.key_in_keyring, "the recovered key goes back into the keyring"
    open_clinic(clinic.path).db.close()


def test_without_a_keyring_the_clinic_uses_a_passphrase(
    tmp_path, clinic_details, no_keyring, monkeypatch
):
    path = tmp_path / "clinic.caredesk"
    with pytest.raises(ValidationError, match="no key store") as raised:
        create_clinic(path, clinic_details, "owner", "Olivia Owner", OWNER_PASSWORD)
    assert raised.value.field == "passphrase"
    assert not path.exists()
    opened = create_clinic(
        path,
        clinic_details,
        "owner",
        "Olivia Owner",
        OWNER_PASSWORD,
        passphrase="it's a 'quoted' passphrase",
    )
    opened.db.close()
    with pytest.raises(KeyRequiredError) as raised:
        open_clinic(path)
    assert raised.value.keyring_missing
    monkeypatch.setenv("CAREDESK_PASSPHRASE", "it's a 'quoted' passphrase")
    open_clinic(path).db.close()
    monkeypatch.setenv("CAREDESK_PASSPHRASE", "it's a wrong passphrase")
    with pytest.raises(DatabaseLockedError):
        open_clinic(path)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"SQLite format 3\x00" + b"\x00" * 8000, "unencrypted SQLite file"),
        (b"hello, I am a shopping list\n", "too small"),
    ],
)
def test_files_that_are_not_clinic_databases(tmp_path, content, message):
    path = tmp_path / "other.caredesk"
    path.write_bytes(content)
    with pytest.raises(NotACareDeskDatabaseError, match=message):
        open_clinic(path, DatabaseKey.generate())
    assert path.read_bytes() == content


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(NotACareDeskDatabaseError, match="folder"):
        open_clinic(tmp_path, DatabaseKey.generate())
    with pytest.raises(DatabaseMissingError, match="no clinic database"):
        open_clinic(tmp_path / "nope.caredesk", DatabaseKey.generate())


def test_an_encrypted_database_that_is_not_a_clinic(tmp_path):
    key = DatabaseKey.generate()
    other = create_empty(tmp_path / "other.caredesk", key)
    with other.uow() as s:
        s.execute(text("CREATE TABLE recipes (name TEXT)"))
    other.close()
    with pytest.raises(NotACareDeskDatabaseError, match="holds no CareDesk clinic"):
        open_clinic(tmp_path / "other.caredesk", key)


def test_damaged_first_page_is_reported_as_damage_not_a_wrong_key(clinic):
    clinic.db.close()
    data = bytearray(clinic.path.read_bytes())
    data[100:110] = b"\xff" * 10
    clinic.path.write_bytes(bytes(data))
    with pytest.raises(DatabaseDamagedError, match="damaged"):
        open_clinic(clinic.path)


def test_existing_file_is_never_overwritten(clinic, clinic_details):
    with pytest.raises(DatabaseExistsError):
        create_clinic(clinic.path, clinic_details, "owner2", "Other Owner", OWNER_PASSWORD)


def test_weak_owner_password_leaves_nothing_behind(tmp_path, clinic_details, memory_keyring):
    path = tmp_path / "clinic.caredesk"
    with pytest.raises(WeakPasswordError, match="at least 12"):
        create_clinic(path, clinic_details, "owner", "Olivia Owner", "short")
    with pytest.raises(WeakPasswordError, match="most common"):
        create_clinic(path, clinic_details, "owner", "Olivia Owner", "password123456")
    assert list(tmp_path.iterdir()) == []
    assert memory_keyring.entries == {}


@pytest.mark.parametrize(
    "change,field",
    [
        ({"name": "   "}, "name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "America"}, "timezone"),
        ({"locale": "xx_YY"}, "locale"),
        ({"currency": "DOUBLOONS"}, "currency"),
        ({"phone": "12"}, "phone"),
        ({"email": "desk@"}, "email"),
        ({"paper_size": "legal"}, "paper_size"),
        ({"idle_lock_minutes": 0}, "idle_lock_minutes"),
    ],
)
def test_bad_clinic_details_name_their_field(clinic_details, change, field):
    with pytest.raises(ValidationError) as raised:
        clinic_service.validate_details(replace(clinic_details, **change))
    assert raised.value.field == field


def test_details_are_tidied(clinic_details):
    tidy = clinic_service.validate_details(
        replace(clinic_details, name="  Bayside   Dental ", phone="207 555 0142", currency="usd")
    )
    assert (tidy.name, tidy.phone, tidy.currency) == ("Bayside Dental", "(207) 555-0142", "USD")


def test_owner_updates_details_others_cannot(clinic, owner, make_staff):
    from app.services.errors import PermissionDeniedError

    details = clinic_service.get_details(clinic.db)
    clinic_service.update_details(clinic.db, owner, replace(details, idle_lock_minutes=5))
    assert clinic_service.get_details(clinic.db).idle_lock_minutes == 5
    rita = make_staff("rita", "receptionist")
    with pytest.raises(PermissionDeniedError):
        clinic_service.update_details(clinic.db, rita, details)


def test_network_share_is_refused(tmp_path):
    mounts = tmp_path / "mounts"
    share = tmp_path / "share"
    share.mkdir()
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/clinic {share} nfs4 rw 0 0\n")
    assert is_network_path(share / "clinic.caredesk", mounts)
    assert not is_network_path(tmp_path / "clinic.caredesk", mounts)


def test_network_share_error_message():
    assert "network share" in str(NetworkShareError("//server/clinic.caredesk"))


def test_older_database_is_backed_up_then_upgraded(tmp_path, memory_keyring, user_data_dir):
    key = DatabaseKey.generate()
    path = tmp_path / "old.caredesk"
    db = create_empty(path, key)
    migrate.upgrade(db, "0001")
    db.close()
    keys.store_key(keys.database_id(path), key)

    opened = open_clinic(path)
    assert migrate.current_revision(opened.db) == migrate.head_revision()
    backup = opened.backup_before_upgrade
    assert backup is not None and backup.parent == user_data_dir / "backups"
    opened.db.close()
    from app.data.database import connect

    copy = connect(backup, key)
    assert migrate.current_revision(copy) == "0001"
    copy.close()
    assert keys.load_key(keys.database_id(backup)) == key


@pytest.mark.parametrize(
    "typed,is_raw",
    [
        ("A1B2 C3D4 " * 8, True),
        ("a1b2-c3d4-" * 8, True),
        ("a1b2c3d4" * 8 + "\n", True),
        ("correct horse battery staple", False),
        ("A1B2 C3D4", False),
    ],
)
def test_recovery_input_parsing(typed, is_raw):
    key = parse_recovery_input(typed)
    assert (key.raw is not None) is is_raw


def test_keys_never_show_in_repr():
    key = DatabaseKey.generate()
    assert key.raw.hex() not in repr(key)
    assert "hidden" in repr(DatabaseKey(passphrase="secret phrase here"))


def test_a_new_clinic_has_the_starter_consent_forms_from_day_one(clinic):
    from sqlalchemy import func, select

    from app.data.models.audit import AuditEntry
    from app.data.models.documents import ConsentTemplate, ConsentVersion
    from app.services.patients import consents

    starter_keys = [key for key, _wordings in consents.starter_consents()]
    assert len(starter_keys) == 5
    with clinic.db.uow() as session:
        keys_now = session.scalars(select(ConsentTemplate.key).order_by(ConsentTemplate.id))
        assert list(keys_now) == starter_keys
        languages = session.execute(
            select(ConsentVersion.language, func.count()).group_by(ConsentVersion.language)
        ).all()
        assert dict(languages) == {"en": 5, "es": 5}
        # Written by the set-up itself, in the same transaction that created the clinic.
        created = session.scalars(
            select(AuditEntry.entity).where(AuditEntry.action == "create")
        ).all()
        assert created.count("consent_templates") == 5
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "clinic_created")) == 1  # fmt: skip
    # Idempotent: installing again adds nothing.
    assert consents.install_starter_consents(clinic.db, None) == 0
    with clinic.db.uow() as session:
        assert session.scalar(select(func.count()).select_from(ConsentTemplate)) == 5
