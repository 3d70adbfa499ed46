"""kill -9 during a backup, and a backup made while another PC writes.

A worker process (forked by ``python -m tests.crash_writer``, tests/crash_writer.py) backs a
clinic of a few thousand patients up into a folder that already holds a good backup, and is
stopped at one point of the backup and killed there with SIGKILL: while the copy is being
written (just begun, half written), once it is written and flushed, while it is checked,
while its manifest is written, once the manifest is there, once the copy has its name.
Afterwards the earlier backup still checks out, every file under a backup's name is whole
and checks out, the clinic itself is whole and opens with all its patients, and the next
backup into the folder — at the very same moment, so under the very name the killed one
wanted — is made, checks out and leaves nothing half-written behind.

And a backup made while another connection keeps adding patients checks out and holds the
clinic as it was at one moment.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import keyring
import pytest
from sqlalchemy import func, insert, select

from app.data import database
from app.data.database import check_integrity, connect, open_read_only
from app.data.keys import DatabaseKey, MemoryKeyring
from app.data.models import Patient
from app.data.models.audit import AuditEntry
from app.services.backups.archive import make_file_backup, verify_backup
from app.services.backups.files import PARTIAL_SUFFIX, is_backup_file
from app.services.backups.manifest import manifest_path
from app.services.clinic import auth
from app.services.clinic.audit_log import verify_chain
from app.services.clinic.clinics import ClinicDetails, open_clinic
from app.services.patients.records import PatientForm, create_patient
from tests.conftest import OWNER_PASSWORD
from tests.crash_writer import Forker

#: Patients seeded straight into the tables (fast), and added through the service (audited).
SEEDED_PATIENTS = 3_000
AUDITED_PATIENTS = 20
GOOD_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KILLED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NEXT_AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
#: Where the backup is stopped and killed (tests/crash_writer.py: _arm).
POINTS = (
    "export-begun",  # the copy's first pages are in its .partial
    "export-half",  # half of them are
    "copied",  # the copy is written and flushed, not yet checked
    "checking",  # the copy is open read-only for its check
    "manifest-partial",  # the manifest is being written beside it (.manifest.json.partial)
    "manifest-written",  # the manifest has its name, the copy not yet
    "renamed",  # the copy has its name, the folder is not yet flushed
)


DETAILS = ClinicDetails(
    name="Harbour Street Dental",
    timezone="America/New_York",
    locale="en_US",
    currency="USD",
)


@dataclass(frozen=True)
class Clinic:
    path: Path
    key: DatabaseKey
    backups: Path
    good: Path
    patients: int


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


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, clinic_templates) -> Clinic:
    """A clinic of a few thousand patients with one good backup in its backup folder, made
    once for the module; each test works on copies (``scene``)."""
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
                _seed(opened.db, auth.login(opened.db, "owner", OWNER_PASSWORD))
                with opened.db.uow() as session:
                    patients = session.scalar(select(func.count()).select_from(Patient))
                backups = folder / "backups"
                backups.mkdir()
                good, _ = make_file_backup(
                    opened.db, opened.key, backups, reason="automatic", now=GOOD_AT
                )
            finally:
                opened.db.close()
    finally:
        keyring.set_keyring(previous)
    return Clinic(folder / "clinic.caredesk", opened.key, backups, good, patients)


@pytest.fixture
def scene(seeded, tmp_path) -> Clinic:
    """The test's own copy of the seeded clinic and of its backup folder."""
    path = tmp_path / "clinic.caredesk"
    shutil.copyfile(seeded.path, path)
    backups = shutil.copytree(seeded.backups, tmp_path / "backups")
    return Clinic(path, seeded.key, backups, backups / seeded.good.name, seeded.patients)


@pytest.fixture(scope="module")
def forker(seeded, tmp_path_factory):
    with Forker(seeded.key, tmp_path_factory.mktemp("forker")) as forker:
        yield forker


def _check_live_clinic(scene: Clinic) -> None:
    """The clinic opens as CareDesk opens it, whole, with every patient and its trail."""
    opened = open_clinic(scene.path, scene.key, remember=False)
    try:
        report = check_integrity(opened.db)
        assert report.ok, report.problems
        chain = verify_chain(opened.db)
        assert chain.ok, chain.problems
        with opened.db.uow() as session:
            assert session.scalar(select(func.count()).select_from(Patient)) == scene.patients
    finally:
        opened.db.close()


@pytest.mark.parametrize("point", POINTS)
def test_a_backup_killed_midway_harms_nothing(point, scene, forker) -> None:
    _kill_at(forker, scene, point)
    left = {path.name: path.stat().st_size for path in scene.backups.iterdir()}

    # Whatever is under a backup's name is whole: the earlier backup, untouched, and the
    # killed one only if it was killed after its rename.
    named = sorted(p for p in scene.backups.iterdir() if is_backup_file(p))
    expected = {scene.good.name} | ({_killed_name(scene)} if point == "renamed" else set())
    assert {p.name for p in named} == expected, left
    for backup in named:
        verification = verify_backup(backup, scene.key)
        assert verification.ok, (backup.name, verification.problems)
    _check_live_clinic(scene)

    # The next backup, under the very name the killed one wanted, is made and checks out,
    # and sweeps away what the killed one left half-written.
    # (make_file_backup checks what it made, as verify_backup does, and raises if it fails.)
    made, manifest = _next_backup(scene, KILLED_AT)
    assert made.name != _killed_name(scene) or point != "renamed"
    assert manifest.rows["patients"] == scene.patients
    after = sorted(path.name for path in scene.backups.iterdir())
    assert not [name for name in after if PARTIAL_SUFFIX in name], after
    if point.startswith("export"):
        # The kill came while the copy was being written: it was there, part-written.
        partial = _killed_name(scene) + PARTIAL_SUFFIX
        assert 0 < left[partial] < manifest.size, left
    print(f"{point}: left {sorted(left)}; after the next backup {after}")


def _killed_name(scene: Clinic) -> str:
    return f"{scene.path.stem}-{KILLED_AT:%Y%m%d-%H%M%S}-automatic.caredesk"


def _next_backup(scene: Clinic, moment: datetime):
    db = connect(scene.path, scene.key)
    try:
        return make_file_backup(db, scene.key, scene.backups, reason="automatic", now=moment)
    finally:
        db.close()


def _kill_at(forker: Forker, scene: Clinic, point: str) -> None:
    """A worker backs ``scene`` up, stopped and killed at ``point``."""
    worker = forker.start(
        {
            "do": "backup",
            "path": str(scene.path),
            "folder": str(scene.backups),
            "point": point,
            "now": KILLED_AT.isoformat(),
        }
    )
    for line in forker.lines(worker):
        if line.startswith(("at ", "done ")):
            break
    forker.kill(worker)
    assert worker.killed, worker.lines
    assert worker.lines[-1].startswith(f"at {'export' if point.startswith('export') else point}")


@pytest.mark.parametrize(
    "point",
    [
        "export-half",
        "manifest-written",
    ],
)
def test_the_next_backup_leaves_nothing_of_a_killed_one(point, scene, forker) -> None:
    """An hour later (under another name), the next backup leaves the folder holding only
    backups and their manifests."""
    _kill_at(forker, scene, point)
    made, _ = _next_backup(scene, NEXT_AT)
    backups = {p.name for p in scene.backups.iterdir() if is_backup_file(p)}
    assert backups == {scene.good.name, made.name}
    expected = backups | {manifest_path(Path(name)).name for name in backups}
    assert sorted(p.name for p in scene.backups.iterdir()) == sorted(expected)


# --- another PC writes while the backup is made -------------------------------------------

#: Writes the other PC commits after the backup's moment, while the backup waits.
WRITES_DURING_BACKUP = 5
#: Never timing: how long a thread may take before the test calls it stuck.
STUCK_SECONDS = 60


class OtherWorkstation(threading.Thread):
    """Adds patients through the service on a connection of its own until told to stop."""

    def __init__(self, db, actor) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.actor = actor
        self.committed: list[int] = []
        self.failure: BaseException | None = None
        self.stop = threading.Event()
        self.wrote = threading.Condition()

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                form = PatientForm(first_name="Other", last_name=f"Workstation {n}")
                record = create_patient(self.db, self.actor, form)
                with self.wrote:
                    self.committed.append(record.id)
                    self.wrote.notify_all()
        except BaseException as exc:  # the test reports it
            self.failure = exc
            with self.wrote:
                self.wrote.notify_all()

    def wait_for(self, count: int) -> None:
        with self.wrote:
            assert self.wrote.wait_for(
                lambda: len(self.committed) >= count or self.failure is not None,
                timeout=STUCK_SECONDS,
            ), "the other workstation stopped writing"
        assert self.failure is None, self.failure


def test_a_backup_made_while_another_pc_writes_is_one_moment(scene, monkeypatch) -> None:
    """Another connection adds patients all through the backup; the backup checks out and
    holds the clinic as it was at one moment (its rows and its audit trail alike)."""
    opened = open_clinic(scene.path, scene.key, remember=False)
    try:
        _backup_while_another_pc_writes(opened.db, scene, monkeypatch)
    finally:
        opened.db.close()


def _backup_while_another_pc_writes(db, scene: Clinic, monkeypatch) -> None:
    other_db = connect(scene.path, scene.key)
    other = OtherWorkstation(other_db, auth.login(db, "owner", OWNER_PASSWORD))
    moments: dict[str, int] = {}
    original_audit_head = database._audit_head

    def audit_head_then_wait(conn):
        # The backup has its moment (its read transaction) and its row counts; the other PC
        # now commits more before the copy is written.
        head = original_audit_head(conn)
        moments["counted"] = len(other.committed)
        other.wait_for(moments["counted"] + WRITES_DURING_BACKUP)
        return head

    monkeypatch.setattr(database, "_audit_head", audit_head_then_wait)
    other.start()
    try:
        other.wait_for(3)
        moments["started"] = len(other.committed)
        made, manifest = make_file_backup(
            db, scene.key, scene.backups, reason="automatic", now=KILLED_AT
        )
        moments["made"] = len(other.committed)
    finally:
        other.stop.set()
        other.join(STUCK_SECONDS)
        other_db.close()
    assert not other.is_alive()
    assert other.failure is None, other.failure
    # It kept writing all along: after the backup's moment, while it was copied and checked.
    assert moments["made"] >= moments["counted"] + WRITES_DURING_BACKUP

    verification = verify_backup(made, scene.key)
    assert verification.ok, verification.problems
    backup = open_read_only(made, scene.key)
    try:
        with backup.uow() as session:
            ids = set(session.scalars(select(Patient.id)))
            audited = set(
                session.scalars(
                    select(AuditEntry.entity_id).where(
                        AuditEntry.entity == "patients", AuditEntry.action == "create"
                    )
                )
            )
            audit_rows = session.scalar(select(func.count()).select_from(AuditEntry))
    finally:
        backup.close()
    # One moment: the other PC's patients up to some write and none after it, each with its
    # audit row and no audit row of a later one; the manifest counts that same moment.
    theirs = [patient in ids for patient in other.committed]
    kept = theirs.count(True)
    assert theirs == [True] * kept + [False] * (len(theirs) - kept), theirs
    assert moments["started"] <= kept <= moments["counted"], (kept, moments)
    assert set(other.committed[:kept]) <= audited
    assert not set(other.committed[kept:]) & audited
    assert len(ids) == scene.patients + kept == manifest.rows["patients"]
    assert audit_rows == manifest.rows["audit_log"] == manifest.seal.rows

    # The live clinic has every one of the other PC's patients, and is whole.
    with db.uow() as session:
        live = set(session.scalars(select(Patient.id)))
    assert set(other.committed) <= live
    report = check_integrity(db)
    assert report.ok, report.problems
