"""The contacts directory: the form's rules, search, add / edit / deactivate / reactivate,
the possible-duplicates warning and the pickers' choices."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from app.data.models.audit import AuditEntry
from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.services.contacts import directory
from app.services.contacts.directory import ContactForm, PossibleDuplicateError
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

PAYER = ContactForm(
    kind="payer",
    organization="Delta Dental of Texas",
    name="Provider services",
    phone="(512) 555-0100",
    payer_id="94276",
    eligibility_phone="800-555-0199",
)
SPECIALIST = ContactForm(
    kind="specialist",
    organization="Hill Country Oral Surgery",
    name="Dr. Maya Ortiz",
    specialty="Oral surgery",
    phone="512 555 0142",
    fax="512-555-0143",
    email="Referrals@HillCountryOS.example.com",
    send_records_by="fax",
)


def add(clinic, actor, form=SPECIALIST, **changes):
    return directory.add_contact(clinic.db, actor, replace(form, **changes))


def count(clinic, model, *where) -> int:
    with clinic.db.uow() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# --- the form's rules -----------------------------------------------------------------------------

LONG = "x" * 500


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "dentist"}, "kind", "Choose what kind of contact this is."),
        ({"kind": ""}, "kind", "Choose what kind of contact this is."),
        (
            {"organization": "  ", "name": "\t"},
            "organization",
            "Type the organization or the person's name.",
        ),
        ({"organization": LONG}, "organization", "the most it can hold is 160"),
        ({"name": LONG}, "name", "the most it can hold is 120"),
        ({"specialty": LONG}, "specialty", "the most it can hold is 80"),
        ({"city": LONG}, "city", "the most it can hold is 80"),
        ({"postal_code": LONG}, "postal_code", "the most it can hold is 20"),
        ({"notes": "n" * 4001}, "notes", "the most it can hold is 4,000"),
        ({"phone": "12"}, "phone", "The phone is not a phone number CareDesk can dial"),
        ({"other_phone": "call me"}, "other_phone", "The other phone is not a phone number"),
        ({"fax": "555"}, "fax", "The fax is not a phone number"),
        ({"email": "referrals at example"}, "email", "E-mail:"),
        ({"email": "a@b"}, "email", "E-mail:"),
        ({"country": "USA"}, "country", "two-letter code"),
        ({"country": "1X"}, "country", "two-letter code"),
        ({"payer_id": "12345"}, "payer_id", "Only an insurance payer has a payer ID"),
        (
            {"eligibility_phone": "512 555 0100"},
            "eligibility_phone",
            "Only an insurance payer has a eligibility phone",
        ),
        ({"send_records_by": "pigeon"}, "send_records_by", "Choose how records are sent"),
        ({"send_records_by": "fax", "fax": ""}, "fax", "type the fax number"),
        ({"send_records_by": "email", "email": ""}, "email", "type the e-mail address"),
        ({"send_records_by": "post"}, "address_line1", "type the address"),
    ],
)
def test_each_bad_input_is_refused_with_its_field_and_nothing_is_saved(
    clinic, owner, changes, field, message
):
    with pytest.raises(ValidationError) as refused:
        add(clinic, owner, **changes)
    assert refused.value.field == field
    assert message in str(refused.value)
    assert count(clinic, Contact) == 0


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"name": 5}, "The name must be text."),
        ({"organization": ["Delta"]}, "The organization must be text."),
        ({"send_records_by": ["fax"]}, "Choose how records are sent"),
        ({"notes": "An\ud800a"}, "broken character"),
        ({"city": "Aus\x00tin"}, None),  # a NUL is dropped as a control character
    ],
    ids=["number-for-a-name", "list-for-an-organization", "list-for-a-way", "surrogate", "nul"],
)
def test_what_no_form_should_hold_gets_a_sentence_and_saves_nothing(clinic, owner, changes, words):
    if words is None:
        assert add(clinic, owner, **changes).form.city == "Aus tin"
        return
    with pytest.raises(ValidationError, match=words):
        add(clinic, owner, **changes)
    assert count(clinic, Contact) == 0


@pytest.mark.parametrize("contact_id", [0, 2**31, 2**63, 2**70])
def test_an_id_past_any_contact_is_a_sentence(clinic, owner, contact_id):
    from app.services.errors import CareDeskError

    for call in (directory.get_contact, directory.deactivate_contact, directory.contact_choice):
        with pytest.raises(CareDeskError) as refused:
            call(clinic.db, owner, contact_id)
        assert "not in the directory" in str(refused.value) or "larger than CareDesk keeps" in str(
            refused.value
        )


def test_a_payer_field_on_a_payer_and_an_eligibility_phone_validate(clinic, owner):
    saved = add(clinic, owner, PAYER)
    assert saved.form.payer_id == "94276"
    assert saved.form.eligibility_phone == "(800) 555-0199"
    with clinic.db.uow() as session:
        row = session.get(Contact, saved.id)
        assert (row.phone, row.eligibility_phone) == ("+15125550100", "+18005550199")


def test_what_is_typed_is_tidied_phones_stored_as_e164_and_the_email_normalised(clinic, owner):
    saved = add(
        clinic,
        owner,
        organization="  Hill   Country\tOral Surgery ",
        country="us",
        notes=" line one\r\nline two ",
    )
    assert saved.form.organization == "Hill Country Oral Surgery"
    assert saved.form.phone == "(512) 555-0142"
    assert saved.form.country == "US"
    assert saved.form.notes == "line one\nline two"
    with clinic.db.uow() as session:
        row = session.get(Contact, saved.id)
        assert (row.organisation, row.phone, row.fax) == (
            "Hill Country Oral Surgery",
            "+15125550142",
            "+15125550143",
        )
        assert row.email == "referrals@hillcountryos.example.com"


def test_a_person_alone_or_an_organization_alone_is_a_contact(clinic, owner):
    alone = add(clinic, owner, organization="", fax="", send_records_by="", email="", phone="")
    assert alone.display_name == "Dr. Maya Ortiz"
    org = add(clinic, owner, PAYER, name="", phone="", payer_id="", eligibility_phone="")
    assert org.display_name == "Delta Dental of Texas"


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "may_read", "may_write"),
    [
        ("receptionist", True, True),
        ("coordinator", True, True),
        ("provider", True, False),
    ],
)
def test_who_may_read_and_change_the_directory(
    clinic, owner, make_staff, role, may_read, may_write
):
    actor = make_staff(f"{role}1", role)
    existing = add(clinic, owner, PAYER)
    if may_read:
        assert directory.get_contact(clinic.db, actor, existing.id).id == existing.id
    if may_write:
        assert add(clinic, actor).id
        return
    with pytest.raises(PermissionDeniedError, match="add or change the clinic's contacts"):
        add(clinic, actor)
    for write in (directory.deactivate_contact, directory.reactivate_contact):
        with pytest.raises(PermissionDeniedError):
            write(clinic.db, actor, existing.id)
    with pytest.raises(PermissionDeniedError):
        directory.update_contact(clinic.db, actor, existing.id, existing.version, PAYER)
    assert count(clinic, Contact) == 1


# --- listing and search -------------------------------------------------------------------------


@pytest.fixture
def directory_rows(clinic, owner):
    ids = {
        "delta": add(clinic, owner, PAYER).id,
        "ortiz": add(clinic, owner).id,
        "lab": add(
            clinic,
            owner,
            kind="lab",
            organization="Austin Dental Lab",
            name="",
            specialty="",
            phone="512 555 0177",
            fax="",
            email="orders@austinlab.example.com",
            send_records_by="email",
            city="Round Rock",
        ).id,
        "old": add(
            clinic,
            owner,
            kind="referring_provider",
            organization="Barton Creek Family Medicine",
            name="Dr. Ada Li",
            specialty="Family medicine",
            phone="",
            fax="",
            email="",
            send_records_by="",
        ).id,
    }
    directory.deactivate_contact(clinic.db, owner, ids["old"])
    return ids


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("search", "kind", "inactive", "expected"),
    [
        ("", None, False, ["lab", "delta", "ortiz"]),
        ("", None, True, ["lab", "old", "delta", "ortiz"]),
        ("", "payer", False, ["delta"]),
        ("ortiz", None, False, ["ortiz"]),
        ("ORAL surg", None, False, ["ortiz"]),  # words in any field, any case
        ("round rock", None, False, ["lab"]),
        ("austinlab", None, False, ["lab"]),  # the e-mail
        ("94276", None, False, ["delta"]),  # the payer ID
        ("(512) 555-0142", None, False, ["ortiz"]),  # a phone, as typed
        ("5550143", None, False, ["ortiz"]),  # the fax's digits
        ("555", "lab", False, ["lab"]),
        ("family", None, False, []),  # inactive
        ("family", None, True, ["old"]),
        ("100%_", None, False, []),  # LIKE's wildcards are text
        ("zzz", None, False, []),
    ],
)
def test_search_as_you_type_finds_by_each_field(
    clinic, owner, directory_rows, search, kind, inactive, expected
):
    lines = directory.list_contacts(
        clinic.db, owner, search=search, kind=kind, include_inactive=inactive
    )
    assert [line.id for line in lines] == [directory_rows[k] for k in expected]
    assert directory.count_contacts(
        clinic.db, owner, search=search, kind=kind, include_inactive=inactive
    ) == len(expected)


def test_the_list_pages_in_a_stable_order(clinic, owner):
    for n in range(7):
        add(clinic, owner, PAYER, organization=f"Payer {n:02d}", phone="", payer_id="", name="")
    first = directory.list_contacts(clinic.db, owner, offset=0, limit=4)
    rest = directory.list_contacts(clinic.db, owner, offset=4, limit=4)
    assert [c.organization for c in first + rest] == [f"Payer {n:02d}" for n in range(7)]


def test_a_missing_contact_is_said_so(clinic, owner):
    with pytest.raises(NotFoundError, match="not in the directory"):
        directory.get_contact(clinic.db, owner, 999)


# --- duplicates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"phone": "", "fax": "", "email": "", "send_records_by": ""}, "same name"),
        (
            {"organization": "HCOS", "phone": "", "email": "", "fax": "5125550142"},
            "same phone or fax number",
        ),
        (
            {"organization": "HCOS", "phone": "", "fax": "", "send_records_by": ""},
            "same e-mail address",
        ),
        ({"organization": "hill country ORAL surgery", "name": "dr. maya ortiz"}, "same name"),
    ],
)
def test_a_possible_duplicate_is_warned_of_and_saved_only_when_asked(
    clinic, owner, changes, reason
):
    first = add(clinic, owner)
    form = replace(SPECIALIST, **changes)
    with pytest.raises(PossibleDuplicateError) as warned:
        directory.add_contact(clinic.db, owner, form)
    (match,) = warned.value.matches
    assert match.id == first.id and reason in match.reasons
    assert "This may already be in Contacts: Hill Country Oral Surgery — Dr. Maya Ortiz" in str(
        warned.value
    )
    assert count(clinic, Contact) == 1
    assert [m.id for m in directory.possible_duplicates(clinic.db, owner, form)] == [first.id]
    directory.add_contact(clinic.db, owner, form, allow_duplicate=True)
    assert count(clinic, Contact) == 2


def test_different_contacts_are_not_duplicates(clinic, owner):
    add(clinic, owner)
    other = replace(
        SPECIALIST, organization="Other", phone="512 555 0111", fax="", email="", send_records_by=""
    )
    assert directory.possible_duplicates(clinic.db, owner, other) == []


# --- edit, deactivate, reactivate --------------------------------------------------------------


def test_an_edit_is_saved_and_a_stale_copy_refused(clinic, owner):
    saved = add(clinic, owner)
    changed = directory.update_contact(
        clinic.db, owner, saved.id, saved.version, replace(saved.form, city="Austin")
    )
    assert changed.form.city == "Austin" and changed.version == saved.version + 1
    with pytest.raises(ConcurrentEditError, match="This contact was changed by owner"):
        directory.update_contact(
            clinic.db, owner, saved.id, saved.version, replace(saved.form, city="Dallas")
        )
    assert directory.get_contact(clinic.db, owner, saved.id).form.city == "Austin"


def test_an_edit_that_makes_it_look_like_another_contact_is_warned_of(clinic, owner):
    first = add(clinic, owner)
    second = add(clinic, owner, PAYER)
    form = replace(second.form, phone=SPECIALIST.phone)
    with pytest.raises(PossibleDuplicateError):
        directory.update_contact(clinic.db, owner, second.id, second.version, form)
    saved = directory.update_contact(
        clinic.db, owner, second.id, second.version, form, allow_duplicate=True
    )
    assert saved.form.phone == "(512) 555-0142" and first.id != second.id
    # A later edit of something else does not warn again.
    directory.update_contact(clinic.db, owner, saved.id, saved.version, replace(form, notes="x"))


def test_a_payer_named_on_a_policy_stays_a_payer(clinic, owner, patient_id):
    payer = add(clinic, owner, PAYER)
    with clinic.db.uow() as session:
        session.add(InsurancePolicy(patient_id=patient_id, payer_id=payer.id, member_id="M1"))
    form = replace(payer.form, kind="other", payer_id="", eligibility_phone="")
    with pytest.raises(ValidationError, match="named on 1 insurance policies") as refused:
        directory.update_contact(clinic.db, owner, payer.id, payer.version, form)
    assert refused.value.field == "kind"
    assert directory.get_contact(clinic.db, owner, payer.id).form.kind == "payer"


def test_deactivating_keeps_every_reference_and_reactivating_brings_it_back(
    clinic, owner, patient_id
):
    payer = add(clinic, owner, PAYER)
    with clinic.db.uow() as session:
        session.add(InsurancePolicy(patient_id=patient_id, payer_id=payer.id, member_id="M1"))
    off = directory.deactivate_contact(clinic.db, owner, payer.id, payer.version)
    assert not off.is_active
    assert count(clinic, InsurancePolicy, InsurancePolicy.payer_id == payer.id) == 1
    assert [r.count for r in off.references if r.table == "insurance_policies"] == [1]
    assert directory.contact_choices(clinic.db, owner, kinds=["payer"]) == []
    with pytest.raises(ValidationError, match="already inactive"):
        directory.deactivate_contact(clinic.db, owner, payer.id)
    on = directory.reactivate_contact(clinic.db, owner, payer.id, off.version)
    assert on.is_active
    with pytest.raises(ValidationError, match="already active"):
        directory.reactivate_contact(clinic.db, owner, payer.id)
    assert [c.id for c in directory.contact_choices(clinic.db, owner, kinds=["payer"])] == [
        payer.id
    ]


def test_every_write_is_audited(clinic, owner):
    saved = add(clinic, owner)
    saved = directory.update_contact(
        clinic.db, owner, saved.id, saved.version, replace(saved.form, city="Austin")
    )
    saved = directory.deactivate_contact(clinic.db, owner, saved.id)
    directory.reactivate_contact(clinic.db, owner, saved.id)
    with clinic.db.uow() as session:
        actions = session.execute(
            select(AuditEntry.action, AuditEntry.fields)
            .where(AuditEntry.entity == "contacts", AuditEntry.entity_id == saved.id)
            .order_by(AuditEntry.id)
        ).all()
    assert actions == [
        ("create", ""),
        ("update", "city"),
        ("update", "is_active"),
        ("update", "is_active"),
    ]


# --- pickers -----------------------------------------------------------------------------------


def test_choices_are_active_of_the_kinds_asked_and_searched(clinic, owner, directory_rows):
    everyone = directory.contact_choices(clinic.db, owner)
    assert [c.id for c in everyone] == [directory_rows[k] for k in ("lab", "delta", "ortiz")]
    payers = directory.contact_choices(clinic.db, owner, kinds=["payer"], search="delta")
    assert [(c.label, c.detail) for c in payers] == [
        ("Delta Dental of Texas — Provider services", "payer ID 94276 · (512) 555-0100")
    ]
    assert (
        directory.contact_choices(clinic.db, owner, kinds=["lab", "specialist"], limit=1)[0].id
        == directory_rows["lab"]
    )
    former = directory.contact_choice(clinic.db, owner, directory_rows["old"])
    assert former.label == "Barton Creek Family Medicine — Dr. Ada Li" and not former.is_active
