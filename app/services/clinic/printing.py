"""What every printed document's data shares: the clinic's letterhead, the patient banner
and the locale the document is written in — one place, so a receipt, a handout and a day
sheet look alike and speak the patient's language the same way."""

from __future__ import annotations

from collections.abc import Callable

from babel import Locale, UnknownLocaleError

from app.data.models.clinic import ClinicSettings
from app.data.models.patients import Patient
from app.documents.common import ClinicLetterhead, PatientBanner
from app.services.errors import ValidationError

#: Languages patient documents are printed in (``Patient.preferred_language`` values).
DOCUMENT_LANGUAGES = ("en", "es")
#: Where a language is usually written when the clinic's own country has no such locale.
_USUAL_TERRITORY = {"en": "US", "es": "US"}


#: The privacy line a new clinic starts with (the column's default); documents translate it.
DEFAULT_PRIVACY_LINE: str = ClinicSettings.privacy_line.default.arg


def clinic_letterhead(settings: ClinicSettings) -> ClinicLetterhead:
    """The clinic's name, address, phone, logo and privacy line, as Settings holds them."""
    city_line = " ".join(p for p in (settings.city, settings.region, settings.postal_code) if p)
    return ClinicLetterhead(
        name=settings.name,
        address_lines=(settings.address_line1, settings.address_line2, city_line),
        phone=settings.phone,
        email=settings.email,
        logo_png=settings.logo_png,
        # The clinic never changed the footer: print the default in the document's language.
        privacy_line="" if settings.privacy_line == DEFAULT_PRIVACY_LINE else settings.privacy_line,
        paper_size=settings.paper_size,  # type: ignore[arg-type]
        locale=settings.locale,
        timezone=settings.timezone,
    )


def patient_banner(patient: Patient) -> PatientBanner:
    """Name, date of birth and chart number: on every page, so a loose page finds its patient."""
    name = " ".join(p for p in (patient.first_name, patient.last_name) if p)
    return PatientBanner(
        name=name, date_of_birth=patient.date_of_birth, chart_number=patient.chart_number
    )


def patient_language(
    patient: Patient, override: str | None = None, *, what: str = "Documents"
) -> str:
    """The language a patient's document prints in: ``override`` when the desk chose one
    (refused, naming ``what`` — "Receipts" — unless CareDesk prints in it), else the patient's
    preferred language, else English, the clinic's working language."""
    if override is not None:
        if override not in DOCUMENT_LANGUAGES:
            raise ValidationError(
                f"{what} print in English or Spanish, not “{override}”.", field="language"
            )
        return override
    preferred = (patient.preferred_language or "en").lower()
    return preferred if preferred in DOCUMENT_LANGUAGES else "en"


def document_locale(clinic_locale: str, language: str | None) -> str:
    """The locale a document is written in: the patient's language with the clinic's region
    when Babel knows that pair ("es" in an en_US clinic → es_US: Spanish words, "$1,234.56"),
    else the language's usual region; a language CareDesk does not print in → English."""
    language = (language or "en").split("_")[0].split("-")[0].lower()
    if language not in DOCUMENT_LANGUAGES:
        language = "en"
    clinic = Locale.parse(clinic_locale.replace("-", "_"))
    if clinic.language == language:
        return str(clinic)
    for territory in (clinic.territory, _USUAL_TERRITORY[language]):
        if not territory:
            continue
        try:
            return str(Locale.parse(f"{language}_{territory}"))
        except (UnknownLocaleError, ValueError):
            continue
    return language


#: Hands a printed document's bytes on (the command line writes them to the --out file).
Deliver = Callable[[bytes], None]


def delivered(data: bytes, deliver: Deliver | None) -> bytes:
    """Hand ``data`` on *inside* the print's transaction: when the hand-over fails (a full
    disk, a file that appeared meanwhile), the "printed" audit row is rolled back with it,
    so the trail never records a print nobody got."""
    if deliver is not None:
        deliver(data)
    return data
