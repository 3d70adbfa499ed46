"""Patients from a file: each row checked against the clinic and the rest of the file — to be
created, updated, skipped or refused, with the reason — and then written in bulk.

The rules, in the order they are applied to a row:

1. Its values are read as the record's form reads them (:func:`validate_patient`: names with
   their accents, control characters dropped, phones E.164 in the clinic's country, the
   e-mail normalised), dates in the order the clinic chose (:mod:`.values`).  Text is stored
   as it is — a name like ``=HYPERLINK(…)`` too: it is only text inside CareDesk, and every
   CSV CareDesk writes escapes it.  A value that cannot be read refuses the row.
2. A chart number that is on two or more lines of the file refuses every one of them.
3. A chart number already in CareDesk: that patient is *updated* with the fields the file
   maps, never blanked by an empty cell (their earlier values are kept for an undo).  A row
   that changes nothing is skipped.
4. Otherwise the row is compared with the patients already in CareDesk by the app's duplicate
   rules, with one difference an import needs: the *name* must match too — same name and
   date of birth, or same name and a phone or e-mail in common.  A shared phone or e-mail
   alone is how families are on file (a child has a parent's number), so it does not make
   two patients one here.  A match is skipped, naming the patient and their chart number;
   so is a row without a chart number that repeats an earlier row of the file.
5. A new patient without a chart number gets the next one (P000123 …).

Status (``status``): active / patient → an established patient (journey stage follow-up);
inactive, archived → inactive with the reason; deceased → inactive, "Deceased", with the
date of death when the file has one; prospect / lead / new → an inquiry; non-patient and
deleted rows are skipped.  Open Dental's PatStatus numbers (0 patient, 1 non-patient,
2 inactive, 3 archived, 4 deleted, 5 deceased, 6 prospective) read the same way.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.imports import ImportedRowAction
from app.data.models.patients import JourneyStage, Patient, PatientSearchTerm
from app.services.clinic.clock import clinic_settings, clinic_today
from app.services.errors import ValidationError
from app.services.imports import values as read
from app.services.imports.common import (
    CHUNK,
    ImportRequest,
    MappedRow,
    Plan,
    PlannedUpdate,
    RowLog,
    Ticker,
    insert_returning_ids,
    reject_of,
    unescaped,
)
from app.services.patients.records import FORM_FIELDS, PatientForm, validate_patient
from app.services.patients.search import (
    clean_typed_text,
    fold_for_search,
    patient_search_name,
    search_terms,
)

#: The fields a patients file may fill (the contract with the mapping step).
FIELDS = (
    "chart_number",
    "full_name",
    "first_name",
    "last_name",
    "middle_name",
    "preferred_name",
    "date_of_birth",
    "sex",
    "mobile_phone",
    "home_phone",
    "work_phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "preferred_language",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
    "medical_alerts",
    "allergies",
    "medications",
    "lead_source",
    "may_text",
    "may_email",
    "status",
    "deceased_on",
)
_LABELS = {
    "chart_number": "Chart number",
    "date_of_birth": "Date of birth",
    "deceased_on": "Date of death",
    "sex": "Sex",
    "country": "Country",
    "preferred_language": "Preferred language",
    "may_text": "May text",
    "may_email": "May e-mail",
    "status": "Status",
}
_CHART_MAX = Patient.__table__.c.chart_number.type.length
#: Text fields the form tidies itself (validate_patient), copied from the cell as they are.
_FORM_TEXT = frozenset(
    {f.name for f in fields(PatientForm) if f.type == "str"} - {"sex", "preferred_language"}
)
_PHONES = ("mobile_phone", "home_phone", "work_phone")

#: What a status cell says → (active, journey stage, reason) or a reason to skip the row.
_ACTIVE = "active"
_INACTIVE = "inactive"
_ARCHIVED = "archived"
_DECEASED = "deceased"
_PROSPECT = "prospect"
_STATUS_WORDS = {
    "": _ACTIVE,
    "active": _ACTIVE,
    "patient": _ACTIVE,
    "current": _ACTIVE,
    "0": _ACTIVE,
    "inactive": _INACTIVE,
    "2": _INACTIVE,
    "archived": _ARCHIVED,
    "archive": _ARCHIVED,
    "3": _ARCHIVED,
    "deceased": _DECEASED,
    "dead": _DECEASED,
    "died": _DECEASED,
    "5": _DECEASED,
    "prospect": _PROSPECT,
    "prospective": _PROSPECT,
    "lead": _PROSPECT,
    "new": _PROSPECT,
    "inquiry": _PROSPECT,
    "6": _PROSPECT,
}
_SKIPPED_STATUSES = {
    "non-patient": "not a patient in {source} (a guarantor or contact only)",
    "nonpatient": "not a patient in {source} (a guarantor or contact only)",
    "1": "not a patient in {source} (a guarantor or contact only)",
    "deleted": "deleted in {source}",
    "4": "deleted in {source}",
}


@dataclass(frozen=True)
class _Status:
    is_active: bool
    stage: str
    reason: str
    deceased: bool = False


def _status(word: str, source: str) -> _Status | str:
    """The record's state for a status cell, or the reason its row is skipped (a str)."""
    key = " ".join(word.casefold().split())
    if key in _SKIPPED_STATUSES:
        return _SKIPPED_STATUSES[key].format(source=source)
    kind = _STATUS_WORDS.get(key)
    if kind is None:
        raise ValueError(
            f"“{word}” is not a status CareDesk knows (active, inactive, archived, deceased, "
            "prospect)."
        )
    if kind == _ACTIVE:
        return _Status(True, JourneyStage.FOLLOW_UP.value, "")
    if kind == _PROSPECT:
        return _Status(True, JourneyStage.INQUIRY.value, "")
    if kind == _DECEASED:
        return _Status(False, JourneyStage.INACTIVE.value, "Deceased", deceased=True)
    reason = f"{'Archived' if kind == _ARCHIVED else 'Inactive'} in {source}"[:200]
    return _Status(False, JourneyStage.INACTIVE.value, reason)


def split_full_name(text: str) -> tuple[str, str]:
    """(first, last) of "Last, First" or "First Last" (the last word is the last name)."""
    name = " ".join(text.split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    first, _, last = name.rpartition(" ")
    return first, last


# --- reading one row --------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    chart: str
    #: Form fields the file gives a value for (already read: dates as dates …).
    given: dict[str, object]
    status: _Status | None


class _Refused(Exception):
    pass


class _Skip(Exception):
    pass


def _read_row(row: MappedRow, request: ImportRequest, today: date) -> _Row:
    """The row's values read, or _Refused / AmbiguousDate with the reason."""
    cells = row.values
    given: dict[str, object] = {}
    chart = clean_typed_text(cells.get("chart_number", ""), multiline=False)
    if len(chart) > _CHART_MAX:
        raise _Refused(f"Chart number “{chart}” is longer than {_CHART_MAX} characters.")
    for name in _FORM_TEXT:
        text = cells.get(name, "")
        if text and text.strip():
            given[name] = text
    full = cells.get("full_name", "").strip()
    if full and not (given.get("first_name") or given.get("last_name")):
        first, last = split_full_name(clean_typed_text(full, multiline=False))
        if first:
            given["first_name"] = first
        if last:
            given["last_name"] = last
    for name in ("date_of_birth", "deceased_on"):
        text = cells.get(name, "").strip()
        if text:
            try:
                given[name] = read.parse_date(text, request.date_order, today=today)
            except ValueError as exc:
                exc.args = (f"{_LABELS[name]}: {exc}",)
                raise
    readers = {
        "sex": read.parse_sex,
        "country": read.parse_country,
        "preferred_language": read.parse_language,
        "may_text": read.parse_yes_no,
        "may_email": read.parse_yes_no,
    }
    for name, reader in readers.items():
        text = cells.get(name, "").strip()
        if text:
            try:
                given[name] = reader(text)
            except ValueError as exc:
                raise _Refused(f"{_LABELS[name]}: {exc}") from None
    status = None
    text = cells.get("status", "").strip()
    if text:
        try:
            found = _status(text, request.source)
        except ValueError as exc:
            raise _Refused(f"{_LABELS['status']}: {exc}") from None
        if isinstance(found, str):
            raise _Skip(found)
        status = found
    if "deceased_on" in given and (status is None or not status.deceased):
        # A date of death says the patient died, whatever else the status column says.
        status = _status("deceased", request.source)
    return _Row(row.line, chart, given, status)  # type: ignore[arg-type]


# --- the clinic's patients, read once -------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    id: int
    chart: str
    last: str
    first: str
    born: date | None
    phones: frozenset[str]
    email: str

    @property
    def label(self) -> str:
        return f"{self.last}, {self.first} (chart {self.chart})"


_KNOWN_COLUMNS = (
    Patient.id,
    Patient.chart_number,
    Patient.last_name,
    Patient.first_name,
    Patient.date_of_birth,
    Patient.mobile_phone,
    Patient.home_phone,
    Patient.work_phone,
    Patient.email,
)


@functools.lru_cache(maxsize=65536)
def _folded(name: str) -> str:
    # Names repeat (a clinic's 100,000 patients have a few thousand last names): fold each once.
    return fold_for_search(name)


def _name_key(last: str, first: str) -> tuple[str, str]:
    return _folded(last), _folded(first)


def _known_patients(session: Session) -> dict[tuple[str, str], list[_Known]]:
    """Every patient not merged away, by folded (last, first) name: what duplicates match."""
    by_name: dict[tuple[str, str], list[_Known]] = defaultdict(list)
    table = Patient.__table__
    columns = [table.c[column.key] for column in _KNOWN_COLUMNS]
    rows = session.connection().execute(
        select(*columns).where(table.c.merged_into_id.is_(None)).execution_options(yield_per=5000)
    )
    for pid, chart, last, first, born, mobile, home, work, email in rows:
        known = _Known(pid, chart, last, first, born, frozenset({mobile, home, work} - {""}), email)
        by_name[_name_key(last, first)].append(known)
    return by_name


def _same_patient(clean: PatientForm, phones: frozenset[str], other: _Known) -> list[str]:
    """The duplicate rules' reasons ``clean`` (of the same name) is ``other``."""
    reasons = []
    if clean.date_of_birth is not None and clean.date_of_birth == other.born:
        reasons.append("same name and date of birth")
    if phones & other.phones:
        reasons.append("same name and phone number")
    if clean.email and clean.email == other.email:
        reasons.append("same name and e-mail address")
    return reasons


def _patients_by_chart(session: Session, charts: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    table = Patient.__table__
    for start in range(0, len(charts), 500):
        chunk = charts[start : start + 500]
        for row in session.execute(select(table).where(table.c.chart_number.in_(chunk))):
            found[row.chart_number] = dict(row._mapping)
    return found


def _next_numbers(session: Session, taken: set[str]):
    """P000123 …: after the highest such chart number in CareDesk and the file."""
    top = 0
    for chart in session.scalars(
        select(Patient.chart_number).where(Patient.chart_number.like("P______"))
    ):
        if chart[1:].isdigit():
            top = max(top, int(chart[1:]))
    for chart in taken:
        if re.fullmatch(r"P\d{6}", chart):
            top = max(top, int(chart[1:]))
    number = top
    while True:
        number += 1
        chart = f"P{number:06d}"
        if chart not in taken:
            yield chart


# --- the plan ---------------------------------------------------------------------------------


def plan(session: Session, request: ImportRequest, ticker: Ticker) -> Plan:
    """What each row of a patients file would do (nothing is written)."""
    result = Plan(request.kind, len(request.rows))
    rows = [unescaped(row) for row in request.rows]
    settings = clinic_settings(session)
    region, today = settings.country, clinic_today(session)
    source = request.source

    read_rows: list[tuple[MappedRow, _Row]] = []
    lines_of_chart: dict[str, list[int]] = defaultdict(list)
    cache = _read_cache(request, region, today)
    for row in rows:
        ticker.step()
        parsed = cache.get(row.line)
        if parsed is None:
            parsed = cache[row.line] = _read_or_why(row, request, today)
        if isinstance(parsed, _Why):
            result.date_order_needed |= parsed.ambiguous
            (result.skipped if parsed.skip else result.rejects).append(reject_of(row, parsed.text))
            continue
        read_rows.append((row, parsed))
        if parsed.chart:
            lines_of_chart[parsed.chart].append(row.line)
    # A chart number named twice in the file refuses every row naming it (checked over all
    # rows, refused or not: the file has to be corrected either way).
    for row in rows:
        chart = clean_typed_text(row.values.get("chart_number", ""), multiline=False)
        if chart and row.line not in lines_of_chart.get(chart, ()):
            lines_of_chart[chart].append(row.line)
    repeated = {c: sorted(lines) for c, lines in lines_of_chart.items() if len(lines) > 1}

    existing = _patients_by_chart(session, sorted(c for c in lines_of_chart if c not in repeated))
    known = _known_patients(session)
    in_file: dict[tuple[str, str], list[tuple[int, _Known]]] = defaultdict(list)
    # Chart numbers are given once every row is known (the next free ones after the file's).
    unnumbered: list[dict[str, object]] = []
    now = utc_now()
    for row, parsed in read_rows:
        if parsed.chart in repeated:
            others = [str(n) for n in repeated[parsed.chart] if n != row.line]
            more = f" (and {len(others) - 3} more)" if len(others) > 3 else ""
            word = "line" if len(others) == 1 else "lines"
            result.rejects.append(
                reject_of(
                    row,
                    f"Chart number {parsed.chart} is also on {word} "
                    f"{', '.join(others[:3])}{more}: each chart number may be in the file once.",
                )
            )
            continue
        try:
            if parsed.chart in existing:
                _plan_update(result, row, parsed, existing[parsed.chart], region, today, source)
                continue
            clean = _new_form(parsed, region, today, cache)
        except ValidationError as exc:
            result.rejects.append(reject_of(row, str(exc)))
            continue
        phones = frozenset(getattr(clean, name) for name in _PHONES) - {""}
        key = _name_key(clean.last_name, clean.first_name)
        matches = [(o, r) for o in known.get(key, ()) if (r := _same_patient(clean, phones, o))]
        if matches:
            other, reasons = matches[0]
            result.skipped.append(
                reject_of(row, f"Already in CareDesk as {other.label}: {', '.join(reasons)}.")
            )
            continue
        if not parsed.chart:
            repeats = [
                (line, r)
                for line, o in in_file.get(key, ())
                if (r := _same_patient(clean, phones, o))
            ]
            if repeats:
                line, reasons = repeats[0]
                result.skipped.append(
                    reject_of(row, f"Repeats line {line} of the file: {', '.join(reasons)}.")
                )
                continue
        in_file[key].append(
            (
                row.line,
                _Known(
                    0, parsed.chart, clean.last_name, clean.first_name, clean.date_of_birth,
                    phones, clean.email,
                ),
            )
        )  # fmt: skip
        columns = _new_columns(clean, parsed.chart, parsed.status, now)
        result.creates.append((row.line, columns))
        if not parsed.chart:
            unnumbered.append(columns)
    numbers = _next_numbers(session, set(lines_of_chart))
    for columns in unnumbered:
        columns["chart_number"] = next(numbers)
    return result


@dataclass(frozen=True)
class _Why:
    """Why a row is not read: refused (or skipped), and whether its date reads two ways."""

    text: str
    skip: bool = False
    ambiguous: bool = False


def _read_or_why(row: MappedRow, request: ImportRequest, today: date) -> _Row | _Why:
    try:
        return _read_row(row, request, today)
    except read.AmbiguousDate as exc:
        return _Why(str(exc), ambiguous=True)
    except (_Refused, ValueError) as exc:
        return _Why(str(exc))
    except _Skip as exc:
        return _Why(str(exc), skip=True)


def _read_cache(request: ImportRequest, region: str, today: date) -> dict:
    """What reading this request's rows found so far: kept on the request, so the import that
    follows its dry run does not read every cell again (a cell's value depends only on the
    request, the clinic's country and its day — the key)."""
    key = ("patients", region, today)
    cache = request.read_cache.get(key)
    if cache is None:
        request.read_cache.clear()
        cache = request.read_cache[key] = {}
    return cache


def _new_form(parsed: _Row, region: str, today: date, cache: dict) -> PatientForm:
    """The row as a new patient's form, validated (ValidationError with the reason)."""
    key = ("form", parsed.line)
    found = cache.get(key)
    if found is None:
        given = {k: v for k, v in parsed.given.items() if k in FORM_FIELDS}
        form = PatientForm(**{"first_name": "", "last_name": "", **given})
        try:
            found = validate_patient(form, region=region, today=today)
        except ValidationError as exc:
            found = exc
        cache[key] = found
    if isinstance(found, ValidationError):
        raise found
    return found


def _new_columns(clean: PatientForm, chart: str, status: _Status | None, now) -> dict:
    status = status or _Status(True, JourneyStage.FOLLOW_UP.value, "")
    columns: dict[str, object] = {name: getattr(clean, name) for name in FORM_FIELDS}
    columns.update(
        chart_number=chart,
        search_name=patient_search_name(
            clean.first_name, clean.middle_name, clean.last_name, clean.preferred_name
        ),
        journey_stage=status.stage,
        journey_stage_since=now,
        journey_reason=status.reason,
        is_active=status.is_active,
        created_at=now,
        updated_at=now,
        version=1,
        text_opted_out_at=None,
        email_bounced_at=None,
        primary_provider_id=None,
        merged_into_id=None,
        merged_at=None,
    )
    return columns


def _terms(columns: Mapping[str, object]) -> set[tuple[str, str]]:
    """The search terms of a patient's columns (as written, or as an update leaves them)."""
    return search_terms(
        first_name=str(columns["first_name"]),
        middle_name=str(columns["middle_name"]),
        last_name=str(columns["last_name"]),
        preferred_name=str(columns["preferred_name"]),
        phones=tuple(str(columns[name]) for name in _PHONES),
        email=str(columns["email"]),
        chart_number=str(columns["chart_number"]),
    )


def _plan_update(
    result: Plan,
    row: MappedRow,
    parsed: _Row,
    current: dict,
    region: str,
    today: date,
    source: str,
) -> None:
    if current["merged_into_id"] is not None:
        result.skipped.append(
            reject_of(
                row,
                f"Chart number {parsed.chart} was merged into another record in CareDesk; "
                "it was not changed.",
            )
        )
        return
    form = PatientForm(**{name: current[name] for name in FORM_FIELDS})
    merged = replace(form, **{k: v for k, v in parsed.given.items() if k in FORM_FIELDS})
    clean = validate_patient(merged, region=region, today=today)
    changed: dict[str, object] = {}
    for name in FORM_FIELDS:
        value = getattr(clean, name)
        if name in parsed.given and value != current[name]:
            changed[name] = value
    status = parsed.status
    if status is not None:
        wanted = {
            "is_active": status.is_active,
            "journey_stage": status.stage,
            "journey_reason": status.reason,
        }
        if current["journey_stage"] != status.stage or current["is_active"] != status.is_active:
            changed.update(wanted, journey_stage_since=utc_now())
    if "email" in changed and current["email_bounced_at"] is not None:
        changed["email_bounced_at"] = None  # a new address: the old one's bounce is moot
    if not changed:
        result.skipped.append(
            reject_of(row, f"Chart number {parsed.chart} is already as the file has it.")
        )
        return
    names = ("first_name", "middle_name", "last_name", "preferred_name")
    if any(n in changed for n in names):
        changed["search_name"] = patient_search_name(
            clean.first_name, clean.middle_name, clean.last_name, clean.preferred_name
        )
    before = {name: current[name] for name in changed}
    before["version"] = current["version"]
    result.updates.append(PlannedUpdate(row.line, current["id"], changed, before))
    after = {name: getattr(clean, name) for name in FORM_FIELDS}
    result.extra.setdefault("update_terms", {})[row.line] = _terms(
        {**after, "chart_number": parsed.chart}
    )


# --- writing --------------------------------------------------------------------------------


def write(
    session: Session, _actor, _request: ImportRequest, result: Plan, ticker: Ticker, log: RowLog
) -> None:
    """Insert the new patients and apply the updates, in chunks; the import_rows of each
    (without the batch id) and of the updates (with ``before``) are returned."""
    table = Patient.__table__
    terms_table = PatientSearchTerm.__table__
    for start in range(0, len(result.creates), CHUNK):
        chunk = result.creates[start : start + CHUNK]
        ids = insert_returning_ids(
            session, table, [columns for _line, columns in chunk], ("chart_number",)
        )
        search_rows = [
            {"patient_id": pid, "term": term, "kind": kind}
            for pid, (_line, columns) in zip(ids, chunk, strict=True)
            for term, kind in sorted(_terms(columns))
        ]
        if search_rows:
            session.execute(insert(terms_table), search_rows)
        log.add([
            {"table_name": "patients", "row_id": pid, "action": ImportedRowAction.CREATED.value,
             "line": line, "before": ""}
            for pid, (line, _columns) in zip(ids, chunk, strict=True)
        ])  # fmt: skip
        ticker.step(len(chunk))
    update_terms = result.extra.get("update_terms", {})
    now = utc_now()
    by_columns: dict[tuple[str, ...], list[PlannedUpdate]] = defaultdict(list)
    for planned in result.updates:
        by_columns[tuple(sorted(planned.values))].append(planned)
    for columns, planned_rows in by_columns.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values(
                {
                    **{c: bindparam(f"_v_{c}") for c in columns},
                    "updated_at": now,
                    "version": table.c.version + 1,
                }
            )
        )
        for start in range(0, len(planned_rows), CHUNK):
            chunk = planned_rows[start : start + CHUNK]
            session.execute(
                statement,
                [{"_id": p.row_id, **{f"_v_{c}": p.values[c] for c in columns}} for p in chunk],
            )
            ticker.step(len(chunk))
    ids = [p.row_id for p in result.updates]
    for start in range(0, len(ids), 500):
        chunk_ids = ids[start : start + 500]
        session.execute(delete(terms_table).where(terms_table.c.patient_id.in_(chunk_ids)))
    search_rows = [
        {"patient_id": p.row_id, "term": term, "kind": kind}
        for p in result.updates
        for term, kind in sorted(update_terms[p.line])
    ]
    for start in range(0, len(search_rows), CHUNK * 8):
        session.execute(insert(terms_table), search_rows[start : start + CHUNK * 8])
    for p in result.updates:
        p.before["version_after"] = p.before["version"] + 1
    log.add([
        {"table_name": "patients", "row_id": p.row_id,
         "action": ImportedRowAction.UPDATED.value, "line": p.line, "before": p.before}
        for p in result.updates
    ])  # fmt: skip
