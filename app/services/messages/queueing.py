"""Putting a message in the outbox: the one constructor of ``messages`` rows, and the values
its wording is filled with.

A rule's message carries an ``automatic_key`` (unique in the table): whoever inserts it
first — this PC or another at the same moment — makes it; the second insert meets the key
and is dropped (``add_message`` returns None), so a message is queued once, ever.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.data.models.appointments import Appointment
from app.data.models.contacts import Contact
from app.data.models.messages import Message, MessageState
from app.data.models.patients import Patient
from app.data.models.payments import Installment
from app.data.models.providers import Provider, Service
from app.data.models.referrals import Referral
from app.i18n import format_date, format_money, format_time, language_of, to_clinic_time
from app.services.clinic.clock import clinic_settings
from app.services.clinic.printing import document_locale
from app.services.messages.templates import LANGUAGES, appointment_phrase
from app.services.patients.phones import display_phone

__all__ = ["add_message", "add_messages", "clinic_language", "message_language", "message_values"]

log = logging.getLogger(__name__)


def add_message(
    session: Session,
    *,
    kind: str,
    channel: str,
    to_address: str,
    language: str,
    subject: str,
    body: str,
    due_at: datetime,
    patient_id: int | None = None,
    contact_id: int | None = None,
    appointment_id: int | None = None,
    appointment_starts_at: datetime | None = None,
    installment_id: int | None = None,
    referral_id: int | None = None,
    rule_id: int | None = None,
    automatic_key: str | None = None,
    created_by_id: int | None = None,
) -> Message | None:
    """Queue one message (a fresh ``uid``: its Message-ID and the gateway's idempotency
    token).  None when ``automatic_key`` is taken already — here or by another PC that
    inserted it meanwhile: the insert runs in a savepoint, so the rest of the work stands."""
    message = Message(**_row(locals()))
    if automatic_key is None:
        session.add(message)
        session.flush()
        return message
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        # Only the key can clash (the uid is fresh): another run made this one meanwhile.
        log.info("a rule's message was queued meanwhile elsewhere; moving on")
        return None
    return message


#: What add_message takes (and each row given to add_messages holds).
_FIELDS = (
    "kind",
    "channel",
    "to_address",
    "language",
    "subject",
    "body",
    "due_at",
    "patient_id",
    "contact_id",
    "appointment_id",
    "appointment_starts_at",
    "installment_id",
    "referral_id",
    "rule_id",
    "automatic_key",
    "created_by_id",
)
_BATCH = 500


def _row(given: Mapping[str, object]) -> dict[str, object]:
    row = {name: given.get(name) for name in _FIELDS}
    row |= {
        "uid": str(uuid.uuid4()),
        "state": MessageState.QUEUED.value,
        "next_attempt_at": None,
        "attempts": 0,
        "reason": "",
    }
    return row


def add_messages(session: Session, rows: Sequence[Mapping[str, object]]) -> int:
    """Queue many rules' messages at once — each row holds :func:`add_message`'s keywords,
    an ``automatic_key`` among them — and say how many were queued.  500 go in one insert;
    a batch meeting a key another PC inserted meanwhile goes again one by one (each once).
    Not audited row by row: the caller records one line for the run."""
    queued = 0
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        try:
            with session.begin_nested():
                session.execute(insert(Message), [_row(row) for row in batch])
            queued += len(batch)
        except IntegrityError:
            log.info("some rules' messages were queued meanwhile elsewhere; one by one")
            queued += sum(add_message(session, **row) is not None for row in batch)
    return queued


def clinic_language(session: Session) -> str:
    """The language the clinic works in, as messages are written (English otherwise)."""
    language = language_of(clinic_settings(session).locale)
    return language if language in LANGUAGES else LANGUAGES[0]


def message_language(session: Session, preferred: str | None) -> str:
    """The language a message to someone preferring ``preferred`` is written in: theirs when
    messages are written in it, else the clinic's (a patient with no language set gets
    the clinic's, not English by default)."""
    language = (preferred or "").split("_")[0].split("-")[0].lower()
    return language if language in LANGUAGES else clinic_language(session)


def _address_line(*parts: str) -> str:
    return ", ".join(p.strip() for p in parts if p and p.strip())


def message_values(
    session: Session,
    config,
    *,
    patient: Patient | None = None,
    contact: Contact | None = None,
    appointment: Appointment | None = None,
    installment: Installment | None = None,
    referral: Referral | None = None,
    language: str,
    on: date | None = None,
) -> dict[str, str]:
    """The values a message's wording is filled with, written in ``language`` (dates and
    times by Babel in the clinic's zone).  Minimum necessary: the service and provider are
    blank unless ``config`` (the messaging settings) allows naming them.  ``on`` is the
    message's date where it is not the visit's (a recall's due day)."""
    settings = clinic_settings(session)
    locale = document_locale(settings.locale, language)
    timezone = config.timezone or settings.timezone
    city = " ".join(p for p in (settings.region, settings.postal_code) if p)
    values = {
        "clinic_name": settings.name,
        # Kept as the clinic typed it in Settings (a stored E.164 one is shown nationally).
        "clinic_phone": (
            display_phone(settings.phone) if settings.phone.startswith("+") else settings.phone
        ),
        "clinic_address": _address_line(
            settings.address_line1, settings.address_line2, settings.city, city
        ),
        "first_name": "",
        "date": "",
        "time": "",
        "appointment": appointment_phrase(language),
        "service": "",
        "provider": "",
        "amount": "",
        "patient_name": "",
        "contact_name": "",
        "message": "",
    }
    if patient is not None:
        values["first_name"] = patient.preferred_name or patient.first_name
        values["patient_name"] = " ".join(p for p in (patient.first_name, patient.last_name) if p)
    if appointment is not None:
        local = to_clinic_time(appointment.starts_at, timezone)
        values["date"] = format_date(local.date(), locale, "full")
        values["time"] = format_time(appointment.starts_at, timezone, locale)
        if config.include_service_name and appointment.service_id is not None:
            service = session.get(Service, appointment.service_id)
            if service is not None:
                values["service"] = (
                    service.name_es if language == "es" and service.name_es else service.name
                )
        if config.include_provider_name:
            provider = session.get(Provider, appointment.provider_id)
            if provider is not None:
                values["provider"] = " ".join(p for p in (provider.title, provider.name) if p)
        values["appointment"] = appointment_phrase(language, values["service"], values["provider"])
    if installment is not None:
        values["date"] = format_date(installment.due_on, locale, "full")
        values["amount"] = format_money(
            installment.amount - installment.paid_amount, settings.currency, locale
        )
    if referral is not None:
        values["date"] = format_date(referral.referred_on, locale, "full")
        if patient is None:
            referred = session.get(Patient, referral.patient_id)
            if referred is not None:
                values["patient_name"] = " ".join(
                    p for p in (referred.first_name, referred.last_name) if p
                )
    if on is not None:
        values["date"] = format_date(on, locale, "full")
    if contact is not None:
        values["contact_name"] = contact.name or contact.organisation
    return values
