"""The handout's data from a plan, its options and payment plan; frozen at acceptance; audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.documents import StoredDocument
from app.data.models.patients import Patient
from app.data.models.payments import Frequency
from app.data.models.plans import TreatmentPlan
from app.data.models.providers import Service
from app.services.billing import payment_plans as pp
from app.services.billing import plan_details
from app.services.billing import plan_handouts as ph
from app.services.billing import treatment_plans as tp
from app.services.errors import ValidationError
from app.services.patients import documents
from tests.data.factories import add_patient, add_provider, add_service
from tests.documents.pdfread import pdf_pages_text

D = Decimal
NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def coordinator(make_staff):
    return make_staff("cora", "coordinator", "Cora Coordinator")


@pytest.fixture
def ids(clinic):
    with clinic.db.uow() as s:
        patient = add_patient(s, first_name="Zoë", last_name="Muñoz", preferred_language="es")
        return {
            "patient": patient.id,
            "provider": add_provider(s, name="Ada Lovelace").id,
            "exam": add_service(s, name="Exam and X-rays", fee=D("95.00")).id,
            "crown": add_service(s, name="Implant crown", fee=D("1250.00")).id,
        }


def build(db, actor, ids) -> plan_details.PlanDetail:
    plan = tp.create_plan(db, actor, ids["patient"], "Replace #14", provider_id=ids["provider"])
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Imaging", "X-rays and a scan.")
    plan = tp.add_item(db, actor, plan.phases[0].id, plan.version, service_id=ids["exam"])
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Crown")
    return tp.add_item(
        db,
        actor,
        plan.phases[1].id,
        plan.version,
        service_id=ids["crown"],
        area="#14",
        insurance_estimate=D("400.00"),
    )


def test_handout_data_follows_the_plan_and_the_patients_language(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)

    data = ph.plan_handout_data(clinic.db, coordinator, plan.id)

    assert data.locale == "es_US"  # a Spanish-speaking patient of an en_US clinic
    assert data.patient.name == "Zoë Muñoz"
    assert data.currency == "USD"
    (option,) = data.options
    # No Spanish titles given: the English ones are set apart as names.
    assert [p.title for p in option.phases] == ["«Imaging»", "«Crown»"]
    assert option.phases[0].description == "X-rays and a scan."
    assert option.totals.patient_portion == D("945.00")  # 95 + 1250 − 400
    assert option.phases[1].items[0].area == "#14"
    assert data.payment_plan is None and data.accepted_on is None
    assert ph.plan_handout_data(clinic.db, coordinator, plan.id, language="en").locale == "en_US"


def test_printing_is_audited(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)

    ph.plan_handout_pdf(clinic.db, coordinator, plan.id, language="en")

    with clinic.db.uow() as s:
        row = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "print", AuditEntry.entity == "treatment_plans"
            )
        ).one()
    assert row.entity_id == plan.id and row.patient_id == ids["patient"]
    assert "handout" in row.detail and "2 item(s)" in row.detail


def test_a_provider_accepting_also_freezes_the_handout(clinic, make_staff, coordinator, ids):
    """Providers may decide plans but not edit patient records: the handout is still kept."""
    plan = build(clinic.db, coordinator, ids)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    provider = make_staff("paula", "provider")

    tp.accept_plan(clinic.db, provider, plan.id, plan.version, now=NOW)

    line, pdf = ph.accepted_handout(clinic.db, provider, plan.id)
    assert line.kind == "plan_handout" and pdf.startswith(b"%PDF-")


def test_an_empty_plan_has_no_handout(clinic, coordinator, ids):
    plan = tp.create_plan(clinic.db, coordinator, ids["patient"], "Nothing yet")
    with pytest.raises(ValidationError, match="at least one item"):
        ph.plan_handout_data(clinic.db, coordinator, plan.id)


def test_alternatives_print_side_by_side(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)
    option_b = tp.add_alternative(clinic.db, coordinator, plan.id, plan.version)
    option_b = tp.remove_item(
        clinic.db, coordinator, option_b.phases[1].items[0].id, option_b.version
    )

    data = ph.plan_handout_data(clinic.db, coordinator, plan.id, language="en")

    assert [o.label for o in data.options] == ["Option A", "Option B"]
    assert [o.totals.patient_portion for o in data.options] == [D("945.00"), D("95.00")]
    text = " ".join(pdf_pages_text(ph.plan_handout_pdf(clinic.db, coordinator, option_b.id)))
    assert "Sus opciones, una al lado de la otra" in text
    assert "Opción A" in text and "Opción B" in text


def test_booked_visits_appear_with_their_dates(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    plan = tp.accept_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    from app.data.models.appointments import Appointment

    with clinic.db.uow() as s:
        s.add(
            Appointment(
                patient_id=ids["patient"],
                provider_id=ids["provider"],
                service_id=ids["exam"],
                treatment_phase_id=plan.phases[0].id,
                starts_at=datetime(2027, 3, 8, 14, 0, tzinfo=UTC),
                ends_at=datetime(2027, 3, 8, 14, 30, tzinfo=UTC),
            )
        )

    data = ph.plan_handout_data(clinic.db, coordinator, plan.id, language="en")

    visits = data.options[0].phases[0].visits
    assert [(v.starts_at.replace(tzinfo=UTC), v.service) for v in visits] == [
        (datetime(2027, 3, 8, 14, 0, tzinfo=UTC), "Exam and X-rays")
    ]
    assert data.options[0].phases[1].visits == ()
    text = " ".join(pdf_pages_text(ph.plan_handout_pdf(clinic.db, coordinator, plan.id)))
    assert "lunes, 8 de marzo de 2027" in text  # 9:00 in New York


def test_accepting_stores_the_handout_in_the_patients_documents(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)

    tp.accept_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)

    with clinic.db.uow() as s:
        handout_id = s.get(TreatmentPlan, plan.id).accepted_handout_id
    assert handout_id is not None
    (line,) = documents.list_documents(clinic.db, coordinator, ids["patient"])
    assert line.id == handout_id and line.kind == "plan_handout"
    assert line.filename.endswith(".pdf") and "Replace #14" in line.filename
    stored_line, stored = ph.accepted_handout(clinic.db, coordinator, plan.id)
    assert stored.startswith(b"%PDF-") and stored_line.id == handout_id
    text = " ".join(pdf_pages_text(stored))
    assert "Aceptado el 1 de marzo de 2027" in text  # in the patient's language
    assert "US$1,250.00" in text or "$1,250.00" in text

    # A later catalogue price change does not touch the copy the patient took home.
    with clinic.db.uow() as s:
        s.get(Service, ids["crown"]).fee = D("1999.00")
        s.get(Patient, ids["patient"]).preferred_language = "en"
    _line, again = ph.accepted_handout(clinic.db, coordinator, plan.id)
    assert again == stored
    assert "1,999.00" not in " ".join(pdf_pages_text(again))


def test_a_failed_acceptance_stores_no_handout(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)
    with pytest.raises(ValidationError):
        tp.accept_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)  # still a draft
    with clinic.db.uow() as s:
        assert s.scalars(select(StoredDocument)).all() == []
    assert ph.accepted_handout(clinic.db, coordinator, plan.id) is None


def test_partly_accepted_handout_holds_only_what_was_accepted(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    tp.accept_plan(
        clinic.db, coordinator, plan.id, plan.version, [plan.phases[0].id], reason="Later"
    )
    _line, pdf = ph.accepted_handout(clinic.db, coordinator, plan.id)
    text = " ".join(pdf_pages_text(pdf))
    assert "Imaging" in text and "Crown" not in text


def test_payment_plan_schedule_is_in_the_handout(clinic, coordinator, ids):
    plan = build(clinic.db, coordinator, ids)
    plan = tp.present_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    tp.accept_plan(clinic.db, coordinator, plan.id, plan.version, now=NOW)
    terms = pp.PaymentPlanTerms(
        frequency=Frequency.MONTHLY,
        first_due_on=date(2027, 4, 1),
        down_payment=D("45.00"),
        installment_count=3,
        apr_basis_points=1200,
        plan_date=date(2027, 3, 1),
    )
    pp.create_payment_plan(
        clinic.db, coordinator, ids["patient"], terms, treatment_plan_id=plan.id,
        today=date(2027, 3, 1),
    )  # fmt: skip

    data = ph.plan_handout_data(clinic.db, coordinator, plan.id, language="en")

    schedule = data.payment_plan
    assert schedule is not None and not schedule.signed
    assert [r.due_on for r in schedule.installments] == [
        date(2027, 4, 1),
        date(2027, 5, 1),
        date(2027, 6, 1),
    ]
    assert schedule.financed_amount == D("900.00")
    assert schedule.finance_charge > 0
    assert schedule.total_of_payments == D("45.00") + sum(r.amount for r in schedule.installments)
    text = " ".join(pdf_pages_text(ph.plan_handout_pdf(clinic.db, coordinator, plan.id)))
    assert "Su plan de pagos" in text and "1 de abril de 2027" in text


def test_a_phase_title_prints_once_even_with_a_number_typed_in_it(clinic, coordinator, ids):
    """Phases are numbered by the handout: "Phase 2: Crown", never "Phase 2: Phase 2 — Crown"
    (a title typed that way before the editor stopped suggesting it)."""
    from app.data.models.plans import TreatmentPhase

    plan = build(clinic.db, coordinator, ids)
    with clinic.db.uow() as s:
        s.get(TreatmentPhase, plan.phases[1].id).title = "Phase 2 — Crown"
    option_b = tp.add_alternative(clinic.db, coordinator, plan.id, plan.version)

    text = " ".join(
        pdf_pages_text(ph.plan_handout_pdf(clinic.db, coordinator, plan.id, language="en"))
    )

    assert "Phase 1: Imaging" in text and "Phase 2: Crown" in text
    assert "Phase 2: Phase 2" not in text
    # Option B is titled by its label: its heading says it once.
    assert option_b.title == "Option B"
    assert "Option B: Option B" not in text and "Option A: Replace #14" in text
