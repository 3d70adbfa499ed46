"""Reading an import file: CSV in its encodings and separators, XLSX, and each file that
cannot be read refused with the sentence the user reads (nothing read half)."""

from __future__ import annotations

import codecs
import hashlib
import io
import tracemalloc
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from app.services.imports import sources
from app.services.imports.mappings import KNOWN_HEADERS
from app.services.imports.sources import (
    ImportFileError,
    SourceFile,
    read_source,
    read_source_bytes,
)

SAMPLES = Path(__file__).parent / "samples"


def read(data: bytes, name: str = "patients.csv", **options) -> SourceFile:
    return read_source_bytes(data, name, known_headers=KNOWN_HEADERS, **options)


def refusal(data: bytes, **options) -> str:
    with pytest.raises(ImportFileError) as refused:
        read(data, **options)
    assert refused.value.field == "file"
    return str(refused.value)


def cells(source: SourceFile) -> list[tuple[int, tuple[str, ...]]]:
    return [(row.line, row.cells) for row in source.rows]


def workbook_bytes(build) -> bytes:
    book = openpyxl.Workbook()
    build(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return buffer.getvalue()


# --- files that cannot be read ----------------------------------------------------------------


def test_an_empty_file_is_refused_as_empty(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_bytes(b"")

    with pytest.raises(ImportFileError) as refused:
        read_source(path)

    assert str(refused.value) == (
        "The file is empty (0 bytes): export the data from your previous system again and "
        "choose that file."
    )


def test_a_picture_renamed_csv_is_not_a_csv_text_file(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_bytes(png_bytes())

    with pytest.raises(ImportFileError) as refused:
        read_source(path)

    assert str(refused.value).startswith("This is not a CSV text file (it holds binary data")


def test_binary_data_without_nul_bytes_is_not_text_either():
    noise = bytes(range(1, 9)) * 200 + b"\x0e\x0f\x10\x11" * 300

    assert refusal(noise).startswith("This is not a CSV text file")


def test_an_xlsx_renamed_csv_is_read_as_the_workbook_it_is(tmp_path):
    def build(book):
        book.active.append(["Last Name", "First Name"])
        book.active.append(["Testperson", "Ada"])

    path = tmp_path / "patients.csv"
    path.write_bytes(workbook_bytes(build))

    source = read_source(path, known_headers=KNOWN_HEADERS)

    assert (source.format, source.encoding, source.delimiter) == ("XLSX", "XLSX", "")
    assert source.headers == ("Last Name", "First Name")
    assert cells(source) == [(2, ("Testperson", "Ada"))]
    assert source.name == "patients.csv"


def test_an_old_excel_workbook_is_refused_with_what_to_save_it_as():
    old_xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "Workbook".encode("utf-16-le")

    assert refusal(old_xls) == (
        "This is an old Excel workbook (.xls) or another old Office file: open it in Excel, "
        "save it as .xlsx or CSV, and import that."
    )


def test_a_password_protected_workbook_is_refused_as_protected():
    encrypted = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(504)
        + "EncryptionInfo".encode("utf-16-le")
        + bytes(64)
        + "EncryptedPackage".encode("utf-16-le")
    )

    assert refusal(encrypted).startswith("The workbook is protected with a password")


def test_a_file_over_the_limit_is_refused_from_its_size_before_it_is_read(tmp_path):
    path = tmp_path / "appointments.csv"
    with path.open("wb") as sparse:
        sparse.truncate(150 * 1024 * 1024)  # no 150 MB written: a hole the size of it

    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as refused:
            read_source(path)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert str(refused.value) == (
        "The file is 150 MB; CareDesk imports files of up to 100 MB: split it (for example by "
        "year) and import each part."
    )
    assert peak < 10 * 1024 * 1024  # the 150 MB were never read into memory


def test_bytes_over_the_limit_are_refused_with_their_size(monkeypatch):
    monkeypatch.setattr(sources, "MAX_IMPORT_BYTES", 1024 * 1024)

    message = refusal(b"Name\n" + b"Ada Testperson\n" * 105_000)

    assert message.startswith("The file is 1.5 MB; CareDesk imports files of up to 1 MB: split")


def test_a_missing_file_is_named():
    with pytest.raises(ImportFileError) as refused:
        read_source(Path("/nonexistent/folder/patients.csv"))

    assert str(refused.value) == (
        "There is no file “patients.csv” any more: it may have been moved or renamed."
    )


def test_a_file_that_is_blank_or_only_column_names_has_nothing_to_import():
    assert refusal(b"\r\n \n,,,\n") == "The file holds no rows: it is blank."
    assert refusal(b"Last Name,First Name\n\n") == (
        "The file has its column names (line 1) but no rows below them: export the data "
        "again, with its rows."
    )


def test_a_corrupt_workbook_is_refused_as_damaged():
    def build(book):
        for number in range(200):
            book.active.append([f"Patient {number}", number])

    whole = workbook_bytes(build)

    assert refusal(whole[: len(whole) // 2]) == (
        "The workbook is damaged and cannot be read: open it in Excel and save it again (or "
        "save it as CSV), then import that."
    )
    # Its parts all there but one of them garbled.
    archive = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(whole)) as good, zipfile.ZipFile(archive, "w") as bad:
        for item in good.infolist():
            body = good.read(item)
            bad.writestr(item, b"<not xml" if item.filename.endswith("sheet1.xml") else body)
    assert refusal(archive.getvalue()).startswith("The workbook is damaged")


def test_a_zip_that_is_not_a_workbook_says_so():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("patients.csv", "Last Name,First Name\nTestperson,Ada\n")

    assert refusal(archive.getvalue()).startswith("This is a zip archive, not an Excel workbook")


def test_a_file_mixing_two_encodings_names_the_first_line_that_is_not_utf8():
    data = (
        b"Last Name,First Name\n"
        + "Testperson,José\n".encode()
        + b"Exampleton,Bo\n"
        + "Sampleé,Renée\n".encode("cp1252")
        + "Zed,Zoë\n".encode("cp1252")
    )

    assert refusal(data) == (
        "The file mixes two encodings: some lines are UTF-8 text, but line 4 is not (it is "
        "probably Windows-1252). Open the file in the program that made it, save it again "
        "as “CSV UTF-8”, and import that."
    )


def test_a_quote_never_closed_names_the_line_it_opens_on():
    data = b'Last Name,Notes\nTestperson,fine\nExampleton,"starts here\nSample,more\n'

    assert refusal(data) == (
        "Line 3 opens a quote that is never closed, so the rest of the file would be one "
        "cell: close the quote (or remove it) and import the file again."
    )


def test_text_after_a_closing_quote_names_its_line():
    data = b'Last Name,Notes\nTestperson,fine\nExampleton,"quoted" and more\n'

    assert refusal(data).startswith("Line 3 has text after a quoted cell's closing quote")


def test_a_forced_encoding_the_file_is_not_in_names_the_line():
    data = "Last Name,First Name\nTestperson,Ada\nSampleé,René\n".encode("cp1252")

    assert refusal(data, encoding="UTF-8") == (
        "Line 3 of the file is not UTF-8 text: choose another encoding, or let CareDesk find it."
    )


# --- CSV read right -----------------------------------------------------------------------------


def test_forty_columns_and_no_header_keep_every_row_under_numbered_columns():
    lines = [
        ",".join(
            [str(1000 + row), f"2020-01-{row + 1:02d}", "512-555-0100", f"{row * 1.5}"]
            + [f"value {row}-{column}" for column in range(36)]
        )
        for row in range(5)
    ]

    source = read("\n".join(lines).encode())

    assert source.has_header is False
    assert len(source.headers) == 40
    assert (source.headers[0], source.headers[-1]) == ("Column 1", "Column 40")
    assert [row.line for row in source.rows] == [1, 2, 3, 4, 5]
    assert source.rows[0].cells[:2] == ("1000", "2020-01-01")


def test_header_found_or_not_or_as_told():
    named = read(b"Surname,Given,Town\nTestperson,Ada,Austin\n")
    numbered = read(b"Testperson,1984-02-29,ada@example.com\nExampleton,1990-11-05,bo@x.com\n")
    told = read(b"Surname,Given,Town\nTestperson,Ada,Austin\n", has_header=False)

    assert named.has_header and named.headers == ("Surname", "Given", "Town")
    assert not numbered.has_header and len(numbered.rows) == 2
    assert not told.has_header
    assert told.rows[0] == sources.SourceRow(1, ("Surname", "Given", "Town"))


def test_a_known_header_word_makes_a_header_even_beside_odd_names():
    source = read(b"Chart Number,X1,X1\nA-1,2,3\n")

    assert source.has_header
    # The repeated name gets its count, so each name picks one column.
    assert source.headers == ("Chart Number", "X1", "X1 (2)")


def test_windows_1252_is_read_right_and_said():
    source = read("Last Name,First Name\nSampleé,René\n".encode("cp1252"))

    assert source.encoding == "Windows-1252"
    assert cells(source) == [(2, ("Sampleé", "René"))]


def test_utf8_with_a_byte_order_mark_is_said_and_the_mark_is_not_in_the_header():
    source = read("Last Name,First Name\r\nTestperson,José\r\n".encode("utf-8-sig"))

    assert source.encoding == "UTF-8 with byte order mark"
    assert source.headers == ("Last Name", "First Name")
    assert source.rows[0].cells == ("Testperson", "José")


def test_utf16_unicode_text_from_excel_is_read():
    text = "Last Name\tFirst Name\r\nTestperson\tJosé\r\n"

    with_mark = read(text.encode("utf-16"))
    without_mark = read(text.encode("utf-16-le"))

    for source in (with_mark, without_mark):
        assert (source.encoding, source.delimiter) == ("UTF-16", "\t")
        assert cells(source) == [(2, ("Testperson", "José"))]


@pytest.mark.parametrize(
    ("delimiter", "said"),
    [
        (",", "comma-separated"),
        (";", "semicolon-separated"),
        ("\t", "tab-separated"),
        ("|", "bar-separated"),
    ],
)
def test_each_separator_is_found_and_quoted_separators_stay_in_their_cell(delimiter, said):
    others = ",;\t|".replace(delimiter, "")
    lines = [
        delimiter.join(["Chart Number", "Full Name", "Notes"]),
        delimiter.join(["A-1", '"Testperson, Ada"', f'"one{delimiter}two"']),
        delimiter.join(["A-2", "Exampleton Bo", f"three{others[0]}four{others[1]}five"]),
    ]

    source = read("\n".join(lines).encode())

    assert source.delimiter == delimiter
    assert source.rows[0].cells == ("A-1", "Testperson, Ada", f"one{delimiter}two")
    assert source.rows[1].cells[2] == f"three{others[0]}four{others[1]}five"
    assert source.describe() == f"CSV, UTF-8, {said}, 2 rows"


def test_quoted_line_breaks_keep_the_line_numbers_of_the_file():
    data = (
        b"Last Name,Notes\r\n"
        b'Testperson,"first line\r\nsecond line\r\nthird line"\r\n'
        b"\r\n"
        b",\r\n"
        b"Exampleton,plain\r\n"
    )

    source = read(data)

    assert cells(source) == [
        (2, ("Testperson", "first line\r\nsecond line\r\nthird line")),
        (7, ("Exampleton", "plain")),
    ]


def test_cells_are_trimmed_trailing_empty_columns_dropped_and_extra_cells_kept():
    data = b"Last Name , First Name,,\n  Testperson ,\tAda ,,\nExampleton,Bo,extra,\n"

    source = read(data)

    assert source.headers == ("Last Name", "First Name")
    assert cells(source) == [
        (2, ("Testperson", "Ada")),
        # A cell beyond the header is kept: the row's check says the row is too wide.
        (3, ("Exampleton", "Bo", "extra", "")),
    ]


def test_an_empty_header_cell_is_named_by_its_column():
    source = read(b"Last Name,,City\nTestperson,x,Austin\n", has_header=True)

    assert source.headers == ("Last Name", "Column 2", "City")


def test_the_file_is_known_by_its_hash_and_size():
    data = b"Last Name\nTestperson\n"

    source = read(data)

    assert source.size == 21
    assert source.sha256 == hashlib.sha256(data).hexdigest()
    assert read(data + b"Exampleton\n").sha256 != source.sha256


# --- XLSX ----------------------------------------------------------------------------------------


@pytest.fixture
def two_sheet_workbook() -> bytes:
    def build(book):
        book.active.title = "Cover"
        sheet = book.create_sheet("Patients")
        sheet.append(["Chart Number", "Birth Date", "Seen", "Visits", "Balance", "Mobile", "At"])
        sheet.append(
            ["A-1", date(1984, 2, 29), datetime(2020, 3, 4, 9, 30), 12, 12.5, True, time(14, 5)]
        )
        sheet.append([])  # a blank row: skipped, the numbering goes on
        later = datetime(2020, 3, 4, 9, 30, 15)
        sheet.append([" B-2 ", datetime(1990, 11, 5), later, 12.0, 0.1 + 0.2, False, None])
        sheet.append([None, None, None, None, timedelta(hours=1, minutes=30)])

    return workbook_bytes(build)


def test_a_workbook_reads_its_first_sheet_with_cells_as_text(two_sheet_workbook):
    source = read(two_sheet_workbook, name="patients.xlsx")

    assert (source.sheet, source.sheets) == ("Patients", ("Cover", "Patients"))
    assert source.has_header
    assert cells(source) == [
        (2, ("A-1", "1984-02-29", "2020-03-04 09:30", "12", "12.5", "TRUE", "14:05")),
        (4, ("B-2", "1990-11-05", "2020-03-04 09:30:15", "12", "0.3", "FALSE")),
        (5, ("", "", "", "", "1:30")),
    ]
    assert source.describe() == "XLSX, sheet “Patients”, 3 rows"


def test_a_workbook_sheet_is_read_by_name_or_refused_by_name(two_sheet_workbook):
    with pytest.raises(ImportFileError) as missing:
        read(two_sheet_workbook, sheet="Appointments")
    with pytest.raises(ImportFileError) as blank:
        read(two_sheet_workbook, sheet="Cover")

    assert str(missing.value) == (
        "The workbook has no sheet named “Appointments”; its sheets are “Cover”, “Patients”."
    )
    assert str(blank.value) == "The sheet “Cover” holds no rows: it is blank."
    assert read(two_sheet_workbook, sheet="Patients").sheet == "Patients"


def test_a_sheet_of_column_names_only_names_its_row():
    def build(book):
        book.active.title = "Patients"
        book.active.append([])
        book.active.append(["Last Name", "First Name"])

    assert refusal(workbook_bytes(build)) == (
        "The sheet “Patients” has its column names (row 2) but no rows below them: export the "
        "data again, with its rows."
    )


def test_a_workbook_of_empty_sheets_says_so():
    def build(book):
        book.create_sheet("Second")

    assert refusal(workbook_bytes(build)) == "The workbook's sheets are all empty."


# --- the samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "encoding", "delimiter", "rows"),
    [
        ("open_dental_patients.csv", "UTF-8", ",", 2),
        ("open_dental_appointments.txt", "UTF-8", "\t", 2),
        ("dentrix_patients.csv", "Windows-1252", ",", 2),
        ("dentrix_appointments.csv", "Windows-1252", ",", 2),
        ("jane_patients.csv", "UTF-8 with byte order mark", ",", 2),
        ("jane_appointments.csv", "UTF-8 with byte order mark", ",", 2),
        ("generic_patients.csv", "UTF-8", ";", 1),
        ("generic_appointments.csv", "UTF-8", "|", 1),
        ("generic_balances.csv", "UTF-8", ",", 2),
        ("generic_contacts.csv", "UTF-8", ",", 1),
    ],
)
def test_each_sample_export_is_read_with_its_encoding_and_separator(
    sample, encoding, delimiter, rows
):
    source = read_source(SAMPLES / sample, known_headers=KNOWN_HEADERS)

    assert (source.encoding, source.delimiter, source.has_header) == (encoding, delimiter, True)
    assert len(source.rows) == rows
    assert all(len(row.cells) == len(source.headers) for row in source.rows)


def test_the_dentrix_sample_reads_its_accents_right():
    source = read_source(SAMPLES / "dentrix_patients.csv", known_headers=KNOWN_HEADERS)

    assert source.rows[0].cells[1:3] == ("Sampleé", "René")
    assert source.rows[1].cells[2] == "Zoë"


# --- any bytes at all ---------------------------------------------------------------------------

_PREFIXES = st.sampled_from(
    [
        b"",
        b"PK\x03\x04",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        codecs.BOM_UTF16_BE,
        b"Last Name,First Name\n",
        b'"',
    ]
)
_ANY_BYTES = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda head, tail: head + tail, _PREFIXES, st.binary(max_size=400)),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300).map(str.encode),
    st.text(alphabet='ab,;\t|"\r\n é', max_size=200).map(lambda t: t.encode("cp1252")),
)


@settings(max_examples=300, deadline=None)
@given(data=_ANY_BYTES)
def test_any_bytes_either_read_or_are_refused_in_a_sentence(data):
    try:
        source = read(data)
    except ImportFileError as refused:
        assert str(refused).endswith((".", "”."))
        return
    assert source.rows and source.headers
    assert all(row.line >= 1 for row in source.rows)
