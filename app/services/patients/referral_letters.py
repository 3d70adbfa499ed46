"""Referral letters: the letter of one outgoing ``Referral`` row, printed and audited, and
optionally kept in the patient's documents (``Referral.letter_document_id``).

There is no referral service yet: the letter is built straight from the referral row, its
contact (the specialist, from the contacts directory) and its provider.  The letter is
read by the specialist, so it prints in the clinic's own language unless the desk chooses
another ("en"/"es").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.contacts import Contact
from app.data.models.documents import DocumentKind
from app.data.models.patients import Patient
from app.data.models.providers import Provider
from app.data.models.referrals import Referral, ReferralDirection, ReferralUrgency
from app.documents.referral_letter import Recipient, ReferralLetter, build_referral_letter
from app.i18n import language_of
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    DOCUMENT_LANGUAGES,
    Deliver,
    clinic_letterhead,
    delivered,
    document_locale,
    patient_banner,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.documents import DocumentLine, add_document_in
from app.services.patients.phones import display_phone

__all__ = [
    "command_referral_letter_pdf",
    "letter_filename",
    "patient_phone",
    "recipient_of",
    "referral_letter_data",
    "referral_letter_in",
    "referral_letter_pdf",
    "store_referral_letter",
]


def recipient_of(contact: Contact) -> Recipient:
    """A contact as the top of a letter addresses it."""
    city_line = " ".join(p for p in (contact.city, contact.region, contact.postal_code) if p)
    return Recipient(
        name=contact.name.strip(),
        organisation=contact.organisation.strip(),
        specialty=contact.specialty.strip(),
        address_lines=tuple(
            line for line in (contact.address_line1, contact.address_line2, city_line) if line
        ),
        phone=display_phone(contact.phone),
        fax=display_phone(contact.fax),
        email=contact.email,
    )


def patient_phone(patient: Patient) -> str:
    return display_phone(patient.mobile_phone or patient.home_phone or patient.work_phone)


def referral_letter_in(
    session: Session,
    referral_id: int,
    *,
    language: str | None = None,
    patient_id: int | None = None,
    now: datetime | None = None,
) -> ReferralLetter:
    """The letter of an outgoing referral inside the caller's transaction, audited as a
    print by its actor.  ``patient_id``, when given, must be the referral's patient."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFoundError("This referral no longer exists.")
    if patient_id is not None and referral.patient_id != patient_id:
        raise NotFoundError(f"Referral #{referral_id} belongs to another patient.")
    if referral.direction != ReferralDirection.OUTGOING.value:
        raise ValidationError(
            "This referral came to us from elsewhere; a letter is written only for a "
            "referral we send to a specialist.",
            field="referral",
        )
    if referral.contact_id is None:
        raise ValidationError(
            "Choose the specialist this referral goes to before printing the letter.",
            field="contact",
        )
    if language is not None and language not in DOCUMENT_LANGUAGES:
        raise ValidationError(
            f"Referral letters print in English or Spanish, not “{language}”.", field="language"
        )
    settings = clinic_settings(session)
    patient = session.get(Patient, referral.patient_id)
    contact = session.get(Contact, referral.contact_id)
    provider = session.get(Provider, referral.provider_id) if referral.provider_id else None
    chosen = language or language_of(settings.locale)
    records = tuple(
        line.strip().lstrip("•-* ").strip()
        for line in referral.attached_records.splitlines()
        if line.strip().lstrip("•-* ").strip()
    )
    letter = ReferralLetter(
        letterhead=clinic_letterhead(settings),
        patient=patient_banner(patient),
        locale=document_locale(settings.locale, chosen),
        referral_id=referral.id,
        referred_on=referral.referred_on,
        recipient=recipient_of(contact),
        reason=referral.reason,
        attached_records=records,
        urgent=referral.urgency == ReferralUrgency.URGENT.value,
        provider_name=f"{provider.title} {provider.name}".strip() if provider else "",
        provider_credentials=provider.credentials if provider else "",
        provider_licence=provider.licence_number if provider else "",
        patient_phone=patient_phone(patient),
        patient_email=patient.email,
        printed_at=now or utc_now(),
    )
    to = contact.name or contact.organisation
    record(
        session,
        AuditAction.PRINT,
        entity="referrals",
        entity_id=referral.id,
        patient_id=referral.patient_id,
        detail=f"referral letter ({letter.locale}) to contact #{contact.id} {to}",
    )
    return letter


def _require(actor: Actor) -> None:
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)


def referral_letter_data(
    db: Database, actor: Actor, referral_id: int, *, language: str | None = None
) -> ReferralLetter:
    """What the letter of referral ``referral_id`` prints; audited as a print."""
    _require(actor)
    with unit_of_work(db, actor) as session:
        return referral_letter_in(session, referral_id, language=language)


def referral_letter_pdf(
    db: Database, actor: Actor, referral_id: int, *, language: str | None = None
) -> bytes:
    """The letter as PDF bytes (audited as a print)."""
    return build_referral_letter(referral_letter_data(db, actor, referral_id, language=language))


def command_referral_letter_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    referral_id: int,
    *,
    language: str | None = None,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk print referral`` for the staff member signed in on the command line
    (permission-checked, audited as them); a referral of another patient is refused."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError(f"No patient has id {patient_id}.")
        letter = referral_letter_in(session, referral_id, language=language, patient_id=patient_id)
        return delivered(build_referral_letter(letter), deliver)


def letter_filename(referral_id: int) -> str:
    """``Referral letter #7.pdf`` (no patient name in it)."""
    return f"Referral letter #{referral_id}.pdf"


def store_referral_letter(
    db: Database, actor: Actor, referral_id: int, *, language: str | None = None
) -> DocumentLine:
    """Render the letter and keep it in the patient's documents; the referral points at it
    (``letter_document_id``), so what was sent can be shown later exactly as sent."""
    _require(actor)
    permissions.require(actor, Permission.MANAGE_REFERRALS)
    with unit_of_work(db, actor) as session:
        letter = referral_letter_in(session, referral_id, language=language)
        referral = session.get(Referral, referral_id)
        assert referral is not None
        line = add_document_in(
            session,
            actor,
            referral.patient_id,
            letter_filename(referral_id),
            build_referral_letter(letter),
            kind=DocumentKind.REFERRAL_LETTER.value,
        )
        referral.letter_document_id = line.id
        return line
