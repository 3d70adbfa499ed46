"""Patient documents kept inside the encrypted database: PDFs and scanned images.

Only real PDF, PNG and JPEG files are taken (by their first bytes, not their
name), up to :data:`MAX_DOCUMENT_BYTES`.  Listing never loads the bytes; the
bytes leave the database only through :func:`document_content`, which is audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.documents import DocumentKind, StoredDocument
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.tasks import patient_or_error, staff_name, tidy_text

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)

#: What each purpose of reading the bytes is recorded as.
_PURPOSES = {
    "open": AuditAction.RECORD_OPENED,
    "save": AuditAction.EXPORT,
    "print": AuditAction.PRINT,
}


@dataclass(frozen=True)
class DocumentLine:
    id: int
    patient_id: int
    kind: str
    filename: str
    mime_type: str
    size: int
    sha256: str
    added_at: datetime
    added_by: str


def sniff_mime_type(content: bytes) -> str | None:
    """The file's real type from its first bytes, or None when it is not one we take."""
    for magic, mime in _MAGIC:
        if content.startswith(magic):
            return mime
    return None


def _clean_filename(filename: str) -> str:
    # Keep only the last path component, whichever separator the OS used.
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return tidy_text(name, "filename", label="file name", max_length=255, required=True)


def _line(session: Session, doc: StoredDocument) -> DocumentLine:
    return DocumentLine(
        id=doc.id,
        patient_id=doc.patient_id,
        kind=doc.kind,
        filename=doc.filename,
        mime_type=doc.mime_type,
        size=doc.size_bytes,
        sha256=doc.sha256,
        added_at=doc.created_at,
        added_by=staff_name(session, doc.created_by_id),
    )


def _checked(filename: str, content: bytes, kind: str) -> tuple[str, bytes, str]:
    """The clean file name, the bytes and their real type; refuses what cannot be stored."""
    name = _clean_filename(filename)
    if kind not in {k.value for k in DocumentKind}:
        raise ValidationError(f"“{kind}” is not a kind of document CareDesk knows.", "kind")
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationError("The file could not be read.", field="content")
    content = bytes(content)
    if not content:
        raise ValidationError("The file is empty.", field="content")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            f"The file is {len(content) / 1024 / 1024:.1f} MB; the most CareDesk stores is "
            f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MB.",
            field="content",
        )
    mime = sniff_mime_type(content)
    if mime is None:
        raise ValidationError(
            "This file is not a PDF, PNG or JPEG (whatever its name says); "
            "only those can be stored.",
            field="content",
        )
    return name, content, mime


def add_document_in(
    session: Session,
    actor: Actor | None,
    patient_id: int,
    filename: str,
    content: bytes,
    kind: str = "scan",
) -> DocumentLine:
    """Store a document inside the caller's unit of work (same checks as :func:`add_document`).

    For services that keep a document as part of a larger change (the handout frozen when
    a plan is accepted): both are written, or neither.  The caller checks permissions.
    """
    name, content, mime = _checked(filename, content, kind)
    patient_or_error(session, patient_id)
    doc = StoredDocument(
        patient_id=patient_id,
        kind=kind,
        filename=name,
        mime_type=mime,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        created_by_id=actor.staff_id if actor is not None else None,
    )
    session.add(doc)
    session.flush()
    return _line(session, doc)


def add_document(
    db: Database,
    actor: Actor,
    patient_id: int,
    filename: str,
    content: bytes,
    kind: str = "scan",
) -> DocumentLine:
    """Store a PDF/PNG/JPEG in the patient's record; anything else or too large is refused."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    _checked(filename, content, kind)
    with unit_of_work(db, actor) as session:
        return add_document_in(session, actor, patient_id, filename, content, kind)


def list_documents(db: Database, actor: Actor, patient_id: int) -> list[DocumentLine]:
    """The patient's documents, newest first (without their bytes)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        docs = session.scalars(
            select(StoredDocument)
            .where(StoredDocument.patient_id == patient_id)
            .order_by(StoredDocument.created_at.desc(), StoredDocument.id.desc())
        )
        return [_line(session, d) for d in docs]


def document_content(
    db: Database, actor: Actor, document_id: int, *, purpose: str = "open"
) -> tuple[DocumentLine, bytes]:
    """A document's bytes for opening, saving a copy or printing; each is audited."""
    if purpose not in _PURPOSES:
        raise ValidationError(f"“{purpose}” is not open, save or print.", field="purpose")
    permissions.require(actor, Permission.VIEW_PATIENTS)
    if purpose != "open":
        permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        doc = session.get(StoredDocument, document_id)
        if doc is None:
            raise NotFoundError("That document no longer exists.")
        content = doc.content
        record(
            session,
            _PURPOSES[purpose],
            entity="stored_documents",
            entity_id=doc.id,
            patient_id=doc.patient_id,
            detail=purpose,
        )
        return _line(session, doc), content
