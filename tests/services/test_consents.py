"""Consent templates: placeholder validation, versions, starter set, printing, what is unsigned."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.data.models import AuditEntry
from app.data.models.appointments import AppointmentStatus
from app.data.models.documents import ConsentTemplate, ConsentVersion, StoredDocument
from app.data.models.patients import Patient
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.providers import ServiceRequiredConsent
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients import consents
from app.services.patients.consents import ConsentWording
from app.services.scheduling import booking as scheduling
from tests.data.factories import add_appointment, add_provider, add_service
from tests.documents.pdfread import pdf_pages_text

STARTER_KEYS = [
    "general_treatment",
    "injectables",
    "laser",
    "photography_release",
    "financial_policy",
]


def wording(body: str, title: str = "Consent", risks: str = "", alternatives: str = ""):
    return ConsentWording(title=title, body=body, risks=risks, alternatives=alternatives)


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ("I, {patient_name}, agree to {procedure} by {provider} on {date}.", None),
        ("At {clinic_name}: {risks} / {alternatives}", None),
        ("Braces print as {{ and }}, not as placeholders.", None),
        ("I, {patiet_name}, agree.", "{patiet_name}"),
        ("Fee {amount} due.", "{amount}"),
        ("{Patient_Name}", "{Patient_Name}"),
        ("Positional {} is not a placeholder.", "{}"),
        ("Numbered {0} neither.", "{0}"),
        ("Attribute {patient_name.upper}", "{patient_name.upper}"),
        ("Formatted {date:%Y}", "{date:%Y}"),
        ("Converted {patient_name!r}", "{patient_name!r}"),
        ("An unclosed {patient_name brace", "brace that does not close"),
        ("A stray } brace", "brace that does not close"),
    ],
)
def test_placeholder_validation_names_what_is_wrong(body, refused):
    if refused is None:
        consents.check_wording(wording(body))
        return
    with pytest.raises(ValidationError) as caught:
        consents.check_wording(wording(body))
    assert refused in str(caught.value)
    assert caught.value.field == "body"


@pytest.mark.parametrize("field", ["title", "risks", "alternatives"])
def test_every_field_is_checked_and_named(field):
    values = {"title": "Consent", "body": "Body", "risks": "", "alternatives": ""}
    values[field] = "Bad {nope}"
    with pytest.raises(ValidationError, match=r"\{nope\}") as caught:
        consents.check_wording(ConsentWording(**values))
    assert caught.value.field == field


def test_risks_cannot_contain_themselves():
    with pytest.raises(ValidationError, match="inside itself"):
        consents.check_wording(wording("Body", risks="See {risks}"))


def test_fill_placeholders_keeps_literal_braces():
    filled = consents.fill_placeholders(
        "{patient_name} {{note}} {procedure}", {"patient_name": "Zoë", "procedure": "Laser"}
    )
    assert filled == "Zoë {note} Laser"


def test_starter_set_installs_once_in_both_languages(clinic, owner):
    # Setting up the clinic installed them; installing again adds nothing.
    assert consents.install_starter_consents(clinic.db, owner) == 0
    lines = consents.list_consent_templates(clinic.db, owner)
    assert [line.key for line in lines] == STARTER_KEYS
    for line in lines:
        assert set(line.latest) == {"en", "es"}
        for info in line.latest.values():
            consents.check_wording(info.wording)  # the shipped wording is valid
            assert info.version == 1 and len(info.body) > 400
    by_key = {line.key: line for line in lines}
    assert (
        by_key["laser"].latest["es"].title.startswith("Consentimiento para tratamiento con láser")
    )
    assert by_key["financial_policy"].latest["en"].title == "Financial policy"
    assert "riesgos" in by_key["injectables"].latest["es"].body


def test_first_use_installs_the_starter_set(clinic, owner):
    assert [line.key for line in consents.list_consent_templates(clinic.db, owner)] == (
        STARTER_KEYS
    )


def test_setup_can_install_without_a_signed_in_actor(clinic):
    assert consents.install_starter_consents(clinic.db, None) == 0


def test_editing_creates_a_new_version_and_keeps_the_old(clinic, owner):
    consents.install_starter_consents(clinic.db, owner)
    first = consents.consent_versions(clinic.db, owner, "laser", "en")[0]
    edited = consents.save_consent_version(
        clinic.db,
        owner,
        "laser",
        "en",
        wording("New laser wording for {patient_name}.", title="Laser consent", risks="Burns."),
    )
    assert edited.version == 2 and edited.created_by == "Olivia Owner"
    history = consents.consent_versions(clinic.db, owner, "laser", "en")
    assert [v.version for v in history] == [2, 1]
    assert history[1].body == first.body  # the old wording is kept, unchanged
    # Spanish has its own numbering and was not touched.
    assert [v.version for v in consents.consent_versions(clinic.db, owner, "laser", "es")] == [1]
    # Saving the same wording again adds nothing.
    again = consents.save_consent_version(
        clinic.db,
        owner,
        "laser",
        "en",
        wording("New laser wording for {patient_name}.", title="Laser consent", risks="Burns."),
    )
    assert again.id == edited.id
    assert len(consents.consent_versions(clinic.db, owner, "laser", "en")) == 2


def test_an_unknown_placeholder_is_refused_and_nothing_saved(clinic, owner):
    consents.install_starter_consents(clinic.db, owner)
    with pytest.raises(ValidationError, match=r"unknown placeholder “\{doctor\}”"):
        consents.save_consent_version(
            clinic.db, owner, "laser", "en", wording("Signed by {doctor}.")
        )
    assert len(consents.consent_versions(clinic.db, owner, "laser", "en")) == 1


def test_a_new_template_key_creates_a_template(clinic, owner):
    saved = consents.save_consent_version(
        clinic.db, owner, "chemical_peel", "en", wording("Peel for {patient_name}.")
    )
    assert saved.version == 1
    with pytest.raises(ValidationError, match="lower-case"):
        consents.save_consent_version(clinic.db, owner, "Bad Key!", "en", wording("x"))


def test_only_the_owner_edits(clinic, owner, make_staff):
    desk = make_staff("rita", "receptionist", "Rita Ramírez")
    consents.install_starter_consents(clinic.db, owner)
    with pytest.raises(PermissionDeniedError):
        consents.save_consent_version(clinic.db, desk, "laser", "en", wording("x"))
    with pytest.raises(PermissionDeniedError):
        consents.list_consent_templates(clinic.db, desk)


def _set_language(db, patient_id: int, language: str) -> None:
    with db.uow() as session:
        session.get(Patient, patient_id).preferred_language = language


def test_printing_uses_the_newest_version_of_the_patients_language(clinic, owner, patient_id):
    consents.install_starter_consents(clinic.db, owner)
    with clinic.db.uow() as session:
        provider_id = add_provider(session, name="Ana Muñoz", title="Dr.").id
    consents.save_consent_version(
        clinic.db,
        owner,
        "general_treatment",
        "es",
        wording(
            "Yo, {patient_name}, acepto {procedure} con {provider} el {date} en {clinic_name}.",
            title="Consentimiento: {procedure}",
            risks="Dolor e hinchazón.",
        ),
    )
    _set_language(clinic.db, patient_id, "es")
    form = consents.consent_data(
        clinic.db,
        owner,
        patient_id,
        "general_treatment",
        procedure="Extracción de muela",
        provider_id=provider_id,
    )
    assert (form.language, form.version, form.locale) == ("es", 2, "es_US")
    assert form.title == "Consentimiento: Extracción de muela"
    assert form.body.startswith("Yo, Zoë Nguyễn, acepto Extracción de muela con Dr. Ana Muñoz el ")
    assert " de 20" in form.body  # "5 de diciembre de 2026": the date in Spanish words
    assert form.risks == "Dolor e hinchazón."  # not in the body: printed under its heading
    text = " ".join(
        pdf_pages_text(
            consents.consent_pdf(
                clinic.db, owner, patient_id, "general_treatment", procedure="Extracción de muela"
            )
        )
    )
    assert "Zoë Nguyễn" in text and "Riesgos" in text and "Firma del testigo" in text
    # English override prints the English version 1.
    english = consents.consent_data(
        clinic.db, owner, patient_id, "general_treatment", language="en"
    )
    assert (english.language, english.version) == ("en", 1)
    assert english.risks == ""  # the starter body shows {risks} itself
    assert "Pain, swelling" in english.body


def test_a_language_without_wording_falls_back_to_english(clinic, owner, patient_id):
    consents.save_consent_version(
        clinic.db, owner, "chemical_peel", "en", wording("Peel for {patient_name}.")
    )
    _set_language(clinic.db, patient_id, "es")
    form = consents.consent_data(clinic.db, owner, patient_id, "chemical_peel")
    assert form.language == "en" and form.body == "Peel for Zoë Nguyễn."


def test_an_unnamed_procedure_and_provider_print_as_blanks(clinic, owner, patient_id):
    form = consents.consent_data(clinic.db, owner, patient_id, "general_treatment")
    assert f"consent to {consents.BLANK} at Bayside Dental" in form.body


def test_printing_is_audited_with_the_version(clinic, owner, patient_id):
    consents.consent_pdf(clinic.db, owner, patient_id, "laser", procedure="Hair removal")
    with clinic.db.uow() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "print").order_by(AuditEntry.id.desc())
        ).first()
        version_id = session.scalar(
            select(ConsentVersion.id)
            .join(ConsentTemplate)
            .where(ConsentTemplate.key == "laser", ConsentVersion.language == "en")
        )
    assert entry.patient_id == patient_id and entry.entity == "consent_versions"
    assert entry.entity_id == version_id
    assert entry.detail == "consent laser v1 (en) for signing"


def test_printing_refusals(clinic, owner, patient_id, make_staff):
    with pytest.raises(NotFoundError, match="no_such"):
        consents.consent_pdf(clinic.db, owner, patient_id, "no_such")
    with pytest.raises(NotFoundError, match="patient"):
        consents.consent_pdf(clinic.db, owner, 999_999, "laser")
    with pytest.raises(ValidationError, match="English or Spanish"):
        consents.consent_pdf(clinic.db, owner, patient_id, "laser", language="fr")
    # The desk prints (and a first print installs the starter set) but cannot edit.
    desk = make_staff("rita", "receptionist", "Rita Ramírez")
    assert consents.consent_pdf(clinic.db, desk, patient_id, "laser").startswith(b"%PDF")


# --- unsigned required consents ---------------------------------------------------------------


def _template_id(session, key: str) -> int:
    return session.scalar(select(ConsentTemplate.id).where(ConsentTemplate.key == key))


def _sign(db, patient_id: int, key: str) -> None:
    content = b"%PDF-1.4 signed"
    with db.uow() as session:
        version_id = session.scalar(
            select(ConsentVersion.id)
            .where(ConsentVersion.template_id == _template_id(session, key))
            .order_by(ConsentVersion.version)
        )
        session.add(
            StoredDocument(
                patient_id=patient_id,
                kind="consent",
                title=key,
                filename=f"{key}.pdf",
                mime_type="application/pdf",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                size_bytes=len(content),
                consent_version_id=version_id,
                signed_at=datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
            )
        )


@pytest.fixture
def booked(clinic, owner, patient_id):
    """Laser booked as a visit; injectables accepted in a plan; a cancelled visit for a
    service needing the photography release; a proposed (not accepted) plan item for a
    service needing the financial policy."""
    consents.install_starter_consents(clinic.db, owner)
    with clinic.db.uow() as session:
        patient = session.get(Patient, patient_id)
        provider = add_provider(session)
        laser = add_service(session, name="Laser hair removal")
        fillers = add_service(session, name="Lip filler")
        photos = add_service(session, name="Photo session")
        crowns = add_service(session, name="Crown")
        for service, key in (
            (laser, "laser"),
            (laser, "photography_release"),
            (fillers, "injectables"),
            (photos, "photography_release"),
            (crowns, "financial_policy"),
        ):
            session.add(
                ServiceRequiredConsent(
                    service_id=service.id, consent_template_id=_template_id(session, key)
                )
            )
        add_appointment(session, patient, provider, service_id=laser.id)
        add_appointment(
            session,
            patient,
            provider,
            service_id=photos.id,
            status=AppointmentStatus.CANCELLED.value,
            starts_at=datetime(2026, 3, 3, 15, 0, tzinfo=UTC),
            ends_at=datetime(2026, 3, 3, 15, 30, tzinfo=UTC),
        )
        plan = TreatmentPlan(patient_id=patient_id, title="Lips", status="accepted")
        session.add(plan)
        session.flush()
        phase = TreatmentPhase(plan_id=plan.id, title="Phase 1", status="accepted")
        session.add(phase)
        session.flush()
        session.add(
            TreatmentItem(
                phase_id=phase.id,
                service_id=fillers.id,
                description="Lip filler",
                status="accepted",
            )
        )
        draft = TreatmentPlan(patient_id=patient_id, title="Crown", status="presented")
        session.add(draft)
        session.flush()
        draft_phase = TreatmentPhase(plan_id=draft.id, title="Phase 1")
        session.add(draft_phase)
        session.flush()
        session.add(
            TreatmentItem(phase_id=draft_phase.id, service_id=crowns.id, description="Crown")
        )
        return {"laser": laser.id, "fillers": fillers.id}


def test_unsigned_required_consents_of_booked_and_accepted_treatment(
    clinic, owner, patient_id, booked
):
    missing = consents.unsigned_required_consents(clinic.db, owner, patient_id)
    assert [(m.template_key, m.services) for m in missing] == [
        ("injectables", ("Lip filler",)),
        ("laser", ("Laser hair removal",)),
        ("photography_release", ("Laser hair removal",)),
    ]
    assert missing[1].title == "Consent for laser treatment"
    assert missing[2].title == "Clinical photography consent and release"

    _sign(clinic.db, patient_id, "laser")
    _sign(clinic.db, patient_id, "injectables")
    missing = consents.unsigned_required_consents(clinic.db, owner, patient_id)
    assert [m.template_key for m in missing] == ["photography_release"]


def test_a_copy_signed_with_an_older_version_still_counts(clinic, owner, patient_id, booked):
    _sign(clinic.db, patient_id, "laser")  # signed version 1
    consents.save_consent_version(clinic.db, owner, "laser", "en", wording("Reworded."))
    keys = [
        m.template_key for m in consents.unsigned_required_consents(clinic.db, owner, patient_id)
    ]
    assert "laser" not in keys


def test_it_is_the_same_rule_booking_warns_with(clinic, owner, patient_id, booked):
    with clinic.db.uow() as session:
        warnings = scheduling.consent_warnings(session, patient_id, booked["laser"])
    assert len(warnings) == 2
    _sign(clinic.db, patient_id, "laser")
    with clinic.db.uow() as session:
        warnings = scheduling.consent_warnings(session, patient_id, booked["laser"])
    assert len(warnings) == 1 and "Clinical photography" in warnings[0]
    keys = [
        m.template_key for m in consents.unsigned_required_consents(clinic.db, owner, patient_id)
    ]
    assert "laser" not in keys and "photography_release" in keys


def test_a_patient_with_nothing_booked_has_nothing_to_sign(clinic, owner, patient_id):
    assert consents.unsigned_required_consents(clinic.db, owner, patient_id) == []
    with pytest.raises(NotFoundError):
        consents.unsigned_required_consents(clinic.db, owner, 999_999)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("key", STARTER_KEYS)
def test_every_starter_form_prints_on_one_page_in_both_languages(
    clinic, owner, patient_id, key, language
):
    pdf = consents.consent_pdf(
        clinic.db, owner, patient_id, key, procedure="Hydrafacial", language=language
    )
    (page,) = pdf_pages_text(pdf)
    assert "Zoë Nguyễn" in page and "Bayside Dental" in page
    assert "{" not in page and "}" not in page  # every placeholder was filled
    witness = "Firma del testigo" if language == "es" else "Signature of witness"
    assert witness in page


def test_a_title_placeholder_names_the_services_in_the_list(clinic, owner, patient_id, booked):
    consents.save_consent_version(
        clinic.db,
        owner,
        "injectables",
        "en",
        wording("Fillers for {patient_name}.", title="Filler consent: {procedure}"),
    )
    missing = consents.unsigned_required_consents(clinic.db, owner, patient_id)
    assert missing[0].title == "Filler consent: Lip filler"
