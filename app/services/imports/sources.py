"""Reading an import file into its column names and rows of text cells.

A file is a CSV (its cells split by a comma, semicolon, tab or bar, its text in UTF-8,
UTF-8 with a byte order mark, UTF-16 or Windows-1252) or an XLSX workbook.  Which of the two
it is, is read from its bytes, never from its name: an .xlsx renamed .csv is read as the
workbook it is, and a picture renamed .csv is refused as one.  Every file that cannot be
read raises :class:`ImportFileError` with one sentence saying why and what to do, before a
row is imported.

Reading is lean, for files of 200,000 rows: the cells stay the strings the csv module (or
openpyxl) made, one tuple per row, with no object per cell.
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import io
import math
import os
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from app.services.errors import ValidationError

#: The largest file an import reads (a CSV of 200,000 appointments is about 30 MB).
MAX_IMPORT_BYTES = 100 * 1024 * 1024
#: The cell separators a CSV may use, in the order a tie is settled.
DELIMITERS = (",", ";", "\t", "|")

UTF8 = "UTF-8"
UTF8_BOM = "UTF-8 with byte order mark"
WINDOWS_1252 = "Windows-1252"
UTF16 = "UTF-16"
XLSX = "XLSX"
#: How a CSV's text may be read (what SourceFile.encoding says) → Python's codec for it.
ENCODINGS: dict[str, str] = {
    UTF8: "utf-8",
    UTF8_BOM: "utf-8-sig",
    WINDOWS_1252: "cp1252",
    UTF16: "utf-16",
}

_MB = 1024 * 1024
#: The most records the delimiter is guessed from, and the text they are taken from.
_SNIFF_RECORDS = 50
_SNIFF_CHARS = 64 * 1024
#: The start of an old Office file (OLE compound document): an .xls, or an encrypted .xlsx.
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
#: The stream a password-protected workbook keeps its encrypted contents in (UTF-16 name).
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
#: A character beyond ASCII that is not the replacement of an invalid byte.
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f\ufffd]")
_TEXT_LINE_BREAK = re.compile(r"\r\n?|\n")
_LINE_BREAK = re.compile(rb"\r\n?|\n")
#: Control characters no text file holds (tab, line and page breaks are text).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
#: What a cell of data looks like (a header cell looks like none of these).
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?|\d{1,2}:\d{2}(?::\d{2})?.*")
_NUMBER_LIKE = re.compile(r"[-+(]?\s*[$€£¥]?\s*\d[\d,.\s']*\)?\s*%?")
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]{7,}(?:\s*(?:x|ext\.?)\s*\d+)?", re.IGNORECASE)


class ImportFileError(ValidationError):
    """A file the import cannot read, with the sentence saying why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row of data: the file's line it starts on (a sheet's row number for XLSX) and its
    cells, trimmed of surrounding spaces."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class SourceFile:
    """A file read for import: what it is, how it was read, its column names and rows."""

    name: str
    sha256: str
    size: int
    #: "CSV" or "XLSX".
    format: str
    #: How the text was read: "UTF-8", "UTF-8 with byte order mark", "Windows-1252",
    #: "UTF-16", or "XLSX" for a workbook.
    encoding: str
    #: The CSV's cell separator (",", ";", "\t" or "|"); "" for a workbook.
    delimiter: str
    #: The sheet read ("" for a CSV) and every sheet of the workbook.
    sheet: str
    sheets: tuple[str, ...]
    has_header: bool
    #: The header's cells, or "Column 1" … "Column N" when the file has no header line.
    headers: tuple[str, ...]
    #: The rows of data (blank rows left out).
    rows: tuple[SourceRow, ...]

    def describe(self) -> str:
        """How the file was read, for the import's first step: "CSV, UTF-8, comma-separated,
        1,204 rows" or "XLSX, sheet “Patients”, 1,204 rows"."""
        count = len(self.rows)
        rows = f"{count:,} row{'' if count == 1 else 's'}"
        if self.format == XLSX:
            return f"XLSX, sheet “{self.sheet}”, {rows}"
        return f"CSV, {self.encoding}, {DELIMITER_NAMES[self.delimiter]}, {rows}"


#: What each separator is called when the import says how it read a file.
DELIMITER_NAMES = {
    ",": "comma-separated",
    ";": "semicolon-separated",
    "\t": "tab-separated",
    "|": "bar-separated",
}


def header_key(cell: str) -> str:
    """A header cell as headers are compared: lower case, letters and digits only
    ("E-mail Address" → "emailaddress", "Zip/Postal" → "zippostal")."""
    folded = unicodedata.normalize("NFKD", cell.casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def read_source(
    path: str | os.PathLike[str],
    *,
    has_header: bool | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    known_headers: Collection[str] | None = None,
) -> SourceFile:
    """Read the file at ``path`` (see :func:`read_source_bytes`); a file larger than
    MAX_IMPORT_BYTES is refused from its size, before it is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImportFileError(
            f"There is no file “{path.name}” any more: it may have been moved or renamed."
        ) from None
    except OSError:
        raise ImportFileError(f"The file “{path.name}” cannot be opened.") from None
    _check_size(size)
    try:
        data = path.read_bytes()
    except PermissionError:
        raise ImportFileError(
            f"CareDesk is not allowed to read “{path.name}”: copy it to your Documents "
            "folder and choose that copy."
        ) from None
    except OSError:
        raise ImportFileError(f"The file “{path.name}” cannot be read.") from None
    return read_source_bytes(
        data,
        path.name,
        has_header=has_header,
        sheet=sheet,
        encoding=encoding,
        delimiter=delimiter,
        known_headers=known_headers,
    )


def read_source_bytes(
    data: bytes,
    name: str,
    *,
    has_header: bool | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    known_headers: Collection[str] | None = None,
) -> SourceFile:
    """Read a file's bytes as a workbook (a zip holding one) or a CSV.

    ``has_header`` None: the first row is a header when its cells look like column names
    (see :func:`looks_like_header`; ``known_headers`` are the header words the import knows,
    as :func:`header_key` gives them — by default those :func:`register_header_words` was
    given, which :mod:`.mappings` does with every field's synonyms).  ``sheet``: the
    workbook's sheet to read (default: the first that is not empty).  ``encoding`` (one of
    ENCODINGS) and ``delimiter`` (one of DELIMITERS) override what is detected.
    ImportFileError when the file cannot be read.
    """
    data = bytes(data)
    _check_size(len(data))
    with paused_cycle_collection():
        known = _registered_header_words if known_headers is None else frozenset(known_headers)
        return _read(data, name, has_header, sheet, encoding, delimiter, known)


#: The header words an import knows (see register_header_words).
_registered_header_words: frozenset[str] = frozenset()


def register_header_words(words: Collection[str]) -> None:
    """Add to the header words (as header_key gives them) that tell a first row of column
    names from a row of data when a caller names none.  The mappings module gives its
    fields' names and synonyms when imported: reading stays below mapping (this module
    never imports it), and every caller gets the same header detection."""
    global _registered_header_words
    _registered_header_words = _registered_header_words | frozenset(words)


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    """Build many small objects (a file's rows) without the cyclic garbage collector
    scanning them all again every few thousand: strings, tuples and dicts of them hold no
    cycles, and the collector's passes took as long as the reading itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(
    data: bytes,
    name: str,
    has_header: bool | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    known: frozenset[str],
) -> SourceFile:
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(_OLE_SIGNATURE):
        raise ImportFileError(_ole_refusal(data))
    if data.startswith(_ZIP_SIGNATURES):
        sheet_name, sheets, records = _read_xlsx(data, sheet)
        kind, encoding, delimiter = XLSX, XLSX, ""
    else:
        if encoding is not None and encoding not in ENCODINGS:
            raise ValidationError(
                f"“{encoding}” is not a text encoding CareDesk reads: choose "
                f"{', '.join(ENCODINGS)}.",
                field="encoding",
            )
        if delimiter is not None and delimiter not in DELIMITERS:
            raise ValidationError(
                "The cell separator must be a comma, semicolon, tab or bar.", field="delimiter"
            )
        text, encoding = _decode(data, encoding)
        delimiter = delimiter or sniff_delimiter(text)
        records = _csv_records(text, delimiter)
        del text
        kind, sheet_name, sheets = "CSV", "", ()
    if not records:
        where = f"The sheet “{sheet_name}”" if sheet_name else "The file"
        raise ImportFileError(f"{where} holds no rows: it is blank.")
    header_line, first = records[0]
    first = _without_trailing_empties(first)
    if has_header is None:
        has_header = looks_like_header(first, known)
    if has_header:
        headers = _header_names(first)
        data_records: Sequence[tuple[int, tuple[str, ...]]] = records[1:]
        if not data_records:
            where = f"The sheet “{sheet_name}”" if sheet_name else "The file"
            line = "row" if sheet_name else "line"
            raise ImportFileError(
                f"{where} has its column names ({line} {header_line}) but no rows below them: "
                "export the data again, with its rows."
            )
    else:
        width = max(len(_without_trailing_empties(cells)) for _line, cells in records)
        headers = tuple(f"Column {number}" for number in range(1, width + 1))
        data_records = records
    width = len(headers)
    rows = tuple(
        SourceRow(line, cells[:width] if len(cells) > width and not any(cells[width:]) else cells)
        for line, cells in data_records
    )
    return SourceFile(
        name=name,
        sha256=digest,
        size=len(data),
        format=kind,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet_name,
        sheets=sheets,
        has_header=has_header,
        headers=headers,
        rows=rows,
    )


def looks_like_header(cells: Sequence[str], known_headers: Collection[str] = ()) -> bool:
    """Whether a first row names columns rather than holds data: most of its cells are
    header words the import knows, or none of them looks like a value (a date, time, number,
    e-mail or phone) and either one is a known word or all are distinct names."""
    filled = [cell for cell in cells if cell]
    if not filled:
        return False
    known = sum(header_key(cell) in known_headers for cell in filled)
    if known * 2 >= len(filled):
        return True
    if any(_looks_like_a_value(cell) for cell in filled):
        return False
    if known:
        return True
    distinct = len({cell.casefold() for cell in cells}) == len(cells)
    return distinct and all(any(ch.isalpha() for ch in cell) for cell in cells)


def sniff_delimiter(text: str) -> str:
    """The separator that splits the first records most consistently into the most cells
    (quotes honored); a comma when none splits them."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    best, best_score = ",", (0.0, 0)
    for candidate in DELIMITERS:
        widths = []
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=candidate)
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    widths.append(len(cells))
                    if len(widths) >= _SNIFF_RECORDS:
                        break
        except csv.Error:
            pass  # a quote the sample cut in two: the records before it still count
        if not widths:
            continue
        width, times = Counter(widths).most_common(1)[0]
        score = (times / len(widths), width)
        if width > 1 and score > best_score:
            best, best_score = candidate, score
    return best


# --- size and kind ------------------------------------------------------------------------------


def _check_size(size: int) -> None:
    if size == 0:
        raise ImportFileError(
            "The file is empty (0 bytes): export the data from your previous system again "
            "and choose that file."
        )
    if size > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"The file is {_megabytes(size)} MB; CareDesk imports files of up to "
            f"{_megabytes(MAX_IMPORT_BYTES)} MB: split it (for example by year) and import "
            "each part."
        )


def _megabytes(size: int) -> str:
    return f"{size / _MB:,.1f}".removesuffix(".0")


def _ole_refusal(data: bytes) -> str:
    if _ENCRYPTED_PACKAGE in data:
        return (
            "The workbook is protected with a password, so CareDesk cannot read it: open it "
            "in Excel, remove the password (or save a copy as CSV) and import that."
        )
    return (
        "This is an old Excel workbook (.xls) or another old Office file: open it in Excel, "
        "save it as .xlsx or CSV, and import that."
    )


def _not_text() -> ImportFileError:
    return ImportFileError(
        "This is not a CSV text file (it holds binary data, like a picture or a program): "
        "export the data from your previous system as CSV or XLSX and import that file."
    )


# --- CSV ----------------------------------------------------------------------------------------


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    """The file's text and how it was read."""
    if encoding is not None:
        return _decode_as(data, encoding), encoding
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _checked_text(_utf16(data, "utf-16")), UTF16
    bare_utf16 = _bare_utf16(data)
    if bare_utf16:
        return _checked_text(_utf16(data, bare_utf16)), UTF16
    if b"\x00" in data:
        raise _not_text()
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        return _checked_text(body.decode("utf-8")), UTF8_BOM if bom else UTF8
    except UnicodeDecodeError as error:
        line = _line_at(body, error.start)
        if bom or _has_utf8_line(body):
            raise ImportFileError(
                f"The file mixes two encodings: some lines are UTF-8 text, but line {line} is "
                "not (it is probably Windows-1252). Open the file in the program that made "
                "it, save it again as “CSV UTF-8”, and import that."
            ) from None
    try:
        return _checked_text(body.decode("cp1252")), WINDOWS_1252
    except UnicodeDecodeError:
        # Bytes Windows-1252 leaves undefined, in a file that is not UTF-8 either.
        raise _not_text() from None


def _decode_as(data: bytes, encoding: str) -> str:
    try:
        return _checked_text(data.decode(ENCODINGS[encoding]))
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"Line {_line_at(data, error.start)} of the file is not {encoding} text: choose "
            "another encoding, or let CareDesk find it."
        ) from None


def _bare_utf16(data: bytes) -> str | None:
    """The codec of UTF-16 text saved without its byte order mark (every other byte NUL),
    or None."""
    sample = data[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


def _utf16(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file starts as UTF-16 text but part of it is not: open it in the program "
            "that made it, save it again as “CSV UTF-8”, and import that."
        ) from None


def _checked_text(text: str) -> str:
    """The text, unless it is mostly control characters: binary data that happened to
    decode."""
    sample = text[:_SNIFF_CHARS]
    if len(_CONTROL.findall(sample)) > max(2, len(sample) // 50):
        raise _not_text()
    return text


def _line_at(data: bytes, position: int) -> int:
    return len(_LINE_BREAK.findall(data, 0, position)) + 1


def _has_utf8_line(body: bytes) -> bool:
    """Whether a line of ``body`` holds UTF-8 characters beyond ASCII and reads as UTF-8."""
    # Read with every invalid byte replaced: a line holding a character beyond ASCII and no
    # replacement is one that reads as UTF-8.  (A simple class scanned in C: 200,000 lines
    # in a few tens of milliseconds.)
    text = body.decode("utf-8", errors="replace")
    position = 0
    while match := _BEYOND_ASCII.search(text, position):
        start = max(text.rfind("\n", 0, match.start()), text.rfind("\r", 0, match.start())) + 1
        end = _TEXT_LINE_BREAK.search(text, match.end())
        stop = end.start() if end else len(text)
        if "\ufffd" not in text[start:stop]:
            return True
        position = stop + 1
    return False


def _csv_records(text: str, delimiter: str) -> list[tuple[int, tuple[str, ...]]]:
    """Each non-blank record: the line it starts on and its cells, trimmed."""
    records: list[tuple[int, tuple[str, ...]]] = []
    append = records.append
    strip = str.strip
    # strict: an unclosed quote is an error here, not the rest of the file in one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            trimmed = tuple(map(strip, cells))
            if any(trimmed):
                append((line, trimmed))
    except csv.Error as error:
        raise ImportFileError(_csv_problem(str(error), start, reader.line_num)) from None
    return records


def _csv_problem(error: str, start: int, line: int) -> str:
    if "unexpected end of data" in error or "field larger than field limit" in error:
        return (
            f"Line {start} opens a quote that is never closed, so the rest of the file would "
            "be one cell: close the quote (or remove it) and import the file again."
        )
    if "expected after" in error:
        return (
            f"Line {line} has text after a quoted cell's closing quote: put the whole cell in "
            "quotes, double the quotes inside it, and import the file again."
        )
    return f"Line {line} of the file cannot be read as CSV ({error})."


# --- XLSX ---------------------------------------------------------------------------------------


def _damaged() -> ImportFileError:
    return ImportFileError(
        "The workbook is damaged and cannot be read: open it in Excel and save it again (or "
        "save it as CSV), then import that."
    )


def _read_xlsx(
    data: bytes, sheet: str | None
) -> tuple[str, tuple[str, ...], list[tuple[int, tuple[str, ...]]]]:
    """The sheet read, every sheet's name, and the sheet's non-blank rows."""
    import openpyxl  # only an XLSX import needs it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = set(archive.namelist())
    except Exception:
        # zipfile raises several kinds on a damaged archive (BadZipFile, EOFError, zlib's …).
        raise _damaged() from None
    if "[Content_Types].xml" not in parts:
        raise ImportFileError(
            "This is a zip archive, not an Excel workbook: take the CSV or XLSX file out of "
            "it and import that."
        )
    # Warnings about workbook features an import does not read (styles, data validation).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            # openpyxl raises whatever its XML and zip readers meet in a damaged file.
            raise _damaged() from None
        try:
            return _read_sheets(workbook, sheet)
        except ImportFileError:
            raise
        except Exception:
            raise _damaged() from None
        finally:
            # A read-only workbook keeps its archive open until closed.
            workbook.close()


def _read_sheets(workbook, sheet: str | None):
    worksheets = {ws.title: ws for ws in workbook.worksheets}
    sheets = tuple(worksheets)
    if not sheets:
        raise ImportFileError("The workbook has no sheets of cells to read.")
    if sheet is not None:
        if sheet not in worksheets:
            raise ImportFileError(
                f"The workbook has no sheet named “{sheet}”; its sheets are "
                f"{', '.join(f'“{name}”' for name in sheets)}."
            )
        return sheet, sheets, _sheet_records(worksheets[sheet])
    for name, worksheet in worksheets.items():
        records = _sheet_records(worksheet)
        if records:
            return name, sheets, records
    raise ImportFileError("The workbook's sheets are all empty.")


def _sheet_records(worksheet) -> list[tuple[int, tuple[str, ...]]]:
    # The size a file declares may be wrong (some exporters write "A1"): read what is there.
    worksheet.reset_dimensions()
    records = []
    for number, values in enumerate(worksheet.iter_rows(values_only=True), 1):
        if not values:
            continue
        cells = tuple(map(_cell_text, values))
        if any(cells):
            records.append((number, cells))
    return records


def _cell_text(value: object) -> str:
    """A workbook cell as the text a CSV would hold: dates in ISO order, numbers plain."""
    if value is None:
        return ""
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return _iso_date(value.date())
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, date):
        return _iso_date(value)
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, timedelta):
        minutes = round(value.total_seconds() / 60)
        return f"{minutes // 60}:{minutes % 60:02d}"
    return str(value).strip()


def _iso_date(value: date) -> str:
    return value.isoformat()


def _number_text(value: float) -> str:
    """A number as Excel shows it in General format: 15 significant digits, no exponent, no
    float noise (12.0 → "12", 0.30000000000000004 → "0.3")."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return format(Decimal(format(value, ".15g")), "f")


def _without_trailing_empties(cells: tuple[str, ...]) -> tuple[str, ...]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def _header_names(cells: Iterable[str]) -> tuple[str, ...]:
    """Header cells as column names: an empty one is "Column N", a repeated one gets its
    count ("Phone", "Phone (2)") so each name picks one column."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for number, cell in enumerate(cells, 1):
        name = cell or f"Column {number}"
        seen[name.casefold()] += 1
        if seen[name.casefold()] > 1:
            name = f"{name} ({seen[name.casefold()]})"
        names.append(name)
    return tuple(names)


def _looks_like_a_value(cell: str) -> bool:
    return bool(
        "@" in cell
        or _DATE_LIKE.fullmatch(cell)
        or _NUMBER_LIKE.fullmatch(cell)
        or _PHONE_LIKE.fullmatch(cell)
    )
