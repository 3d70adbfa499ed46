"""The whole clinic exported (issue 22, "moving out") and read back: every table as CSV with
the database's row count and the documented formats, the data dictionary covering every
column, the documents byte for byte, the FHIR NDJSON lines, the manifest's hashes; the
encrypted zip that opens with its password only and never leaves a plain file behind; the
refusals (not the owner, a folder in use, a disk that cannot be written or fills up), a
cancel that leaves nothing, one consistent moment while the desk writes, and the audit row."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pyzipper
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from app.data.models import Base
from app.data.models.audit import AuditEntry
from app.data.models.patients import Patient
from app.data.models.payments import Charge, DayCloseOut, Payment
from app.services.errors import PermissionDeniedError, ValidationError, WeakPasswordError
from app.services.exports import dictionary
from app.services.exports.cells import unescape_cell
from app.services.exports.clinic import (
    ClinicExportError,
    ExportCanceledError,
    export_clinic,
)
from app.services.exports.fhir import document_path
from app.services.patients.documents import add_document
from tests.data.factories import add_appointment, add_patient, add_provider

EVIL = '=HYPERLINK("http://evil","x")'
PASSWORD = "tidal-orchard-lantern-93"
#: A patient name that must never be found in a plain file of an encrypted export.
MARKER = "Quillfeather"
VISIT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def world(clinic, owner):
    """A small clinic: a patient named like a formula, one named MARKER, a completed visit
    with its $500.00 charge and a $200.00 payment, a drawer $5.00 short, two documents."""
    with clinic.db.uow() as s:
        evil = add_patient(s, first_name=EVIL, last_name="Muñoz", chart_number="C-1",
                           date_of_birth=date(1980, 5, 17), may_text=True)  # fmt: skip
        marked = add_patient(s, first_name="Ida", last_name=MARKER, chart_number="C-2")
        provider = add_provider(s, name="Daniel Okafor")
        visit = add_appointment(s, evil, provider, starts_at=VISIT,
                                ends_at=VISIT + timedelta(hours=1), status="completed")  # fmt: skip
        s.add(Charge(patient_id=evil.id, kind="treatment", service_date=date(2026, 11, 3),
                     description="Crown", amount=Decimal("500.00"), posted_at=VISIT,
                     provider_id=provider.id, appointment_id=visit.id))  # fmt: skip
        s.add(Payment(patient_id=evil.id, method="card", amount=Decimal("200.00"),
                      received_at=VISIT))  # fmt: skip
        s.add(DayCloseOut(business_day=date(2026, 11, 3), expected='{"cash": "5.00"}',
                          counted='{"cash": "0.00"}', difference=Decimal("-5.00")))  # fmt: skip
        ids = evil.id, marked.id
    scan = add_document(clinic.db, owner, ids[0], "x-ray 1.png", png_bytes())
    letter = add_document(clinic.db, owner, ids[1], "../letter.pdf", PDF, kind="other")
    return {"evil": ids[0], "marked": ids[1], "documents": (scan.id, letter.id)}


def made_at_day(files: dict[str, bytes]) -> str:
    """The clinic's day the export was made (the balances' date), from its manifest."""
    from zoneinfo import ZoneInfo

    made = datetime.fromisoformat(json.loads(files["manifest.json"])["made_at"])
    return made.astimezone(ZoneInfo("America/New_York")).date().isoformat()


def db_counts(db) -> dict[str, int]:
    with db.uow() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.tables.values()
        }


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the accents as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def audit_rows(db) -> list[AuditEntry]:
    with db.uow() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.entity == "clinic")).all()
        )  # fmt: skip


# --- the folder, read back ------------------------------------------------------------------------


@pytest.mark.both_backends
def test_the_whole_clinic_is_exported_and_reads_back(clinic, owner, world, tmp_path):
    out = tmp_path / "moving-out"
    seen: list[tuple[int, int, str]] = []
    counts = db_counts(clinic.db)  # the export's own audit row comes after it

    made = export_clinic(clinic.db, owner, out, progress=lambda *p: seen.append(p))

    files = tree(out)
    assert made.folder == out and made.zip_path is None and not made.encrypted
    assert made.tables == len(Base.metadata.tables) and made.rows == sum(counts.values())
    assert made.bytes == sum(len(b) for b in files.values())
    # Every table, with the database's rows and the dictionary's columns.
    for table in Base.metadata.tables.values():
        rows = read_csv(files[f"tables/{table.name}.csv"])
        assert len(rows) == counts[table.name], table.name
        header = next(
            csv.reader(io.StringIO(files[f"tables/{table.name}.csv"].decode("utf-8-sig")))
        )
        assert header == [c.name for c in dictionary.exported_columns(table)]
    assert "password_hash" not in files["tables/staff.csv"].decode()

    patients = {r["chart_number"]: r for r in read_csv(files["tables/patients.csv"])}
    evil = patients["C-1"]
    assert evil["first_name"] == "'" + EVIL and unescape_cell(evil["first_name"]) == EVIL
    assert evil["last_name"] == "Muñoz"
    assert evil["date_of_birth"] == "1980-05-17"
    assert evil["may_text"] == "true" and evil["may_email"] == "false"
    assert evil["deceased_on"] == "" and evil["merged_into_id"] == ""  # NULL is empty
    charge = read_csv(files["tables/charges.csv"])[0]
    assert charge["amount"] == "500.00" and charge["posted_at"] == "2026-11-03T15:00:00Z"
    assert charge["service_date"] == "2026-11-03"
    assert read_csv(files["tables/day_closeouts.csv"])[0]["difference"] == "-5.00"
    with clinic.db.uow() as s:
        trail = {e.id: e.at for e in s.scalars(select(AuditEntry))}
    for row in read_csv(files["tables/audit_log.csv"]):  # fractions of a second kept
        assert row["at"] == trail[int(row["id"])].isoformat().replace("+00:00", "Z")
    assert any("." in row["at"] for row in read_csv(files["tables/audit_log.csv"]))
    visit = read_csv(files["tables/appointments.csv"])[0]
    assert visit["starts_at"] == "2026-11-03T15:00:00Z" and visit["status"] == "completed"

    # The documents, byte for byte, where the FHIR DocumentReferences point.
    with clinic.db.uow() as s:
        from app.data.models.documents import StoredDocument

        stored = s.execute(
            select(
                StoredDocument.id,
                Patient.chart_number,
                StoredDocument.filename,
                StoredDocument.content,
            ).join(Patient)
        ).all()
    assert made.documents == len(stored) == 2
    for document_id, chart, filename, content in stored:
        assert files[document_path(chart, document_id, filename)] == content
    references = [
        json.loads(line) for line in files["fhir/DocumentReference.ndjson"].decode().splitlines()
    ]
    urls = {a["attachment"]["url"] for r in references for a in r["content"]}
    assert all(url in files for url in urls) and len(urls) == 2

    # NDJSON: one resource a line, of the file's type, valid FHIR R4.
    ndjson = {name: data for name, data in files.items() if name.startswith("fhir/")}
    assert {"fhir/Patient.ndjson", "fhir/Appointment.ndjson", "fhir/Invoice.ndjson"} <= set(ndjson)
    from fhir.resources import get_fhir_model_class

    total = 0
    for name, data in ndjson.items():
        kind = name.removeprefix("fhir/").removesuffix(".ndjson")
        for line in data.decode("utf-8").splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == kind
            get_fhir_model_class(kind).parse_raw(line)
            total += 1
    assert total == made.fhir_resources
    patients_fhir = [json.loads(x) for x in ndjson["fhir/Patient.ndjson"].decode().splitlines()]
    assert len(patients_fhir) == counts["patients"]

    # The moving files: what a new system imports first, with the import's own columns.
    moved = {r["Chart number"]: r for r in read_csv(files["moving/patients.csv"])}
    assert set(moved) == {"C-1", "C-2"} and moved["C-1"]["Last name"] == "Muñoz"
    assert (
        moved["C-1"]["First name"] == "'" + EVIL and moved["C-1"]["Date of birth"] == "1980-05-17"
    )
    [visit_row] = read_csv(files["moving/appointments.csv"])
    assert visit_row["Patient chart number"] == "C-1"
    assert visit_row["Provider"] == "Dr. Daniel Okafor"  # (add_provider gives the title)
    assert (visit_row["Date"], visit_row["Start time"]) == ("2026-11-03", "10:00")  # New York
    assert read_csv(files["moving/balances.csv"]) == [
        {"Chart number": "C-1", "Balance": "300.00", "As of": made_at_day(files)}
    ]

    # The manifest, written last: every other file with its size and SHA-256.
    manifest = json.loads(files["manifest.json"])
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for name, facts in manifest["files"].items():
        assert facts == {
            "bytes": len(files[name]),
            "sha256": hashlib.sha256(files[name]).hexdigest(),
        }
    assert manifest["tables"] == counts and manifest["encrypted"] is False
    assert manifest["currency"] == "USD" and manifest["schema"]
    readme = files["README.txt"].decode()
    assert "Bayside Dental" in readme and manifest["schema"] in readme
    assert "data-dictionary.md" in files and "data-dictionary.csv" in files
    assert not list(tmp_path.glob("*.partial"))

    # Progress: the total known from the start, never going back, done at the end.
    totals = {total for _done, total, _what in seen}
    assert len(totals) == 1 and seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _t, _w in seen] == sorted(d for d, _t, _w in seen)

    (row,) = audit_rows(clinic.db)
    assert row.action == "export" and row.staff_id == owner.staff_id
    assert f"{made.rows} rows" in row.detail and "2 documents" in row.detail
    assert "unencrypted folder" in row.detail


def test_an_existing_empty_folder_is_filled_in_place(clinic, owner, world, tmp_path):
    out = tmp_path / "usb"
    out.mkdir()

    made = export_clinic(clinic.db, owner, out)

    assert made.folder == out and (out / "manifest.json").is_file()
    assert (out / "tables" / "patients.csv").is_file()
    assert not list(out.rglob("*.partial")) and not list(tmp_path.glob("*.partial"))


@pytest.mark.both_backends
def test_the_export_is_one_moment_while_the_desk_writes(clinic, owner, world, tmp_path):
    """A patient added (on another connection) while the export runs is in none of its
    files: every table and the FHIR resources come from the moment it began."""
    before = db_counts(clinic.db)
    added: list[int] = []

    def desk_writes(done, total, what):
        if not added:
            with clinic.db.uow(write=True) as s:
                added.append(add_patient(s, first_name="Late", last_name="Comer").id)

    export_clinic(clinic.db, owner, tmp_path / "out", progress=desk_writes)

    assert added and db_counts(clinic.db)["patients"] == before["patients"] + 1
    files = tree(tmp_path / "out")
    assert len(read_csv(files["tables/patients.csv"])) == before["patients"]
    assert b"Comer" not in files["tables/patients.csv"]
    assert b"Comer" not in files["fhir/Patient.ndjson"]
    assert json.loads(files["manifest.json"])["tables"]["patients"] == before["patients"]


# --- the data dictionary ------------------------------------------------------------------------


def test_the_dictionary_covers_every_table_and_column():
    assert dictionary.missing_meanings(Base.metadata) == []
    entries = list(dictionary.entries(Base.metadata))
    assert len(entries) == sum(len(t.columns) for t in Base.metadata.tables.values())
    by_name = {(e.table, e.column): e for e in entries}
    assert "decimal amount in the clinic's currency" in by_name["charges", "amount"].meaning.lower()
    assert "ISO 8601 UTC" in by_name["appointments", "starts_at"].meaning
    assert "ISO 8601 date" in by_name["charges", "service_date"].meaning
    assert "true/false" in by_name["patients", "may_text"].meaning
    assert "scheduled, confirmed" in by_name["appointments", "status"].meaning
    assert "Refers to patients.id" in by_name["charges", "patient_id"].meaning
    secret = by_name["staff", "password_hash"]
    assert not secret.exported and "secret" in secret.meaning
    assert not by_name["stored_documents", "content"].exported
    rows = list(
        csv.reader(io.StringIO(dictionary.dictionary_csv(Base.metadata).decode("utf-8-sig")))
    )
    assert rows[0] == ["table", "column", "type", "meaning", "exported"]
    assert rows[[r[:2] for r in rows].index(["staff", "password_hash"])][:2] == [
        "staff",
        "password_hash",
    ]
    assert {r[4] for r in rows[1:]} == {"yes", "no"}


def test_a_new_table_or_column_without_a_meaning_fails_the_dictionary():
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    Table("x_rays", metadata, Column("id", Integer, primary_key=True))
    metadata.tables["patients"].append_column(Column("shoe_size", Integer))
    metadata.tables["installments"].append_column(Column("version", Integer))  # a shared meaning

    assert dictionary.missing_meanings(metadata) == [
        "column patients.shoe_size has no meaning",
        "table x_rays has no meaning",
    ]


def test_a_meaning_left_for_a_column_or_table_that_is_gone_fails_too():
    metadata = MetaData()
    Table("rooms", metadata, Column("id", Integer, primary_key=True), Column("colour", String))

    problems = dictionary.missing_meanings(metadata)

    assert "meaning of rooms.name for a column that is not there" in problems
    assert "meaning of table patients that is not there" in problems
    assert "staff.password_hash is listed as not exported but is not there" in problems
    assert not any("rooms.id" in p or "rooms.colour" in p for p in problems)  # shared meanings


# --- the encrypted zip --------------------------------------------------------------------------


def plain_files_holding(folder: Path, marker: bytes) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and marker in path.read_bytes():
                found.append(str(path))
    return found


@pytest.mark.both_backends
def test_the_encrypted_zip_opens_with_its_password_only(
    clinic, owner, world, tmp_path, frozen_clock
):
    frozen_clock(datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    out_folder = tmp_path / "usb"
    out_folder.mkdir()
    out = out_folder / "clinic-export.zip"
    temp = Path(tempfile.gettempdir())
    plain: list[str] = []

    def look_for_plain_files(done, total, what):
        # While it runs, neither the export's folder nor the temporary folder holds a file
        # with a patient's name in the clear.
        plain.extend(plain_files_holding(out_folder, MARKER.encode()))
        plain.extend(plain_files_holding(temp, MARKER.encode()))

    made = export_clinic(clinic.db, owner, out, password=PASSWORD, progress=look_for_plain_files)

    assert plain == []
    assert made.zip_path == out and made.folder is None and made.encrypted
    assert [p.name for p in out_folder.iterdir()] == ["clinic-export.zip"]
    assert made.bytes == out.stat().st_size
    assert MARKER.encode() not in out.read_bytes()
    with pyzipper.AESZipFile(out) as archive:
        with pytest.raises(RuntimeError):
            archive.read("tables/patients.csv")  # no password
        archive.setpassword(b"not-the-password-at-all")
        with pytest.raises(RuntimeError):
            archive.read("tables/patients.csv")
        archive.setpassword(PASSWORD.encode())
        files = {name: archive.read(name) for name in archive.namelist()}
        assert all(info.flag_bits & 0x1 for info in archive.infolist())  # every entry encrypted
        assert {info.date_time[:2] for info in archive.infolist()} == {(2026, 12)}
    manifest = json.loads(files["manifest.json"])
    assert manifest["encrypted"] is True
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for name, facts in manifest["files"].items():
        assert facts["sha256"] == hashlib.sha256(files[name]).hexdigest()
    assert MARKER in files["tables/patients.csv"].decode()
    assert MARKER in files["fhir/Patient.ndjson"].decode()
    scan_id = world["documents"][0]
    assert files[document_path("C-1", scan_id, "x-ray 1.png")] == png_bytes()
    (row,) = audit_rows(clinic.db)
    assert "encrypted zip" in row.detail and PASSWORD not in row.detail


def test_a_weak_zip_password_is_refused(clinic, owner, tmp_path):
    with pytest.raises(WeakPasswordError):
        export_clinic(clinic.db, owner, tmp_path / "x.zip", password="short")
    assert not (tmp_path / "x.zip").exists()


# --- refusals ------------------------------------------------------------------------------------


def test_only_the_owner_exports_the_clinic(clinic, make_staff, tmp_path):
    coordinator = make_staff("casey", "coordinator")

    with pytest.raises(PermissionDeniedError):
        export_clinic(clinic.db, coordinator, tmp_path / "out")
    assert not (tmp_path / "out").exists() and audit_rows(clinic.db) == []


def test_a_folder_with_files_in_it_or_a_file_is_refused(clinic, owner, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "taxes.xlsx").write_bytes(b"mine")
    with pytest.raises(ValidationError, match="not empty"):
        export_clinic(clinic.db, owner, used)
    assert [p.name for p in used.iterdir()] == ["taxes.xlsx"]
    with pytest.raises(ValidationError, match="is a file"):
        export_clinic(clinic.db, owner, used / "taxes.xlsx")
    with pytest.raises(ValidationError, match="already exists"):
        export_clinic(clinic.db, owner, used / "taxes.xlsx", password=PASSWORD)
    with pytest.raises(ValidationError, match="not there"):
        export_clinic(clinic.db, owner, tmp_path / "gone" / "out")
    # What an export cut off by a power failure left is never taken for, or mixed with, a new one.
    (tmp_path / "out.partial").mkdir()
    with pytest.raises(ValidationError, match="in the way"):
        export_clinic(clinic.db, owner, tmp_path / "out")
    (tmp_path / "out.zip.partial").write_bytes(b"PK")
    with pytest.raises(ValidationError, match="in the way"):
        export_clinic(clinic.db, owner, tmp_path / "out.zip", password=PASSWORD)
    assert audit_rows(clinic.db) == []


def test_a_read_only_disk_is_said_and_nothing_is_left(clinic, owner, world, small_disk):
    small_disk.read_only()

    with pytest.raises(ClinicExportError, match="cannot be written to"):
        export_clinic(clinic.db, owner, small_disk.path / "out")
    with pytest.raises(ClinicExportError, match="cannot be written to"):
        export_clinic(clinic.db, owner, small_disk.path / "out.zip", password=PASSWORD)
    assert list(small_disk.path.iterdir()) == [] and audit_rows(clinic.db) == []


@pytest.mark.parametrize("password", [None, PASSWORD])
def test_a_disk_that_fills_up_is_said_and_nothing_is_left(
    clinic, owner, world, small_disk, password
):
    with clinic.db.uow() as s:
        patient_id = s.scalar(select(Patient.id).limit(1))
    # 400 KB of noise (no compression shrinks it): more than the disk holds.
    big = b"%PDF-1.4\n" + os.urandom(400_000)
    add_document(clinic.db, owner, patient_id, "big.pdf", big)

    with pytest.raises(ClinicExportError, match="is full"):
        export_clinic(clinic.db, owner, small_disk.path / "out", password=password)
    assert list(small_disk.path.iterdir()) == [] and audit_rows(clinic.db) == []


# --- cancel -------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [None, PASSWORD])
def test_a_cancel_midway_leaves_nothing(clinic, owner, world, tmp_path, password):
    disk = tmp_path / "usb"
    disk.mkdir()
    out = disk / ("out.zip" if password else "out")
    calls: list[str] = []

    def cancel_at_the_documents() -> bool:
        return any(what == "tables/patients.csv" for what in calls)

    with pytest.raises(ExportCanceledError, match="canceled"):
        export_clinic(
            clinic.db, owner, out, password=password,
            progress=lambda done, total, what: calls.append(what),
            cancelled=cancel_at_the_documents,
        )  # fmt: skip

    assert any(what.startswith("fhir") or what == "FHIR resources" for what in calls)
    assert list(disk.iterdir()) == [] and audit_rows(clinic.db) == []


def test_a_cancel_in_an_existing_folder_empties_it_again(clinic, owner, world, tmp_path):
    out = tmp_path / "usb"
    out.mkdir()
    seen: list[str] = []

    with pytest.raises(ExportCanceledError):
        export_clinic(
            clinic.db, owner, out,
            progress=lambda done, total, what: seen.append(what),
            cancelled=lambda: "tables/charges.csv" in seen,
        )  # fmt: skip

    assert out.is_dir() and list(out.iterdir()) == []


def test_what_an_encrypted_export_keeps_aside_is_encrypted_on_disk():
    """The FHIR files of a zip export wait in temporary files (their types come
    interleaved, a zip takes one entry at a time): those hold the bytes encrypted."""
    from app.services.exports.clinic import _Hashed, _Spool

    spool = _Spool()
    line = f'{{"resourceType":"Patient","name":[{{"family":"{MARKER}"}}]}}\n'.encode()
    for _ in range(40_000):  # past the spool's buffer: most of it is on disk
        spool.write(line)
    spool._flush()
    spool._file.seek(0)
    on_disk = spool._file.read()
    copied = io.BytesIO()
    spool.copy_to(_Hashed(copied))
    spool.close()

    assert len(on_disk) == len(line) * 40_000 and MARKER.encode() not in on_disk
    assert copied.getvalue() == line * 40_000
