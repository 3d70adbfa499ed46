"""Merging two records of one patient: everything that refers to the duplicate moves onto
the kept record, in one transaction; the duplicate stays as an inactive pointer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from app.clock import utc_now
from app.data.database import Database
from app.data.models import Base
from app.data.models.patients import JourneyStage, Patient
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import unit_of_work
from app.services.errors import ValidationError
from app.services.patients.journey import move_to_stage
from app.services.patients.records import get_patient
from app.services.patients.search import index_patient


@dataclass(frozen=True)
class MergeResult:
    kept_id: int
    merged_id: int
    moved: dict[str, int]


# Not moved: the merged record's pointer to the kept one, its own search words (the kept
# record is re-indexed), and the append-only audit log (it has no foreign key anyway).
_NOT_MOVED = {("patients", "merged_into_id"), ("patient_search_terms", "patient_id")}


def patient_references() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to patients.id, from the models' metadata."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "patients" and fk.column.name == "id":
                found.append((table.name, fk.parent.name))
    return found


def merge_patients(db: Database, actor: Actor, keep_id: int, merge_id: int) -> MergeResult:
    """Move everything that refers to ``merge_id`` onto ``keep_id`` in one transaction;
    the merged record stays as an inactive pointer (``merged_into_id``)."""
    permissions.require(actor, Permission.MERGE_PATIENTS)
    if keep_id == merge_id:
        raise ValidationError("Choose two different patient records to merge.")
    with unit_of_work(db, actor) as session:
        kept = get_patient(session, keep_id)
        merged = get_patient(session, merge_id)
        if kept.merged_into_id is not None or merged.merged_into_id is not None:
            raise ValidationError("One of these records was already merged into another.")
        session.flush()
        moved: dict[str, int] = {}
        for table_name, column_name in patient_references():
            if (table_name, column_name) in _NOT_MOVED:
                continue
            table = Base.metadata.tables[table_name]
            column = table.c[column_name]
            result = session.execute(
                update(table).where(column == merge_id).values({column_name: keep_id})
            )
            if result.rowcount:
                key = table_name if column_name == "patient_id" else f"{table_name}.{column_name}"
                moved[key] = moved.get(key, 0) + result.rowcount
        # Records merged earlier into the one going away now point at the kept one.
        pointed = session.execute(
            update(Patient).where(Patient.merged_into_id == merge_id).values(merged_into_id=keep_id)
        )
        if pointed.rowcount:
            moved["patients.merged_into_id"] = pointed.rowcount
        session.expire_all()
        kept = get_patient(session, keep_id)
        merged = get_patient(session, merge_id)
        merged.merged_into_id = keep_id
        merged.merged_at = utc_now()
        move_to_stage(merged, JourneyStage.INACTIVE.value, f"Merged into chart {kept.chart_number}")
        summary = ", ".join(f"{name} {count}" for name, count in sorted(moved.items()))
        for patient_id, detail in (
            (keep_id, f"kept in merge with patient {merge_id}"),
            (merge_id, f"merged into patient {keep_id}"),
        ):
            record(
                session,
                AuditAction.UPDATE,
                entity="patients",
                entity_id=patient_id,
                patient_id=patient_id,
                detail=f"{detail}; moved: {summary or 'nothing'}",
            )
        index_patient(session, kept)
        session.flush()
        return MergeResult(kept_id=keep_id, merged_id=merge_id, moved=moved)
