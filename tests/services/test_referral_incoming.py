"""Incoming referrals: a new patient through the duplicate check, the referrer recorded, the
consultation linked, the consult letter back; and the printed packet and reminder of an
outgoing one, audited."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.data.models import AuditEntry
from app.data.models.appointments import Appointment
from app.data.models.documents import StoredDocument
from app.data.models.notes import ConsultationNote
from app.data.models.patients import Patient
from app.data.models.referrals import Referral, ReferralEvent
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.referrals import referrals as rs
from app.services.referrals.incoming import LEAD_SOURCE
from tests.data.factories import add_appointment, add_named_patient
from tests.documents.pdfread import pdf_pages_text
from tests.services.referral_world import World, add_contact, make_world, small_pdf, small_png

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)


@pytest.fixture
def world(clinic, owner, make_staff, patient_id, frozen_clock) -> World:
    frozen_clock(NOW)
    return make_world(clinic, owner, make_staff, patient_id, TODAY)


def count(db, model) -> int:
    with db.uow() as session:
        return session.scalar(select(func.count()).select_from(model))


NEW = {
    "first_name": "Maya",
    "last_name": "Okonkwo",
    "date_of_birth": date(1990, 4, 2),
    "mobile_phone": "(207) 555-0188",
    "email": "Maya@Example.com",
}


@pytest.mark.both_backends
def test_a_referral_for_a_new_patient_creates_them_and_records_the_referrer(world):
    line = world.incoming(patient_id=None, new_patient=NEW, urgency="soon")
    assert (line.direction, line.status, line.urgency, line.referred_on) == (
        "incoming",
        "received",
        "soon",
        TODAY,
    )
    assert line.contact_name == "Dr. Maria Ruiz, Ruiz Family Dentistry"
    assert line.next_action == "Book the consultation"
    with world.db.uow() as session:
        patient = session.get(Patient, line.patient_id)
        assert (patient.first_name, patient.mobile_phone, patient.email, patient.lead_source) == (
            "Maya",
            "+12075550188",
            "maya@example.com",
            LEAD_SOURCE,
        )
        event = session.scalars(
            select(ReferralEvent).where(ReferralEvent.referral_id == line.id)
        ).one()
        assert (event.from_status, event.to_status, event.on_date) == (None, "received", TODAY)
    assert [e.text for e in rs.referral_detail(world.db, world.owner, line.id).events] == [
        "Referral received on Mar 10, 2026"
    ]


def test_a_possible_duplicate_is_named_and_nothing_is_added(world):
    world.incoming(patient_id=None, new_patient=NEW)
    patients, referrals = count(world.db, Patient), count(world.db, Referral)
    again = {**NEW, "first_name": "Maya", "email": "", "mobile_phone": "207 555 0188"}
    with pytest.raises(rs.PossibleDuplicatesError) as refused:
        world.incoming(patient_id=None, new_patient=again)
    assert str(refused.value) == (
        "This patient may already be on file: Okonkwo, Maya (same name and date of birth, "
        "same phone number). Choose the patient on file, or add the new patient anyway."
    )
    assert refused.value.field == "new_patient"
    (match,) = refused.value.matches
    assert (count(world.db, Patient), count(world.db, Referral)) == (patients, referrals)

    linked = world.incoming(patient_id=None, new_patient=again, link_to_patient_id=match.patient.id)
    assert linked.patient_id == match.patient.id
    assert count(world.db, Patient) == patients
    twin = world.incoming(patient_id=None, new_patient=again, allow_duplicate=True)
    assert twin.patient_id != match.patient.id
    assert count(world.db, Patient) == patients + 1


def test_a_refused_referral_adds_no_patient_either(world):
    payer = add_contact(world.db, kind="payer", name="", organisation="Aetna")
    patients = count(world.db, Patient)
    with pytest.raises(ValidationError, match="“Aetna” is an insurance payer; a referral comes"):
        world.incoming(patient_id=None, new_patient=NEW, referrer_contact_id=payer)
    with pytest.raises(ValidationError, match="day it came cannot be in the future"):
        world.incoming(patient_id=None, new_patient=NEW, received_on=TODAY + timedelta(days=1))
    with pytest.raises(ValidationError, match="Last name is required"):
        world.incoming(patient_id=None, new_patient={**NEW, "last_name": " "})
    with pytest.raises(ValidationError, match="Choose the patient on file, or type"):
        world.incoming(patient_id=None, new_patient=None)
    assert count(world.db, Patient) == patients


def test_an_informal_referral_keeps_the_patients_own_lead_source(world):
    with world.db.uow() as session:
        session.get(Patient, world.patient_id).lead_source = "Google"
    line = world.incoming(referrer_contact_id=None)
    assert line.contact_name == ""
    with world.db.uow() as session:
        assert session.get(Patient, world.patient_id).lead_source == "Google"


def _appointment(world: World, patient_id: int, starts: datetime, **values) -> int:
    with world.db.uow() as session:
        from app.data.models.providers import Provider

        appointment = add_appointment(
            session,
            session.get(Patient, patient_id),
            session.get(Provider, world.provider_id),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=45),
            **values,
        )
        return appointment.id


@pytest.mark.both_backends
def test_the_consultation_is_linked_then_seen_then_the_letter_goes_back(world):
    line = world.incoming()
    # 01:30 UTC on the 14th is the evening of the 13th in New York: the visit's local day.
    appointment = _appointment(world, world.patient_id, datetime(2026, 3, 14, 1, 30, tzinfo=UTC))
    booked = rs.link_consultation(
        world.db, world.coordinator, line.id, version=line.version, appointment_id=appointment
    )
    assert (booked.status, booked.visit_on, booked.appointment_id) == (
        "booked",
        date(2026, 3, 13),
        appointment,
    )
    # Before the visit there is no consult letter to write.
    with pytest.raises(ValidationError, match="once the patient was seen"):
        rs.consult_letter_pdf(world.db, world.coordinator, line.id)
    seen = rs.record_seen(
        world.db, world.coordinator, line.id, version=booked.version, seen_on=TODAY
    )
    assert seen.next_action == "Send the consult letter and close"
    pdf = rs.consult_letter_pdf(
        world.db, world.coordinator, line.id, findings="Veneers planned on 11 and 21."
    )
    (page,) = pdf_pages_text(pdf)
    assert "Consult letter" in page and "Dear Dr. Maria Ruiz," in page
    assert "Thank you for referring Zoë Nguyễn to us. We saw the patient on March 10, 2026." in (
        page
    )
    assert "You referred the patient for: Veneers consultation." in page
    assert "Our findings and plan: Veneers planned on 11 and 21." in page
    assert "Sincerely, Dr. Daniel Okafor, DDS License no. ME-4471" in page
    with world.db.uow() as session:
        detail = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.entity == "referrals",
                AuditEntry.entity_id == line.id,
                AuditEntry.action == "print",
            )
        ).all()
    assert detail == [f"consult letter (en_US) to contact #{world.referrer_id}"]
    closed = rs.close_referral(world.db, world.coordinator, line.id, version=seen.version)
    assert closed.status == "closed"
    texts = [e.text for e in rs.referral_detail(world.db, world.owner, line.id).events]
    assert texts == [
        "Referral received on Mar 10, 2026",
        "Visit booked for Mar 13, 2026",
        "Patient seen on Mar 10, 2026",
        "Letter printed: Consult letter",
        "Referral closed",
    ]


def test_the_consult_letter_in_spanish(world):
    line = world.walk(world.incoming(), "seen")
    (page,) = pdf_pages_text(rs.consult_letter_pdf(world.db, world.owner, line.id, language="es"))
    assert "Gracias por derivarnos a Zoë Nguyễn." in page
    assert "10 de marzo de 2026" in page
    with pytest.raises(ValidationError, match="not “fr”"):
        rs.consult_letter_pdf(world.db, world.owner, line.id, language="fr")


def test_another_patients_or_a_cancelled_appointment_is_refused(world):
    line = world.incoming()
    other = add_named_patient(world.db, "Otto", "Other")
    theirs = _appointment(world, other, NOW + timedelta(days=3))
    cancelled = _appointment(world, world.patient_id, NOW + timedelta(days=4), status="cancelled")
    for appointment, message in [
        (theirs, "That appointment is not one of this patient's"),
        (cancelled, "That appointment was canceled or missed"),
    ]:
        with pytest.raises(ValidationError, match=message):
            rs.link_consultation(
                world.db, world.coordinator, line.id, version=line.version,
                appointment_id=appointment,
            )  # fmt: skip
    assert rs.referral_detail(world.db, world.owner, line.id).line.status == "received"
    with world.db.uow() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_only_an_incoming_referral_takes_a_consultation(world):
    line = world.walk(world.outgoing(), "sent")
    appointment = _appointment(world, world.patient_id, NOW + timedelta(days=3))
    with pytest.raises(ValidationError, match="this one we sent"):
        rs.link_consultation(
            world.db, world.coordinator, line.id, version=line.version, appointment_id=appointment
        )


# --- the packet and the reminder ----------------------------------------------------------------


def _document(world: World, filename: str, content: bytes, mime: str) -> int:
    with world.db.uow() as session:
        document = StoredDocument(
            patient_id=world.patient_id,
            kind="scan",
            filename=filename,
            mime_type=mime,
            content=content,
            sha256="2" * 64,
            size_bytes=len(content),
        )
        session.add(document)
        session.flush()
        return document.id


def _signed_note(world: World) -> int:
    with world.db.uow() as session:
        note = ConsultationNote(
            patient_id=world.patient_id,
            provider_id=world.provider_id,
            author_id=world.provider_actor.staff_id,
            consulted_at=NOW - timedelta(days=3),
            reason="Pain at 38 for two weeks",
            treatments_discussed="Extraction of 38",
            body="Swelling settled with antibiotics.",
            status="signed",
            signed_by_id=world.provider_actor.staff_id,
            signed_at=NOW - timedelta(days=3),
        )
        session.add(note)
        session.flush()
        return note.id


@pytest.mark.both_backends
def test_the_packet_holds_the_letter_the_note_and_the_scan_and_is_audited(world):
    scan = _document(world, "panoramic.png", small_png(), "image/png")
    lab = _document(world, "labs.pdf", small_pdf("Lab results"), "application/pdf")
    note = _signed_note(world)
    line = world.outgoing(document_ids=[scan, lab], note_ids=[note], attached_records="Models")
    pdf = rs.referral_packet_pdf(world.db, world.coordinator, line.id)
    pages = pdf_pages_text(pdf)
    # The letter, the note, the scan, then the page naming the stored PDF and its own page.
    assert len(pages) == 5
    assert "Dear Dr. Ann Lee," in pages[0]
    assert (
        "Enclosed records • Consultation note, Dr. Daniel Okafor (Mar 7, 2026) "
        "• panoramic.png (Mar 10, 2026) • labs.pdf (Mar 10, 2026) • Models"
    ) in pages[0]
    assert "Reason for the consultation Pain at 38 for two weeks" in pages[1]
    assert "Notes Swelling settled with antibiotics." in pages[1]
    assert "Signed by Daniel Okafor · Mar 7, 2026" in pages[1]
    assert "Enclosure 2 of 3: panoramic.png" in pages[2]
    assert "Enclosure 3 of 3: labs.pdf (Mar 10, 2026) Pages that follow: 1" in pages[3]
    assert "Lab results (page 1)" in pages[4]
    assert "Enclosure 3 of 3: labs.pdf (Mar 10, 2026) · Page 5 of 5" in pages[4]
    assert "Enclosed separately" not in " ".join(pages)
    with world.db.uow() as session:
        printed = set(
            session.execute(
                select(AuditEntry.entity, AuditEntry.entity_id).where(AuditEntry.action == "print")
            ).all()
        )
    assert {
        ("referrals", line.id),
        ("stored_documents", scan),
        ("stored_documents", lab),
        ("consultation_notes", note),
    } <= printed
    assert rs.referral_detail(world.db, world.owner, line.id).events[-1].text == (
        "Letter printed: Referral packet"
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            None,
            (
                "Enclosed separately",
                "locked.pdf (Mar 10, 2026) — could not be opened: protected by a password",
                "cut-short.pdf (Mar 10, 2026) — could not be opened: the file is damaged",
            ),
        ),
        (
            "es",
            (
                "Se envían por separado",
                "locked.pdf (10 mar 2026) — no se pudo abrir: está protegido con contraseña",
                "cut-short.pdf (10 mar 2026) — no se pudo abrir: el archivo está dañado",
            ),
        ),
    ],
)
def test_a_stored_pdf_the_packet_cannot_open_is_listed_with_why(world, language, expected):
    """A PDF saved with a password, or cut short, still leaves a packet to send: the others
    go in, and it is listed to be sent separately, saying why; it is audited all the same."""
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, encrypt=pdfencrypt.StandardEncryption("secret"))
    page.drawString(72, 720, "Biopsy")
    page.showPage()
    page.save()
    locked = _document(world, "locked.pdf", buffer.getvalue(), "application/pdf")
    whole = small_pdf("Lab results", pages=2)
    cut = _document(world, "cut-short.pdf", whole[: len(whole) // 2], "application/pdf")
    lab = _document(world, "labs.pdf", whole, "application/pdf")
    line = world.outgoing(document_ids=[locked, cut, lab])

    pages = pdf_pages_text(
        rs.referral_packet_pdf(world.db, world.coordinator, line.id, language=language)
    )

    # The letter, the lab's naming page and its two pages, then the list.
    assert len(pages) == 5
    assert "Lab results (page 2)" in pages[3]
    heading, *reasons = expected
    assert heading in pages[4]
    for reason in reasons:
        assert reason in pages[4]
    with world.db.uow() as session:
        printed = set(
            session.scalars(
                select(AuditEntry.entity_id).where(
                    AuditEntry.action == "print", AuditEntry.entity == "stored_documents"
                )
            )
        )
    assert {locked, cut, lab} <= printed


def test_the_desk_prints_a_packet_only_without_notes(world):
    scan = _document(world, "panoramic.png", small_png(), "image/png")
    plain = world.outgoing(document_ids=[scan])
    assert len(pdf_pages_text(rs.referral_packet_pdf(world.db, world.receptionist, plain.id))) == 2
    with_note = world.outgoing(note_ids=[_signed_note(world)])
    with pytest.raises(PermissionDeniedError, match="consultation notes, which your role"):
        rs.referral_packet_pdf(world.db, world.receptionist, with_note.id)


def test_the_packet_of_an_incoming_referral_is_refused(world):
    line = world.incoming()
    with pytest.raises(ValidationError, match="a letter is written only for a referral we send"):
        rs.referral_packet_pdf(world.db, world.coordinator, line.id)


@pytest.mark.parametrize(
    ("status", "asks"),
    [
        ("sent", "have not yet heard that an appointment was made"),
        ("booked", "We have not yet received your report"),
        ("seen", "We have not yet received your report"),
    ],
)
def test_the_reminder_asks_for_what_the_office_owes(world, status, asks):
    line = world.walk(world.outgoing(), status)
    (page,) = pdf_pages_text(rs.reminder_letter_pdf(world.db, world.coordinator, line.id))
    assert "Referral reminder" in page and "Dear Dr. Ann Lee," in page
    assert asks in page


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("draft", "has not been sent yet"),
        ("report_received", "Nothing on this referral waits on the specialist's office"),
        ("closed", "Nothing on this referral waits"),
    ],
)
def test_no_reminder_when_nothing_waits_on_the_office(world, status, message):
    line = world.walk(world.outgoing(), status)
    with pytest.raises(ValidationError, match=message):
        rs.reminder_letter_pdf(world.db, world.coordinator, line.id)


def test_the_reminder_in_spanish(world):
    line = world.walk(world.outgoing(), "sent")
    (page,) = pdf_pages_text(
        rs.reminder_letter_pdf(world.db, world.coordinator, line.id, language="es")
    )
    assert "Recordatorio de derivación" in page
    assert "Derivamos a Zoë Nguyễn a su consulta el 10 de marzo de 2026" in page
