"""Backups of the clinic's encrypted file: made, checked, copied off the PC, kept by the
rotation, shown in the status — and what a full disk, a read-only folder, a flipped byte or
a cut-short file do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.data.keys import DatabaseKey
from app.services.backups import archive, schedule
from app.services.backups.files import BackupError
from app.services.backups.manifest import manifest_path, read_manifest
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from tests.data.factories import add_named_patient

LAST = "Quillfeather-Nguyễn"
NEEDLES = [LAST.encode(), b"Quillfeather", "Nguyễn".encode()]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    local, usb = tmp_path / "local", tmp_path / "usb-disk"
    local.mkdir()
    usb.mkdir()
    return local, usb


def _use_folder(clinic, owner, folder: Path, label: str = "USB disk") -> schedule.BackupConfig:
    form = schedule.backup_config(clinic.db, owner)
    return schedule.save_backup_settings(
        clinic.db, owner, replace(form, folder=str(folder), folder_label=label)
    )


def _back_up(clinic, owner, folders, **kw) -> schedule.BackupReport:
    local, _ = folders
    return schedule.back_up(clinic.db, clinic.key, owner, reason=kw.pop("reason", "manual"),
                            local=local, **kw)  # fmt: skip


def test_a_backup_goes_to_this_pc_and_the_usb_disk_and_both_verify(clinic, owner, folders):
    add_named_patient(clinic.db, "Zoë", LAST)
    _use_folder(clinic, owner, folders[1])

    report = _back_up(clinic, owner, folders)

    assert report.ok, report.summary()
    assert [p.place for p in report.places] == ["local", "folder"]
    for place in report.places:
        assert place.backup.parent == place.folder
        verification = archive.verify_backup(place.backup, clinic.key)
        assert verification.ok, verification.problems
        assert verification.manifest.rows["patients"] == 1
    assert report.places[0].backup.read_bytes() == report.places[1].backup.read_bytes()
    assert "verified in this PC" in report.summary() and "USB disk" in report.summary()


def test_the_manifest_says_what_the_backup_holds(clinic, owner, folders):
    add_named_patient(clinic.db)
    report = _back_up(clinic, owner, folders)
    path = report.places[0].backup
    manifest = read_manifest(path)

    assert manifest.kind == "file" and manifest.reason == "manual"
    assert manifest.schema == "0012"
    assert manifest.clinic == "Bayside Dental"
    assert manifest.size == path.stat().st_size
    assert len(manifest.sha256) == 64
    assert manifest.rows["patients"] == 1 and manifest.rows["audit_log"] == manifest.seal.rows
    assert manifest.seal.reason == "backup"
    # The manifest doubles as a seal for `caredesk audit verify --seal`.
    from app.services.clinic.audit_seals import read_seals

    seals, notes = read_seals(manifest_path(path))
    assert seals == [manifest.seal] and not notes


def test_no_patient_name_in_any_backup_or_left_over_file(clinic, owner, folders):
    add_named_patient(clinic.db, "Zoë", LAST)
    _use_folder(clinic, owner, folders[1])
    assert _back_up(clinic, owner, folders).ok
    files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".caredesk" for p in files)
    leaks = [f"{p.name}: {n!r}" for p in files for n in NEEDLES if n in p.read_bytes()]
    assert leaks == []
    assert not [p for p in files if p.name.endswith(".partial")]


def test_a_flipped_byte_fails_the_check_and_says_so(clinic, owner, folders):
    path = _back_up(clinic, owner, folders).places[0].backup
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    verification = archive.verify_backup(path, clinic.key)

    assert not verification.ok
    assert "SHA-256 differs" in verification.summary()
    assert "failed its check" in verification.summary()


def test_a_cut_short_backup_fails_the_check_and_says_so(clinic, owner, folders):
    path = _back_up(clinic, owner, folders).places[0].backup
    path.write_bytes(path.read_bytes()[:-5000])

    problems = " ".join(archive.verify_backup(path, clinic.key).problems)

    assert "cut short" in problems


def test_a_backup_without_its_manifest_or_with_another_key(clinic, owner, folders):
    path = _back_up(clinic, owner, folders).places[0].backup
    other_key = DatabaseKey.generate()
    assert "the key does not open it" in " ".join(archive.verify_backup(path, other_key).problems)
    manifest_path(path).unlink()
    assert archive.verify_backup(path, clinic.key).problems == (
        f"its manifest ({path.name}.manifest.json) is missing",
    )
    assert (
        "no backup file" in archive.verify_backup(path.with_name("nope.caredesk"), None).problems[0]
    )


def test_a_backup_whose_rows_do_not_match_the_manifest_fails(clinic, owner, folders):
    path = _back_up(clinic, owner, folders).places[0].backup
    manifest = read_manifest(path)
    edited = replace(manifest, rows={**manifest.rows, "patients": 7})
    manifest_path(path).write_text(edited.to_json(), encoding="utf-8")

    problems = archive.verify_backup(path, clinic.key).problems

    assert "patients holds 0 rows, the manifest says 7" in problems


def test_a_backup_whose_trail_was_rewritten_does_not_match_its_seal(clinic, owner, folders):
    path = _back_up(clinic, owner, folders).places[0].backup
    manifest = read_manifest(path)
    forged = replace(manifest, seal=replace(manifest.seal, last_hash="0" * 64))
    manifest_path(path).write_text(forged.to_json(), encoding="utf-8")

    problems = " ".join(archive.verify_backup(path, clinic.key).problems)

    assert "audit trail" in problems and "rewritten" in problems


def test_a_full_usb_disk_says_so_and_the_local_backup_still_is_made(
    clinic, owner, folders, small_disk
):
    _use_folder(clinic, owner, small_disk.path)

    report = _back_up(clinic, owner, folders)

    local, usb = report.places
    assert local.ok and not usb.ok
    assert "is full" in usb.message and str(small_disk.path) in usb.message
    assert [p.name for p in small_disk.path.iterdir()] == []  # nothing half-written left
    assert archive.verify_backup(local.backup, clinic.key).ok
    status = schedule.backup_status(clinic.db, owner)
    assert status.last_failed is not None and "is full" in status.warnings[0]
    # The live database is untouched: it still works and checks out.
    from app.data.database import check_integrity

    assert check_integrity(clinic.db).ok


def test_a_read_only_folder_says_so_and_the_next_backup_is_retried(
    clinic, owner, folders, small_disk, tmp_path
):
    _use_folder(clinic, owner, small_disk.path)
    small_disk.read_only()
    failed = _back_up(clinic, owner, folders)
    assert not failed.places[1].ok
    assert "read-only" in failed.places[1].message or "may not write" in failed.places[1].message

    small_disk.writable()
    # The retry goes where there is room: a tiny disk cannot take it, so give it a real one.
    _use_folder(clinic, owner, folders[1])
    retried = _back_up(clinic, owner, folders)
    assert retried.ok, retried.summary()
    assert schedule.backup_status(clinic.db, owner).last_failed is None


def test_a_missing_folder_fails_that_place_and_the_status_says_plug_it_in(clinic, owner, folders):
    _use_folder(clinic, owner, folders[1])
    folders[1].rmdir()  # the USB disk unplugged

    report = _back_up(clinic, owner, folders)

    assert report.places[0].ok and not report.places[1].ok
    status = schedule.backup_status(clinic.db, owner)
    assert any("plugged in" in w for w in status.warnings)
    assert status.headline(datetime.now(UTC)).startswith("Last verified backup: today")
    assert "(this PC)" in status.headline(datetime.now(UTC))


def test_status_warns_when_nothing_went_off_the_pc_for_a_day(clinic, owner, folders):
    _use_folder(clinic, owner, folders[1])
    assert _back_up(clinic, owner, folders).ok
    now = datetime.now(UTC)
    fresh = schedule.backup_status(clinic.db, owner, now)
    assert fresh.warnings == ()
    assert fresh.headline(now).endswith("(USB disk)")

    later = schedule.backup_status(clinic.db, owner, now + timedelta(days=1, minutes=1))
    assert any("more than a day" in w for w in later.warnings)
    assert "yesterday" in later.headline(now + timedelta(days=1, minutes=1))


def test_status_without_a_folder_asks_for_one(clinic, owner):
    status = schedule.backup_status(clinic.db, owner)
    assert status.last_verified is None
    assert status.headline(datetime.now(UTC)) == "No verified backup yet."
    assert any("choose a backup folder" in w for w in status.warnings)


def test_the_rotation_removes_only_what_it_no_longer_keeps(clinic, owner, folders):
    form = schedule.backup_config(clinic.db, owner)
    schedule.save_backup_settings(
        clinic.db, owner, replace(form, keep_hourly=2, keep_daily=1, keep_weekly=0, keep_monthly=0)
    )
    start = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    manual = _back_up(clinic, owner, folders, reason="manual", now=start - timedelta(days=3))
    for hour in range(4):
        _back_up(clinic, owner, folders, reason="automatic", now=start + timedelta(hours=hour))

    kept = archive.list_backups(folders[0], stem="clinic")

    assert [b.manifest.reason for b in kept] == ["automatic", "automatic", "manual"]
    assert manual.places[0].backup.exists()  # a hand-made backup is never rotated away
    assert all(manifest_path(b.path).exists() for b in kept)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"folder": "relative/folder"}, "folder", "full path"),
        ({"folder": "/no/such/usb"}, "folder", "is not there"),
        ({"every_minutes": 5}, "every_minutes", "15 minutes"),
        ({"every_minutes": 2000}, "every_minutes", "once a day"),
        ({"keep_hourly": 0}, "keep_hourly", "newest"),
        ({"keep_daily": -1}, "keep_daily", "between 0 and 1,000"),
        ({"folder_label": "x" * 61}, "folder_label", "60 characters"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence_and_nothing_changes(
    clinic, owner, change, field, words
):
    before = schedule.backup_config(clinic.db, owner)
    with pytest.raises(ValidationError) as caught:
        schedule.save_backup_settings(clinic.db, owner, replace(before, **change))
    assert caught.value.field == field and words in str(caught.value)
    assert schedule.backup_config(clinic.db, owner) == before


def test_a_file_as_folder_is_refused(clinic, owner, tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    form = schedule.backup_config(clinic.db, owner)
    with pytest.raises(ValidationError, match="is a file, not a folder"):
        schedule.save_backup_settings(clinic.db, owner, replace(form, folder=str(a_file)))


def test_only_the_owner_changes_backup_settings_and_a_stale_form_is_refused(
    clinic, owner, make_staff, folders
):
    desk = make_staff("desk", "receptionist")
    form = schedule.backup_config(clinic.db, desk)  # anyone may read them (Today's status)
    with pytest.raises(PermissionDeniedError):
        schedule.save_backup_settings(clinic.db, desk, form)
    schedule.save_backup_settings(clinic.db, owner, replace(form, every_minutes=30))
    with pytest.raises(ConcurrentEditError):
        schedule.save_backup_settings(clinic.db, owner, replace(form, every_minutes=45))
    assert schedule.backup_config(clinic.db, owner).every_minutes == 30


def _config(**kw) -> schedule.BackupConfig:
    base = schedule.BackupConfig(
        automatic=True, every_minutes=60, opening_hours_only=True, folder="", folder_label="",
        keep_hourly=24, keep_daily=14, keep_weekly=8, keep_monthly=12, timezone="America/New_York",
    )  # fmt: skip
    return replace(base, **kw)


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("config", "last", "now", "due"),
    [
        # 10:00 in New York is 15:00 UTC: open; an hour since the last one.
        (_config(), _utc(7, 14), _utc(7, 15), True),
        (_config(), _utc(7, 14, 30), _utc(7, 15), False),
        (_config(), None, _utc(7, 15), True),
        # 22:00 in New York: closed.
        (_config(), None, _utc(8, 3), False),
        (_config(opening_hours_only=False), None, _utc(8, 3), True),
        (_config(automatic=False), None, _utc(7, 15), False),
        (_config(every_minutes=15), _utc(7, 14, 45), _utc(7, 15), True),
    ],
)
def test_when_an_automatic_backup_is_due(config, last, now, due):
    assert schedule.is_due(config, last, now) is due


def test_a_backup_made_while_another_connection_writes_is_one_moment(clinic, owner, folders):
    """The copy is one read snapshot: rows written meanwhile are either all in or all out."""
    import threading

    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            add_named_patient(clinic.db)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reports = [_back_up(clinic, owner, folders) for _ in range(3)]
    finally:
        stop.set()
        writer.join()
    for report in reports:
        assert report.ok, report.summary()
        assert archive.verify_backup(report.places[0].backup, clinic.key).ok


def test_a_backup_into_a_folder_that_is_gone_raises_nothing_and_is_recorded(
    clinic, owner, tmp_path
):
    report = schedule.back_up(
        clinic.db, clinic.key, owner, reason="manual", local=tmp_path / "local",
        to=tmp_path / "gone",
    )  # fmt: skip
    assert report.places[0].ok and not report.places[1].ok
    with pytest.raises(BackupError, match="is not there"):
        archive.make_file_backup(clinic.db, clinic.key, tmp_path / "gone", reason="manual")


def test_a_backup_another_pc_made_is_named_by_that_pc(clinic, owner, folders):
    """On a clinic server the backups are made by one PC: the others name it, not 'this PC'."""
    from sqlalchemy import update

    from app.data.models.backups import BackupRun

    assert _back_up(clinic, owner, folders).ok
    with clinic.db.uow() as session:
        session.execute(update(BackupRun).values(computer="FRONT-DESK-2"))
    status = schedule.backup_status(clinic.db, owner)
    assert status.last_verified.where == "FRONT-DESK-2"
    assert status.headline(datetime.now(UTC)).endswith("(FRONT-DESK-2)")
