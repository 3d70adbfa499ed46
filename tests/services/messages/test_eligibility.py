"""Whether a message may go: every reason it may not, for the patient and for what the
message is about — asked when it is queued and again just before it is sent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.appointments import Appointment
from app.data.models.contacts import Contact
from app.data.models.messages import Message, MessageKind
from app.data.models.patients import Patient
from app.data.models.payments import Installment, PaymentPlan
from app.data.models.referrals import Referral
from app.services.messages import eligibility as e
from app.services.messages.eligibility import why_not_send, why_not_to_patient
from app.services.messages.queueing import add_message
from tests.data.factories import add_appointment, add_patient, add_provider

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
VISIT_AT = NOW + timedelta(days=2)


def _patient(**changes) -> Patient:
    patient = Patient(
        first_name="Ana", last_name="Example", mobile_phone="+12075550123",
        email="ana@example.org", may_text=True, may_email=True, is_active=True,
        merged_into_id=None, deceased_on=None, text_opted_out_at=None, email_bounced_at=None,
    )  # fmt: skip
    for name, value in changes.items():
        setattr(patient, name, value)
    return patient


@pytest.mark.parametrize(
    ("changes", "channel", "reason"),
    [
        ({}, "text", None),
        ({}, "email", None),
        ({"may_text": False}, "text", e.NO_TEXT_CONSENT),
        ({"may_text": False}, "email", None),
        ({"may_email": False}, "email", e.NO_EMAIL_CONSENT),
        ({"may_email": False}, "text", None),
        ({"text_opted_out_at": NOW}, "text", e.OPTED_OUT),
        ({"text_opted_out_at": NOW}, "email", None),
        ({"email_bounced_at": NOW}, "email", e.BOUNCED),
        ({"email_bounced_at": NOW}, "text", None),
        ({"is_active": False}, "text", e.INACTIVE),
        ({"is_active": False, "merged_into_id": 7}, "email", e.MERGED),
        ({"deceased_on": date(2026, 11, 30)}, "text", e.DECEASED),
        ({"deceased_on": date(2026, 11, 30)}, "email", e.DECEASED),
        ({"mobile_phone": ""}, "text", e.NO_MOBILE),
        ({"email": "  "}, "email", e.NO_EMAIL),
    ],
)
def test_who_may_get_a_message(changes, channel, reason):
    assert why_not_to_patient(_patient(**changes), channel, now=NOW) == reason


# --- at send time: what the message is about -------------------------------------------------


@pytest.fixture
def world(clinic):
    """A patient who may get texts and e-mail, a visit in two days, an unpaid installment,
    a referral sent to a specialist's office."""
    with clinic.db.uow() as session:
        patient = add_patient(
            session, mobile_phone="+12075550123", email="ana@example.org", may_text=True,
            may_email=True,
        )  # fmt: skip
        provider = add_provider(session)
        visit = add_appointment(
            session, patient, provider, starts_at=VISIT_AT, ends_at=VISIT_AT + timedelta(hours=1)
        )
        plan = PaymentPlan(
            patient_id=patient.id, status="active", plan_date=date(2026, 11, 1),
            total_amount=Decimal("300.00"), financed_amount=Decimal("300.00"),
            installment_count=1, first_due_on=date(2026, 12, 10),
        )  # fmt: skip
        session.add(plan)
        session.flush()
        installment = Installment(
            payment_plan_id=plan.id, sequence=1, due_on=date(2026, 12, 10),
            amount=Decimal("300.00"), principal=Decimal("300.00"), balance_after=Decimal("0"),
        )  # fmt: skip
        contact = Contact(kind="specialist", name="Dr. Patel", email="office@patel.example")
        session.add_all([installment, contact])
        session.flush()
        referral = Referral(
            patient_id=patient.id, direction="outgoing", contact_id=contact.id, status="sent",
            referred_on=date(2026, 11, 20),
        )  # fmt: skip
        session.add(referral)
        session.flush()
        return {
            "patient": patient.id,
            "visit": visit.id,
            "installment": installment.id,
            "plan": plan.id,
            "contact": contact.id,
            "referral": referral.id,
        }


def _message(session, world, kind, channel="text") -> Message:
    about: dict[str, object] = {"patient_id": world["patient"]}
    to = "+12075550123" if channel == "text" else "ana@example.org"
    if kind in e.VISIT_KINDS:
        about |= {"appointment_id": world["visit"], "appointment_starts_at": VISIT_AT}
    elif kind in (MessageKind.INSTALLMENT_DUE.value, MessageKind.INSTALLMENT_OVERDUE.value):
        about |= {"installment_id": world["installment"]}
    elif kind == MessageKind.POST_TREATMENT.value:
        about |= {"appointment_id": world["visit"]}
    elif kind == MessageKind.REFERRAL_REMINDER.value:
        about |= {"contact_id": world["contact"], "referral_id": world["referral"]}
        to = "office@patel.example"
    message = add_message(
        session, kind=kind, channel=channel, to_address=to, language="en", subject="",
        body="Hello", due_at=NOW, **about,
    )  # fmt: skip
    assert message is not None
    return message


def _set(model, row_id: int, **values):
    def change(session, world):
        row = session.get(model, world[row_id] if isinstance(row_id, str) else row_id)
        for name, value in values.items():
            setattr(row, name, value)

    return change


def _visit(**values):
    return lambda session, world: _set(Appointment, "visit", **values)(session, world)


def _book_another_visit(session, world):
    session.get(Appointment, world["visit"]).status = "cancelled"
    patient = session.get(Patient, world["patient"])
    add_appointment(
        session, patient, add_provider(session), starts_at=NOW + timedelta(days=20),
        ends_at=NOW + timedelta(days=20, hours=1),
    )  # fmt: skip


REMINDER = MessageKind.APPOINTMENT_REMINDER.value
CONFIRM = MessageKind.CONFIRMATION_REQUEST.value
RECALL = MessageKind.RECALL_DUE.value
DUE = MessageKind.INSTALLMENT_DUE.value
OVERDUE = MessageKind.INSTALLMENT_OVERDUE.value
AFTER = MessageKind.POST_TREATMENT.value
REFERRAL = MessageKind.REFERRAL_REMINDER.value


@pytest.mark.parametrize(
    ("kind", "channel", "change", "reason"),
    [
        (REMINDER, "text", None, None),
        (REMINDER, "email", None, None),
        (REMINDER, "text", _visit(status="cancelled"), e.VISIT_CANCELLED),
        (REMINDER, "text", _visit(status="no_show"), e.VISIT_NO_SHOW),
        (REMINDER, "text", _visit(status="arrived"), e.VISIT_HAPPENED),
        (
            REMINDER,
            "text",
            _visit(starts_at=VISIT_AT + timedelta(hours=3), ends_at=VISIT_AT + timedelta(hours=4)),
            e.VISIT_MOVED,
        ),
        (CONFIRM, "text", _visit(status="confirmed"), e.VISIT_CONFIRMED),
        (REMINDER, "text", _visit(status="confirmed"), None),
        (REMINDER, "text", _set(Patient, "patient", may_text=False), e.NO_TEXT_CONSENT),
        (REMINDER, "text", _set(Patient, "patient", text_opted_out_at=NOW), e.OPTED_OUT),
        (REMINDER, "email", _set(Patient, "patient", email_bounced_at=NOW), e.BOUNCED),
        (REMINDER, "email", _set(Patient, "patient", may_email=False), e.NO_EMAIL_CONSENT),
        (REMINDER, "text", _set(Patient, "patient", is_active=False), e.INACTIVE),
        (REMINDER, "text", _set(Patient, "patient", deceased_on=date(2026, 12, 1)), e.DECEASED),
        (REMINDER, "text", _set(Patient, "patient", mobile_phone=""), e.NO_MOBILE),
        (REMINDER, "email", _set(Patient, "patient", email=""), e.NO_EMAIL),
        (REMINDER, "text", _set(Patient, "patient", mobile_phone="+12075550999"), e.NUMBER_CHANGED),
        (REMINDER, "email", _set(Patient, "patient", email="new@example.org"), e.ADDRESS_CHANGED),
        (REMINDER, "email", _set(Patient, "patient", email="ANA@example.org"), None),
        (DUE, "email", None, None),
        (OVERDUE, "email", _set(Installment, "installment", paid_amount=Decimal("300.00")),
         e.INSTALLMENT_PAID),
        (DUE, "email", _set(PaymentPlan, "plan", status="cancelled"), e.PLAN_ENDED),
        (RECALL, "text", _visit(status="cancelled"), None),
        (RECALL, "text", None, e.RECALL_BOOKED),
        (RECALL, "text", _book_another_visit, e.RECALL_BOOKED),
        (AFTER, "text", _visit(status="completed"), None),
        (AFTER, "text", None, e.VISIT_NOT_COMPLETED),
        (REFERRAL, "email", None, None),
        (REFERRAL, "email", _set(Referral, "referral", status="booked"), e.REFERRAL_MOVED_ON),
        (REFERRAL, "email", _set(Contact, "contact", is_active=False), e.CONTACT_INACTIVE),
        (REFERRAL, "email", _set(Contact, "contact", email="new@patel.example"),
         e.CONTACT_ADDRESS_CHANGED),
        (REFERRAL, "email", _set(Patient, "patient", deceased_on=date(2026, 12, 1)), e.DECEASED),
        (REFERRAL, "email", _set(Patient, "patient", may_email=False), None),
    ],
)  # fmt: skip
def test_what_may_still_go_when_it_is_sent(clinic, world, kind, channel, change, reason):
    with clinic.db.uow() as session:
        message = _message(session, world, kind, channel)
        if change is not None:
            change(session, world)
        session.flush()
        assert why_not_send(session, message, NOW) == reason


def test_a_visit_whose_time_came_gets_no_reminder(clinic, world):
    with clinic.db.uow() as session:
        message = _message(session, world, REMINDER)
        assert why_not_send(session, message, VISIT_AT - timedelta(minutes=1)) is None
        assert why_not_send(session, message, VISIT_AT) == e.VISIT_PAST


def test_an_office_gets_no_texts(clinic, world):
    with clinic.db.uow() as session:
        contact = session.get(Contact, world["contact"])
        assert e.why_not_to_contact(contact, "text") == e.CONTACT_NO_TEXT
        contact.email = ""
        assert e.why_not_to_contact(contact, "email") == e.CONTACT_NO_EMAIL
