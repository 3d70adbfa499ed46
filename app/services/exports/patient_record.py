"""A patient's record as one zip, given to the patient or whoever they name: a disclosure.

The zip holds ``summary.pdf`` (app/documents/record_summary.py), every stored document
under ``documents/<chart>/<id>-<file name>`` (byte for byte, as kept), ``fhir/bundle.json``
(the record as a FHIR R4 ``collection`` Bundle, app/services/exports/fhir.py) and
``README.txt`` saying what each file is.

Rules: any role that may export records (Permission.EXPORT_RECORDS) may make one; the
consultation notes go in only when the person making it may read them
(Permission.READ_NOTE_BODIES), otherwise the summary says they are left out and why.  Who
it is for and why are required, and recorded with the export as an audit row
(AuditAction.DISCLOSURE).  The zip is written under a temporary name in the destination
folder, flushed to disk and renamed: a name never holds half a zip, a file already there is
never overwritten, and a failed export leaves nothing behind (nor an audit row).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.contacts import Contact
from app.data.models.documents import ConsentVersion, StoredDocument
from app.data.models.insurance import InsurancePolicy
from app.data.models.notes import ConsultationNote, NoteAddendum
from app.data.models.patients import Patient
from app.data.models.payments import (
    BALANCE_INCREASING_ADJUSTMENTS,
    AccountAdjustment,
    AdjustmentKind,
    Charge,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentPlan,
    PaymentPlanStatus,
)
from app.data.models.plans import TreatmentPlan
from app.data.models.providers import Provider, Service
from app.documents.record_summary import (
    RecordSummary,
    SummaryAccountLine,
    SummaryAddendum,
    SummaryDetails,
    SummaryDisclosure,
    SummaryDocument,
    SummaryNote,
    SummaryPaymentPlan,
    SummaryPlanItem,
    SummaryPolicy,
    SummaryTreatmentPlan,
    SummaryVisit,
    build_readme,
    build_record_summary,
)
from app.i18n import format_phone
from app.services.backups.files import fsync_dir
from app.services.billing.balances import patient_balance
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    clinic_letterhead,
    document_locale,
    patient_banner,
    patient_language,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.exports.fhir import build_bundle, document_path, fhir_context, patient_resources
from app.services.exports.fhir import to_json as fhir_json
from app.services.patients.tasks import staff_name, tidy_text

__all__ = ["BUNDLE_PATH", "Disclosure", "RecordExport", "export_patient_record"]

ZERO = Decimal("0.00")
SUMMARY_PATH = "summary.pdf"
BUNDLE_PATH = "fhir/bundle.json"
README_PATH = "README.txt"
#: What an audit row's detail holds (500 characters) leaves this much for each answer.
DISCLOSURE_TEXT_MAX = 200

#: Already compressed: stored as they are (deflating a PDF or a JPEG again buys nothing).
_STORED_TYPES = ("application/pdf", "image/png", "image/jpeg")
_UPCOMING = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)


@dataclass(frozen=True)
class Disclosure:
    """To whom a copy of the record goes and why: both required, one line each, trimmed;
    ValidationError naming the field ("to_whom", "why") when missing or too long."""

    to_whom: str
    why: str

    def __post_init__(self) -> None:
        for field, label in (("to_whom", "person or organization the copy is for"),
                             ("why", "reason for the copy")):  # fmt: skip
            value = tidy_text(
                getattr(self, field),
                field,
                label=label,
                max_length=DISCLOSURE_TEXT_MAX,
                required=True,
            )
            object.__setattr__(self, field, value)


@dataclass(frozen=True)
class RecordExport:
    """The zip written: where, the names inside it, how many documents, whether the notes
    went in, and its size in bytes."""

    path: Path
    files: tuple[str, ...]
    documents: int
    includes_notes: bool
    bytes: int


# --- what the summary prints ---------------------------------------------------------------------


def _local_day(moment: datetime, zone) -> date:
    return moment.astimezone(zone).date()


def _details(patient: Patient, region: str, provider: str) -> SummaryDetails:
    names = (patient.first_name, patient.middle_name, patient.last_name)
    city = " ".join(p for p in (patient.city, patient.region, patient.postal_code) if p)
    emergency = patient.emergency_contact_name
    if patient.emergency_contact_relation:
        emergency = f"{emergency} ({patient.emergency_contact_relation})".strip()
    if patient.emergency_contact_phone:
        phone = format_phone(patient.emergency_contact_phone, region)
        emergency = f"{emergency} · {phone}" if emergency else phone
    return SummaryDetails(
        full_name=" ".join(n for n in names if n),
        preferred_name=patient.preferred_name,
        date_of_birth=patient.date_of_birth,
        sex=patient.sex or "",
        pronouns=patient.pronouns,
        mobile_phone=format_phone(patient.mobile_phone, region),
        home_phone=format_phone(patient.home_phone, region),
        work_phone=format_phone(patient.work_phone, region),
        email=patient.email,
        address_lines=tuple(
            line
            for line in (patient.address_line1, patient.address_line2, city, patient.country)
            if line and line != region
        ),
        language=patient.preferred_language or "en",
        emergency_contact=emergency,
        deceased_on=patient.deceased_on,
        active=patient.is_active,
        primary_provider=provider,
    )


def _provider_names(session: Session) -> dict[int, str]:
    return {
        p.id: " ".join(part for part in (p.title, p.name) if part)
        for p in session.scalars(select(Provider))
    }


def _visits(
    session: Session, patient_id: int, providers: dict[int, str]
) -> tuple[tuple[SummaryVisit, ...], tuple[SummaryVisit, ...]]:
    """(upcoming soonest first, past latest first), as the record's Appointments tab."""
    now = utc_now()
    rows = session.execute(
        select(Appointment, Service.name, Service.name_es)
        .outerjoin(Service, Service.id == Appointment.service_id)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    upcoming, past = [], []
    for appointment, service, service_es in rows:
        visit = SummaryVisit(
            starts_at=appointment.starts_at,
            status=appointment.status,
            service=service or "",
            service_es=service_es or "",
            provider=providers.get(appointment.provider_id, ""),
            late_cancel=appointment.late_cancel,
        )
        if appointment.starts_at >= now and appointment.status in _UPCOMING:
            upcoming.append(visit)
        else:
            past.append(visit)
    return tuple(upcoming), tuple(reversed(past))


def _policies(session: Session, patient_id: int) -> tuple[SummaryPolicy, ...]:
    rows = session.execute(
        select(InsurancePolicy, Contact)
        .join(Contact, Contact.id == InsurancePolicy.payer_id)
        .where(InsurancePolicy.patient_id == patient_id)
        .order_by(InsurancePolicy.is_active.desc(), InsurancePolicy.priority, InsurancePolicy.id)
    ).all()
    return tuple(
        SummaryPolicy(
            payer=payer.organisation or payer.name,
            priority=policy.priority,
            member_id=policy.member_id,
            plan_name=policy.plan_name,
            group_number=policy.group_number,
            active=policy.is_active,
            effective_from=policy.effective_from,
            effective_to=policy.effective_to,
        )
        for policy, payer in rows
    )


def _treatment_plans(
    session: Session, patient_id: int, providers: dict[int, str]
) -> tuple[SummaryTreatmentPlan, ...]:
    plans = session.scalars(
        select(TreatmentPlan)
        .where(TreatmentPlan.patient_id == patient_id)
        .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())
    )
    return tuple(
        SummaryTreatmentPlan(
            title=plan.title,
            title_es=plan.title_es,
            status=plan.status,
            alternative_label=plan.alternative_label,
            provider=providers.get(plan.provider_id or 0, ""),
            presented_at=plan.presented_at,
            decided_at=plan.decided_at,
            decline_reason=plan.decline_reason,
            items=tuple(
                SummaryPlanItem(
                    description=item.description,
                    status=item.status,
                    patient_portion=item.patient_portion,
                    area=item.area,
                    quantity=item.quantity,
                )
                for phase in plan.phases
                for item in phase.items
            ),
        )
        for plan in plans
    )


def _payment_plans(session: Session, patient_id: int) -> tuple[SummaryPaymentPlan, ...]:
    plans = session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.patient_id == patient_id)
        .order_by(PaymentPlan.plan_date.desc(), PaymentPlan.id.desc())
    )
    out = []
    for plan in plans:
        paid = sum((i.paid_amount for i in plan.installments), ZERO)
        live = plan.status in (PaymentPlanStatus.ACTIVE.value, PaymentPlanStatus.DRAFT.value)
        left = sum((i.amount - i.paid_amount for i in plan.installments), ZERO) if live else ZERO
        out.append(
            SummaryPaymentPlan(
                number=plan.id,
                status=plan.status,
                plan_date=plan.plan_date,
                total_amount=plan.total_amount,
                down_payment=plan.down_payment,
                financed_amount=plan.financed_amount,
                installment_count=plan.installment_count,
                frequency=plan.frequency,
                first_due_on=plan.first_due_on,
                paid=paid,
                remaining=left,
                apr_basis_points=plan.apr_basis_points,
            )
        )
    return tuple(out)


def _account(session: Session, patient_id: int, zone) -> tuple[SummaryAccountLine, ...]:
    """Charges, payments, refunds and adjustments in date order, each signed the way it
    moves the balance (voided ones marked: they count for nothing)."""
    lines: list[tuple[tuple, SummaryAccountLine]] = []
    for charge in session.scalars(select(Charge).where(Charge.patient_id == patient_id)):
        lines.append(
            (
                (charge.service_date, 0, charge.id),
                SummaryAccountLine(
                    on=charge.service_date,
                    kind="charge",
                    amount=charge.amount,
                    description=charge.description,
                ),
            )
        )
    payers = {
        c.id: c.organisation or c.name
        for c in session.scalars(
            select(Contact)
            .join(Payment, Payment.payer_contact_id == Contact.id)
            .where(Payment.patient_id == patient_id)
        )
    }
    for payment in session.scalars(select(Payment).where(Payment.patient_id == patient_id)):
        refund = payment.kind == PaymentKind.REFUND.value
        detail = payment.reference
        if payment.method == PaymentMethod.INSURANCE.value and payment.payer_contact_id:
            payer = payers.get(payment.payer_contact_id, "")
            detail = " · ".join(part for part in (payer, payment.reference) if part)
        day = _local_day(payment.received_at, zone)
        lines.append(
            (
                (day, 1, payment.id),
                SummaryAccountLine(
                    on=day,
                    kind="refund" if refund else "payment",
                    amount=payment.amount if refund else -payment.amount,
                    label=payment.method,
                    description=detail,
                    voided=payment.voided_at is not None,
                    void_reason=payment.void_reason,
                ),
            )
        )
    for adjustment in session.scalars(
        select(AccountAdjustment).where(AccountAdjustment.patient_id == patient_id)
    ):
        sign = 1 if AdjustmentKind(adjustment.kind) in BALANCE_INCREASING_ADJUSTMENTS else -1
        day = _local_day(adjustment.posted_at, zone)
        lines.append(
            (
                (day, 2, adjustment.id),
                SummaryAccountLine(
                    on=day,
                    kind="adjustment",
                    amount=sign * adjustment.amount,
                    label=adjustment.kind,
                    description=adjustment.reason,
                    voided=adjustment.voided_at is not None,
                    void_reason=adjustment.void_reason,
                ),
            )
        )
    lines.sort(key=lambda pair: pair[0])
    return tuple(line for _key, line in lines)


def _notes(session: Session, patient_id: int, providers: dict[int, str]) -> tuple[SummaryNote, ...]:
    notes = list(
        session.scalars(
            select(ConsultationNote)
            .where(ConsultationNote.patient_id == patient_id)
            .order_by(ConsultationNote.consulted_at.desc(), ConsultationNote.id.desc())
        )
    )
    addenda: dict[int, list[SummaryAddendum]] = {}
    for addendum in session.scalars(
        select(NoteAddendum)
        .join(ConsultationNote, ConsultationNote.id == NoteAddendum.note_id)
        .where(ConsultationNote.patient_id == patient_id)
        .order_by(NoteAddendum.created_at, NoteAddendum.id)
    ):
        addenda.setdefault(addendum.note_id, []).append(
            SummaryAddendum(
                staff_name(session, addendum.author_id), addendum.created_at, addendum.body
            )
        )
    return tuple(
        SummaryNote(
            consulted_at=note.consulted_at,
            author=staff_name(session, note.author_id),
            status=note.status,
            provider=providers.get(note.provider_id or 0, ""),
            signed_by=staff_name(session, note.signed_by_id),
            signed_at=note.signed_at,
            reason=note.reason,
            treatments_discussed=note.treatments_discussed,
            options_and_costs=note.options_and_costs,
            patient_questions=note.patient_questions,
            decision=note.decision or "",
            decline_reason=note.decline_reason,
            follow_up_on=note.follow_up_on,
            body=note.body,
            addenda=tuple(addenda.get(note.id, ())),
        )
        for note in notes
    )


def _lines(value: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (value or "").splitlines() if line.strip())


# --- writing the zip -----------------------------------------------------------------------------


def _zip_time(moment: datetime, zone) -> tuple[int, int, int, int, int, int]:
    # A zip holds wall-clock times without a zone: the clinic's.
    local = moment.astimezone(zone)
    return (local.year, local.month, local.day, local.hour, local.minute, local.second)


def _write_zip(out: Path, entries: list[tuple[str, bytes, bool]], when: tuple[int, ...]) -> int:
    """Write ``entries`` (name, bytes, compress?) to a temporary file beside ``out``, flush
    it to disk and rename it to ``out``; the temporary file never outlives a failure."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw:
            with zipfile.ZipFile(raw, "w") as archive:
                for name, data, compress in entries:
                    info = zipfile.ZipInfo(name, date_time=when)
                    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                    info.external_attr = 0o600 << 16
                    archive.writestr(info, data)
            raw.flush()
            os.fsync(raw.fileno())
        if out.exists():
            raise _already_there(out)
        os.replace(temporary, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_dir(out.parent)  # the rename is on disk only once the folder is
    return out.stat().st_size


def _already_there(out: Path) -> ValidationError:
    return ValidationError(
        f"There is already a file called {out.name} in that folder. Choose another name, "
        "or move that file away first.",
        field="out",
    )


def _check_destination(out: Path) -> Path:
    out = Path(out)
    if out.exists():
        raise _already_there(out)
    if not out.parent.is_dir():
        raise ValidationError(
            f"The folder {out.parent} does not exist. Choose a folder that does.", field="out"
        )
    return out


# --- the export ----------------------------------------------------------------------------------


def _patient_to_export(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient record does not exist.")
    if patient.merged_into_id is not None:
        kept = session.get(Patient, patient.merged_into_id)
        raise ValidationError(
            f"This record was merged into chart {kept.chart_number} "
            f"({kept.first_name} {kept.last_name}), which holds its history: export that "
            "record instead.",
            field="patient_id",
        )
    return patient


def export_patient_record(
    db: Database,
    actor: Actor,
    patient_id: int,
    out: Path,
    disclosure: Disclosure,
    *,
    locale: str | None = None,
) -> RecordExport:
    """Write the patient's record to the zip ``out`` (summary PDF, documents, FHIR Bundle,
    README) and record the disclosure; notes only if ``actor`` may read them.

    ``locale``: the summary's language ("en", "es" or a locale such as "es_US"); default the
    patient's preferred language.  Refuses (ValidationError) a file already at ``out``, a
    missing folder, a merged-away record (naming the record it was merged into).
    """
    permissions.require(actor, Permission.EXPORT_RECORDS)
    if not isinstance(disclosure, Disclosure):
        raise ValidationError("Say who the copy is for and why.", field="to_whom")
    out = _check_destination(out)
    includes_notes = permissions.role_allows(
        actor.role, Permission.READ_NOTE_BODIES, emergency=actor.in_emergency
    )
    written: Path | None = None
    try:
        with unit_of_work(db, actor) as session:
            patient = _patient_to_export(session, patient_id)
            settings = clinic_settings(session)
            zone = clinic_zone(session)
            language = None if locale is None else locale.replace("-", "_").split("_")[0].lower()
            doc_locale = document_locale(
                settings.locale, patient_language(patient, language, what="Record copies")
            )
            now = utc_now()
            providers = _provider_names(session)
            documents = list(
                session.scalars(
                    select(StoredDocument)
                    .options(undefer(StoredDocument.content))
                    .where(StoredDocument.patient_id == patient_id)
                    .order_by(StoredDocument.created_at, StoredDocument.id)
                )
            )
            titles = dict(
                session.execute(
                    select(ConsentVersion.id, ConsentVersion.title).where(
                        ConsentVersion.id.in_({d.consent_version_id for d in documents})
                    )
                ).all()
            )
            paths = {d.id: document_path(patient.chart_number, d.id, d.filename) for d in documents}
            upcoming, past = _visits(session, patient_id, providers)
            summary = RecordSummary(
                letterhead=clinic_letterhead(settings),
                patient=patient_banner(patient),
                locale=doc_locale,
                currency=settings.currency,
                disclosure=SummaryDisclosure(
                    exported_by=actor.full_name,
                    exported_by_role=str(actor.role),
                    exported_at=now,
                    to_whom=disclosure.to_whom,
                    why=disclosure.why,
                ),
                details=_details(
                    patient, settings.country, providers.get(patient.primary_provider_id or 0, "")
                ),
                balance=patient_balance(session, patient_id),
                medical_alerts=_lines(patient.medical_alerts),
                allergies=_lines(patient.allergies),
                medications=_lines(patient.medications),
                policies=_policies(session, patient_id),
                upcoming=upcoming,
                past=past,
                treatment_plans=_treatment_plans(session, patient_id, providers),
                payment_plans=_payment_plans(session, patient_id),
                account=_account(session, patient_id, zone),
                notes=_notes(session, patient_id, providers) if includes_notes else None,
                documents=tuple(
                    SummaryDocument(
                        title=d.title or titles.get(d.consent_version_id or 0, "") or d.filename,
                        added_at=d.created_at,
                        path=paths[d.id],
                    )
                    for d in documents
                ),
                printed_at=now,
            )
            bundle = build_bundle(
                patient_resources(
                    session, patient_id, zone=zone, contents={d.id: d.content for d in documents}
                ),
                fhir_context(session, zone),
                made_at=now,
            )
            entries: list[tuple[str, bytes, bool]] = [
                (README_PATH, _readme(summary, len(documents)), True),
                (SUMMARY_PATH, build_record_summary(summary), False),
                (BUNDLE_PATH, fhir_json(bundle, indent=1).encode("utf-8"), True),
            ]
            entries += [
                (paths[d.id], d.content, d.mime_type not in _STORED_TYPES) for d in documents
            ]
            notes_word = "notes included" if includes_notes else "notes not included"
            record(
                session,
                AuditAction.DISCLOSURE,
                entity="patients",
                entity_id=patient_id,
                patient_id=patient_id,
                detail=(
                    f"to: {disclosure.to_whom}; why: {disclosure.why}; "
                    f"{len(documents)} documents; {notes_word}"
                ),
            )
            # Written inside the transaction: a zip that cannot be written rolls the audit row
            # back with it, so the trail never records a copy nobody got.
            size = _write_zip(out, entries, _zip_time(now, zone))
            written = out
            files = tuple(name for name, _data, _compress in entries)
    except BaseException:
        # The commit failed after the rename: no copy may exist that the trail does not know.
        if written is not None:
            with contextlib.suppress(FileNotFoundError):
                written.unlink()
        raise
    return RecordExport(
        path=out, files=files, documents=len(documents), includes_notes=includes_notes, bytes=size
    )


def _readme(summary: RecordSummary, documents: int) -> bytes:
    # Windows' Notepad and every other editor read CRLF; a BOM tells them it is UTF-8.
    body = build_readme(summary, documents=documents, bundle_path=BUNDLE_PATH)
    return ("\ufeff" + body.replace("\n", "\r\n")).encode("utf-8")
