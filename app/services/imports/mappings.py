"""Which column of an import file fills which CareDesk field.

- :data:`FIELDS`: the fields each kind of import fills, with their labels and rules.
- :data:`PRESETS`: ready-made mappings for the exports of common systems (Open Dental,
  Dentrix, Jane) and the generic one (the field labels themselves as headers).
- :func:`guess_mapping`: the source's preset (named, or recognized from the headers), then
  synonyms ("DOB", "Zip", "Cell") for the columns left; headers compare whatever their case,
  spacing or punctuation.
- :func:`mapping_from_json` / :func:`mapping_to_json`: the CLI's ``--mapping M.json``.
- :func:`remembered_mapping` / :func:`remember_mapping`: the mapping last used for a source
  and kind, kept in the clinic's database by header text and offered again.
- :func:`mapped_rows`: the file's rows as the fields' cells, for the row checks.

A mapping is by column index within one file; what is remembered and written to JSON is by
header text, so it applies to the next file from the same system whatever its column order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from sqlalchemy import select

from app.data.database import Database
from app.data.models.imports import ImportKind, ImportMapping
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.contacts.importing import HEADER_NAMES as CONTACT_HEADER_NAMES
from app.services.errors import ValidationError
from app.services.imports.common import DATE_ORDERS, MappedRow
from app.services.imports.sources import (
    SourceFile,
    SourceRow,
    header_key,
    paused_cycle_collection,
    register_header_words,
)


@dataclass(frozen=True)
class FieldSpec:
    """A field an import fills: its name (the row checks' key), its label on screen, whether
    every file must map it, and a line of help."""

    name: str
    label: str
    required: bool = False
    help: str = ""


_F = FieldSpec

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    ImportKind.PATIENTS.value: (
        _F(
            "chart_number",
            "Chart number",
            help="The patient's number in the previous system; appointments and balances "
            "find the patient by it.",
        ),
        _F(
            "full_name",
            "Full name",
            help="“Last, First” or “First Last”: instead of First name and Last name.",
        ),
        _F("first_name", "First name", help="Needed with Last name, unless Full name is mapped."),
        _F("last_name", "Last name", help="Needed with First name, unless Full name is mapped."),
        _F("middle_name", "Middle name"),
        _F("preferred_name", "Preferred name"),
        _F("date_of_birth", "Date of birth"),
        _F("sex", "Sex"),
        _F("mobile_phone", "Mobile phone", help="The number text messages go to."),
        _F("home_phone", "Home phone"),
        _F("work_phone", "Work phone"),
        _F("email", "E-mail"),
        _F("address_line1", "Address line 1"),
        _F("address_line2", "Address line 2"),
        _F("city", "City"),
        _F("region", "State or region"),
        _F("postal_code", "ZIP or postal code"),
        _F("country", "Country"),
        _F("preferred_language", "Preferred language"),
        _F("emergency_contact_name", "Emergency contact"),
        _F("emergency_contact_phone", "Emergency contact phone"),
        _F("emergency_contact_relation", "Emergency contact relation"),
        _F("medical_alerts", "Medical alerts"),
        _F("allergies", "Allergies"),
        _F("medications", "Medications"),
        _F("lead_source", "Lead source", help="How the patient heard of the clinic."),
        _F("may_text", "May text", help="Yes or no: whether the patient agreed to texts."),
        _F("may_email", "May e-mail", help="Yes or no: whether the patient agreed to e-mails."),
        _F(
            "status",
            "Status",
            help="Active, inactive, archived or deceased (the previous system's words for "
            "them are understood).",
        ),
        _F("deceased_on", "Date of death"),
    ),
    ImportKind.APPOINTMENTS.value: (
        _F(
            "source_id",
            "Appointment ID",
            help="The appointment's number in the previous system, kept so each imported "
            "appointment can be traced to it.",
        ),
        _F(
            "patient_chart_number",
            "Patient chart number",
            required=True,
            help="The patient's number in the previous system, as the patient import had it.",
        ),
        _F("patient_name", "Patient name", help="Checked against the patient the chart finds."),
        _F(
            "date",
            "Date",
            required=True,
            help="The day of the appointment; it may hold the start time too (2020-03-04 09:30).",
        ),
        _F(
            "start_time",
            "Start time",
            help="Needed unless the Date column holds the time too (2020-03-04 09:30): then "
            "leave Start time unmapped.",
        ),
        _F(
            "end_time",
            "End time",
            help="With neither End time nor Length mapped, each appointment takes its "
            "service's usual length.",
        ),
        _F(
            "duration",
            "Length",
            help="Minutes (45), hours and minutes (1:00, 60 min) or an Open Dental time "
            "pattern (XXXX//, five minutes a character). With neither End time nor Length "
            "mapped, each appointment takes its service's usual length.",
        ),
        _F("provider", "Provider", required=True),
        _F("room", "Room"),
        _F("service", "Service"),
        _F(
            "status",
            "Status",
            help="Scheduled, completed, canceled, no-show … (the previous system's words for "
            "them are understood).",
        ),
        _F("notes", "Notes"),
    ),
    ImportKind.BALANCES.value: (
        _F(
            "patient_chart_number",
            "Chart number",
            required=True,
            help="The patient's number in the previous system, as the patient import had it.",
        ),
        _F(
            "balance",
            "Balance",
            required=True,
            help="What the patient owes; a negative amount (or one in parentheses) is a credit.",
        ),
        _F("as_of", "As of", help="The day the balance was taken; by default, the day chosen."),
        _F("note", "Note"),
    ),
    ImportKind.CONTACTS.value: (
        _F("kind", "Kind", help="Insurance payer, specialist, referring provider, lab …"),
        _F("organization", "Organization", help="Needed unless Name is mapped."),
        _F("name", "Name", help="Needed unless Organization is mapped."),
        _F("specialty", "Specialty"),
        _F("phone", "Phone"),
        _F("other_phone", "Other phone"),
        _F("fax", "Fax"),
        _F("email", "E-mail"),
        _F("address_line1", "Address line 1"),
        _F("address_line2", "Address line 2"),
        _F("city", "City"),
        _F("region", "State or region"),
        _F("postal_code", "ZIP or postal code"),
        _F("country", "Country"),
        _F("send_records_by", "Send records by", help="Fax, e-mail, mail or portal."),
        _F("payer_id", "Payer ID"),
        _F("eligibility_phone", "Eligibility phone"),
        _F("notes", "Notes"),
    ),
}
#: What the kinds' rows are called in a sentence ("a patient import").
KIND_NOUNS = {
    ImportKind.PATIENTS.value: "patient",
    ImportKind.APPOINTMENTS.value: "appointment",
    ImportKind.BALANCES.value: "balance",
    ImportKind.CONTACTS.value: "contact",
}


def _an(kind: str) -> str:
    """ "a patient", "an appointment"."""
    noun = KIND_NOUNS[kind]
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


OPEN_DENTAL = "Open Dental"
DENTRIX = "Dentrix"
JANE = "Jane"
GENERIC = "Generic CSV"
SOURCES: tuple[str, ...] = (OPEN_DENTAL, DENTRIX, JANE, GENERIC)
#: The longest source name the database keeps.
SOURCE_MAX = 60
#: A time of day in a date cell: "2020-03-04 09:30", "3/4/2020 9am".
_HAS_TIME = re.compile(r"\d:\d\d|\d\s*[ap]\.?\s?m\b", re.IGNORECASE)

#: Each system's export: {header as that system writes it: field}, in order of preference
#: (when a file holds two headers for one field, the earlier one here is read).
PRESETS: dict[str, dict[str, dict[str, str]]] = {
    # Open Dental: its database documentation's column names (opendental.com/
    # OpenDentalDocumentation*.xml, tables ``patient`` and ``appointment``) and its API's
    # appointment fields (opendental.com/site/apiappointments.html: AptNum, PatNum,
    # AptDateTime, Pattern — one character per five minutes —, ProvNum / provAbbr, Op,
    # ProcDescript, AptStatus, Note).  A query export keeps these names.
    OPEN_DENTAL: {
        ImportKind.PATIENTS.value: {
            # PatNum, not ChartNumber: Open Dental's appointments (and its other tables) name
            # the patient by PatNum, while its manual calls ChartNumber optional and advises
            # against it (opendental.com/manual/patientedit.html).  ChartNumber is left
            # unmapped, so the appointment file finds the patients this file made.
            "PatNum": "chart_number",
            "LName": "last_name",
            "FName": "first_name",
            "MiddleI": "middle_name",
            "Preferred": "preferred_name",
            "Birthdate": "date_of_birth",
            "Gender": "sex",
            "WirelessPhone": "mobile_phone",
            "HmPhone": "home_phone",
            "WkPhone": "work_phone",
            "Email": "email",
            "Address": "address_line1",
            "Address2": "address_line2",
            "City": "city",
            "State": "region",
            "Zip": "postal_code",
            "Country": "country",
            "Language": "preferred_language",
            "PatStatus": "status",
        },
        ImportKind.APPOINTMENTS.value: {
            "AptNum": "source_id",
            "PatNum": "patient_chart_number",
            # Date and time in one cell ("2020-07-31 08:30:00"): no start time column.
            "AptDateTime": "date",
            "Pattern": "duration",
            # The provider's abbreviation reads better than its number, when both are there.
            "provAbbr": "provider",
            "ProvNum": "provider",
            "Op": "room",
            "ProcDescript": "service",
            "AptStatus": "status",
            "Note": "notes",
        },
    },
    # Dentrix: the Appointment Information dialog's field names (Dentrix help: Provider,
    # Operatory, Reason, Appt Length — blog.dentrix.com "Changing the appointment length")
    # and the Family File's; no list of the export's column titles is published, so the
    # names follow the patient and appointment list exports as commonly seen.
    DENTRIX: {
        ImportKind.PATIENTS.value: {
            "Chart Number": "chart_number",
            "Last Name": "last_name",
            "First Name": "first_name",
            "MI": "middle_name",
            "Preferred Name": "preferred_name",
            "Birth Date": "date_of_birth",
            "Gender": "sex",
            "Home Phone": "home_phone",
            "Work Phone": "work_phone",
            "Mobile Phone": "mobile_phone",
            "Email": "email",
            "Address 1": "address_line1",
            "Address 2": "address_line2",
            "City": "city",
            "State": "region",
            "Zip": "postal_code",
        },
        ImportKind.APPOINTMENTS.value: {
            "Appt Date": "date",
            "Appt Time": "start_time",
            "Appt Length": "duration",
            "Chart Number": "patient_chart_number",
            "Patient Name": "patient_name",
            "Provider": "provider",
            "Operatory": "room",
            "Reason": "service",
            "Status": "status",
        },
    },
    # Jane: its guide documents moving data between Jane accounts (jane.app/guide), not the
    # columns of its Patient List and Appointments report exports; the names follow those
    # exports as commonly seen.  Appointments give "Start At" (date and time in one cell), or
    # "Date" and "Time".
    JANE: {
        ImportKind.PATIENTS.value: {
            "Patient Number": "chart_number",
            "Patient ID": "chart_number",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Preferred Name": "preferred_name",
            "Birth Date": "date_of_birth",
            "Sex": "sex",
            "Email": "email",
            "Mobile Phone": "mobile_phone",
            "Home Phone": "home_phone",
            "Work Phone": "work_phone",
            "Address": "address_line1",
            "City": "city",
            "Province": "region",
            "Postal Code": "postal_code",
            "Country": "country",
        },
        ImportKind.APPOINTMENTS.value: {
            "Start At": "date",
            "Date": "date",
            "Time": "start_time",
            "End At": "end_time",
            "Patient Number": "patient_chart_number",
            "Patient": "patient_name",
            "Staff Member": "provider",
            "Treatment": "service",
            "Room": "room",
            "State": "status",
        },
    },
    # A file made by hand (or by a system not listed): the field labels as its headers.
    GENERIC: {kind: {spec.label: spec.name for spec in specs} for kind, specs in FIELDS.items()},
}

#: Other header words for each field (compared as header_key gives them), after the presets.
_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    ImportKind.PATIENTS.value: {
        "chart_number": (
            "chart",
            "chartno",
            "chartnum",
            "patientid",
            "patientnumber",
            "patientno",
            "patnum",
            "accountnumber",
            "account",
            "mrn",
            "id",
        ),
        "full_name": ("name", "patientname", "patient", "fullname"),
        "first_name": ("first", "fname", "givenname", "forename"),
        "last_name": ("last", "lname", "surname", "familyname"),
        "middle_name": ("middle", "mi", "middleinitial", "middlei"),
        "preferred_name": ("preferred", "nickname", "goesby"),
        "date_of_birth": ("dob", "birthdate", "birthday", "born"),
        "sex": ("gender",),
        "mobile_phone": ("mobile", "cell", "cellphone", "cellular", "wirelessphone", "sms"),
        "home_phone": ("phone", "homephone", "hmphone", "telephone", "phonenumber", "tel"),
        "work_phone": ("wkphone", "businessphone", "officephone"),
        "email": ("emailaddress", "mail"),
        "address_line1": ("address", "address1", "street", "streetaddress"),
        "address_line2": ("address2", "apt", "suite", "unit"),
        "city": ("town",),
        "region": ("state", "province", "stateprovince", "county"),
        "postal_code": ("zip", "zipcode", "postcode"),
        "preferred_language": ("language",),
        "emergency_contact_name": ("emergencycontactname", "emergencyname"),
        "emergency_contact_phone": ("emergencyphone",),
        "emergency_contact_relation": ("emergencyrelation", "emergencycontactrelationship"),
        "medical_alerts": ("alerts", "medicalalert", "medicalwarnings"),
        "allergies": ("allergy",),
        "medications": ("meds", "medication", "currentmedications"),
        "lead_source": ("referralsource", "referredby", "source", "howdidyouhear"),
        "may_text": ("textok", "smsok", "allowtext", "textconsent", "txtmsgok"),
        "may_email": ("emailok", "allowemail", "emailconsent"),
        "status": ("patstatus", "patientstatus"),
        "deceased_on": ("deceased", "dateofdeath", "deceaseddate", "deathdate", "dod"),
    },
    ImportKind.APPOINTMENTS.value: {
        "source_id": ("appointmentid", "apptid", "aptnum", "appointmentnumber", "id"),
        "patient_chart_number": (
            "chartnumber",
            "chart",
            "chartno",
            "patnum",
            "patientnumber",
            "patientid",
        ),
        "patient_name": ("patient", "name"),
        "date": (
            "apptdate",
            "appointmentdate",
            "aptdatetime",
            "startat",
            "start",
            "startdate",
            "datetime",
            "when",
        ),
        "start_time": ("time", "appttime", "appointmenttime", "starts"),
        "end_time": ("endat", "end", "ends", "finish"),
        "duration": ("length", "apptlength", "pattern", "minutes", "durationminutes"),
        "provider": (
            "provnum",
            "provabbr",
            "practitioner",
            "staffmember",
            "staff",
            "doctor",
            "dentist",
            "clinician",
        ),
        "room": ("op", "operatory", "chair"),
        "service": (
            "treatment",
            "procedure",
            "procdescript",
            "reason",
            "appointmenttype",
            "type",
            "visittype",
        ),
        "status": ("aptstatus", "state", "appointmentstatus"),
        "notes": ("note", "comments", "comment"),
    },
    ImportKind.BALANCES.value: {
        "patient_chart_number": (
            "chartnumber",
            "chart",
            "chartno",
            "patnum",
            "patientnumber",
            "patientid",
            "account",
            "accountnumber",
        ),
        "balance": (
            "amount",
            "amountdue",
            "balancedue",
            "owing",
            "totalbalance",
            "patientbalance",
            "balfamily",
            "baltotal",
        ),
        "as_of": ("date", "asofdate", "balancedate"),
        "note": ("notes", "comment", "memo"),
    },
    ImportKind.CONTACTS.value: {},
}


def _build_synonyms() -> dict[str, dict[str, str]]:
    """header_key → field for each kind: labels and names first, then the synonyms, then
    every preset's headers (the first meaning a key is given wins)."""
    table: dict[str, dict[str, str]] = {}
    for kind, specs in FIELDS.items():
        words: dict[str, str] = {}
        for spec in specs:
            words.setdefault(header_key(spec.label), spec.name)
            words.setdefault(header_key(spec.name), spec.name)
        for name, synonyms in _SYNONYMS[kind].items():
            for synonym in synonyms:
                words.setdefault(synonym, name)
        if kind == ImportKind.CONTACTS.value:
            for synonym, name in CONTACT_HEADER_NAMES.items():
                words.setdefault(synonym, name)
        for by_kind in PRESETS.values():
            for header, name in by_kind.get(kind, {}).items():
                words.setdefault(header_key(header), name)
        table[kind] = words
    return table


SYNONYMS: dict[str, dict[str, str]] = _build_synonyms()
#: Every header word an import knows, of any kind: what tells read_source that a first row
#: names columns (its default once this module is imported).
KNOWN_HEADERS: frozenset[str] = frozenset(key for words in SYNONYMS.values() for key in words)
register_header_words(KNOWN_HEADERS)


@dataclass(frozen=True)
class ColumnMapping:
    """Which column (by index in the file) fills which field; unmapped columns are absent."""

    source: str
    kind: str
    columns: Mapping[int, str] = field(default_factory=dict)
    #: How dates like 03/04/2020 read: a key of DATE_ORDERS, or None (not chosen yet).
    date_order: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))

    def field_of(self, index: int) -> str | None:
        return self.columns.get(index)

    def column_of(self, name: str) -> int | None:
        """The (first) column mapped to the field ``name``, or None."""
        return next((i for i, f in sorted(self.columns.items()) if f == name), None)

    def problems(self, headers: Sequence[str], rows: Sequence[SourceRow] = ()) -> list[str]:
        """What keeps this mapping from being used, one sentence each: a column that is not
        in the file, a field the kind does not have, two columns on one field, a required
        field not mapped.  With the file's ``rows``, also a Date column holding no time of
        day while Start time is not mapped."""
        specs = {spec.name: spec for spec in FIELDS.get(self.kind, ())}
        if not specs:
            return [f"“{self.kind}” is not a kind of import."]
        found: list[str] = []
        on_field: dict[str, list[int]] = {}
        for index, name in sorted(self.columns.items()):
            if name not in specs:
                found.append(f"“{name}” is not a field {_an(self.kind)} import fills.")
                continue
            if not 0 <= index < len(headers):
                found.append(
                    f"Column {index + 1} is mapped to {specs[name].label}, but the file has "
                    f"{len(headers)} column{'' if len(headers) == 1 else 's'}."
                )
                continue
            on_field.setdefault(name, []).append(index)
        for name, indexes in on_field.items():
            if len(indexes) > 1:
                found.append(
                    f"{_columns_on_one([headers[i] for i in indexes])} mapped to "
                    f"{specs[name].label}: keep one of them."
                )
        found.extend(_missing(self.kind, set(on_field), specs))
        if self.date_order is not None and self.date_order not in DATE_ORDERS:
            found.append(f"“{self.date_order}” is not an order dates are read in.")
        if (
            rows
            and self.kind == ImportKind.APPOINTMENTS.value
            and "date" in on_field
            and "start_time" not in on_field
            and not _dates_hold_times(rows, on_field["date"][0])
        ):
            header = headers[on_field["date"][0]]
            found.append(
                f"The date column “{header}” holds no time of day: map a column to Start time."
            )
        return found


def _columns_on_one(names: Sequence[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    if len(quoted) == 2:
        return f"Two columns, {quoted[0]} and {quoted[1]}, are both"
    return f"The columns {', '.join(quoted[:-1])} and {quoted[-1]} are all"


def _missing(kind: str, mapped: set[str], specs: Mapping[str, FieldSpec]) -> list[str]:
    """The sentences for required fields (or pairs of alternatives) no column fills."""
    if kind == ImportKind.PATIENTS.value:
        if "full_name" in mapped or {"first_name", "last_name"} <= mapped:
            return []
        if "first_name" in mapped or "last_name" in mapped:
            other = "Last name" if "first_name" in mapped else "First name"
            return [f"Map a column to {other} too (or one to Full name instead of both)."]
        return [
            "No column gives the patient's name: map one to First name and one to Last name, "
            "or one to Full name."
        ]
    if kind == ImportKind.CONTACTS.value:
        if mapped & {"organization", "name"}:
            return []
        return ["No column gives the contact's name: map one to Organization or to Name."]
    noun = KIND_NOUNS[kind]
    return [
        f"No column is mapped to {spec.label}: every {noun} needs one."
        for spec in specs.values()
        if spec.required and spec.name not in mapped
    ]


def _dates_hold_times(rows: Sequence[SourceRow], index: int) -> bool:
    """Whether the first filled cells of the column hold a time of day (09:30, 9am)."""
    looked = 0
    for row in rows:
        cell = row.cells[index] if index < len(row.cells) else ""
        if not cell:
            continue
        if _HAS_TIME.search(cell):
            return True
        looked += 1
        if looked >= 20:
            break
    return False


# --- guessing ----------------------------------------------------------------------------------


def _kind(kind: ImportKind | str) -> str:
    try:
        return ImportKind(kind).value
    except ValueError:
        raise ValidationError(f"“{kind}” is not a kind of import.", field="kind") from None


def _key_columns(headers: Sequence[str]) -> dict[str, int]:
    """header_key → the first column with it."""
    keys: dict[str, int] = {}
    for index, header in enumerate(headers):
        keys.setdefault(header_key(header), index)
    return keys


def detect_source(kind: ImportKind | str, headers: Sequence[str]) -> str | None:
    """The system whose export these headers are: the preset covering most of its fields
    with them, at least half of its fields; None when no preset does."""
    kind = _kind(kind)
    present = set(_key_columns(headers))
    best: tuple[int, float] = (0, 0.0)
    found = None
    for source in SOURCES:
        preset = PRESETS[source].get(kind)
        if not preset:
            continue
        wanted = set(preset.values())
        covered = {name for header, name in preset.items() if header_key(header) in present}
        score = (len(covered), len(covered) / len(wanted))
        if len(covered) * 2 >= len(wanted) and score > best:
            best, found = score, source
    return found


def guess_mapping(
    kind: ImportKind | str, source_file: SourceFile, source: str | None = None
) -> ColumnMapping:
    """The mapping to offer for a file: the named source's preset (or the one its headers
    match), then synonyms for the columns left; each field is given one column at most."""
    kind = _kind(kind)
    headers = source_file.headers
    if source is None:
        source = detect_source(kind, headers) or GENERIC
    keys = _key_columns(headers)
    columns: dict[int, str] = {}
    used: set[str] = set()

    def give(index: int, name: str) -> None:
        if index not in columns and name not in used:
            columns[index] = name
            used.add(name)

    for header, name in PRESETS.get(source, {}).get(kind, {}).items():
        index = keys.get(header_key(header))
        if index is not None:
            give(index, name)
    synonyms = SYNONYMS[kind]
    for index, header in enumerate(headers):
        name = synonyms.get(header_key(header))
        if name is not None:
            give(index, name)
    if kind == ImportKind.PATIENTS.value and {"first_name", "last_name"} <= used:
        # First and last name say it already; a "Name" column too would only disagree.
        columns = {index: name for index, name in columns.items() if name != "full_name"}
    return ColumnMapping(source=source, kind=kind, columns=columns)


# --- the rows -----------------------------------------------------------------------------------


#: The fields whose cells hold a date (a day, or a day and a time): where a cell like
#: 03/04/2020 reads two ways and the user must choose the order (``ColumnMapping.date_order``).
DATE_FIELDS = frozenset({"date_of_birth", "deceased_on", "date", "end_time", "as_of"})


def date_columns(mapping: ColumnMapping) -> tuple[int, ...]:
    """The file's columns that ``mapping`` reads as dates, in the file's order."""
    return tuple(sorted(i for i, name in mapping.columns.items() if name in DATE_FIELDS))


def ambiguous_date(source_file: SourceFile, indexes: Sequence[int], *, today: date) -> str | None:
    """The first cell of the date columns ``indexes`` that reads two ways (03/04/2020), or
    None when every date there reads one way only (then no order need be asked).  It may
    read every row: call it off the GUI thread."""
    from app.services.imports.values import AmbiguousDate, parse_date

    seen: set[str] = set()
    for row in source_file.rows:
        cells = row.cells
        for index in indexes:
            cell = cells[index] if index < len(cells) else ""
            if not cell or cell in seen:
                continue
            seen.add(cell)
            try:
                parse_date(cell, None, today=today)
            except AmbiguousDate:
                return cell
            except ValueError:
                continue  # not a date at all: its row is refused with the reason later
    return None


def mapped_rows(source_file: SourceFile, mapping: ColumnMapping) -> list[MappedRow]:
    """Each row of the file as {field: its cell} for the mapped columns (a cell the row does
    not have reads as empty), with its line and the row's own cells."""
    pairs = sorted(mapping.columns.items())
    widest = max((index for index, _name in pairs), default=-1)
    result: list[MappedRow] = []
    append = result.append
    with paused_cycle_collection():
        for row in source_file.rows:
            cells = row.cells
            if len(cells) > widest:
                values = {name: cells[index] for index, name in pairs}
            else:
                count = len(cells)
                values = {name: cells[index] if index < count else "" for index, name in pairs}
            append(MappedRow(row.line, values, cells))
    return result


# --- JSON (the CLI's --mapping) -----------------------------------------------------------------


def _mapping_error(message: str) -> ValidationError:
    return ValidationError(message, field="mapping")


def mapping_from_json(
    data: bytes | str, source_file: SourceFile, kind: ImportKind | str
) -> ColumnMapping:
    """A mapping written as JSON — ``{"source": "Dentrix", "columns": {"Birth Date":
    "date_of_birth", "7": "email"}, "date_order": "MDY"}``, a column named by its header or
    its number (1 is the first) — applied to this file.  ValidationError naming what is wrong:
    not JSON, a column the file does not have, a field the kind does not have."""
    kind = _kind(kind)
    try:
        document = json.loads(data)
    except json.JSONDecodeError as error:
        raise _mapping_error(
            f"The mapping file is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})."
        ) from None
    except UnicodeDecodeError:
        raise _mapping_error("The mapping file is not UTF-8 text.") from None
    if not isinstance(document, dict) or not isinstance(document.get("columns"), dict):
        raise _mapping_error(
            'The mapping file must hold an object with "columns": {"column header": "field"}.'
        )
    written_kind = document.get("kind")
    if written_kind is not None and written_kind != kind:
        raise _mapping_error(
            f"The mapping file is for {written_kind!s} imports, not {kind}: choose the "
            f"{kind} mapping."
        )
    source = document.get("source", GENERIC)
    if not isinstance(source, str) or not source.strip() or len(source.strip()) > SOURCE_MAX:
        raise _mapping_error(
            f'The mapping\'s "source" must be the name of the system, up to {SOURCE_MAX} '
            "characters."
        )
    date_order = document.get("date_order")
    if date_order is not None and date_order not in DATE_ORDERS:
        raise _mapping_error(
            f'The mapping\'s "date_order" must be one of {", ".join(DATE_ORDERS)}, not '
            f"“{date_order}”."
        )
    fields_by_key = _field_keys(kind)
    headers = source_file.headers
    columns: dict[int, str] = {}
    for written, name in document["columns"].items():
        if name is None or name == "":
            continue  # written out as unmapped
        if not isinstance(name, str) or header_key(name) not in fields_by_key:
            known = ", ".join(spec.name for spec in FIELDS[kind])
            raise _mapping_error(
                f"The mapping puts the column “{written}” in “{name}”, which is not a field of "
                f"{_an(kind)} import ({known})."
            )
        index = _column_named(written, headers)
        if index in columns:
            raise _mapping_error(
                f"The mapping names the column “{headers[index]}” twice: keep one of them."
            )
        columns[index] = fields_by_key[header_key(name)]
    return ColumnMapping(source=source.strip(), kind=kind, columns=columns, date_order=date_order)


def _field_keys(kind: str) -> dict[str, str]:
    """A field's name or label, as header_key gives it → the field."""
    keys: dict[str, str] = {}
    for spec in FIELDS[kind]:
        keys[header_key(spec.name)] = spec.name
        keys.setdefault(header_key(spec.label), spec.name)
    return keys


def _column_named(written: str, headers: Sequence[str]) -> int:
    if written in headers:
        return headers.index(written)
    matches = [i for i, header in enumerate(headers) if header_key(header) == header_key(written)]
    if matches:
        return matches[0]
    text = written.strip()
    if text.isdigit():
        number = int(text)
        if 1 <= number <= len(headers):
            return number - 1
        raise _mapping_error(
            f"The mapping names column {number}, but the file has {len(headers)} "
            f"column{'' if len(headers) == 1 else 's'}."
        )
    shown = ", ".join(f"“{header}”" for header in headers[:12])
    more = " …" if len(headers) > 12 else ""
    raise _mapping_error(
        f"The mapping names a column “{written}” that the file does not have (its columns: "
        f"{shown}{more})."
    )


def mapping_to_json(mapping: ColumnMapping, headers: Sequence[str]) -> str:
    """The mapping as JSON, each column named by its header (what mapping_from_json reads)."""
    document = {
        "source": mapping.source,
        "kind": mapping.kind,
        "columns": {
            headers[index]: name
            for index, name in sorted(mapping.columns.items())
            if 0 <= index < len(headers)
        },
        "date_order": mapping.date_order,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- remembered per source ----------------------------------------------------------------------


def remembered_mapping(
    db: Database,
    actor: Actor,
    source: str,
    kind: ImportKind | str,
    source_file: SourceFile,
) -> ColumnMapping | None:
    """The mapping last kept for this source and kind, applied to this file by header text
    (a remembered header the file no longer has is left out); None if none was kept."""
    permissions.require(actor, Permission.IMPORT_DATA)
    kind = _kind(kind)
    with reading(db, actor) as session:
        row = session.execute(
            select(ImportMapping.columns, ImportMapping.options).where(
                ImportMapping.source == source, ImportMapping.kind == kind
            )
        ).first()
    if row is None:
        return None
    kept_columns = _json_object(row.columns)
    options = _json_object(row.options)
    names = {spec.name for spec in FIELDS[kind]}
    keys = _key_columns(source_file.headers)
    exact = {header: index for index, header in reversed(list(enumerate(source_file.headers)))}
    columns: dict[int, str] = {}
    for header, name in kept_columns.items():
        if name not in names or not isinstance(header, str):
            continue
        index = exact.get(header, keys.get(header_key(header)))
        if index is not None and index not in columns:
            columns[index] = name
    date_order = options.get("date_order")
    return ColumnMapping(
        source=source,
        kind=kind,
        columns=columns,
        date_order=date_order if date_order in DATE_ORDERS else None,
    )


def remember_mapping(
    db: Database, actor: Actor, mapping: ColumnMapping, headers: Sequence[str]
) -> None:
    """Keep the mapping for its source and kind (by header text, with its date order),
    replacing the one kept before; only those who may import data may."""
    permissions.require(actor, Permission.IMPORT_DATA)
    kind = _kind(mapping.kind)
    source = mapping.source.strip()
    if not source or len(source) > SOURCE_MAX:
        raise ValidationError(
            f"Name the system the file came from (up to {SOURCE_MAX} characters).",
            field="source",
        )
    columns = {
        headers[index]: name
        for index, name in sorted(mapping.columns.items())
        if 0 <= index < len(headers)
    }
    with unit_of_work(db, actor) as session:
        row = session.execute(
            select(ImportMapping).where(ImportMapping.source == source, ImportMapping.kind == kind)
        ).scalar_one_or_none()
        if row is None:
            row = ImportMapping(source=source, kind=kind)
            session.add(row)
            options: dict = {}
        else:
            options = _json_object(row.options)
        options["date_order"] = mapping.date_order
        new_columns = json.dumps(columns, ensure_ascii=False, sort_keys=True)
        new_options = json.dumps(options, ensure_ascii=False, sort_keys=True)
        # Unchanged values are not written: the audit names only what changed.
        if row.columns != new_columns:
            row.columns = new_columns
        if row.options != new_options:
            row.options = new_options


def _json_object(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
