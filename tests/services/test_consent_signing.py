"""Consents signed on screen: what is refused, what is stored, what it clears."""

from __future__ import annotations

import hashlib
import io
import math
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import func, select

from app.data.models import AuditEntry
from app.data.models.documents import ConsentTemplate, ConsentVersion, StoredDocument
from app.data.models.patients import Patient
from app.data.models.providers import ServiceRequiredConsent
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients import consents, documents
from app.services.patients.consents import ConsentWording
from app.services.scheduling import booking as scheduling
from tests.data.factories import add_appointment, add_patient, add_provider, add_service
from tests.documents.pdfread import pdf_pages_text


def signature_png(*, width: int = 900, height: int = 260, ink: bool = True, alpha=False) -> bytes:
    """A handwritten-looking stroke (a damped wave and an underline), as a pad makes."""
    mode = "RGBA" if alpha else "RGB"
    background = (255, 255, 255, 0) if alpha else (255, 255, 255)
    image = Image.new(mode, (width, height), background)
    if ink:
        draw = ImageDraw.Draw(image)
        points = [
            (40 + x, height / 2 + math.sin(x / 28) * (70 - x / 16)) for x in range(0, width - 80, 4)
        ]
        draw.line(points, fill=(20, 30, 90) + ((255,) if alpha else ()), width=5, joint="curve")
        draw.line([(60, height - 40), (width - 120, height - 50)], fill=(20, 30, 90), width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _count(db, model) -> int:
    with db.uow() as session:
        return session.scalar(select(func.count()).select_from(model))


def _signed_audit_rows(db) -> list[AuditEntry]:
    with db.uow() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "consent_signed"))
        )


def _sign(clinic, actor, patient_id, **overrides):
    arguments = {
        "patient_id": patient_id,
        "template_key": "laser",
        "signature_png": signature_png(),
        "signer_name": "Zoë Nguyễn",
        "witness_staff_id": actor.staff_id,
        "procedure": "Laser hair removal, upper lip",
    }
    arguments.update(overrides)
    return consents.sign_consent(clinic.db, actor, **arguments)


# --- refusals: nothing is stored -------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "cannot be saved as signed without a signature"),
        (b"", "cannot be saved as signed without a signature"),
        (b"GIF89a not a png at all", "not a PNG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "damaged"),
        (signature_png(ink=False), "blank"),
        (signature_png(ink=False, alpha=True), "blank"),
        (signature_png(width=40, height=20, ink=False), "blank"),
    ],
)
def test_no_real_signature_is_refused_and_nothing_stored(
    clinic, owner, patient_id, signature, message
):
    with pytest.raises(ValidationError, match=message) as caught:
        _sign(clinic, owner, patient_id, signature_png=signature)
    assert caught.value.field == "signature"
    assert _count(clinic.db, StoredDocument) == 0
    assert _signed_audit_rows(clinic.db) == []


def test_a_single_speck_is_not_a_signature(clinic, owner, patient_id):
    image = Image.new("RGB", (600, 200), "white")
    ImageDraw.Draw(image).ellipse((300, 100, 303, 103), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    with pytest.raises(ValidationError, match="blank"):
        _sign(clinic, owner, patient_id, signature_png=buffer.getvalue())
    assert _count(clinic.db, StoredDocument) == 0


def test_a_transparent_signature_with_ink_is_taken(clinic, owner, patient_id):
    signed = _sign(clinic, owner, patient_id, signature_png=signature_png(alpha=True))
    assert signed.template_key == "laser"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"signer_name": "   "}, "signer_name", "signer's name"),
        ({"signer_name": "x" * 121}, "signer_name", "under 120"),
        ({"relationship": "neighbour"}, "relationship", "neighbour"),
        ({"witness_staff_id": None, "witness_name": ""}, "witness", "Name the witness"),
        ({"witness_staff_id": 999_999}, "witness", "not an active staff member"),
    ],
)
def test_bad_signer_or_witness_is_refused_with_its_field(
    clinic, owner, patient_id, overrides, field, message
):
    with pytest.raises(ValidationError, match=message) as caught:
        _sign(clinic, owner, patient_id, **overrides)
    assert caught.value.field == field
    assert _count(clinic.db, StoredDocument) == 0


def test_unknown_template_and_missing_or_merged_patient_are_refused(clinic, owner, patient_id):
    with pytest.raises(NotFoundError, match="no consent form “tattoo”"):
        _sign(clinic, owner, patient_id, template_key="tattoo")
    with pytest.raises(NotFoundError, match="no longer exists"):
        _sign(clinic, owner, 999_999)
    with clinic.db.uow() as session:
        kept = session.get(Patient, patient_id)
        merged = add_patient(session, is_active=False, merged_into_id=kept.id)
        inactive = add_patient(session, is_active=False)
        merged_id, inactive_id = merged.id, inactive.id
    with pytest.raises(ValidationError, match="merged into another"):
        _sign(clinic, owner, merged_id)
    with pytest.raises(ValidationError, match="deactivated"):
        _sign(clinic, owner, inactive_id)
    assert _count(clinic.db, StoredDocument) == 0


def test_a_switched_off_template_is_refused(clinic, owner, patient_id):
    consents.install_starter_consents(clinic.db, owner)
    with clinic.db.uow() as session:
        template = session.scalar(select(ConsentTemplate).where(ConsentTemplate.key == "laser"))
        template.is_active = False
    with pytest.raises(ValidationError, match="switched off"):
        _sign(clinic, owner, patient_id)


def test_a_provider_cannot_store_a_signed_consent(clinic, make_staff, patient_id):
    provider = make_staff("paula", "provider")
    with pytest.raises(PermissionDeniedError):
        _sign(clinic, provider, patient_id)
    assert _count(clinic.db, StoredDocument) == 0


# --- what is stored --------------------------------------------------------------------------


def test_the_stored_copy_matches_its_hash_and_names_its_version(clinic, owner, patient_id):
    signed = _sign(clinic, owner, patient_id)
    line, content = documents.document_content(clinic.db, owner, signed.document_id)
    assert content.startswith(b"%PDF-")
    assert hashlib.sha256(content).hexdigest() == signed.sha256 == line.sha256
    assert line.kind == "consent" and line.mime_type == "application/pdf"
    assert line.filename.startswith("consent-laser-v1-en-") and line.filename.endswith(
        "-signed.pdf"
    )
    with clinic.db.uow() as session:
        doc = session.get(StoredDocument, signed.document_id)
        version = session.get(ConsentVersion, doc.consent_version_id)
        assert (version.version, version.language) == (1, "en")
        assert doc.signed_at is not None and doc.signed_at.tzinfo is not None
        assert doc.witness_staff_id == owner.staff_id
        assert doc.title == "Consent for laser treatment"
    assert (signed.version, signed.language, signed.signer_relationship) == (1, "en", "self")
    assert signed.witness_name == "Olivia Owner" and signed.recorded_by == "Olivia Owner"


def test_the_signing_is_audited_with_the_version_and_hash(clinic, owner, patient_id):
    signed = _sign(clinic, owner, patient_id)
    rows = _signed_audit_rows(clinic.db)
    assert len(rows) == 1
    row = rows[0]
    assert (row.entity, row.entity_id, row.patient_id, row.staff_id) == (
        "stored_documents",
        signed.document_id,
        patient_id,
        owner.staff_id,
    )
    assert "laser v1 (en)" in row.detail and signed.sha256 in row.detail
    # Rendering the signed copy is not a print: no print row for it.
    with clinic.db.uow() as session:
        prints = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "print")
        )
    assert prints == 0


def test_the_pdf_shows_name_time_witness_version_and_the_signature(clinic, owner, patient_id):
    signed = _sign(
        clinic,
        owner,
        patient_id,
        signer_name="María Nguyễn",
        relationship="parent_or_guardian",
        witness_staff_id=None,
        witness_name="Dana Díaz",
    )
    _line, content = documents.document_content(clinic.db, owner, signed.document_id)
    text = " ".join(pdf_pages_text(content))
    assert "María Nguyễn" in text and "Parent or legal guardian" in text
    assert "Dana Díaz" in text and signed.witness_name == "Dana Díaz"
    assert signed.witness_staff_id is None
    assert "Laser hair removal, upper lip" in text
    assert "Form laser, version 1 (en)" in text
    assert "Date and time signed" in text
    # The clinic's wall-clock time of the signing, e.g. "December 5, 2026, 9:41 AM".
    from app.i18n import format_datetime

    when = format_datetime(signed.signed_at, "America/New_York", "en_US", "long", "short")
    assert re.sub(r"\s+", " ", when) in text
    assert "witnessed by Dana Díaz" in text
    reader = PdfReader(io.BytesIO(content))
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1
    assert images[0].image.size[0] > 200  # the signature itself, not an icon


def test_the_patients_language_is_the_default_and_can_be_overridden(
    clinic, clinic_details, owner, patient_id
):
    with clinic.db.uow() as session:
        session.get(Patient, patient_id).preferred_language = "es"
    # The clinic's year now ("5 de diciembre de 2026, 9:41 a.m."), either side of signing.
    years = {datetime.now(ZoneInfo(clinic_details.timezone)).year}
    signed = _sign(clinic, owner, patient_id)
    years.add(datetime.now(ZoneInfo(clinic_details.timezone)).year)
    assert signed.language == "es"
    _line, content = documents.document_content(clinic.db, owner, signed.document_id)
    text = " ".join(pdf_pages_text(content))
    assert "Firmas" in text and "Formulario laser, versión 1 (es)" in text
    assert any(f"de {year}," in text for year in years)
    # New strings of the signed block: pass once es-S.po is merged into the catalogs.
    assert "Fecha y hora de la firma" in text
    assert "El propio paciente" in text
    english = _sign(clinic, owner, patient_id, language="en")
    assert english.language == "en"


def test_a_later_edit_leaves_the_signed_copy_alone(clinic, owner, patient_id):
    signed = _sign(clinic, owner, patient_id)
    _line, before = documents.document_content(clinic.db, owner, signed.document_id)
    consents.save_consent_version(
        clinic.db,
        owner,
        "laser",
        "en",
        ConsentWording(title="Laser consent (revised)", body="New wording for {patient_name}."),
    )
    _line, after = documents.document_content(clinic.db, owner, signed.document_id)
    assert after == before
    [listed] = consents.signed_consents(clinic.db, owner, patient_id)
    assert (listed.version, listed.sha256) == (1, signed.sha256)
    # The next signature takes the new wording.
    again = _sign(clinic, owner, patient_id)
    assert again.version == 2
    _line, new_copy = documents.document_content(clinic.db, owner, again.document_id)
    assert "New wording for Zoë Nguyễn." in " ".join(pdf_pages_text(new_copy))


def test_signed_consents_lists_newest_first_without_unsigned_documents(clinic, owner, patient_id):
    documents.add_document(clinic.db, owner, patient_id, "scan.pdf", b"%PDF-1.4 scan", "consent")
    first = _sign(clinic, owner, patient_id, template_key="photography_release")
    second = _sign(clinic, owner, patient_id)
    listed = consents.signed_consents(clinic.db, owner, patient_id)
    assert [c.document_id for c in listed] == [second.document_id, first.document_id]
    assert [c.template_key for c in listed] == ["laser", "photography_release"]
    assert listed[1].title == "Clinical photography consent and release"
    with pytest.raises(NotFoundError):
        consents.signed_consents(clinic.db, owner, 999_999)


# --- what signing clears ---------------------------------------------------------------------


def test_signing_clears_the_booking_warning_and_the_unsigned_list(clinic, owner, patient_id):
    consents.install_starter_consents(clinic.db, owner)
    with clinic.db.uow() as session:
        laser = add_service(session, name="Laser hair removal")
        template_id = session.scalar(
            select(ConsentTemplate.id).where(ConsentTemplate.key == "laser")
        )
        session.add(ServiceRequiredConsent(service_id=laser.id, consent_template_id=template_id))
        add_appointment(
            session, session.get(Patient, patient_id), add_provider(session), service_id=laser.id
        )
        laser_id = laser.id
    with clinic.db.uow() as session:
        warnings = scheduling.consent_warnings(session, patient_id, laser_id)
    assert warnings == [
        "Laser hair removal needs the “Consent for laser treatment” form signed; "
        "it is not signed yet."
    ]
    unsigned = consents.unsigned_required_consents(clinic.db, owner, patient_id)
    assert [u.template_key for u in unsigned] == ["laser"]

    _sign(clinic, owner, patient_id)

    with clinic.db.uow() as session:
        assert scheduling.consent_warnings(session, patient_id, laser_id) == []
    assert consents.unsigned_required_consents(clinic.db, owner, patient_id) == []


# --- what the dialog reads -------------------------------------------------------------------


def test_signing_choices_and_preview(clinic, owner, patient_id):
    with clinic.db.uow() as session:
        add_provider(session, name="Ana Ruiz", credentials="DDS")
    choices = consents.signing_choices(clinic.db, owner, patient_id)
    assert choices.patient_name == "Zoë Nguyễn" and choices.language == "en"
    keys = [key for key, _title in choices.templates]
    assert keys[:3] == ["general_treatment", "injectables", "laser"]
    assert ("laser", "Consent for laser treatment") in choices.templates
    assert [name for _id, name in choices.providers] == ["Dr. Ana Ruiz, DDS"]
    assert (owner.staff_id, "Olivia Owner") in choices.staff

    preview = consents.consent_preview(
        clinic.db,
        owner,
        patient_id,
        "laser",
        procedure="Laser, upper lip",
        provider_id=choices.providers[0][0],
    )
    assert preview.version == 1 and preview.language == "en"
    assert "Zoë Nguyễn" in preview.body and "Dr. Ana Ruiz, DDS" in preview.body
    spanish = consents.consent_preview(clinic.db, owner, patient_id, "laser", language="es")
    assert spanish.language == "es" and spanish.title != preview.title
    # Reading the wording on screen is not a print.
    with clinic.db.uow() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "print")
            )
            == 0
        )
