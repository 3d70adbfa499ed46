"""Referral letters from a ``Referral`` row: specialist, reason, records, audit, storing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.data.models import AuditEntry
from app.data.models.contacts import Contact
from app.data.models.documents import StoredDocument
from app.data.models.patients import Patient
from app.data.models.referrals import Referral
from app.services.errors import NotFoundError, ValidationError
from app.services.patients import referral_letters as rl
from tests.data.factories import add_named_patient, add_provider
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_receipts import set_language


def add_referral(db, patient_id: int, **overrides) -> int:
    with db.uow() as session:
        contact = Contact(
            kind="specialist",
            name="Dr. Łucja Peña",
            organisation="Biscayne Oral Surgery",
            specialty="Oral surgeon",
            address_line1="800 Brickell Ave",
            city="Miami",
            region="FL",
            postal_code="33131",
            fax="(305) 555-0198",
        )
        session.add(contact)
        provider = add_provider(
            session, name="Daniel Okafor", credentials="DDS", licence_number="ME-4471"
        )
        session.flush()
        values = {
            "patient_id": patient_id,
            "direction": "outgoing",
            "contact_id": contact.id,
            "provider_id": provider.id,
            "reason": "Impacted 38 and 48, recurrent pericoronitis.",
            "attached_records": "Panoramic x-ray\n\n- Medication list\n",
            "referred_on": date(2026, 11, 23),
        }
        values.update(overrides)
        referral = Referral(**values)
        session.add(referral)
        session.flush()
        return referral.id


def test_the_letter_is_built_from_the_referral_its_specialist_and_provider(
    clinic, owner, patient_id
):
    referral_id = add_referral(clinic.db, patient_id)
    letter = rl.referral_letter_data(clinic.db, owner, referral_id)
    assert letter.recipient.name == "Dr. Łucja Peña"
    assert letter.recipient.address_lines == ("800 Brickell Ave", "Miami FL 33131")
    assert letter.attached_records == ("Panoramic x-ray", "Medication list")
    assert (letter.provider_name, letter.provider_credentials) == ("Dr. Daniel Okafor", "DDS")
    assert letter.letterhead.name == "Bayside Dental" and not letter.urgent
    (page,) = pdf_pages_text(rl.referral_letter_pdf(clinic.db, owner, referral_id))
    assert "Dear Dr. Łucja Peña," in page
    assert "Impacted 38 and 48, recurrent pericoronitis." in page
    assert "Dr. Daniel Okafor, DDS License no. ME-4471 Bayside Dental" in page
    assert "Zoë Nguyễn" in page and "November 23, 2026" in page


def test_the_letter_is_in_the_clinics_language_unless_chosen(clinic, owner, patient_id):
    """The specialist reads it: a Spanish-speaking patient does not make it Spanish."""
    set_language(clinic.db, patient_id, "es")
    referral_id = add_referral(clinic.db, patient_id, urgency="urgent")
    assert rl.referral_letter_data(clinic.db, owner, referral_id).locale == "en_US"
    pdf = rl.referral_letter_pdf(clinic.db, owner, referral_id, language="es")
    (page,) = pdf_pages_text(pdf)
    assert "Carta de derivación" in page and "URGENTE" in page
    assert "23 de noviembre de 2026" in page
    with pytest.raises(ValidationError, match="English or Spanish"):
        rl.referral_letter_data(clinic.db, owner, referral_id, language="de")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"direction": "incoming"}, "only for a referral we send"),
        ({"contact_id": None}, "Choose the specialist"),
    ],
)
def test_referrals_without_a_letter_to_write_are_refused(
    clinic, owner, patient_id, overrides, message
):
    referral_id = add_referral(clinic.db, patient_id, **overrides)
    with pytest.raises(ValidationError, match=message):
        rl.referral_letter_data(clinic.db, owner, referral_id)
    with pytest.raises(NotFoundError):
        rl.referral_letter_data(clinic.db, owner, 9999)


def test_printing_is_audited_and_the_system_print_checks_the_patient(clinic, owner, patient_id):
    referral_id = add_referral(clinic.db, patient_id)
    other = add_named_patient(clinic.db, "Ana", "Ruiz")
    rl.command_referral_letter_pdf(clinic.db, owner, patient_id, referral_id)
    with pytest.raises(NotFoundError, match="belongs to another patient"):
        rl.command_referral_letter_pdf(clinic.db, owner, other, referral_id)
    with clinic.db.uow() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "print")).all()
        assert (entry.entity, entry.entity_id, entry.patient_id) == (
            "referrals",
            referral_id,
            patient_id,
        )
        assert entry.staff_id == owner.staff_id and "referral letter (en_US)" in entry.detail


def test_storing_the_letter_keeps_it_with_the_patient_and_the_referral(clinic, owner, patient_id):
    referral_id = add_referral(clinic.db, patient_id)
    line = rl.store_referral_letter(clinic.db, owner, referral_id)
    with clinic.db.uow() as session:
        referral = session.get(Referral, referral_id)
        assert referral.letter_document_id == line.id
        stored = session.get(StoredDocument, line.id)
        assert (stored.patient_id, stored.kind) == (patient_id, "referral_letter")
        assert stored.filename == f"Referral letter #{referral_id}.pdf"
        assert stored.content.startswith(b"%PDF")


def test_phone_numbers_print_as_people_write_them(clinic, owner, patient_id):
    referral_id = add_referral(clinic.db, patient_id)
    with clinic.db.uow() as session:
        referral = session.get(Referral, referral_id)
        contact = session.get(Contact, referral.contact_id)
        contact.phone, contact.fax = "+13055550199", "+13055550198"
        session.get(Patient, patient_id).mobile_phone = "+15125550229"

    letter = rl.referral_letter_data(clinic.db, owner, referral_id)

    assert (letter.recipient.phone, letter.recipient.fax) == ("(305) 555-0199", "(305) 555-0198")
    assert letter.patient_phone == "(512) 555-0229"
