"""Contacts from a file (payers, specialists, labs …), by the directory's own rules.

Each row is read as the contact dialog's form (:func:`app.services.contacts.directory.
validate_contact`: phones E.164, the e-mail normalised, a payer's fields only on a payer,
"send records by fax" only with a fax number …); the words a Kind or "Send records by" cell
may say are the contacts CSV import's (:mod:`app.services.contacts.importing`).  A row that
repeats a contact already in the directory — the directory's duplicate rules: same
organization and name, a phone or fax in common, the same e-mail — is skipped, named as the
directory names it; so is a row repeating an earlier row of the file.  The directory is read
once; only a row that looks like a contact there asks the directory's rule for the sentence.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.contacts import Contact
from app.data.models.imports import ImportedRowAction
from app.services.clinic.clock import clinic_settings
from app.services.contacts.directory import (
    COLUMN_OF,
    FORM_FIELDS,
    KIND_LABELS,
    ContactForm,
    duplicates_in,
    validate_contact,
)
from app.services.contacts.importing import KIND_WORDS, SEND_WORDS
from app.services.errors import ValidationError
from app.services.imports.common import (
    CHUNK,
    ImportRequest,
    MappedRow,
    Plan,
    RowLog,
    Ticker,
    insert_returning_ids,
    reject_of,
    unescaped,
)

FIELDS = FORM_FIELDS
_NUMBERS = ("phone", "other_phone", "fax")


def _form(row: MappedRow) -> ContactForm:
    values = row.values
    kind_text = values.get("kind", "").strip()
    if not kind_text:
        raise ValidationError("The kind is empty: say payer, specialist, lab …")
    kind = KIND_WORDS.get(" ".join(kind_text.casefold().replace("_", " ").split()))
    if kind is None:
        known = ", ".join(KIND_LABELS.values())
        raise ValidationError(f"“{kind_text}” is not a kind of contact ({known}).")
    send_text = values.get("send_records_by", "").strip()
    send = SEND_WORDS.get(send_text.casefold())
    if send is None:
        raise ValidationError(
            f"“{send_text}” is not a way to send records (fax, e-mail, mail or portal)."
        )
    form = {name: values.get(name, "") for name in FORM_FIELDS}
    form.update(kind=kind, send_records_by=send)
    return ContactForm(**form)


def _keys(clean: ContactForm) -> set[tuple[str, str]]:
    """What makes two contacts look like one (the directory's duplicate rules)."""
    keys = {("name", f"{clean.organization.lower()}\x1f{clean.name.lower()}")}
    keys |= {("number", n) for n in (getattr(clean, f) for f in _NUMBERS) if n}
    if clean.email:
        keys.add(("email", clean.email))
    return keys


def _directory_keys(session: Session) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for org, name, phone, other, fax, email in session.execute(
        select(
            Contact.organisation, Contact.name, Contact.phone, Contact.other_phone, Contact.fax,
            Contact.email,
        ).where(Contact.merged_into_id.is_(None))
    ):  # fmt: skip
        keys.add(("name", f"{org.lower()}\x1f{name.lower()}"))
        keys |= {("number", n) for n in (phone, other, fax) if n}
        if email:
            keys.add(("email", email))
    return keys


def plan(session: Session, request: ImportRequest, ticker: Ticker) -> Plan:
    """What each row of a contacts file would do (nothing is written)."""
    result = Plan(request.kind, len(request.rows))
    rows = [unescaped(row) for row in request.rows]
    region = clinic_settings(session).country
    directory = _directory_keys(session)
    seen: dict[tuple[str, str], int] = {}
    now = utc_now()
    for row in rows:
        ticker.step()
        try:
            clean = validate_contact(_form(row), region=region)
        except ValidationError as exc:
            result.rejects.append(reject_of(row, str(exc)))
            continue
        keys = _keys(clean)
        if keys & directory and (matches := duplicates_in(session, clean)):
            result.skipped.append(
                reject_of(row, f"Already in Contacts as {matches[0].sentence()}.")
            )
            continue
        earlier = min((seen[k] for k in keys if k in seen), default=None)
        if earlier is not None:
            result.skipped.append(reject_of(row, f"Repeats line {earlier} of the file."))
            continue
        for key in keys:
            seen.setdefault(key, row.line)
        columns: dict[str, object] = {COLUMN_OF[n]: getattr(clean, n) for n in FORM_FIELDS}
        columns.update(
            is_active=True, merged_into_id=None, created_at=now, updated_at=now, version=1
        )
        result.creates.append((row.line, columns))
    return result


def write(
    session: Session, _actor, _request: ImportRequest, result: Plan, ticker: Ticker, log: RowLog
) -> None:
    """Insert the contacts in chunks; their import_rows."""
    table = Contact.__table__
    for start in range(0, len(result.creates), CHUNK):
        chunk = result.creates[start : start + CHUNK]
        ids = insert_returning_ids(
            session, table, [columns for _line, columns in chunk], ("organisation", "name")
        )
        log.add([
            {"table_name": "contacts", "row_id": cid, "action": ImportedRowAction.CREATED.value,
             "line": line, "before": ""}
            for cid, (line, _columns) in zip(ids, chunk, strict=True)
        ])  # fmt: skip
        ticker.step(len(chunk))
