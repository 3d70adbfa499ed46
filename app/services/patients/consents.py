"""Consent form templates: their versioned wording, the starter set, and the printed form.

A template (``ConsentTemplate``, e.g. ``laser``) has immutable versions per language
(``ConsentVersion``); saving an edit adds a version and keeps the old ones, because a
signed copy points at the wording the patient signed.  Wording may use only the
placeholders in :data:`PLACEHOLDERS`; anything else in braces is refused when saved,
naming it, so a form never prints "{patiet_name}" to a patient.  Printing picks the
newest version in the patient's language, else English.  The starter set (general
treatment, injectables, laser, photography release, financial policy — English and
Spanish) ships in ``resources/consents/`` and is installed on first use or by
:func:`install_starter_consents`.
"""

from __future__ import annotations

import io
import json
import re
import string
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.documents import (
    ConsentTemplate,
    ConsentVersion,
    DocumentKind,
    StoredDocument,
)
from app.data.models.patients import Patient
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.providers import Provider, Service, ServiceRequiredConsent
from app.data.models.staff import Staff
from app.documents.consent import (
    SIGNER_RELATIONSHIPS,
    ConsentForm,
    ConsentSignature,
    build_consent,
)
from app.documents.labels import clinic_text, document_language
from app.i18n import format_date, to_clinic_time
from app.paths import resource
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    DOCUMENT_LANGUAGES,
    Deliver,
    clinic_letterhead,
    delivered,
    document_locale,
    patient_banner,
    patient_language,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.documents import add_document_in
from app.services.patients.tasks import staff_name
from app.services.scheduling.booking import unsigned_consent_template_ids

__all__ = [
    "CONSENT_LANGUAGES",
    "PLACEHOLDERS",
    "SIGNER_RELATIONSHIPS",
    "ConsentPreview",
    "ConsentTemplateLine",
    "ConsentVersionInfo",
    "ConsentWording",
    "SignedConsent",
    "SigningChoices",
    "UnsignedConsent",
    "active_providers_in",
    "check_signature_png",
    "check_wording",
    "consent_data",
    "consent_pdf",
    "consent_preview",
    "consent_versions",
    "fill_placeholders",
    "install_starter_consents",
    "install_starter_consents_in",
    "list_consent_templates",
    "placeholders_in",
    "save_consent_version",
    "sign_consent",
    "signed_consents",
    "signing_choices",
    "starter_consents",
    "unsigned_required_consents",
]

#: What a consent's wording may fill in, and what each means.
PLACEHOLDERS: dict[str, str] = {
    "patient_name": "the patient's full name",
    "procedure": "the procedure named when printing",
    "provider": "the provider named when printing",
    "risks": "the template's risks text",
    "alternatives": "the template's alternatives text",
    "date": "the date the form is printed",
    "clinic_name": "the clinic's name",
}
#: Languages a consent is written and printed in.
CONSENT_LANGUAGES = DOCUMENT_LANGUAGES
#: A blank the patient or provider writes on when the form does not name it.
BLANK = "______________________"
_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
_FIELD_LABELS = {
    "title": "title",
    "body": "body",
    "risks": "risks",
    "alternatives": "alternatives",
}
#: Visits still to come: their service's consents are needed now.
_BOOKED_VISITS = (
    AppointmentStatus.SCHEDULED.value,
    AppointmentStatus.CONFIRMED.value,
    AppointmentStatus.ARRIVED.value,
    AppointmentStatus.IN_TREATMENT.value,
)
_ACCEPTED_ITEMS = (ItemStatus.ACCEPTED.value, ItemStatus.SCHEDULED.value)
_ACCEPTED_PLANS = (
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
)


# --- wording and placeholders -----------------------------------------------------------------


@dataclass(frozen=True)
class ConsentWording:
    """One language's wording of a consent, as the owner edits it."""

    title: str
    body: str
    risks: str = ""
    alternatives: str = ""


def placeholders_in(text: str, *, field: str = "body") -> list[str]:
    """The placeholder names ``text`` uses, in order; a malformed brace raises ValidationError.

    ``{{`` and ``}}`` print a literal brace.
    """
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise ValidationError(_malformed_message(text, field), field=field) from None
    names: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            shown = (
                "{"
                + name
                + ("!" + conversion if conversion else "")
                + (":" + spec if spec else "")
                + "}"
            )
            raise ValidationError(
                f"The {field} uses “{shown}”: write a placeholder as just its name in "
                f"braces, such as {{patient_name}}.",
                field=field,
            )
        names.append(name)
    return names


def _malformed_message(text: str, field: str) -> str:
    # Point at the first stray brace so the owner can find it in a long body.
    depth_open = None
    index = 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text[index : index + 2] in ("{{", "}}") and depth_open is None:
            index += 2
            continue
        if char == "{":
            if depth_open is not None:
                break
            depth_open = index
        elif char == "}":
            if depth_open is None:
                depth_open = index
                break
            depth_open = None
        index += 1
    snippet = text[depth_open : depth_open + 25] if depth_open is not None else text[:25]
    snippet = snippet.replace("\n", " ")
    return (
        f"The {field} has a brace that does not close a placeholder near “{snippet}”. "
        "Write placeholders as {patient_name}; write {{ or }} for a brace itself."
    )


def check_wording(wording: ConsentWording) -> None:
    """Refuse wording that would print wrongly: an empty title or body, an unknown
    placeholder (named in the message) or a malformed brace."""
    if not wording.title.strip():
        raise ValidationError("Give the consent form a title.", field="title")
    if not wording.body.strip():
        raise ValidationError("The consent form needs a body.", field="body")
    if len(wording.title) > 200:
        raise ValidationError("Keep the title under 200 characters.", field="title")
    for field in ("title", "body", "risks", "alternatives"):
        for name in placeholders_in(getattr(wording, field), field=field):
            if name not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise ValidationError(
                    f"The {_FIELD_LABELS[field]} uses an unknown placeholder “{{{name}}}”. "
                    f"Use one of: {known}.",
                    field=field,
                )
            if field in ("risks", "alternatives") and name in ("risks", "alternatives"):
                raise ValidationError(
                    f"The {field} cannot contain “{{{name}}}”: it would print inside itself.",
                    field=field,
                )


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """``text`` with each placeholder replaced by its value (checked wording only)."""
    parts: list[str] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(text):
        parts.append(literal)
        if name is not None:
            parts.append(values.get(name, ""))
    return "".join(parts)


# --- the starter set --------------------------------------------------------------------------


def starter_consents() -> list[tuple[str, dict[str, ConsentWording]]]:
    """The starter templates shipped in resources/consents: (key, {language: wording})."""
    folder = resource("consents")
    loaded: list[tuple[int, str, dict[str, ConsentWording]]] = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        wordings = {
            language: ConsentWording(**data[language])
            for language in CONSENT_LANGUAGES
            if language in data
        }
        loaded.append((int(data.get("position", 99)), data["key"], wordings))
    return [(key, wordings) for _pos, key, wordings in sorted(loaded, key=lambda t: t[:2])]


def install_starter_consents_in(session: Session, created_by_id: int | None = None) -> int:
    """Add each starter template the clinic does not have yet; returns how many were added.
    A template the clinic already has (edited or not) is left alone."""
    existing = set(session.scalars(select(ConsentTemplate.key)))
    added = 0
    for key, wordings in starter_consents():
        if key in existing:
            continue
        template = ConsentTemplate(key=key, is_active=True)
        session.add(template)
        session.flush()
        for language, wording in wordings.items():
            check_wording(wording)
            session.add(
                ConsentVersion(
                    template_id=template.id,
                    language=language,
                    version=1,
                    title=wording.title,
                    body=wording.body,
                    risks=wording.risks,
                    alternatives=wording.alternatives,
                    created_by_id=created_by_id,
                )
            )
        added += 1
    session.flush()
    return added


def install_starter_consents(db: Database, actor: Actor | None) -> int:
    """Install the starter consent forms (clinic setup calls this; ``actor=None`` = setup)."""
    if actor is not None:
        permissions.require(actor, Permission.MANAGE_SETTINGS)
    with unit_of_work(db, actor) as session:
        return install_starter_consents_in(session, actor.staff_id if actor else None)


def _ensure_starter_set(session: Session, actor: Actor | None) -> None:
    # First use: a clinic that has never had a consent template gets the starter set.
    if session.scalar(select(func.count()).select_from(ConsentTemplate)) == 0:
        install_starter_consents_in(session, actor.staff_id if actor else None)


# --- reading and saving -----------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentVersionInfo:
    id: int
    template_key: str
    language: str
    version: int
    title: str
    body: str
    risks: str
    alternatives: str
    created_at: datetime
    created_by: str = ""

    @property
    def wording(self) -> ConsentWording:
        return ConsentWording(self.title, self.body, self.risks, self.alternatives)


@dataclass(frozen=True)
class ConsentTemplateLine:
    """One row of Settings → Consent forms: the template and its newest wording per language."""

    id: int
    key: str
    is_active: bool
    latest: dict[str, ConsentVersionInfo]

    @property
    def title(self) -> str:
        chosen = self.latest.get("en") or next(iter(self.latest.values()), None)
        return chosen.title if chosen is not None else self.key


def _info(session: Session, version: ConsentVersion, key: str) -> ConsentVersionInfo:
    staff = session.get(Staff, version.created_by_id) if version.created_by_id else None
    return ConsentVersionInfo(
        id=version.id,
        template_key=key,
        language=version.language,
        version=version.version,
        title=version.title,
        body=version.body,
        risks=version.risks,
        alternatives=version.alternatives,
        created_at=version.created_at,
        created_by=staff.full_name if staff is not None else "",
    )


def _template(session: Session, key: str) -> ConsentTemplate:
    template = session.scalar(select(ConsentTemplate).where(ConsentTemplate.key == key))
    if template is None:
        raise NotFoundError(f"There is no consent form “{key}”.")
    return template


def _latest(session: Session, template_id: int, language: str) -> ConsentVersion | None:
    return session.scalar(
        select(ConsentVersion)
        .where(ConsentVersion.template_id == template_id, ConsentVersion.language == language)
        .order_by(ConsentVersion.version.desc())
        .limit(1)
    )


def _language(language: str) -> str:
    if language not in CONSENT_LANGUAGES:
        raise ValidationError(
            f"Consent forms are written in English or Spanish, not “{language}”.",
            field="language",
        )
    return language


def list_consent_templates(db: Database, actor: Actor) -> list[ConsentTemplateLine]:
    """Every consent template with its newest wording per language (starter set on first use)."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    with unit_of_work(db, actor) as session:
        _ensure_starter_set(session, actor)
        lines = []
        for template in session.scalars(select(ConsentTemplate).order_by(ConsentTemplate.id)):
            latest = {}
            for language in CONSENT_LANGUAGES:
                version = _latest(session, template.id, language)
                if version is not None:
                    latest[language] = _info(session, version, template.key)
            lines.append(ConsentTemplateLine(template.id, template.key, template.is_active, latest))
        return lines


def consent_versions(
    db: Database, actor: Actor, key: str, language: str
) -> list[ConsentVersionInfo]:
    """Every saved wording of one template in one language, newest first (read-only history)."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    _language(language)
    with unit_of_work(db, actor) as session:
        template = _template(session, key)
        versions = session.scalars(
            select(ConsentVersion)
            .where(ConsentVersion.template_id == template.id, ConsentVersion.language == language)
            .order_by(ConsentVersion.version.desc())
        ).all()
        return [_info(session, v, key) for v in versions]


def save_consent_version(
    db: Database, actor: Actor, key: str, language: str, wording: ConsentWording
) -> ConsentVersionInfo:
    """Save an edit as the template's next version in ``language`` (older versions are kept
    for the copies signed with them).  Unchanged wording saves nothing and returns the newest.
    A new ``key`` (lower-case letters, digits, underscores) creates a new template."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    _language(language)
    wording = ConsentWording(
        wording.title.strip(),
        wording.body.strip(),
        wording.risks.strip(),
        wording.alternatives.strip(),
    )
    check_wording(wording)
    with unit_of_work(db, actor) as session:
        template = session.scalar(select(ConsentTemplate).where(ConsentTemplate.key == key))
        if template is None:
            if not _KEY_PATTERN.match(key):
                raise ValidationError(
                    "A consent form's key is lower-case letters, digits and underscores, "
                    "such as “chemical_peel”.",
                    field="key",
                )
            template = ConsentTemplate(key=key, is_active=True)
            session.add(template)
            session.flush()
        latest = _latest(session, template.id, language)
        if latest is not None and (
            latest.title,
            latest.body,
            latest.risks,
            latest.alternatives,
        ) == (wording.title, wording.body, wording.risks, wording.alternatives):
            return _info(session, latest, key)
        version = ConsentVersion(
            template_id=template.id,
            language=language,
            version=(latest.version + 1) if latest is not None else 1,
            title=wording.title,
            body=wording.body,
            risks=wording.risks,
            alternatives=wording.alternatives,
            created_by_id=actor.staff_id,
        )
        session.add(version)
        session.flush()
        return _info(session, version, key)


# --- printing ---------------------------------------------------------------------------------


def active_providers_in(session: Session) -> tuple[tuple[int, str], ...]:
    """(id, name as a consent prints it) of each active provider, in the clinic's order."""
    return tuple(
        (provider.id, _provider_name(session, provider.id))
        for provider in session.scalars(
            select(Provider).where(Provider.is_active).order_by(Provider.position, Provider.name)
        )
    )


def _provider_name(session: Session, provider_id: int | None) -> str:
    if provider_id is None:
        return ""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFoundError("That provider no longer exists.")
    name = " ".join(p for p in (provider.title, provider.name) if p)
    return f"{name}, {provider.credentials}" if provider.credentials else name


def _procedure_wording(session: Session, procedure: str, language: str) -> str:
    """The procedure as the consent's sentence names it in ``language``.

    In Spanish, each catalogue service named ("Implant crown, Bone graft", as "Sign now"
    fills it in) prints its Spanish name; one without a Spanish name is set apart by
    :func:`clinic_text` behind a neutral phrase ("el tratamiento «Porcelain crown»"), never
    "doy mi consentimiento para Porcelain crown".  Words typed by hand print as typed."""
    procedure = " ".join(procedure.split())
    if not procedure or document_language(language) != "es":
        return procedure
    names = [part.strip() for part in procedure.split(",") if part.strip()]
    wording, untranslated = [], []
    for name in names:
        service = session.execute(
            select(Service.name, Service.name_es)
            .where(func.lower(Service.name) == name.lower())
            .order_by(Service.name_es == "", Service.id)
            .limit(1)
        ).first()
        if service is None:
            wording.append(name)
        elif service.name_es:
            wording.append(clinic_text(language, service.name, service.name_es))
        else:
            wording.append(clinic_text(language, service.name))
            untranslated.append(service.name)
    if len(names) == 1 and untranslated:
        return clinic_text(language, untranslated[0], in_sentence=True)
    joined = wording[0] if len(wording) == 1 else f"{', '.join(wording[:-1])} y {wording[-1]}"
    return f"los tratamientos {joined}" if untranslated else joined


def _consent_form(
    session: Session,
    actor: Actor | None,
    patient_id: int,
    template_key: str,
    procedure: str,
    provider_id: int | None,
    language: str | None,
    *,
    audit_print: bool = True,
    printed_at: datetime | None = None,
) -> ConsentForm:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("That patient no longer exists.")
    settings = clinic_settings(session)
    _ensure_starter_set(session, actor)
    template = _template(session, template_key)
    if not template.is_active:
        raise ValidationError("This consent form is switched off in Settings → Consent forms.")
    wanted = _language(language) if language is not None else patient_language(patient)
    version = _latest(session, template.id, wanted)
    if version is None:  # no wording in the patient's language yet: English
        version = _latest(session, template.id, "en")
    if version is None:
        raise NotFoundError(f"The consent form “{template_key}” has no wording to print.")
    locale = document_locale(settings.locale, version.language)
    printed_at = printed_at or utc_now()
    banner = patient_banner(patient)
    values = {
        "patient_name": banner.name,
        "procedure": _procedure_wording(session, procedure, version.language) or BLANK,
        "provider": _provider_name(session, provider_id) or BLANK,
        "risks": version.risks,
        "alternatives": version.alternatives,
        "date": format_date(to_clinic_time(printed_at, settings.timezone).date(), locale, "long"),
        "clinic_name": settings.name,
    }
    used = set(placeholders_in(version.body))
    form = ConsentForm(
        letterhead=clinic_letterhead(settings),
        patient=banner,
        locale=locale,
        template_key=template.key,
        version=version.version,
        language=version.language,
        title=fill_placeholders(version.title, values),
        body=fill_placeholders(version.body, values),
        # Printed under their own headings unless the body already shows them.
        risks="" if "risks" in used else version.risks,
        alternatives="" if "alternatives" in used else version.alternatives,
        printed_at=printed_at,
    )
    if not audit_print:
        return form
    record(
        session,
        AuditAction.PRINT,
        entity="consent_versions",
        entity_id=version.id,
        patient_id=patient.id,
        detail=f"consent {template.key} v{version.version} ({version.language}) for signing",
    )
    return form


def consent_data(
    db: Database,
    actor: Actor,
    patient_id: int,
    template_key: str,
    *,
    procedure: str = "",
    provider_id: int | None = None,
    language: str | None = None,
) -> ConsentForm:
    """What the printed consent shows: the newest wording in the patient's language (or
    ``language``), else English, with placeholders filled.  Audited as a print."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        return _consent_form(
            session, actor, patient_id, template_key, procedure, provider_id, language
        )


def consent_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    template_key: str,
    *,
    procedure: str = "",
    provider_id: int | None = None,
    language: str | None = None,
) -> bytes:
    """The consent form as PDF bytes, for a wet signature (audited as a print)."""
    return build_consent(
        consent_data(
            db,
            actor,
            patient_id,
            template_key,
            procedure=procedure,
            provider_id=provider_id,
            language=language,
        )
    )


def command_consent_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    template_key: str,
    *,
    language: str | None = None,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk print consent`` for the staff member signed in on the command line: the print
    is permission-checked and audited as them; procedure and provider print as lines to fill
    in by hand."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        data = build_consent(
            _consent_form(session, None, patient_id, template_key, "", None, language)
        )
        return delivered(data, deliver)


# --- what is still to sign --------------------------------------------------------------------


@dataclass(frozen=True)
class UnsignedConsent:
    """A consent the patient's booked or accepted treatment needs and nobody has signed."""

    template_key: str
    title: str
    #: The services (booked visits or accepted plan items) that require it.
    services: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.template_key


def unsigned_required_consents(
    db: Database, actor: Actor, patient_id: int
) -> list[UnsignedConsent]:
    """The consents required by the services of the patient's booked visits and accepted
    treatment that have no signed copy (the same rule booking and check-in warn with)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("That patient no longer exists.")
        booked = session.scalars(
            select(Appointment.service_id).where(
                Appointment.patient_id == patient_id,
                Appointment.status.in_(_BOOKED_VISITS),
                Appointment.service_id.is_not(None),
            )
        ).all()
        accepted = session.scalars(
            select(TreatmentItem.service_id)
            .join(TreatmentPhase, TreatmentPhase.id == TreatmentItem.phase_id)
            .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
            .where(
                TreatmentPlan.patient_id == patient_id,
                TreatmentPlan.status.in_(_ACCEPTED_PLANS),
                TreatmentItem.status.in_(_ACCEPTED_ITEMS),
                TreatmentItem.service_id.is_not(None),
            )
        ).all()
        service_ids = set(booked) | set(accepted)
        if not service_ids:
            return []
        rows = session.execute(
            select(ServiceRequiredConsent.consent_template_id, Service.name)
            .join(Service, Service.id == ServiceRequiredConsent.service_id)
            .where(ServiceRequiredConsent.service_id.in_(service_ids))
            .order_by(ServiceRequiredConsent.consent_template_id, Service.name)
        ).all()
        services_of: dict[int, list[str]] = {}
        for template_id, service_name in rows:
            services_of.setdefault(template_id, []).append(service_name)
        missing = unsigned_consent_template_ids(session, patient_id, services_of)
        result = []
        for template_id in missing:
            template = session.get(ConsentTemplate, template_id)
            latest = _latest(session, template_id, "en")
            services = tuple(services_of[template_id])
            title = template.key
            if latest is not None:
                # Staff read the English title, its {procedure} naming the services.
                values = dict.fromkeys(PLACEHOLDERS, "")
                values["procedure"] = ", ".join(services)
                title = fill_placeholders(latest.title, values).strip(" :,-")
            result.append(UnsignedConsent(template.key, title or template.key, services))
        return result


# --- signing on screen ------------------------------------------------------------------------

#: A signature smaller than this (in ink pixels) is a slip of the pen, not a signature.
_MIN_INK_PIXELS = 40
#: Larger than any signature pad makes; bigger "signatures" are refused, not stored.
_MAX_SIGNATURE_BYTES = 2 * 1024 * 1024
_MAX_SIGNATURE_PIXELS = 4000 * 2000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_NO_SIGNATURE = "The consent cannot be saved as signed without a signature. Ask the signer to sign."


@dataclass(frozen=True)
class ConsentPreview:
    """The filled wording shown on screen while the patient reads and signs."""

    template_key: str
    version: int
    language: str
    title: str
    body: str
    risks: str
    alternatives: str


@dataclass(frozen=True)
class SigningChoices:
    """What the sign-a-consent dialog offers for one patient."""

    patient_name: str
    #: The patient's preferred document language ("en" / "es").
    language: str
    #: (key, English title) of each active template.
    templates: tuple[tuple[str, str], ...]
    #: (id, printed name) of each active provider.
    providers: tuple[tuple[int, str], ...]
    #: (id, full name) of each active staff member who can witness.
    staff: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class SignedConsent:
    """A signed consent on file: which wording, who signed, who witnessed, when."""

    document_id: int
    patient_id: int
    template_key: str
    title: str
    version: int
    language: str
    signed_at: datetime
    signer_name: str
    #: A key of :data:`SIGNER_RELATIONSHIPS` ("" for a scanned copy that does not say).
    signer_relationship: str
    witness_name: str
    witness_staff_id: int | None
    filename: str
    sha256: str
    size: int
    recorded_by: str

    @property
    def id(self) -> int:
        return self.document_id


def check_signature_png(signature_png: bytes | None) -> None:
    """Refuse what is not a real signature: nothing, not a PNG, or a blank picture."""
    if not signature_png:
        raise ValidationError(_NO_SIGNATURE, field="signature")
    if not isinstance(signature_png, bytes | bytearray) or not bytes(signature_png).startswith(
        _PNG_MAGIC
    ):
        raise ValidationError(
            "The signature could not be read (it is not a PNG picture). Ask the signer to "
            "sign again.",
            field="signature",
        )
    if len(signature_png) > _MAX_SIGNATURE_BYTES:
        raise ValidationError(
            "The signature picture is too large to store. Clear the pad and sign again.",
            field="signature",
        )
    # Pillow comes with reportlab, which prints the signature from the same bytes.
    from PIL import Image, ImageChops, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(signature_png))) as image:
            width, height = image.size
            if width * height > _MAX_SIGNATURE_PIXELS:
                raise ValidationError(
                    "The signature picture is too large to store. Clear the pad and sign again.",
                    field="signature",
                )
            luminance, alpha = image.convert("LA").split()
            # Ink: a dark pixel that is not transparent.
            dark = luminance.point(lambda v: 255 if v < 160 else 0)
            opaque = alpha.point(lambda v: 255 if v >= 128 else 0)
            ink = ImageChops.multiply(dark, opaque).histogram()[255]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            "The signature could not be read (the picture is damaged). Ask the signer to "
            "sign again.",
            field="signature",
        ) from None
    if ink < _MIN_INK_PIXELS:
        raise ValidationError(
            "The signature is blank: there is no ink on it. Ask the signer to sign.",
            field="signature",
        )


def _signable_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("That patient no longer exists.")
    if patient.merged_into_id is not None:
        raise ValidationError(
            "This record was merged into another one; sign the consent on that record."
        )
    if not patient.is_active:
        raise ValidationError(
            "This patient's record is deactivated. Reactivate it before signing a consent."
        )
    return patient


def signing_choices(db: Database, actor: Actor, patient_id: int) -> SigningChoices:
    """The templates, providers and witnesses the sign-a-consent dialog offers."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        patient = _signable_patient(session, patient_id)
        _ensure_starter_set(session, actor)
        templates = []
        for template in session.scalars(
            select(ConsentTemplate).where(ConsentTemplate.is_active).order_by(ConsentTemplate.id)
        ):
            latest = _latest(session, template.id, "en")
            title = template.key
            if latest is not None:
                values = dict.fromkeys(PLACEHOLDERS, "")
                title = fill_placeholders(latest.title, values).strip(" :,-") or template.key
            templates.append((template.key, title))
        providers = active_providers_in(session)
        staff = tuple(
            (member.id, member.full_name)
            for member in session.scalars(
                select(Staff).where(Staff.is_active).order_by(Staff.full_name)
            )
        )
        return SigningChoices(
            patient_name=patient_banner(patient).name,
            language=patient_language(patient),
            templates=tuple(templates),
            providers=providers,
            staff=staff,
        )


def consent_preview(
    db: Database,
    actor: Actor,
    patient_id: int,
    template_key: str,
    *,
    language: str | None = None,
    procedure: str = "",
    provider_id: int | None = None,
) -> ConsentPreview:
    """The wording the patient will sign, filled in, for reading on screen (not a print)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        _signable_patient(session, patient_id)
        form = _consent_form(
            session,
            actor,
            patient_id,
            template_key,
            procedure,
            provider_id,
            language,
            audit_print=False,
        )
        return ConsentPreview(
            template_key=form.template_key,
            version=form.version,
            language=form.language,
            title=form.title,
            body=form.body,
            risks=form.risks,
            alternatives=form.alternatives,
        )


def _witness(
    session: Session, witness_staff_id: int | None, witness_name: str
) -> tuple[int | None, str]:
    if witness_staff_id is not None:
        member = session.get(Staff, witness_staff_id)
        if member is None or not member.is_active:
            raise ValidationError(
                "The witness chosen is not an active staff member. Choose another witness.",
                field="witness",
            )
        return member.id, member.full_name
    name = " ".join((witness_name or "").split())
    if not name:
        raise ValidationError(
            "Name the witness: the staff member or other adult who saw the consent signed.",
            field="witness",
        )
    if len(name) > 120:
        raise ValidationError("Keep the witness's name under 120 characters.", field="witness")
    return None, name


def _signer(signer_name: str, relationship: str) -> tuple[str, str]:
    name = " ".join((signer_name or "").split())
    if not name:
        raise ValidationError(
            "Type the signer's name as it should print under the signature.", field="signer_name"
        )
    if len(name) > 120:
        raise ValidationError("Keep the signer's name under 120 characters.", field="signer_name")
    if relationship not in SIGNER_RELATIONSHIPS:
        known = ", ".join(SIGNER_RELATIONSHIPS)
        raise ValidationError(
            f"“{relationship}” is not who can sign a consent (one of: {known}).",
            field="relationship",
        )
    return name, relationship


def _signed_line(session: Session, doc: StoredDocument) -> SignedConsent:
    version = session.get(ConsentVersion, doc.consent_version_id)
    template = session.get(ConsentTemplate, version.template_id) if version else None
    return SignedConsent(
        document_id=doc.id,
        patient_id=doc.patient_id,
        template_key=template.key if template else "",
        title=doc.title or (version.title if version else ""),
        version=version.version if version else 0,
        language=version.language if version else "",
        signed_at=doc.signed_at,
        signer_name=doc.signer_name,
        signer_relationship=doc.signer_relationship,
        witness_name=doc.witness_name,
        witness_staff_id=doc.witness_staff_id,
        filename=doc.filename,
        sha256=doc.sha256,
        size=doc.size_bytes,
        recorded_by=staff_name(session, doc.created_by_id),
    )


def sign_consent(
    db: Database,
    actor: Actor,
    *,
    patient_id: int,
    template_key: str,
    signature_png: bytes | None,
    signer_name: str,
    relationship: str = "self",
    witness_staff_id: int | None = None,
    witness_name: str = "",
    language: str | None = None,
    procedure: str = "",
    provider_id: int | None = None,
) -> SignedConsent:
    """Store a consent signed on screen: the template's current wording in ``language`` (the
    patient's by default) printed with the signature, kept with its SHA-256 and version, and
    audited.  Without a real signature, signer name or witness nothing is stored."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    permissions.require(actor, Permission.EDIT_PATIENTS)
    check_signature_png(signature_png)
    name, relationship = _signer(signer_name, relationship)
    with unit_of_work(db, actor) as session:
        patient = _signable_patient(session, patient_id)
        witness_id, witness = _witness(session, witness_staff_id, witness_name)
        signed_at = utc_now()
        form = _consent_form(
            session,
            actor,
            patient_id,
            template_key,
            procedure,
            provider_id,
            language,
            audit_print=False,
            printed_at=signed_at,
        )
        form = replace(
            form,
            signature=ConsentSignature(
                png=bytes(signature_png),
                signer_name=name,
                relationship=relationship,
                signed_at=signed_at,
                witness_name=witness,
            ),
        )
        pdf = build_consent(form)
        template = _template(session, template_key)
        version = session.scalar(
            select(ConsentVersion).where(
                ConsentVersion.template_id == template.id,
                ConsentVersion.language == form.language,
                ConsentVersion.version == form.version,
            )
        )
        stamp = to_clinic_time(signed_at, clinic_settings(session).timezone)
        line = add_document_in(
            session,
            actor,
            patient.id,
            f"consent-{template.key}-v{form.version}-{form.language}-"
            f"{stamp:%Y%m%d-%H%M%S}-signed.pdf",
            pdf,
            kind=DocumentKind.CONSENT.value,
        )
        doc = session.get(StoredDocument, line.id)
        doc.title = form.title[:200]
        doc.consent_version_id = version.id
        doc.signed_at = signed_at
        doc.signer_name = name
        doc.signer_relationship = relationship
        doc.witness_name = witness
        doc.witness_staff_id = witness_id
        session.flush()
        record(
            session,
            AuditAction.CONSENT_SIGNED,
            entity="stored_documents",
            entity_id=doc.id,
            patient_id=patient.id,
            detail=(
                f"consent {template.key} v{form.version} ({form.language}) signed on screen; "
                f"sha256 {doc.sha256}"
            ),
        )
        return _signed_line(session, doc)


def signed_consents(db: Database, actor: Actor, patient_id: int) -> list[SignedConsent]:
    """The patient's signed consents on file, newest first (without their bytes)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("That patient no longer exists.")
        docs = session.scalars(
            select(StoredDocument)
            .where(
                StoredDocument.patient_id == patient_id,
                StoredDocument.kind == DocumentKind.CONSENT.value,
                StoredDocument.signed_at.is_not(None),
                StoredDocument.consent_version_id.is_not(None),
            )
            .order_by(StoredDocument.signed_at.desc(), StoredDocument.id.desc())
        )
        return [_signed_line(session, doc) for doc in docs]
