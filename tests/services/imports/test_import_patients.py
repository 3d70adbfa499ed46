"""Importing patients: what the dry run says of each row, what the import stores, and the bad
files of issue 22 (a chart number twice, a formula for a name, dates that read two ways)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.imports import ImportedRow, ImportKind
from app.data.models.patients import Patient
from app.services.clinic.audit_log import verify_chain
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.imports import batches
from app.services.patients.search import search_patients
from tests.data.factories import add_patient
from tests.services.imports.builders import import_request, row_counts

FORMULA = '=HYPERLINK("http://x","click")'


@pytest.fixture
def on_file(clinic) -> dict[str, int]:
    """Two patients already in CareDesk: one the file updates by chart number, one it repeats."""
    with clinic.db.uow() as session:
        lopez = add_patient(
            session,
            chart_number="C100",
            first_name="María",
            last_name="López",
            date_of_birth=date(1980, 5, 17),
            mobile_phone="+12075550101",
            city="Portland",
            email="maria@example.com",
        )
        ana = add_patient(
            session,
            chart_number="P000007",
            first_name="Ana",
            last_name="Example",
            date_of_birth=date(1990, 1, 1),
        )
        return {"lopez": lopez.id, "ana": ana.id}


def _patient(clinic, chart: str) -> Patient:
    with clinic.db.uow() as session:
        patient = session.scalars(select(Patient).where(Patient.chart_number == chart)).one()
        session.expunge(patient)
        return patient


ROWS = [
    # 2: new, no chart number.
    {"full_name": "Nguyễn, Zoë", "date_of_birth": "1980-03-14", "mobile_phone": "(207) 555-0142"},
    # 3: chart number on file: updated.
    {"chart_number": "C100", "email": "Maria.Lopez@Example.com"},
    # 4: the same person as a patient on file, another chart number: skipped.
    {
        "chart_number": "X9",
        "first_name": "Ana",
        "last_name": "Example",
        "date_of_birth": "1990-01-01",
    },
    # 5: repeats line 2 (written "First Last"): skipped.
    {"full_name": "Zoë Nguyễn", "date_of_birth": "1980-03-14"},
    # 6, 7: values that cannot be stored.
    {"first_name": "Bo", "last_name": "Bad", "email": "bo.example.com"},
    {"first_name": "Future", "last_name": "Child", "date_of_birth": "2099-01-01"},
    # 8: not a patient in the old system.
    {"first_name": "Gus", "last_name": "Guarantor", "status": "Non-patient"},
    # 9: a date that reads two ways, and no order chosen.
    {"first_name": "Dee", "last_name": "Ambiguous", "date_of_birth": "03/04/1981"},
    # 10: a family member sharing line 2's phone: a patient of their own.
    {"first_name": "Tom", "last_name": "Nguyễn", "mobile_phone": "207-555-0142"},
    # 11: a chart number of the old system's own.
    {"chart_number": "OD-55", "first_name": "Ken", "last_name": "Ōtsuka", "sex": "M"},
]


def test_the_dry_run_says_what_each_row_would_do_and_why(clinic, owner, on_file):
    before = row_counts(clinic.db, Patient.__table__)

    preview = batches.dry_run(clinic.db, owner, import_request(ImportKind.PATIENTS, ROWS))

    assert preview.summary() == (
        "3 patients will be created, 1 updated, 3 skipped; 3 rows cannot be imported."
    )
    assert {r.line: r.reason for r in preview.skipped_rows} == {
        4: "Already in CareDesk as Example, Ana (chart P000007): same name and date of birth.",
        5: "Repeats line 2 of the file: same name and date of birth.",
        8: "not a patient in Open Dental (a guarantor or contact only)",
    }
    reasons = {r.line: r.reason for r in preview.rejects}
    assert reasons[6].startswith("E-mail:")
    assert reasons[7] == "Date of birth cannot be in the future."
    assert reasons[9] == (
        "Date of birth: “03/04/1981” could be month first or day first: choose the date order "
        "of this file."
    )
    assert preview.date_order_needed
    # Each refused row keeps its cells as the file had them (for the rejects file).
    assert preview.rejects[0].cells == ("", "", "", "", "bo.example.com", "Bo", "Bad", "", "")
    assert row_counts(clinic.db, Patient.__table__) == before


def test_a_date_order_chosen_reads_the_ambiguous_dates(clinic, owner, on_file):
    request = replace(import_request(ImportKind.PATIENTS, ROWS), date_order="DMY")

    preview = batches.dry_run(clinic.db, owner, request)

    assert not preview.date_order_needed
    assert 9 not in {r.line for r in preview.rejects}
    assert preview.created == 4


def test_the_import_stores_what_the_dry_run_said(clinic, owner, on_file):
    request = replace(import_request(ImportKind.PATIENTS, ROWS), date_order="MDY")

    outcome = batches.run_import(clinic.db, owner, request, skip_rejects=True)

    assert (outcome.created, outcome.updated, outcome.skipped, outcome.rejected) == (4, 1, 3, 2)
    assert outcome.changes.patients and outcome.changes.clinic and outcome.changes.audit
    zoe = _patient(clinic, "P000008")  # after the highest P-number on file
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "Nguyễn")
    assert zoe.date_of_birth == date(1980, 3, 14)
    assert zoe.mobile_phone == "+12075550142"
    assert zoe.journey_stage == "follow_up" and zoe.is_active
    dee = _patient(clinic, "P000009")
    assert dee.date_of_birth == date(1981, 3, 4)  # month first, as chosen
    tom = _patient(clinic, "P000010")
    assert (tom.first_name, tom.mobile_phone) == ("Tom", "+12075550142")
    ken = _patient(clinic, "OD-55")
    assert (ken.last_name, ken.sex) == ("Ōtsuka", "male")
    lopez = _patient(clinic, "C100")
    assert lopez.email == "maria.lopez@example.com"
    assert lopez.city == "Portland"  # not in the file: kept
    assert lopez.version == 2
    # The search finds them without their accents, by phone and by chart number.
    assert {h.chart_number for h in search_patients(clinic.db, owner, "nguyen")} == {
        "P000008",
        "P000010",
    }
    assert [h.chart_number for h in search_patients(clinic.db, owner, "otsuka")] == ["OD-55"]
    assert {h.chart_number for h in search_patients(clinic.db, owner, "207 555 0142")} == {
        "P000008",
        "P000010",
    }
    assert [h.first_name for h in search_patients(clinic.db, owner, "maria.lopez@")] == ["María"]


def test_an_update_keeps_what_it_replaced_and_never_blanks_a_field(clinic, owner, on_file):
    rows = [{"chart_number": "C100", "city": "", "email": "new@example.com", "may_text": "yes"}]

    outcome = batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, rows))

    lopez = _patient(clinic, "C100")
    assert (lopez.city, lopez.email, lopez.may_text) == ("Portland", "new@example.com", True)
    with clinic.db.uow() as session:
        kept = session.scalars(
            select(ImportedRow).where(ImportedRow.batch_id == outcome.batch_id)
        ).one()
        assert (kept.table_name, kept.row_id, kept.action, kept.line) == (
            "patients",
            on_file["lopez"],
            "updated",
            2,
        )
        before = json.loads(kept.before)
    assert before["email"] == "maria@example.com"
    assert before["may_text"] is False
    assert "city" not in before


def test_the_same_file_again_changes_nothing(clinic, owner, on_file):
    request = replace(import_request(ImportKind.PATIENTS, ROWS), date_order="MDY")
    batches.run_import(clinic.db, owner, request, skip_rejects=True)

    again = batches.dry_run(clinic.db, owner, request)

    assert (again.created, again.updated) == (0, 0)
    assert again.skipped == 8


def test_a_chart_number_twice_in_the_file_refuses_every_row_with_it(clinic, owner, on_file):
    rows = [
        {"chart_number": "1234", "first_name": "Ann", "last_name": "One"},
        {"chart_number": "77", "first_name": "Ben", "last_name": "Two"},
        {"chart_number": "1234", "first_name": "Cy", "last_name": "Three"},
    ]
    request = import_request(ImportKind.PATIENTS, rows)
    before = row_counts(clinic.db, Patient.__table__)

    preview = batches.dry_run(clinic.db, owner, request)
    with pytest.raises(ValidationError) as refused:
        batches.run_import(clinic.db, owner, request)

    assert {r.line: r.reason for r in preview.rejects} == {
        2: "Chart number 1234 is also on line 4: each chart number may be in the file once.",
        4: "Chart number 1234 is also on line 2: each chart number may be in the file once.",
    }
    assert preview.created == 1
    assert str(refused.value) == (
        "2 rows cannot be imported. Line 2: Chart number 1234 is also on line 4: each chart "
        "number may be in the file once. Line 4: Chart number 1234 is also on line 2: each chart "
        "number may be in the file once. Nothing was imported: correct the file, or import it "
        "leaving those rows out."
    )
    assert row_counts(clinic.db, Patient.__table__) == before


def test_a_formula_for_a_name_is_kept_as_text_and_escaped_in_the_rejects_file(clinic, owner):
    """Inside CareDesk it is only text; in the rejects file a spreadsheet must not run it."""
    rows = [
        {"chart_number": "F1", "first_name": FORMULA, "last_name": "Smith"},
        {"chart_number": "F2", "first_name": "+1 cell", "last_name": FORMULA, "email": "bad"},
    ]
    request = import_request(ImportKind.PATIENTS, rows)

    batches.run_import(clinic.db, owner, request, skip_rejects=True)
    preview_rejects = [r for r in batches.dry_run(clinic.db, owner, request).rejects]
    data = batches.rejects_csv(request, preview_rejects)

    assert _patient(clinic, "F1").first_name == FORMULA
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == [
        "chart_number",
        "first_name",
        "last_name",
        "email",
        "Line",
        "Why it was not imported",
    ]
    assert table[1][:4] == ["F2", "'+1 cell", "'" + FORMULA, "bad"]
    assert table[1][4] == "3"
    assert table[1][5].startswith("E-mail:")

    # Corrected in the rejects file and imported from it with the same mapping: the names
    # come back as the first file had them, not with the apostrophes.
    corrected = dict(zip(table[0][:4], table[1][:4], strict=True)) | {"email": "f2@example.com"}
    batches.run_import(clinic.db, owner, import_request(ImportKind.PATIENTS, [corrected]))
    f2 = _patient(clinic, "F2")
    assert (f2.first_name, f2.last_name) == ("+1 cell", FORMULA)


def test_statuses_of_the_old_system(clinic, owner):
    rows = [
        {"chart_number": "S1", "first_name": "A", "last_name": "Active", "status": "Active"},
        {"chart_number": "S2", "first_name": "I", "last_name": "Inactive", "status": "inactive"},
        {"chart_number": "S3", "first_name": "R", "last_name": "Archived", "status": "3"},
        {
            "chart_number": "S4",
            "first_name": "D",
            "last_name": "Deceased",
            "status": "Deceased",
            "deceased_on": "2021-06-01",
        },
        {"chart_number": "S5", "first_name": "P", "last_name": "Prospect", "status": "Prospective"},
        {"chart_number": "S6", "first_name": "X", "last_name": "Deleted", "status": "4"},
        {"chart_number": "S7", "first_name": "Q", "last_name": "Odd", "status": "sleeping"},
    ]
    request = import_request(ImportKind.PATIENTS, rows)

    preview = batches.run_import(clinic.db, owner, request, skip_rejects=True)

    states = {}
    for chart in ("S1", "S2", "S3", "S4", "S5"):
        p = _patient(clinic, chart)
        states[chart] = (p.is_active, p.journey_stage, p.journey_reason, p.deceased_on)
    assert states == {
        "S1": (True, "follow_up", "", None),
        "S2": (False, "inactive", "Inactive in Open Dental", None),
        "S3": (False, "inactive", "Archived in Open Dental", None),
        "S4": (False, "inactive", "Deceased", date(2021, 6, 1)),
        "S5": (True, "inquiry", "", None),
    }
    assert (preview.created, preview.skipped, preview.rejected) == (5, 1, 1)


def test_only_the_owner_imports(clinic, owner, make_staff):
    desk = make_staff("desk", "receptionist")
    request = import_request(ImportKind.PATIENTS, ROWS)

    with pytest.raises(PermissionDeniedError):
        batches.dry_run(clinic.db, desk, request)
    with pytest.raises(PermissionDeniedError):
        batches.run_import(clinic.db, desk, request, skip_rejects=True)


def test_an_import_is_one_audit_row_with_its_counts_and_the_chain_holds(clinic, owner, on_file):
    with clinic.db.uow() as session:
        first_new = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) + 1
    request = replace(import_request(ImportKind.PATIENTS, ROWS), date_order="MDY")

    outcome = batches.run_import(clinic.db, owner, request, skip_rejects=True)

    with clinic.db.uow() as session:
        written = session.execute(
            select(
                AuditEntry.action, AuditEntry.entity, AuditEntry.entity_id, AuditEntry.detail
            ).where(AuditEntry.id >= first_new)
        ).all()
    assert written == [
        (
            "imported",
            "import_batches",
            outcome.batch_id,
            "patients from Open Dental (patients.csv): 4 created, 1 updated, 3 skipped, 2 left out",
        )
    ]
    assert verify_chain(clinic.db).ok
