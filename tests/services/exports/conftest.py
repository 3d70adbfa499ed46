"""A patient with a bit of everything, for the record export and FHIR tests: alerts, visits
done, canceled and to come, insurance, documents (a scan, a photo, a signed consent), a
charge, a payment, a discount, a treatment plan and a signed note with an addendum."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fhir.resources import construct_fhir_element
from PIL import Image
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select

from app.data.models.contacts import Contact
from app.data.models.documents import ConsentVersion, StoredDocument
from app.data.models.insurance import InsurancePolicy
from app.data.models.payments import AccountAdjustment, Charge, Payment
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.providers import Provider, Room
from app.services.clinic import catalog
from app.services.clinic.catalog import ProviderData
from app.services.exports.fhir import to_json
from app.services.patients import notes
from app.services.patients.documents import add_document
from app.services.patients.notes import Decision, NoteFields
from tests.data.factories import add_appointment, add_patient, add_service

#: The clinic's "now" in these tests: 11:00 in New York.
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


def small_pdf(words: str) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, words)
    canvas.save()
    return buffer.getvalue()


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def fhir_valid(resource: dict):
    """``resource`` as JSON text read back (money as Decimal) and parsed by fhir.resources'
    FHIR R4 models: raises when anything is not FHIR R4."""
    data = json.loads(to_json(resource), parse_float=Decimal)
    return construct_fhir_element(data["resourceType"], data)


@dataclass(frozen=True)
class World:
    patient_id: int
    provider_id: int
    note_body: str
    addendum: str
    document_ids: tuple[int, ...]
    consent_id: int
    chart: str


@pytest.fixture
def provider(make_staff):
    return make_staff("paula", "provider", "Paula Provider")


@pytest.fixture
def coordinator(make_staff):
    return make_staff("cora", "coordinator", "Cora Coordinator")


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


@pytest.fixture
def world(clinic, owner, provider, coordinator, frozen_clock) -> World:
    frozen_clock(NOW)
    provider_id = catalog.save_provider(
        clinic.db, owner, ProviderData(name="Ana Torres", title="Dr.", credentials="DDS")
    ).id
    with clinic.db.uow() as s:
        patient = add_patient(
            s,
            first_name="Zoë",
            last_name="Ñúñez",
            preferred_name="Zo",
            date_of_birth=date(1984, 3, 9),
            sex="female",
            mobile_phone="+12075550143",
            email="zoe@example.net",
            address_line1="12 Harbour Road",
            city="Portland",
            region="ME",
            postal_code="04101",
            country="US",
            medical_alerts="Latex allergy\nPacemaker",
            allergies="Penicillin",
            medications="Warfarin 5 mg daily",
            emergency_contact_name="Luis Ñúñez",
            emergency_contact_phone="+12075550199",
            emergency_contact_relation="husband",
            primary_provider_id=provider_id,
        )
        exam = add_service(s, name="Periodic exam", name_es="Examen periódico")
        ana = s.get(Provider, provider_id)
        room = Room(name="Operatory 1")
        s.add(room)
        s.flush()
        done = add_appointment(
            s,
            patient,
            ana,
            service_id=exam.id,
            room_id=room.id,
            starts_at=NOW - timedelta(days=30),
            ends_at=NOW - timedelta(days=30, minutes=-30),
            status="completed",
        )
        add_appointment(
            s,
            patient,
            ana,
            service_id=exam.id,
            starts_at=NOW - timedelta(days=10),
            ends_at=NOW - timedelta(days=10, minutes=-30),
            status="cancelled",
            cancelled_by="patient",
            cancel_reason="Car trouble",
            late_cancel=True,
            cancelled_at=NOW - timedelta(days=10, hours=2),
        )
        add_appointment(
            s,
            patient,
            ana,
            service_id=exam.id,
            starts_at=NOW + timedelta(days=20),
            ends_at=NOW + timedelta(days=20, minutes=30),
            status="scheduled",
        )
        payer = Contact(kind="payer", organisation="Delta Dental", phone="+18005550100")
        s.add(payer)
        s.flush()
        s.add(
            InsurancePolicy(
                patient_id=patient.id,
                payer_id=payer.id,
                plan_name="PPO Plus",
                member_id="DD-778812",
                group_number="G-100",
                copay=Decimal("25.00"),
                effective_from=date(2026, 1, 1),
            )
        )
        charge = Charge(
            patient_id=patient.id,
            service_date=(NOW - timedelta(days=30)).date(),
            description="Periodic exam",
            amount=Decimal("120.00"),
            appointment_id=done.id,
            provider_id=provider_id,
        )
        s.add(charge)
        s.add(
            Payment(
                patient_id=patient.id,
                method="cash",
                amount=Decimal("50.00"),
                received_at=NOW - timedelta(days=30),
            )
        )
        s.add(
            AccountAdjustment(
                patient_id=patient.id,
                kind="discount",
                amount=Decimal("10.00"),
                reason="Loyalty discount",
                posted_at=NOW - timedelta(days=29),
            )
        )
        plan = TreatmentPlan(
            patient_id=patient.id,
            provider_id=provider_id,
            title="Crown on #14",
            status="accepted",
            decided_at=NOW - timedelta(days=20),
        )
        s.add(plan)
        s.flush()
        phase = TreatmentPhase(plan_id=plan.id, title="Phase 1", status="accepted")
        s.add(phase)
        s.flush()
        s.add(
            TreatmentItem(
                phase_id=phase.id,
                description="Porcelain crown",
                area="#14",
                fee=Decimal("1200.00"),
                patient_portion=Decimal("600.00"),
                status="accepted",
            )
        )
        version = s.scalars(select(ConsentVersion).order_by(ConsentVersion.id)).first()
        signed = small_pdf("Signed consent")
        consent = StoredDocument(
            patient_id=patient.id,
            kind="consent",
            title="",
            filename="consent-signed.pdf",
            mime_type="application/pdf",
            content=signed,
            sha256=hashlib.sha256(signed).hexdigest(),
            size_bytes=len(signed),
            consent_version_id=version.id,
            signed_at=NOW - timedelta(days=30, hours=1),
        )
        s.add(consent)
        s.flush()
        patient_id, chart, consent_id = patient.id, patient.chart_number, consent.id
    scan = add_document(clinic.db, owner, patient_id, "x-ray report.pdf", small_pdf("X-ray report"))
    photo = add_document(clinic.db, owner, patient_id, "smile.png", small_png())

    body = "Discussed a crown on #14; the patient wants to think about the cost."
    started = notes.start_note(clinic.db, coordinator, patient_id, provider_id)
    notes.save_draft(
        clinic.db,
        coordinator,
        started.summary.id,
        NoteFields(
            reason="Broken filling",
            treatments_discussed="Crown",
            options_and_costs="Crown $1,200",
            patient_questions="Does it hurt?",
            decision=Decision.ACCEPTED,
            provider_id=provider_id,
            body=body,
        ),
    )
    notes.sign_note(clinic.db, provider, started.summary.id)
    addendum = "Patient called back: prefers the morning."
    notes.add_addendum(clinic.db, provider, started.summary.id, addendum)
    return World(
        patient_id=patient_id,
        provider_id=provider_id,
        note_body=body,
        addendum=addendum,
        document_ids=(consent_id, scan.id, photo.id),
        consent_id=consent_id,
        chart=chart,
    )
