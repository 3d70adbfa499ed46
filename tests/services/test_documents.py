"""Patient documents: only real PDF/PNG/JPEG, size-limited, hashed; reading them is audited."""

import hashlib

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients import documents

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20


def audit_rows(db, action):
    with db.uow() as session:
        return session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == action, AuditEntry.entity == "stored_documents"
            )
        ).all()


@pytest.mark.parametrize(
    "filename,content,mime",
    [
        ("consent.pdf", PDF, "application/pdf"),
        ("scan.png", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        # The bytes decide, not the name.
        ("scan.pdf", PNG, "image/png"),
        ("Zoë’s intake 😀.pdf", PDF, "application/pdf"),
    ],
)
def test_accepted_files_round_trip_with_their_hash(
    clinic, owner, patient_id, filename, content, mime
):
    line = documents.add_document(clinic.db, owner, patient_id, filename, content)
    assert (line.filename, line.mime_type, line.size) == (filename, mime, len(content))
    assert line.sha256 == hashlib.sha256(content).hexdigest()
    assert line.added_by == "Olivia Owner" and line.kind == "scan"
    assert documents.list_documents(clinic.db, owner, patient_id) == [line]
    got_line, got = documents.document_content(clinic.db, owner, line.id)
    assert got == content and got_line == line


@pytest.mark.parametrize(
    "filename,content,kind,field",
    [
        ("fake.pdf", b"MZ\x90\x00 this is an exe", "scan", "content"),
        ("notes.pdf", b"just some text", "scan", "content"),
        ("empty.pdf", b"", "scan", "content"),
        ("big.pdf", PDF + b"\x00" * documents.MAX_DOCUMENT_BYTES, "scan", "content"),
        ("", PDF, "scan", "filename"),
        ("\x00\x07", PDF, "scan", "filename"),
        ("n" * 256 + ".pdf", PDF, "scan", "filename"),
        ("ok.pdf", PDF, "selfie", "kind"),
        ("ok.pdf", "%PDF- as text", "scan", "content"),
    ],
)
def test_bad_files_are_refused_with_their_field(
    clinic, owner, patient_id, filename, content, kind, field
):
    with pytest.raises(ValidationError) as raised:
        documents.add_document(clinic.db, owner, patient_id, filename, content, kind)
    assert raised.value.field == field and str(raised.value)
    assert documents.list_documents(clinic.db, owner, patient_id) == []


def test_a_file_exactly_at_the_limit_is_accepted(clinic, owner, patient_id):
    content = PDF + b"\x00" * (documents.MAX_DOCUMENT_BYTES - len(PDF))
    line = documents.add_document(clinic.db, owner, patient_id, "max.pdf", content)
    assert line.size == documents.MAX_DOCUMENT_BYTES


@pytest.mark.parametrize(
    "given,kept",
    [
        ("C:\\Users\\desk\\Scans\\intake.pdf", "intake.pdf"),
        ("/home/desk/scans/intake.pdf", "intake.pdf"),
        ("in\x00take\x1b.pdf", "in take .pdf"),
    ],
)
def test_file_names_lose_folders_and_control_characters(clinic, owner, patient_id, given, kept):
    line = documents.add_document(clinic.db, owner, patient_id, given, PDF)
    assert line.filename == kept


@pytest.mark.parametrize(
    "purpose,action", [("open", "record_opened"), ("save", "export"), ("print", "print")]
)
def test_reading_the_bytes_is_audited_by_purpose(clinic, owner, patient_id, purpose, action):
    line = documents.add_document(clinic.db, owner, patient_id, "a.pdf", PDF)
    assert audit_rows(clinic.db, action) == []
    documents.document_content(clinic.db, owner, line.id, purpose=purpose)
    (row,) = audit_rows(clinic.db, action)
    assert (row.entity_id, row.patient_id, row.username) == (line.id, patient_id, "owner")


def test_listing_is_newest_first_and_not_audited_as_an_opening(clinic, owner, patient_id):
    first = documents.add_document(clinic.db, owner, patient_id, "a.pdf", PDF)
    second = documents.add_document(clinic.db, owner, patient_id, "b.png", PNG)
    listed = documents.list_documents(clinic.db, owner, patient_id)
    assert {d.id for d in listed} == {first.id, second.id}
    assert listed[0].added_at >= listed[1].added_at
    assert audit_rows(clinic.db, "record_opened") == []


def test_permissions_and_unknown_purposes(clinic, owner, make_staff, patient_id):
    provider = make_staff("paula", "provider")
    line = documents.add_document(clinic.db, owner, patient_id, "a.pdf", PDF)
    with pytest.raises(PermissionDeniedError):
        documents.add_document(clinic.db, provider, patient_id, "b.pdf", PDF)
    # Providers may open and print (PRINT_DOCUMENTS), not add.
    assert documents.document_content(clinic.db, provider, line.id, purpose="print")[1] == PDF
    with pytest.raises(ValidationError) as raised:
        documents.document_content(clinic.db, owner, line.id, purpose="email")
    assert raised.value.field == "purpose"
    with pytest.raises(NotFoundError):
        documents.document_content(clinic.db, owner, 999)
    with pytest.raises(NotFoundError, match="patient"):
        documents.add_document(clinic.db, owner, 999, "a.pdf", PDF)
