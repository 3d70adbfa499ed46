"""Finding patients: the search index, the typed query, the ranked list.

Search runs on ``patient_search_terms``: one row per folded name word, phone
(E.164 digits and national digits), e-mail and chart number of a patient, kept
by :func:`index_patient` whenever a patient is written.  A typed word matches
by prefix (``term >= q AND term < q_next``: a range on a plain B-tree index,
so the same query serves SQLite and PostgreSQL); several words must all match.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import parse_date
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from app.clock import today_in
from app.data.database import Database
from app.data.models.audit import AuditEntry
from app.data.models.clinic import ClinicSettings
from app.data.models.patients import Patient, PatientSearchTerm, SearchTermKind
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.compiled import compiled_rows
from app.services.clinic.permissions import Permission
from app.services.clinic.sessions import require_session
from app.services.clinic.uow import reading, unit_of_work
from app.services.patients.phones import display_phone

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


# --- the list row -----------------------------------------------------------------------------


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


#: What a list row reads of a patient (search, recent patients, possible duplicates).
HIT_COLUMNS = (
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


def patient_hit(row) -> PatientHit:
    """The list row of a patient, from a row of ``HIT_COLUMNS`` (a Row or a plain list)."""
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


def clean_typed_text(text: str, multiline: bool) -> str:
    """Drop control characters (pasted text); keep line breaks where a field has lines.

    The one tidy-up of what staff type: search queries, the record's fields, stage reasons.
    """
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


# --- search -----------------------------------------------------------------------------------

_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]+")
_DATE_LIKE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")


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
    """``column`` starts with the bound word ``name``: an index range (no LIKE, no function on
    the column)."""
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
                select(*HIT_COLUMNS)
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
                self._joined(*HIT_COLUMNS)
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
    born = parse_date_of_birth(text, locale, today_in(ZoneInfo(timezone)))
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


#: The most words a search looks at: a name, a middle name, a second surname and a few more.
#: Past it (a pasted paragraph) the rest is left out rather than built into one statement
#: per word — which a 1,500-word paste made too large for the database to take.
MAX_SEARCH_WORDS = 8


def _word_tiers(conn: Connection, text: str, include_inactive: bool) -> list:
    words = [word[:_MAX_TERM] for word in fold_for_search(text).split()][:MAX_SEARCH_WORDS]
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
    """``limit`` patients (as rows of ``HIT_COLUMNS``) from ``offset`` on, across the tiers."""
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
    text = clean_typed_text(query, multiline=False)
    if not text or limit <= 0:
        return []
    tiers = _tiers(conn, text, include_inactive)
    return [patient_hit(row) for row in _page(conn, tiers, max(0, offset), limit)]


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
        require_session(conn, actor)  # the account as it is now (sessions.py)
        return _search(conn, query, limit, offset, include_inactive)


def command_search(db: Database, actor: Actor, query: str, *, limit: int = 50) -> list[PatientHit]:
    """``caredesk patients search`` for the staff member signed in on the command line.

    Audited as them, with the number of results but never the query (which is itself
    patient data)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with unit_of_work(db, actor) as session:
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
    with reading(db, actor) as session:
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
        rows = {r.id: r for r in session.execute(select(*HIT_COLUMNS).where(Patient.id.in_(ids)))}
        return [patient_hit(rows[i]) for i in ids if i in rows]
