"""Spanish documents print the clinic's Spanish words (issue 17 §4): a service's Spanish name
and description entered in the catalogue, a plan's and a phase's Spanish title; without
them no sentence reads half in English."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.data.models.providers import Service
from app.documents.labels import clinic_text
from app.services.billing import plan_handouts as ph
from app.services.billing import treatment_plans as tp
from app.services.clinic import catalog
from app.services.clinic.catalog import ServiceData
from app.services.errors import ValidationError
from app.services.patients import consents
from tests.data.factories import add_patient
from tests.documents.pdfread import pdf_pages_text

D = Decimal


@pytest.mark.parametrize(
    ("locale", "english", "spanish", "in_sentence", "printed"),
    [
        ("es_US", "Porcelain crown", "Corona de porcelana", False, "Corona de porcelana"),
        ("es", "Porcelain crown", "  Corona   de porcelana ", True, "Corona de porcelana"),
        ("es_US", "Porcelain crown", "", False, "«Porcelain crown»"),
        ("es_MX", "Porcelain crown", "", True, "el tratamiento «Porcelain crown»"),
        ("en_US", "Porcelain crown", "Corona de porcelana", True, "Porcelain crown"),
        ("es_US", "", "", True, ""),
    ],
)
def test_one_helper_picks_the_clinics_words_for_a_language(
    locale, english, spanish, in_sentence, printed
):
    assert clinic_text(locale, english, spanish, in_sentence=in_sentence) == printed


@pytest.mark.both_backends
def test_the_catalogue_keeps_a_services_spanish_name_and_description(clinic, owner):
    saved = catalog.save_service(
        clinic.db,
        owner,
        ServiceData(
            "Porcelain crown", 60, D("1100.00"), name_es="  Corona  de porcelana ",
            description="A tooth-coloured crown.",
            description_es=" Una corona del color del diente. ",
        ),
    )  # fmt: skip
    assert (saved.name_es, saved.description_es) == (
        "Corona de porcelana",
        "Una corona del color del diente.",
    )
    [loaded] = catalog.load_catalog(clinic.db, owner).services
    assert (loaded.name_es, loaded.description_es) == (saved.name_es, saved.description_es)
    with pytest.raises(ValidationError) as refused:
        catalog.save_service(clinic.db, owner, ServiceData("Crown", name_es="x" * 121))
    assert refused.value.field == "name_es"


@pytest.fixture
def spanish_patient(clinic) -> int:
    with clinic.db.uow() as s:
        return add_patient(s, first_name="Zoë", last_name="Muñoz", preferred_language="es").id


def _service(clinic, name: str, name_es: str = "") -> int:
    with clinic.db.uow() as s:
        service = Service(name=name, name_es=name_es, fee=D("1100.00"))
        s.add(service)
        s.flush()
        return service.id


def _consent_text(clinic, owner, patient_id, procedure: str) -> str:
    pdf = consents.consent_pdf(
        clinic.db, owner, patient_id, "general_treatment", procedure=procedure
    )
    return " ".join(pdf_pages_text(pdf))


def test_a_spanish_consent_names_the_service_in_spanish(clinic, owner, spanish_patient):
    _service(clinic, "Porcelain crown", "una corona de porcelana")

    text = _consent_text(clinic, owner, spanish_patient, "Porcelain crown")

    assert "doy mi consentimiento para una corona de porcelana en" in text
    assert "Porcelain crown" not in text


def test_without_a_spanish_name_the_consent_reads_as_one_spanish_sentence(
    clinic, owner, spanish_patient
):
    _service(clinic, "Porcelain crown")
    _service(clinic, "Bone graft", "un injerto óseo")

    one = _consent_text(clinic, owner, spanish_patient, "Porcelain crown")
    two = _consent_text(clinic, owner, spanish_patient, "Bone graft, Porcelain crown")
    english = consents.consent_data(
        clinic.db, owner, spanish_patient, "general_treatment",
        procedure="Porcelain crown", language="en",
    )  # fmt: skip

    assert "doy mi consentimiento para el tratamiento «Porcelain crown» en" in one
    assert "para Porcelain crown" not in one
    assert "para los tratamientos un injerto óseo y «Porcelain crown» en" in two
    assert "consent to Porcelain crown" in english.body  # English documents are untouched


def test_a_spanish_handout_prints_the_spanish_titles_and_names(clinic, owner, spanish_patient):
    crown = _service(clinic, "Porcelain crown", "Corona de porcelana")
    exam = _service(clinic, "Exam and X-rays")
    plan = tp.create_plan(clinic.db, owner, spanish_patient, "Replace #14",
                          title_es="Reemplazo del diente 14")  # fmt: skip
    plan = tp.add_phase(clinic.db, owner, plan.id, plan.version, "Imaging")
    plan = tp.add_item(clinic.db, owner, plan.phases[0].id, plan.version, service_id=exam)
    plan = tp.add_phase(clinic.db, owner, plan.id, plan.version, "Crown", title_es="Corona")
    plan = tp.add_item(clinic.db, owner, plan.phases[1].id, plan.version, service_id=crown)

    text = " ".join(pdf_pages_text(ph.plan_handout_pdf(clinic.db, owner, plan.id)))

    assert "Reemplazo del diente 14" in text and "Replace #14" not in text
    assert "Fase 2: Corona" in text and "Corona de porcelana" in text
    assert "Fase 1: «Imaging»" in text  # no Spanish title: set apart as a name
    assert "«Exam and X-rays»" in text
    english = " ".join(
        pdf_pages_text(ph.plan_handout_pdf(clinic.db, owner, plan.id, language="en"))
    )
    assert "Replace #14" in english and "Phase 2: Crown" in english
    assert "Porcelain crown" in english and "Corona" not in english
