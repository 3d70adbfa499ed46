"""Automatic backups: the settings, when one is due, one backup run, and the status every PC
shows ("Last verified backup: today 2:00 PM (USB disk)").

One run (:func:`back_up`) makes the backup once, into this PC's own backups folder, checks
it, then copies it to the owner's folder (read back and compared with its SHA-256) — or,
when this PC's disk cannot take it, writes it straight to the owner's folder.  Each place's
outcome is a row of ``backup_runs``, so a failure is shown on every PC, not only logged;
then each folder's rotation removes what it no longer keeps.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app import paths
from app.clock import utc_now
from app.data.database import Database
from app.data.keys import DatabaseKey
from app.data.models.backups import BackupOutcome, BackupRun, BackupSettings, BackupWhere
from app.data.models.clinic import ClinicSettings
from app.i18n import clinic_zone, format_datetime, format_time, to_clinic_time
from app.services.backups.archive import (
    ListedBackup,
    clinic_stem,
    list_backups,
    make_file_backup,
)
from app.services.backups.files import (
    PARTIAL_SUFFIX,
    BackupError,
    copy_file,
    describe_write_failure,
    folder_problem,
    free_bytes,
    fsync_dir,
    remove_quietly,
    write_atomically,
)
from app.services.backups.keeping import KeepPolicy, KeptBackup, backups_to_remove
from app.services.backups.manifest import Manifest, manifest_path
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, ValidationError

log = logging.getLogger(__name__)

#: A warning on Today when the newest good backup off this PC is older than this.
OFF_PC_WARNING_AFTER = timedelta(days=1)
#: A PC without the clinic server's backup key makes no backup of it (each PC would make a
#: key of its own, and one recovery kit would not open the others' backups).
NO_SERVER_KEY = (
    "No backup was made: this PC has no backup key for the clinic server. The server's "
    "backups are made on the PC chosen for them (Settings → Backups → Make the backups on "
    "this PC, or `caredesk backup now --new-key` there)."
)
#: "Nearly full": less free space than this many backups of the last one's size.
FREE_SPACE_BACKUPS = 3


@dataclass(frozen=True)
class BackupConfig:
    """Settings → Backups as a form, with the clinic's hours and zone it is judged by."""

    automatic: bool
    every_minutes: int
    opening_hours_only: bool
    folder: str
    folder_label: str
    keep_hourly: int
    keep_daily: int
    keep_weekly: int
    keep_monthly: int
    #: The version the form read (None: never saved), for the stale-form check.
    version: int | None = None
    timezone: str = "UTC"
    opens_at_minute: int = 8 * 60
    closes_at_minute: int = 18 * 60

    @property
    def policy(self) -> KeepPolicy:
        return KeepPolicy(self.keep_hourly, self.keep_daily, self.keep_weekly, self.keep_monthly)

    @property
    def folder_name(self) -> str:
        """What people call the owner's folder: its label, else the folder itself."""
        return self.folder_label or self.folder


_ROW_FIELDS = (
    "automatic",
    "every_minutes",
    "opening_hours_only",
    "folder",
    "folder_label",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
)


def _defaults() -> dict[str, object]:
    columns = BackupSettings.__table__.columns
    return {name: columns[name].default.arg for name in _ROW_FIELDS}


def current_backup_config(session) -> BackupConfig:
    row = session.get(BackupSettings, 1)
    clinic = session.get(ClinicSettings, 1)
    values = _defaults() if row is None else {name: getattr(row, name) for name in _ROW_FIELDS}
    return BackupConfig(
        **values,  # type: ignore[arg-type]
        version=None if row is None else row.version,
        timezone=clinic.timezone if clinic is not None else "UTC",
        opens_at_minute=clinic.opens_at_minute if clinic is not None else 8 * 60,
        closes_at_minute=clinic.closes_at_minute if clinic is not None else 18 * 60,
    )


def backup_config(db: Database, actor: Actor | None) -> BackupConfig:
    """The backup settings (any signed-in staff may read them: Today shows their status)."""
    with reading(db, actor) as session:
        return current_backup_config(session)


def validate_backup_form(form: BackupConfig) -> BackupConfig:
    """The form as it will be saved, or a ValidationError naming the field."""
    folder = form.folder.strip()
    if folder:
        path = Path(folder).expanduser()
        if not path.is_absolute():
            raise ValidationError(
                "Choose the backup folder with Browse…, or type its full path "
                "(like E:\\CareDesk backups or /media/usb/backups).",
                field="folder",
            )
        problem = folder_problem(path)
        if problem is not None:
            raise ValidationError(problem[0].upper() + problem[1:] + ".", field="folder")
        folder = str(path)
    if not 15 <= form.every_minutes <= 1440:
        raise ValidationError(
            "Back up every 15 minutes at the most and once a day at the least.",
            field="every_minutes",
        )
    if form.keep_hourly < 1:
        raise ValidationError("Keep at least the newest backup.", field="keep_hourly")
    for name in ("keep_daily", "keep_weekly", "keep_monthly"):
        if not 0 <= getattr(form, name) <= 1000:
            raise ValidationError("Keep between 0 and 1,000 backups of each kind.", field=name)
    if len(form.folder_label.strip()) > 60:
        raise ValidationError("Name the folder in 60 characters or fewer.", field="folder_label")
    return replace(form, folder=folder, folder_label=form.folder_label.strip())


def save_backup_settings(db: Database, actor: Actor, form: BackupConfig) -> BackupConfig:
    """Save Settings → Backups (owner); a form read before someone else's save is refused."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    cleaned = validate_backup_form(form)
    with unit_of_work(db, actor) as session:
        row = session.get(BackupSettings, 1)
        if (row.version if row is not None else None) != form.version:
            raise ConcurrentEditError("The backup settings")
        if row is None:
            row = BackupSettings(id=1)
            session.add(row)
        assign_changed(row, {name: getattr(cleaned, name) for name in _ROW_FIELDS})
        session.flush()
        return current_backup_config(session)


# --- when -------------------------------------------------------------------------------------


def in_opening_hours(config: BackupConfig, now: datetime) -> bool:
    local = to_clinic_time(now, config.timezone)
    minute = local.hour * 60 + local.minute
    return config.opens_at_minute <= minute < config.closes_at_minute


def is_due(config: BackupConfig, last_automatic_at: datetime | None, now: datetime) -> bool:
    """Whether an automatic backup is due now: on, in the clinic's hours (when asked), and
    ``every_minutes`` since the last one this clinic made anywhere."""
    if not config.automatic:
        return False
    if config.opening_hours_only and not in_opening_hours(config, now):
        return False
    if last_automatic_at is None:
        return True
    return now - last_automatic_at >= timedelta(minutes=config.every_minutes)


def last_run_at(db: Database) -> datetime | None:
    """When the last backup run (any reason, any place, good or not) finished."""
    with db.uow() as session:
        return session.scalar(select(BackupRun.finished_at).order_by(BackupRun.id.desc()).limit(1))


# --- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOutcome:
    """How one place's backup went."""

    place: str
    folder: Path
    label: str
    ok: bool
    backup: Path | None = None
    message: str = ""
    removed: int = 0


@dataclass(frozen=True)
class BackupReport:
    reason: str
    places: tuple[PlaceOutcome, ...]
    manifest: Manifest | None

    @property
    def ok(self) -> bool:
        return bool(self.places) and all(p.ok for p in self.places)

    def summary(self) -> str:
        """One line: where the backup went and whether each checked out."""
        parts = []
        for place in self.places:
            if place.ok:
                parts.append(f"verified in {place.label} ({place.backup})")
            else:
                parts.append(f"FAILED in {place.label}: {place.message}")
        return "Backup " + "; ".join(parts) if parts else "No backup was made."


def local_folder() -> Path:
    """This PC's own backups folder (beside the other clinic data)."""
    return paths.backups_dir()


def back_up(
    db: Database,
    key: DatabaseKey | None,
    actor: Actor | None,
    *,
    reason: str,
    now: datetime | None = None,
    to: Path | None = None,
    local: Path | None = None,
) -> BackupReport:
    """Make one backup: into this PC's folder and the owner's (or ``to``), each checked;
    record each place's outcome; remove what each folder's rotation no longer keeps.
    Never raises for a failed backup: the report (and ``backup_runs``) says what failed."""
    started = utc_now()
    made_at = now or started
    config = backup_config(db, actor)
    local = local or local_folder()
    local.mkdir(parents=True, exist_ok=True)
    off_pc = to if to is not None else (Path(config.folder) if config.folder else None)
    label = ("the chosen folder" if to is not None else config.folder_name) or ""
    places: list[PlaceOutcome] = []
    made: tuple[Path, Manifest] | None = None
    try:
        made = _make(db, key, local, reason, made_at)
        places.append(PlaceOutcome(BackupWhere.LOCAL, local, "this PC", True, made[0]))
    except BackupError as exc:
        places.append(PlaceOutcome(BackupWhere.LOCAL, local, "this PC", False, message=str(exc)))
    if off_pc is not None:
        try:
            if made is not None:
                copied = _copy_to(made[0], made[1], off_pc)
                places.append(PlaceOutcome(BackupWhere.FOLDER, off_pc, label, True, copied))
            else:  # this PC's disk failed it: the owner's folder may still take one
                other = _make(db, key, off_pc, reason, made_at)
                made = other
                places.append(PlaceOutcome(BackupWhere.FOLDER, off_pc, label, True, other[0]))
        except BackupError as exc:
            places.append(PlaceOutcome(BackupWhere.FOLDER, off_pc, label, False, message=str(exc)))
    manifest = made[1] if made is not None else None
    places = [_rotate(db, p, config) for p in places]
    _record(db, actor, reason, started, places, manifest, label)
    report = BackupReport(reason, tuple(places), manifest)
    log.info("backup (%s): %s", reason, "verified" if report.ok else "failed somewhere")
    return report


def _make(
    db: Database, key: DatabaseKey | None, folder: Path, reason: str, made_at: datetime
) -> tuple[Path, Manifest]:
    if db.is_server:
        from app.services.backups.server_dump import make_server_backup, server_backup_key

        server_key = key or server_backup_key(db, create=False)
        if server_key is None:
            raise BackupError(NO_SERVER_KEY)
        return make_server_backup(db, server_key, folder, reason=reason, now=made_at)
    if key is None:
        raise BackupError("No backup was made: the clinic's key is not at hand on this PC.")
    return make_file_backup(db, key, folder, reason=reason, now=made_at)


def _copy_to(backup: Path, manifest: Manifest, folder: Path) -> Path:
    """The checked backup copied into ``folder``, read back and compared, then named."""
    problem = folder_problem(folder)
    if problem is not None:
        raise BackupError(problem[0].upper() + problem[1:] + ".")
    target = folder / backup.name
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    remove_quietly(partial)
    try:
        digest = copy_file(backup, partial)
        if digest != manifest.sha256:
            raise BackupError(
                f"The copy in {folder} did not read back as it was written (its SHA-256 "
                "differs): the disk may be failing. It was not kept."
            )
        write_atomically(manifest_path(target), manifest.to_json().encode("utf-8"))
        os.replace(partial, target)
        fsync_dir(folder)
    except OSError as exc:
        remove_quietly(partial)
        raise BackupError(
            "The backup could not be copied: " + describe_write_failure(exc, folder) + "."
        ) from None
    except BaseException:
        remove_quietly(partial)
        raise
    return target


def _rotate(db: Database, place: PlaceOutcome, config: BackupConfig) -> PlaceOutcome:
    """Remove the backups this folder's rotation no longer keeps (only after a good one)."""
    if not place.ok:
        return place
    mine = [
        KeptBackup(b.path, b.manifest.made_at, b.manifest.reason)
        for b in list_backups(place.folder, stem=clinic_stem(db))
        if b.manifest is not None
    ]
    removed = 0
    for path in backups_to_remove(mine, config.policy, clinic_zone(config.timezone)):
        remove_quietly(path, manifest_path(path))
        removed += 1
    return replace(place, removed=removed)


def _record(
    db: Database,
    actor: Actor | None,
    reason: str,
    started: datetime,
    places: list[PlaceOutcome],
    manifest: Manifest | None,
    label: str,
) -> None:
    finished = utc_now()
    computer = _this_computer()
    try:
        with unit_of_work(db, actor) as session:
            for place in places:
                session.add(
                    BackupRun(
                        started_at=started,
                        finished_at=finished,
                        reason=reason[:20],
                        place=place.place,
                        folder=str(place.folder),
                        folder_label=(label if place.place == BackupWhere.FOLDER else "")[:60],
                        file_name=place.backup.name if place.backup else "",
                        size_bytes=(manifest.size or 0) if place.ok and manifest else 0,
                        sha256=(manifest.sha256 or "") if place.ok and manifest else "",
                        outcome=(
                            BackupOutcome.VERIFIED if place.ok else BackupOutcome.FAILED
                        ).value,
                        message=place.message,
                        computer=computer,
                    )
                )
    except Exception:  # the backups were made; a database that cannot say so is logged
        log.exception("the backup run could not be recorded")


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    finished_at: datetime
    place: str
    where: str
    ok: bool
    file_name: str
    size_bytes: int
    message: str
    reason: str


@dataclass(frozen=True)
class BackupStatus:
    """What Today and Settings → Backups say about backups."""

    config: BackupConfig
    last_verified: RunView | None
    last_verified_off_pc: RunView | None
    #: The newest run, when it failed (a failure after the last good one is shown).
    last_failed: RunView | None
    #: Each a sentence; empty: nothing needs the owner.
    warnings: tuple[str, ...]

    def headline(self, now: datetime, locale: str = "en_US") -> str:
        """ "Last verified backup: today 2:00 PM (USB disk)"."""
        best = self.last_verified_off_pc or self.last_verified
        if best is None:
            return "No verified backup yet."
        when = describe_moment(best.finished_at, now, self.config.timezone, locale)
        return f"Last verified backup: {when} ({best.where})"


def describe_moment(at: datetime, now: datetime, timezone: str, locale: str = "en_US") -> str:
    """ "today 2:00 PM", "yesterday 6:05 PM", else the date and time."""
    day = to_clinic_time(at, timezone).date()
    today = to_clinic_time(now, timezone).date()
    time_text = format_time(at, timezone, locale)
    if day == today:
        return f"today {time_text}"
    if day == today - timedelta(days=1):
        return f"yesterday {time_text}"
    return format_datetime(at, timezone, locale)


def _this_computer() -> str:
    return socket.gethostname()[:100]


def _view(row: BackupRun) -> RunView:
    if row.place != BackupWhere.LOCAL:
        where = row.folder_label or row.folder
    elif row.computer and row.computer != _this_computer():
        where = row.computer  # (a clinic server's backups, made by the PC chosen for them)
    else:
        where = "this PC"
    return RunView(
        finished_at=row.finished_at,
        place=row.place,
        where=where,
        ok=row.outcome == BackupOutcome.VERIFIED,
        file_name=row.file_name,
        size_bytes=row.size_bytes,
        message=row.message,
        reason=row.reason,
    )


def backup_status(db: Database, actor: Actor | None, now: datetime | None = None) -> BackupStatus:
    """The newest good backup (here and off this PC), a failure since, and every warning:
    nothing off this PC for a day, the folder missing (USB disk unplugged), its disk nearly
    full, no folder chosen."""
    now = now or utc_now()
    with reading(db, actor) as session:
        config = current_backup_config(session)

        def newest(*conditions) -> RunView | None:
            row = session.scalars(
                select(BackupRun).where(*conditions).order_by(BackupRun.id.desc()).limit(1)
            ).first()
            return _view(row) if row is not None else None

        verified = BackupRun.outcome == BackupOutcome.VERIFIED.value
        last_verified = newest(verified)
        off_pc = newest(verified, BackupRun.place == BackupWhere.FOLDER.value)
        latest = newest()
    last_failed = latest if latest is not None and not latest.ok else None
    warnings: list[str] = []
    if last_failed is not None:
        warnings.append(f"The last backup failed ({last_failed.where}): {last_failed.message}")
    if not config.folder:
        warnings.append(
            "Backups are kept on this PC only: choose a backup folder on a USB disk, a "
            "network share or a synced cloud folder in Settings → Backups."
        )
    elif _makes_the_backups(db):
        folder = Path(config.folder)
        problem = folder_problem(folder)
        if problem is not None:
            warnings.append(problem[0].upper() + problem[1:] + ".")
        else:
            free = free_bytes(folder)
            size = (off_pc or last_verified).size_bytes if (off_pc or last_verified) else 0
            if free is not None and size and free < FREE_SPACE_BACKUPS * size:
                warnings.append(
                    f"The disk of the backup folder is nearly full: {free / 1e6:,.0f} MB "
                    f"free, and a backup takes {size / 1e6:,.0f} MB."
                )
    if config.folder and (off_pc is None or now - off_pc.finished_at > OFF_PC_WARNING_AFTER):
        since = (
            "There has been no backup off this PC yet"
            if off_pc is None
            else "The last backup off this PC is from "
            + describe_moment(off_pc.finished_at, now, config.timezone)
        )
        warnings.append(since + ": a failed disk or a stolen PC would lose more than a day.")
    if db.is_server and last_verified is None and not _makes_the_backups(db):
        warnings.append(
            "No PC backs the clinic server up yet: choose one in Settings → Backups (Make "
            "the backups on this PC)."
        )
    return BackupStatus(config, last_verified, off_pc, last_failed, tuple(warnings))


def backup_pc(db: Database, actor: Actor | None) -> str | None:
    """The computer that made the clinic's newest verified backup (for a clinic server: the
    PC holding the server backup key), or None when none has been made yet.  A failed run
    does not count: a PC without the key records one from ``caredesk backup now``."""
    with reading(db, actor) as session:
        computer = session.scalar(
            select(BackupRun.computer)
            .where(BackupRun.outcome == BackupOutcome.VERIFIED.value, BackupRun.computer != "")
            .order_by(BackupRun.id.desc())
            .limit(1)
        )
    return computer or None


def _makes_the_backups(db: Database) -> bool:
    """Whether this PC makes the clinic's backups (so its view of the folder counts): always
    for a file; for a clinic server, the PC holding the server backup key."""
    if not db.is_server:
        return True
    from app.services.backups.server_dump import server_backup_key

    return server_backup_key(db, create=False) is not None


def backups_of(db: Database, actor: Actor | None) -> list[tuple[str, ListedBackup]]:
    """Every backup of this clinic in this PC's folder and the owner's, newest first, each
    with where it is ("this PC" or the folder's name)."""
    config = backup_config(db, actor)
    stem = clinic_stem(db)
    found = [("this PC", b) for b in list_backups(local_folder(), stem=stem)]
    if config.folder and Path(config.folder).is_dir():
        found += [(config.folder_name, b) for b in list_backups(Path(config.folder), stem=stem)]
    found.sort(
        key=lambda item: item[1].made_at or datetime.min.replace(tzinfo=utc_now().tzinfo),
        reverse=True,
    )
    return found
