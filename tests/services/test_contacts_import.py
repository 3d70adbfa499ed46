"""The simple CSV import of contacts: encodings, headers, bad rows with their line numbers,
duplicates skipped, all or nothing, a dry run that changes nothing."""

from __future__ import annotations

import codecs
import re

import pytest
from sqlalchemy import func, select

from app.data.models.audit import AuditEntry
from app.data.models.contacts import Contact
from app.services.contacts import directory
from app.services.contacts.directory import ContactForm
from app.services.contacts.importing import MAX_IMPORT_BYTES, import_contacts_csv
from app.services.errors import PermissionDeniedError, ValidationError

GOOD = (
    "Kind,Organisation,Name,Speciality,Phone,E-mail,Address 1,City,State,ZIP,Send records by,"
    "Payer ID,Eligibility phone,Favourite colour\n"
    "payer,Delta Dental,Provider services,,512 555 0100,,,,,,,94276,800 555 0199,blue\n"
    'Specialist,"Ortiz, Oral Surgery",Dr. Maya Ortiz,Oral surgery,(512) 555-0142,'
    "maya@example.com,1 Main St,Austin,TX,78701,E-mail,,,\n"
    "\n"
    "LAB,Austin Dental Lab,,,512-555-0177,,,,,,,,,\n"
)


def contacts(clinic) -> list[tuple[str, str, str]]:
    with clinic.db.uow() as session:
        return session.execute(
            select(Contact.kind, Contact.organisation, Contact.phone).order_by(Contact.id)
        ).all()


def test_a_dry_run_says_what_would_be_added_and_adds_nothing(clinic, owner):
    result = import_contacts_csv(clinic.db, owner, GOOD.encode(), dry_run=True)
    assert (result.added, result.errors, result.skipped) == (3, (), ())
    assert result.encoding == "UTF-8"
    assert result.ignored_columns == ("Favourite colour",)
    assert result.columns[:3] == ("kind", "organization", "name")
    assert result.summary() == "3 contacts would be added (read as UTF-8)."
    assert not result.imported
    assert contacts(clinic) == []


def test_the_import_adds_every_row_in_one_audited_transaction(clinic, owner):
    result = import_contacts_csv(clinic.db, owner, GOOD.encode(), dry_run=False)
    assert result.imported and result.added == 3
    assert contacts(clinic) == [
        ("payer", "Delta Dental", "+15125550100"),
        ("specialist", "Ortiz, Oral Surgery", "+15125550142"),
        ("lab", "Austin Dental Lab", "+15125550177"),
    ]
    (ortiz,) = directory.list_contacts(clinic.db, owner, search="ortiz")
    details = directory.get_contact(clinic.db, owner, ortiz.id)
    assert (details.form.city, details.form.region, details.form.postal_code) == (
        "Austin",
        "TX",
        "78701",
    )
    assert details.form.send_records_by == "email" and details.form.specialty == "Oral surgery"
    with clinic.db.uow() as session:
        (detail,) = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.detail.like("CSV import%"))
        ).all()
    assert detail == "CSV import (UTF-8): 3 added, 0 already there skipped"


@pytest.mark.parametrize(
    ("prefix", "encoding", "text_encoding"),
    [
        (b"", "UTF-8", "utf-8"),
        (codecs.BOM_UTF8, "UTF-8 with byte order mark", "utf-8"),
        (b"", "Windows-1252", "cp1252"),
    ],
)
def test_utf8_its_byte_order_mark_and_windows_1252_are_read_and_said(
    clinic, owner, prefix, encoding, text_encoding
):
    data = prefix + "Kind;Name;City\nspecialist;Dr. Zoë Nuñez;Ciudad Juárez\n".encode(text_encoding)
    result = import_contacts_csv(clinic.db, owner, data, dry_run=False)
    assert result.encoding == encoding and result.added == 1
    (line,) = directory.list_contacts(clinic.db, owner)
    assert (line.name, line.city) == ("Dr. Zoë Nuñez", "Ciudad Juárez")


@pytest.mark.both_backends
def test_one_bad_row_means_nothing_is_imported_and_each_is_said_with_its_line(clinic, owner):
    data = (
        GOOD
        + "dentist,Somebody,,,,,,,,,,,,\n"  # line 6
        + ",,,,512 555 0111,,,,,,,,,\n"  # line 7
        + 'specialist,"Multi\nline",,,12,,,,,,,,,\n'  # lines 8-9
        + "lab,Lab Two,,,,,,,,,post,,,\n"  # line 10
    )
    for dry_run in (True, False):
        result = import_contacts_csv(clinic.db, owner, data.encode(), dry_run=dry_run)
        assert [(p.line, p.reason) for p in result.errors] == [
            (
                6,
                "“dentist” is not a kind of contact (Insurance payer, Specialist, Referring "
                "provider, Lab, Pharmacy, Clinic, Other).",
            ),
            (7, "The kind is empty: say payer, specialist, lab …"),
            (
                8,
                "The phone is not a phone number CareDesk can dial: check its digits and area "
                "code.",
            ),
            (10, "Records are to be sent by mail: type the address, or choose another way."),
        ]
        assert result.added == 0 and not result.imported
        assert result.summary() == (
            "4 rows cannot be read as contacts: correct the file and choose it again. Nothing "
            "can be imported yet."
            if dry_run
            else "Nothing was imported: 4 rows cannot be read as contacts. Correct the file and "
            "import it again."
        )
    assert contacts(clinic) == []


def test_rows_already_in_contacts_or_repeated_are_skipped_and_said(clinic, owner):
    directory.add_contact(
        clinic.db, owner, ContactForm(kind="payer", organization="Aetna", phone="512 555 0100")
    )
    data = (
        "kind,organization,phone\n"
        "payer,Delta Dental,512 555 0100\n"  # Aetna's phone
        "payer,Cigna,512 555 0101\n"
        "payer,Cigna Dental,512 555 0101\n"  # the row before's phone
    )
    result = import_contacts_csv(clinic.db, owner, data.encode(), dry_run=False)
    assert result.added == 1
    assert [(p.line, p.reason) for p in result.skipped] == [
        (
            2,
            "already in Contacts as Aetna (Insurance payer): same phone or fax number; skipped.",
        ),
        (4, "repeats line 3; skipped."),
    ]
    assert result.summary() == "1 contact added; 2 already in Contacts, skipped (read as UTF-8)."
    assert [c[1] for c in contacts(clinic)] == ["Aetna", "Cigna"]


def test_a_default_kind_fills_empty_kinds_or_a_file_without_the_column(clinic, owner):
    data = b"Company,Phone\nWalgreens #112,512 555 0160\n"
    with pytest.raises(ValidationError, match="The file has no Kind column"):
        import_contacts_csv(clinic.db, owner, data, dry_run=True)
    result = import_contacts_csv(clinic.db, owner, data, dry_run=False, default_kind="pharmacy")
    assert result.added == 1 and contacts(clinic)[0][0] == "pharmacy"
    with pytest.raises(ValidationError, match="Choose what kind of contacts"):
        import_contacts_csv(clinic.db, owner, data, dry_run=True, default_kind="dentist")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file (it holds binary data)"),
        ("Kind,Name\n".encode("utf-16"), "saved as UTF-16"),
        (b"Patient,DOB\nAna,1980-01-01\n", "The first line names no column CareDesk knows"),
        (b"kind,phone\npayer,512 555 0100\n", "no Organization or Name column"),
        (b"Name,Contact\nx,y\n", "Two columns, “Name” and “Contact”"),
        (b"Kind,Name\n" + b"x" * MAX_IMPORT_BYTES, "CareDesk imports up to 5 MB"),
        (b"Kind,Name\n\x81\x8d\x8f\n", "an encoding CareDesk cannot read"),
    ],
    ids=["empty", "binary", "utf16", "no-header", "no-name", "twice", "large", "undecodable"],
)
def test_a_file_that_cannot_be_imported_is_refused_with_its_reason(clinic, owner, data, message):
    with pytest.raises(ValidationError, match=re.escape(message)) as refused:
        import_contacts_csv(clinic.db, owner, data, dry_run=False)
    assert refused.value.field == "file"
    assert contacts(clinic) == []


def test_importing_needs_the_right_to_change_contacts(clinic, make_staff):
    provider = make_staff("prov", "provider")
    with pytest.raises(PermissionDeniedError):
        import_contacts_csv(clinic.db, provider, GOOD.encode(), dry_run=True)
    with clinic.db.uow() as session:
        assert session.scalar(select(func.count(Contact.id))) == 0
