"""Our rows as FHIR R4 (4.0.1) resources: JSON-ready dicts, for a patient's record export
(one ``collection`` Bundle) and the whole clinic's export (NDJSON, one file per type).

What maps to what, and the choices made where FHIR R4 and CareDesk do not meet:

- Patient ← patients (identifier: the chart number under ``urn:caredesk:<clinic>:chart``; the
  preferred name as a ``usual`` name; a merged-away record ``link``s to the kept one);
  Practitioner ← providers; Location ← rooms; Organization ← payers (the contacts of kind
  "payer" that policies and insurance payments name).
- Appointment ← appointments, our statuses mapped to FHIR's (:data:`APPOINTMENT_STATUS`).
- Coverage ← insurance policies; Consent ← signed consents (the signed PDF as its
  ``sourceAttachment``); DocumentReference ← every stored document.
- Condition ← each line of the medical alerts, AllergyIntolerance ← each line of the
  allergies, MedicationStatement ← each line of the medications: free text (``code.text``),
  as the desk typed it, never coded by guesswork.
- Account ← the patient's account. R4's Account has no balance element: the balance (what
  :func:`app.services.billing.balances.patient_balance` says; below 0 is a credit) is the
  extension :data:`BALANCE_EXTENSION` holding a Money.
- Invoice ← each charge (one line, ``totalGross`` = ``totalNet`` = its amount).  Payments
  and adjustments have no R4 resource for a patient's own payments (PaymentReconciliation
  is an insurer's); they are in the balance and in the printed summary.

Documents: an attachment's ``url`` is the file's path inside the export
(:func:`document_path`).  FHIR's ``Attachment.hash`` is the base64 SHA-1 of the bytes: it
is given when the bytes are at hand (a patient's export reads them anyway); the SHA-256
CareDesk keeps of every document (what shows a signed consent was not altered) is always
there, hex, in the extension :data:`SHA256_EXTENSION` — so the clinic's export need not read
every document twice.

Times are instants in UTC ("2026-03-02T14:30:00Z"), dates plain ISO dates; money is a
:class:`~decimal.Decimal` in the dicts, written as an exact JSON number by :func:`to_json`
(``json.dumps`` cannot write a Decimal: use :func:`to_json`).  Resource ids are our row
ids (per resource type), so the same export made twice says the same thing.

No Qt here; the mapping functions read rows and write dicts.  :func:`clinic_resources` and
:func:`patient_resources` read the session (the caller's unit of work).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.contacts import Contact, ContactKind
from app.data.models.documents import ConsentVersion, DocumentKind, StoredDocument
from app.data.models.insurance import InsurancePolicy
from app.data.models.patients import Patient
from app.data.models.payments import Charge, ChargeKind
from app.data.models.providers import Provider, Room, Service
from app.services.billing.balances import patient_balances
from app.services.clinic.clock import clinic_settings
from app.services.errors import NotFoundError

__all__ = [
    "APPOINTMENT_STATUS",
    "BALANCE_EXTENSION",
    "FHIR_VERSION",
    "SHA256_EXTENSION",
    "FhirContext",
    "account_resource",
    "allergy_resources",
    "appointment_resource",
    "build_bundle",
    "clinic_resources",
    "condition_resources",
    "consent_resource",
    "coverage_resource",
    "document_path",
    "document_reference_resource",
    "fhir_context",
    "invoice_resource",
    "location_resource",
    "medication_resources",
    "organization_resource",
    "patient_resource",
    "patient_resources",
    "practitioner_resource",
    "to_json",
]

FHIR_VERSION = "4.0.1"

#: Where CareDesk's own extensions are named (a URN: no web page is promised).
_EXTENSIONS = "urn:caredesk:fhir:extension:"
#: The account's balance on the day of the export (Money; below 0 the patient has credit).
BALANCE_EXTENSION = _EXTENSIONS + "account-balance"
#: The hex SHA-256 of a document's bytes, as CareDesk stored it when the document was added.
SHA256_EXTENSION = _EXTENSIONS + "sha256"

#: Our appointment statuses → FHIR R4 AppointmentStatus.  Scheduled and confirmed are both
#: "booked" (FHIR has no "confirmed"); in treatment is "checked-in" (arrived and seen).
APPOINTMENT_STATUS = {
    AppointmentStatus.SCHEDULED.value: "booked",
    AppointmentStatus.CONFIRMED.value: "booked",
    AppointmentStatus.ARRIVED.value: "arrived",
    AppointmentStatus.IN_TREATMENT.value: "checked-in",
    AppointmentStatus.COMPLETED.value: "fulfilled",
    AppointmentStatus.CANCELLED.value: "cancelled",
    AppointmentStatus.NO_SHOW.value: "noshow",
}

#: Our sex values → FHIR AdministrativeGender (which has no "intersex": "other").
_GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}

_DOCUMENT_KIND_TEXT = {
    DocumentKind.CONSENT.value: "Consent form",
    DocumentKind.INTAKE.value: "Intake form",
    DocumentKind.PLAN_HANDOUT.value: "Treatment plan handout",
    DocumentKind.PAYMENT_AGREEMENT.value: "Payment plan agreement",
    DocumentKind.RECEIPT.value: "Receipt",
    DocumentKind.REFERRAL_LETTER.value: "Referral letter",
    DocumentKind.SCAN.value: "Scanned document",
    DocumentKind.OTHER.value: "Document",
}
_CHARGE_KIND_TEXT = {
    ChargeKind.TREATMENT.value: "Treatment",
    ChargeKind.NO_SHOW_FEE.value: "No-show fee",
    ChargeKind.LATE_CANCEL_FEE.value: "Late cancellation fee",
    ChargeKind.LATE_PAYMENT_FEE.value: "Late payment fee",
    ChargeKind.OTHER.value: "Other charge",
}

# Code systems (FHIR R4 terminology).
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
_V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
_LOINC = "http://loinc.org"
_SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
_COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
_COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
_ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
_BCP47 = "urn:ietf:bcp:47"

_PRIORITY_ORDER = {"primary": 1, "secondary": 2, "tertiary": 3}
#: Rows read per query of the clinic's export: bounded memory, few round trips.
BATCH = 500


# --- plain helpers -----------------------------------------------------------------------------


def document_path(chart_number: str, document_id: int, filename: str) -> str:
    """Where a stored document's bytes sit inside an export, relative to its root:
    ``documents/<chart>/<id>-<filename>`` — unique by the id, and safe on any file system
    (no folder parts, no characters Windows refuses, never empty)."""
    return f"documents/{_safe_part(chart_number) or 'chart'}/{document_id}-{_safe_name(filename)}"


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def _safe_part(value: str) -> str:
    return _UNSAFE.sub("_", unicodedata.normalize("NFC", value or "")).strip(" .")


def _safe_name(filename: str) -> str:
    # Only the last component of a name typed on another system ("C:\scans\x.pdf").
    name = _safe_part((filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    if len(name.encode("utf-8")) > 150:  # room for the folder on every file system
        stem, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) <= 8 else ""
        base = (stem if keep else name).encode("utf-8")[:140].decode("utf-8", "ignore")
        name = f"{base}.{keep}" if keep else base
    return name or "document"


def _instant(moment: datetime) -> str:
    """An instant as FHIR writes it: ISO 8601 in UTC with "Z"."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _date(day: date) -> str:
    return day.isoformat()


def _money(amount: Decimal, currency: str) -> dict:
    return {"value": amount, "currency": currency}


def _lines(value: str | None) -> list[str]:
    """The non-empty lines of a free-text list (alerts, allergies, medications)."""
    return [" ".join(line.split()) for line in (value or "").splitlines() if line.strip()]


def _ref(kind: str, row_id: int | str, display: str = "") -> dict:
    reference = {"reference": f"{kind}/{row_id}"}
    if display:
        reference["display"] = display
    return reference


def _drop_empty(resource: dict) -> dict:
    """FHIR forbids empty elements ("" , [], {}): leave them out."""
    cleaned = {}
    for key, value in resource.items():
        if isinstance(value, dict):
            value = _drop_empty(value)
        elif isinstance(value, list):
            value = [_drop_empty(v) if isinstance(v, dict) else v for v in value]
            value = [v for v in value if v not in ("", None, {}, [])]
        if value in ("", None, {}, []):
            continue
        cleaned[key] = value
    return cleaned


def _slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-") or "clinic"


# --- the context every mapping shares ------------------------------------------------------------


@dataclass(frozen=True)
class FhirContext:
    """What every resource of one clinic's export shares: the clinic's identifier namespace
    (``urn:caredesk:<clinic>``), its currency and time zone."""

    system: str
    currency: str
    zone: ZoneInfo

    @property
    def chart_system(self) -> str:
        return f"{self.system}:chart"


def fhir_context(session: Session, zone: ZoneInfo) -> FhirContext:
    """The context of this clinic's export (its name makes the identifiers' namespace)."""
    settings = clinic_settings(session)
    return FhirContext(f"urn:caredesk:{_slug(settings.name)}", settings.currency, zone)


# --- one resource per row ----------------------------------------------------------------------


def _human_name(use: str, family: str, given: Sequence[str]) -> dict:
    given = [g for g in given if g]
    return {
        "use": use,
        "text": " ".join([*given, family]).strip(),
        "family": family,
        "given": given,
    }


def patient_resource(
    patient: Patient, ctx: FhirContext, *, primary_provider_name: str = ""
) -> dict:
    """A patient as FHIR Patient: names, phones and e-mail, sex, birth date, address,
    language, death, emergency contact; a merged-away record points to the kept one."""
    names = [
        _human_name(
            "official", patient.last_name, [patient.first_name, *patient.middle_name.split()]
        )
    ]
    if patient.preferred_name and patient.preferred_name != patient.first_name:
        names.append(_human_name("usual", patient.last_name, [patient.preferred_name]))
    telecom = [
        {"system": "phone", "value": number, "use": use}
        for number, use in (
            (patient.mobile_phone, "mobile"),
            (patient.home_phone, "home"),
            (patient.work_phone, "work"),
        )
        if number
    ]
    if patient.email:
        telecom.append({"system": "email", "value": patient.email, "use": "home"})
    address = {
        "use": "home",
        "line": [line for line in (patient.address_line1, patient.address_line2) if line],
        "city": patient.city,
        "state": patient.region,
        "postalCode": patient.postal_code,
        "country": patient.country,
    }
    resource: dict = {
        "resourceType": "Patient",
        "id": str(patient.id),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {"system": _V2_0203, "code": "MR", "display": "Medical record number"}
                    ],
                    "text": "Chart number",
                },
                "system": ctx.chart_system,
                "value": patient.chart_number,
            }
        ],
        "active": bool(patient.is_active),
        "name": names,
        "telecom": telecom,
        "gender": _GENDER.get(patient.sex or "", ""),
        "birthDate": _date(patient.date_of_birth) if patient.date_of_birth else "",
        # Only what is known: a lone "use" would be an address that says nothing.
        "address": [address] if any(v for k, v in address.items() if k != "use") else [],
        "communication": [
            {
                "language": {
                    "coding": [{"system": _BCP47, "code": patient.preferred_language or "en"}]
                },
                "preferred": True,
            }
        ],
    }
    if patient.deceased_on is not None:
        resource["deceasedDateTime"] = _date(patient.deceased_on)
    if patient.emergency_contact_name or patient.emergency_contact_phone:
        resource["contact"] = [
            {
                "relationship": [
                    {
                        "coding": [
                            {"system": _V2_0131, "code": "C", "display": "Emergency Contact"}
                        ],
                        "text": patient.emergency_contact_relation or "Emergency contact",
                    }
                ],
                "name": {"text": patient.emergency_contact_name},
                "telecom": [{"system": "phone", "value": patient.emergency_contact_phone}],
            }
        ]
    if patient.primary_provider_id is not None:
        resource["generalPractitioner"] = [
            _ref("Practitioner", patient.primary_provider_id, primary_provider_name)
        ]
    if patient.merged_into_id is not None:
        resource["link"] = [
            {"other": _ref("Patient", patient.merged_into_id), "type": "replaced-by"}
        ]
    return _drop_empty(resource)


def practitioner_resource(provider: Provider, ctx: FhirContext) -> dict:
    """A provider as FHIR Practitioner: the name with its title and credentials."""
    resource = {
        "resourceType": "Practitioner",
        "id": str(provider.id),
        "active": bool(provider.is_active),
        "name": [
            {
                "text": " ".join(p for p in (provider.title, provider.name) if p),
                "prefix": [provider.title],
                "suffix": [provider.credentials],
            }
        ],
    }
    if provider.licence_number:
        resource["identifier"] = [
            {"type": {"text": "License number"}, "value": provider.licence_number}
        ]
    return _drop_empty(resource)


def location_resource(room: Room, ctx: FhirContext) -> dict:
    """A room (treatment room or chair) as FHIR Location."""
    return {
        "resourceType": "Location",
        "id": str(room.id),
        "status": "active" if room.is_active else "inactive",
        "name": room.name,
        "mode": "instance",
    }


def _payer_name(contact: Contact) -> str:
    return contact.organisation or contact.name


def organization_resource(contact: Contact, ctx: FhirContext) -> dict:
    """A payer of the contacts directory as FHIR Organization (type "pay")."""
    telecom = [{"system": "phone", "value": contact.phone}] if contact.phone else []
    if contact.fax:
        telecom.append({"system": "fax", "value": contact.fax})
    if contact.email:
        telecom.append({"system": "email", "value": contact.email})
    resource = {
        "resourceType": "Organization",
        "id": str(contact.id),
        "active": bool(contact.is_active),
        "type": [{"coding": [{"system": _ORGANIZATION_TYPE, "code": "pay", "display": "Payer"}]}],
        "name": _payer_name(contact),
        "telecom": telecom,
        "address": [
            {
                "line": [contact.address_line1, contact.address_line2],
                "city": contact.city,
                "state": contact.region,
                "postalCode": contact.postal_code,
                "country": contact.country,
            }
        ],
    }
    if contact.payer_id:
        resource["identifier"] = [{"type": {"text": "Payer ID"}, "value": contact.payer_id}]
    return _drop_empty(resource)


def appointment_resource(
    appointment: Appointment,
    ctx: FhirContext,
    *,
    service_name: str = "",
    provider_name: str = "",
    room_name: str = "",
    patient_name: str = "",
) -> dict:
    """An appointment as FHIR Appointment: status mapped (:data:`APPOINTMENT_STATUS`), start
    and end in UTC, the patient, the provider and the room as participants."""
    participants = [
        {
            "actor": _ref("Patient", appointment.patient_id, patient_name),
            "required": "required",
            "status": "accepted",
        },
        {
            "actor": _ref("Practitioner", appointment.provider_id, provider_name),
            "required": "required",
            "status": "accepted",
        },
    ]
    if appointment.room_id is not None:
        participants.append(
            {
                "actor": _ref("Location", appointment.room_id, room_name),
                "required": "information-only",
                "status": "accepted",
            }
        )
    resource = {
        "resourceType": "Appointment",
        "id": str(appointment.id),
        "status": APPOINTMENT_STATUS[appointment.status],
        "serviceType": [{"text": service_name}] if service_name else [],
        "description": service_name,
        "start": _instant(appointment.starts_at),
        "end": _instant(appointment.ends_at),
        "created": _instant(appointment.created_at),
        "comment": appointment.notes,
        "participant": participants,
    }
    if appointment.status == AppointmentStatus.CANCELLED.value:
        who = {"patient": "the patient", "clinic": "the clinic"}.get(appointment.cancelled_by or "")
        reason = appointment.cancel_reason
        if who:
            reason = f"Canceled by {who}" + (f": {reason}" if reason else "")
        if appointment.late_cancel:
            reason = (reason + " (late cancellation)").strip()
        resource["cancelationReason"] = {"text": reason}
    return _drop_empty(resource)


def coverage_resource(
    policy: InsurancePolicy, ctx: FhirContext, *, payer_name: str = "", patient_name: str = ""
) -> dict:
    """An insurance policy as FHIR Coverage: payer, member id, group and plan, order,
    period, subscriber and relationship, copay."""
    patient = _ref("Patient", policy.patient_id, patient_name)
    relation = policy.subscriber_relation or "self"
    classes = []
    if policy.group_number:
        classes.append(
            {
                "type": {"coding": [{"system": _COVERAGE_CLASS, "code": "group"}]},
                "value": policy.group_number,
                "name": policy.plan_name,
            }
        )
    elif policy.plan_name:
        classes.append(
            {
                "type": {"coding": [{"system": _COVERAGE_CLASS, "code": "plan"}]},
                "value": policy.plan_name,
            }
        )
    resource = {
        "resourceType": "Coverage",
        "id": str(policy.id),
        "status": "active" if policy.is_active else "cancelled",
        "subscriber": patient if relation == "self" else {"display": policy.subscriber_name},
        "subscriberId": policy.member_id,
        "beneficiary": patient,
        "relationship": {"coding": [{"system": _SUBSCRIBER_RELATIONSHIP, "code": relation}]},
        "period": {
            "start": _date(policy.effective_from) if policy.effective_from else "",
            "end": _date(policy.effective_to) if policy.effective_to else "",
        },
        "payor": [_ref("Organization", policy.payer_id, payer_name)],
        "class": classes,
        "order": _PRIORITY_ORDER.get(policy.priority),
    }
    if policy.copay:
        resource["costToBeneficiary"] = [
            {
                "type": {"coding": [{"system": _COPAY_TYPE, "code": "copay"}]},
                "valueMoney": _money(policy.copay, ctx.currency),
            }
        ]
    return _drop_empty(resource)


def _attachment(
    document: StoredDocument, chart_number: str, content: bytes | None, title: str = ""
) -> dict:
    attachment = {
        "extension": [{"url": SHA256_EXTENSION, "valueString": document.sha256}],
        "contentType": document.mime_type,
        "url": document_path(chart_number, document.id, document.filename),
        "size": document.size_bytes,
        "title": title or document.title or document.filename,
        "creation": _instant(document.created_at),
    }
    if content is not None:
        attachment["hash"] = base64.b64encode(hashlib.sha1(content).digest()).decode("ascii")
    return attachment


def document_reference_resource(
    document: StoredDocument,
    ctx: FhirContext,
    *,
    chart_number: str,
    content: bytes | None = None,
    title: str = "",
) -> dict:
    """A stored document as FHIR DocumentReference; its attachment's ``url`` is the file's
    path in the export (:func:`document_path`), ``hash`` its SHA-1 when ``content`` is given."""
    kind = _DOCUMENT_KIND_TEXT.get(document.kind, "Document")
    return _drop_empty(
        {
            "resourceType": "DocumentReference",
            "id": str(document.id),
            "status": "current",
            "type": {"text": kind},
            "subject": _ref("Patient", document.patient_id),
            "date": _instant(document.created_at),
            "description": title or document.title,
            "content": [{"attachment": _attachment(document, chart_number, content, title)}],
        }
    )


def consent_resource(
    document: StoredDocument,
    ctx: FhirContext,
    *,
    chart_number: str,
    content: bytes | None = None,
    title: str = "",
) -> dict:
    """A signed consent as FHIR Consent (scope treatment, LOINC 59284-0 "Patient consent"),
    the signed PDF as its source attachment."""
    if document.signed_at is None:
        raise ValueError("Only a signed consent is a Consent.")
    performer = _ref("Patient", document.patient_id)
    if document.signer_name:
        # Someone signed for the patient (a parent, a guardian): named as written.
        relation = f" ({document.signer_relationship})" if document.signer_relationship else ""
        performer = {"display": document.signer_name + relation}
    return _drop_empty(
        {
            "resourceType": "Consent",
            "id": str(document.id),
            "status": "active",
            "scope": {
                "coding": [{"system": _CONSENT_SCOPE, "code": "treatment", "display": "Treatment"}]
            },
            "category": [{"coding": [{"system": _LOINC, "code": "59284-0"}], "text": title}],
            "patient": _ref("Patient", document.patient_id),
            "dateTime": _instant(document.signed_at),
            "performer": [performer],
            # R4 wants a policy or a rule (ppc-1): the patient opted in to what the form says.
            "policyRule": {"coding": [{"system": _V3_ACT_CODE, "code": "OPTIN"}]},
            "sourceAttachment": _attachment(document, chart_number, content, title),
        }
    )


def condition_resources(patient: Patient, ctx: FhirContext) -> list[dict]:
    """One FHIR Condition (active, problem-list item) per line of the medical alerts."""
    return [
        {
            "resourceType": "Condition",
            "id": f"{patient.id}-alert-{n}",
            "clinicalStatus": {"coding": [{"system": _CONDITION_CLINICAL, "code": "active"}]},
            "category": [
                {"coding": [{"system": _CONDITION_CATEGORY, "code": "problem-list-item"}]}
            ],
            "code": {"text": line},
            "subject": _ref("Patient", patient.id),
        }
        for n, line in enumerate(_lines(patient.medical_alerts), start=1)
    ]


def allergy_resources(patient: Patient, ctx: FhirContext) -> list[dict]:
    """One FHIR AllergyIntolerance (active) per line of the allergies."""
    return [
        {
            "resourceType": "AllergyIntolerance",
            "id": f"{patient.id}-allergy-{n}",
            "clinicalStatus": {"coding": [{"system": _ALLERGY_CLINICAL, "code": "active"}]},
            "code": {"text": line},
            "patient": _ref("Patient", patient.id),
        }
        for n, line in enumerate(_lines(patient.allergies), start=1)
    ]


def medication_resources(patient: Patient, ctx: FhirContext) -> list[dict]:
    """One FHIR MedicationStatement (active, as the patient told it) per line of the
    medications."""
    return [
        {
            "resourceType": "MedicationStatement",
            "id": f"{patient.id}-medication-{n}",
            "status": "active",
            "medicationCodeableConcept": {"text": line},
            "subject": _ref("Patient", patient.id),
        }
        for n, line in enumerate(_lines(patient.medications), start=1)
    ]


def account_resource(
    patient: Patient,
    ctx: FhirContext,
    *,
    balance: Decimal,
    policy_ids: Iterable[tuple[int, int | None]] = (),
) -> dict:
    """The patient's account as FHIR Account; the balance in :data:`BALANCE_EXTENSION`
    (R4's Account has none).  ``policy_ids``: (policy id, order) of the patient's coverage."""
    return _drop_empty(
        {
            "resourceType": "Account",
            "id": str(patient.id),
            "extension": [{"url": BALANCE_EXTENSION, "valueMoney": _money(balance, ctx.currency)}],
            "status": "active" if patient.is_active else "inactive",
            "type": {
                "coding": [
                    {
                        "system": _V3_ACT_CODE,
                        "code": "PBILLACCT",
                        "display": "patient billing account",
                    }
                ]
            },
            "name": f"Account of chart {patient.chart_number}",
            "subject": [_ref("Patient", patient.id)],
            "coverage": [
                {"coverage": _ref("Coverage", policy_id), "priority": order}
                for policy_id, order in policy_ids
            ],
        }
    )


def invoice_resource(charge: Charge, ctx: FhirContext, *, provider_name: str = "") -> dict:
    """A charge as FHIR Invoice (issued, one line): the service date, what it was for, the
    amount as ``totalGross`` and ``totalNet``; the provider as participant."""
    amount = _money(charge.amount, ctx.currency)
    resource = {
        "resourceType": "Invoice",
        "id": str(charge.id),
        "status": "issued",
        "type": {"text": _CHARGE_KIND_TEXT.get(charge.kind, "Charge")},
        "subject": _ref("Patient", charge.patient_id),
        "date": _date(charge.service_date),
        "account": _ref("Account", charge.patient_id),
        "lineItem": [
            {
                "sequence": 1,
                "chargeItemCodeableConcept": {"text": charge.description},
                "priceComponent": [{"type": "base", "amount": amount}],
            }
        ],
        "totalNet": amount,
        "totalGross": amount,
    }
    if charge.provider_id is not None:
        resource["participant"] = [
            {"actor": _ref("Practitioner", charge.provider_id, provider_name)}
        ]
    return _drop_empty(resource)


# --- JSON ---------------------------------------------------------------------------------------


def to_json(resource: object, *, indent: int | None = None) -> str:
    """``resource`` as JSON text, each Decimal written as the exact number it is ("12.50",
    never a float's "12.5000000001"); ``indent`` None: one line (an NDJSON line)."""
    text = json.dumps(
        resource,
        ensure_ascii=False,
        indent=indent,
        separators=(",", ":") if indent is None else (",", ": "),
        default=_decimal_marker,
    )
    # The standard encoder (C, ~8× faster than walking the tree in Python) writes each
    # Decimal as a marked string; the marks come off here, leaving the bare number.  No
    # stored text can forge a mark: the encoder escapes a typed backslash as two.
    return _MARKED_DECIMAL.sub(r"\1", text)


#: A Decimal as :func:`_decimal_marker` leaves it in the encoder's output.
_MARKED_DECIMAL = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def _decimal_marker(value: object) -> str:
    if not isinstance(value, Decimal):
        raise TypeError(f"{type(value).__name__} is not JSON")
    if not value.is_finite():
        raise ValueError("FHIR has no number for infinity or NaN.")
    return f"\0{value:f}\0"


# --- a Bundle ------------------------------------------------------------------------------------


def _full_url(ctx: FhirContext, resource_type: str, resource_id: str) -> str:
    # A fixed UUID per clinic, type and id: the same export made twice has the same entries.
    return "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.system}/{resource_type}/{resource_id}")
    )


def _point_at(value: object, full_urls: dict[str, str]) -> object:
    if isinstance(value, dict):
        out = {key: _point_at(item, full_urls) for key, item in value.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in full_urls:
            out["reference"] = full_urls[out["reference"]]
        return out
    if isinstance(value, list):
        return [_point_at(item, full_urls) for item in value]
    return value


def build_bundle(resources: Sequence[dict], ctx: FhirContext, *, made_at: datetime) -> dict:
    """A FHIR ``collection`` Bundle of ``resources``.  Entries have ``urn:uuid`` full URLs
    (there is no FHIR server to name them), and references between entries point at those,
    as FHIR resolves references inside a Bundle."""
    full_urls = {
        f"{r['resourceType']}/{r['id']}": _full_url(ctx, r["resourceType"], r["id"])
        for r in resources
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.system}/Bundle/{_instant(made_at)}")),
        "meta": {"lastUpdated": _instant(made_at)},
        "type": "collection",
        "timestamp": _instant(made_at),
        "entry": [
            {
                "fullUrl": full_urls[f"{r['resourceType']}/{r['id']}"],
                "resource": _point_at(r, full_urls),
            }
            for r in resources
        ],
    }


# --- reading the rows ----------------------------------------------------------------------------


def _names(session: Session, model, ids: Iterable[int | None], label: Callable) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    found: dict[int, str] = {}
    for start in range(0, len(wanted), BATCH):
        for row in session.scalars(
            select(model).where(model.id.in_(wanted[start : start + BATCH]))
        ):
            found[row.id] = label(row)
    return found


def _provider_label(provider: Provider) -> str:
    return " ".join(p for p in (provider.title, provider.name) if p)


def _patient_label(patient: Patient) -> str:
    return f"{patient.first_name} {patient.last_name}"


def _patient_bits(patient: Patient, ctx: FhirContext, provider_names: dict[int, str]) -> list[dict]:
    return [
        patient_resource(
            patient,
            ctx,
            primary_provider_name=provider_names.get(patient.primary_provider_id or 0, ""),
        ),
        *condition_resources(patient, ctx),
        *allergy_resources(patient, ctx),
        *medication_resources(patient, ctx),
    ]


def _consent_titles(session: Session, version_ids: Iterable[int | None]) -> dict[int, str]:
    return _names(session, ConsentVersion, version_ids, lambda v: v.title)


def _document_resources(
    document: StoredDocument,
    ctx: FhirContext,
    chart_number: str,
    consent_titles: dict[int, str],
    content: bytes | None = None,
) -> list[dict]:
    title = document.title or consent_titles.get(document.consent_version_id or 0, "")
    out = [
        document_reference_resource(
            document, ctx, chart_number=chart_number, content=content, title=title
        )
    ]
    if document.kind == DocumentKind.CONSENT.value and document.signed_at is not None:
        out.append(
            consent_resource(document, ctx, chart_number=chart_number, content=content, title=title)
        )
    return out


def patient_resources(
    session: Session,
    patient_id: int,
    *,
    zone: ZoneInfo,
    contents: dict[int, bytes] | None = None,
) -> list[dict]:
    """Every resource of one patient's record, with the practitioners, rooms and payers it
    names: what a patient's Bundle holds.  ``contents`` (document id → bytes), when given,
    adds each attachment's SHA-1."""
    ctx = fhir_context(session, zone)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient record does not exist.")
    appointments = list(
        session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    policies = list(
        session.scalars(
            select(InsurancePolicy)
            .where(InsurancePolicy.patient_id == patient_id)
            .order_by(InsurancePolicy.id)
        )
    )
    documents = list(
        session.scalars(
            select(StoredDocument)
            .where(StoredDocument.patient_id == patient_id)
            .order_by(StoredDocument.created_at, StoredDocument.id)
        )
    )
    charges = list(
        session.scalars(
            select(Charge)
            .where(Charge.patient_id == patient_id)
            .order_by(Charge.service_date, Charge.id)
        )
    )
    provider_ids = {a.provider_id for a in appointments} | {c.provider_id for c in charges}
    provider_ids.add(patient.primary_provider_id)
    provider_ids.discard(None)
    providers = list(
        session.scalars(select(Provider).where(Provider.id.in_(provider_ids)).order_by(Provider.id))
    )
    provider_names = {p.id: _provider_label(p) for p in providers}
    rooms = list(
        session.scalars(
            select(Room)
            .where(Room.id.in_({a.room_id for a in appointments if a.room_id is not None}))
            .order_by(Room.id)
        )
    )
    payers = list(
        session.scalars(
            select(Contact)
            .where(Contact.id.in_({p.payer_id for p in policies}))
            .order_by(Contact.id)
        )
    )
    services = _names(session, Service, (a.service_id for a in appointments), lambda s: s.name)
    titles = _consent_titles(session, (d.consent_version_id for d in documents))
    room_names = {r.id: r.name for r in rooms}
    payer_names = {c.id: _payer_name(c) for c in payers}
    name = _patient_label(patient)
    balance = patient_balances(session, [patient_id])[patient_id]

    resources: list[dict] = _patient_bits(patient, ctx, provider_names)
    resources += [practitioner_resource(p, ctx) for p in providers]
    resources += [location_resource(r, ctx) for r in rooms]
    resources += [organization_resource(c, ctx) for c in payers]
    resources += [
        appointment_resource(
            a,
            ctx,
            service_name=services.get(a.service_id or 0, ""),
            provider_name=provider_names.get(a.provider_id, ""),
            room_name=room_names.get(a.room_id or 0, ""),
            patient_name=name,
        )
        for a in appointments
    ]
    resources += [
        coverage_resource(p, ctx, payer_name=payer_names.get(p.payer_id, ""), patient_name=name)
        for p in policies
    ]
    for document in documents:
        content = (contents or {}).get(document.id)
        resources += _document_resources(document, ctx, patient.chart_number, titles, content)
    resources.append(
        account_resource(
            patient,
            ctx,
            balance=balance,
            policy_ids=[(p.id, _PRIORITY_ORDER.get(p.priority)) for p in policies if p.is_active],
        )
    )
    resources += [
        invoice_resource(c, ctx, provider_name=provider_names.get(c.provider_id or 0, ""))
        for c in charges
    ]
    return resources


def _batches(session: Session, model, *, where=None) -> Iterator[list]:
    """The rows of ``model`` in id order, :data:`BATCH` at a time (keyset pages: each query
    starts after the last id seen, so no page is re-read and memory stays bounded)."""
    last = 0
    while True:
        query = select(model).where(model.id > last).order_by(model.id).limit(BATCH)
        if where is not None:
            query = query.where(where)
        rows = list(session.scalars(query))
        if not rows:
            return
        yield rows
        # Nothing keeps the rows after this: the session's identity map holds them weakly.
        last = rows[-1].id


def clinic_resources(
    session: Session,
    *,
    zone: ZoneInfo,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[dict]:
    """Every resource of the whole clinic, streamed: Practitioner, Location, Organization
    (payers), then per batch of patients Patient, Condition, AllergyIntolerance,
    MedicationStatement and Account, then Appointment, Coverage, DocumentReference with
    Consent, Invoice.  ``progress(done, total)`` counts rows read.  Attachments name their
    files with :func:`document_path` and carry no SHA-1 (no document's bytes are read)."""
    ctx = fhir_context(session, zone)
    payer_filter = Contact.kind == ContactKind.PAYER.value
    counted = (
        (Provider, None),
        (Room, None),
        (Contact, payer_filter),
        (Patient, None),
        (Appointment, None),
        (InsurancePolicy, None),
        (StoredDocument, None),
        (Charge, None),
    )
    total = 0
    for model, where in counted:
        query = select(func.count()).select_from(model)
        if where is not None:
            query = query.where(where)
        total += session.scalar(query) or 0
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    providers = list(session.scalars(select(Provider).order_by(Provider.id)))
    provider_names = {p.id: _provider_label(p) for p in providers}
    for provider in providers:
        yield practitioner_resource(provider, ctx)
    step(len(providers))
    rooms = list(session.scalars(select(Room).order_by(Room.id)))
    room_names = {r.id: r.name for r in rooms}
    for room in rooms:
        yield location_resource(room, ctx)
    step(len(rooms))
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    payer_names: dict[int, str] = {}
    for payers in _batches(session, Contact, where=payer_filter):
        for contact in payers:
            payer_names[contact.id] = _payer_name(contact)
            yield organization_resource(contact, ctx)
        step(len(payers))

    for patients in _batches(session, Patient):
        ids = [p.id for p in patients]
        balances = patient_balances(session, ids)
        coverage: dict[int, list[tuple[int, int | None]]] = {}
        for policy_id, patient_id, priority in session.execute(
            select(InsurancePolicy.id, InsurancePolicy.patient_id, InsurancePolicy.priority)
            .where(InsurancePolicy.patient_id.in_(ids), InsurancePolicy.is_active)
            .order_by(InsurancePolicy.id)
        ):
            coverage.setdefault(patient_id, []).append((policy_id, _PRIORITY_ORDER.get(priority)))
        for patient in patients:
            yield from _patient_bits(patient, ctx, provider_names)
            yield account_resource(
                patient, ctx, balance=balances[patient.id], policy_ids=coverage.get(patient.id, ())
            )
        step(len(patients))

    for appointments in _batches(session, Appointment):
        for appointment in appointments:
            yield appointment_resource(
                appointment,
                ctx,
                service_name=service_names.get(appointment.service_id or 0, ""),
                provider_name=provider_names.get(appointment.provider_id, ""),
                room_name=room_names.get(appointment.room_id or 0, ""),
            )
        step(len(appointments))

    for policies in _batches(session, InsurancePolicy):
        for policy in policies:
            yield coverage_resource(policy, ctx, payer_name=payer_names.get(policy.payer_id, ""))
        step(len(policies))

    for documents in _batches(session, StoredDocument):
        charts = dict(
            session.execute(
                select(Patient.id, Patient.chart_number).where(
                    Patient.id.in_({d.patient_id for d in documents})
                )
            ).all()
        )
        titles = _consent_titles(session, (d.consent_version_id for d in documents))
        for document in documents:
            yield from _document_resources(document, ctx, charts[document.patient_id], titles)
        step(len(documents))

    for charges in _batches(session, Charge):
        for charge in charges:
            yield invoice_resource(
                charge, ctx, provider_name=provider_names.get(charge.provider_id or 0, "")
            )
        step(len(charges))
