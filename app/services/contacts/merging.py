"""Folding a duplicate contact into the one kept: every row that refers to the duplicate
(referrals, insurance policies, payers' payments, contact log entries — any foreign key to
contacts.id, found in the models) moves onto the kept contact in one transaction; the
duplicate stays, inactive, pointing at the kept one (``merged_into_id``).

What the kept contact lacks (a fax, an e-mail, an address …) is filled from the duplicate;
what it has is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models import Base
from app.data.models.contacts import Contact, ContactKind
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.contacts.directory import (
    COLUMN_OF,
    FORM_FIELDS,
    ContactLine,
    ReferenceCount,
    contact_line,
    contact_or_error,
    contact_references,
    display_name,
    reference_counts,
    reference_label,
)
from app.services.errors import ValidationError

#: Fields filled from the duplicate when the kept contact has them empty, with their labels.
_FILLABLE = {
    "specialty": "specialty",
    "phone": "phone",
    "other_phone": "other phone",
    "fax": "fax",
    "email": "e-mail",
    "address_line1": "address",
    "address_line2": "address",
    "city": "city",
    "region": "state or region",
    "postal_code": "ZIP or postal code",
    "country": "country",
    "send_records_by": "how records are sent",
    "payer_id": "payer ID",
    "eligibility_phone": "eligibility phone",
}
_ADDRESS = ("address_line1", "address_line2", "city", "region", "postal_code", "country")


@dataclass(frozen=True)
class MergePreview:
    """What a merge would do: the two contacts, the references that would move, the
    kept contact's empty fields the duplicate would fill."""

    kept: ContactLine
    duplicate: ContactLine
    moves: tuple[ReferenceCount, ...]
    fills: tuple[str, ...]

    @property
    def moved_total(self) -> int:
        return sum(m.count for m in self.moves)


@dataclass(frozen=True)
class MergeResult:
    kept_id: int
    merged_id: int
    #: "table.column" → rows moved onto the kept contact.
    moved: dict[str, int]
    fills: tuple[str, ...]


def _check(session: Session, kept: Contact, duplicate: Contact) -> None:
    """Refuse a merge that cannot be right (ValidationError, nothing changed)."""
    if kept.id == duplicate.id:
        raise ValidationError("Choose another contact: a contact cannot be merged into itself.")
    if duplicate.merged_into_id is not None:
        into = session.get(Contact, duplicate.merged_into_id)
        name = display_name(into.organisation, into.name) if into else "another contact"
        raise ValidationError(f"That duplicate was already merged into {name}.")
    if kept.merged_into_id is not None or not kept.is_active:
        raise ValidationError(
            "The contact kept must be active: reactivate it first, or keep the other one."
        )
    payer = ContactKind.PAYER.value
    if duplicate.kind == payer and kept.kind != payer:
        raise ValidationError(
            "A payer can be merged only into another payer: its policies and payments need one."
        )
    if kept.kind == payer and duplicate.kind != payer:
        raise ValidationError(
            "Only another payer can be merged into a payer: change the duplicate's kind first "
            "if it really is this insurance company."
        )


def _fills(kept: Contact, duplicate: Contact) -> dict[str, str]:
    """The kept contact's empty fields the duplicate has (the address as a whole)."""
    values: dict[str, str] = {}
    has_address = any(getattr(kept, name) for name in _ADDRESS)
    for name in _FILLABLE:
        if name in _ADDRESS and has_address:
            continue
        if name in ("payer_id", "eligibility_phone") and kept.kind != ContactKind.PAYER.value:
            continue
        column = COLUMN_OF[name]
        if not getattr(kept, column) and getattr(duplicate, column):
            values[column] = getattr(duplicate, column)
    return values


def _fill_labels(values: dict[str, str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_FILLABLE[name] for name in FORM_FIELDS if name in values))


def merge_preview(db: Database, actor: Actor, keep_id: int, duplicate_id: int) -> MergePreview:
    """What merging ``duplicate_id`` into ``keep_id`` would move and fill; the same
    refusals as the merge itself."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        kept = contact_or_error(session, keep_id)
        duplicate = contact_or_error(session, duplicate_id)
        _check(session, kept, duplicate)
        moves = tuple(r for r in reference_counts(session, duplicate.id) if r.count)
        return MergePreview(
            kept=contact_line(kept),
            duplicate=contact_line(duplicate),
            moves=moves,
            fills=_fill_labels(_fills(kept, duplicate)),
        )


def merge_contacts(
    db: Database,
    actor: Actor,
    keep_id: int,
    duplicate_id: int,
    *,
    keep_version: int | None = None,
    duplicate_version: int | None = None,
) -> MergeResult:
    """Move every reference to ``duplicate_id`` onto ``keep_id`` in one transaction, fill
    the kept contact's empty fields from it, and leave the duplicate inactive with
    ``merged_into_id`` set; audited on both.  Needs the right to manage contacts *and* to
    merge records."""
    permissions.require(actor, Permission.MANAGE_CONTACTS)
    permissions.require(actor, Permission.MERGE_PATIENTS)
    with unit_of_work(db, actor) as session:
        kept = contact_or_error(session, keep_id)
        duplicate = contact_or_error(session, duplicate_id)
        check_version(session, kept, keep_version, "The contact kept")
        check_version(session, duplicate, duplicate_version, "The duplicate")
        _check(session, kept, duplicate)
        fills = _fills(kept, duplicate)
        session.flush()
        moved: dict[str, int] = {}
        for table_name, column_name in contact_references():
            table = Base.metadata.tables[table_name]
            column = table.c[column_name]
            result = session.execute(
                update(table).where(column == duplicate.id).values({column_name: kept.id})
            )
            if result.rowcount:
                moved[f"{table_name}.{column_name}"] = result.rowcount
        session.expire_all()
        kept = contact_or_error(session, keep_id)
        duplicate = contact_or_error(session, duplicate_id)
        for column, value in fills.items():
            setattr(kept, column, value)
        duplicate.is_active = False
        duplicate.merged_into_id = kept.id
        summary = ", ".join(
            f"{reference_label(*key.split('.'), count)} {count}"
            for key, count in sorted(moved.items())
        )
        for contact_id, detail in (
            (kept.id, f"kept in merge with contact {duplicate.id}"),
            (duplicate.id, f"merged into contact {kept.id}"),
        ):
            record(
                session,
                AuditAction.UPDATE,
                entity="contacts",
                entity_id=contact_id,
                detail=f"{detail}; moved: {summary or 'nothing'}",
            )
        session.flush()
        return MergeResult(
            kept_id=kept.id, merged_id=duplicate.id, moved=moved, fills=_fill_labels(fills)
        )
