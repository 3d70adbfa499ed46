"""A patient's record export read back as the person who receives it would: the zip's
files, the summary's words, the documents byte for byte, the FHIR Bundle; the disclosure in
the audit trail; what is refused, and that a refusal leaves nothing behind."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.documents import StoredDocument
from app.data.models.patients import Patient
from app.data.models.staff import Role
from app.services.clinic.permissions import Permission, role_allows
from app.services.errors import ValidationError
from app.services.exports.fhir import SHA256_EXTENSION
from app.services.exports.patient_record import Disclosure, export_patient_record
from tests.documents.pdfread import pdf_pages_text
from tests.services.exports.conftest import fhir_valid

TO_DESK = Disclosure("Dr. Jane Smith, Lakeside Dental", "The patient is moving to another clinic")


def _zip(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def _references(value):
    """Every ``reference`` string anywhere inside ``value``."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _disclosures(clinic) -> list[AuditEntry]:
    with clinic.db.uow() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "disclosure")).all())


@pytest.mark.both_backends
def test_the_zip_holds_the_summary_the_documents_the_bundle_and_a_readme(
    clinic, world, provider, tmp_path
):
    out = tmp_path / "zoe.zip"

    result = export_patient_record(clinic.db, provider, world.patient_id, out, TO_DESK)

    files = _zip(out)
    with clinic.db.uow() as s:
        stored = {
            d.id: (d.filename, d.content, d.sha256) for d in s.scalars(select(StoredDocument))
        }
    document_files = {name for name in files if name.startswith("documents/")}
    assert set(files) == {"README.txt", "summary.pdf", "fhir/bundle.json", *document_files}
    assert len(document_files) == 3 == result.documents
    assert result.path == out and result.bytes == out.stat().st_size
    assert set(result.files) == set(files) and result.includes_notes
    # Every stored document, byte for byte, under its chart's folder.
    for doc_id in world.document_ids:
        filename, content, sha256 = stored[doc_id]
        (name,) = [n for n in document_files if n.startswith(f"documents/{world.chart}/{doc_id}-")]
        assert name.endswith(filename)
        assert (
            hashlib.sha256(files[name]).hexdigest() == sha256 == hashlib.sha256(content).hexdigest()
        )
    # No temporary file was left beside it.
    assert sorted(p.name for p in tmp_path.iterdir() if "zoe" in p.name) == ["zoe.zip"]


def test_the_summary_reads_as_the_record(clinic, world, provider, tmp_path):
    out = tmp_path / "zoe.zip"
    export_patient_record(clinic.db, provider, world.patient_id, out, TO_DESK)

    pages = pdf_pages_text(_zip(out)["summary.pdf"])
    everything = " ".join(pages)
    assert pages[0].count("Zoë Ñúñez") >= 1
    assert "Page 1 of" in pages[0] and f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "Made on" in pages[0] and "Paula Provider (provider)" in pages[0]
    assert "Given to: Dr. Jane Smith, Lakeside Dental" in pages[0]
    assert "Purpose: The patient is moving to another clinic" in pages[0]
    for words in (
        "Latex allergy",
        "Pacemaker",
        "Penicillin",
        "Warfarin 5 mg daily",
        "(207) 555-0143 (mobile)",
        "Delta Dental",
        "DD-778812",
        "Periodic exam",
        "Canceled (late cancellation)",
        "Scheduled",
        "Completed",
        "Crown on #14",
        "Porcelain crown",
        "Loyalty discount",
        "Payment — Cash",
        # 120.00 charged − 50.00 paid − 10.00 discount.
        "Balance due",
        "$60.00",
        world.note_body,
        world.addendum,
        "consent-signed.pdf",
    ):
        assert words in everything, words
    assert "None recorded." in everything  # no payment plan


def test_the_bundle_is_fhir_r4_and_names_the_files_in_the_zip(clinic, world, provider, tmp_path):
    out = tmp_path / "zoe.zip"
    export_patient_record(clinic.db, provider, world.patient_id, out, TO_DESK)
    files = _zip(out)

    bundle = json.loads(files["fhir/bundle.json"], parse_float=Decimal)
    parsed = fhir_valid(bundle)

    assert parsed.type == "collection"
    kinds = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
    assert kinds == sorted(
        {
            "Patient", "Practitioner", "Location", "Organization", "Appointment", "Coverage",
            "Consent", "DocumentReference", "Condition", "AllergyIntolerance",
            "MedicationStatement", "Account", "Invoice",
        }
    )  # fmt: skip
    # Each entry is valid on its own too, and every reference points at an entry.
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    for entry in bundle["entry"]:
        fhir_valid(entry["resource"])
    references = list(_references(bundle))
    assert len(references) > 20 and set(references) <= full_urls
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "DocumentReference":
            continue
        attachment = resource["content"][0]["attachment"]
        data = files[attachment["url"]]
        assert attachment["size"] == len(data)
        assert base64.b64decode(attachment["hash"]) == hashlib.sha1(data).digest()
        (sha256,) = [
            x["valueString"] for x in attachment["extension"] if x["url"] == SHA256_EXTENSION
        ]
        assert sha256 == hashlib.sha256(data).hexdigest()
    (account,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Account"
    ]
    assert account["extension"][0]["valueMoney"] == {"value": Decimal("60.00"), "currency": "USD"}


def test_a_receptionists_copy_leaves_the_notes_out_and_says_why(
    clinic, world, receptionist, tmp_path
):
    out = tmp_path / "zoe.zip"

    result = export_patient_record(clinic.db, receptionist, world.patient_id, out, TO_DESK)

    files = _zip(out)
    everything = " ".join(pdf_pages_text(files["summary.pdf"]))
    assert not result.includes_notes
    assert world.note_body not in everything and world.addendum not in everything
    assert (
        "Consultation notes are not included in this copy: it was made by Rita Reception"
        in everything
    )
    assert "(receptionist) does not allow reading them" in everything
    assert world.note_body.encode() not in files["fhir/bundle.json"]
    readme = files["README.txt"].decode("utf-8-sig")
    assert "Consultation notes are not included in this copy." in readme
    (row,) = _disclosures(clinic)
    assert row.detail.endswith("notes not included")


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_export_and_notes_go_in_only_for_those_who_read_them(
    clinic, world, make_staff, tmp_path, role
):
    actor = make_staff(f"someone-{role.value}", role.value)

    result = export_patient_record(clinic.db, actor, world.patient_id, tmp_path / "r.zip", TO_DESK)

    assert role_allows(role, Permission.EXPORT_RECORDS)
    assert result.includes_notes == role_allows(role, Permission.READ_NOTE_BODIES)
    assert result.includes_notes == (role != Role.RECEPTIONIST)


def test_the_disclosure_is_in_the_audit_trail(clinic, world, provider, tmp_path):
    export_patient_record(clinic.db, provider, world.patient_id, tmp_path / "zoe.zip", TO_DESK)

    (row,) = _disclosures(clinic)
    assert row.staff_id == provider.staff_id and row.username == "paula"
    assert (row.entity, row.entity_id, row.patient_id) == (
        "patients",
        world.patient_id,
        world.patient_id,
    )
    assert row.detail == (
        "to: Dr. Jane Smith, Lakeside Dental; why: The patient is moving to another clinic; "
        "3 documents; notes included"
    )


@pytest.mark.parametrize(
    ("to_whom", "why", "field", "sentence"),
    [
        ("   ", "Moving away", "to_whom", "Type the person or organization the copy is for."),
        ("The patient", "", "why", "Type the reason for the copy."),
        ("x" * 201, "Moving away", "to_whom", "the most it can hold is 200"),
    ],
)
def test_who_and_why_are_required_and_nothing_is_written_without_them(
    clinic, world, provider, tmp_path, to_whom, why, field, sentence
):
    with pytest.raises(ValidationError) as refused:
        export_patient_record(
            clinic.db, provider, world.patient_id, tmp_path / "zoe.zip", Disclosure(to_whom, why)
        )

    assert refused.value.field == field and sentence in str(refused.value)
    assert not (tmp_path / "zoe.zip").exists()
    assert _disclosures(clinic) == []


def test_the_answers_are_trimmed(clinic, world, provider, tmp_path):
    disclosure = Disclosure("  The patient\n herself ", " Own copy  ")

    assert (disclosure.to_whom, disclosure.why) == ("The patient herself", "Own copy")


def test_a_file_already_there_is_never_overwritten(clinic, world, provider, tmp_path):
    out = tmp_path / "zoe.zip"
    out.write_bytes(b"someone else's file")

    with pytest.raises(ValidationError, match=r"There is already a file called zoe\.zip"):
        export_patient_record(clinic.db, provider, world.patient_id, out, TO_DESK)

    assert out.read_bytes() == b"someone else's file"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert _disclosures(clinic) == []


def test_a_folder_that_does_not_exist_is_refused(clinic, world, provider, tmp_path):
    with pytest.raises(ValidationError, match="does not exist") as refused:
        export_patient_record(
            clinic.db, provider, world.patient_id, tmp_path / "gone" / "zoe.zip", TO_DESK
        )

    assert refused.value.field == "out" and _disclosures(clinic) == []


def test_a_merged_away_record_points_to_the_one_it_was_merged_into(
    clinic, world, provider, tmp_path
):
    with clinic.db.uow() as s:
        kept = s.get(Patient, world.patient_id)
        old = Patient(chart_number="C999999", first_name="Zoe", last_name="Nunez")
        s.add(old)
        s.flush()
        old.merged_into_id, old.is_active = kept.id, False
        old_id = old.id

    with pytest.raises(ValidationError) as refused:
        export_patient_record(clinic.db, provider, old_id, tmp_path / "old.zip", TO_DESK)

    assert str(refused.value) == (
        f"This record was merged into chart {world.chart} (Zoë Ñúñez), which holds its "
        "history: export that record instead."
    )
    assert not (tmp_path / "old.zip").exists() and _disclosures(clinic) == []


def test_the_summary_prints_in_spanish(clinic, world, provider, tmp_path):
    out = tmp_path / "zoe.zip"

    export_patient_record(clinic.db, provider, world.patient_id, out, TO_DESK, locale="es")

    files = _zip(out)
    everything = " ".join(pdf_pages_text(files["summary.pdf"]))
    assert "Resumen del expediente del paciente" in everything
    assert "Datos del paciente" in everything and "Alertas médicas" in everything
    assert "Examen periódico" in everything  # the service's Spanish name
    assert "Página 1 de" in everything
    assert "Qué es cada archivo:" in files["README.txt"].decode("utf-8-sig")


def test_a_patient_with_nothing_on_file_gets_none_recorded_not_blanks(
    clinic, owner, provider, tmp_path
):
    with clinic.db.uow() as s:
        patient = Patient(chart_number="C000777", first_name="Ana", last_name="Nada")
        s.add(patient)
        s.flush()
        patient_id = patient.id
    out = tmp_path / "ana.zip"

    result = export_patient_record(clinic.db, provider, patient_id, out, TO_DESK)

    files = _zip(out)
    everything = " ".join(pdf_pages_text(files["summary.pdf"]))
    assert result.documents == 0 and set(files) == {"README.txt", "summary.pdf", "fhir/bundle.json"}
    # Alerts, allergies, medications, insurance, both visit lists, both plan kinds, the
    # account, the notes and the documents.
    assert everything.count("None recorded.") == 11
    assert "Balance due" in everything and "$0.00" in everything
    fhir_valid(json.loads(files["fhir/bundle.json"], parse_float=Decimal))
