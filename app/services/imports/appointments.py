"""Appointments from a file: onto the patients (by chart number), providers, rooms and services
(by the names the user matched), in the clinic's time zone, with their status as history —
and the clashes listed, never silently double-booked.

The rules:

- The patient is found by chart number; none → the row is refused ("import the patients
  first").  A merged record is refused (import onto the kept one).
- ``date`` may hold the time too; ``start_time`` is the time when it does not.  The end is
  ``end_time``, else ``date`` + ``duration`` (minutes, "1:00", "1h 30m", an Open Dental
  pattern "XXXX//" = 6 × 5 minutes), else the service's usual length.  Times are the clinic's
  wall clock, stored as UTC: a time the clocks skip (the spring-forward hour) is refused with
  the reason; a time that happens twice (the fall-back hour) is the first of the two.
- Provider, room and service are found through the request's name maps; a name the map does
  not have is matched to a provider (room, service) of exactly that name if there is one,
  else refused and listed in ``unknown_names`` so the user can match it.  A name the user
  left unmatched (None) refuses its rows.  Past appointments may be on an inactive provider,
  room, service or patient (they are history); future ones may not.
- Status: scheduled / booked / unconfirmed → scheduled; confirmed; arrived / checked in;
  in treatment / seated; complete(d) / done / checked out; no show / missed / broken →
  no-show (Open Dental's "broken" appointment is one the patient did not keep); cancel(l)ed.
  Open Dental's AptStatus numbers: 1 scheduled, 2 complete, 5 broken → as those; 3
  (unscheduled list), 4 (ASAP list), 6 (planned), 7 and 8 (patient notes) are not
  appointments on the book: skipped with the reason, like "planned" and "unscheduled".  No
  status: a visit that has started is completed, a later one scheduled.
- Clashes: two appointments holding time (not canceled, not no-shows) of one provider or
  one room that overlap (touching ends do not) — rows of the file with each other or with
  appointments already booked — are listed in ``clashes`` and refused, unless the request
  says ``double_book``: then they are imported marked as double bookings (the server's
  exclusion constraint lets exactly those through) and the import's one audit row counts
  them, instead of one ``double_booked`` row each.  Found by one sweep per provider and room
  over the file and the book in the file's dates, not a query per row.  Working hours are
  not checked: the book being moved in is what the clinic's hours were.
- ``source_id``: an appointment imported before from the same source with the same id (the
  batch not undone) is skipped, as is a later row of the file repeating one.  The id is kept
  in the ``before`` of the import row that created it (``{"source_id": "…"}``), so no
  schema change is needed and an undone import forgets it.

Each appointment gets its booking row in the status history ("Imported from …", by the
importing user), dated at its start or the import, whichever is earlier: the schedule
report then counts a past visit as booked in its own month, not all in the month of the move.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.appointments import (
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
)
from app.data.models.imports import ImportBatch, ImportedRow, ImportedRowAction, ImportKind
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Room, Service
from app.i18n import format_time_range, format_weekday_date
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.imports import values as read
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
from app.services.patients.search import clean_typed_text, fold_for_search
from app.services.scheduling.booking import HOLDS_TIME, MAX_DURATION, MAX_YEARS_AHEAD

FIELDS = (
    "source_id",
    "patient_chart_number",
    "patient_name",
    "date",
    "start_time",
    "end_time",
    "duration",
    "provider",
    "room",
    "service",
    "status",
    "notes",
)
NOTES_MAX = 2000
_HOLDS = frozenset(HOLDS_TIME)

S = AppointmentStatus
_STATUS_WORDS = {
    "scheduled": S.SCHEDULED,
    "booked": S.SCHEDULED,
    "sched": S.SCHEDULED,
    "unconfirmed": S.SCHEDULED,
    "pending": S.SCHEDULED,
    "1": S.SCHEDULED,
    "confirmed": S.CONFIRMED,
    "arrived": S.ARRIVED,
    "checked in": S.ARRIVED,
    "here": S.ARRIVED,
    "in treatment": S.IN_TREATMENT,
    "in chair": S.IN_TREATMENT,
    "seated": S.IN_TREATMENT,
    "complete": S.COMPLETED,
    "completed": S.COMPLETED,
    "done": S.COMPLETED,
    "checked out": S.COMPLETED,
    "attended": S.COMPLETED,
    "seen": S.COMPLETED,
    "2": S.COMPLETED,
    "no show": S.NO_SHOW,
    "no-show": S.NO_SHOW,
    "noshow": S.NO_SHOW,
    "missed": S.NO_SHOW,
    "failed": S.NO_SHOW,
    "dna": S.NO_SHOW,
    "broken": S.NO_SHOW,
    "5": S.NO_SHOW,
    "cancelled": S.CANCELLED,
    "canceled": S.CANCELLED,
    "cancel": S.CANCELLED,
    "cancellation": S.CANCELLED,
    "cxl": S.CANCELLED,
}
_NOT_ON_THE_BOOK = {
    "planned": "a planned appointment, not one on the book",
    "6": "a planned appointment, not one on the book",
    "unscheduled": "on the unscheduled list, not on the book",
    "unscheduled list": "on the unscheduled list, not on the book",
    "unsched": "on the unscheduled list, not on the book",
    "3": "on the unscheduled list, not on the book",
    "asap": "on the ASAP list, not on the book",
    "4": "on the ASAP list, not on the book",
    "pt note": "a patient note, not an appointment",
    "patient note": "a patient note, not an appointment",
    "7": "a patient note, not an appointment",
    "8": "a patient note, not an appointment",
}
#: The timestamp each imported status sets (history: its start, its end).
_STAMPS = {
    S.CONFIRMED.value: ("confirmed_at",),
    S.ARRIVED.value: ("arrived_at",),
    S.IN_TREATMENT.value: ("arrived_at", "seated_at"),
    S.COMPLETED.value: ("arrived_at", "seated_at", "ready_at", "completed_at"),
    S.CANCELLED.value: ("cancelled_at",),
}
_STAMP_COLUMNS = ("confirmed_at", "arrived_at", "seated_at", "ready_at", "completed_at",
                  "cancelled_at")  # fmt: skip


def status_of(text: str, starts_at: datetime, now: datetime) -> str:
    """The appointment status a cell names; ValueError for one not known, LookupError (with
    the reason) for a row that is not an appointment on the book."""
    word = " ".join(text.casefold().replace("_", " ").split())
    if not word:
        return S.COMPLETED.value if starts_at <= now else S.SCHEDULED.value
    if word in _NOT_ON_THE_BOOK:
        raise LookupError(_NOT_ON_THE_BOOK[word])
    status = _STATUS_WORDS.get(word)
    if status is None:
        raise ValueError(
            f"Status “{text.strip()}” is not one CareDesk knows (scheduled, confirmed, "
            "completed, no-show, canceled …)."
        )
    return status.value


# --- names → ids ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Thing:
    id: int
    label: str
    is_active: bool
    minutes: int | None = None


class _Names:
    """One kind of resource (provider, room, service): the user's matches, and the clinic's
    own names for whatever they did not match."""

    def __init__(self, what: str, mapping: Mapping[str, int | None], things: dict[int, _Thing],
                 own_names: dict[str, list[int]]) -> None:  # fmt: skip
        self.what = what
        self.things = things
        self._mapped = {fold_for_search(k): v for k, v in mapping.items()}
        self._own = {name: ids[0] for name, ids in own_names.items() if len(set(ids)) == 1}
        self.unknown: list[str] = []
        self._unknown_seen: set[str] = set()

    def find(self, text: str) -> _Thing:
        name = " ".join(text.split())
        key = fold_for_search(name)
        label = self.what.capitalize()
        if key in self._mapped:
            found = self._mapped[key]
            if found is None:
                raise ValueError(f"{label} “{name}” was left unmatched: its rows are not imported.")
        else:
            found = self._own.get(key)
            if found is None:
                if key not in self._unknown_seen:
                    self._unknown_seen.add(key)
                    self.unknown.append(name)
                raise ValueError(
                    f"{label} “{name}” is not matched to a {self.what} in CareDesk: choose one."
                )
        thing = self.things.get(found)
        if thing is None:
            raise ValueError(f"{label} “{name}” is matched to a {self.what} that is not here.")
        return thing


def _names(session: Session, request: ImportRequest) -> dict[str, _Names]:
    providers, rooms, services = {}, {}, {}
    own: dict[str, dict[str, list[int]]] = {"provider": {}, "room": {}, "service": {}}
    for p in session.execute(
        select(Provider.id, Provider.title, Provider.name, Provider.is_active)
    ):
        label = f"{p.title} {p.name}".strip()
        providers[p.id] = _Thing(p.id, label, p.is_active)
        for name in {p.name, label}:
            own["provider"].setdefault(fold_for_search(name), []).append(p.id)
    for r in session.execute(select(Room.id, Room.name, Room.is_active)):
        rooms[r.id] = _Thing(r.id, r.name, r.is_active)
        own["room"].setdefault(fold_for_search(r.name), []).append(r.id)
    for s in session.execute(
        select(Service.id, Service.name, Service.code, Service.is_active,
               Service.default_duration_minutes)
    ):  # fmt: skip
        services[s.id] = _Thing(s.id, s.name, s.is_active, s.default_duration_minutes)
        for name in {s.name, s.code or s.name}:
            own["service"].setdefault(fold_for_search(name), []).append(s.id)
    return {
        "provider": _Names("provider", request.providers, providers, own["provider"]),
        "room": _Names("room", request.rooms, rooms, own["room"]),
        "service": _Names("service", request.services, services, own["service"]),
    }


# --- times ---------------------------------------------------------------------------------


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``zone``: the first of two in the
    fall-back hour; ValueError for a time the clocks skip."""
    local = datetime.combine(day, at, tzinfo=zone)
    moment = local.astimezone(UTC)
    back = moment.astimezone(zone)
    if (back.date(), back.time()) != (day, at):
        raise ValueError("skipped")
    return moment


def _moment(day: date, at: time, zone: ZoneInfo, locale: str, what: str) -> datetime:
    try:
        return local_to_utc(day, at, zone)
    except ValueError:
        from app.i18n import format_date, format_time

        raise ValueError(
            f"The {what} {format_time(at, None, locale)} on {format_date(day, locale)} does not "
            "exist in the clinic's time zone (the clocks went forward that night)."
        ) from None


# --- one row --------------------------------------------------------------------------------


@dataclass
class _Visit:
    line: int
    source_id: str
    columns: dict[str, object]


class _Skip(Exception):
    pass


def _read(
    row: MappedRow,
    request: ImportRequest,
    patients: dict[str, tuple[int, int | None, bool]],
    names: dict[str, _Names],
    context: dict,
) -> _Visit:
    cells = row.values
    zone, locale, now, today = context["zone"], context["locale"], context["now"], context["today"]
    chart = clean_typed_text(cells.get("patient_chart_number", ""), multiline=False)
    if not chart:
        raise ValueError("The patient's chart number is empty.")
    patient = patients.get(chart)
    if patient is None:
        raise ValueError(
            f"No patient with chart number {chart}: import the patients first (or check the "
            "chart number)."
        )
    patient_id, merged_into, patient_active = patient
    if merged_into is not None:
        raise ValueError(
            f"Chart number {chart} was merged into another record: import onto that one."
        )
    date_text, time_text = read.split_date_time(cells.get("date", ""))
    if not date_text:
        raise ValueError("The date is empty.")
    day = read.parse_date(
        date_text, request.date_order, today=today, latest_year=today.year + MAX_YEARS_AHEAD
    )
    start_text = cells.get("start_time", "").strip() or time_text
    if not start_text:
        raise ValueError("The appointment has no start time.")
    starts_at = _moment(day, read.parse_time(start_text), zone, locale, "start")
    ends_at = _end(cells, day, starts_at, zone, locale, names)
    if ends_at <= starts_at:
        raise ValueError("The appointment ends before it starts (or has no length).")
    if ends_at - starts_at > MAX_DURATION:
        raise ValueError("The appointment is longer than 12 hours: check its end or length.")
    if starts_at > now + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise ValueError(f"The date is more than {MAX_YEARS_AHEAD} years away: check the year.")
    try:
        status = status_of(cells.get("status", ""), starts_at, now)
    except LookupError as exc:
        raise _Skip(f"Not imported: {exc.args[0]}.") from None
    provider_text = cells.get("provider", "").strip()
    if not provider_text:
        raise ValueError("The provider is empty.")
    provider = names["provider"].find(provider_text)
    room = names["room"].find(cells["room"]) if cells.get("room", "").strip() else None
    service = names["service"].find(cells["service"]) if cells.get("service", "").strip() else None
    if starts_at > now:
        for thing, what in ((provider, "provider"), (room, "room"), (service, "service")):
            if thing is not None and not thing.is_active:
                raise ValueError(
                    f"The {what} {thing.label} is no longer active, and this appointment is "
                    "still to come: choose another, or reactivate it first."
                )
        if not patient_active:
            raise ValueError(
                f"Chart number {chart} is inactive, and this appointment is still to come: "
                "reactivate the record first."
            )
    notes = clean_typed_text(cells.get("notes", ""), multiline=True)
    if len(notes) > NOTES_MAX:
        raise ValueError(f"The notes are longer than {NOTES_MAX:,} characters.")
    columns: dict[str, object] = {
        "patient_id": patient_id,
        "provider_id": provider.id,
        "room_id": room.id if room else None,
        "service_id": service.id if service else None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "status": status,
        "notes": notes,
    }
    source_id = clean_typed_text(cells.get("source_id", ""), multiline=False)
    return _Visit(row.line, source_id, columns)


def _end(cells, day: date, starts_at: datetime, zone, locale, names) -> datetime:
    end_text = cells.get("end_time", "").strip()
    if end_text:
        _end_date, end_time_text = read.split_date_time(end_text)
        if end_time_text:  # "2020-03-04 10:00": a date and a time
            end_text = end_time_text
        return _moment(day, read.parse_time(end_text), zone, locale, "end")
    duration = cells.get("duration", "").strip()
    if duration:
        return starts_at + timedelta(minutes=read.parse_duration(duration))
    service_text = cells.get("service", "").strip()
    if service_text:
        service = names["service"].find(service_text)
        if service.minutes:
            return starts_at + timedelta(minutes=service.minutes)
    raise ValueError("The appointment has no end time or length.")


# --- clashes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    starts_at: datetime
    ends_at: datetime
    #: A line of the file (int) or an appointment already booked ("a<id>").
    ref: int | str


def find_clashes(spans_by_resource: dict[tuple[str, int], list[_Span]]):
    """For each line of the file that overlaps another span of its provider or room: the
    resource and the span it overlaps.  One sort and two passes per resource: a span clashes
    with an earlier one exactly when the latest end before it is after its start, and with a
    later one exactly when the next span starts before its end."""
    found: dict[int, tuple[tuple[str, int], _Span]] = {}
    for resource, spans in spans_by_resource.items():
        spans.sort(key=lambda s: (s.starts_at, s.ends_at))
        latest: _Span | None = None
        for i, span in enumerate(spans):
            partner = None
            if latest is not None and latest.ends_at > span.starts_at:
                partner = latest
            elif i + 1 < len(spans) and spans[i + 1].starts_at < span.ends_at:
                partner = spans[i + 1]
            if partner is not None and isinstance(span.ref, int) and span.ref not in found:
                found[span.ref] = (resource, partner)
            if latest is None or span.ends_at > latest.ends_at:
                latest = span
    return found


def _existing_spans(session: Session, visits: list[_Visit]):
    """Appointments holding time on the providers and rooms of ``visits``, in their dates."""
    if not visits:
        return []
    first = min(v.columns["starts_at"] for v in visits)
    last = max(v.columns["ends_at"] for v in visits)
    providers = sorted({v.columns["provider_id"] for v in visits})
    rooms = sorted({v.columns["room_id"] for v in visits if v.columns["room_id"] is not None})
    who = [Appointment.provider_id.in_(providers)]
    if rooms:
        who.append(Appointment.room_id.in_(rooms))
    return session.execute(
        select(
            Appointment.id,
            Appointment.provider_id,
            Appointment.room_id,
            Appointment.starts_at,
            Appointment.ends_at,
        )
        .where(
            Appointment.status.in_(HOLDS_TIME),
            Appointment.starts_at < last,
            Appointment.starts_at > first - MAX_DURATION,
            Appointment.ends_at > first,
            or_(*who),
        )
        .execution_options(yield_per=5000)
    ).all()


def _clash_reason(resource, partner: _Span, names: dict[str, _Names], context) -> str:
    kind, resource_id = resource
    label = names[kind].things[resource_id].label
    zone, locale = context["zone"], context["locale"]
    start, end = partner.starts_at.astimezone(zone), partner.ends_at.astimezone(zone)
    when = f"{format_time_range(start, end, locale)} on {format_weekday_date(start.date(), locale)}"
    if isinstance(partner.ref, int):
        where = f"by line {partner.ref} of the file"
    else:
        where = "by an appointment already in CareDesk"
    verb = "is already booked" if kind == "provider" else "is already taken"
    return f"Clash: {label} {verb} {when} {where}."


# --- the plan -------------------------------------------------------------------------------


def _imported_source_ids(session: Session, source: str) -> set[str]:
    """The source ids of appointments imported from ``source`` by imports not undone."""
    ids: set[str] = set()
    rows = session.scalars(
        select(ImportedRow.before)
        .join(ImportBatch, ImportBatch.id == ImportedRow.batch_id)
        .where(
            ImportBatch.kind == ImportKind.APPOINTMENTS.value,
            ImportBatch.source == source,
            ImportBatch.undone_at.is_(None),
            ImportedRow.table_name == "appointments",
            ImportedRow.action == ImportedRowAction.CREATED.value,
            ImportedRow.before != "",
        )
        .execution_options(yield_per=5000)
    )
    for before in rows:
        source_id = json.loads(before).get("source_id")
        if source_id:
            ids.add(source_id)
    return ids


def _patients(session: Session, charts: list[str]) -> dict[str, tuple[int, int | None, bool]]:
    found = {}
    for start in range(0, len(charts), 500):
        chunk = charts[start : start + 500]
        for pid, chart, merged_into, active in session.execute(
            select(Patient.id, Patient.chart_number, Patient.merged_into_id, Patient.is_active)
            .where(Patient.chart_number.in_(chunk))
        ):  # fmt: skip
            found[chart] = (pid, merged_into, active)
    return found


def plan(session: Session, request: ImportRequest, ticker: Ticker) -> Plan:
    """What each row of an appointments file would do (nothing is written)."""
    result = Plan(request.kind, len(request.rows))
    rows = [unescaped(row) for row in request.rows]
    settings = clinic_settings(session)
    now = utc_now()
    zone = clinic_zone(session)
    context = {"zone": zone, "locale": settings.locale, "now": now,
               "today": now.astimezone(zone).date()}  # fmt: skip
    names = _names(session, request)
    charts = sorted(
        {c for r in rows if (c := clean_typed_text(r.values.get("patient_chart_number", ""),
                                                           multiline=False))}
    )  # fmt: skip
    patients = _patients(session, charts)
    imported = _imported_source_ids(session, request.source) if request.source else set()
    seen_source: dict[str, int] = {}
    visits: list[_Visit] = []
    rows_by_line: dict[int, MappedRow] = {}
    for row in rows:
        ticker.step()
        try:
            visit = _read(row, request, patients, names, context)
        except read.AmbiguousDate as exc:
            result.date_order_needed = True
            result.rejects.append(reject_of(row, f"Date: {exc}"))
            continue
        except _Skip as exc:
            result.skipped.append(reject_of(row, str(exc)))
            continue
        except ValueError as exc:
            result.rejects.append(reject_of(row, str(exc)))
            continue
        if visit.source_id:
            if visit.source_id in imported:
                result.skipped.append(
                    reject_of(
                        row,
                        f"Already imported from {request.source} (its appointment "
                        f"{visit.source_id}).",
                    )
                )
                continue
            if visit.source_id in seen_source:
                result.skipped.append(
                    reject_of(
                        row,
                        f"Repeats line {seen_source[visit.source_id]} of the file (the same "
                        f"appointment {visit.source_id}).",
                    )
                )
                continue
            seen_source[visit.source_id] = row.line
        visits.append(visit)
        rows_by_line[row.line] = row
    result.unknown_names = {kind: list(n.unknown) for kind, n in names.items() if n.unknown}

    spans: dict[tuple[str, int], list[_Span]] = defaultdict(list)
    for visit in visits:
        c = visit.columns
        if c["status"] not in _HOLDS:
            continue
        span = _Span(c["starts_at"], c["ends_at"], visit.line)  # type: ignore[arg-type]
        spans[("provider", c["provider_id"])].append(span)  # type: ignore[index]
        if c["room_id"] is not None:
            spans[("room", c["room_id"])].append(span)  # type: ignore[index]
    if spans:
        for aid, provider_id, room_id, start, end in _existing_spans(session, visits):
            span = _Span(start, end, f"a{aid}")
            if ("provider", provider_id) in spans:
                spans[("provider", provider_id)].append(span)
            if room_id is not None and ("room", room_id) in spans:
                spans[("room", room_id)].append(span)
    clashing = find_clashes(spans)
    for line, (resource, partner) in sorted(clashing.items()):
        clash = reject_of(rows_by_line[line], _clash_reason(resource, partner, names, context))
        result.clashes.append(clash)
        if not request.double_book:
            result.rejects.append(clash)

    reason = f"Imported from {request.source}"[:200]
    for visit in visits:
        double = visit.line in clashing
        if double and not request.double_book:
            continue
        columns = _columns(visit, now, double)
        columns["_source_id"] = visit.source_id
        columns["_reason"] = reason
        result.creates.append((visit.line, columns))
    result.extra["double_booked"] = len(clashing) if request.double_book else 0
    return result


def _columns(visit: _Visit, now: datetime, double_booked: bool) -> dict[str, object]:
    """The visit's row as it is inserted (its own dict, completed: 200,000 of them are held)."""
    c = visit.columns
    starts_at, ends_at = c["starts_at"], c["ends_at"]
    stamps = dict.fromkeys(_STAMP_COLUMNS)
    for name in _STAMPS.get(str(c["status"]), ()):
        moment = {"completed_at": ends_at, "ready_at": ends_at}.get(name, starts_at)
        stamps[name] = min(moment, now)  # type: ignore[type-var]
    c.update(
        stamps,
        series_id=None,
        treatment_phase_id=None,
        booked_by_id=None,
        double_booked=double_booked,
        cancelled_by=None,
        cancel_reason="",
        late_cancel=False,
        created_at=now,
        updated_at=now,
        version=1,
    )
    return c


# --- writing --------------------------------------------------------------------------------


def write(
    session: Session, actor, request: ImportRequest, result: Plan, ticker: Ticker, log: RowLog
) -> None:
    """Insert the appointments and their booking rows in chunks; their import_rows."""
    table = Appointment.__table__
    history = AppointmentStatusChange.__table__
    staff_id = actor.staff_id if actor is not None else None
    now = utc_now()
    for start in range(0, len(result.creates), CHUNK):
        chunk = result.creates[start : start + CHUNK]
        rows = []
        for _line, columns in chunk:
            row = {k: v for k, v in columns.items() if not k.startswith("_")}
            row["booked_by_id"] = staff_id
            rows.append(row)
        ids = insert_returning_ids(
            session, table, rows, ("patient_id", "provider_id", "starts_at", "ends_at")
        )
        session.execute(
            insert(history),
            [
                {
                    "appointment_id": aid,
                    "from_status": None,
                    "to_status": columns["status"],
                    "changed_at": min(columns["starts_at"], now),  # type: ignore[type-var]
                    "changed_by_id": staff_id,
                    "reason": columns["_reason"],
                }
                for aid, (_line, columns) in zip(ids, chunk, strict=True)
            ],
        )
        log.add(
            [
                {
                    "table_name": "appointments",
                    "row_id": aid,
                    "action": ImportedRowAction.CREATED.value,
                    "line": line,
                    "before": {"source_id": columns["_source_id"]} if columns["_source_id"] else "",
                }
                for aid, (line, columns) in zip(ids, chunk, strict=True)
            ]
        )
        ticker.step(len(chunk))
