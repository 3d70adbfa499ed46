"""Check-out in one step, as the desk does it: complete the visit, post its charge (from the
plan item it fulfils or its service), take the payment *applied to this visit* — all in one
transaction, so a payment that is refused leaves the visit as it was — and say when the
patient is due back.

The payment goes to the visit's charge first; what it pays beyond that stays on the
account as credit.  The patient's existing credit is shown beside the amount due (the
desk decides whether to ask for less).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.patients import Patient
from app.data.models.payments import Charge
from app.data.models.providers import Provider, Service
from app.money import ZERO
from app.services.billing import balances, payments, visit_charges
from app.services.billing.payments import PaymentInput, PaymentResult
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.tasks import patient_name
from app.services.scheduling import appointment_status as status_flow
from app.services.scheduling import booking as scheduling
from app.services.scheduling.confirmations import provider_display

S = AppointmentStatus
#: A visit can be checked out once the patient is in (arrived or in treatment).
CAN_CHECK_OUT = (S.ARRIVED.value, S.IN_TREATMENT.value)


@dataclass(frozen=True)
class CheckOutPreview:
    appointment_id: int
    version: int
    patient_id: int
    patient_name: str
    date_of_birth: date | None
    service_id: int | None
    service_name: str
    provider_name: str
    starts_at: datetime
    status: str
    #: What completing the visit will charge ("" / 0.00 when nothing).
    charge_description: str
    charge_amount: Decimal
    #: What the patient owes before this visit (negative: credit).
    balance_before: Decimal
    #: Payment money on the account that nothing took yet (credit to apply).
    credit: Decimal
    #: When the service brings the patient back (its recall interval), if it does.
    recall_due_on: date | None
    currency: str
    locale: str

    @property
    def due_now(self) -> Decimal:
        """What to ask for today: this visit's charge (a balance owed from before is shown,
        not added — the desk chooses)."""
        return self.charge_amount


@dataclass(frozen=True)
class CheckOutResult:
    appointment_id: int
    charged: Decimal
    payment: PaymentResult | None
    balance: Decimal
    recall_due_on: date | None


def _recall_due(service: Service | None, visit_day: date) -> date | None:
    if service is None or not service.recall_interval_days:
        return None
    return visit_day + timedelta(days=service.recall_interval_days)


def check_out_preview(db: Database, actor: Actor, appointment_id: int) -> CheckOutPreview:
    """What the check-out dialog shows before anything is written."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    with reading(db, actor) as session:
        a = session.get(Appointment, appointment_id)
        if a is None:
            raise NotFoundError("This appointment no longer exists.")
        patient = session.get(Patient, a.patient_id)
        provider = session.get(Provider, a.provider_id)
        service = session.get(Service, a.service_id) if a.service_id is not None else None
        settings = clinic_settings(session)
        to_post = visit_charges.charge_for_visit(session, a)
        visit_day = a.starts_at.astimezone(clinic_zone(session)).date()
        return CheckOutPreview(
            appointment_id=a.id,
            version=a.version,
            patient_id=a.patient_id,
            patient_name=patient_name(patient),
            date_of_birth=patient.date_of_birth,
            service_id=a.service_id,
            service_name=service.name if service is not None else "",
            provider_name=provider_display(provider),
            starts_at=a.starts_at,
            status=a.status,
            charge_description=to_post.description if to_post is not None else "",
            charge_amount=to_post.amount if to_post is not None else ZERO,
            balance_before=balances.patient_balance(session, a.patient_id),
            credit=balances.unallocated_credit(session, a.patient_id),
            recall_due_on=_recall_due(service, visit_day),
            currency=settings.currency,
            locale=settings.locale,
        )


def check_out(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    payment: PaymentInput | None = None,
    *,
    now: datetime | None = None,
) -> CheckOutResult:
    """Complete the visit, post its charge and take ``payment`` for it, in one transaction
    (a refused payment undoes the completion too)."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    if payment is not None:
        permissions.require(actor, Permission.TAKE_PAYMENTS)
        if payment.installment_id is not None or payment.to_credit or payment.charge_ids:
            raise ValueError("a check-out payment goes to the visit's charge")
    now = now or utc_now()
    with unit_of_work(db, actor) as session:
        scheduling.lock_book(session)
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFoundError("This appointment no longer exists.")
        if appointment.status not in CAN_CHECK_OUT:
            raise ValidationError(
                "Only a patient who has arrived can be checked out: check them in first."
                if appointment.status in (S.SCHEDULED, S.CONFIRMED)
                else status_flow.refusal(appointment.status, S.COMPLETED.value),
                field="status",
            )
        check_version(session, appointment, version, "This appointment")
        done = status_flow.apply_status(session, actor, appointment, S.COMPLETED.value, now=now)
        taken = None
        if payment is not None:
            owed = balances.charges_outstanding(session, appointment.patient_id)
            charge_ids = tuple(
                charge_id
                for charge_id in session.scalars(
                    select(Charge.id).where(Charge.appointment_id == appointment.id)
                )
                if owed.get(charge_id, ZERO) > 0
            )
            # To the visit's charge; a visit with nothing to charge leaves it all as credit.
            applied = (
                replace(payment, charge_ids=charge_ids)
                if charge_ids
                else replace(payment, to_credit=True)
            )
            taken = payments.take_payment(session, actor, appointment.patient_id, applied)
        service = session.get(Service, appointment.service_id) if appointment.service_id else None
        visit_day = appointment.starts_at.astimezone(clinic_zone(session)).date()
        return CheckOutResult(
            appointment_id=appointment.id,
            charged=done.charged,
            payment=taken,
            balance=balances.patient_balance(session, appointment.patient_id),
            recall_due_on=_recall_due(service, visit_day),
        )
