"""What happens to a document after it is rendered: sent to a printer, or saved as a copy.

Rendering a patient document is already audited as a print by the service that builds it
(a receipt, a handout …) — even when the desk only looks at the preview.  What the preview
then does with the pages is a second, separate fact the audit log must show: that paper
came out of a named printer, or that a copy of patient data left the encrypted database
for a file on disk.  Those two are recorded here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.data.database import Database
from app.data.models.documents import ConsentTemplate, ConsentVersion
from app.data.models.patients import Patient
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import patient_language
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError
from app.services.patients.records import next_visit_query

__all__ = [
    "ConsentPrintChoices",
    "PrintSubject",
    "patient_document_language",
    "printable_consents",
    "record_printed",
    "record_saved_copy",
]

_DETAIL_LIMIT = 500  # the audit row's column


@dataclass(frozen=True)
class PrintSubject:
    """Which document a preview shows, for the audit log: ``document`` says what it is in
    words without patient data ("receipt R-000123"); ``entity``/``entity_id`` name the row
    it was made from; ``patient_id`` whose it is (None for a blank form)."""

    document: str
    entity: str
    entity_id: int | None
    patient_id: int | None


def patient_document_language(db: Database, actor: Actor, patient_id: int | None) -> str:
    """The language a patient's documents print in unless the desk chooses another: their
    preferred language when CareDesk prints in it, else English (no patient: English)."""
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    if patient_id is None:
        return "en"
    with reading(db, actor) as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFoundError("This patient no longer exists.")
        return patient_language(patient)


@dataclass(frozen=True)
class ConsentPrintChoices:
    """What the print-a-consent dialog offers: (key, title) of each form switched on, and
    (id, printed name) of each active provider, whose name fills ``{provider}``."""

    templates: list[tuple[str, str]]
    providers: tuple[tuple[int, str], ...]
    #: Who the form is most likely for: the provider of the patient's next booked visit,
    #: else the patient's own provider (None: nobody, or no longer active).
    default_provider_id: int | None = None


def _likely_provider(session, patient_id: int) -> int | None:
    next_visit = session.scalars(next_visit_query(patient_id)).first()
    if next_visit is not None:
        return next_visit.provider_id
    patient = session.get(Patient, patient_id)
    return patient.primary_provider_id if patient is not None else None


def printable_consents(
    db: Database, actor: Actor, patient_id: int | None = None
) -> ConsentPrintChoices:
    """The consent forms the desk may print for a signature: (key, newest English title —
    else any language's) of each template switched on, in the order they were made, and
    the providers one may name (with ``patient_id``, the likely one first chosen).  The
    starter set is installed on first use, as printing one would."""
    from app.services.patients.consents import active_providers_in, install_starter_consents_in

    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        if session.scalar(select(func.count()).select_from(ConsentTemplate)) == 0:
            install_starter_consents_in(session, actor.staff_id)
        found: list[tuple[str, str]] = []
        templates = session.scalars(
            select(ConsentTemplate)
            .where(ConsentTemplate.is_active.is_(True))
            .order_by(ConsentTemplate.id)
        )
        for template in templates:
            newest = session.scalars(
                select(ConsentVersion)
                .where(ConsentVersion.template_id == template.id)
                .order_by((ConsentVersion.language == "en").desc(), ConsentVersion.version.desc())
                .limit(1)
            ).first()
            if newest is not None:
                found.append((template.key, newest.title))
        providers = active_providers_in(session)
        likely = _likely_provider(session, patient_id) if patient_id is not None else None
        active = {provider_id for provider_id, _name in providers}
        return ConsentPrintChoices(found, providers, likely if likely in active else None)


def _detail(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def record_printed(
    db: Database,
    actor: Actor,
    subject: PrintSubject,
    *,
    language: str,
    printer: str,
    pages: int,
) -> None:
    """Audit that ``pages`` page(s) of the document went to the printer named ``printer``."""
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        record(
            session,
            AuditAction.PRINT,
            entity=subject.entity,
            entity_id=subject.entity_id,
            patient_id=subject.patient_id,
            detail=_detail(
                f"sent to printer “{printer or 'default'}”: {subject.document} "
                f"({language or '-'}), {pages} page(s)"
            ),
        )


def record_saved_copy(
    db: Database, actor: Actor, subject: PrintSubject, *, language: str, path: str
) -> None:
    """Audit that a copy of the document was written to the file ``path``."""
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        record(
            session,
            AuditAction.EXPORT,
            entity=subject.entity,
            entity_id=subject.entity_id,
            patient_id=subject.patient_id,
            detail=_detail(f"saved a copy: {subject.document} ({language or '-'}) to {path}"),
        )
