"""kill -9 during a restore: the backup restored and the database it replaces are intact.

A worker process (forked by ``python -m tests.crash_writer``, tests/crash_writer.py) restores
a backup of a clinic of a few thousand patients over the clinic — which has more patients
since — as CareDesk restores one (restore.restore_file_backup, the clinic closed, the
"before restore" backup kept in the folder that holds the backup), and is stopped at one
point of the restore and killed there with SIGKILL: while the database as it was is being
kept (its backup half written), once it is kept, while the backup is being copied beside
the database (``.restoring`` half written), once that copy is whole, while and once the
restore is noted in the copy's audit trail, and just before and just after the copy is
renamed over the database.

Afterwards the backup is byte for byte as it was and checks out; the clinic opens, is
whole, its audit trail verifies, and it is either the clinic as it was or the backup —
never a mix, never missing; every backup in the folder checks out (a "before restore" backup
is there whole, or not there at all), and one of them holds the clinic as it was once it
may have been replaced.  The same restore run again succeeds, leaves nothing half-written
behind, and the clinic is then the backup.

The same holds for a clinic left by a crash (its last writes only in the write-ahead log),
which is what a clinic often restores because of.  And a clinic file that no longer opens is
kept byte for byte: a kill while that copy is written must leave nothing part-written under a
backup's name (an expected failure today: see its reason).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import keyring
import pytest
from sqlalchemy import insert, select

from app.data.database import check_integrity, open_read_only
from app.data.keys import DatabaseKey, MemoryKeyring
from app.data.models import Patient
from app.services.backups.archive import make_file_backup, verify_backup
from app.services.backups.files import PARTIAL_SUFFIX, is_backup_file, sha256_of
from app.services.backups.manifest import manifest_path, read_manifest
from app.services.backups.restore import RESTORING_SUFFIX, restore_file_backup
from app.services.clinic import auth
from app.services.clinic.audit_log import verify_chain
from app.services.clinic.clinics import ClinicDetails, open_clinic
from app.services.patients.records import PatientForm, create_patient
from tests.conftest import OWNER_PASSWORD
from tests.crash_writer import Forker, Worker

#: Patients seeded straight into the tables (fast), and added through the service (audited),
#: before the backup; and added after it (the clinic as it is when it is restored).
SEEDED_PATIENTS = 3_000
AUDITED_PATIENTS = 20
ADDED_AFTER_BACKUP = 5
BACKED_UP_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESTORED_AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
BY = "Olivia Owner"
#: Where the restore is stopped and killed (tests/crash_writer.py: _arm_restore), and which
#: clinic the file is then: the one as it was ("old") or the backup ("restored").
POINTS = (
    ("keeping", "old"),  # the "before restore" backup half written (its .partial)
    ("kept", "old"),  # the "before restore" backup has its name
    ("restoring-half", "old"),  # the backup's copy half written (.restoring)
    ("restoring-copied", "old"),  # that copy whole and flushed, not yet compared
    ("noting", "old"),  # the restore's audit row written into the copy, its commit under way
    ("noted", "old"),  # that row committed, its connection still open
    ("replacing", "old"),  # the old -wal/-shm removed, the noted copy about to be renamed
    ("renamed", "restored"),  # the copy renamed over the clinic, not yet flushed
)
#: A clinic left by a crash: a writer killed as it begins this write (those before it are on
#: file, the last ones only in the write-ahead log).
CRASHED_AT_WRITE = 4

DETAILS = ClinicDetails(
    name="Harbour Street Dental",
    timezone="America/New_York",
    locale="en_US",
    currency="USD",
)


@dataclass(frozen=True)
class Clinic:
    live: Path
    key: DatabaseKey
    #: The folder of the backup, where the restore keeps the database as it was too.
    keep: Path
    backup: Path
    backup_sha256: str
    manifest_bytes: bytes
    old_ids: frozenset[int]
    backup_ids: frozenset[int]
    owner: dict


def _seed(db, owner) -> None:
    moment = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    with db.uow() as session:
        session.execute(
            insert(Patient),
            [
                {
                    "chart_number": f"S{n:06d}",
                    "first_name": "Seeded",
                    "last_name": f"Patient {n}",
                    "date_of_birth": date(1950 + n % 60, 1 + n % 12, 1 + n % 28),
                    "medical_alerts": "Penicillin allergy; asthma, inhaler in bag. " * 2,
                    "journey_stage": "inquiry",
                    "journey_stage_since": moment,
                }
                for n in range(SEEDED_PATIENTS)
            ],
        )
    for n in range(AUDITED_PATIENTS):
        create_patient(db, owner, PatientForm(first_name="Audited", last_name=f"Patient {n}"))


def _patient_ids(db) -> frozenset[int]:
    with db.uow() as session:
        return frozenset(session.scalars(select(Patient.id)))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, clinic_templates) -> Clinic:
    """A clinic of a few thousand patients, its backup, and a few patients added since;
    made once for the module, each test works on copies (``scene``)."""
    folder = tmp_path_factory.mktemp("seeded")
    previous = keyring.get_keyring()
    # A module's fixture runs before each test's own keyring and user-data folder exist.
    keyring.set_keyring(MemoryKeyring())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CAREDESK_DATA_DIR", str(folder / "userdata"))
            opened = clinic_templates.copy(
                folder / "clinic.caredesk", DETAILS, "owner", "Olivia Owner", OWNER_PASSWORD
            )
            try:
                owner = auth.login(opened.db, "owner", OWNER_PASSWORD)
                _seed(opened.db, owner)
                backup_ids = _patient_ids(opened.db)
                keep = folder / "backups"
                keep.mkdir()
                backup, _ = make_file_backup(
                    opened.db, opened.key, keep, reason="manual", now=BACKED_UP_AT
                )
                for n in range(ADDED_AFTER_BACKUP):
                    form = PatientForm(first_name="Added", last_name=f"After Backup {n}")
                    create_patient(opened.db, owner, form)
                old_ids = _patient_ids(opened.db)
            finally:
                opened.db.close()
    finally:
        keyring.set_keyring(previous)
    assert backup_ids < old_ids
    return Clinic(
        live=opened.path,
        key=opened.key,
        keep=keep,
        backup=backup,
        backup_sha256=sha256_of(backup),
        manifest_bytes=manifest_path(backup).read_bytes(),
        old_ids=old_ids,
        backup_ids=backup_ids,
        owner={
            "staff_id": owner.staff_id,
            "username": owner.username,
            "full_name": owner.full_name,
            "role": owner.role.value,
        },
    )


@pytest.fixture
def scene(seeded, tmp_path) -> Clinic:
    """The test's own copy of the clinic and of its backup folder."""
    live = tmp_path / "clinic" / seeded.live.name
    live.parent.mkdir()
    shutil.copyfile(seeded.live, live)
    keep = shutil.copytree(seeded.keep, tmp_path / "backups")
    return replace(seeded, live=live, keep=keep, backup=keep / seeded.backup.name)


@pytest.fixture(scope="module")
def forker(seeded, tmp_path_factory):
    with Forker(seeded.key, tmp_path_factory.mktemp("forker")) as forker:
        yield forker


# --- what must hold after a kill, and after the restore is run again ---------------------


def _check_backup_untouched(scene: Clinic, *, verify: bool = True) -> None:
    """The backup chosen is byte for byte as it was, manifest and all, and checks out."""
    assert sha256_of(scene.backup) == scene.backup_sha256
    assert manifest_path(scene.backup).read_bytes() == scene.manifest_bytes
    if verify:
        verification = verify_backup(scene.backup, scene.key)
        assert verification.ok, verification.problems


def _live_clinic(scene: Clinic) -> tuple[frozenset[int], int]:
    """The clinic opens as CareDesk opens it, whole, its trail verified: its patients, and
    how many restores its trail notes."""
    assert scene.live.is_file(), sorted(p.name for p in scene.live.parent.iterdir())
    opened = open_clinic(scene.live, scene.key, remember=False)
    try:
        report = check_integrity(opened.db)
        assert report.ok, report.problems
        chain = verify_chain(opened.db)
        assert chain.ok, chain.problems
        with opened.db.engine.connect() as conn:
            notes = conn.exec_driver_sql(
                "SELECT count(*) FROM audit_log WHERE action = 'backup_restored'"
            ).scalar()
        return _patient_ids(opened.db), notes
    finally:
        opened.db.close()


def _kept_backups(scene: Clinic, checked: dict[Path, str]) -> list[Path]:
    """Every backup in the folder checks out (the chosen one is checked on its own; one in
    ``checked``, by path, only if its SHA-256 changed since): those the restore kept
    ("before restore").  ``checked`` is given every one checked."""
    named = sorted(p for p in scene.keep.iterdir() if is_backup_file(p))
    assert scene.backup in named
    kept = [p for p in named if p != scene.backup]
    for backup in kept:
        sha256 = sha256_of(backup)
        if checked.get(backup) != sha256:
            verification = verify_backup(backup, scene.key)
            assert verification.ok, (backup.name, verification.problems)
            checked[backup] = sha256
        assert read_manifest(backup).reason == "before restore", backup.name
    return kept


def _holds(backup: Path, key: DatabaseKey) -> frozenset[int]:
    db = open_read_only(backup, key)
    try:
        return _patient_ids(db)
    finally:
        db.close()


def _restore_again(scene: Clinic, old_ids: frozenset[int], checked: dict[Path, str]) -> None:
    """The same restore, run again to the end: the clinic is then the backup, nothing
    half-written is left, and the clinic as it was is kept in a checked backup."""
    result = restore_file_backup(
        scene.backup,
        scene.key,
        scene.live,
        live_key=scene.key,
        keep_folder=scene.keep,
        by=BY,
        now=RESTORED_AT,
    )
    assert result.restored == scene.live
    leftovers = [
        p.name
        for folder in (scene.live.parent, scene.keep)
        for p in folder.iterdir()
        if RESTORING_SUFFIX in p.name or PARTIAL_SUFFIX in p.name
    ]
    assert not leftovers, leftovers
    ids, notes = _live_clinic(scene)
    assert ids == scene.backup_ids
    assert notes == 1
    _check_backup_untouched(scene, verify=False)  # (the restore itself checked it)
    kept = _kept_backups(scene, checked)
    assert result.kept_before in kept
    assert old_ids in [_holds(backup, scene.key) for backup in kept]


def _kill_restore_at(forker: Forker, scene: Clinic, point: str) -> Worker:
    """A worker restores the backup over ``scene``'s clinic, stopped and killed at ``point``."""
    worker = forker.start(
        {
            "do": "restore",
            "backup": str(scene.backup),
            "live": str(scene.live),
            "keep_folder": str(scene.keep),
            "point": point,
            "by": BY,
            "now": RESTORED_AT.isoformat(),
        }
    )
    for line in forker.lines(worker):
        if line.startswith("at ") or line == "restored":
            break
    forker.kill(worker)
    assert worker.killed, worker.lines
    assert worker.lines[-1].split()[:2] == ["at", point], worker.lines
    return worker


def _kept_name(scene: Clinic) -> str:
    return f"{scene.live.stem}-{RESTORED_AT:%Y%m%d-%H%M%S}-before-restore.caredesk"


def _check_after_kill(
    scene: Clinic, point: str, clinic_is: str, old_ids, checked: dict[Path, str]
) -> None:
    restoring = scene.live.with_name(scene.live.name + RESTORING_SUFFIX)
    sizes = {
        p.name: p.stat().st_size for p in (*scene.live.parent.iterdir(), *scene.keep.iterdir())
    }
    _check_backup_untouched(scene)

    # The clinic is whole, and wholly one of the two.
    ids, notes = _live_clinic(scene)
    assert ids == (old_ids if clinic_is == "old" else scene.backup_ids), (len(ids), sizes)
    # The restore is noted in the copy before the rename: a restored clinic always says so.
    assert notes == (0 if clinic_is == "old" else 1)

    # Every backup checks out; the database as it was is kept whole once the point is past.
    kept = _kept_backups(scene, checked)
    if point == "keeping":
        assert kept == []
        partial = sizes[_kept_name(scene) + PARTIAL_SUFFIX]  # killed mid-way through it
        assert 0 < partial < sizes[scene.live.name], sizes
    else:
        assert [p.name for p in kept] == [_kept_name(scene)], sizes
        assert _holds(kept[0], scene.key) == old_ids

    # Where the copy of the backup was when the kill came.
    backup_size = scene.backup.stat().st_size
    if point == "restoring-half":
        assert 0 < sizes[restoring.name] < backup_size, sizes
    elif point == "restoring-copied":
        assert sizes[restoring.name] == backup_size, sizes
    elif point in ("noting", "noted", "replacing"):
        assert restoring.name in sizes, sizes  # (the note makes it differ from the backup)
    else:
        assert restoring.name not in sizes, sizes
    print(f"{point}: left {sizes}")


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(("point", "clinic_is"), POINTS)
def test_a_restore_killed_midway_loses_nothing(point, clinic_is, scene, forker) -> None:
    checked: dict[Path, str] = {}
    _kill_restore_at(forker, scene, point)
    _check_after_kill(scene, point, clinic_is, scene.old_ids, checked)
    _restore_again(scene, scene.old_ids, checked)


@pytest.mark.parametrize("point", ["keeping", "replacing"])
def test_a_clinic_left_by_a_crash_survives_a_restore_killed_midway(point, scene, forker) -> None:
    """The clinic's last writes are only in its write-ahead log (CareDesk was killed as it
    wrote); a restore killed before the rename — once the old -wal is removed, at the
    latest — leaves every one of them on file."""
    writer = forker.start(
        {"do": "write", "path": str(scene.live), "prefix": "crash", **scene.owner}
    )
    for line in forker.lines(writer):
        if line == f"begin {CRASHED_AT_WRITE}":
            break
    forker.kill(writer)
    assert writer.killed and len(writer.acks) == CRASHED_AT_WRITE - 1, writer.lines
    wal = Path(f"{scene.live}-wal")
    wal_size = wal.stat().st_size
    assert wal_size > 0
    # Read only: nothing is checkpointed, the writes stay in the log alone.
    on_file = _holds(scene.live, scene.key)
    assert wal.stat().st_size == wal_size
    assert scene.old_ids | set(writer.acks) <= on_file

    checked: dict[Path, str] = {}
    _kill_restore_at(forker, scene, point)
    _check_after_kill(scene, point, "old", on_file, checked)
    _restore_again(scene, on_file, checked)


#: A byte of the clinic file's first page (after its salt): the file no longer opens.
DAMAGED_BYTE = 100


def test_a_restore_killed_while_it_keeps_a_damaged_clinic_as_it_was(scene, forker) -> None:
    """A clinic that no longer opens is kept byte for byte before the restore; killed while
    that copy is written, the clinic is untouched and nothing part-written is under a
    backup's name; the restore run again keeps it whole and restores the backup."""
    data = bytearray(scene.live.read_bytes())
    data[DAMAGED_BYTE] ^= 0xFF
    scene.live.write_bytes(bytes(data))
    damaged = sha256_of(scene.live)

    _kill_restore_at(forker, scene, "keeping-as-it-was")
    _check_backup_untouched(scene)
    assert sha256_of(scene.live) == damaged
    named = [p for p in scene.keep.iterdir() if is_backup_file(p) and p != scene.backup]
    sizes = {p.name: p.stat().st_size for p in named}
    part_written = [p.name for p in named if sha256_of(p) != damaged]

    result = restore_file_backup(
        scene.backup,
        scene.key,
        scene.live,
        live_key=scene.key,
        keep_folder=scene.keep,
        by=BY,
        now=RESTORED_AT,
    )
    assert result.kept_before is not None and sha256_of(result.kept_before) == damaged
    assert not [p.name for p in scene.live.parent.iterdir() if RESTORING_SUFFIX in p.name]
    ids, notes = _live_clinic(scene)
    assert (ids, notes) == (scene.backup_ids, 1)
    _check_backup_untouched(scene, verify=False)

    # (Last: the restore run again rewrites the same name whole.)
    assert not part_written, f"part-written under a backup's name: {sizes}, {len(data):,} bytes"
