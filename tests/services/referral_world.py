"""A small world for the referral tests: contacts, a provider with a login, a patient, and
helpers that walk a referral to a given status through the service itself."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

from PIL import Image
from reportlab.pdfgen import canvas

from app.data.models.contacts import Contact
from app.services.referrals import referrals as rs
from tests.data.factories import add_provider

#: A tiny real PDF (one page, "Specialist report"), as a scanner or fax gateway makes.
REPORT_TEXT = "Specialist report: extraction done, healing well."


def small_pdf(text: str = REPORT_TEXT, pages: int = 1) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for n in range(pages):
        page.drawString(72, 720, f"{text} (page {n + 1})")
        page.showPage()
    page.save()
    return buffer.getvalue()


def small_png(color=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (240, 160), color).save(buffer, format="PNG")
    return buffer.getvalue()


def add_contact(db, **values) -> int:
    fields = {
        "kind": "specialist",
        "name": "Dr. Ann Lee",
        "organisation": "Lee Oral Surgery",
        "specialty": "Oral surgeon",
        "address_line1": "800 Brickell Ave",
        "city": "Miami",
        "region": "FL",
        "postal_code": "33131",
        "phone": "+13055550100",
        "fax": "+13055550198",
    }
    fields.update(values)
    with db.uow() as session:
        contact = Contact(**fields)
        session.add(contact)
        session.flush()
        return contact.id


@dataclass
class World:
    db: object
    owner: object
    coordinator: object
    provider_actor: object
    receptionist: object
    patient_id: int
    specialist_id: int
    referrer_id: int
    provider_id: int
    today: date

    def outgoing(self, **overrides) -> rs.ReferralLine:
        values = {
            "patient_id": self.patient_id,
            "contact_id": self.specialist_id,
            "provider_id": self.provider_id,
            "reason": "Impacted 38, recurrent pericoronitis.",
        }
        values.update(overrides)
        return rs.create_outgoing(self.db, self.coordinator, **values)

    def incoming(self, **overrides) -> rs.ReferralLine:
        values = {
            "referrer_contact_id": self.referrer_id,
            "patient_id": self.patient_id,
            "new_patient": None,
            "reason": "Veneers consultation.",
            "provider_id": self.provider_id,
        }
        values.update(overrides)
        return rs.create_incoming(self.db, self.coordinator, **values)

    def walk(self, line: rs.ReferralLine, to: str) -> rs.ReferralLine:
        """Move ``line`` along its usual path until it reaches ``to``."""
        while line.status != to:
            if line.direction == "outgoing":
                line = self._out_step(line, to)
            else:
                line = self._in_step(line, to)
        return line

    def _out_step(self, line, to):
        db, actor, today = self.db, self.coordinator, self.today
        if to in ("cancelled", "declined") and to in rs.stages.allowed_next(
            line.direction, line.status
        ):
            end = rs.cancel_referral if to == "cancelled" else rs.decline_referral
            return end(db, actor, line.id, version=line.version, reason="Patient moved away")
        match line.status:
            case "draft":
                return rs.mark_sent(db, actor, line.id, version=line.version, via="fax")
            case "sent":
                return rs.record_booked(db, actor, line.id, version=line.version, visit_on=today)
            case "booked":
                return rs.record_seen(db, actor, line.id, version=line.version, seen_on=today)
            case "seen":
                return rs.file_report(
                    db,
                    actor,
                    line.id,
                    version=line.version,
                    filename="report.pdf",
                    content=small_pdf(),
                    received_on=today,
                )
            case "report_received":
                if line.report_acknowledged_at is None:
                    line = rs.acknowledge_report(db, self.owner, line.id, version=line.version)
                return rs.close_referral(db, actor, line.id, version=line.version)
        raise AssertionError(f"cannot walk from {line.status} to {to}")

    def _in_step(self, line, to):
        db, actor, today = self.db, self.coordinator, self.today
        if to in ("cancelled", "declined") and to in rs.stages.allowed_next(
            line.direction, line.status
        ):
            end = rs.cancel_referral if to == "cancelled" else rs.decline_referral
            return end(db, actor, line.id, version=line.version, reason="Patient moved away")
        match line.status:
            case "received":
                return rs.record_booked(db, actor, line.id, version=line.version, visit_on=today)
            case "booked":
                return rs.record_seen(db, actor, line.id, version=line.version, seen_on=today)
            case "seen":
                return rs.close_referral(db, actor, line.id, version=line.version)
        raise AssertionError(f"cannot walk from {line.status} to {to}")


def make_world(clinic, owner, make_staff, patient_id, clinic_day) -> World:
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    provider_actor = make_staff("drokafor", "provider", "Daniel Okafor")
    receptionist = make_staff("rita", "receptionist", "Rita Reception")
    with clinic.db.uow() as session:
        provider = add_provider(
            session,
            name="Daniel Okafor",
            credentials="DDS",
            licence_number="ME-4471",
            staff_id=provider_actor.staff_id,
        )
        provider_id = provider.id
    specialist = add_contact(clinic.db)
    referrer = add_contact(
        clinic.db,
        kind="referring_provider",
        name="Dr. Maria Ruiz",
        organisation="Ruiz Family Dentistry",
        specialty="General dentist",
    )
    return World(
        db=clinic.db,
        owner=owner,
        coordinator=coordinator,
        provider_actor=provider_actor,
        receptionist=receptionist,
        patient_id=patient_id,
        specialist_id=specialist,
        referrer_id=referrer,
        provider_id=provider_id,
        today=clinic_day,
    )


def days(n: int) -> timedelta:
    return timedelta(days=n)
