"""Our rows as FHIR R4: every resource kind valid against the R4 models (fhir.resources 6.5,
FHIR 4.0.1), what each element says, the edge cases of real records, exact money, the paths
documents get inside an export, and the whole clinic streamed."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import keyring
import keyring.backends.fail
import pytest
from sqlalchemy import func, select

from app import paths
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.documents import StoredDocument
from app.data.models.patients import Patient
from app.data.models.payments import Charge
from app.demo import seed
from app.services.exports.fhir import (
    APPOINTMENT_STATUS,
    BALANCE_EXTENSION,
    SHA256_EXTENSION,
    appointment_resource,
    build_bundle,
    clinic_resources,
    document_path,
    fhir_context,
    patient_resource,
    patient_resources,
    to_json,
)
from tests.data.factories import add_appointment, add_patient, add_provider
from tests.services.exports.conftest import NOW, fhir_valid

ZONE = ZoneInfo("America/New_York")
#: FHIR R4's AppointmentStatus value set.
R4_APPOINTMENT_STATUSES = {
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
}  # fmt: skip


def _by_kind(resources: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for resource in resources:
        kinds.setdefault(resource["resourceType"], []).append(resource)
    return kinds


# --- one patient's resources -------------------------------------------------------------------


def test_every_resource_of_a_full_record_is_valid_fhir_r4(clinic, world):
    with clinic.db.uow() as s:
        resources = patient_resources(s, world.patient_id, zone=ZONE)

    for resource in resources:
        fhir_valid(resource)
    kinds = _by_kind(resources)
    assert {k: len(v) for k, v in kinds.items()} == {
        "Patient": 1,
        "Condition": 2,  # two lines of medical alerts
        "AllergyIntolerance": 1,
        "MedicationStatement": 1,
        "Practitioner": 1,
        "Location": 1,
        "Organization": 1,
        "Appointment": 3,
        "Coverage": 1,
        "DocumentReference": 3,
        "Consent": 1,
        "Account": 1,
        "Invoice": 1,
    }


def test_the_patient_says_who_they_are_and_how_to_reach_them(clinic, world):
    with clinic.db.uow() as s:
        kinds = _by_kind(patient_resources(s, world.patient_id, zone=ZONE))
    (patient,) = kinds["Patient"]

    assert patient["identifier"][0]["system"] == "urn:caredesk:bayside-dental:chart"
    assert patient["identifier"][0]["value"] == world.chart
    official, usual = patient["name"]
    assert (official["use"], official["family"], official["given"]) == (
        "official",
        "Ñúñez",
        ["Zoë"],
    )
    assert (usual["use"], usual["given"]) == ("usual", ["Zo"])
    assert patient["telecom"] == [
        {"system": "phone", "value": "+12075550143", "use": "mobile"},
        {"system": "email", "value": "zoe@example.net", "use": "home"},
    ]
    assert (patient["gender"], patient["birthDate"], patient["active"]) == (
        "female",
        "1984-03-09",
        True,
    )
    assert patient["address"] == [
        {
            "use": "home",
            "line": ["12 Harbour Road"],
            "city": "Portland",
            "state": "ME",
            "postalCode": "04101",
            "country": "US",
        }
    ]
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "en"
    (contact,) = patient["contact"]
    assert contact["name"] == {"text": "Luis Ñúñez"}
    assert contact["relationship"][0]["text"] == "husband"
    assert patient["generalPractitioner"] == [
        {"reference": f"Practitioner/{world.provider_id}", "display": "Dr. Ana Torres"}
    ]
    assert "deceasedDateTime" not in patient and "link" not in patient
    assert [c["code"]["text"] for c in kinds["Condition"]] == ["Latex allergy", "Pacemaker"]
    assert kinds["AllergyIntolerance"][0]["code"] == {"text": "Penicillin"}
    assert kinds["MedicationStatement"][0]["medicationCodeableConcept"] == {
        "text": "Warfarin 5 mg daily"
    }


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        pytest.param(
            {"date_of_birth": None, "sex": None},
            lambda p: "birthDate" not in p and "gender" not in p,
            id="no date of birth, no sex",
        ),
        pytest.param(
            {"mobile_phone": "", "home_phone": "", "work_phone": "", "email": ""},
            lambda p: "telecom" not in p,
            id="no phones",
        ),
        pytest.param(
            {"deceased_on": date(2026, 2, 1), "is_active": False},
            lambda p: p["deceasedDateTime"] == "2026-02-01" and p["active"] is False,
            id="deceased",
        ),
        pytest.param({"sex": "intersex"}, lambda p: p["gender"] == "other", id="intersex is other"),
        pytest.param(
            {"first_name": "Zoë", "last_name": "Ñúñez", "middle_name": "María José"},
            lambda p: (
                p["name"][0]["given"] == ["Zoë", "María", "José"]
                and p["name"][0]["text"] == "Zoë María José Ñúñez"
            ),
            id="unicode name",
        ),
        pytest.param(
            {"first_name": '=HYPERLINK("http://x.example","Ana")', "last_name": "+SUM(A1)"},
            lambda p: (
                p["name"][0]["given"] == ['=HYPERLINK("http://x.example","Ana")']
                and p["name"][0]["family"] == "+SUM(A1)"
            ),
            id="formula-like name kept as text",
        ),
        pytest.param(
            {"address_line1": "", "city": "", "region": "", "postal_code": "", "country": ""},
            lambda p: "address" not in p,
            id="no address",
        ),
    ],
)
def test_a_patient_of_any_kind_is_valid_and_says_what_is_known(clinic, changes, check):
    with clinic.db.uow() as s:
        given = {"mobile_phone": "+12075550143", "email": "a@example.net", "city": "Portland"}
        patient = add_patient(s, **{**given, **changes})
        resource = patient_resource(patient, fhir_context(s, ZONE))

    fhir_valid(resource)
    assert check(resource)
    # No element is ever empty (FHIR forbids "", [] and {}).
    assert '""' not in to_json(resource) and "[]" not in to_json(resource)


def test_a_merged_away_record_points_to_the_kept_one(clinic):
    with clinic.db.uow() as s:
        kept = add_patient(s)
        old = add_patient(s)
        old.merged_into_id, old.is_active = kept.id, False
        s.flush()
        resource = patient_resource(old, fhir_context(s, ZONE))

    fhir_valid(resource)
    assert resource["link"] == [
        {"other": {"reference": f"Patient/{kept.id}"}, "type": "replaced-by"}
    ]
    assert resource["active"] is False


# --- appointments -----------------------------------------------------------------------------


def test_every_status_of_ours_maps_to_one_of_fhir_r4():
    assert set(APPOINTMENT_STATUS) == {s.value for s in AppointmentStatus}
    assert set(APPOINTMENT_STATUS.values()) <= R4_APPOINTMENT_STATUSES
    assert APPOINTMENT_STATUS["completed"] == "fulfilled"
    assert APPOINTMENT_STATUS["no_show"] == "noshow"


@pytest.mark.parametrize("status", [s.value for s in AppointmentStatus])
def test_an_appointment_in_each_status_is_valid(clinic, status):
    # 10:30 in New York on a summer day: 14:30 UTC.
    starts = datetime(2026, 7, 1, 14, 30, tzinfo=UTC)
    with clinic.db.uow() as s:
        patient, provider = add_patient(s), add_provider(s)
        appointment = add_appointment(
            s,
            patient,
            provider,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=45),
            status=status,
            cancelled_by="clinic" if status == "cancelled" else None,
            cancel_reason="Provider ill" if status == "cancelled" else "",
        )
        resource = appointment_resource(appointment, fhir_context(s, ZONE), service_name="Exam")

    parsed = fhir_valid(resource)
    assert resource["status"] == APPOINTMENT_STATUS[status]
    assert (resource["start"], resource["end"]) == ("2026-07-01T14:30:00Z", "2026-07-01T15:15:00Z")
    assert parsed.start == starts
    assert [p["actor"]["reference"] for p in resource["participant"]] == [
        f"Patient/{patient.id}",
        f"Practitioner/{provider.id}",
    ]
    assert resource["serviceType"] == [{"text": "Exam"}]
    if status == "cancelled":
        assert resource["cancelationReason"] == {"text": "Canceled by the clinic: Provider ill"}
    else:
        assert "cancelationReason" not in resource


def test_a_late_cancellation_says_so(clinic, world):
    with clinic.db.uow() as s:
        kinds = _by_kind(patient_resources(s, world.patient_id, zone=ZONE))

    (canceled,) = [a for a in kinds["Appointment"] if a["status"] == "cancelled"]
    assert canceled["cancelationReason"]["text"] == (
        "Canceled by the patient: Car trouble (late cancellation)"
    )
    assert [a["status"] for a in kinds["Appointment"]] == ["fulfilled", "cancelled", "booked"]
    room = [
        p
        for a in kinds["Appointment"]
        for p in a["participant"]
        if "Location" in p["actor"]["reference"]
    ]
    assert room and room[0]["actor"]["display"] == "Operatory 1"


# --- money, documents, consent, coverage --------------------------------------------------------


def test_money_is_written_as_the_exact_decimal():
    assert to_json({"value": Decimal("120.00")}) == '{"value":120.00}'
    assert to_json([Decimal("0.10"), Decimal("-5.5")]) == "[0.10,-5.5]"
    assert json.loads(to_json({"v": Decimal("0.30")}), parse_float=Decimal)["v"] == Decimal("0.30")
    with pytest.raises(ValueError):
        to_json(Decimal("NaN"))


def test_invoice_account_and_coverage_carry_the_amounts(clinic, world):
    with clinic.db.uow() as s:
        kinds = _by_kind(patient_resources(s, world.patient_id, zone=ZONE))

    (invoice,) = kinds["Invoice"]
    assert invoice["totalGross"] == {"value": Decimal("120.00"), "currency": "USD"}
    assert invoice["totalNet"] == invoice["totalGross"]
    assert invoice["lineItem"][0]["chargeItemCodeableConcept"] == {"text": "Periodic exam"}
    assert '"totalGross":{"value":120.00,"currency":"USD"}' in to_json(invoice)
    (account,) = kinds["Account"]
    assert account["extension"] == [
        {"url": BALANCE_EXTENSION, "valueMoney": {"value": Decimal("60.00"), "currency": "USD"}}
    ]
    (coverage,) = kinds["Coverage"]
    assert coverage["subscriberId"] == "DD-778812"
    assert coverage["payor"][0]["display"] == "Delta Dental"
    assert coverage["class"][0]["value"] == "G-100" and coverage["class"][0]["name"] == "PPO Plus"
    assert coverage["costToBeneficiary"][0]["valueMoney"]["value"] == Decimal("25.00")
    assert account["coverage"] == [
        {"coverage": {"reference": f"Coverage/{coverage['id']}"}, "priority": 1}
    ]


def test_documents_and_the_signed_consent_point_at_their_files(clinic, world):
    with clinic.db.uow() as s:
        stored = {d.id: d for d in s.scalars(select(StoredDocument))}
        contents = {i: d.content for i, d in stored.items()}
        with_hash = _by_kind(patient_resources(s, world.patient_id, zone=ZONE, contents=contents))
        without = _by_kind(patient_resources(s, world.patient_id, zone=ZONE))

    for reference in with_hash["DocumentReference"]:
        document = stored[int(reference["id"])]
        attachment = reference["content"][0]["attachment"]
        assert attachment["url"] == document_path(world.chart, document.id, document.filename)
        assert attachment["contentType"] == document.mime_type
        assert base64.b64decode(attachment["hash"]) == hashlib.sha1(document.content).digest()
        assert attachment["extension"] == [
            {"url": SHA256_EXTENSION, "valueString": document.sha256}
        ]
    # Without the bytes there is no SHA-1 to give, and the SHA-256 is still there.
    for reference in without["DocumentReference"]:
        attachment = reference["content"][0]["attachment"]
        assert "hash" not in attachment and attachment["extension"][0]["url"] == SHA256_EXTENSION
    (consent,) = with_hash["Consent"]
    assert consent["id"] == str(world.consent_id)
    assert consent["status"] == "active" and consent["scope"]["coding"][0]["code"] == "treatment"
    assert consent["category"][0]["coding"][0] == {"system": "http://loinc.org", "code": "59284-0"}
    assert consent["dateTime"] == "2026-05-11T14:00:00Z"
    assert consent["sourceAttachment"]["url"].endswith("-consent-signed.pdf")
    assert consent["sourceAttachment"]["title"]  # the consent form's title


@pytest.mark.parametrize(
    ("chart", "filename", "expected"),
    [
        ("C000001", "x-ray report.pdf", "documents/C000001/7-x-ray report.pdf"),
        ("C000001", "../../etc/passwd", "documents/C000001/7-passwd"),
        ("C000001", "C:\\scans\\smile.png", "documents/C000001/7-smile.png"),
        ("C000001", 'a:b*c?"d<e>|f.pdf', "documents/C000001/7-a_b_c__d_e__f.pdf"),
        ("C000001", "", "documents/C000001/7-document"),
        ("../x", "ok.pdf", "documents/_x/7-ok.pdf"),
        ("C000001", "Zoë consentimiento.pdf", "documents/C000001/7-Zoë consentimiento.pdf"),
    ],
)
def test_document_paths_stay_inside_their_folder(chart, filename, expected):
    path = document_path(chart, 7, filename)

    assert path == expected
    assert path.count("/") == 2 and ".." not in path.split("/")


def test_a_long_file_name_is_shortened_keeping_its_extension():
    path = document_path("C000001", 7, "é" * 200 + ".pdf")

    assert path.endswith(".pdf") and len(path.rsplit("/", 1)[1].encode()) <= 150


# --- the Bundle --------------------------------------------------------------------------------


def test_a_bundle_points_its_references_at_its_entries_and_is_the_same_twice(clinic, world):
    with clinic.db.uow() as s:
        resources = patient_resources(s, world.patient_id, zone=ZONE)
        ctx = fhir_context(s, ZONE)

    bundle = build_bundle(resources, ctx, made_at=NOW)
    again = build_bundle(resources, ctx, made_at=NOW)

    fhir_valid(bundle)
    assert to_json(bundle) == to_json(again)
    assert bundle["type"] == "collection" and bundle["timestamp"] == "2026-06-10T15:00:00Z"
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(urls) == len(resources) and all(u.startswith("urn:uuid:") for u in urls)
    (patient_entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Condition":
            assert entry["resource"]["subject"]["reference"] == patient_entry["fullUrl"]


# --- the whole clinic ---------------------------------------------------------------------------


def test_the_clinic_streams_every_row_once_with_documents_and_consents(clinic, world):
    steps: list[tuple[int, int]] = []
    with clinic.db.uow() as s:
        resources = list(
            clinic_resources(s, zone=ZONE, progress=lambda done, total: steps.append((done, total)))
        )
        counts = {
            "Patient": s.scalar(select(func.count()).select_from(Patient)),
            "DocumentReference": s.scalar(select(func.count()).select_from(StoredDocument)),
        }

    for resource in resources:
        fhir_valid(resource)
    kinds = _by_kind(resources)
    assert len(kinds["Patient"]) == counts["Patient"] == len(kinds["Account"])
    assert len(kinds["DocumentReference"]) == counts["DocumentReference"] == 3
    assert len(kinds["Consent"]) == 1
    # No SHA-1 without reading the bytes; the files are named as h4's export writes them.
    for reference in kinds["DocumentReference"]:
        attachment = reference["content"][0]["attachment"]
        assert "hash" not in attachment
        assert attachment["url"].startswith(f"documents/{world.chart}/{reference['id']}-")
    assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]
    assert [d for d, _t in steps] == sorted(d for d, _t in steps)
    ids = [(r["resourceType"], r["id"]) for r in resources]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A small seeded clinic (a year of a clinic's days), keyed with a passphrase."""
    folder = tmp_path_factory.mktemp("seeded-fhir")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
            made = seed.create_seeded_clinic(
                folder / "small.caredesk",
                patients=15,
                years=1,
                today=seed.SEED_TODAY,
                seed=22,
                passphrase="a-test-passphrase-1",
            )
    finally:
        keyring.set_keyring(previous)
    yield made
    made.db.close()


@pytest.mark.slow
def test_a_seeded_clinic_is_all_valid_fhir_r4_in_batches(seeded):
    steps: list[tuple[int, int]] = []
    with seeded.db.uow() as s:
        resources = list(
            clinic_resources(s, zone=ZONE, progress=lambda done, total: steps.append((done, total)))
        )
        appointments = s.scalar(select(func.count()).select_from(Appointment))
        charges = s.scalar(select(func.count()).select_from(Charge))

    for resource in resources:
        fhir_valid(resource)
    kinds = _by_kind(resources)
    assert len(kinds["Appointment"]) == appointments > 1000
    assert len(kinds["Invoice"]) == charges > 0
    assert len(kinds["Patient"]) == 15 and len(kinds["Practitioner"]) == 3
    assert {a["status"] for a in kinds["Appointment"]} >= {
        "booked",
        "fulfilled",
        "cancelled",
        "noshow",
    }
    # Read in batches: progress was told many times, not once at the end.
    assert len(steps) > 10 and steps[-1][0] == steps[-1][1]
