"""A backup as the lists and dialogs show it: plain values copied from its manifest on the
worker, and the words for them ("At sign-out", "12.4 MB")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: What each reason a backup was made for is called (the manifest's "reason").
REASON_LABELS = {
    "automatic": "Automatic",
    "sign-out": "At sign-out",
    "manual": "By hand",
    "before restore": "Before a restore",
    "before upgrade": "Before an upgrade",
}
#: The tables whose rows a person recognises, named beside a backup's row count.
NAMED_TABLES = (
    ("patients", "patients"),
    ("appointments", "appointments"),
    ("consultation_notes", "notes"),
    ("payments", "payments"),
)


@dataclass(frozen=True)
class BackupLine:
    """One backup file found in this PC's folder or the owner's."""

    #: The file's path as text (the list's row id).
    id: str
    path: Path
    #: "this PC", or the owner's name for the backup folder ("USB disk").
    where: str
    made_at: datetime | None
    reason: str = ""
    clinic: str = ""
    program: str = ""
    schema: str = ""
    kind: str = "file"
    size: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    #: Why its manifest cannot be read ("" when it can).
    problem: str = ""

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def row_count(self) -> int | None:
        return sum(self.rows.values()) if self.rows else None


def line_of(where: str, listed) -> BackupLine:
    """A ListedBackup (from ``schedule.backups_of``) as a line; on the worker."""
    manifest = listed.manifest
    if manifest is None:
        return BackupLine(str(listed.path), listed.path, where, None, problem=listed.problem)
    return BackupLine(
        id=str(listed.path),
        path=listed.path,
        where=where,
        made_at=manifest.made_at,
        reason=manifest.reason,
        clinic=manifest.clinic,
        program=manifest.program,
        schema=manifest.schema,
        kind=manifest.kind,
        size=manifest.size if manifest.size is not None else _size_on_disk(listed.path),
        rows=dict(manifest.rows),
    )


def backup_lines(db, actor) -> list[BackupLine]:
    """Every backup of the clinic, newest first, as lines (run on a worker: it reads folders,
    one of them perhaps on a network share)."""
    from app.services.backups.schedule import backups_of

    return [line_of(where, listed) for where, listed in backups_of(db, actor)]


def _size_on_disk(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.capitalize())


def size_text(size: int | None) -> str:
    """ "12.4 MB", "860 KB", "1.2 GB" (decimal units, as file managers show them)."""
    if size is None:
        return "—"
    if size >= 1e9:
        return f"{size / 1e9:,.1f} GB"
    if size >= 1e6:
        return f"{size / 1e6:,.1f} MB"
    return f"{max(size / 1e3, 1):,.0f} KB"


def rows_text(line: BackupLine) -> str:
    """ "48,210 rows: 2,000 patients, 30,112 appointments, 1,204 notes, 8,000 payments"."""
    total = line.row_count
    if total is None:
        return "—"
    named = [f"{line.rows[table]:,} {words}" for table, words in NAMED_TABLES if table in line.rows]
    return f"{total:,} rows" + (": " + ", ".join(named) if named else "")


def report_words(report) -> tuple[str, bool]:
    """A backup run's outcome in one short line (the file's name, not its paths), and
    whether every place checked out: "Backed up and checked on this PC and in USB disk:
    clinic-20261208-140000-manual.caredesk"."""
    good = [p for p in report.places if p.ok]
    failed = [p for p in report.places if not p.ok]
    if not report.places:
        return "No backup was made.", False
    name = next((p.backup.name for p in good if p.backup is not None), "")
    where = " and ".join(_place_words(p.label) for p in good)
    parts = []
    if good:
        parts.append(f"Backed up and checked {where}: {name}.")
    for place in failed:
        parts.append(f"FAILED {_place_words(place.label)}: {place.message}")
    return " ".join(parts), not failed


def _place_words(label: str) -> str:
    return "on this PC" if label == "this PC" else f"in {label}"
