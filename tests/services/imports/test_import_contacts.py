"""Importing contacts: the directory's own rules for each row and for what is a duplicate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.data.models.contacts import Contact
from app.data.models.imports import ImportKind
from app.services.contacts.directory import ContactForm, add_contact
from app.services.imports import batches
from tests.services.imports.builders import import_request


@pytest.fixture
def directory(clinic, owner) -> int:
    return add_contact(
        clinic.db,
        owner,
        ContactForm(kind="payer", organization="Delta Dental", phone="(800) 555-0100"),
    ).id


ROWS = [
    # 2: a new specialist.
    {
        "kind": "Specialist",
        "organization": "Bay Oral Surgery",
        "name": "Dr. Íñigo Ruiz",
        "phone": "207-555-0190",
        "fax": "207 555 0191",
        "send_records_by": "fax",
    },
    # 3: Delta Dental again (the same phone): skipped.
    {"kind": "insurance", "organization": "Delta Dental of Maine", "phone": "800.555.0100"},
    # 4: repeats line 2 by its fax.
    {"kind": "specialist", "name": "Someone Else", "phone": "207 555 0191"},
    # 5–8: what the contact form refuses.
    {"kind": "", "organization": "No Kind Inc"},
    {"kind": "Wizard", "organization": "Oz"},
    {"kind": "Lab", "organization": "Smile Lab", "send_records_by": "email"},
    {"kind": "Lab", "organization": "Smile Lab", "payer_id": "12345"},
    # 9: a payer with its payer id and eligibility line.
    {
        "kind": "payer",
        "organization": "Cigna",
        "payer_id": "62308",
        "eligibility_phone": "1-800-555-0123",
        "email": "Claims@Cigna.example",
    },
]


def test_the_dry_run_and_the_import_follow_the_directory_rules(clinic, owner, directory):
    request = import_request(ImportKind.CONTACTS, ROWS)

    preview = batches.dry_run(clinic.db, owner, request)
    outcome = batches.run_import(clinic.db, owner, request, skip_rejects=True)

    assert preview.summary() == (
        "2 contacts will be created, 0 updated, 2 skipped; 4 rows cannot be imported."
    )
    assert {r.line: r.reason for r in preview.skipped_rows} == {
        3: "Already in Contacts as Delta Dental (Insurance payer): same phone or fax number.",
        4: "Repeats line 2 of the file.",
    }
    reasons = {r.line: r.reason for r in preview.rejects}
    assert reasons[5] == "The kind is empty: say payer, specialist, lab …"
    assert reasons[6].startswith("“Wizard” is not a kind of contact")
    assert reasons[7].startswith("Records are to be sent by e-mail: type the e-mail address")
    assert reasons[8].startswith("Only an insurance payer has a payer ID")
    assert (outcome.created, outcome.skipped, outcome.rejected) == (2, 2, 4)
    assert outcome.changes.referrals
    with clinic.db.uow() as session:
        added = session.execute(
            select(
                Contact.kind,
                Contact.organisation,
                Contact.name,
                Contact.phone,
                Contact.fax,
                Contact.email,
                Contact.payer_id,
                Contact.send_records_by,
            )
            .where(Contact.id != directory)
            .order_by(Contact.id)
        ).all()
    assert added == [
        (
            "specialist",
            "Bay Oral Surgery",
            "Dr. Íñigo Ruiz",
            "+12075550190",
            "+12075550191",
            "",
            "",
            "fax",
        ),
        ("payer", "Cigna", "", "", "", "claims@cigna.example", "62308", ""),
    ]


def test_an_undone_contacts_import_leaves_the_directory_as_it_was(clinic, owner, directory):
    outcome = batches.run_import(
        clinic.db, owner, import_request(ImportKind.CONTACTS, ROWS), skip_rejects=True
    )

    undone = batches.undo_import(clinic.db, owner, outcome.batch_id)

    assert undone.deleted == 2 and undone.changes.referrals
    with clinic.db.uow() as session:
        assert session.scalars(select(Contact.id)).all() == [directory]
