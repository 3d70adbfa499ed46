"""A damaged clinic file is named for what it is — never sent looking for a key it already
has, never a traceback: each kind of damage, with the right key and with a wrong one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.data.database import backup_copy, connect
from app.data.errors import DatabaseDamagedError, DatabaseLockedError
from app.data.keys import DatabaseKey
from app.services.clinic.clinics import open_clinic

PASSPHRASE = "the clinic's own passphrase"
PAGE = 4096


@pytest.fixture
def clinic_file(clinic, tmp_path) -> Path:
    """The clinic as a closed file keyed with a passphrase (what a PC without a key store
    uses: the case where the key cannot come from where it was filed)."""
    path = tmp_path / "passphrase.caredesk"
    backup_copy(clinic.db, path, DatabaseKey(passphrase=PASSPHRASE))
    return path


def _damaged(path: Path, change) -> Path:
    out = path.with_name("damaged.caredesk")
    out.write_bytes(change(path.read_bytes()))
    return out


def _flip(at: int):
    return lambda data: data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


RIGHT = DatabaseKey(passphrase=PASSPHRASE)
WRONG = DatabaseKey(passphrase="not the clinic's passphrase")


def test_a_damaged_first_page_under_the_right_key_is_damage(clinic_file):
    damaged = _damaged(clinic_file, _flip(100))
    with pytest.raises(DatabaseDamagedError, match="its first page is damaged"):
        connect(damaged, RIGHT)
    with pytest.raises(DatabaseLockedError, match="not the right one"):
        connect(damaged, WRONG)  # a wrong key is still a wrong key


def test_a_file_cut_in_the_middle_of_a_page_is_damage_whatever_the_key(clinic_file):
    damaged = _damaged(clinic_file, lambda data: data[: len(data) // 2 + 100])
    for key in (RIGHT, WRONG):
        with pytest.raises(DatabaseDamagedError, match="cut short or added to"):
            connect(damaged, key)


def test_a_file_cut_at_a_page_boundary_names_missing_pages(clinic_file):
    damaged = _damaged(clinic_file, lambda data: data[: PAGE * 12])
    with pytest.raises(DatabaseDamagedError, match="pages of it are missing or broken"):
        connect(damaged, RIGHT)


def test_a_wrong_key_on_a_sound_file_is_a_wrong_key(clinic_file):
    with pytest.raises(DatabaseLockedError):
        connect(clinic_file, WRONG)
    connect(clinic_file, RIGHT).close()


def test_a_damaged_later_page_is_named_when_the_clinic_opens(clinic, tmp_path, memory_keyring):
    """The key from the key store; a byte flipped in page 2 (the schema's first tables)."""
    path, key = clinic.path, clinic.key
    clinic.db.close()
    copy = tmp_path / "copy.caredesk"
    shutil.copyfile(path, copy)
    copy.write_bytes(_flip(PAGE + 100)(copy.read_bytes()))
    with pytest.raises(DatabaseDamagedError, match="no longer matches what was written"):
        open_clinic(copy, key)
    # …while `db check` (as it is) reads on and names the broken page itself.
    from app.data.database import check_integrity

    checked = open_clinic(copy, key, as_is=True, remember=False)
    try:
        problems = check_integrity(checked.db).problems
    finally:
        checked.db.close()
    assert any("HMAC verification failed for page 2" in p for p in problems)
