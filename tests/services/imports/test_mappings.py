"""Column mappings: each system's export recognized from its headers, synonyms for the rest,
what keeps a mapping from being used, the CLI's JSON mapping, and the mapping remembered per
source in the clinic's database."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from app.data.models.imports import ImportKind, ImportMapping
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.imports.mappings import (
    FIELDS,
    GENERIC,
    KNOWN_HEADERS,
    PRESETS,
    SOURCES,
    ColumnMapping,
    detect_source,
    guess_mapping,
    mapped_rows,
    mapping_from_json,
    mapping_to_json,
    remember_mapping,
    remembered_mapping,
)
from app.services.imports.sources import SourceFile, read_source, read_source_bytes

SAMPLES = Path(__file__).parent / "samples"
PATIENTS = ImportKind.PATIENTS.value
APPOINTMENTS = ImportKind.APPOINTMENTS.value
BALANCES = ImportKind.BALANCES.value
CONTACTS = ImportKind.CONTACTS.value


def sample(name: str) -> SourceFile:
    return read_source(SAMPLES / name, known_headers=KNOWN_HEADERS)


def csv_file(text: str) -> SourceFile:
    return read_source_bytes(text.encode(), "file.csv", known_headers=KNOWN_HEADERS)


def by_header(source: SourceFile, mapping: ColumnMapping) -> dict[str, str]:
    return {source.headers[index]: name for index, name in mapping.columns.items()}


def mapping(kind: str, source: SourceFile, **columns: str) -> ColumnMapping:
    """A mapping by header text: mapping(PATIENTS, f, **{"Last Name": "last_name"})."""
    return ColumnMapping(
        source=GENERIC,
        kind=kind,
        columns={source.headers.index(header): name for header, name in columns.items()},
    )


# --- presets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "system"),
    [
        ("open_dental_patients.csv", PATIENTS, "Open Dental"),
        ("open_dental_appointments.txt", APPOINTMENTS, "Open Dental"),
        ("dentrix_patients.csv", PATIENTS, "Dentrix"),
        ("dentrix_appointments.csv", APPOINTMENTS, "Dentrix"),
        ("jane_patients.csv", PATIENTS, "Jane"),
        ("jane_appointments.csv", APPOINTMENTS, "Jane"),
    ],
)
def test_each_systems_export_is_recognized_and_mapped_without_problems(name, kind, system):
    source = sample(name)

    guessed = guess_mapping(kind, source)

    assert detect_source(kind, source.headers) == system
    assert guessed.source == system
    assert guessed.problems(source.headers, source.rows) == []
    # Every header of the system's preset that the file has is read.
    preset_keys = {header for header in PRESETS[system][kind]}
    assert {h for h in source.headers if h in preset_keys} <= set(by_header(source, guessed))


def test_open_dental_patients_are_charted_by_patnum_so_their_appointments_find_them():
    patients = sample("open_dental_patients.csv")
    appointments = sample("open_dental_appointments.txt")

    patient_map = guess_mapping(PATIENTS, patients)
    appointment_map = guess_mapping(APPOINTMENTS, appointments)

    assert by_header(patients, patient_map)["PatNum"] == "chart_number"
    assert "ChartNumber" not in by_header(patients, patient_map)
    charts = {row.values["chart_number"] for row in mapped_rows(patients, patient_map)}
    booked = mapped_rows(appointments, appointment_map)
    wanted = {row.values["patient_chart_number"] for row in booked}
    assert wanted == charts == {"101", "102"}


def test_open_dental_appointments_take_date_and_time_from_one_cell():
    appointments = sample("open_dental_appointments.txt")

    guessed = guess_mapping(APPOINTMENTS, appointments)
    first = mapped_rows(appointments, guessed)[0]

    assert first.values["date"] == "2026-01-12 08:30:00"
    assert "start_time" not in first.values
    assert first.values["duration"] == "//XXXX//"
    assert first.values["source_id"] == "5001"
    assert first.line == 2


def test_a_file_made_from_the_field_labels_is_mapped_as_the_generic_one():
    for name, kind in [
        ("generic_patients.csv", PATIENTS),
        ("generic_appointments.csv", APPOINTMENTS),
        ("generic_balances.csv", BALANCES),
        ("generic_contacts.csv", CONTACTS),
    ]:
        source = sample(name)
        guessed = guess_mapping(kind, source)

        assert guessed.source == GENERIC
        assert len(guessed.columns) == len(source.headers), name
        assert guessed.problems(source.headers, source.rows) == [], name


def test_the_generic_balances_preset_reads_chart_number_balance_and_as_of():
    source = sample("generic_balances.csv")

    rows = mapped_rows(source, guess_mapping(BALANCES, source))

    assert rows[1].values == {
        "patient_chart_number": "101",
        "balance": "(20.00)",
        "as_of": "2025-12-31",
        "note": "Credit",
    }


def test_a_jane_export_saved_as_a_workbook_is_recognized_too():
    book = openpyxl.Workbook()
    book.active.title = "Patient List"
    jane_headers = "Patient Number,First Name,Last Name,Preferred Name,Birth Date,Sex,Email"
    book.active.append([*jane_headers.split(","), "Mobile Phone", "City", "Province"])
    book.active.append([7, "Chloé", "Fakename", None, date(1979, 6, 15), "Female"])
    buffer = io.BytesIO()
    book.save(buffer)
    source = read_source_bytes(buffer.getvalue(), "patients.xlsx", known_headers=KNOWN_HEADERS)

    guessed = guess_mapping(PATIENTS, source)
    (row,) = mapped_rows(source, guessed)

    assert guessed.source == "Jane"
    assert (row.values["chart_number"], row.values["date_of_birth"]) == ("7", "1979-06-15")


def test_headers_of_no_system_recognize_none():
    assert detect_source(PATIENTS, ("Favorite color", "Shoe size", "City")) is None
    assert detect_source(APPOINTMENTS, ()) is None


def test_every_source_has_a_patient_and_an_appointment_preset_of_known_fields():
    assert SOURCES == ("Open Dental", "Dentrix", "Jane", "Generic CSV")
    for system in SOURCES:
        for kind in (PATIENTS, APPOINTMENTS):
            names = {spec.name for spec in FIELDS[kind]}
            assert set(PRESETS[system][kind].values()) <= names, (system, kind)


# --- guessing ----------------------------------------------------------------------------------


def test_synonyms_fill_the_columns_whatever_their_case_spacing_or_punctuation():
    source = csv_file(
        "Patient ID,SURNAME,given_name,D.O.B.,Cell,E-mail Address,ZIP-code,Favorite color\n"
        "9,Testperson,Ada,1984-02-29,512-555-0100,ada@example.com,78701,green\n"
    )

    guessed = guess_mapping(PATIENTS, source)

    assert guessed.source == GENERIC
    assert by_header(source, guessed) == {
        "Patient ID": "chart_number",
        "SURNAME": "last_name",
        "given_name": "first_name",
        "D.O.B.": "date_of_birth",
        "Cell": "mobile_phone",
        "E-mail Address": "email",
        "ZIP-code": "postal_code",
    }


def test_a_named_source_is_kept_and_its_preset_comes_before_the_synonyms():
    source = csv_file("Name,Last Name,First Name,Phone,Home Phone\nA B,B,A,1,2\n")

    guessed = guess_mapping(PATIENTS, source, source="Dentrix")
    own = guess_mapping(PATIENTS, source, source="Our old spreadsheet")

    # Dentrix's "Home Phone" takes home phone before the synonym "Phone" could; with first
    # and last name mapped, "Name" is left out rather than disagree with them.
    assert by_header(source, guessed) == {
        "Last Name": "last_name",
        "First Name": "first_name",
        "Home Phone": "home_phone",
    }
    assert own.source == "Our old spreadsheet"
    assert by_header(source, own)["Phone"] == "home_phone"


def test_a_contact_file_uses_the_contacts_import_header_words():
    source = csv_file("Type,Company,Contact Name,Telephone,Fax Number,ZIP\nlab,X Lab,,1,2,3\n")

    guessed = guess_mapping(CONTACTS, source)

    assert by_header(source, guessed) == {
        "Type": "kind",
        "Company": "organization",
        "Contact Name": "name",
        "Telephone": "phone",
        "Fax Number": "fax",
        "ZIP": "postal_code",
    }


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError) as refused:
        guess_mapping("invoices", csv_file("A\nb\n"))

    assert str(refused.value) == "“invoices” is not a kind of import."


# --- problems ----------------------------------------------------------------------------------


def test_a_patient_mapping_without_a_name_says_how_to_give_one():
    source = csv_file("Last Name,First Name,Full Name,City\nB,A,A B,Austin\n")

    nothing = mapping(PATIENTS, source, City="city")
    half = mapping(PATIENTS, source, **{"First Name": "first_name"})
    full = mapping(PATIENTS, source, **{"Full Name": "full_name"})

    assert nothing.problems(source.headers) == [
        "No column gives the patient's name: map one to First name and one to Last name, or "
        "one to Full name."
    ]
    assert half.problems(source.headers) == [
        "Map a column to Last name too (or one to Full name instead of both)."
    ]
    assert full.problems(source.headers) == []


def test_two_columns_on_one_field_are_named():
    source = csv_file("Last Name,First Name,Phone,Home Phone,Tel\nB,A,1,2,3\n")

    two = mapping(
        PATIENTS,
        source,
        **{"Last Name": "last_name", "First Name": "first_name"},
        **{"Phone": "home_phone", "Home Phone": "home_phone"},
    )
    three = ColumnMapping(GENERIC, PATIENTS, {**two.columns, 4: "home_phone"})

    assert two.problems(source.headers) == [
        "Two columns, “Phone” and “Home Phone”, are both mapped to Home phone: keep one of them."
    ]
    assert three.problems(source.headers) == [
        "The columns “Phone”, “Home Phone” and “Tel” are all mapped to Home phone: keep one of "
        "them."
    ]


def test_required_appointment_fields_unknown_fields_and_missing_columns_are_named():
    source = csv_file("Chart,When,Who\n5,2026-01-12 09:00,Dr X\n")

    problems = ColumnMapping(
        GENERIC, APPOINTMENTS, {0: "patient_chart_number", 1: "date", 2: "mood", 7: "room"}
    ).problems(source.headers, source.rows)

    assert problems == [
        "“mood” is not a field an appointment import fills.",
        "Column 8 is mapped to Room, but the file has 3 columns.",
        "No column is mapped to Provider: every appointment needs one.",
    ]


def test_a_date_column_without_times_asks_for_a_start_time():
    source = csv_file("Chart,Day,At,Provider\n5,2026-01-12,9:00 AM,Dr X\n6,2026-01-13,,Dr Y\n")
    without_time = ColumnMapping(
        GENERIC, APPOINTMENTS, {0: "patient_chart_number", 1: "date", 3: "provider"}
    )
    with_time = ColumnMapping(GENERIC, APPOINTMENTS, {**without_time.columns, 2: "start_time"})

    assert without_time.problems(source.headers, source.rows) == [
        "The date column “Day” holds no time of day: map a column to Start time."
    ]
    # Without the rows there is nothing to judge by; with Start time mapped, nothing to ask.
    assert without_time.problems(source.headers) == []
    assert with_time.problems(source.headers, source.rows) == []


def test_balances_and_contacts_name_what_they_need():
    source = csv_file("Chart,Amount,Company\n5,10,X\n")

    assert ColumnMapping(GENERIC, BALANCES, {0: "patient_chart_number"}).problems(
        source.headers
    ) == ["No column is mapped to Balance: every balance needs one."]
    assert ColumnMapping(GENERIC, CONTACTS, {0: "notes"}).problems(source.headers) == [
        "No column gives the contact's name: map one to Organization or to Name."
    ]
    assert ColumnMapping(GENERIC, CONTACTS, {2: "organization"}).problems(source.headers) == []


# --- mapped rows ---------------------------------------------------------------------------------


def test_mapped_rows_carry_each_fields_cell_the_line_and_the_whole_row():
    source = csv_file("Last Name,First Name,City\nTestperson,Ada,Austin\n\nExampleton\n")
    chosen = mapping(PATIENTS, source, **{"First Name": "first_name", "City": "city"})

    rows = mapped_rows(source, chosen)

    assert [(row.line, dict(row.values), row.cells) for row in rows] == [
        (2, {"first_name": "Ada", "city": "Austin"}, ("Testperson", "Ada", "Austin")),
        # A row shorter than the header reads its missing cells as empty.
        (4, {"first_name": "", "city": ""}, ("Exampleton",)),
    ]


# --- JSON ----------------------------------------------------------------------------------------


def test_a_mapping_goes_to_json_and_back_unchanged():
    source = sample("dentrix_appointments.csv")
    guessed = guess_mapping(APPOINTMENTS, source)
    chosen = ColumnMapping(guessed.source, APPOINTMENTS, guessed.columns, date_order="MDY")

    text = mapping_to_json(chosen, source.headers)
    back = mapping_from_json(text, source, APPOINTMENTS)

    assert json.loads(text)["columns"]["Appt Length"] == "duration"
    assert back == chosen


def test_a_json_mapping_names_columns_by_header_or_number_and_fields_by_name_or_label():
    source = sample("generic_patients.csv")
    text = json.dumps(
        {
            "source": "Our old spreadsheet",
            "columns": {"chart number": "chart_number", "2": "Full name", "E-mail": ""},
            "date_order": "DMY",
        }
    )

    read = mapping_from_json(text.encode(), source, "patients")

    assert read == ColumnMapping(
        "Our old spreadsheet", PATIENTS, {0: "chart_number", 1: "full_name"}, "DMY"
    )


@pytest.mark.parametrize(
    ("document", "said"),
    [
        ('{"columns": {"Chart number": "chart_number",}}', "is not valid JSON (line 1, column"),
        ('["Chart number"]', 'must hold an object with "columns"'),
        (
            '{"columns": {"Chart #": "chart_number"}}',
            "names a column “Chart #” that the file does not have (its columns: “Chart number”",
        ),
        ('{"columns": {"9": "email"}}', "names column 9, but the file has 7 columns."),
        (
            '{"columns": {"Status": "mood"}}',
            "puts the column “Status” in “mood”, which is not a field of a patient import",
        ),
        (
            '{"columns": {"Status": "status", "7": "status"}}',
            "names the column “Status” twice: keep one of them.",
        ),
        (
            '{"kind": "appointments", "columns": {}}',
            "is for appointments imports, not patients",
        ),
        ('{"columns": {}, "date_order": "DDMMYY"}', "must be one of MDY, DMY, YMD, not “DDMMYY”"),
        ('{"source": "", "columns": {}}', 'The mapping\'s "source" must be the name'),
    ],
)
def test_a_bad_json_mapping_says_what_is_wrong(document, said):
    with pytest.raises(ValidationError) as refused:
        mapping_from_json(document, sample("generic_patients.csv"), PATIENTS)

    assert said in str(refused.value)
    assert refused.value.field == "mapping"


# --- remembered per source -----------------------------------------------------------------------


def test_a_remembered_mapping_is_offered_for_the_next_file_by_its_headers(clinic, owner):
    first = sample("dentrix_patients.csv")
    guessed = guess_mapping(PATIENTS, first)
    chosen = ColumnMapping("Dentrix", PATIENTS, guessed.columns, date_order="MDY")
    # The next export from the same system: columns in another order, one of them gone.
    later = csv_file(
        "Zip,First Name,Last Name,Chart Number,Birth Date,Shoe Size\n"
        "78703,René,Sample,DX1001,03/04/1975,9\n"
    )

    assert remembered_mapping(clinic.db, owner, "Dentrix", PATIENTS, later) is None
    remember_mapping(clinic.db, owner, chosen, first.headers)
    offered = remembered_mapping(clinic.db, owner, "Dentrix", PATIENTS, later)

    assert offered is not None
    assert (offered.source, offered.kind, offered.date_order) == ("Dentrix", PATIENTS, "MDY")
    assert by_header(later, offered) == {
        "Zip": "postal_code",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Chart Number": "chart_number",
        "Birth Date": "date_of_birth",
    }
    assert remembered_mapping(clinic.db, owner, "Dentrix", APPOINTMENTS, later) is None
    assert remembered_mapping(clinic.db, owner, "Jane", PATIENTS, later) is None


def test_remembering_again_replaces_the_mapping_kept_for_that_source(clinic, owner):
    source = sample("jane_patients.csv")
    guessed = guess_mapping(PATIENTS, source)
    fewer = ColumnMapping(
        "Jane",
        PATIENTS,
        {i: n for i, n in guessed.columns.items() if n in ("first_name", "last_name")},
    )

    remember_mapping(clinic.db, owner, guessed, source.headers)
    remember_mapping(clinic.db, owner, fewer, source.headers)

    with clinic.db.uow() as session:
        kept = session.execute(select(ImportMapping)).scalars().all()
        assert [(row.source, row.kind) for row in kept] == [("Jane", PATIENTS)]
        assert json.loads(kept[0].columns) == {"First Name": "first_name", "Last Name": "last_name"}
        assert json.loads(kept[0].options) == {"date_order": None}
        assert session.scalar(select(func.count()).select_from(ImportMapping)) == 1
    assert remembered_mapping(clinic.db, owner, "Jane", PATIENTS, source) == fewer


def test_a_receptionist_may_not_remember_or_read_a_mapping(clinic, owner, make_staff):
    receptionist = make_staff("rita", "receptionist")
    source = sample("generic_balances.csv")
    guessed = guess_mapping(BALANCES, source)

    with pytest.raises(PermissionDeniedError):
        remember_mapping(clinic.db, receptionist, guessed, source.headers)
    with pytest.raises(PermissionDeniedError):
        remembered_mapping(clinic.db, receptionist, GENERIC, BALANCES, source)
    with clinic.db.uow() as session:
        assert session.scalar(select(func.count()).select_from(ImportMapping)) == 0


def test_a_mapping_needs_a_source_name_to_be_remembered(clinic, owner):
    source = sample("generic_balances.csv")
    nameless = ColumnMapping("  ", BALANCES, guess_mapping(BALANCES, source).columns)

    with pytest.raises(ValidationError, match="Name the system the file came from"):
        remember_mapping(clinic.db, owner, nameless, source.headers)


def test_every_reader_knows_the_header_words_once_mappings_are_loaded():
    data = b"Last Name,,City\nTestperson,x,Austin\n"

    by_default = read_source_bytes(data, "patients.csv")
    without_words = read_source_bytes(data, "patients.csv", known_headers=())

    # An unnamed column between two known header words: still a header.
    assert by_default.has_header
    assert by_default.headers == ("Last Name", "Column 2", "City")
    assert not without_words.has_header
    assert {"dob", "patnum", "apptlength", "staffmember", "organisation"} <= KNOWN_HEADERS


@pytest.mark.parametrize(
    ("births", "expected"),
    [
        (["1980-02-03", "13/04/1990"], None),  # ISO, and a day that can only be day-first
        (["13/04/1990", "03/04/2020"], "03/04/2020"),  # the first one that reads two ways
        (["", "not a date"], None),  # left to the row checks, which name them
    ],
)
def test_the_date_order_is_asked_only_when_a_mapped_date_reads_two_ways(births, expected):
    from app.services.imports.mappings import ambiguous_date, date_columns

    rows = "".join(f"Lee,Ann,{born},03/04/2020\n" for born in births)
    source = csv_file("Last name,First name,Date of birth,Notes\n" + rows)
    mapping = guess_mapping(ImportKind.PATIENTS.value, source)
    # The Notes column holds a date-like text too, but it is no date field: never asked about.
    assert date_columns(mapping) == (2,)
    assert ambiguous_date(source, date_columns(mapping), today=date(2026, 12, 7)) == expected
