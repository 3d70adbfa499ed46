"""Patients: search, the record, edits with conflict detection, duplicates, merging, the journey.

Search runs on ``patient_search_terms``: one row per folded name word, phone
(E.164 digits and national digits), e-mail and chart number of a patient, kept
by :func:`index_patient` whenever a patient is written.  A typed word matches
by prefix (``term >= q AND term < q_next``: a range on a plain B-tree index,
so the same query serves SQLite and PostgreSQL); several words must all match.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import parse_date
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.data.database import Database
from app.data.models import Base
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.audit import AuditEntry
from app.data.models.clinic import ClinicSettings
from app.data.models.patients import (
    JourneyStage,
    Patient,
    PatientSearchTerm,
    SearchTermKind,
    Sex,
)
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.providers import Provider, Room, Service
from app.data.types import utc_now
from app.services.billing.balances import patient_balance
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.compiled import compiled_rows
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, unit_of_work
from app.services.errors import NotFoundError, PatientChangedError, ValidationError

# --- folding and the search index ------------------------------------------------------------


def fold_for_search(text: str) -> str:
    """Lower-case, accent-free, single-spaced: how names are stored for search."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def patient_search_name(first: str, middle: str, last: str, preferred: str) -> str:
    """The ``search_name`` of a patient: "last first preferred middle", folded."""
    return fold_for_search(" ".join(p for p in (last, first, preferred, middle) if p))


_WORD_PARTS = re.compile(r"[-'’.]+")
_MAX_TERM = 254


def _name_terms(*names: str) -> set[str]:
    terms: set[str] = set()
    for word in fold_for_search(" ".join(names)).split():
        terms.add(word[:_MAX_TERM])
        # "Smith-Jones" is found by "jones", "O'Brien" by "obrien" and "brien".
        parts = [p for p in _WORD_PARTS.split(word) if p]
        if len(parts) > 1:
            terms.update(p[:_MAX_TERM] for p in parts)
            terms.add("".join(parts)[:_MAX_TERM])
    return terms


def _phone_terms(e164: str) -> set[str]:
    if not e164:
        return set()
    digits = "".join(ch for ch in e164 if ch.isdigit())
    terms = {digits}
    try:
        number = phonenumbers.parse(e164, None)
        terms.add(str(number.national_number))
    except phonenumbers.NumberParseException:
        pass
    return terms


def _chart_terms(chart_number: str) -> set[str]:
    folded = fold_for_search(chart_number).replace(" ", "")
    terms = {folded} if folded else set()
    digits = "".join(ch for ch in folded if ch.isdigit()).lstrip("0")
    if digits:
        terms.add(digits)
    return terms


def search_terms(
    *,
    first_name: str,
    middle_name: str,
    last_name: str,
    preferred_name: str,
    phones: tuple[str, ...],
    email: str,
    chart_number: str,
) -> set[tuple[str, str]]:
    """Every (term, kind) a patient is found by; pure, so seeding can bulk-insert them."""
    names = _name_terms(last_name, first_name, preferred_name, middle_name)
    terms = {(t, SearchTermKind.NAME.value) for t in names}
    for phone in phones:
        terms |= {(t, SearchTermKind.PHONE.value) for t in _phone_terms(phone)}
    if email:
        terms.add((email.casefold()[:_MAX_TERM], SearchTermKind.EMAIL.value))
    terms |= {(t, SearchTermKind.CHART.value) for t in _chart_terms(chart_number)}
    return terms


def _terms_of(patient: Patient) -> set[tuple[str, str]]:
    return search_terms(
        first_name=patient.first_name,
        middle_name=patient.middle_name or "",
        last_name=patient.last_name,
        preferred_name=patient.preferred_name or "",
        phones=(patient.mobile_phone or "", patient.home_phone or "", patient.work_phone or ""),
        email=patient.email or "",
        chart_number=patient.chart_number,
    )


def index_patient(session: Session, patient: Patient) -> None:
    """Rewrite the search terms of ``patient`` (flushed, so it has an id)."""
    patient.search_name = patient_search_name(
        patient.first_name, patient.middle_name or "", patient.last_name,
        patient.preferred_name or "",
    )  # fmt: skip
    session.flush()
    session.execute(delete(PatientSearchTerm).where(PatientSearchTerm.patient_id == patient.id))
    rows = [
        {"patient_id": patient.id, "term": term, "kind": kind}
        for term, kind in sorted(_terms_of(patient))
    ]
    if rows:
        session.execute(insert(PatientSearchTerm), rows)


def index_unindexed_patients(session: Session) -> int:
    """Give search terms to patients that have none (rows written before migration 0003).

    Runs after a schema upgrade, in a plain data-layer session: filling an index
    is bookkeeping, not a change anyone made to a record, so it is not audited
    row by row (the upgrade itself is).
    """
    has_terms = select(PatientSearchTerm.patient_id).where(
        PatientSearchTerm.patient_id == Patient.id
    )
    missing = session.scalars(select(Patient).where(~has_terms.exists())).all()
    for patient in missing:
        index_patient(session, patient)
    return len(missing)


# --- plain data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientHit:
    """One search result or list row."""

    id: int
    chart_number: str
    last_name: str
    first_name: str
    preferred_name: str
    date_of_birth: date | None
    phone_e164: str  # the first of mobile, home, work; ``phone`` formats it
    email: str
    journey_stage: str
    is_active: bool

    @property
    def phone(self) -> str:
        """The phone in national format, for display (formatted when first shown)."""
        return display_phone(self.phone_e164)

    @property
    def display_name(self) -> str:
        name = f"{self.last_name}, {self.first_name}"
        return f"{name} ({self.preferred_name})" if self.preferred_name else name


@dataclass(frozen=True)
class PatientForm:
    """Everything the New patient form and the Details tab edit."""

    first_name: str
    last_name: str
    middle_name: str = ""
    preferred_name: str = ""
    date_of_birth: date | None = None
    sex: str | None = None
    pronouns: str = ""
    mobile_phone: str = ""
    home_phone: str = ""
    work_phone: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    preferred_language: str = "en"
    may_text: bool = False
    may_email: bool = False
    may_voicemail: bool = False
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    emergency_contact_relation: str = ""
    medical_alerts: str = ""
    allergies: str = ""
    medications: str = ""
    lead_source: str = ""


FORM_FIELDS = tuple(f.name for f in fields(PatientForm))


@dataclass(frozen=True)
class DuplicateMatch:
    patient: PatientHit
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AppointmentLine:
    id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    service: str
    provider: str
    room: str
    late_cancel: bool
    notes: str


@dataclass(frozen=True)
class AppointmentHistory:
    upcoming: list[AppointmentLine]
    past: list[AppointmentLine]
    no_shows: int
    late_cancels: int


@dataclass(frozen=True)
class PatientRecord:
    id: int
    version: int
    chart_number: str
    form: PatientForm
    journey_stage: str
    journey_stage_since: datetime
    journey_reason: str
    is_active: bool
    merged_into_id: int | None
    age: int | None
    balance: Decimal
    next_appointment: AppointmentLine | None
    last_changed_by: str
    last_changed_at: datetime | None


@dataclass(frozen=True)
class PipelineCard:
    patient_id: int
    name: str
    stage: str
    days_in_stage: int
    next_step: str
    open_plan_value: Decimal
    provider: str
    lead_source: str


@dataclass(frozen=True)
class MergeResult:
    kept_id: int
    merged_id: int
    moved: dict[str, int]


# --- clinic settings --------------------------------------------------------------------------


def _settings(session: Session) -> ClinicSettings:
    settings = session.get(ClinicSettings, 1)
    if settings is None:  # pragma: no cover - every clinic is created with its settings
        raise NotFoundError("The clinic's settings are missing.")
    return settings


def _today(settings: ClinicSettings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


# --- validation -------------------------------------------------------------------------------

_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "middle_name": "Middle name",
    "preferred_name": "Preferred name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "pronouns": "Pronouns",
    "mobile_phone": "Mobile phone",
    "home_phone": "Home phone",
    "work_phone": "Work phone",
    "email": "E-mail",
    "address_line1": "Address",
    "address_line2": "Address (line 2)",
    "city": "City",
    "region": "State or region",
    "postal_code": "Postal code",
    "country": "Country",
    "preferred_language": "Preferred language",
    "emergency_contact_name": "Emergency contact",
    "emergency_contact_phone": "Emergency contact phone",
    "emergency_contact_relation": "Emergency contact relation",
    "medical_alerts": "Medical alerts",
    "allergies": "Allergies",
    "medications": "Medications",
    "lead_source": "Lead source",
}
_MULTILINE = {"medical_alerts", "allergies", "medications"}
_MAX_TEXT = 10_000
_PHONE_FIELDS = ("mobile_phone", "home_phone", "work_phone", "emergency_contact_phone")
_MAX_AGE_YEARS = 120


def _clean(text: str, multiline: bool) -> str:
    """Drop control characters (pasted text); keep line breaks where a field has lines."""
    kept = []
    for ch in text:
        if ch in "\n\t" and multiline:
            kept.append(ch)
        elif unicodedata.category(ch) == "Cc":
            kept.append(" ")
        else:
            kept.append(ch)
    cleaned = "".join(kept)
    if multiline:
        return cleaned.strip()
    return " ".join(cleaned.split())


def _column_length(name: str) -> int | None:
    column = Patient.__table__.c[name]
    return getattr(column.type, "length", None)


def normalise_phone(text: str, region: str) -> str:
    """E.164 for a phone typed in any format; ValueError when it is not a phone number."""
    try:
        number = phonenumbers.parse(text, region or "US")
    except phonenumbers.NumberParseException:
        raise ValueError(text) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)  # a search list shows the same numbers over and over
def display_phone(e164: str) -> str:
    """A stored E.164 number in its country's national format ("(512) 555-0123")."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def validate_patient(
    form: PatientForm, *, region: str = "US", today: date | None = None
) -> PatientForm:
    """A tidied copy of ``form`` (phones E.164, e-mail normalised, control characters gone).

    Raises ValidationError naming the first field that cannot be stored.  Pure: the
    form calls it as the user types.
    """
    today = today or date.today()
    changes: dict[str, object] = {}
    for name in FORM_FIELDS:
        value = getattr(form, name)
        if not isinstance(value, str) or name == "sex":
            continue
        cleaned = _clean(value, name in _MULTILINE)
        limit = _column_length(name) or _MAX_TEXT
        if len(cleaned) > limit:
            raise ValidationError(
                f"{_LABELS[name]} is too long: at most {limit} characters.", field=name
            )
        changes[name] = cleaned
    for name in ("first_name", "last_name"):
        if not changes[name]:
            raise ValidationError(f"{_LABELS[name]} is required.", field=name)
    for name in _PHONE_FIELDS:
        if changes[name]:
            try:
                changes[name] = normalise_phone(str(changes[name]), region)
            except ValueError:
                raise ValidationError(
                    f"{_LABELS[name]} is not a phone number we can dial.", field=name
                ) from None
    if changes["email"]:
        try:
            checked = validate_email(str(changes["email"]), check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"E-mail: {exc}", field="email") from None
        changes["email"] = checked.normalized.casefold()
    born = form.date_of_birth
    if born is not None:
        if born > today:
            raise ValidationError("Date of birth cannot be in the future.", field="date_of_birth")
        if today.year - born.year > _MAX_AGE_YEARS:
            raise ValidationError(
                f"Date of birth is more than {_MAX_AGE_YEARS} years ago.", field="date_of_birth"
            )
    sex = form.sex or None
    if sex is not None and sex not in {s.value for s in Sex}:
        raise ValidationError("Choose one of the listed values for sex.", field="sex")
    changes["sex"] = sex
    changes["country"] = str(changes["country"]).upper()
    if not changes["preferred_language"]:
        changes["preferred_language"] = "en"
    return replace(form, **changes)


# --- reading ----------------------------------------------------------------------------------

_HIT_COLUMNS = (
    Patient.id,
    Patient.chart_number,
    Patient.last_name,
    Patient.first_name,
    Patient.preferred_name,
    Patient.date_of_birth,
    Patient.mobile_phone,
    Patient.home_phone,
    Patient.work_phone,
    Patient.email,
    Patient.journey_stage,
    Patient.is_active,
)


def _hit(row) -> PatientHit:
    """The list row of a patient, from a row of ``_HIT_COLUMNS`` (a Row or a plain list)."""
    pid, chart, last, first, preferred, born, mobile, home, work, email, stage, active = row
    return PatientHit(
        id=pid,
        chart_number=chart,
        last_name=last,
        first_name=first,
        preferred_name=preferred,
        date_of_birth=born,
        phone_e164=mobile or home or work or "",
        email=email,
        journey_stage=stage,
        is_active=active,
    )


def _form_of(patient: Patient) -> PatientForm:
    return PatientForm(**{name: getattr(patient, name) for name in FORM_FIELDS})


def _age(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _appointment_lines(session: Session, query) -> list[AppointmentLine]:
    rows = session.execute(
        query.add_columns(Service.name, Provider.name, Room.name)
        .outerjoin(Service, Service.id == Appointment.service_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
    )
    return [
        AppointmentLine(
            id=a.id,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            status=a.status,
            service=service or "",
            provider=provider,
            room=room or "",
            late_cancel=a.late_cancel,
            notes=a.notes,
        )
        for a, service, provider, room in rows
    ]


_UPCOMING = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)


def next_visit_query(patient_id: int):
    """The patient's next booked visit (scheduled or confirmed, not yet started), as a
    select of at most one ``Appointment``: the record header's "Next appointment"."""
    return (
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.starts_at >= utc_now(),
            Appointment.status.in_(_UPCOMING),
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    )


def _next_appointment(session: Session, patient_id: int) -> AppointmentLine | None:
    lines = _appointment_lines(session, next_visit_query(patient_id))
    return lines[0] if lines else None


def _last_change(session: Session, patient_id: int) -> tuple[str, datetime | None]:
    row = session.execute(
        select(AuditEntry.username, AuditEntry.at)
        .where(
            AuditEntry.entity == "patients",
            AuditEntry.entity_id == patient_id,
            AuditEntry.action.in_((AuditAction.CREATE.value, AuditAction.UPDATE.value)),
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    return (row.username, row.at) if row else ("", None)


def _record_of(session: Session, patient: Patient) -> PatientRecord:
    settings = _settings(session)
    changed_by, changed_at = _last_change(session, patient.id)
    return PatientRecord(
        id=patient.id,
        version=patient.version,
        chart_number=patient.chart_number,
        form=_form_of(patient),
        journey_stage=patient.journey_stage,
        journey_stage_since=patient.journey_stage_since,
        journey_reason=patient.journey_reason,
        is_active=patient.is_active,
        merged_into_id=patient.merged_into_id,
        age=_age(patient.date_of_birth, _today(settings)),
        balance=patient_balance(session, patient.id),
        next_appointment=_next_appointment(session, patient.id),
        last_changed_by=changed_by,
        last_changed_at=changed_at,
    )


def _get(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient record does not exist.")
    return patient


# --- search -----------------------------------------------------------------------------------

_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]+")
_DATE_LIKE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")


def _prefix(column, text: str):
    """``column`` starts with ``text``, as an index range (no LIKE, no function on the column)."""
    upper = text[:-1] + chr(ord(text[-1]) + 1)
    return and_(column >= text, column < upper)


def parse_date_of_birth(text: str, locale: str, today: date) -> date | None:
    """A date typed as ISO (1985-03-14) or in the clinic locale's short format (3/14/85)."""
    text = text.strip()
    if not _DATE_LIKE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        parsed = parse_date(text, locale=locale, format="short")
    except (ValueError, IndexError, TypeError):
        return None
    if all(len(part) <= 2 for part in re.split(r"[/.\-]", text)):
        # A two-digit year: the most recent such year that is not in the future.
        parsed = parsed.replace(year=2000 + parsed.year % 100)
        if parsed > today:
            parsed = parsed.replace(year=parsed.year - 100)
    return parsed


# --- search: tiers of results, each fetched a page at a time ---------------------------------
#
# Results come in tiers, so that the first page of any query is a short index walk:
#   1. patients whose last name starts with the first typed word, in name order (a range
#      on the indexed ``search_name``, which starts with the folded last name);
#   2. everyone else whose name words, e-mail (or, for digits, phone) match, in the order
#      of the matching word (a range on the indexed ``term``) — "h" lists the Halls and
#      Harrises first, then the Hannahs and Henrys.
# A chart number typed exactly comes before phone matches; a date of birth lists its
# patients in name order.  Each tier stops at the page, so one letter is as fast as ten.
#
# Search runs on every keystroke, and its SQL is a short index walk (about a millisecond on
# 100,000 patients), so building a statement and running it through SQLAlchemy's execution
# machinery used to cost several times the SQL itself (the target: at most 1.5x).
# Hence every statement below has a fixed *shape* with named bind parameters: it is built
# and compiled once per shape and dialect (``app.services.clinic.compiled``), and a search only
# binds values.

_ByTerm = aliased(PatientSearchTerm)


def _starts(column, name: str):
    """``column`` starts with the bound word ``name``: an index range, as :func:`_prefix`."""
    return and_(column >= bindparam(f"{name}_lo"), column < bindparam(f"{name}_hi"))


def _starting(name: str, text: str) -> dict[str, str]:
    """The values of :func:`_starts` for ``text``."""
    return {f"{name}_lo": text, f"{name}_hi": text[:-1] + chr(ord(text[-1]) + 1)}


def _numbered(prefix: str, words: list[str]) -> dict[str, str]:
    """The values of :func:`_starts` for ``words``, named ``{prefix}0``, ``{prefix}1``, …"""
    values: dict[str, str] = {}
    for i, word in enumerate(words):
        values.update(_starting(f"{prefix}{i}", word))
    return values


def _word_on(terms, name: str):
    """Word ``name`` is a prefix of one of a patient's name or e-mail words (in ``terms``)."""
    return and_(_starts(terms.term, name), terms.kind != SearchTermKind.PHONE.value)


def _has_word(name: str):
    other = aliased(PatientSearchTerm)
    return (
        select(other.patient_id).where(other.patient_id == Patient.id, _word_on(other, name))
    ).exists()


def _active(include_inactive: bool) -> tuple:
    return () if include_inactive else (Patient.is_active.is_(True),)


@dataclass(frozen=True)
class _NameOrderTier:
    """Patients meeting the conditions ``where()`` builds, in name order."""

    shape: tuple  # names the statements (see :func:`_rows`)
    where: object  # () -> the conditions: called only when a shape is first built
    values: dict  # the values of their bind parameters

    def fetch(self, conn: Connection, offset: int, limit: int) -> list[list]:
        def build():
            return (
                select(*_HIT_COLUMNS)
                .where(*self.where())
                .order_by(Patient.search_name, Patient.id)
                .limit(bindparam("limit"))
                .offset(bindparam("offset"))
            )

        return compiled_rows(
            conn, ("name", *self.shape), build, **self.values, limit=limit, offset=offset
        )

    def count(self, conn: Connection) -> int:
        def build():
            matching = select(Patient.id).where(*self.where()).subquery()
            return select(func.count()).select_from(matching)

        return compiled_rows(conn, ("name count", *self.shape), build, **self.values)[0][0]


@dataclass(frozen=True)
class _TermOrderTier:
    """Patients with a search term meeting ``where()[0]`` (on the ``_ByTerm`` alias) and the
    patient conditions ``where()[1:]``, in the order of that term, each once."""

    shape: tuple
    where: object
    values: dict

    def _joined(self, *columns):
        return (
            select(*columns).join_from(_ByTerm, Patient, Patient.id == _ByTerm.patient_id)
        ).where(*self.where())

    def fetch(self, conn: Connection, offset: int, limit: int) -> list[list]:
        def build():
            return (
                self._joined(*_HIT_COLUMNS)
                .order_by(_ByTerm.term, _ByTerm.patient_id)
                .limit(bindparam("limit"))
                .offset(bindparam("offset"))
            )

        # A patient may match twice (a mobile and a home number with the same area code),
        # so walk the index in growing batches until the page has enough distinct patients.
        # The rows carry what the list shows: no second query for them.
        wanted = offset + limit
        found: dict[int, list] = {}
        walked, batch = 0, max(64, 2 * wanted)
        while len(found) < wanted:
            chunk = compiled_rows(
                conn, ("term", *self.shape), build, **self.values, limit=batch, offset=walked
            )
            for row in chunk:
                found.setdefault(row[0], row)
            walked += len(chunk)
            if len(chunk) < batch:
                break
            batch *= 2
        return list(found.values())[offset:wanted]

    def count(self, conn: Connection) -> int:
        def build():
            return self._joined(func.count(_ByTerm.patient_id.distinct()))

        return compiled_rows(conn, ("term count", *self.shape), build, **self.values)[0][0]


#: Probing how many terms a word matches stops here: past it, a word is simply "broad".
_PROBE_CAP = 500


def _narrowest(conn: Connection, words: list[str]) -> str:
    """The word matching the fewest terms (ties: the longest), to drive the second tier.

    The probe counts index entries only (any kind of term), all words in one statement:
    a cheap estimate is enough.
    """
    if len(set(words)) == 1:
        return words[0]

    def build():
        def breadth(i: int):
            probe = select(_ByTerm.term).where(_starts(_ByTerm.term, f"w{i}"))
            matching = probe.limit(bindparam("cap")).subquery()
            return select(func.count()).select_from(matching).scalar_subquery()

        return select(*[breadth(i) for i in range(len(words))])

    values = _numbered("w", words)
    (counts,) = compiled_rows(conn, ("probe", len(words)), build, **values, cap=_PROBE_CAP)
    return min(zip(counts, words, strict=True), key=lambda cw: (cw[0], -len(cw[1])))[1]


def _clinic_settings(conn: Connection) -> tuple[str, str, str]:
    """The clinic's country, locale and time zone."""

    def build():
        columns = (ClinicSettings.country, ClinicSettings.locale, ClinicSettings.timezone)
        return select(*columns).where(ClinicSettings.id == 1)

    (row,) = compiled_rows(conn, ("settings",), build)
    return tuple(row)


def _tiers(conn: Connection, text: str, include_inactive: bool) -> list:
    phone_like = _PHONE_LIKE.fullmatch(text)
    if not (phone_like or _DATE_LIKE.fullmatch(text)):
        return _word_tiers(conn, text, include_inactive)
    # Only dates and phone numbers depend on the clinic's settings: names need no read.
    region, locale, timezone = _clinic_settings(conn)
    born = parse_date_of_birth(text, locale, datetime.now(ZoneInfo(timezone)).date())
    if born is not None:

        def of_birth():
            return (Patient.date_of_birth == bindparam("born"), *_active(include_inactive))

        return [_NameOrderTier(("born", include_inactive), of_birth, {"born": born})]
    digits = "".join(ch for ch in text if ch.isdigit())
    if not (phone_like and digits):
        return _word_tiers(conn, text, include_inactive)
    wanted = digits
    if not text.startswith("+"):
        with contextlib.suppress(phonenumbers.NumberParseException):
            number = phonenumbers.parse(text, region or "US")
            if phonenumbers.is_possible_number(number):
                wanted = str(number.national_number)

    def by_chart():
        return Patient.id.in_(
            select(PatientSearchTerm.patient_id).where(
                PatientSearchTerm.kind == SearchTermKind.CHART.value,
                PatientSearchTerm.term == bindparam("chart"),
            )
        )

    def chart():
        return (by_chart(), *_active(include_inactive))

    def phone():
        on_term = and_(_ByTerm.kind == SearchTermKind.PHONE.value, _starts(_ByTerm.term, "p"))
        return (on_term, ~by_chart(), *_active(include_inactive))

    values = {"chart": digits.lstrip("0") or "0", **_starting("p", wanted)}
    return [
        _NameOrderTier(("chart", include_inactive), chart, values),
        _TermOrderTier(("phone", include_inactive), phone, values),
    ]


def _word_tiers(conn: Connection, text: str, include_inactive: bool) -> list:
    words = [word[:_MAX_TERM] for word in fold_for_search(text).split()]
    if not words:
        return []
    driver = _narrowest(conn, words)
    # Words are bound as w0 (the first: the last name), d (the driver) and o0, o1, … (the
    # words each patient must also have): one shape per number of other words.
    first = {**_starting("w0", words[0]), **_numbered("o", words[1:])}
    others = [word for word in words if word != driver]
    second = {**_starting("w0", words[0]), **_starting("d", driver), **_numbered("o", others)}

    def last_name_first():
        has_others = [_has_word(f"o{i}") for i in range(len(words) - 1)]
        return (_starts(Patient.search_name, "w0"), *has_others, *_active(include_inactive))

    def other_words():
        has_others = [_has_word(f"o{i}") for i in range(len(others))]
        not_first = ~_starts(Patient.search_name, "w0")
        return (_word_on(_ByTerm, "d"), not_first, *has_others, *_active(include_inactive))

    return [
        _NameOrderTier(("words", len(words) - 1, include_inactive), last_name_first, first),
        _TermOrderTier(("words", len(others), include_inactive), other_words, second),
    ]


def _page(conn: Connection, tiers: list, offset: int, limit: int) -> list[list]:
    """``limit`` patients (as rows of ``_HIT_COLUMNS``) from ``offset`` on, across the tiers."""
    rows: list[list] = []
    for tier in tiers:
        if len(rows) >= limit:
            break
        got = tier.fetch(conn, offset, limit - len(rows))
        if got:
            rows += got
            offset = 0  # this tier ran out inside the page: the next one starts at its top
        elif offset:
            offset = max(0, offset - tier.count(conn))
    return rows


def search_in_session(
    session: Session, query: str, *, limit: int = 50, offset: int = 0,
    include_inactive: bool = False,
) -> list[PatientHit]:  # fmt: skip
    """:func:`search_patients` inside an open session (permission already checked)."""
    # Plain SQL on the session's connection: no ORM objects are needed for a list.
    return _search(session.connection(), query, limit, offset, include_inactive)


def _search(
    conn: Connection, query: str, limit: int, offset: int, include_inactive: bool
) -> list[PatientHit]:
    text = _clean(query, multiline=False)
    if not text or limit <= 0:
        return []
    tiers = _tiers(conn, text, include_inactive)
    return [_hit(row) for row in _page(conn, tiers, max(0, offset), limit)]


def search_patients(
    db: Database, actor: Actor, query: str, *, limit: int = 50, offset: int = 0,
    include_inactive: bool = False,
) -> list[PatientHit]:  # fmt: skip
    """Patients matching every typed word: name prefixes (accent-insensitive), phone in any
    format, e-mail prefix, date of birth (ISO or the clinic's short format) or chart number.

    Last-name matches come first, in name order, then the other matches in the order of
    the word they matched (see the tiers above); an empty query finds nobody.
    """
    permissions.require(actor, Permission.VIEW_PATIENTS)
    # A read-only connection, not a unit of work: nothing is written (a search is not an
    # access to a record, so it is not audited), and this runs on every keystroke.
    with db.engine.connect() as conn:
        return _search(conn, query, limit, offset, include_inactive)


def system_search(db: Database, query: str, *, limit: int = 50) -> list[PatientHit]:
    """The same search for ``caredesk patients search`` (read-only, no one signed in).

    The command line has no signed-in user: whoever runs it holds the clinic's
    key, and so the data.  The search is still audited, as "system", with the
    number of results but never the query (which is itself patient data).
    """
    with unit_of_work(db, None) as session:
        hits = search_in_session(session, query, limit=limit, include_inactive=True)
        record(
            session,
            AuditAction.EXPORT,
            entity="patients",
            detail=f"command-line patient search: {len(hits)} result(s)",
        )
        return hits


def recent_patients(db: Database, actor: Actor, limit: int = 15) -> list[PatientHit]:
    """The patients this user opened most recently, newest first."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with db.uow() as session:
        latest = func.max(AuditEntry.id).label("latest")
        recent = session.execute(
            select(AuditEntry.patient_id, latest)
            .where(
                AuditEntry.staff_id == actor.staff_id,
                AuditEntry.action == AuditAction.RECORD_OPENED.value,
                AuditEntry.entity == "patients",
                AuditEntry.patient_id.is_not(None),
            )
            .group_by(AuditEntry.patient_id)
            .order_by(latest.desc())
            .limit(limit)
        ).all()
        ids = [row.patient_id for row in recent]
        if not ids:
            return []
        rows = {r.id: r for r in session.execute(select(*_HIT_COLUMNS).where(Patient.id.in_(ids)))}
        return [_hit(rows[i]) for i in ids if i in rows]


def lead_sources(db: Database, actor: Actor) -> list[str]:
    """The lead sources in use, alphabetically (the pipeline filter and the form's list)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with db.uow() as session:
        return list(
            session.scalars(
                select(Patient.lead_source)
                .where(Patient.lead_source != "")
                .distinct()
                .order_by(Patient.lead_source)
            )
        )


# --- duplicates -------------------------------------------------------------------------------


def find_duplicates(
    db: Database, actor: Actor, form: PatientForm, *, exclude_id: int | None = None
) -> list[DuplicateMatch]:
    """Existing patients with the same name and date of birth, a shared phone, or the e-mail."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with db.uow() as session:
        settings = _settings(session)
        region = settings.country
        phones = set()
        for name in ("mobile_phone", "home_phone", "work_phone"):
            typed = _clean(getattr(form, name), multiline=False)
            if typed:
                with contextlib.suppress(ValueError):
                    phones.add(normalise_phone(typed, region))
        email = _clean(form.email, multiline=False).casefold()
        name_key = (fold_for_search(form.last_name), fold_for_search(form.first_name))
        alternatives = []
        if form.date_of_birth is not None and all(name_key):
            alternatives.append(Patient.date_of_birth == form.date_of_birth)
        if phones:
            alternatives += [
                Patient.mobile_phone.in_(phones),
                Patient.home_phone.in_(phones),
                Patient.work_phone.in_(phones),
            ]
        if email:
            alternatives.append(Patient.email == email)
        if not alternatives:
            return []
        query = select(*_HIT_COLUMNS).where(or_(*alternatives), Patient.merged_into_id.is_(None))
        if exclude_id is not None:
            query = query.where(Patient.id != exclude_id)
        matches = []
        for row in session.execute(query.order_by(Patient.last_name, Patient.first_name)):
            reasons = []
            if (
                form.date_of_birth is not None
                and row.date_of_birth == form.date_of_birth
                and (fold_for_search(row.last_name), fold_for_search(row.first_name)) == name_key
            ):
                reasons.append("same name and date of birth")
            if phones & {row.mobile_phone, row.home_phone, row.work_phone}:
                reasons.append("same phone number")
            if email and row.email == email:
                reasons.append("same e-mail address")
            if reasons:
                matches.append(DuplicateMatch(_hit(row), tuple(reasons)))
        return matches


# --- writing ----------------------------------------------------------------------------------


def _next_chart_number(session: Session) -> str:
    top = session.scalar(
        select(func.max(Patient.chart_number)).where(Patient.chart_number.like("P______"))
    )
    number = int(top[1:]) + 1 if top and top[1:].isdigit() else 1
    return f"P{number:06d}"


def create_patient(db: Database, actor: Actor, form: PatientForm) -> PatientRecord:
    """Save a new patient (validated) with the next chart number; stage "inquiry"."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        settings = _settings(session)
        clean = validate_patient(form, region=settings.country, today=_today(settings))
        patient = Patient(
            chart_number=_next_chart_number(session),
            journey_stage=JourneyStage.INQUIRY.value,
            journey_stage_since=utc_now(),
            **{name: getattr(clean, name) for name in FORM_FIELDS},
        )
        session.add(patient)
        session.flush()
        index_patient(session, patient)
        session.flush()
        return _record_of(session, patient)


def open_patient(db: Database, actor: Actor, patient_id: int) -> PatientRecord:
    """The whole record of one patient; the opening is audited."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
        patient = _get(session, patient_id)
        record(
            session,
            AuditAction.RECORD_OPENED,
            entity="patients",
            entity_id=patient.id,
            patient_id=patient.id,
        )
        return _record_of(session, patient)


def patient_header(db: Database, actor: Actor, patient_id: int) -> PatientRecord:
    """The same record as :func:`open_patient`, read again for a window already open.

    Not audited: only the first opening of a record window is an access event; a
    refresh after a change (header, Details tab) is not a new one.
    """
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with db.uow() as session:
        return _record_of(session, _get(session, patient_id))


def update_patient(
    db: Database,
    actor: Actor,
    patient_id: int,
    expected_version: int,
    form: PatientForm,
    *,
    overwrite: bool = False,
) -> PatientRecord:
    """Save an edited record; PatientChangedError when someone saved it since it was loaded
    (unless ``overwrite``)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        settings = _settings(session)
        clean = validate_patient(form, region=settings.country, today=_today(settings))
        patient = _get(session, patient_id)
        if patient.version != expected_version and not overwrite:
            changed_by, changed_at = _last_change(session, patient_id)
            raise PatientChangedError(changed_by or "another user", changed_at)
        assign_changed(patient, {name: getattr(clean, name) for name in FORM_FIELDS})
        index_patient(session, patient)
        session.flush()
        return _record_of(session, patient)


# --- the journey ------------------------------------------------------------------------------

_STAGE_ORDER = {
    JourneyStage.INQUIRY.value: 0,
    JourneyStage.CONSULTATION.value: 1,
    JourneyStage.BOOKED.value: 2,
    JourneyStage.IN_TREATMENT.value: 3,
    JourneyStage.FOLLOW_UP.value: 4,
}
#: What each event means for the journey (events only ever move a patient forward).
JOURNEY_EVENTS = {
    "consultation_note": JourneyStage.CONSULTATION.value,
    "booked": JourneyStage.BOOKED.value,
    "treatment_started": JourneyStage.IN_TREATMENT.value,
    "treatment_completed": JourneyStage.FOLLOW_UP.value,
}
_WITH_REASON = {JourneyStage.LOST.value, JourneyStage.INACTIVE.value}


def _move(patient: Patient, stage: str, reason: str) -> None:
    patient.journey_stage = stage
    patient.journey_stage_since = utc_now()
    patient.journey_reason = reason
    patient.is_active = stage != JourneyStage.INACTIVE.value


def set_journey_stage(
    db: Database, actor: Actor, patient_id: int, stage: str, reason: str = ""
) -> PatientRecord:
    """Staff override of the journey stage; lost and inactive need a reason."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    if stage not in {s.value for s in JourneyStage}:
        raise ValidationError("Choose one of the journey stages.", field="journey_stage")
    reason = _clean(reason, multiline=False)
    if stage in _WITH_REASON and not reason:
        raise ValidationError("Say why the patient is lost or inactive.", field="journey_reason")
    if len(reason) > 200:
        raise ValidationError("The reason is too long: at most 200 characters.", "journey_reason")
    with unit_of_work(db, actor) as session:
        patient = _get(session, patient_id)
        if patient.merged_into_id is not None:
            raise ValidationError(
                "This record was merged into another one; change that one instead.",
                field="journey_stage",
            )
        _move(patient, stage, reason if stage in _WITH_REASON else "")
        session.flush()
        return _record_of(session, patient)


def advance_journey(session: Session, patient_id: int, event: str) -> None:
    """Move the patient forward for ``event`` (inside the caller's unit of work).

    Never backwards, and never out of lost or inactive: those are staff decisions.
    """
    target = JOURNEY_EVENTS.get(event)
    if target is None:
        raise ValueError(f"unknown journey event {event!r}")
    patient = _get(session, patient_id)
    current = _STAGE_ORDER.get(patient.journey_stage)
    if current is None or current >= _STAGE_ORDER[target]:
        return
    _move(patient, target, "")


# --- merging ----------------------------------------------------------------------------------

# Not moved: the merged record's pointer to the kept one, its own search words (the kept
# record is re-indexed), and the append-only audit log (it has no foreign key anyway).
_NOT_MOVED = {("patients", "merged_into_id"), ("patient_search_terms", "patient_id")}


def patient_references() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to patients.id, from the models' metadata."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "patients" and fk.column.name == "id":
                found.append((table.name, fk.parent.name))
    return found


def merge_patients(db: Database, actor: Actor, keep_id: int, merge_id: int) -> MergeResult:
    """Move everything that refers to ``merge_id`` onto ``keep_id`` in one transaction;
    the merged record stays as an inactive pointer (``merged_into_id``)."""
    permissions.require(actor, Permission.MERGE_PATIENTS)
    if keep_id == merge_id:
        raise ValidationError("Choose two different patient records to merge.")
    with unit_of_work(db, actor) as session:
        kept = _get(session, keep_id)
        merged = _get(session, merge_id)
        if kept.merged_into_id is not None or merged.merged_into_id is not None:
            raise ValidationError("One of these records was already merged into another.")
        session.flush()
        moved: dict[str, int] = {}
        for table_name, column_name in patient_references():
            if (table_name, column_name) in _NOT_MOVED:
                continue
            table = Base.metadata.tables[table_name]
            column = table.c[column_name]
            result = session.execute(
                update(table).where(column == merge_id).values({column_name: keep_id})
            )
            if result.rowcount:
                key = table_name if column_name == "patient_id" else f"{table_name}.{column_name}"
                moved[key] = moved.get(key, 0) + result.rowcount
        # Records merged earlier into the one going away now point at the kept one.
        pointed = session.execute(
            update(Patient).where(Patient.merged_into_id == merge_id).values(merged_into_id=keep_id)
        )
        if pointed.rowcount:
            moved["patients.merged_into_id"] = pointed.rowcount
        session.expire_all()
        kept = _get(session, keep_id)
        merged = _get(session, merge_id)
        merged.merged_into_id = keep_id
        merged.merged_at = utc_now()
        _move(merged, JourneyStage.INACTIVE.value, f"Merged into chart {kept.chart_number}")
        summary = ", ".join(f"{name} {count}" for name, count in sorted(moved.items()))
        for patient_id, detail in (
            (keep_id, f"kept in merge with patient {merge_id}"),
            (merge_id, f"merged into patient {keep_id}"),
        ):
            record(
                session,
                AuditAction.UPDATE,
                entity="patients",
                entity_id=patient_id,
                patient_id=patient_id,
                detail=f"{detail}; moved: {summary or 'nothing'}",
            )
        index_patient(session, kept)
        session.flush()
        return MergeResult(kept_id=keep_id, merged_id=merge_id, moved=moved)


# --- appointments -----------------------------------------------------------------------------


def appointment_history(db: Database, actor: Actor, patient_id: int) -> AppointmentHistory:
    """The patient's appointments: upcoming (soonest first), past (latest first), counts."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with db.uow() as session:
        _get(session, patient_id)
        now = datetime.now(UTC)
        lines = _appointment_lines(
            session,
            select(Appointment).where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at),
        )  # fmt: skip
        upcoming = [a for a in lines if a.starts_at >= now and a.status in _UPCOMING]
        upcoming_ids = {a.id for a in upcoming}
        past = [a for a in reversed(lines) if a.id not in upcoming_ids]
        return AppointmentHistory(
            upcoming=upcoming,
            past=past,
            no_shows=sum(a.status == AppointmentStatus.NO_SHOW.value for a in lines),
            late_cancels=sum(a.late_cancel for a in lines),
        )


# --- the pipeline -----------------------------------------------------------------------------

#: What the coordinator does next for a patient in each stage (lost and inactive show why).
NEXT_STEP = {
    JourneyStage.INQUIRY.value: "Book a consultation",
    JourneyStage.CONSULTATION.value: "Follow up on the treatment plan",
    JourneyStage.BOOKED.value: "Confirm the appointment",
    JourneyStage.IN_TREATMENT.value: "Book the next treatment visit",
    JourneyStage.FOLLOW_UP.value: "Book the follow-up or recall visit",
}
_OPEN_PLANS = (
    PlanStatus.PRESENTED.value,
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
)
_OPEN_ITEMS = (ItemStatus.PROPOSED.value, ItemStatus.ACCEPTED.value, ItemStatus.SCHEDULED.value)


def _open_plan_values(session: Session, patient_ids: list[int]) -> dict[int, Decimal]:
    values: dict[int, Decimal] = {}
    for start in range(0, len(patient_ids), 500):
        chunk = patient_ids[start : start + 500]
        rows = session.execute(
            select(
                TreatmentPlan.patient_id,
                func.sum(TreatmentItem.patient_portion),
                func.sum(TreatmentItem.insurance_estimate),
            )
            .join(TreatmentPhase, TreatmentPhase.plan_id == TreatmentPlan.id)
            .join(TreatmentItem, TreatmentItem.phase_id == TreatmentPhase.id)
            .where(
                TreatmentPlan.patient_id.in_(chunk),
                TreatmentPlan.status.in_(_OPEN_PLANS),
                TreatmentItem.status.in_(_OPEN_ITEMS),
            )
            .group_by(TreatmentPlan.patient_id)
        )
        for patient_id, portion, insurance in rows:
            values[patient_id] = (portion or Decimal("0.00")) + (insurance or Decimal("0.00"))
    return values


def pipeline_counts(
    db: Database, actor: Actor, *, provider_id: int | None = None, lead_source: str | None = None
) -> dict[str, int]:
    """How many patients each journey stage holds (with :func:`pipeline`'s filters), however
    many of them the board shows."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    query = (
        select(Patient.journey_stage, func.count())
        .where(Patient.merged_into_id.is_(None))
        .group_by(Patient.journey_stage)
    )
    if provider_id is not None:
        query = query.where(Patient.primary_provider_id == provider_id)
    if lead_source:
        query = query.where(Patient.lead_source == lead_source)
    with db.uow() as session:
        counted = {stage: count for stage, count in session.execute(query)}
    return {stage.value: counted.get(stage.value, 0) for stage in JourneyStage}


def pipeline(
    db: Database,
    actor: Actor,
    *,
    provider_id: int | None = None,
    lead_source: str | None = None,
    limit_per_stage: int = 200,
) -> dict[str, list[PipelineCard]]:
    """Patients by journey stage (every stage a key, longest in stage first), optionally
    of one usual provider or lead source; open plan values need the right to see plans."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    sees_plans = permissions.role_allows(
        actor.role, Permission.VIEW_PLANS, emergency=actor.in_emergency
    )
    now = utc_now()
    board: dict[str, list[PipelineCard]] = {}
    with db.uow() as session:
        for stage in JourneyStage:
            query = (
                select(
                    Patient.id,
                    Patient.last_name,
                    Patient.first_name,
                    Patient.preferred_name,
                    Patient.journey_stage_since,
                    Patient.journey_reason,
                    Patient.lead_source,
                    Provider.name,
                )
                .outerjoin(Provider, Provider.id == Patient.primary_provider_id)
                .where(Patient.journey_stage == stage.value, Patient.merged_into_id.is_(None))
                .order_by(Patient.journey_stage_since, Patient.id)
                .limit(limit_per_stage)
            )
            if provider_id is not None:
                query = query.where(Patient.primary_provider_id == provider_id)
            if lead_source:
                query = query.where(Patient.lead_source == lead_source)
            rows = session.execute(query).all()
            values = _open_plan_values(session, [r.id for r in rows]) if sees_plans else {}
            board[stage.value] = [
                PipelineCard(
                    patient_id=r.id,
                    name=f"{r.last_name}, {r.first_name}"
                    + (f" ({r.preferred_name})" if r.preferred_name else ""),
                    stage=stage.value,
                    days_in_stage=max(0, (now - r.journey_stage_since).days),
                    next_step=NEXT_STEP.get(stage.value, r.journey_reason),
                    open_plan_value=values.get(r.id, Decimal("0.00")),
                    provider=r.name or "",
                    lead_source=r.lead_source,
                )
                for r in rows
            ]
    return board
