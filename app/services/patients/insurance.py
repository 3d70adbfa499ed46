"""Insurance: policies, the verification log, pre-authorisations and the verification queue.

A verification older than the clinic's ``verification_max_age_days`` is stale;
appointments in the next few days whose patient's policy is stale make the
queue.  Pre-authorisations warn when they expire or run out before booked visits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.clinic import ClinicSettings
from app.data.models.contacts import Contact, ContactKind
from app.data.models.insurance import (
    InsurancePolicy,
    InsuranceVerification,
    PolicyPriority,
    PreAuthorization,
    PreAuthStatus,
    SubscriberRelation,
    VerificationMethod,
    VerificationResult,
)
from app.data.models.patients import Patient
from app.data.models.tasks import Task, TaskKind, TaskStatus
from app.i18n import format_date
from app.money import round_money
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.tasks import (
    active_staff_or_error,
    patient_name,
    patient_or_error,
    staff_name,
    tidy_text,
)

MAX_AMOUNT = Decimal("1000000.00")
_UPCOMING = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)
_CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class PolicyData:
    payer_id: int
    member_id: str
    group_number: str = ""
    plan_name: str = ""
    subscriber_name: str = ""
    subscriber_relation: str = "self"
    coverage_percent: int = 0
    copay: Decimal = Decimal("0.00")
    deductible: Decimal = Decimal("0.00")
    deductible_met: Decimal = Decimal("0.00")
    is_primary: bool = True
    active: bool = True
    id: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class PolicyLine:
    id: int
    version: int
    patient_id: int
    payer_id: int
    payer_name: str
    plan_name: str
    member_id: str
    group_number: str
    subscriber_name: str
    subscriber_relation: str
    coverage_percent: int
    copay: Decimal
    deductible: Decimal
    deductible_met: Decimal
    is_primary: bool
    active: bool
    last_verified_at: datetime | None
    verification_stale: bool


@dataclass(frozen=True)
class VerificationLine:
    id: int
    policy_id: int
    verified_at: datetime
    verified_by: str
    method: str
    result: str
    reference: str


@dataclass(frozen=True)
class PreauthData:
    service: str
    status: str = "requested"
    number: str = ""
    approved_units: int | None = None
    used_units: int = 0
    expires_on: date | None = None
    policy_id: int | None = None
    id: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class PreauthLine:
    id: int
    version: int
    service: str
    status: str
    number: str
    approved_units: int | None
    used_units: int
    expires_on: date | None
    expired: bool
    warning: str
    policy_id: int | None


@dataclass(frozen=True)
class VerificationQueueLine:
    appointment_id: int
    starts_at: datetime
    patient_id: int
    patient_name: str
    policy_id: int
    payer: str
    last_verified_at: datetime | None
    assignee: str


# --- helpers ---------------------------------------------------------------------------------


def _payer_name(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return contact.organisation or contact.name


def verification_max_age(session: Session) -> timedelta:
    """How long a verification stays fresh (the clinic's ``verification_max_age_days``)."""
    settings = session.get(ClinicSettings, 1)
    return timedelta(days=settings.verification_max_age_days if settings else 30)


def _last_verified(session: Session, policy_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(InsuranceVerification.verified_at)).where(
            InsuranceVerification.policy_id == policy_id
        )
    )


def is_stale(last: datetime | None, max_age: timedelta, now: datetime | None = None) -> bool:
    """A policy last verified at ``last`` (None: never) needs verifying again."""
    return last is None or last < (now or utc_now()) - max_age


def _policy_line(session: Session, p: InsurancePolicy, max_age: timedelta) -> PolicyLine:
    last = _last_verified(session, p.id)
    return PolicyLine(
        id=p.id,
        version=p.version,
        patient_id=p.patient_id,
        payer_id=p.payer_id,
        payer_name=_payer_name(session.get(Contact, p.payer_id)),
        plan_name=p.plan_name,
        member_id=p.member_id,
        group_number=p.group_number,
        subscriber_name=p.subscriber_name,
        subscriber_relation=p.subscriber_relation,
        coverage_percent=p.coverage_percent,
        copay=p.copay,
        deductible=p.deductible,
        deductible_met=p.deductible_met,
        is_primary=p.priority == PolicyPriority.PRIMARY.value,
        active=p.is_active,
        last_verified_at=last,
        verification_stale=p.is_active and is_stale(last, max_age),
    )


def _money(value, field: str, label: str) -> Decimal:
    if isinstance(value, float | bool):
        raise ValidationError(f"The {label} must be an amount like 25.00.", field=field)
    try:
        amount = Decimal(str(value).strip() or "0")
    except InvalidOperation:
        raise ValidationError(f"The {label} must be an amount like 25.00.", field=field) from None
    if not amount.is_finite():
        raise ValidationError(f"The {label} must be an amount like 25.00.", field=field)
    if amount < 0:
        raise ValidationError(f"The {label} cannot be negative.", field=field)
    if amount > MAX_AMOUNT:
        raise ValidationError(f"The {label} is larger than CareDesk accepts.", field=field)
    return round_money(amount)


def validate_policy(data: PolicyData) -> PolicyData:
    """Tidied copy of a policy form; the first problem is raised with its field."""
    member_id = tidy_text(
        data.member_id, "member_id", label="member ID", max_length=60, required=True
    )
    if data.subscriber_relation not in {r.value for r in SubscriberRelation}:
        raise ValidationError("Choose the subscriber's relation.", field="subscriber_relation")
    percent = data.coverage_percent
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValidationError("Coverage is a whole percentage from 0 to 100.", "coverage_percent")
    deductible = _money(data.deductible, "deductible", "deductible")
    met = _money(data.deductible_met, "deductible_met", "deductible met")
    if met > deductible:
        raise ValidationError(
            "More of the deductible is met than the deductible itself.", field="deductible_met"
        )
    return PolicyData(
        payer_id=data.payer_id,
        member_id=member_id,
        group_number=tidy_text(
            data.group_number, "group_number", label="group number", max_length=60
        ),
        plan_name=tidy_text(data.plan_name, "plan_name", label="plan name", max_length=120),
        subscriber_name=tidy_text(
            data.subscriber_name, "subscriber_name", label="subscriber's name", max_length=200
        ),
        subscriber_relation=data.subscriber_relation,
        coverage_percent=percent,
        copay=_money(data.copay, "copay", "co-pay"),
        deductible=deductible,
        deductible_met=met,
        is_primary=bool(data.is_primary),
        active=bool(data.active),
        id=data.id,
        version=data.version,
    )


def _loaded(session: Session, model, row_id: int, version: int | None, what: str):
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"That {what} no longer exists.")
    check_version(session, row, version, f"This {what}")
    return row


# --- policies --------------------------------------------------------------------------------


def list_payers(db: Database, actor: Actor) -> list[tuple[int, str]]:
    """Active payers from the contacts directory, by name."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(Contact).where(Contact.kind == ContactKind.PAYER.value, Contact.is_active)
        )
        return sorted(((c.id, _payer_name(c)) for c in rows), key=lambda t: t[1].casefold())


def verification_max_age_days(db: Database, actor: Actor) -> int:
    """How many days a verification stays fresh before a policy is flagged as stale."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return verification_max_age(session).days


def list_policies(db: Database, actor: Actor, patient_id: int) -> list[PolicyLine]:
    """The patient's policies: active first, primary before others."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        max_age = verification_max_age(session)
        policies = session.scalars(
            select(InsurancePolicy)
            .where(InsurancePolicy.patient_id == patient_id)
            .order_by(InsurancePolicy.is_active.desc(), InsurancePolicy.id)
        )
        lines = [_policy_line(session, p, max_age) for p in policies]
        return sorted(lines, key=lambda p: (not p.active, not p.is_primary, p.id))


def save_policy(db: Database, actor: Actor, patient_id: int, data: PolicyData) -> PolicyLine:
    """Create or update one of the patient's policies (a stale copy is refused)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    data = validate_policy(data)
    with unit_of_work(db, actor) as session:
        patient_or_error(session, patient_id)
        payer = session.get(Contact, data.payer_id)
        if payer is None or payer.kind != ContactKind.PAYER.value:
            raise ValidationError(
                "Choose the payer: an insurance payer in Contacts (the policy form's New payer… "
                "adds one).",
                "payer_id",
            )
        if data.id is None:
            if not payer.is_active:
                raise ValidationError("That payer is no longer active.", field="payer_id")
            policy = InsurancePolicy(patient_id=patient_id)
            session.add(policy)
        else:
            policy = _loaded(session, InsurancePolicy, data.id, data.version, "policy")
            if policy.patient_id != patient_id:
                raise NotFoundError("That policy belongs to another patient.")
        values = {
            "payer_id": data.payer_id,
            "member_id": data.member_id,
            "group_number": data.group_number,
            "plan_name": data.plan_name,
            "subscriber_name": data.subscriber_name,
            "subscriber_relation": data.subscriber_relation,
            "coverage_percent": data.coverage_percent,
            "copay": data.copay,
            "deductible": data.deductible,
            "deductible_met": data.deductible_met,
            "priority": (
                PolicyPriority.PRIMARY.value if data.is_primary else PolicyPriority.SECONDARY.value
            ),
            "is_active": data.active,
        }
        assign_changed(policy, values)
        session.flush()
        return _policy_line(session, policy, verification_max_age(session))


# --- verifications ---------------------------------------------------------------------------


def _verification_line(session: Session, v: InsuranceVerification) -> VerificationLine:
    return VerificationLine(
        id=v.id,
        policy_id=v.policy_id,
        verified_at=v.verified_at,
        verified_by=staff_name(session, v.verified_by_id),
        method=v.method,
        result=v.result,
        reference=v.reference_number,
    )


def record_verification(
    db: Database,
    actor: Actor,
    policy_id: int,
    *,
    method: str,
    result: str,
    reference: str = "",
    verified_at: datetime | None = None,
) -> VerificationLine:
    """Log one check with the payer: by whom (the actor), when, how, what they said."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    if method not in {m.value for m in VerificationMethod}:
        raise ValidationError("Choose how the policy was verified.", field="method")
    if result not in {r.value for r in VerificationResult}:
        raise ValidationError("Choose what the payer said.", field="result")
    reference = tidy_text(reference, "reference", label="reference number", max_length=60)
    if verified_at is not None:
        if not isinstance(verified_at, datetime) or verified_at.utcoffset() is None:
            raise ValidationError("The verification time needs a time zone.", "verified_at")
        if verified_at > utc_now() + _CLOCK_SLACK:
            raise ValidationError("A verification cannot be in the future.", "verified_at")
    with unit_of_work(db, actor) as session:
        policy = session.get(InsurancePolicy, policy_id)
        if policy is None:
            raise NotFoundError("That policy no longer exists.")
        row = InsuranceVerification(
            policy_id=policy_id,
            verified_at=verified_at or utc_now(),
            verified_by_id=actor.staff_id,
            method=method,
            result=result,
            reference_number=reference,
        )
        session.add(row)
        session.flush()
        return _verification_line(session, row)


def list_verifications(db: Database, actor: Actor, policy_id: int) -> list[VerificationLine]:
    """A policy's verification log, newest first."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(InsuranceVerification)
            .where(InsuranceVerification.policy_id == policy_id)
            .order_by(InsuranceVerification.verified_at.desc(), InsuranceVerification.id.desc())
        )
        return [_verification_line(session, v) for v in rows]


# --- pre-authorisations ----------------------------------------------------------------------


def _upcoming_visits(session: Session, patient_id: int, service_id: int | None) -> list[datetime]:
    query = select(Appointment.starts_at).where(
        Appointment.patient_id == patient_id,
        Appointment.status.in_(_UPCOMING),
        Appointment.starts_at >= utc_now(),
    )
    if service_id is not None:
        query = query.where(Appointment.service_id == service_id)
    return list(session.scalars(query.order_by(Appointment.starts_at)))


def _preauth_warning(session: Session, pa: PreAuthorization, today: date) -> str:
    if pa.status != PreAuthStatus.APPROVED.value:
        return ""
    locale = clinic_settings(session).locale
    if pa.expires_on is not None and pa.expires_on < today:
        return f"expired on {format_date(pa.expires_on, locale)}"
    visits = _upcoming_visits(session, pa.patient_id, pa.service_id)
    if pa.approved_units is not None:
        left = pa.approved_units - pa.used_units
        if left <= 0:
            return f"all {pa.approved_units} approved units are used"
        if len(visits) > left:
            return f"only {left} approved units left for {len(visits)} booked visits"
    if pa.expires_on is not None:
        zone = clinic_zone(session)
        late = [d for d in (v.astimezone(zone).date() for v in visits) if d > pa.expires_on]
        if late:
            return (
                f"expires on {format_date(pa.expires_on, locale)}, before the booked visit on "
                f"{format_date(late[0], locale)}"
            )
    return ""


def _preauth_line(session: Session, pa: PreAuthorization, today: date) -> PreauthLine:
    return PreauthLine(
        id=pa.id,
        version=pa.version,
        service=pa.procedure,
        status=pa.status,
        number=pa.authorization_number,
        approved_units=pa.approved_units,
        used_units=pa.used_units,
        expires_on=pa.expires_on,
        expired=pa.expires_on is not None and pa.expires_on < today,
        warning=_preauth_warning(session, pa, today),
        policy_id=pa.policy_id,
    )


def list_preauths(
    db: Database, actor: Actor, patient_id: int, *, include_expired: bool = False
) -> list[PreauthLine]:
    """The patient's pre-authorisations, soonest expiry first; expired ones fold away."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        today = clinic_today(session)
        rows = session.scalars(
            select(PreAuthorization)
            .where(PreAuthorization.patient_id == patient_id)
            .order_by(
                PreAuthorization.expires_on.is_(None),
                PreAuthorization.expires_on,
                PreAuthorization.id,
            )
        )
        lines = [_preauth_line(session, pa, today) for pa in rows]
        return [p for p in lines if include_expired or not p.expired]


def validate_preauth(data: PreauthData) -> PreauthData:
    service = tidy_text(
        data.service, "service", label="procedure or service", max_length=200, required=True
    )
    if data.status not in {s.value for s in PreAuthStatus}:
        raise ValidationError("Choose requested, approved or denied.", field="status")
    number = tidy_text(data.number, "number", label="authorization number", max_length=60)
    approved = data.approved_units
    if approved is not None and (
        isinstance(approved, bool) or not isinstance(approved, int) or approved < 0
    ):
        raise ValidationError("Approved units are a whole number, 0 or more.", "approved_units")
    used = data.used_units
    if isinstance(used, bool) or not isinstance(used, int) or used < 0:
        raise ValidationError("Used units are a whole number, 0 or more.", field="used_units")
    if approved is not None and used > approved:
        raise ValidationError("More units are used than were approved.", field="used_units")
    expires = data.expires_on
    if expires is not None and (not isinstance(expires, date) or isinstance(expires, datetime)):
        raise ValidationError("The expiry must be a date.", field="expires_on")
    return PreauthData(
        service=service,
        status=data.status,
        number=number,
        approved_units=approved,
        used_units=used,
        expires_on=expires,
        policy_id=data.policy_id,
        id=data.id,
        version=data.version,
    )


def save_preauth(db: Database, actor: Actor, patient_id: int, data: PreauthData) -> PreauthLine:
    """Create or update a pre-authorisation (a stale copy is refused)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    data = validate_preauth(data)
    with unit_of_work(db, actor) as session:
        patient_or_error(session, patient_id)
        if data.policy_id is not None:
            policy = session.get(InsurancePolicy, data.policy_id)
            if policy is None or policy.patient_id != patient_id:
                raise ValidationError("Choose one of this patient's policies.", "policy_id")
        if data.id is None:
            pa = PreAuthorization(patient_id=patient_id, requested_on=clinic_today(session))
            session.add(pa)
        else:
            pa = _loaded(session, PreAuthorization, data.id, data.version, "pre-authorization")
            if pa.patient_id != patient_id:
                raise NotFoundError("That pre-authorization belongs to another patient.")
        if pa.status != data.status and data.status in (
            PreAuthStatus.APPROVED.value,
            PreAuthStatus.DENIED.value,
        ):
            pa.decided_on = clinic_today(session)
        values = {
            "procedure": data.service,
            "status": data.status,
            "authorization_number": data.number,
            "approved_units": data.approved_units,
            "used_units": data.used_units,
            "expires_on": data.expires_on,
            "policy_id": data.policy_id,
        }
        assign_changed(pa, values)
        session.flush()
        return _preauth_line(session, pa, clinic_today(session))


# --- the verification queue ------------------------------------------------------------------


def _verification_task(session: Session, appointment_id: int) -> Task | None:
    return session.scalar(
        select(Task)
        .where(
            Task.kind == TaskKind.INSURANCE_VERIFICATION.value,
            Task.appointment_id == appointment_id,
            Task.status == TaskStatus.OPEN.value,
        )
        .order_by(Task.id)
        .limit(1)
    )


def verification_queue(
    db: Database, actor: Actor, *, days_ahead: int = 7
) -> list[VerificationQueueLine]:
    """Upcoming appointments whose patient's active policy is unverified or stale, soonest first."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    if isinstance(days_ahead, bool) or not isinstance(days_ahead, int) or not 0 < days_ahead <= 366:
        raise ValidationError("Look ahead 1 to 366 days.", field="days_ahead")
    now = utc_now()
    with reading(db, actor) as session:
        max_age = verification_max_age(session)
        appointments = session.scalars(
            select(Appointment)
            .where(
                Appointment.status.in_(_UPCOMING),
                Appointment.starts_at >= now,
                Appointment.starts_at < now + timedelta(days=days_ahead),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        lines = []
        for appt in appointments:
            policy = session.scalar(
                select(InsurancePolicy)
                .where(InsurancePolicy.patient_id == appt.patient_id, InsurancePolicy.is_active)
                .order_by(
                    InsurancePolicy.priority != PolicyPriority.PRIMARY.value, InsurancePolicy.id
                )
                .limit(1)
            )
            if policy is None:
                continue
            last = _last_verified(session, policy.id)
            if not is_stale(last, max_age):
                continue
            task = _verification_task(session, appt.id)
            lines.append(
                VerificationQueueLine(
                    appointment_id=appt.id,
                    starts_at=appt.starts_at,
                    patient_id=appt.patient_id,
                    patient_name=patient_name(session.get(Patient, appt.patient_id)),
                    policy_id=policy.id,
                    payer=_payer_name(session.get(Contact, policy.payer_id)),
                    last_verified_at=last,
                    assignee=staff_name(session, task.assignee_id) if task else "",
                )
            )
        return lines


def assign_verification(db: Database, actor: Actor, appointment_id: int, assignee_id: int) -> None:
    """Give verifying an appointment's insurance to someone: one open task per appointment."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        appt = session.get(Appointment, appointment_id)
        if appt is None:
            raise NotFoundError("That appointment no longer exists.")
        active_staff_or_error(session, assignee_id, "assignee_id")
        task = _verification_task(session, appointment_id)
        if task is None:
            session.add(
                Task(
                    kind=TaskKind.INSURANCE_VERIFICATION.value,
                    title="Verify insurance before the visit",
                    patient_id=appt.patient_id,
                    appointment_id=appt.id,
                    assignee_id=assignee_id,
                    due_on=clinic_today(session),
                    created_by_id=actor.staff_id,
                )
            )
        elif task.assignee_id != assignee_id:
            task.assignee_id = assignee_id


# --- estimating what insurance pays ----------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """What an insurance estimate is worked out from: the patient's active primary policy."""

    policy_id: int
    payer_name: str
    plan_name: str
    coverage_percent: int
    #: The deductible not met yet: the patient pays this much before the policy pays.
    deductible_left: Decimal

    @property
    def policy_name(self) -> str:
        """ "Delta Dental — PPO Plus" (the payer alone when the plan has no name)."""
        return " — ".join(part for part in (self.payer_name, self.plan_name) if part)


def insurance_estimates(
    amounts: Sequence[Decimal],
    coverage_percent: int,
    deductible_left: Decimal,
    currency: str = "USD",
) -> list[Decimal]:
    """The one rule for insurance estimates: ``amounts`` are lines in order (fee × quantity −
    discount); the deductible left is the patient's to pay first, then the policy pays
    ``coverage_percent`` of the rest of each line (rounded to the currency)."""
    if not 0 <= coverage_percent <= 100:
        raise ValueError("coverage_percent is 0 to 100")
    left = max(deductible_left, Decimal("0.00"))
    estimates = []
    for amount in amounts:
        applied = min(left, max(amount, Decimal("0.00")))
        left -= applied
        covered = (amount - applied) * coverage_percent / 100
        estimates.append(round_money(max(covered, Decimal("0.00")), currency))
    return estimates


def primary_coverage_in(session: Session, patient_id: int, today: date) -> Coverage | None:
    """The patient's active primary policy in effect on ``today`` (None when they have none),
    inside the caller's transaction."""
    policy = session.scalars(
        select(InsurancePolicy)
        .where(
            InsurancePolicy.patient_id == patient_id,
            InsurancePolicy.is_active,
            InsurancePolicy.priority == PolicyPriority.PRIMARY.value,
            (InsurancePolicy.effective_from.is_(None)) | (InsurancePolicy.effective_from <= today),
            (InsurancePolicy.effective_to.is_(None)) | (InsurancePolicy.effective_to >= today),
        )
        .order_by(InsurancePolicy.id.desc())
        .limit(1)
    ).first()
    if policy is None:
        return None
    return Coverage(
        policy_id=policy.id,
        payer_name=_payer_name(session.get(Contact, policy.payer_id)),
        plan_name=policy.plan_name,
        coverage_percent=policy.coverage_percent,
        deductible_left=max(policy.deductible - policy.deductible_met, Decimal("0.00")),
    )
