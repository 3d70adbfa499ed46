"""The intake form: blank for the clipboard or a tablet, or pre-filled from the patient's record.

A pre-filled form reads the record in one unit of work — demographics, contact,
emergency contact, active insurance policies, medical alerts, allergies,
medications and the consents to be contacted — and is audited as a print of
that patient's record.  A blank form needs no patient (a stack for the
clipboard); printed for a patient, it carries their banner and is audited too.
The form prints in the patient's preferred language, or the one the desk
chooses, in the clinic's country (``es_US``: Spanish words, US dates).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy, PolicyPriority
from app.data.models.patients import Patient
from app.documents.intake import IntakeForm, IntakePatient, IntakePolicy, build_intake_form
from app.i18n import language_of
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today
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
from app.services.patients.phones import display_phone

__all__ = ["blank_intake_pdf", "intake_data", "intake_pdf"]

_PRIORITY_ORDER = {
    PolicyPriority.PRIMARY.value: 0,
    PolicyPriority.SECONDARY.value: 1,
    PolicyPriority.TERTIARY.value: 2,
}


def _check_language(language: str | None) -> None:
    if language is not None and language not in DOCUMENT_LANGUAGES:
        raise ValidationError(
            f"Intake forms print in English or Spanish, not “{language}”.", field="language"
        )


def _intake_patient(patient: Patient) -> IntakePatient:
    return IntakePatient(
        first_name=patient.first_name,
        last_name=patient.last_name,
        middle_name=patient.middle_name,
        preferred_name=patient.preferred_name,
        date_of_birth=patient.date_of_birth,
        sex="" if patient.sex in (None, "unknown") else patient.sex,
        pronouns=patient.pronouns,
        preferred_language=patient.preferred_language or "",
        mobile_phone=display_phone(patient.mobile_phone),
        home_phone=display_phone(patient.home_phone),
        work_phone=display_phone(patient.work_phone),
        email=patient.email,
        address_line1=patient.address_line1,
        address_line2=patient.address_line2,
        city=patient.city,
        region=patient.region,
        postal_code=patient.postal_code,
        emergency_contact_name=patient.emergency_contact_name,
        emergency_contact_relation=patient.emergency_contact_relation,
        emergency_contact_phone=display_phone(patient.emergency_contact_phone),
        medical_alerts=patient.medical_alerts,
        allergies=patient.allergies,
        medications=patient.medications,
        may_text=patient.may_text,
        may_email=patient.may_email,
        may_voicemail=patient.may_voicemail,
    )


def _policies(session: Session, patient_id: int) -> tuple[IntakePolicy, ...]:
    """The patient's active policies, primary first; an ended policy is not asked about."""
    rows = session.execute(
        select(InsurancePolicy, Contact)
        .join(Contact, Contact.id == InsurancePolicy.payer_id)
        .where(InsurancePolicy.patient_id == patient_id, InsurancePolicy.is_active.is_(True))
        .order_by(InsurancePolicy.id)
    ).all()
    ordered = sorted(rows, key=lambda row: (_PRIORITY_ORDER.get(row[0].priority, 3), row[0].id))
    return tuple(
        IntakePolicy(
            priority=policy.priority,
            payer=payer.organisation or payer.name,
            member_id=policy.member_id,
            plan_name=policy.plan_name,
            group_number=policy.group_number,
            subscriber_name=policy.subscriber_name,
            subscriber_relation=policy.subscriber_relation,
            subscriber_date_of_birth=policy.subscriber_date_of_birth,
        )
        for policy, payer in ordered
    )


def _intake_in(
    session: Session, patient_id: int | None, blank: bool, language: str | None
) -> IntakeForm:
    settings = clinic_settings(session)
    now = utc_now()
    if patient_id is None:
        locale = document_locale(settings.locale, language or language_of(settings.locale))
        return IntakeForm(letterhead=clinic_letterhead(settings), locale=locale, printed_at=now)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient no longer exists.")
    locale = document_locale(settings.locale, language or patient.preferred_language)
    form = IntakeForm(
        letterhead=clinic_letterhead(settings),
        locale=locale,
        patient=None if blank else _intake_patient(patient),
        banner=patient_banner(patient),
        policies=() if blank else _policies(session, patient_id),
        prepared_on=None if blank else clinic_today(session, now),
        printed_at=now,
    )
    kind = "blank" if blank else "pre-filled"
    record(
        session,
        AuditAction.PRINT,
        entity="patients",
        entity_id=patient_id,
        patient_id=patient_id,
        detail=f"intake form, {kind} ({locale})",
    )
    return form


def intake_data(
    db: Database,
    actor: Actor,
    patient_id: int | None = None,
    *,
    blank: bool = False,
    language: str | None = None,
) -> IntakeForm:
    """What the intake form prints: pre-filled from ``patient_id``'s record, or ``blank``
    (fillable; no patient needed).  A form about a patient is audited as a print.

    ``language`` ("en"/"es") overrides the patient's preferred language (or, for a
    blank form without a patient, the clinic's).
    """
    _check_language(language)
    if patient_id is None and not blank:
        raise ValidationError("Choose a patient, or print a blank intake form.", field="patient")
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    if patient_id is not None:
        permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        return _intake_in(session, patient_id, blank, language)


def intake_pdf(
    db: Database,
    actor: Actor,
    patient_id: int | None = None,
    *,
    blank: bool = False,
    language: str | None = None,
) -> bytes:
    """The intake form as PDF bytes (audited as a print when it is about a patient)."""
    return build_intake_form(intake_data(db, actor, patient_id, blank=blank, language=language))


def blank_intake_pdf(db: Database, actor: Actor, language: str = "en") -> bytes:
    """A blank, fillable intake form for the clipboard or a tablet, in ``language``."""
    return intake_pdf(db, actor, blank=True, language=language)


def command_intake_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    *,
    blank: bool = False,
    language: str | None = None,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk print intake`` for the staff member signed in on the command line: the print
    is permission-checked and audited as them."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    _check_language(language)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError(f"No patient has id {patient_id}.")
        form = _intake_in(session, patient_id, blank, language)
        return delivered(build_intake_form(form), deliver)
