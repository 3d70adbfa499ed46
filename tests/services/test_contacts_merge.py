"""Merging duplicate contacts: every reference moves onto the contact kept, in one
transaction; the bad cases are refused with nothing changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models import Base
from app.data.models.audit import AuditEntry
from app.data.models.communications import CommunicationEntry
from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.data.models.payments import Payment
from app.data.models.referrals import Referral
from app.services.contacts import directory, merging
from app.services.contacts.directory import ContactForm
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError

PAYER = ContactForm(kind="payer", organization="Delta Dental", phone="512 555 0100")
SPECIALIST = ContactForm(kind="specialist", organization="Hill Country Oral Surgery")


def add(clinic, actor, form, **changes) -> int:
    form = replace(form, **changes)
    return directory.add_contact(clinic.db, actor, form, allow_duplicate=True).id


def refer_to(clinic, patient_id: int, contact_id: int, payer: bool) -> None:
    """One row of every table that refers to contacts, pointing at ``contact_id``."""
    with clinic.db.uow() as session:
        session.add(
            CommunicationEntry(
                patient_id=patient_id, channel="call", direction="outbound", contact_id=contact_id
            )
        )
        if payer:
            session.add(InsurancePolicy(patient_id=patient_id, payer_id=contact_id, member_id="M"))
            session.add(
                Payment(
                    patient_id=patient_id,
                    method="insurance",
                    amount=Decimal("80.00"),
                    payer_contact_id=contact_id,
                )
            )
        else:
            for _ in range(2):
                session.add(
                    Referral(
                        patient_id=patient_id,
                        direction="outgoing",
                        contact_id=contact_id,
                        referred_on=date(2026, 3, 2),
                    )
                )


def references(clinic, contact_id: int) -> dict[str, int]:
    """How many rows of each table point at the contact: every foreign key to contacts.id."""
    counts = {}
    with clinic.db.uow() as session:
        for table_name, column_name in directory.contact_references():
            table = Base.metadata.tables[table_name]
            counts[f"{table_name}.{column_name}"] = session.scalar(
                select(func.count()).select_from(table).where(table.c[column_name] == contact_id)
            )
    return counts


def test_every_foreign_key_to_contacts_is_known():
    assert set(directory.contact_references()) == {
        ("communication_entries", "contact_id"),
        ("contacts", "merged_into_id"),
        ("insurance_policies", "payer_id"),
        # A message to a specialist's office moves to the contact kept, with its history.
        ("messages", "contact_id"),
        ("payments", "payer_contact_id"),
        ("referrals", "contact_id"),
    }


@pytest.mark.both_backends
@pytest.mark.parametrize("form", [PAYER, SPECIALIST], ids=["payers", "specialists"])
def test_a_merge_moves_every_reference_onto_the_contact_kept(clinic, owner, patient_id, form):
    kept = add(clinic, owner, form, email="")
    duplicate = add(clinic, owner, form, fax="512 555 0199", email="desk@example.com")
    older = add(clinic, owner, form, organization="Older copy")
    payer = form.kind == "payer"
    for contact_id in (kept, duplicate):
        refer_to(clinic, patient_id, contact_id, payer)
    merging.merge_contacts(clinic.db, owner, duplicate, older)  # an earlier merge
    before_kept, before_duplicate = references(clinic, kept), references(clinic, duplicate)

    preview = merging.merge_preview(clinic.db, owner, kept, duplicate)
    assert {f"{m.table}.{m.column}": m.count for m in preview.moves} == {
        k: v for k, v in before_duplicate.items() if v
    }
    assert preview.fills == ("fax", "e-mail")

    result = merging.merge_contacts(clinic.db, owner, kept, duplicate)

    after_kept, after_duplicate = references(clinic, kept), references(clinic, duplicate)
    assert set(after_duplicate.values()) == {0}
    expected = {k: before_kept[k] + before_duplicate[k] for k in before_kept}
    expected["contacts.merged_into_id"] += 1  # the duplicate itself
    assert after_kept == expected
    assert result.moved == {k: v for k, v in before_duplicate.items() if v}
    assert after_kept["contacts.merged_into_id"] == 2  # the older copy now points here too
    with clinic.db.uow() as session:
        gone = session.get(Contact, duplicate)
        assert (gone.is_active, gone.merged_into_id) == (False, kept)
        kept_row = session.get(Contact, kept)
        assert (kept_row.fax, kept_row.email) == ("+15125550199", "desk@example.com")
        audited = session.execute(
            select(AuditEntry.entity_id, AuditEntry.detail).where(
                AuditEntry.entity == "contacts", AuditEntry.detail.like("%merge%")
            )
        ).all()
    assert (kept, f"kept in merge with contact {duplicate}; moved: ") in [
        (i, d[: d.index("moved: ") + 7]) for i, d in audited
    ]
    assert any(i == duplicate and d.startswith(f"merged into contact {kept}") for i, d in audited)
    assert [c.id for c in directory.contact_choices(clinic.db, owner)] == [kept]


def _refusal_case(clinic, owner, case: str) -> tuple[int, int]:
    kept = add(clinic, owner, SPECIALIST)
    if case == "itself":
        return kept, kept
    if case == "inactive kept":
        duplicate = add(clinic, owner, SPECIALIST)
        directory.deactivate_contact(clinic.db, owner, kept)
        return kept, duplicate
    if case == "already merged":
        duplicate = add(clinic, owner, SPECIALIST)
        other = add(clinic, owner, SPECIALIST)
        merging.merge_contacts(clinic.db, owner, other, duplicate)
        return kept, duplicate
    if case == "merged kept":
        duplicate = add(clinic, owner, SPECIALIST)
        other = add(clinic, owner, SPECIALIST)
        merging.merge_contacts(clinic.db, owner, other, kept)
        return kept, duplicate
    if case == "payer into specialist":
        return kept, add(clinic, owner, PAYER)
    if case == "specialist into payer":
        return add(clinic, owner, PAYER), kept
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("itself", "a contact cannot be merged into itself"),
        ("inactive kept", "The contact kept must be active"),
        ("merged kept", "The contact kept must be active"),
        ("already merged", "That duplicate was already merged into Hill Country Oral Surgery"),
        ("payer into specialist", "A payer can be merged only into another payer"),
        ("specialist into payer", "Only another payer can be merged into a payer"),
    ],
)
def test_a_merge_that_cannot_be_right_is_refused_and_nothing_changes(
    clinic, owner, patient_id, case, message
):
    kept, duplicate = _refusal_case(clinic, owner, case)
    refer_to(clinic, patient_id, duplicate, payer=False)
    before = (references(clinic, kept), references(clinic, duplicate))
    with clinic.db.uow() as session:
        states = session.execute(
            select(Contact.id, Contact.is_active, Contact.merged_into_id, Contact.version)
        ).all()
    with pytest.raises(ValidationError, match=message):
        merging.merge_preview(clinic.db, owner, kept, duplicate)
    with pytest.raises(ValidationError, match=message):
        merging.merge_contacts(clinic.db, owner, kept, duplicate)
    assert (references(clinic, kept), references(clinic, duplicate)) == before
    with clinic.db.uow() as session:
        assert (
            session.execute(
                select(Contact.id, Contact.is_active, Contact.merged_into_id, Contact.version)
            ).all()
            == states
        )


def test_a_stale_copy_of_either_contact_refuses_the_merge(clinic, owner):
    kept = directory.add_contact(clinic.db, owner, SPECIALIST)
    duplicate = add(clinic, owner, SPECIALIST)
    directory.update_contact(clinic.db, owner, kept.id, kept.version, replace(kept.form, city="X"))
    with pytest.raises(ConcurrentEditError, match="The contact kept was changed"):
        merging.merge_contacts(clinic.db, owner, kept.id, duplicate, keep_version=kept.version)
    assert directory.get_contact(clinic.db, owner, duplicate).is_active


@pytest.mark.parametrize(
    ("role", "missing"),
    [("receptionist", "merge patient records"), ("provider", "add or change the clinic's")],
)
def test_merging_needs_both_rights(clinic, owner, make_staff, role, missing):
    actor = make_staff(f"{role}2", role)
    kept, duplicate = add(clinic, owner, SPECIALIST), add(clinic, owner, SPECIALIST)
    with pytest.raises(PermissionDeniedError, match=missing):
        merging.merge_contacts(clinic.db, actor, kept, duplicate)
    assert directory.get_contact(clinic.db, owner, duplicate).is_active


def test_a_merged_contact_cannot_be_edited_nor_reactivated(clinic, owner):
    kept, duplicate = add(clinic, owner, SPECIALIST), add(clinic, owner, SPECIALIST)
    merging.merge_contacts(clinic.db, owner, kept, duplicate)
    gone = directory.get_contact(clinic.db, owner, duplicate)
    assert gone.merged_into_name == "Hill Country Oral Surgery"
    with pytest.raises(ValidationError, match="merged into Hill Country Oral Surgery: it stays"):
        directory.reactivate_contact(clinic.db, owner, duplicate)
    with pytest.raises(ValidationError, match="change that one instead"):
        directory.update_contact(clinic.db, owner, duplicate, gone.version, gone.form)
