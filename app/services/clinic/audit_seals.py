"""Seals: where the audit trail ended, remembered outside the database.

The hash chain proves no row was edited and none removed from the middle — but someone who
holds the database key can drop the guard triggers and delete the last rows, or rewrite
the whole table with freshly computed hashes, and the chain alone still checks out.  A
*seal* is the chain's head at one moment (its last row's id and hash, how many rows, the
first row's hash naming the trail itself), written where the database's own changes do not
reach:

- a seals file beside the clinic's database (``clinic.caredesk.seals``; on a clinic server,
  in this PC's data folder), one line per seal, added at every sign-out and every
  ``audit verify``;
- the manifest of every backup CareDesk makes;
- ``caredesk audit seal --out seal.json``, for the owner to keep elsewhere (a USB stick,
  an e-mail to themselves, the month's paperwork).

``caredesk audit verify`` checks the trail against every seal it knows and names what
changed since: rows gone from the end, a row rewritten, rows added or removed before the
seal, a trail started again from its first row.  A seal proves nothing about what was
added *after* it, and someone who can change the seals file as well as the database can
quietly remove the seals kept there — which is why the ones kept elsewhere matter.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from app import paths
from app.clock import utc_now
from app.data.database import Database
from app.data.models.audit import AuditEntry
from app.data.models.clinic import ClinicSettings
from app.i18n import format_datetime
from app.services.clinic.audit_log import ChainCheck, verify_chain
from app.services.errors import ValidationError

log = logging.getLogger(__name__)

SEAL_FORMAT = "caredesk-audit-seal-1"
SEALS_SUFFIX = ".seals"


@dataclass(frozen=True)
class Seal:
    """The audit trail's head at ``sealed_at``."""

    #: The trail's first row's hash: which trail this is (a clinic moved to the server
    #: keeps its trail, and its seals stay good).
    trail: str
    clinic: str
    last_id: int
    last_hash: str
    rows: int
    sealed_at: datetime
    #: Why it was made: "sign-out", "audit verify", "backup", "exported".
    reason: str

    def to_json(self) -> str:
        body = {"format": SEAL_FORMAT, **asdict(self), "sealed_at": self.sealed_at.isoformat()}
        return json.dumps(body, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Seal:
        """A seal written by :meth:`to_json`; ValueError for anything else."""
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("format") != SEAL_FORMAT:
            raise ValueError("not a CareDesk audit seal")
        try:
            return cls(
                trail=str(body["trail"]),
                clinic=str(body["clinic"]),
                last_id=int(body["last_id"]),
                last_hash=str(body["last_hash"]),
                rows=int(body["rows"]),
                sealed_at=datetime.fromisoformat(body["sealed_at"]),
                reason=str(body.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a damaged audit seal ({type(exc).__name__})") from None

    def describe(self, locale: str = "en_US") -> str:
        """For people: "the seal of Dec 2, 2026, 2:05 PM UTC (sign-out; row 4,210)"."""
        when = format_datetime(self.sealed_at, "UTC", locale)
        return f"the seal of {when} UTC ({self.reason}; row {self.last_id:,})"


def current_seal(db: Database, reason: str) -> Seal | None:
    """The trail's head now, or None while it is empty."""
    with db.uow() as session:
        first = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id).limit(1))
        if first is None:
            return None
        last = session.execute(
            select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
        ).one()
        rows = session.scalar(select(func.count()).select_from(AuditEntry))
        clinic = session.scalar(select(ClinicSettings.name).where(ClinicSettings.id == 1))
    return Seal(
        trail=first,
        clinic=clinic or "",
        last_id=last.id,
        last_hash=last.hash,
        rows=rows,
        sealed_at=utc_now(),
        reason=reason,
    )


def seals_file(db: Database) -> Path:
    """Where this clinic's seals are kept on this PC."""
    if db.path is not None:
        return Path(str(db.path) + SEALS_SUFFIX)
    assert db.server is not None
    name = re.sub(r"[^A-Za-z0-9.-]", "_", f"{db.server.host}-{db.server.port}")
    return paths.data_dir() / "seals" / f"{name}-{db.server.database}{SEALS_SUFFIX}"


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def record_seal(db: Database, reason: str) -> Seal | None:
    """Seal the trail now, into this clinic's seals file.  A seals file that cannot be
    written is logged, never a reason for a sign-out or a check to fail."""
    seal = current_seal(db, reason)
    if seal is None:
        return None
    try:
        _append_line(seals_file(db), seal.to_json())
    except OSError as exc:
        log.warning("the audit seal could not be kept: %s", exc.strerror or type(exc).__name__)
    return seal


def read_seals(path: Path) -> tuple[list[Seal], list[str]]:
    """The seals in a seals file, a seal file (``audit seal --out``) or a backup's manifest;
    and a note for each line that is not one (a damaged or edited file says so)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError):
        return [], [f"{path.name} could not be read"]
    stripped = text.strip()
    if stripped.startswith("{") and "\n" not in stripped:
        lines = [stripped]
    else:
        try:  # a backup's manifest: one JSON document holding "seal"
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("seal"), dict):
            lines = [json.dumps(body["seal"])]
        else:
            lines = [line for line in text.splitlines() if line.strip()]
    seals: list[Seal] = []
    notes: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            seals.append(Seal.from_json(line))
        except ValueError:
            notes.append(f"{path.name}, line {number}: not a seal (damaged or edited)")
    return seals, notes


def seal_problems(db: Database, seals: Iterable[Seal]) -> list[str]:
    """What changed in the trail since the seals (nothing for a seal the trail still holds).
    Each kind of change is told once, by the newest seal that shows it."""
    found: dict[str, list[str]] = {}
    with db.uow() as session:
        first = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id).limit(1))
        last_id = session.scalar(select(func.max(AuditEntry.id))) or 0
        for seal in sorted(seals, key=lambda s: (s.sealed_at, s.last_id), reverse=True):
            kind, message = _what_changed(session, seal, first, last_id)
            if kind is not None:
                found.setdefault(kind, []).append(message)
    problems = []
    for messages in found.values():
        older = len(messages) - 1
        problems.append(
            messages[0]
            + (f" ({older:,} older seal{'s' if older > 1 else ''} agree)" if older else "")
        )
    return problems


def _what_changed(session, seal: Seal, first: str | None, last_id: int):
    settings = session.get(ClinicSettings, 1)
    said = seal.describe(settings.locale if settings is not None else "en_US")
    if first != seal.trail:
        other = f", “{seal.clinic}”" if seal.clinic else ""
        return "started again", (
            f"the trail does not begin as it did at {said}: the audit table was started "
            f"again (or the seal is another clinic's{other})"
        )
    if last_id < seal.last_id:
        gone = (
            f"row {seal.last_id:,} is"
            if last_id + 1 == seal.last_id
            else f"rows {last_id + 1:,}–{seal.last_id:,} are"
        )
        return "truncated", (
            f"{gone} gone from the end: the trail reached row {seal.last_id:,} at {said}, "
            f"and now ends at row {last_id:,}"
        )
    sealed_row = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == seal.last_id))
    if sealed_row != seal.last_hash:
        return "rewritten", (
            f"row {seal.last_id:,} is not the row sealed at {said}: the trail was rewritten since"
        )
    rows = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= seal.last_id)
    )
    if rows != seal.rows:
        return "rows before", (
            f"{seal.rows:,} rows led up to row {seal.last_id:,} at {said}; now {rows:,} do: "
            "rows were removed or added before it"
        )
    return None, ""


@dataclass(frozen=True)
class TrailVerification:
    chain: ChainCheck
    seals_checked: int
    #: Where the seals came from (the seals file, files given), for the report.
    sources: tuple[str, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def verify_trail(db: Database, extra: Sequence[Path] = ()) -> TrailVerification:
    """The chain checked row by row, then against every seal known: this clinic's seals
    file and the seal files or backup manifests in ``extra``.  A clean result is sealed."""
    for path in extra:
        if not Path(path).is_file():
            raise ValidationError(f"There is no seal file at {path}.", field="seal")
    seals: list[Seal] = []
    notes: list[str] = []
    sources: list[str] = []
    for path in (seals_file(db), *map(Path, extra)):
        found, unreadable = read_seals(path)
        if found:
            sources.append(f"{path} ({len(found)})")
        seals += found
        notes += unreadable
    chain = verify_chain(db)
    problems = seal_problems(db, seals)
    verification = TrailVerification(
        chain=chain,
        seals_checked=len(seals),
        sources=tuple(sources),
        problems=tuple(problems),
        notes=tuple(notes),
    )
    if verification.ok:
        record_seal(db, "audit verify")
    return verification


def export_seal(db: Database, out: Path) -> Seal:
    """``caredesk audit seal --out FILE``: the seal as a file of its own (never over an
    existing file), also kept in the seals file."""
    seal = record_seal(db, "exported")
    if seal is None:
        raise ValidationError("The audit trail is empty: there is nothing to seal yet.")
    out = Path(out)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(seal.to_json() + "\n")
    return seal
