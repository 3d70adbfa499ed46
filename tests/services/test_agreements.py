"""Payment plan agreements from the database: the plan's view, language, patient check, audit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models import AuditEntry
from app.data.models.payments import Frequency, LateFeeKind
from app.services.billing import agreements
from app.services.billing import payment_plans as pp
from app.services.errors import NotFoundError, ValidationError
from tests.data.factories import add_named_patient
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_receipts import set_language

D = Decimal
TODAY = date(2027, 1, 10)


def make_plan(db, actor, patient_id, *, count=12, sign=True, **changes) -> pp.PaymentPlanView:
    values = {
        "total_amount": D("3000.00"),
        "down_payment": D("600.00"),
        "installment_count": count,
        "frequency": Frequency.MONTHLY,
        "first_due_on": date(2027, 2, 1),
        "plan_date": TODAY,
        "apr_basis_points": 990,
        "late_fee_kind": LateFeeKind.PERCENT,
        "late_fee_basis_points": 500,
        "grace_days": 7,
    }
    values.update(changes)
    view = pp.create_payment_plan(db, actor, patient_id, pp.PaymentPlanTerms(**values), today=TODAY)
    if sign:
        view = pp.sign_payment_plan(db, actor, view.id, view.version, today=TODAY)
    return view


def print_audits(db) -> list[AuditEntry]:
    with db.uow() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "print").order_by(AuditEntry.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_the_agreement_prints_the_payment_plans_own_figures(clinic, owner, patient_id):
    view = make_plan(clinic.db, owner, patient_id)
    agreement = agreements.agreement_data(clinic.db, owner, view.id)
    assert agreement.patient.name == "Zoë Nguyễn"
    assert agreement.locale == "en_US" and agreement.currency == "USD"
    assert agreement.status == "active" and agreement.signed_at is not None
    assert agreement.financed_amount == view.financed_amount == D("2400.00")
    assert agreement.finance_charge == view.total_interest > 0
    assert [(r.sequence, r.due_on, r.amount) for r in agreement.installments] == [
        (r.sequence, r.due_on, r.amount) for r in view.installments
    ]
    assert agreement.total_of_payments == D("600.00") + sum(r.amount for r in view.installments)
    assert (agreement.late_fee_kind, agreement.late_fee_basis_points, agreement.grace_days) == (
        "percent",
        500,
        7,
    )

    text = " ".join(pdf_pages_text(agreements.agreement_pdf(clinic.db, owner, view.id)))
    assert "Amount financed $2,400.00" in text
    assert "Annual percentage rate (APR) 9.9%" in text
    assert "First payment due February 1, 2027" in text
    assert "Last payment due January 1, 2028" in text
    assert "7 days after its due date, a late fee of 5% of the part still unpaid" in text
    assert "Bayside Dental" in text


def test_the_patients_language_and_the_override(clinic, owner, patient_id):
    view = make_plan(clinic.db, owner, patient_id)
    set_language(clinic.db, patient_id, "es")
    assert agreements.agreement_data(clinic.db, owner, view.id).locale == "es_US"
    text = " ".join(pdf_pages_text(agreements.agreement_pdf(clinic.db, owner, view.id)))
    assert "Acuerdo de plan de pagos" in text and "1 de febrero de 2027" in text
    assert agreements.agreement_data(clinic.db, owner, view.id, language="en").locale == "en_US"
    with pytest.raises(ValidationError, match="English or Spanish"):
        agreements.agreement_data(clinic.db, owner, view.id, language="fr")


def test_a_draft_prints_too_and_is_not_marked_signed(clinic, owner, patient_id):
    view = make_plan(clinic.db, owner, patient_id, sign=False)
    agreement = agreements.agreement_data(clinic.db, owner, view.id)
    assert agreement.status == "draft" and agreement.signed_at is None
    text = " ".join(pdf_pages_text(agreements.build_agreement(agreement)))
    assert "Signed on" not in text and "Sign here" in text


def test_printing_is_audited_against_the_patient(clinic, owner, patient_id):
    view = make_plan(clinic.db, owner, patient_id)
    agreements.agreement_pdf(clinic.db, owner, view.id, language="es")
    (entry,) = print_audits(clinic.db)
    assert (entry.entity, entry.entity_id, entry.patient_id) == (
        "payment_plans",
        view.id,
        patient_id,
    )
    assert (
        "agreement" in entry.detail and "(es)" in entry.detail and "12 installment" in entry.detail
    )


def test_the_front_desk_may_print_it(clinic, owner, make_staff, patient_id):
    """Receptionists hand the agreement over at the desk: viewing plans is enough."""
    view = make_plan(clinic.db, owner, patient_id)
    receptionist = make_staff("rita", "receptionist")
    assert agreements.agreement_data(clinic.db, receptionist, view.id).payment_plan_id == view.id


def test_the_system_print_checks_the_patient(clinic, owner, patient_id):
    view = make_plan(clinic.db, owner, patient_id)
    other = add_named_patient(clinic.db, "Ana", "Ruiz")
    pdf = agreements.command_agreement_pdf(clinic.db, owner, patient_id, view.id)
    assert "Zoë Nguyễn" in pdf_pages_text(pdf)[0]
    with pytest.raises(NotFoundError, match="belongs to another patient"):
        agreements.command_agreement_pdf(clinic.db, owner, other, view.id)
    with pytest.raises(NotFoundError, match="No patient has id 9999"):
        agreements.command_agreement_pdf(clinic.db, owner, 9999, view.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        agreements.command_agreement_pdf(clinic.db, owner, patient_id, 9999)
    (entry,) = print_audits(clinic.db)
    assert entry.staff_id == owner.staff_id and entry.entity_id == view.id


def test_a_sixty_installment_plan_prints_every_row(clinic, owner, patient_id):
    view = make_plan(clinic.db, owner, patient_id, count=60, total_amount=D("12000.00"))
    pages = pdf_pages_text(agreements.agreement_pdf(clinic.db, owner, view.id))
    assert len(pages) >= 2
    text = " ".join(pages)
    assert "Number of installments 60" in text and "January 1, 2032" in text
    assert all("No. Due date Amount Principal Interest Balance after" in p for p in pages[:-1])


def test_filename_names_no_patient():
    assert agreements.agreement_filename(12, 2) == "Payment plan agreement #12 v2.pdf"
