"""A simple CSV import into the contacts directory (the clinic's old address book, a
payer list): all or nothing, in one transaction.

The first line names the columns (matched to the contact's fields whatever their case,
spacing or punctuation: "E-mail", "ZIP", "Address 1", "Organisation" …).  The file may be
UTF-8 (with or without the mark Excel writes first) or Windows-1252; the result says which
it was read as.  A row the form's rules refuse is reported with its line number and the
reason, and then nothing is imported; a row that repeats a contact already in the
directory (or an earlier row) is skipped and reported.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.data.database import Database
from app.data.models.contacts import Contact, ContactKind, SendRecordsBy
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.contacts.directory import (
    COLUMN_OF,
    FORM_FIELDS,
    KIND_LABELS,
    ContactForm,
    DuplicateContact,
    duplicates_in,
    validate_contact,
)
from app.services.errors import ValidationError

MAX_IMPORT_BYTES = 5 * 1024 * 1024

#: A header cell (lower case, letters and digits only) → the form field it fills.
HEADER_NAMES: dict[str, str] = {
    "kind": "kind",
    "type": "kind",
    "contacttype": "kind",
    "organization": "organization",
    "organisation": "organization",
    "company": "organization",
    "practice": "organization",
    "name": "name",
    "contact": "name",
    "contactname": "name",
    "person": "name",
    "specialty": "specialty",
    "speciality": "specialty",
    "phone": "phone",
    "telephone": "phone",
    "phonenumber": "phone",
    "otherphone": "other_phone",
    "phone2": "other_phone",
    "mobile": "other_phone",
    "fax": "fax",
    "faxnumber": "fax",
    "email": "email",
    "emailaddress": "email",
    "address": "address_line1",
    "address1": "address_line1",
    "addressline1": "address_line1",
    "street": "address_line1",
    "address2": "address_line2",
    "addressline2": "address_line2",
    "city": "city",
    "town": "city",
    "region": "region",
    "state": "region",
    "province": "region",
    "postalcode": "postal_code",
    "postcode": "postal_code",
    "zip": "postal_code",
    "zipcode": "postal_code",
    "country": "country",
    "sendrecordsby": "send_records_by",
    "sendrecords": "send_records_by",
    "payerid": "payer_id",
    "eligibilityphone": "eligibility_phone",
    "notes": "notes",
    "note": "notes",
    "comments": "notes",
}
#: What a Kind cell may say (lower case) → the kind.
KIND_WORDS: dict[str, str] = {
    **{k.value.replace("_", " "): k.value for k in ContactKind},
    **{label.lower(): code for code, label in KIND_LABELS.items()},
    "referring_provider": ContactKind.REFERRING_PROVIDER.value,
    "referrer": ContactKind.REFERRING_PROVIDER.value,
    "insurance": ContactKind.PAYER.value,
    "insurer": ContactKind.PAYER.value,
    "laboratory": ContactKind.LAB.value,
}
#: What a "Send records by" cell may say (lower case) → how.
SEND_WORDS: dict[str, str] = {
    "": SendRecordsBy.UNSET.value,
    "fax": SendRecordsBy.FAX.value,
    "email": SendRecordsBy.EMAIL.value,
    "e-mail": SendRecordsBy.EMAIL.value,
    "mail": SendRecordsBy.POST.value,
    "post": SendRecordsBy.POST.value,
    "portal": SendRecordsBy.PORTAL.value,
}


@dataclass(frozen=True)
class ImportProblem:
    """A row of the file that was not imported: its line number and why."""

    line: int
    reason: str

    def sentence(self) -> str:
        return f"Line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportResult:
    dry_run: bool
    #: How the file was read: "UTF-8", "UTF-8 with byte order mark" or "Windows-1252".
    encoding: str
    #: The fields the header's columns were matched to, in the file's order.
    columns: tuple[str, ...]
    #: Header cells matched to no field (their columns were not read).
    ignored_columns: tuple[str, ...]
    #: Contacts added (a dry run: that would be added).
    added: int
    #: Rows that repeat a contact already there (or an earlier row): skipped.
    skipped: tuple[ImportProblem, ...]
    #: Rows the form's rules refuse: while there is one, nothing is imported.
    errors: tuple[ImportProblem, ...]

    @property
    def imported(self) -> bool:
        return not self.dry_run and not self.errors

    def summary(self) -> str:
        """One line saying what happened (or would happen)."""
        plural = "" if self.added == 1 else "s"
        if self.errors:
            bad = len(self.errors)
            rows = f"{bad} row{'' if bad == 1 else 's'} cannot be read as contacts"
            if self.dry_run:
                return f"{rows}: correct the file and choose it again. Nothing can be imported yet."
            return f"Nothing was imported: {rows}. Correct the file and import it again."
        what = "would be added" if self.dry_run else "added"
        skipped = len(self.skipped)
        tail = f"; {skipped} already in Contacts, skipped" if skipped else ""
        return f"{self.added} contact{plural} {what}{tail} (read as {self.encoding})."


class _Refused(Exception):
    """A refused import leaves the transaction (rolled back) carrying its result."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__()
        self.result = result


def check_import_size(size: int) -> None:
    """ValidationError when a file of ``size`` bytes is more than the import takes."""
    if size > MAX_IMPORT_BYTES:
        raise ValidationError(
            f"The file is {size / (1024 * 1024):.1f} MB; CareDesk imports up to "
            f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB of contacts at a time. Split it into "
            "smaller files.",
            field="file",
        )


def _decode(data: bytes) -> tuple[str, str]:
    """The file's text and how it was read; ValidationError for what is not a CSV text."""
    if not isinstance(data, bytes | bytearray):
        raise ValidationError("The file could not be read.", field="file")
    if not data:
        raise ValidationError(
            "The file is empty (0 bytes): choose the CSV file with the contacts.", field="file"
        )
    check_import_size(len(data))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationError(
            "The file is saved as UTF-16 text: save it again as “CSV UTF-8” and import that.",
            field="file",
        )
    if b"\x00" in data:
        raise ValidationError(
            "This is not a CSV text file (it holds binary data): export the contacts as CSV "
            "and import that file.",
            field="file",
        )
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), (
            "UTF-8 with byte order mark"
        )
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        raise ValidationError(
            "The file's text is in an encoding CareDesk cannot read: save it as “CSV UTF-8” "
            "and import that.",
            field="file",
        ) from None


def _header_key(cell: str) -> str:
    return re.sub(r"[^a-z0-9]", "", cell.casefold())


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _columns(header: list[str]) -> tuple[dict[int, str], list[str]]:
    mapped: dict[int, str] = {}
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for index, cell in enumerate(header):
        field = HEADER_NAMES.get(_header_key(cell))
        if field is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if field in seen:
            raise ValidationError(
                f"Two columns, “{seen[field]}” and “{cell.strip()}”, would both fill the "
                f"{field.replace('_', ' ')}: keep one of them.",
                field="file",
            )
        seen[field] = cell.strip()
        mapped[index] = field
    if not mapped:
        raise ValidationError(
            "The first line names no column CareDesk knows: it must hold the column names, "
            "like Kind, Organization, Name, Phone, Fax, Email.",
            field="file",
        )
    if "organization" not in mapped.values() and "name" not in mapped.values():
        raise ValidationError(
            "The file has no Organization or Name column, so no contact would have a name.",
            field="file",
        )
    return mapped, ignored


def _rows(text: str) -> tuple[dict[int, str], list[str], list[tuple[int, dict[str, str]]]]:
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationError("The file holds no lines.", field="file")
        mapped, ignored = _columns(header)
        rows = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            values = {
                field: cells[index] if index < len(cells) else "" for index, field in mapped.items()
            }
            rows.append((line, values))
    except csv.Error as exc:
        raise ValidationError(
            f"Line {reader.line_num} of the file cannot be read as CSV ({exc}).", field="file"
        ) from None
    return mapped, ignored, rows


def _form(values: dict[str, str], default_kind: str | None) -> ContactForm:
    kind_text = values.get("kind", "").strip()
    if kind_text:
        kind = KIND_WORDS.get(" ".join(kind_text.casefold().replace("_", " ").split()))
        if kind is None:
            known = ", ".join(KIND_LABELS.values())
            raise ValidationError(f"“{kind_text}” is not a kind of contact ({known}).")
    elif default_kind:
        kind = default_kind
    else:
        raise ValidationError("The kind is empty: say payer, specialist, lab …")
    send_text = values.get("send_records_by", "").strip().casefold()
    if send_text not in SEND_WORDS:
        raise ValidationError(
            f"“{values['send_records_by'].strip()}” is not a way to send records (fax, "
            "e-mail, mail or portal)."
        )
    form = {name: values.get(name, "") for name in FORM_FIELDS}
    form.update(kind=kind, send_records_by=SEND_WORDS[send_text])
    return ContactForm(**form)


def _keys(clean: ContactForm) -> set[tuple[str, str]]:
    keys = {("name", f"{clean.organization.lower()}\x1f{clean.name.lower()}")}
    keys |= {("number", n) for n in (clean.phone, clean.other_phone, clean.fax) if n}
    if clean.email:
        keys.add(("email", clean.email))
    return keys


def _duplicate_reason(matches: Iterable[DuplicateContact]) -> str:
    first = next(iter(matches))
    return f"already in Contacts as {first.sentence()}; skipped."


def import_contacts_csv(
    db: Database,
    actor: Actor,
    data: bytes,
    *,
    dry_run: bool,
    default_kind: str | None = None,
) -> ImportResult:
    """Read a CSV file of contacts and (unless ``dry_run``) add them, all in one
    transaction: any row the rules refuse means nothing is added; rows repeating a contact
    (already there, or earlier in the file) are skipped.  ``default_kind`` is the kind of
    rows whose Kind is empty (or of every row, without a Kind column).  ValidationError
    for a file that cannot be read as one (empty, binary, too large, no header)."""
    permissions.require(actor, Permission.MANAGE_CONTACTS)
    if default_kind is not None and default_kind not in KIND_LABELS:
        raise ValidationError("Choose what kind of contacts the file holds.", field="kind")
    text, encoding = _decode(bytes(data))
    mapped, ignored, rows = _rows(text)
    if "kind" not in mapped.values() and default_kind is None:
        raise ValidationError(
            "The file has no Kind column: choose the kind of every contact in it (payer, "
            "specialist …).",
            field="kind",
        )
    try:
        opened = reading(db, actor) if dry_run else unit_of_work(db, actor)
        with opened as session:
            result = _import(session, rows, encoding, mapped, ignored, dry_run, default_kind)
            if result.errors and not dry_run:
                raise _Refused(result)
            if not dry_run:
                record(
                    session,
                    AuditAction.CREATE,
                    entity="contacts",
                    detail=(
                        f"CSV import ({encoding}): {result.added} added, "
                        f"{len(result.skipped)} already there skipped"
                    ),
                )
            return result
    except _Refused as refused:
        return refused.result


def _import(session, rows, encoding, mapped, ignored, dry_run, default_kind) -> ImportResult:
    region = clinic_settings(session).country
    errors: list[ImportProblem] = []
    skipped: list[ImportProblem] = []
    seen: dict[tuple[str, str], int] = {}
    added = 0
    for line, values in rows:
        try:
            clean = validate_contact(_form(values, default_kind), region=region)
        except ValidationError as error:
            errors.append(ImportProblem(line, str(error)))
            continue
        earlier = next((seen[k] for k in _keys(clean) if k in seen), None)
        if earlier is not None:
            skipped.append(ImportProblem(line, f"repeats line {earlier}; skipped."))
            continue
        matches = duplicates_in(session, clean)
        if matches:
            skipped.append(ImportProblem(line, _duplicate_reason(matches)))
            continue
        for key in _keys(clean):
            seen[key] = line
        added += 1
        if not dry_run and not errors:
            session.add(
                Contact(**{COLUMN_OF[n]: getattr(clean, n) for n in FORM_FIELDS}, is_active=True)
            )
    if not dry_run and not errors:
        session.flush()
    return ImportResult(
        dry_run=dry_run,
        encoding=encoding,
        columns=tuple(mapped[i] for i in sorted(mapped)),
        ignored_columns=tuple(ignored),
        added=added if not errors else 0,
        skipped=tuple(skipped),
        errors=tuple(errors),
    )
