"""Incoming referrals: another provider sends us a patient.

The referral creates the patient through the patients service (after its duplicate check)
or links one on file, records the referrer (the owner's "where do patients come from"),
and is booked when its consultation is: the appointment is linked and its day becomes the
visit day.  Once the patient was seen, the consult letter thanks the referrer
(``packets.consult_letter_pdf``) and the referral closes.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.patients import Patient
from app.data.models.referrals import Referral, ReferralEvent, ReferralEventKind, ReferralStatus
from app.i18n import format_date
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ValidationError
from app.services.patients.records import (
    DuplicateMatch,
    PatientForm,
    create_patient,
    find_duplicates,
)
from app.services.patients.tasks import patient_or_error, tidy_text
from app.services.referrals.core import (
    IN,
    ReferralLine,
    check_urgency,
    check_version,
    line_now,
    local_day,
    move,
    not_in_future,
    referral_or_error,
    usable_contact,
    usable_provider,
)

S = ReferralStatus
#: What an incoming referral sets as the patient's lead source when none was recorded.
LEAD_SOURCE = "Specialist referral"
#: The new-patient fields an incoming referral takes.
NEW_PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "mobile_phone", "email")


class PossibleDuplicatesError(ValidationError):
    """The new patient may already be on file; ``matches`` are the patients it may be.  Call
    again with ``link_to_patient_id`` (one of them) or ``allow_duplicate=True``."""

    def __init__(self, matches: list[DuplicateMatch]) -> None:
        names = "; ".join(
            f"{m.patient.last_name}, {m.patient.first_name} ({', '.join(m.reasons)})"
            for m in matches[:5]
        )
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        super().__init__(
            f"This patient may already be on file: {names}{more}. Choose the patient on file, "
            "or add the new patient anyway.",
            field="new_patient",
        )
        self.matches = tuple(matches)


def _referral_values(
    session: Session,
    *,
    referrer_contact_id: int | None,
    provider_id: int | None,
    reason: str,
    urgency: str,
    received_on: date | None,
) -> dict:
    if referrer_contact_id is not None:
        usable_contact(session, referrer_contact_id, IN)
    usable_provider(session, provider_id)
    today = clinic_today(session)
    received = not_in_future(received_on or today, today, "received_on", "day it came")
    return {
        "contact_id": referrer_contact_id,
        "provider_id": provider_id,
        "reason": tidy_text(
            reason, "reason", label="reason for referral", max_length=4_000, multiline=True
        ),
        "urgency": check_urgency(urgency),
        "referred_on": received,
    }


def _new_patient_form(new_patient: dict) -> PatientForm:
    unknown = set(new_patient) - set(NEW_PATIENT_FIELDS)
    if unknown or not isinstance(new_patient, dict):
        raise ValidationError(
            "A new patient from a referral takes a name, date of birth, mobile phone and e-mail.",
            field="new_patient",
        )
    known = {f.name for f in fields(PatientForm)}
    values = {k: v for k, v in new_patient.items() if k in known}
    values.setdefault("first_name", "")
    values.setdefault("last_name", "")
    for name in ("mobile_phone", "email"):
        if values.get(name) is None:
            values[name] = ""
    return PatientForm(**values, lead_source=LEAD_SOURCE)


def create_incoming(
    db: Database,
    actor: Actor,
    *,
    referrer_contact_id: int | None,
    patient_id: int | None,
    new_patient: dict | None,
    reason: str,
    urgency: str = "routine",
    provider_id: int | None = None,
    received_on: date | None = None,
    link_to_patient_id: int | None = None,
    allow_duplicate: bool = False,
) -> ReferralLine:
    """A referral that came to us, status "received": for a patient on file
    (``patient_id``), or a new one (``new_patient``: first_name, last_name, date_of_birth,
    mobile_phone, email) created through the patients service after its duplicate check —
    possible duplicates raise :class:`PossibleDuplicatesError` unless ``link_to_patient_id``
    (use that patient) or ``allow_duplicate``.  The patient's lead source becomes
    "Specialist referral" when it was empty."""
    permissions.require(actor, Permission.MANAGE_REFERRALS)
    if (patient_id is None) == (new_patient is None) and link_to_patient_id is None:
        raise ValidationError(
            "Choose the patient on file, or type the new patient's details.", field="patient_id"
        )
    # Check the referral itself first, so a refused one adds no patient either.
    with reading(db, actor) as session:
        _referral_values(
            session,
            referrer_contact_id=referrer_contact_id,
            provider_id=provider_id,
            reason=reason,
            urgency=urgency,
            received_on=received_on,
        )
    if link_to_patient_id is not None:
        patient_id = link_to_patient_id
    elif new_patient is not None:
        permissions.require(actor, Permission.EDIT_PATIENTS)
        form = _new_patient_form(new_patient)
        if not allow_duplicate:
            matches = find_duplicates(db, actor, form)
            if matches:
                raise PossibleDuplicatesError(matches)
        patient_id = create_patient(db, actor, form).id
    assert patient_id is not None
    with unit_of_work(db, actor) as session:
        patient = patient_or_error(session, patient_id)
        if patient.merged_into_id is not None:
            raise ValidationError(
                "This patient's record was merged into another; choose that record.",
                field="patient_id",
            )
        values = _referral_values(
            session,
            referrer_contact_id=referrer_contact_id,
            provider_id=provider_id,
            reason=reason,
            urgency=urgency,
            received_on=received_on,
        )
        if not patient.lead_source:
            patient.lead_source = LEAD_SOURCE
        moment = utc_now()
        referral = Referral(
            patient_id=patient.id,
            direction=IN,
            status=S.RECEIVED.value,
            status_changed_at=moment,
            created_by_id=actor.staff_id,
            **values,
        )
        session.add(referral)
        session.flush()
        session.add(
            ReferralEvent(
                referral_id=referral.id,
                at=moment,
                by_id=actor.staff_id,
                kind=ReferralEventKind.STATUS.value,
                from_status=None,
                to_status=S.RECEIVED.value,
                on_date=referral.referred_on,
            )
        )
        return line_now(session, referral)


def link_consultation(
    db: Database, actor: Actor, referral_id: int, *, version: int, appointment_id: int
) -> ReferralLine:
    """An incoming referral's consultation was booked: the appointment (the patient's own,
    not cancelled) is linked, the referral is booked, its visit day the appointment's."""
    permissions.require(actor, Permission.MANAGE_REFERRALS)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        if referral.direction != IN:
            raise ValidationError(
                "A consultation is linked to a referral that came to us; this one we sent.",
                field="direction",
            )
        appointment = (
            session.get(Appointment, appointment_id) if isinstance(appointment_id, int) else None
        )
        if appointment is None or appointment.patient_id != referral.patient_id:
            raise ValidationError(
                "That appointment is not one of this patient's; choose the patient's consultation.",
                field="appointment_id",
            )
        if appointment.status in (
            AppointmentStatus.CANCELLED.value,
            AppointmentStatus.NO_SHOW.value,
        ):
            raise ValidationError(
                "That appointment was canceled or missed; choose the booked consultation.",
                field="appointment_id",
            )
        visit_on = local_day(appointment.starts_at, clinic_zone(session))
        assert visit_on is not None
        note = ""
        if referral.status == S.BOOKED.value and referral.visit_on is not None:
            note = f"was {format_date(referral.visit_on, clinic_settings(session).locale)}"
        move(session, actor, referral, S.BOOKED.value, on_date=visit_on, note=note)
        referral.appointment_id = appointment.id
        referral.visit_on = visit_on
        return line_now(session, referral)


def patient_of(session: Session, referral: Referral) -> Patient:
    return patient_or_error(session, referral.patient_id)
