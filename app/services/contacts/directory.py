"""The contacts directory: reading it, the contact form's rules, adding, changing,
deactivating and reactivating a contact, the possible-duplicates warning, and the short
list of choices a picker shows.

A contact is never deleted once something refers to it (the database refuses: ON DELETE
RESTRICT); it is deactivated instead, and every reference stays.  Phones are stored as
E.164 and shown in their country's national format; e-mails are stored normalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models import Base
from app.data.models.contacts import Contact, ContactKind, SendRecordsBy
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import CareDeskError, NotFoundError, ValidationError
from app.services.patients.phones import display_phone, normalise_phone
from app.services.patients.tasks import tidy_text

#: What each kind is called on screen, in the order the kind lists show them.
KIND_LABELS: dict[str, str] = {
    ContactKind.PAYER.value: "Insurance payer",
    ContactKind.SPECIALIST.value: "Specialist",
    ContactKind.REFERRING_PROVIDER.value: "Referring provider",
    ContactKind.LAB.value: "Lab",
    ContactKind.PHARMACY.value: "Pharmacy",
    ContactKind.CLINIC.value: "Clinic",
    ContactKind.OTHER.value: "Other",
}
#: How records may be sent, as the form lists them ("" = not said).
SEND_RECORDS_LABELS: dict[str, str] = {
    SendRecordsBy.UNSET.value: "Not said",
    SendRecordsBy.FAX.value: "Fax",
    SendRecordsBy.EMAIL.value: "E-mail",
    SendRecordsBy.POST.value: "Mail",
    SendRecordsBy.PORTAL.value: "Their portal",
}

#: The form's fields that hold a phone number (stored as E.164).
PHONE_FIELDS = ("phone", "other_phone", "fax", "eligibility_phone")
#: The numbers that make two contacts look like one (the eligibility line is a payer's
#: call centre, shared by many of its plans).
_DUPLICATE_PHONE_FIELDS = ("phone", "other_phone", "fax")
#: The fields only a payer has.
PAYER_FIELDS = ("payer_id", "eligibility_phone")
NOTES_MAX = 4000
#: The most rows one page of the list (or one picker) asks for.
MAX_PAGE = 1000


@dataclass(frozen=True)
class ContactForm:
    """Everything the contact dialog edits (phones as typed; stored as E.164)."""

    kind: str
    organization: str = ""
    name: str = ""
    specialty: str = ""
    phone: str = ""
    other_phone: str = ""
    fax: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    send_records_by: str = ""
    payer_id: str = ""
    eligibility_phone: str = ""
    notes: str = ""


FORM_FIELDS = tuple(f.name for f in fields(ContactForm))
#: Form field → the column that stores it (the schema spells one of them the British way).
COLUMN_OF = {name: ("organisation" if name == "organization" else name) for name in FORM_FIELDS}

#: (label as a sentence names it, longest text the column holds) of each text field.
_TEXT_RULES: dict[str, tuple[str, int]] = {
    "organization": ("organization", 160),
    "name": ("name", 120),
    "specialty": ("specialty", 80),
    "phone": ("phone", 40),
    "other_phone": ("other phone", 40),
    "fax": ("fax", 40),
    "email": ("e-mail address", 254),
    "address_line1": ("first address line", 120),
    "address_line2": ("second address line", 120),
    "city": ("city", 80),
    "region": ("state or region", 80),
    "postal_code": ("ZIP or postal code", 20),
    "country": ("country", 40),
    "payer_id": ("payer ID", 40),
    "eligibility_phone": ("eligibility phone", 40),
    "notes": ("notes", NOTES_MAX),
}
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class ContactLine:
    """One row of the directory's list."""

    id: int
    kind: str
    organization: str
    name: str
    specialty: str
    phone: str  # national format
    email: str
    city: str
    is_active: bool
    merged_into_id: int | None

    @property
    def display_name(self) -> str:
        return display_name(self.organization, self.name)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class ReferenceCount:
    """How many rows of one table refer to a contact through one column."""

    table: str
    column: str
    label: str
    count: int


@dataclass(frozen=True)
class ContactDetails:
    """One contact as the details panel and the edit dialog show it (phones displayed in
    their national format, ready to edit)."""

    id: int
    version: int
    form: ContactForm
    is_active: bool
    merged_into_id: int | None
    merged_into_name: str
    references: tuple[ReferenceCount, ...]

    @property
    def display_name(self) -> str:
        return display_name(self.form.organization, self.form.name)

    @property
    def referenced(self) -> bool:
        return any(r.count for r in self.references)


@dataclass(frozen=True)
class DuplicateContact:
    """An existing contact that looks like the one being saved, and why."""

    id: int
    display_name: str
    kind: str
    is_active: bool
    reasons: tuple[str, ...]

    def sentence(self) -> str:
        state = "" if self.is_active else ", inactive"
        return f"{self.display_name} ({KIND_LABELS.get(self.kind, self.kind)}{state}): " + (
            ", ".join(self.reasons)
        )


class PossibleDuplicateError(CareDeskError):
    """The contact looks like one already in the directory; nothing was saved.  Save again
    with ``allow_duplicate=True`` to keep both ("Save anyway")."""

    def __init__(self, matches: Sequence[DuplicateContact]) -> None:
        self.matches = tuple(matches)
        first = self.matches[0]
        more = len(self.matches) - 1
        others = f" and {more} more" if more else ""
        super().__init__(
            f"This may already be in Contacts: {first.sentence()}{others}. Nothing was saved: "
            "save anyway to keep both, or use the contact that is there."
        )


@dataclass(frozen=True)
class ContactChoice:
    """One line of a contact picker: the name to show, what tells two apart."""

    id: int
    kind: str
    label: str
    detail: str
    is_active: bool = True


def display_name(organization: str, name: str) -> str:
    """ "Organization — Person", or whichever of the two there is."""
    if organization and name:
        return f"{organization} — {name}"
    return organization or name


# --- the form's rules ----------------------------------------------------------------------------


def validate_contact(form: ContactForm, *, region: str) -> ContactForm:
    """A tidied copy of ``form`` with phones as E.164 and the e-mail normalised; the first
    problem found is raised (ValidationError naming its field).  ``region``: the clinic's
    country, for phones typed without one."""
    if not isinstance(form.kind, str) or form.kind not in KIND_LABELS:
        raise ValidationError("Choose what kind of contact this is.", field="kind")
    clean: dict[str, str] = {}
    for name, (label, longest) in _TEXT_RULES.items():
        clean[name] = tidy_text(
            getattr(form, name), name, label=label, max_length=longest, multiline=name == "notes"
        )
    if not clean["organization"] and not clean["name"]:
        raise ValidationError("Type the organization or the person's name.", field="organization")
    country = clean["country"].upper()
    if country and not _COUNTRY.fullmatch(country):
        raise ValidationError(
            "Type the country as its two-letter code (US, CA, MX …), or leave it empty.",
            field="country",
        )
    clean["country"] = country
    for name in PHONE_FIELDS:
        if clean[name]:
            try:
                clean[name] = normalise_phone(clean[name], country or region)
            except ValueError:
                label = _TEXT_RULES[name][0]
                raise ValidationError(
                    f"The {label} is not a phone number CareDesk can dial: check its digits "
                    "and area code.",
                    field=name,
                ) from None
    if clean["email"]:
        try:
            checked = validate_email(clean["email"], check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"E-mail: {exc}", field="email") from None
        clean["email"] = checked.normalized.casefold()
    if form.kind != ContactKind.PAYER.value:
        for name in PAYER_FIELDS:
            if clean[name]:
                label = _TEXT_RULES[name][0]
                raise ValidationError(
                    f"Only an insurance payer has a {label}: clear it, or make the contact "
                    "a payer.",
                    field=name,
                )
    send = form.send_records_by or ""
    if not isinstance(send, str) or send not in SEND_RECORDS_LABELS:
        raise ValidationError("Choose how records are sent to this contact.", "send_records_by")
    needs = {
        SendRecordsBy.FAX.value: ("fax", "fax number"),
        SendRecordsBy.EMAIL.value: ("email", "e-mail address"),
        SendRecordsBy.POST.value: ("address_line1", "address"),
    }
    if send in needs and not clean[needs[send][0]]:
        field, what = needs[send]
        raise ValidationError(
            f"Records are to be sent by {SEND_RECORDS_LABELS[send].lower()}: type the "
            f"{what}, or choose another way.",
            field=field,
        )
    clean["send_records_by"] = send
    clean["kind"] = form.kind
    return replace(form, **clean)


# --- reading --------------------------------------------------------------------------------------


def _sort_key() -> tuple[ColumnElement, ...]:
    shown = case((Contact.organisation != "", Contact.organisation), else_=Contact.name)
    return (func.lower(shown), func.lower(Contact.name), Contact.id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_PHONE_LIKE = re.compile(r"[\d\s().+\-/]+")


def _search_filter(search: str) -> ColumnElement | None:
    """Every word typed is in the name, organization, specialty, city or e-mail — or, when
    the whole text looks like a phone number, its digits are in one of the numbers."""
    text = " ".join((search or "").split())
    if not text:
        return None
    words = []
    for word in text.split():
        pattern = _like(word)
        words.append(
            or_(
                Contact.organisation.ilike(pattern, escape="\\"),
                Contact.name.ilike(pattern, escape="\\"),
                Contact.specialty.ilike(pattern, escape="\\"),
                Contact.city.ilike(pattern, escape="\\"),
                Contact.email.ilike(pattern, escape="\\"),
                Contact.payer_id.ilike(pattern, escape="\\"),
            )
        )
    found = and_(*words)
    digits = re.sub(r"\D", "", text)
    if _PHONE_LIKE.fullmatch(text) and len(digits) >= 3:
        pattern = _like(digits)
        numbers = [getattr(Contact, name).like(pattern, escape="\\") for name in PHONE_FIELDS]
        found = or_(found, *numbers)
    return found


def _filters(
    search: str, kinds: Iterable[str] | None, include_inactive: bool
) -> list[ColumnElement]:
    where: list[ColumnElement] = []
    found = _search_filter(search)
    if found is not None:
        where.append(found)
    kinds = [k for k in (kinds or ()) if k]
    if kinds:
        where.append(Contact.kind.in_(kinds))
    if not include_inactive:
        where.append(Contact.is_active)
    return where


def _kinds(kind: str | Iterable[str] | None) -> list[str]:
    if kind is None:
        return []
    if isinstance(kind, str):
        return [kind] if kind else []
    return list(kind)


def contact_line(c: Contact) -> ContactLine:
    return ContactLine(
        id=c.id,
        kind=c.kind,
        organization=c.organisation,
        name=c.name,
        specialty=c.specialty,
        phone=display_phone(c.phone),
        email=c.email,
        city=c.city,
        is_active=c.is_active,
        merged_into_id=c.merged_into_id,
    )


def _page(offset: int, limit: int) -> tuple[int, int]:
    return max(0, int(offset)), max(0, min(int(limit), MAX_PAGE))


def list_contacts(
    db: Database,
    actor: Actor,
    *,
    search: str = "",
    kind: str | Iterable[str] | None = None,
    include_inactive: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[ContactLine]:
    """One page of the directory, by name: what ``search`` finds (words in the name,
    organization, specialty, city, e-mail or payer ID; a phone's digits), of ``kind``,
    active contacts only unless ``include_inactive``."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    offset, limit = _page(offset, limit)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(Contact)
            .where(*_filters(search, _kinds(kind), include_inactive))
            .order_by(*_sort_key())
            .offset(offset)
            .limit(limit)
        )
        return [contact_line(c) for c in rows]


def count_contacts(
    db: Database,
    actor: Actor,
    *,
    search: str = "",
    kind: str | Iterable[str] | None = None,
    include_inactive: bool = False,
) -> int:
    """How many contacts :func:`list_contacts` would list in all."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return session.scalar(
            select(func.count(Contact.id)).where(*_filters(search, _kinds(kind), include_inactive))
        )


#: What a reference from each table is called: (one, several) — "1 referral", "3 referrals".
REFERENCE_LABELS = {
    ("referrals", "contact_id"): ("referral", "referrals"),
    ("insurance_policies", "payer_id"): ("insurance policy", "insurance policies"),
    ("payments", "payer_contact_id"): ("payment from the payer", "payments from the payer"),
    ("communication_entries", "contact_id"): ("contact log entry", "contact log entries"),
    ("contacts", "merged_into_id"): ("contact merged into it", "contacts merged into it"),
}


def contact_references() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to contacts.id, from the models' metadata
    (a table added later is found without a change here)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "contacts" and fk.column.name == "id":
                found.append((table.name, fk.parent.name))
    return found


def reference_label(table: str, column: str, count: int = 2) -> str:
    """What ``count`` references from ``table.column`` are called ("2 referrals")."""
    one, several = REFERENCE_LABELS.get((table, column), (table.replace("_", " "),) * 2)
    return one if count == 1 else several


def reference_counts(session: Session, contact_id: int) -> tuple[ReferenceCount, ...]:
    """How many rows refer to the contact, table by table (caller's session)."""
    counts = []
    for table_name, column_name in contact_references():
        table = Base.metadata.tables[table_name]
        number = session.scalar(
            select(func.count()).select_from(table).where(table.c[column_name] == contact_id)
        )
        counts.append(
            ReferenceCount(
                table_name, column_name, reference_label(table_name, column_name, number), number
            )
        )
    return tuple(counts)


def contact_or_error(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id) if isinstance(contact_id, int) else None
    if contact is None:
        raise NotFoundError("That contact is not in the directory (any more).")
    return contact


def _form_of(c: Contact) -> ContactForm:
    values = {name: getattr(c, COLUMN_OF[name]) for name in FORM_FIELDS}
    for name in PHONE_FIELDS:
        values[name] = display_phone(values[name])
    return ContactForm(**values)


def details_of(session: Session, c: Contact) -> ContactDetails:
    merged_into = session.get(Contact, c.merged_into_id) if c.merged_into_id else None
    return ContactDetails(
        id=c.id,
        version=c.version,
        form=_form_of(c),
        is_active=c.is_active,
        merged_into_id=c.merged_into_id,
        merged_into_name=display_name(merged_into.organisation, merged_into.name)
        if merged_into
        else "",
        references=reference_counts(session, c.id),
    )


def get_contact(db: Database, actor: Actor, contact_id: int) -> ContactDetails:
    """One contact, whole, with how many rows refer to it."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return details_of(session, contact_or_error(session, contact_id))


# --- possible duplicates -------------------------------------------------------------------------


def _numbers(values: dict[str, str]) -> set[str]:
    return {values[name] for name in _DUPLICATE_PHONE_FIELDS if values.get(name)}


def duplicates_in(
    session: Session, clean: ContactForm, *, exclude_id: int | None = None
) -> list[DuplicateContact]:
    """Contacts (merged ones left out) with the same organization and name, a phone or fax
    in common, or the same e-mail as the validated ``clean`` form."""
    values = {name: getattr(clean, name) for name in FORM_FIELDS}
    numbers = _numbers(values)
    org, name, email = clean.organization.lower(), clean.name.lower(), clean.email
    alternatives: list[ColumnElement] = [
        and_(func.lower(Contact.organisation) == org, func.lower(Contact.name) == name)
    ]
    if numbers:
        alternatives += [Contact.phone.in_(numbers), Contact.other_phone.in_(numbers)]
        alternatives.append(Contact.fax.in_(numbers))
    if email:
        alternatives.append(Contact.email == email)
    query = select(Contact).where(or_(*alternatives), Contact.merged_into_id.is_(None))
    if exclude_id is not None:
        query = query.where(Contact.id != exclude_id)
    matches = []
    for c in session.scalars(query.order_by(*_sort_key()).limit(20)):
        reasons = []
        if c.organisation.lower() == org and c.name.lower() == name:
            reasons.append("same name")
        if numbers & {c.phone, c.other_phone, c.fax} - {""}:
            reasons.append("same phone or fax number")
        if email and c.email == email:
            reasons.append("same e-mail address")
        if reasons:
            matches.append(
                DuplicateContact(
                    c.id, display_name(c.organisation, c.name), c.kind, c.is_active, tuple(reasons)
                )
            )
    return matches


def possible_duplicates(
    db: Database, actor: Actor, form: ContactForm, *, exclude_id: int | None = None
) -> list[DuplicateContact]:
    """Contacts that look like ``form`` (see :func:`duplicates_in`); a form that does not
    validate raises its ValidationError."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        clean = validate_contact(form, region=clinic_settings(session).country)
        return duplicates_in(session, clean, exclude_id=exclude_id)


# --- writing --------------------------------------------------------------------------------------


def _columns(clean: ContactForm) -> dict[str, str]:
    return {COLUMN_OF[name]: getattr(clean, name) for name in FORM_FIELDS}


def add_contact(
    db: Database, actor: Actor, form: ContactForm, *, allow_duplicate: bool = False
) -> ContactDetails:
    """Add a contact to the directory.  PossibleDuplicateError (nothing saved) when it looks
    like one already there, unless ``allow_duplicate``."""
    permissions.require(actor, Permission.MANAGE_CONTACTS)
    with unit_of_work(db, actor) as session:
        clean = validate_contact(form, region=clinic_settings(session).country)
        if not allow_duplicate:
            matches = duplicates_in(session, clean)
            if matches:
                raise PossibleDuplicateError(matches)
        contact = Contact(**_columns(clean), is_active=True)
        session.add(contact)
        session.flush()
        return details_of(session, contact)


_PAYER_REFERENCES = {("insurance_policies", "payer_id"), ("payments", "payer_contact_id")}


def _payer_references(session: Session, contact_id: int) -> int:
    return sum(
        r.count
        for r in reference_counts(session, contact_id)
        if (r.table, r.column) in _PAYER_REFERENCES
    )


def _refuse_merged(session: Session, contact: Contact) -> None:
    if contact.merged_into_id is not None:
        kept = session.get(Contact, contact.merged_into_id)
        name = display_name(kept.organisation, kept.name) if kept else "another contact"
        raise ValidationError(f"This contact was merged into {name}: change that one instead.")


def update_contact(
    db: Database,
    actor: Actor,
    contact_id: int,
    expected_version: int | None,
    form: ContactForm,
    *,
    allow_duplicate: bool = False,
) -> ContactDetails:
    """Save a changed contact (refused when someone saved it since ``expected_version``).
    A payer that policies or payments name stays a payer; a change of name, phone or
    e-mail that makes it look like another contact raises PossibleDuplicateError unless
    ``allow_duplicate``."""
    permissions.require(actor, Permission.MANAGE_CONTACTS)
    with unit_of_work(db, actor) as session:
        clean = validate_contact(form, region=clinic_settings(session).country)
        contact = contact_or_error(session, contact_id)
        check_version(session, contact, expected_version, "This contact")
        _refuse_merged(session, contact)
        if contact.kind == ContactKind.PAYER.value and clean.kind != contact.kind:
            used = _payer_references(session, contact.id)
            if used:
                raise ValidationError(
                    f"This payer is named on {used} insurance policies or payments: it stays "
                    "an insurance payer.",
                    field="kind",
                )
        values = _columns(clean)
        identifying = ("organisation", "name", "phone", "other_phone", "fax", "email")
        if not allow_duplicate and any(getattr(contact, k) != values[k] for k in identifying):
            matches = duplicates_in(session, clean, exclude_id=contact.id)
            if matches:
                raise PossibleDuplicateError(matches)
        assign_changed(contact, values)
        session.flush()
        return details_of(session, contact)


def deactivate_contact(
    db: Database, actor: Actor, contact_id: int, expected_version: int | None = None
) -> ContactDetails:
    """Take a contact out of the pickers; everything that refers to it keeps doing so."""
    permissions.require(actor, Permission.MANAGE_CONTACTS)
    with unit_of_work(db, actor) as session:
        contact = contact_or_error(session, contact_id)
        check_version(session, contact, expected_version, "This contact")
        if not contact.is_active:
            raise ValidationError("This contact is already inactive.")
        contact.is_active = False
        session.flush()
        return details_of(session, contact)


def reactivate_contact(
    db: Database, actor: Actor, contact_id: int, expected_version: int | None = None
) -> ContactDetails:
    """Bring an inactive contact back into the pickers (not one merged into another)."""
    permissions.require(actor, Permission.MANAGE_CONTACTS)
    with unit_of_work(db, actor) as session:
        contact = contact_or_error(session, contact_id)
        check_version(session, contact, expected_version, "This contact")
        if contact.merged_into_id is not None:
            kept = session.get(Contact, contact.merged_into_id)
            name = display_name(kept.organisation, kept.name) if kept else "another contact"
            raise ValidationError(
                f"This contact was merged into {name}: it stays inactive. Use {name}."
            )
        if contact.is_active:
            raise ValidationError("This contact is already active.")
        contact.is_active = True
        session.flush()
        return details_of(session, contact)


# --- pickers --------------------------------------------------------------------------------------


def _choice(c: Contact) -> ContactChoice:
    bits = [c.specialty, c.city, display_phone(c.phone)]
    if c.kind == ContactKind.PAYER.value and c.payer_id:
        bits.insert(0, f"payer ID {c.payer_id}")
    return ContactChoice(
        id=c.id,
        kind=c.kind,
        label=display_name(c.organisation, c.name),
        detail=" · ".join(b for b in bits if b),
        is_active=c.is_active,
    )


def contact_choices(
    db: Database,
    actor: Actor,
    *,
    kinds: Iterable[str] | None = None,
    search: str = "",
    limit: int = 20,
) -> list[ContactChoice]:
    """What a contact picker offers: active contacts (merged ones never) of ``kinds`` (all
    when empty) that ``search`` finds, by name, at most ``limit``."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(Contact)
            .where(*_filters(search, list(kinds or ()), False), Contact.merged_into_id.is_(None))
            .order_by(*_sort_key())
            .limit(max(0, min(int(limit), MAX_PAGE)))
        )
        return [_choice(c) for c in rows]


def contact_choice(db: Database, actor: Actor, contact_id: int) -> ContactChoice:
    """One contact as a picker shows it, inactive or not (a policy's former payer)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return _choice(contact_or_error(session, contact_id))
