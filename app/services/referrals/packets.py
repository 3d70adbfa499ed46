"""What a referral prints: the packet (the referral letter and the records picked to go with
it), the reminder to the specialist's office, and the consult letter back to the provider
who referred a patient to us.

Each is read in one transaction and audited there as a print — the packet also names each
document and note it discloses.  Letters to another office print in the clinic's own
language unless the desk chooses another ("en"/"es"), as the referral letter does.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.contacts import Contact
from app.data.models.documents import StoredDocument
from app.data.models.notes import ConsultationNote
from app.data.models.patients import Patient
from app.data.models.providers import Provider
from app.data.models.referrals import Referral, ReferralEventKind, ReferralStatus, ReferralUrgency
from app.data.models.staff import Staff
from app.documents.office_letters import (
    ConsultLetter,
    ReminderLetter,
    Signer,
    build_consult_letter,
    build_reminder_letter,
)
from app.documents.referral_packet import (
    NOTE_HEADINGS,
    NoteEnclosure,
    PacketEnclosure,
    ReferralPacket,
    build_referral_packet,
)
from app.i18n import language_of
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    DOCUMENT_LANGUAGES,
    clinic_letterhead,
    document_locale,
    patient_banner,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.patients.referral_letters import patient_phone, recipient_of, referral_letter_in
from app.services.patients.tasks import tidy_text
from app.services.referrals.core import (
    IN,
    OUT,
    add_event,
    local_day,
    picked_records,
    referral_or_error,
)

__all__ = [
    "consult_letter_data",
    "consult_letter_pdf",
    "referral_packet_data",
    "referral_packet_pdf",
    "reminder_letter_data",
    "reminder_letter_pdf",
]

S = ReferralStatus


def _require_print(actor: Actor) -> None:
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)


def _locale(session: Session, language: str | None, what: str) -> str:
    if language is not None and language not in DOCUMENT_LANGUAGES:
        raise ValidationError(
            f"{what} print in English or Spanish, not “{language}”.", field="language"
        )
    settings = clinic_settings(session)
    return document_locale(settings.locale, language or language_of(settings.locale))


def _signer(session: Session, referral: Referral) -> Signer:
    provider = session.get(Provider, referral.provider_id) if referral.provider_id else None
    if provider is None:
        return Signer()
    return Signer(
        name=f"{provider.title} {provider.name}".strip(),
        credentials=provider.credentials,
        licence=provider.licence_number,
    )


# --- the packet -------------------------------------------------------------------------------


def _note_enclosure(session: Session, note: ConsultationNote, zone) -> NoteEnclosure:
    provider = session.get(Provider, note.provider_id) if note.provider_id else None
    signer = session.get(Staff, note.signed_by_id) if note.signed_by_id else None
    bodies = (
        note.reason,
        note.treatments_discussed,
        note.options_and_costs,
        note.patient_questions,
        note.body,
    )
    return NoteEnclosure(
        consulted_on=local_day(note.consulted_at, zone),
        provider_name=f"{provider.title} {provider.name}".strip() if provider else "",
        sections=tuple(zip(NOTE_HEADINGS, bodies, strict=True)),
        signed_by=signer.full_name if signer else "",
        signed_on=local_day(note.signed_at, zone),
        addenda=tuple(a.body for a in note.addenda),
    )


def referral_packet_data(
    db: Database, actor: Actor, referral_id: int, *, language: str | None = None
) -> ReferralPacket:
    """What the packet prints: the referral letter, the picked notes (in full: only for a
    role that reads notes) and stored documents; audited as a print of each record."""
    _require_print(actor)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        doc_ids, note_ids = picked_records(session, referral)
        if note_ids and not permissions.role_allows(
            actor.role, Permission.READ_NOTE_BODIES, emergency=actor.in_emergency
        ):
            raise PermissionDeniedError(
                "print this packet: it holds consultation notes, which your role cannot read"
            )
        chosen = _locale(session, language, "Referral packets")
        letter = referral_letter_in(session, referral_id, language=language)
        zone = clinic_zone(session)
        enclosures = []
        for note_id in note_ids:
            note = session.get(ConsultationNote, note_id)
            assert note is not None
            enclosure = _note_enclosure(session, note, zone)
            title = "Consultation note"
            if enclosure.provider_name:
                title += f", {enclosure.provider_name}"
            enclosures.append(PacketEnclosure(title, enclosure.consulted_on, "note", enclosure))
            record(
                session,
                AuditAction.PRINT,
                entity="consultation_notes",
                entity_id=note.id,
                patient_id=note.patient_id,
                detail=f"in referral packet #{referral.id}",
            )
        for doc_id in doc_ids:
            doc = session.get(StoredDocument, doc_id)
            assert doc is not None
            on = local_day(doc.created_at, zone)
            if doc.mime_type.startswith("image/"):
                enclosures.append(PacketEnclosure(doc.filename, on, "image", image=doc.content))
            else:
                enclosures.append(PacketEnclosure(doc.filename, on, "pdf", pdf=doc.content))
            record(
                session,
                AuditAction.PRINT,
                entity="stored_documents",
                entity_id=doc.id,
                patient_id=doc.patient_id,
                detail=f"in referral packet #{referral.id}",
            )
        record(
            session,
            AuditAction.PRINT,
            entity="referrals",
            entity_id=referral.id,
            patient_id=referral.patient_id,
            detail=(
                f"referral packet ({chosen}) to contact #{referral.contact_id}: "
                f"{len(doc_ids)} documents, {len(note_ids)} notes"
            ),
        )
        add_event(session, actor, referral, ReferralEventKind.LETTER.value, "Referral packet")
        return ReferralPacket(letter=letter, enclosures=tuple(enclosures))


def referral_packet_pdf(
    db: Database, actor: Actor, referral_id: int, *, language: str | None = None
) -> bytes:
    """The referral letter and the picked records as one PDF, stored PDFs' own pages included
    (one that cannot be opened is listed, with why, to be sent with it); audited as a
    print/disclosure."""
    return build_referral_packet(referral_packet_data(db, actor, referral_id, language=language))


# --- the reminder -----------------------------------------------------------------------------


def reminder_letter_data(
    db: Database,
    actor: Actor,
    referral_id: int,
    *,
    language: str | None = None,
    note: str = "",
) -> ReminderLetter:
    """The reminder to the specialist's office of a referral we sent that waits on them: no
    visit booked yet (sent), or no report yet (booked or seen).  Audited as a print."""
    _require_print(actor)
    note = tidy_text(note, "note", label="note", max_length=2_000, multiline=True)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        if referral.direction != OUT:
            raise ValidationError(
                "A reminder goes to the office of a referral we sent; this one came to us.",
                field="direction",
            )
        if referral.status == S.SENT.value:
            waiting_for = "booking"
        elif referral.status in (S.BOOKED.value, S.SEEN.value):
            waiting_for = "report"
        elif referral.status == S.DRAFT.value:
            raise ValidationError(
                "This referral has not been sent yet; send it before reminding anyone.",
                field="status",
            )
        else:
            raise ValidationError(
                "Nothing on this referral waits on the specialist's office.", field="status"
            )
        if referral.contact_id is None:
            raise ValidationError(
                "This referral names no office to remind; choose the contact first.",
                field="contact_id",
            )
        settings = clinic_settings(session)
        locale = _locale(session, language, "Reminders")
        zone = clinic_zone(session)
        patient = session.get(Patient, referral.patient_id)
        contact = session.get(Contact, referral.contact_id)
        letter = ReminderLetter(
            letterhead=clinic_letterhead(settings),
            patient=patient_banner(patient),
            locale=locale,
            referral_id=referral.id,
            on=clinic_today(session),
            recipient=recipient_of(contact),
            sent_on=local_day(referral.sent_at, zone) or referral.referred_on,
            waiting_for=waiting_for,
            visit_on=referral.seen_on or referral.visit_on,
            reason=referral.reason,
            urgent=referral.urgency == ReferralUrgency.URGENT.value,
            patient_phone=patient_phone(patient),
            signer=_signer(session, referral),
            note=note,
        )
        record(
            session,
            AuditAction.PRINT,
            entity="referrals",
            entity_id=referral.id,
            patient_id=referral.patient_id,
            detail=f"referral reminder ({locale}) to contact #{contact.id}",
        )
        return letter


def reminder_letter_pdf(
    db: Database, actor: Actor, referral_id: int, *, language: str | None = None, note: str = ""
) -> bytes:
    """The reminder letter as PDF bytes (audited as a print; ``record_reminder`` logs it)."""
    return build_reminder_letter(
        reminder_letter_data(db, actor, referral_id, language=language, note=note)
    )


# --- the consult letter -----------------------------------------------------------------------


def consult_letter_data(
    db: Database,
    actor: Actor,
    referral_id: int,
    *,
    language: str | None = None,
    findings: str = "",
) -> ConsultLetter:
    """The letter thanking the provider who referred a patient to us, once we saw them
    (seen or closed); ``findings`` in our provider's words.  Audited as a print."""
    _require_print(actor)
    findings = tidy_text(findings, "findings", label="findings", max_length=4_000, multiline=True)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        if referral.direction != IN:
            raise ValidationError(
                "A consult letter answers a referral that came to us; this one we sent.",
                field="direction",
            )
        if referral.contact_id is None:
            raise ValidationError(
                "This referral names no referring provider; choose the contact to write to.",
                field="contact_id",
            )
        if referral.status not in (S.SEEN.value, S.CLOSED.value):
            raise ValidationError(
                "The consult letter is written once the patient was seen; record the visit first.",
                field="status",
            )
        settings = clinic_settings(session)
        locale = _locale(session, language, "Consult letters")
        patient = session.get(Patient, referral.patient_id)
        contact = session.get(Contact, referral.contact_id)
        letter = ConsultLetter(
            letterhead=clinic_letterhead(settings),
            patient=patient_banner(patient),
            locale=locale,
            referral_id=referral.id,
            on=clinic_today(session),
            recipient=recipient_of(contact),
            referred_on=referral.referred_on,
            seen_on=referral.seen_on,
            reason=referral.reason,
            findings=findings,
            signer=_signer(session, referral),
        )
        record(
            session,
            AuditAction.PRINT,
            entity="referrals",
            entity_id=referral.id,
            patient_id=referral.patient_id,
            detail=f"consult letter ({locale}) to contact #{contact.id}",
        )
        add_event(session, actor, referral, ReferralEventKind.LETTER.value, "Consult letter")
        return letter


def consult_letter_pdf(
    db: Database,
    actor: Actor,
    referral_id: int,
    *,
    language: str | None = None,
    findings: str = "",
) -> bytes:
    """Incoming: the thank-you / consult letter back to the referrer, as PDF bytes."""
    return build_consult_letter(
        consult_letter_data(db, actor, referral_id, language=language, findings=findings)
    )
