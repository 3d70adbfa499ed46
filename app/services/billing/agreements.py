"""Payment plan agreements: what the agreement of one payment plan prints, and the audited print.

The terms and the schedule are the payment plan's view
(:func:`app.services.billing.payment_plans.load_payment_plan`) — the figures the payment plan window
shows — so the paper and the screen can never disagree.  The agreement prints in the
patient's preferred language (or the one the desk chooses) in the clinic's country.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.patients import Patient
from app.data.models.payments import PaymentPlan
from app.documents.agreement import AgreementInstallment, PaymentAgreement, build_agreement
from app.services.billing import payment_plans
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    Deliver,
    clinic_letterhead,
    delivered,
    document_locale,
    patient_banner,
    patient_language,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import NotFoundError, ValidationError

__all__ = [
    "agreement_data",
    "agreement_filename",
    "agreement_in",
    "agreement_pdf",
    "command_agreement_pdf",
]


def agreement_in(
    session: Session,
    payment_plan_id: int,
    *,
    language: str | None = None,
    patient_id: int | None = None,
    now: datetime | None = None,
    today: date | None = None,
) -> PaymentAgreement:
    """The agreement of a payment plan inside the caller's transaction, audited as a print
    by the transaction's actor.  ``patient_id``, when given, must own the plan."""
    plan = session.get(PaymentPlan, payment_plan_id)
    if plan is None or (patient_id is not None and plan.patient_id != patient_id):
        raise NotFoundError(
            "This payment plan no longer exists."
            if plan is None
            else f"Payment plan #{payment_plan_id} belongs to another patient."
        )
    settings = clinic_settings(session)
    patient = session.get(Patient, plan.patient_id)
    if patient is None:  # pragma: no cover - a plan's patient is never deleted
        raise NotFoundError("This patient no longer exists.")
    chosen = patient_language(patient, language, what="Agreements")
    view = payment_plans.payment_plan_view(session, plan, today or clinic_today(session))
    if not view.installments:
        raise ValidationError("This payment plan has no installments to print.")
    agreement = PaymentAgreement(
        letterhead=clinic_letterhead(settings),
        patient=patient_banner(patient),
        locale=document_locale(settings.locale, chosen),
        currency=view.currency,
        payment_plan_id=view.id,
        terms_version=view.terms_version,
        status=view.status.value,
        plan_date=view.plan_date,
        total_amount=view.total_amount,
        down_payment=view.down_payment,
        financed_amount=view.financed_amount,
        apr_basis_points=view.apr_basis_points,
        frequency=view.frequency.value,
        installments=tuple(
            AgreementInstallment(
                sequence=row.sequence,
                due_on=row.due_on,
                amount=row.amount,
                principal=row.principal,
                interest=row.interest,
                balance_after=row.balance_after,
            )
            for row in view.installments
        ),
        late_fee_kind=view.late_fee_kind.value,
        late_fee_amount=view.late_fee_amount,
        late_fee_basis_points=view.late_fee_basis_points,
        grace_days=view.grace_days,
        notes=view.notes,
        signed_at=view.signed_at,
        cancel_reason=view.cancel_reason,
        printed_at=now or utc_now(),
    )
    record(
        session,
        AuditAction.PRINT,
        entity="payment_plans",
        entity_id=plan.id,
        patient_id=plan.patient_id,
        detail=(
            f"payment plan agreement v{view.terms_version} ({chosen}), "
            f"{len(view.installments)} installment(s), {view.status.value}"
        ),
    )
    return agreement


def agreement_data(
    db: Database, actor: Actor, payment_plan_id: int, *, language: str | None = None
) -> PaymentAgreement:
    """What the agreement of ``payment_plan_id`` prints; audited as a print.

    ``language`` ("en"/"es") overrides the patient's preferred language."""
    permissions.require(actor, Permission.VIEW_PLANS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        return agreement_in(session, payment_plan_id, language=language)


def agreement_pdf(
    db: Database, actor: Actor, payment_plan_id: int, *, language: str | None = None
) -> bytes:
    """The agreement as PDF bytes (audited as a print)."""
    return build_agreement(agreement_data(db, actor, payment_plan_id, language=language))


def command_agreement_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    payment_plan_id: int,
    *,
    language: str | None = None,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk print agreement`` for the staff member signed in on the command line
    (permission-checked, audited as them).

    Refuses a plan of another patient than ``patient_id``."""
    permissions.require(actor, Permission.VIEW_PLANS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError(f"No patient has id {patient_id}.")
        agreement = agreement_in(session, payment_plan_id, language=language, patient_id=patient_id)
        return delivered(build_agreement(agreement), deliver)


def agreement_filename(payment_plan_id: int, terms_version: int = 1) -> str:
    """``Payment plan agreement #12 v2.pdf`` (no patient name in it)."""
    return f"Payment plan agreement #{payment_plan_id} v{terms_version}.pdf"
