"""A patient's record: the form, its validation, reading it, creating and editing it with
conflict detection, possible duplicates, and the appointment history.

Every write re-indexes the patient for search (:func:`~app.services.patients.search.index_patient`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.clock import local_today, utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.patients import JourneyStage, Patient, Sex
from app.data.models.providers import Provider, Room, Service
from app.services.billing.balances import patient_balance
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone, day_bounds
from app.services.clinic.conflicts import clinic_clock, last_change
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import NotFoundError, PatientChangedError, ValidationError
from app.services.patients.phones import normalise_phone
from app.services.patients.search import (
    HIT_COLUMNS,
    PatientHit,
    clean_typed_text,
    fold_for_search,
    index_patient,
    patient_hit,
)

# --- plain data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientForm:
    """Everything the New patient form and the Details tab edit."""

    first_name: str
    last_name: str
    middle_name: str = ""
    preferred_name: str = ""
    date_of_birth: date | None = None
    sex: str | None = None
    pronouns: str = ""
    mobile_phone: str = ""
    home_phone: str = ""
    work_phone: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    preferred_language: str = "en"
    may_text: bool = False
    may_email: bool = False
    may_voicemail: bool = False
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    emergency_contact_relation: str = ""
    medical_alerts: str = ""
    allergies: str = ""
    medications: str = ""
    lead_source: str = ""
    #: The day the patient died: no message goes to them from then on.
    deceased_on: date | None = None


FORM_FIELDS = tuple(f.name for f in fields(PatientForm))
#: The fields typed as text (sex is a choice; the date of birth and consents are not text).
_TEXT_FIELDS = frozenset(f.name for f in fields(PatientForm) if f.type == "str") - {"sex"}


@dataclass(frozen=True)
class DuplicateMatch:
    patient: PatientHit
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AppointmentLine:
    id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    service: str
    provider: str
    room: str
    late_cancel: bool
    notes: str


@dataclass(frozen=True)
class AppointmentHistory:
    upcoming: list[AppointmentLine]
    past: list[AppointmentLine]
    no_shows: int
    late_cancels: int


@dataclass(frozen=True)
class PatientRecord:
    id: int
    version: int
    chart_number: str
    form: PatientForm
    journey_stage: str
    journey_stage_since: datetime
    journey_reason: str
    is_active: bool
    merged_into_id: int | None
    age: int | None
    balance: Decimal
    next_appointment: AppointmentLine | None
    last_changed_by: str
    last_changed_at: datetime | None
    #: Today's first visit not yet checked in (the header offers "Check in"), if any.
    visit_to_check_in: AppointmentLine | None = None
    #: When the patient texted STOP (the form's "May text" then shows unticked until
    #: they agree again), and when a message to their e-mail address bounced.
    text_opted_out_at: datetime | None = None
    email_bounced_at: datetime | None = None


# --- validation -------------------------------------------------------------------------------

_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "middle_name": "Middle name",
    "preferred_name": "Preferred name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "pronouns": "Pronouns",
    "mobile_phone": "Mobile phone",
    "home_phone": "Home phone",
    "work_phone": "Work phone",
    "email": "E-mail",
    "address_line1": "Address",
    "address_line2": "Address (line 2)",
    "city": "City",
    "region": "State or region",
    "postal_code": "Postal code",
    "country": "Country",
    "preferred_language": "Preferred language",
    "emergency_contact_name": "Emergency contact",
    "emergency_contact_phone": "Emergency contact phone",
    "emergency_contact_relation": "Emergency contact relation",
    "medical_alerts": "Medical alerts",
    "allergies": "Allergies",
    "medications": "Medications",
    "lead_source": "Lead source",
}
_MULTILINE = {"medical_alerts", "allergies", "medications"}
_MAX_TEXT = 10_000
_PHONE_FIELDS = ("mobile_phone", "home_phone", "work_phone", "emergency_contact_phone")
_MAX_AGE_YEARS = 120


def _column_length(name: str) -> int | None:
    column = Patient.__table__.c[name]
    return getattr(column.type, "length", None)


def validate_patient(
    form: PatientForm, *, region: str = "US", today: date | None = None
) -> PatientForm:
    """A tidied copy of ``form`` (phones E.164, e-mail normalised, control characters gone).

    Raises ValidationError naming the first field that cannot be stored.  Pure: the
    form calls it as the user types.
    """
    today = today or local_today()
    changes: dict[str, object] = {}
    for name in FORM_FIELDS:
        value = getattr(form, name)
        if name not in _TEXT_FIELDS:
            continue
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValidationError(f"{_LABELS[name]} must be text.", field=name)
        cleaned = clean_typed_text(value, name in _MULTILINE)
        limit = _column_length(name) or _MAX_TEXT
        if len(cleaned) > limit:
            raise ValidationError(
                f"{_LABELS[name]} is too long: at most {limit} characters.", field=name
            )
        changes[name] = cleaned
    for name in ("first_name", "last_name"):
        if not changes[name]:
            raise ValidationError(f"{_LABELS[name]} is required.", field=name)
    for name in _PHONE_FIELDS:
        if changes[name]:
            try:
                changes[name] = normalise_phone(str(changes[name]), region)
            except ValueError:
                raise ValidationError(
                    f"{_LABELS[name]} is not a phone number we can dial.", field=name
                ) from None
    if changes["email"]:
        try:
            checked = validate_email(str(changes["email"]), check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"E-mail: {exc}", field="email") from None
        changes["email"] = checked.normalized.casefold()
    born = form.date_of_birth
    if born is not None and (not isinstance(born, date) or isinstance(born, datetime)):
        raise ValidationError("Date of birth must be a date.", field="date_of_birth")
    if born is not None:
        if born > today:
            raise ValidationError("Date of birth cannot be in the future.", field="date_of_birth")
        if today.year - born.year > _MAX_AGE_YEARS:
            raise ValidationError(
                f"Date of birth is more than {_MAX_AGE_YEARS} years ago.", field="date_of_birth"
            )
    _check_date_of_death(form.deceased_on, born, today)
    sex = form.sex or None
    if sex is not None and sex not in {s.value for s in Sex}:
        raise ValidationError("Choose one of the listed values for sex.", field="sex")
    changes["sex"] = sex
    changes["country"] = str(changes["country"]).upper()
    if not changes["preferred_language"]:
        changes["preferred_language"] = "en"
    return replace(form, **changes)


def _check_date_of_death(died: object, born: date | None, today: date) -> None:
    if died is None:
        return
    if not isinstance(died, date) or isinstance(died, datetime):
        raise ValidationError("The date of death must be a date.", field="deceased_on")
    if died > today:
        raise ValidationError("The date of death cannot be in the future.", field="deceased_on")
    if born is not None and died < born:
        raise ValidationError(
            "The date of death cannot be before the date of birth.", field="deceased_on"
        )


# --- reading ----------------------------------------------------------------------------------


def _form_of(patient: Patient) -> PatientForm:
    form = PatientForm(**{name: getattr(patient, name) for name in FORM_FIELDS})
    # A patient who texted STOP may not be texted, whatever was ticked before: the form
    # shows it so, and ticking it again is the patient's new consent (update_patient).
    if patient.text_opted_out_at is not None:
        form = replace(form, may_text=False)
    return form


def _age(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _appointment_lines(session: Session, query) -> list[AppointmentLine]:
    rows = session.execute(
        query.add_columns(Service.name, Provider.name, Room.name)
        .outerjoin(Service, Service.id == Appointment.service_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
    )
    return [
        AppointmentLine(
            id=a.id,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            status=a.status,
            service=service or "",
            provider=provider,
            room=room or "",
            late_cancel=a.late_cancel,
            notes=a.notes,
        )
        for a, service, provider, room in rows
    ]


_UPCOMING = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)


def next_visit_query(patient_id: int):
    """The patient's next booked visit (scheduled or confirmed, not yet started), as a
    select of at most one ``Appointment``: the record header's "Next appointment"."""
    return (
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.starts_at >= utc_now(),
            Appointment.status.in_(_UPCOMING),
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    )


def _next_appointment(session: Session, patient_id: int) -> AppointmentLine | None:
    lines = _appointment_lines(session, next_visit_query(patient_id))
    return lines[0] if lines else None


def _visit_to_check_in(session: Session, patient_id: int) -> AppointmentLine | None:
    starts, ends = day_bounds(clinic_today(session), clinic_zone(session))
    lines = _appointment_lines(
        session,
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.starts_at >= starts,
            Appointment.starts_at < ends,
            Appointment.status.in_(_UPCOMING),
        )
        .order_by(Appointment.starts_at)
        .limit(1),
    )
    return lines[0] if lines else None


def patient_record_of(session: Session, patient: Patient) -> PatientRecord:
    """The whole record of ``patient`` as the record window shows it (caller's session)."""
    changed_by, changed_at = last_change(session, "patients", patient.id)
    return PatientRecord(
        id=patient.id,
        version=patient.version,
        chart_number=patient.chart_number,
        form=_form_of(patient),
        journey_stage=patient.journey_stage,
        journey_stage_since=patient.journey_stage_since,
        journey_reason=patient.journey_reason,
        is_active=patient.is_active,
        merged_into_id=patient.merged_into_id,
        age=_age(patient.date_of_birth, clinic_today(session)),
        balance=patient_balance(session, patient.id),
        next_appointment=_next_appointment(session, patient.id),
        last_changed_by=changed_by,
        last_changed_at=changed_at,
        visit_to_check_in=_visit_to_check_in(session, patient.id),
        text_opted_out_at=patient.text_opted_out_at,
        email_bounced_at=patient.email_bounced_at,
    )


def get_patient(session: Session, patient_id: int) -> Patient:
    """The patient row (caller's session); NotFoundError when there is none."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient record does not exist.")
    return patient


# --- lead sources -----------------------------------------------------------------------------


def lead_sources(db: Database, actor: Actor) -> list[str]:
    """The lead sources in use, alphabetically (the pipeline filter and the form's list)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return list(
            session.scalars(
                select(Patient.lead_source)
                .where(Patient.lead_source != "")
                .distinct()
                .order_by(Patient.lead_source)
            )
        )


# --- duplicates -------------------------------------------------------------------------------


def find_duplicates(
    db: Database, actor: Actor, form: PatientForm, *, exclude_id: int | None = None
) -> list[DuplicateMatch]:
    """Existing patients with the same name and date of birth, a shared phone, or the e-mail."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        region = clinic_settings(session).country
        phones = set()
        for name in ("mobile_phone", "home_phone", "work_phone"):
            typed = clean_typed_text(getattr(form, name), multiline=False)
            if typed:
                with contextlib.suppress(ValueError):
                    phones.add(normalise_phone(typed, region))
        email = clean_typed_text(form.email, multiline=False).casefold()
        name_key = (fold_for_search(form.last_name), fold_for_search(form.first_name))
        alternatives = []
        if form.date_of_birth is not None and all(name_key):
            alternatives.append(Patient.date_of_birth == form.date_of_birth)
        if phones:
            alternatives += [
                Patient.mobile_phone.in_(phones),
                Patient.home_phone.in_(phones),
                Patient.work_phone.in_(phones),
            ]
        if email:
            alternatives.append(Patient.email == email)
        if not alternatives:
            return []
        query = select(*HIT_COLUMNS).where(or_(*alternatives), Patient.merged_into_id.is_(None))
        if exclude_id is not None:
            query = query.where(Patient.id != exclude_id)
        matches = []
        for row in session.execute(query.order_by(Patient.last_name, Patient.first_name)):
            reasons = []
            if (
                form.date_of_birth is not None
                and row.date_of_birth == form.date_of_birth
                and (fold_for_search(row.last_name), fold_for_search(row.first_name)) == name_key
            ):
                reasons.append("same name and date of birth")
            if phones & {row.mobile_phone, row.home_phone, row.work_phone}:
                reasons.append("same phone number")
            if email and row.email == email:
                reasons.append("same e-mail address")
            if reasons:
                matches.append(DuplicateMatch(patient_hit(row), tuple(reasons)))
        return matches


# --- writing ----------------------------------------------------------------------------------


def _next_chart_number(session: Session) -> str:
    top = session.scalar(
        select(func.max(Patient.chart_number)).where(Patient.chart_number.like("P______"))
    )
    number = int(top[1:]) + 1 if top and top[1:].isdigit() else 1
    return f"P{number:06d}"


def create_patient(db: Database, actor: Actor, form: PatientForm) -> PatientRecord:
    """Save a new patient (validated) with the next chart number; stage "inquiry"."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        clean = validate_patient(
            form, region=clinic_settings(session).country, today=clinic_today(session)
        )
        patient = Patient(
            chart_number=_next_chart_number(session),
            journey_stage=JourneyStage.INQUIRY.value,
            journey_stage_since=utc_now(),
            **{name: getattr(clean, name) for name in FORM_FIELDS},
        )
        session.add(patient)
        session.flush()
        index_patient(session, patient)
        session.flush()
        return patient_record_of(session, patient)


def open_patient(db: Database, actor: Actor, patient_id: int) -> PatientRecord:
    """The whole record of one patient; the opening is audited."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        patient = get_patient(session, patient_id)
        record(
            session,
            AuditAction.RECORD_OPENED,
            entity="patients",
            entity_id=patient.id,
            patient_id=patient.id,
        )
        return patient_record_of(session, patient)


def note_record_viewed(db: Database, actor: Actor, patient_id: int, part: str) -> None:
    """Audit that ``part`` of a patient's record (a record window's tab: "Appointments",
    "Account", "Documents" …) was shown to ``actor`` — once per opening of the window."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        get_patient(session, patient_id)
        record(
            session,
            AuditAction.RECORD_VIEWED,
            entity="patients",
            entity_id=patient_id,
            patient_id=patient_id,
            detail=part,
        )


def patient_header(db: Database, actor: Actor, patient_id: int) -> PatientRecord:
    """The same record as :func:`open_patient`, read again for a window already open.

    Not audited: only the first opening of a record window is an access event; a
    refresh after a change (header, Details tab) is not a new one.
    """
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return patient_record_of(session, get_patient(session, patient_id))


def update_patient(
    db: Database,
    actor: Actor,
    patient_id: int,
    expected_version: int,
    form: PatientForm,
    *,
    overwrite: bool = False,
) -> PatientRecord:
    """Save an edited record; PatientChangedError when someone saved it since it was loaded
    (unless ``overwrite``).  "May text" ticked again after a STOP is the patient's new
    consent and ends the opt-out; a new e-mail address forgets that the old one bounced."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        clean = validate_patient(
            form, region=clinic_settings(session).country, today=clinic_today(session)
        )
        patient = get_patient(session, patient_id)
        if patient.version != expected_version and not overwrite:
            changed_by, changed_at = last_change(session, "patients", patient_id)
            raise PatientChangedError(
                changed_by or "another user", changed_at, clock=clinic_clock(session, changed_at)
            )
        new_address = clean.email != patient.email
        assign_changed(patient, {name: getattr(clean, name) for name in FORM_FIELDS})
        if clean.may_text and patient.text_opted_out_at is not None:
            patient.text_opted_out_at = None
        if new_address and patient.email_bounced_at is not None:
            patient.email_bounced_at = None
        index_patient(session, patient)
        session.flush()
        return patient_record_of(session, patient)


def confirm_email_address(db: Database, actor: Actor, patient_id: int) -> PatientRecord:
    """The patient says the address that bounced is right (a full mailbox, a server down):
    e-mail may go to it again.  Nothing else on the record changes."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        patient = get_patient(session, patient_id)
        if patient.email_bounced_at is not None:
            patient.email_bounced_at = None
            session.flush()
        return patient_record_of(session, patient)


# --- appointments -----------------------------------------------------------------------------


def appointment_history(db: Database, actor: Actor, patient_id: int) -> AppointmentHistory:
    """The patient's appointments: upcoming (soonest first), past (latest first), counts."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        get_patient(session, patient_id)
        now = utc_now()
        lines = _appointment_lines(
            session,
            select(Appointment).where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at),
        )  # fmt: skip
        upcoming = [a for a in lines if a.starts_at >= now and a.status in _UPCOMING]
        upcoming_ids = {a.id for a in upcoming}
        past = [a for a in reversed(lines) if a.id not in upcoming_ids]
        return AppointmentHistory(
            upcoming=upcoming,
            past=past,
            no_shows=sum(a.status == AppointmentStatus.NO_SHOW.value for a in lines),
            late_cancels=sum(a.late_cancel for a in lines),
        )
