"""The import as the UI and the command line run it: the dry run, the import in one
transaction (progress, Cancel), the rejects file, the history of imports and undoing one.

- :func:`dry_run` reads only: what the file would create, update and skip, and every row that
  cannot be imported with its line and reason.
- :func:`run_import` does it in one transaction for the whole file.  A file with rows that
  cannot be imported is refused as a whole unless the user chose to leave those rows out
  (``skip_rejects``); Cancel or any failure rolls everything back.  The rows are written in
  bulk (Core inserts, ~1,000 rows a statement), so the automatic audit of each ORM write does
  not run for them: the import is audited as *one* ``imported`` row naming the batch, its
  source, file and counts — no patient data — and every row it created or changed is listed
  in ``import_rows`` (with the values it replaced), which is what an undo works from.
- :func:`undo_import` takes a whole import back, on the clinic day it was made, unless
  anything it made has been used or changed since.
- :func:`rejects_csv`: the rows that were not imported, as the file had them, with their
  line and reason — to correct and import again with the same mapping.

Live refresh: the tables written are noted by the unit of work (Core statements included),
so the Changes returned (and announced to other PCs on a clinic server) carry the right
flags; the patients an import changed are named by id, those it created are not (no view
has them open) — past the notification's size a PC refreshes the kind as a whole anyway.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import ModuleType

from sqlalchemy import Date, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models import Base
from app.data.models.imports import ImportBatch, ImportedRow, ImportedRowAction, ImportKind
from app.data.models.patients import Patient, PatientSearchTerm
from app.data.models.payments import AccountAdjustment
from app.data.models.staff import Staff
from app.data.types import Money, UTCDateTime
from app.i18n import format_date
from app.services.changes import WRITTEN_ROWS_KEY, Changes, collect_changes, note_written
from app.services.clinic import closed_months, permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.exports.cells import safe_row
from app.services.imports import appointments, balances, contacts, patients
from app.services.imports.common import (
    Cancelled,
    ImportCancelled,
    ImportRequest,
    Plan,
    Progress,
    Reject,
    RowLog,
    Ticker,
)
from app.services.patients.search import search_terms
from app.services.scheduling.booking import lock_book

__all__ = [
    "ImportCancelled",
    "ImportOutcome",
    "ImportPreview",
    "ImportRecord",
    "UndoOutcome",
    "dry_run",
    "import_history",
    "rejects_csv",
    "run_import",
    "undo_import",
]

_MODULES: dict[str, ModuleType] = {
    ImportKind.PATIENTS.value: patients,
    ImportKind.APPOINTMENTS.value: appointments,
    ImportKind.BALANCES.value: balances,
    ImportKind.CONTACTS.value: contacts,
}
#: What each kind of row is called in sentences: (one, several).
_NOUNS = {
    ImportKind.PATIENTS.value: ("patient", "patients"),
    ImportKind.APPOINTMENTS.value: ("appointment", "appointments"),
    ImportKind.BALANCES.value: ("opening balance", "opening balances"),
    ImportKind.CONTACTS.value: ("contact", "contacts"),
}
#: The table each kind's rows are created in.
_TABLES = {
    ImportKind.PATIENTS.value: "patients",
    ImportKind.APPOINTMENTS.value: "appointments",
    ImportKind.BALANCES.value: "account_adjustments",
    ImportKind.CONTACTS.value: "contacts",
}
#: Rows an import writes beside each row it creates, deleted with it by an undo.
_SATELLITES = {
    "patients": ("patient_search_terms",),
    "appointments": ("appointment_status_changes",),
}
#: How "used since" names the rows that refer to an imported one: (one, several).
_REFERRER_NOUNS = {
    "appointments": ("appointment", "appointments"),
    "appointment_status_changes": ("status change", "status changes"),
    "payments": ("payment", "payments"),
    "charges": ("charge", "charges"),
    "account_adjustments": ("account adjustment", "account adjustments"),
    "consultation_notes": ("consultation note", "consultation notes"),
    "stored_documents": ("document", "documents"),
    "communication_entries": ("contact log entry", "contact log entries"),
    "tasks": ("task", "tasks"),
    "patients": ("merged record", "merged records"),
    "treatment_plans": ("treatment plan", "treatment plans"),
    "payment_plans": ("payment plan", "payment plans"),
    "referrals": ("referral", "referrals"),
    "messages": ("message", "messages"),
    "insurance_policies": ("insurance policy", "insurance policies"),
    "waitlist_entries": ("waitlist entry", "waitlist entries"),
}


def _plural(count: int, nouns: tuple[str, str]) -> str:
    return f"{count:,} {nouns[0] if count == 1 else nouns[1]}"


def _were(count: int) -> str:
    return "was" if count == 1 else "were"


def _noun(kind: str, count: int) -> str:
    return _plural(count, _NOUNS[kind])


# --- plain data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportPreview:
    """What importing the file would do (the dry run)."""

    kind: str
    created: int
    updated: int
    skipped: int
    #: Every row that cannot be imported: its line, why, its cells.
    rejects: tuple[Reject, ...]
    #: Why each skipped row is skipped (already in CareDesk, repeats line N …).
    skipped_rows: tuple[Reject, ...]
    #: Appointments that clash with another row of the file or one already booked.
    clashes: tuple[Reject, ...] = ()
    #: Appointments: {"provider": names matched to nothing, "room": …, "service": …}.
    unknown_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Some dates read two ways and no date order was chosen.
    date_order_needed: bool = False
    #: Appointments that clash and would be imported as double bookings (double_book).
    double_booked: int = 0

    def summary(self) -> str:
        """One line: "49,988 patients will be created, 0 updated, 12 skipped; 7 rows cannot
        be imported." """
        text = (
            f"{_noun(self.kind, self.created)} will be created, {self.updated:,} updated, "
            f"{self.skipped:,} skipped"
        )
        if self.double_booked:
            text += f" ({self.double_booked:,} double-booked)"
        if self.rejects:
            rows = _plural(len(self.rejects), ("row", "rows"))
            text += f"; {rows} cannot be imported"
        return text + "."


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did (or an undo took back): its batch and counts, and the Changes."""

    batch_id: int
    kind: str
    created: int
    updated: int
    skipped: int
    rejected: int
    changes: Changes
    double_booked: int = 0

    def summary(self) -> str:
        text = (
            f"{_noun(self.kind, self.created)} created, {self.updated:,} updated, "
            f"{self.skipped:,} skipped"
        )
        if self.double_booked:
            text += f" ({self.double_booked:,} double-booked)"
        if self.rejected:
            text += f"; {_plural(self.rejected, ('row', 'rows'))} left out"
        return text + "."


@dataclass(frozen=True)
class UndoOutcome:
    """An import taken back: the rows it created deleted, the rows it changed restored."""

    batch_id: int
    kind: str
    deleted: int
    restored: int
    changes: Changes

    def summary(self) -> str:
        return (
            f"Import undone: {_noun(self.kind, self.deleted)} removed, "
            f"{self.restored:,} put back as they were."
        )


@dataclass(frozen=True)
class ImportRecord:
    """One import in the history: what, from where, by whom, its counts, whether it can still
    be undone (and if not, why not)."""

    id: int
    kind: str
    source: str
    file_name: str
    imported_at: datetime
    imported_by: str
    created: int
    updated: int
    skipped: int
    rejected: int
    undone_at: datetime | None
    undone_by: str
    can_undo: bool
    why_not: str


# --- checks shared by the dry run and the import ------------------------------------------


def _module(request: ImportRequest) -> ModuleType:
    module = _MODULES.get(str(request.kind))
    if module is None:
        raise ValidationError("Choose what the file holds: patients, appointments, balances …")
    if not request.rows:
        raise ValidationError("The file has no rows to import.", field="file")
    return module


def _preview(plan: Plan, double_book: bool) -> ImportPreview:
    kind = str(plan.kind)
    return ImportPreview(
        kind=kind,
        created=len(plan.creates),
        updated=len(plan.updates),
        skipped=len(plan.skipped),
        rejects=tuple(sorted(plan.rejects, key=lambda r: r.line)),
        skipped_rows=tuple(sorted(plan.skipped, key=lambda r: r.line)),
        clashes=tuple(sorted(plan.clashes, key=lambda r: r.line)),
        unknown_names={k: tuple(v) for k, v in plan.unknown_names.items() if v},
        date_order_needed=plan.date_order_needed,
        double_booked=len(plan.clashes) if double_book else 0,
    )


def dry_run(
    db, actor: Actor, request: ImportRequest, *, progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ImportPreview:  # fmt: skip
    """What importing ``request`` would do, row by row; nothing is written (owner only)."""
    permissions.require(actor, Permission.IMPORT_DATA)
    module = _module(request)
    with reading(db, actor) as session:
        ticker = Ticker(len(request.rows), progress, cancelled)
        plan = module.plan(session, request, ticker)
        ticker.report()
        return _preview(plan, request.double_book)


def _refusal(plan: Plan) -> ValidationError:
    """The sentence a file with rows that cannot be imported is refused with: how many, the
    first few with their lines and reasons, and what to do."""
    rejects = sorted(plan.rejects, key=lambda r: r.line)
    listed = " ".join(_full_stop(r.sentence()) for r in rejects[:5])
    more = f" And {len(rejects) - 5:,} more." if len(rejects) > 5 else ""
    rows = _plural(len(rejects), ("row", "rows"))
    return ValidationError(
        f"{rows} cannot be imported. {listed}{more} Nothing was imported: correct the file, "
        "or import it leaving those rows out.",
        field="file",
    )


def _full_stop(sentence: str) -> str:
    return sentence if sentence.endswith((".", "?", "!", "…")) else sentence + "."


def run_import(
    db,
    actor: Actor,
    request: ImportRequest,
    *,
    skip_rejects: bool = False,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ImportOutcome:
    """Import ``request`` in one transaction: all of it, or (``skip_rejects``) all but the
    rows that cannot be imported; ValidationError naming them otherwise, ImportCancelled on
    Cancel — either way nothing is kept.  Audited as one ``imported`` row (owner only)."""
    permissions.require(actor, Permission.IMPORT_DATA)
    module = _module(request)
    kind = str(request.kind)
    with collect_changes() as collected, unit_of_work(db, actor) as session:
        # The write lock before anything is read: nothing is booked or saved meanwhile.
        lock_book(session)
        ticker = Ticker(2 * len(request.rows), progress, cancelled)
        plan = module.plan(session, request, ticker)
        if plan.rejects and not skip_rejects:
            raise _refusal(plan)
        ticker.done = len(request.rows)
        ticker.total = len(request.rows) + len(plan.creates) + len(plan.updates)
        ticker.report()
        batch_id = _new_batch(session, actor, request)
        log = RowLog(session, batch_id)
        module.write(session, actor, request, plan, ticker, log)
        if not (log.created or log.updated):
            note_written(session, "import_rows")  # an import of nothing new is still one
        counts = {
            "created_count": log.created,
            "updated_count": log.updated,
            "skipped_count": len(plan.skipped),
            "rejected_count": len(plan.rejects),
        }
        session.execute(
            update(ImportBatch.__table__)
            .where(ImportBatch.__table__.c.id == batch_id)
            .values(**counts)
        )
        double_booked = int(plan.extra.get("double_booked", 0))  # type: ignore[call-overload]
        record(
            session,
            AuditAction.IMPORTED,
            entity="import_batches",
            entity_id=batch_id,
            detail=_audit_detail(request, counts, double_booked),
        )
        rows = session.info.get(WRITTEN_ROWS_KEY)
        if rows is not None:
            rows.add(("import_batches", batch_id))
            rows.update(log.changed_rows)
        ticker.done = ticker.total
        ticker.report()
    return ImportOutcome(
        batch_id=batch_id,
        kind=kind,
        created=counts["created_count"],
        updated=counts["updated_count"],
        skipped=counts["skipped_count"],
        rejected=counts["rejected_count"],
        changes=collected.changes,
        double_booked=double_booked,
    )


def _audit_detail(request: ImportRequest, counts: dict[str, int], double_booked: int) -> str:
    detail = (
        f"{request.kind} from {request.source} ({request.file_name}): "
        f"{counts['created_count']} created, {counts['updated_count']} updated, "
        f"{counts['skipped_count']} skipped, {counts['rejected_count']} left out"
    )
    if double_booked:
        detail += f", {double_booked} double-booked"
    return detail


def _new_batch(session: Session, actor: Actor, request: ImportRequest) -> int:
    table = ImportBatch.__table__
    return session.execute(
        insert(table).returning(table.c.id),
        {
            "kind": str(request.kind),
            "source": request.source[:60],
            "file_name": request.file_name[:255],
            "file_sha256": request.file_sha256[:64],
            "encoding": request.encoding[:40],
            "imported_at": utc_now(),
            "staff_id": actor.staff_id,
            "created_count": 0,
            "updated_count": 0,
            "skipped_count": 0,
            "rejected_count": 0,
            "undone_at": None,
            "undone_by_id": None,
        },
    ).scalar_one()


# --- the rejects file ------------------------------------------------------------------------

LINE_HEADER = "Line"
REASON_HEADER = "Why it was not imported"


def rejects_csv(request: ImportRequest, rows: Sequence[Reject]) -> bytes:
    """The rows not imported as a CSV Excel opens as it is (UTF-8 with its mark): the file's
    own columns, then the line and the reason — correct it and import it with the same
    mapping.  Cells a spreadsheet could run as a formula get an apostrophe before them."""
    width = max([len(request.headers), *(len(r.cells) for r in rows)])
    headers = [*request.headers, *(f"Column {i + 1}" for i in range(len(request.headers), width))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(safe_row([*headers, LINE_HEADER, REASON_HEADER]))
    for reject in sorted(rows, key=lambda r: r.line):
        cells = [*reject.cells, *([""] * (width - len(reject.cells)))]
        writer.writerow(safe_row([*cells, str(reject.line), reject.reason]))
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


# --- the history -----------------------------------------------------------------------------


def import_history(db, actor: Actor) -> list[ImportRecord]:
    """Every import, newest first, with whether it can still be undone (owner only)."""
    permissions.require(actor, Permission.IMPORT_DATA)
    with reading(db, actor) as session:
        names = dict(session.execute(select(Staff.id, Staff.full_name)).all())
        today = clinic_today(session)
        zone = clinic_zone(session)
        records = []
        batches = session.execute(
            select(ImportBatch.__table__).order_by(
                ImportBatch.imported_at.desc(), ImportBatch.id.desc()
            )
        ).all()
        for batch in batches:
            why_not = _why_not(session, batch, today, zone, names)
            records.append(
                ImportRecord(
                    id=batch.id,
                    kind=batch.kind,
                    source=batch.source,
                    file_name=batch.file_name,
                    imported_at=batch.imported_at,
                    imported_by=names.get(batch.staff_id, ""),
                    created=batch.created_count,
                    updated=batch.updated_count,
                    skipped=batch.skipped_count,
                    rejected=batch.rejected_count,
                    undone_at=batch.undone_at,
                    undone_by=names.get(batch.undone_by_id, ""),
                    can_undo=not why_not,
                    why_not=why_not,
                )
            )
        return records


def _why_not(session: Session, batch, today: date, zone, names) -> str:
    """Why ``batch`` cannot be undone ("" when it can)."""
    locale = clinic_settings(session).locale
    if batch.undone_at is not None:
        who = names.get(batch.undone_by_id, "someone")
        day = format_date(batch.undone_at.astimezone(zone).date(), locale)
        return f"This import was undone on {day} by {who}."
    if batch.imported_at.astimezone(zone).date() != today:
        return "An import can be undone only on the day it was made."
    return _used_since(session, batch)


# --- undo ------------------------------------------------------------------------------------


def _rows_of(batch_id: int, table_name: str, action: str):
    """The ids of the rows of ``table_name`` the batch created or updated, as a subquery."""
    return select(ImportedRow.row_id).where(
        ImportedRow.batch_id == batch_id,
        ImportedRow.table_name == table_name,
        ImportedRow.action == action,
    )


def _referrers(table_name: str):
    """(table, column) of every foreign key that points at ``table_name``'s ids."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == table_name and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def _used_since(session: Session, batch) -> str:
    """Why the import cannot be undone because of what happened since ("" when nothing did):
    a row it made was changed, or something now refers to it (a new appointment, a payment,
    a note …), or money it posted falls in a month closed since."""
    kind = batch.kind
    table_name = _TABLES[kind]
    table = Base.metadata.tables[table_name]
    created = _rows_of(batch.id, table_name, ImportedRowAction.CREATED.value)
    nouns = _NOUNS[kind]
    problems: list[str] = []
    changed = session.scalar(
        select(func.count()).select_from(table).where(table.c.id.in_(created), table.c.version != 1)
    )
    if changed:
        problems.append(f"{_plural(changed, nouns)} it created {_were(changed)} changed since")
    if kind == ImportKind.PATIENTS.value:
        updated = _rows_of(batch.id, table_name, ImportedRowAction.UPDATED.value)
        versions = dict(
            session.execute(
                select(table.c.id, table.c.version).where(table.c.id.in_(updated))
            ).all()
        )
        again = sum(
            1
            for row_id, before in session.execute(
                select(ImportedRow.row_id, ImportedRow.before).where(
                    ImportedRow.batch_id == batch.id,
                    ImportedRow.action == ImportedRowAction.UPDATED.value,
                )
            )
            if versions.get(row_id) != json.loads(before)["version_after"]
        )
        if again:
            problems.append(
                f"{_plural(again, nouns)} it updated {_were(again)} changed again since"
            )
    used: list[str] = []
    satellites = _SATELLITES.get(table_name, ())
    for referrer, column in _referrers(table_name):
        conditions = [column.in_(created)]
        if referrer.name in satellites:
            if referrer.name != "appointment_status_changes":
                continue
            # The booking row the import wrote is its own; any later step is a use.
            conditions.append(referrer.c.from_status.is_not(None))
        count = session.scalar(select(func.count()).select_from(referrer).where(*conditions))
        if count:
            nouns_of = _REFERRER_NOUNS.get(referrer.name)
            if nouns_of is None:
                label = referrer.name.replace("_", " ")
                nouns_of = (label.removesuffix("s"), label)
            used.append(_plural(count, nouns_of))
    if used:
        listed = ", ".join(used[:-1]) + (" and " if len(used) > 1 else "") + used[-1]
        problems.append(f"what it created is now used by {listed}")
    if kind == ImportKind.BALANCES.value:
        through = closed_months.closed_through(session)
        if through is not None:
            zone = clinic_zone(session)
            posted = session.scalars(
                select(AccountAdjustment.posted_at).where(AccountAdjustment.id.in_(created))
            )
            closed = sum(1 for moment in posted if moment.astimezone(zone).date() <= through)
            if closed:
                verb = "falls" if closed == 1 else "fall"
                problems.append(f"{_plural(closed, nouns)} it posted {verb} in a closed month")
    if not problems:
        return ""
    return (
        f"This import cannot be undone: {'; '.join(problems)}. Nothing was undone; change "
        "those records by hand instead."
    )


def _decoded(table, name: str, value: object) -> object:
    """A value kept in ``before`` (JSON) as its column holds it."""
    if value is None:
        return None
    column_type = table.c[name].type
    if isinstance(column_type, UTCDateTime):
        return datetime.fromisoformat(str(value))
    if isinstance(column_type, Date):
        return date.fromisoformat(str(value))
    if isinstance(column_type, Money):
        return Decimal(str(value))
    return value


def undo_import(db, actor: Actor, batch_id: int) -> UndoOutcome:
    """Take back a whole import, on the clinic day it was made: the rows it created deleted
    (with their search terms and booking rows), the rows it updated given their earlier
    values.  Refused, with the reason, when it was undone already, was made on another day,
    or anything it made has been used or changed since.  Audited as ``import_undone``."""
    permissions.require(actor, Permission.IMPORT_DATA)
    with collect_changes() as collected, unit_of_work(db, actor) as session:
        lock_book(session)
        batch = session.execute(
            select(ImportBatch.__table__).where(ImportBatch.__table__.c.id == batch_id)
        ).one_or_none()
        if batch is None:
            raise NotFoundError("That import is not in the history.")
        names = dict(session.execute(select(Staff.id, Staff.full_name)).all())
        why_not = _why_not(session, batch, clinic_today(session), clinic_zone(session), names)
        if why_not:
            raise ValidationError(why_not)
        deleted, restored = _take_back(session, batch)
        session.execute(
            update(ImportBatch.__table__)
            .where(ImportBatch.__table__.c.id == batch_id)
            .values(undone_at=utc_now(), undone_by_id=actor.staff_id)
        )
        record(
            session,
            AuditAction.IMPORT_UNDONE,
            entity="import_batches",
            entity_id=batch_id,
            detail=(
                f"{batch.kind} from {batch.source} ({batch.file_name}): {deleted} removed, "
                f"{restored} put back"
            ),
        )
    return UndoOutcome(batch_id, batch.kind, deleted, restored, collected.changes)


def _take_back(session: Session, batch) -> tuple[int, int]:
    table_name = _TABLES[batch.kind]
    table = Base.metadata.tables[table_name]
    rows = session.info.get(WRITTEN_ROWS_KEY)
    restored = 0
    for row_id, before_text in session.execute(
        select(ImportedRow.row_id, ImportedRow.before).where(
            ImportedRow.batch_id == batch.id,
            ImportedRow.action == ImportedRowAction.UPDATED.value,
        )
    ).all():
        before = json.loads(before_text)
        values = {
            name: _decoded(table, name, value)
            for name, value in before.items()
            if name not in ("version", "version_after")
        }
        session.execute(
            update(table)
            .where(table.c.id == row_id)
            .values({**values, "version": table.c.version + 1, "updated_at": utc_now()})
        )
        restored += 1
        if rows is not None:
            rows.add((table_name, row_id))
    if restored and table_name == "patients":
        _reindex(session, _rows_of(batch.id, "patients", ImportedRowAction.UPDATED.value))
    created = _rows_of(batch.id, table_name, ImportedRowAction.CREATED.value)
    for satellite in _SATELLITES.get(table_name, ()):
        satellite_table = Base.metadata.tables[satellite]
        column = next(c for t, c in _referrers(table_name) if t is satellite_table)
        session.execute(delete(satellite_table).where(column.in_(created)))
    deleted = session.execute(delete(table).where(table.c.id.in_(created))).rowcount
    return deleted, restored


def _reindex(session: Session, ids) -> None:
    """Search terms of the patients ``ids`` (a subquery) written again from their rows."""
    terms = PatientSearchTerm.__table__
    session.execute(delete(terms).where(terms.c.patient_id.in_(ids)))
    patients_table = Patient.__table__
    new_rows = []
    for p in session.execute(select(patients_table).where(patients_table.c.id.in_(ids))):
        for term, kind in sorted(
            search_terms(
                first_name=p.first_name,
                middle_name=p.middle_name,
                last_name=p.last_name,
                preferred_name=p.preferred_name,
                phones=(p.mobile_phone, p.home_phone, p.work_phone),
                email=p.email,
                chart_number=p.chart_number,
            )
        ):
            new_rows.append({"patient_id": p.id, "term": term, "kind": kind})
    if new_rows:
        session.execute(insert(terms), new_rows)
