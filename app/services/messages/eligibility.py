"""Whether a message may go — the one place that says so.

It is asked twice: when a message is queued (a rule's, or one sent by hand) and again by the
sender just before sending, because a great deal can change in between: the patient texts
STOP, the visit is cancelled or moved, the installment is paid, the recall is booked.  Each
"no" is a short sentence the Outbox shows as the message's reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.contacts import Contact
from app.data.models.messages import Message, MessageChannel, MessageKind
from app.data.models.patients import Patient
from app.data.models.payments import Installment, PaymentPlan, PaymentPlanStatus
from app.data.models.referrals import Referral, ReferralStatus
from app.services.scheduling.booking import HOLDS_TIME

__all__ = [
    "VISIT_KINDS",
    "address_of",
    "contact_address",
    "why_not_about_patient",
    "why_not_send",
    "why_not_to_contact",
    "why_not_to_patient",
]

#: Kinds about a visit still to come.
VISIT_KINDS = (
    MessageKind.APPOINTMENT_REMINDER.value,
    MessageKind.CONFIRMATION_REQUEST.value,
)
_INSTALLMENT_KINDS = (MessageKind.INSTALLMENT_DUE.value, MessageKind.INSTALLMENT_OVERDUE.value)

MERGED = "The patient's record was merged into another one."
DECEASED = "The patient has died."
INACTIVE = "The patient's record is inactive."
OPTED_OUT = "The patient texted STOP: no texts until they agree again at the desk."
NO_TEXT_CONSENT = "The patient has not agreed to texts."
NO_MOBILE = "The patient has no mobile number on file."
BOUNCED = "The patient's e-mail address bounced; it needs correcting."
NO_EMAIL_CONSENT = "The patient has not agreed to e-mail."
NO_EMAIL = "The patient has no e-mail address on file."
NUMBER_CHANGED = "The patient's mobile number changed since this was queued."
ADDRESS_CHANGED = "The patient's e-mail address changed since this was queued."
CONTACT_INACTIVE = "The contact is no longer active."
CONTACT_NO_EMAIL = "The contact has no e-mail address on file."
CONTACT_NO_TEXT = "Messages to an office go by e-mail only."
CONTACT_ADDRESS_CHANGED = "The contact's e-mail address changed since this was queued."
VISIT_GONE = "The visit is no longer in the book."
VISIT_CANCELLED = "The visit was canceled."
VISIT_NO_SHOW = "The visit was marked a no-show."
VISIT_HAPPENED = "The visit has already taken place."
VISIT_MOVED = "The visit was moved since this was queued."
VISIT_PAST = "The visit's time has passed."
VISIT_CONFIRMED = "The visit is already confirmed."
VISIT_NOT_COMPLETED = "The visit is no longer marked completed."
INSTALLMENT_PAID = "The installment is paid."
PLAN_ENDED = "The payment plan is no longer active."
RECALL_BOOKED = "The patient has a visit booked."
REFERRAL_MOVED_ON = "The referral is no longer waiting for a visit to be booked."


def why_not_to_patient(patient: Patient, channel: str, *, now: datetime) -> str | None:
    """Why ``patient`` may not get a message on ``channel`` now (None: they may).

    ``patient`` may be any row with the Patient's columns (planning passes query rows)."""
    reason = why_not_about_patient(patient)
    if reason is not None:
        return reason
    if channel == MessageChannel.TEXT.value:
        if patient.text_opted_out_at is not None:
            return OPTED_OUT
        if not patient.may_text:
            return NO_TEXT_CONSENT
        if not (patient.mobile_phone or "").startswith("+"):
            return NO_MOBILE
        return None
    if patient.email_bounced_at is not None:
        return BOUNCED
    if not patient.may_email:
        return NO_EMAIL_CONSENT
    if not (patient.email or "").strip():
        return NO_EMAIL
    return None


def why_not_about_patient(patient: Patient) -> str | None:
    """Why nothing may be sent about ``patient`` to anyone — them or a specialist's office
    (None: it may): the record merged away, the patient died, the record inactive."""
    if patient.merged_into_id is not None:
        return MERGED
    # A date of death is never in the future (the record refuses one): any date means no.
    if patient.deceased_on is not None:
        return DECEASED
    if not patient.is_active:
        return INACTIVE
    return None


def address_of(patient: Patient, channel: str) -> str:
    """Where a message to ``patient`` on ``channel`` goes: the mobile (E.164) or e-mail."""
    if channel == MessageChannel.TEXT.value:
        return patient.mobile_phone or ""
    return (patient.email or "").strip()


def why_not_to_contact(contact: Contact, channel: str) -> str | None:
    """Why an office (a contact) may not get a message on ``channel`` (None: it may)."""
    if not contact.is_active or contact.merged_into_id is not None:
        return CONTACT_INACTIVE
    if channel != MessageChannel.EMAIL.value:
        return CONTACT_NO_TEXT
    if not (contact.email or "").strip():
        return CONTACT_NO_EMAIL
    return None


def contact_address(contact: Contact) -> str:
    return (contact.email or "").strip()


def why_not_send(session: Session, message: Message, now: datetime) -> str | None:
    """Why ``message`` may not go now (None: it may): its recipient's standing (consent,
    opt-out, bounce, an address changed since it was queued) and whether what it is about
    still calls for it (the visit still ahead, unmoved; the installment unpaid; the recall
    not booked; the referral still waiting)."""
    reason = _recipient_reason(session, message, now)
    if reason is not None:
        return reason
    kind = message.kind
    if kind in VISIT_KINDS:
        return _visit_ahead_reason(session, message, now)
    if kind == MessageKind.POST_TREATMENT.value and message.appointment_id is not None:
        visit = session.get(Appointment, message.appointment_id)
        if visit is None or visit.status != AppointmentStatus.COMPLETED.value:
            return VISIT_NOT_COMPLETED
    if (
        kind == MessageKind.RECALL_DUE.value
        and message.patient_id is not None
        and _has_visit_booked(session, message.patient_id, now)
    ):
        return RECALL_BOOKED
    if kind in _INSTALLMENT_KINDS and message.installment_id is not None:
        return _installment_reason(session, message.installment_id)
    if kind == MessageKind.REFERRAL_REMINDER.value and message.referral_id is not None:
        referral = session.get(Referral, message.referral_id)
        if referral is None or referral.status != ReferralStatus.SENT.value:
            return REFERRAL_MOVED_ON
    return None


def _recipient_reason(session: Session, message: Message, now: datetime) -> str | None:
    if message.contact_id is not None:
        contact = session.get(Contact, message.contact_id)
        if contact is None:
            return CONTACT_INACTIVE
        about = session.get(Patient, message.patient_id) if message.patient_id else None
        if about is not None and (reason := why_not_about_patient(about)) is not None:
            return reason
        reason = why_not_to_contact(contact, message.channel)
        if reason is None and contact_address(contact).lower() != message.to_address.lower():
            return CONTACT_ADDRESS_CHANGED
        return reason
    patient = session.get(Patient, message.patient_id) if message.patient_id else None
    if patient is None:
        return MERGED
    reason = why_not_to_patient(patient, message.channel, now=now)
    if reason is not None:
        return reason
    current = address_of(patient, message.channel)
    if message.channel == MessageChannel.TEXT.value:
        if current != message.to_address:
            return NUMBER_CHANGED
    elif current.lower() != message.to_address.lower():
        return ADDRESS_CHANGED
    return None


def _visit_ahead_reason(session: Session, message: Message, now: datetime) -> str | None:
    visit = session.get(Appointment, message.appointment_id) if message.appointment_id else None
    if visit is None:
        return VISIT_GONE
    if visit.status == AppointmentStatus.CANCELLED.value:
        return VISIT_CANCELLED
    if visit.status == AppointmentStatus.NO_SHOW.value:
        return VISIT_NO_SHOW
    if visit.status not in (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value):
        return VISIT_HAPPENED
    if (
        message.appointment_starts_at is not None
        and visit.starts_at != message.appointment_starts_at
    ):
        return VISIT_MOVED
    if visit.starts_at <= now:
        return VISIT_PAST
    if (
        message.kind == MessageKind.CONFIRMATION_REQUEST.value
        and visit.status == AppointmentStatus.CONFIRMED.value
    ):
        return VISIT_CONFIRMED
    return None


def _has_visit_booked(session: Session, patient_id: int, now: datetime) -> bool:
    return (
        session.scalar(
            select(Appointment.id)
            .where(
                Appointment.patient_id == patient_id,
                Appointment.status.in_(HOLDS_TIME),
                Appointment.starts_at >= now,
            )
            .limit(1)
        )
        is not None
    )


def _installment_reason(session: Session, installment_id: int) -> str | None:
    installment = session.get(Installment, installment_id)
    if installment is None:
        return PLAN_ENDED
    if installment.paid_amount >= installment.amount:
        return INSTALLMENT_PAID
    plan = session.get(PaymentPlan, installment.payment_plan_id)
    if plan is None or plan.status != PaymentPlanStatus.ACTIVE.value:
        return PLAN_ENDED
    return None
