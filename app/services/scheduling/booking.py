"""The appointment book's rules: when providers work, what clashes, booking and moving.

Times are UTC-aware datetimes everywhere in here; working hours and breaks are
local wall-clock minutes, turned into UTC spans for one local date by
:func:`at_local`, so "Tuesdays 9:00-17:00" stays 9:00 across a DST change and
an appointment across the change keeps its true length.

The clash check runs inside the same transaction as the write it guards
(:func:`book_appointment`, :func:`move_appointment`).  SQLite serialises
writers, and the transaction begins with a write to the booked resource's
row, so a second workstation that read before the first committed is refused
instead of racing past the check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import (
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    AppointmentStatusChange,
)
from app.data.models.clinic import ClinicSettings
from app.data.models.documents import ConsentTemplate, ConsentVersion, StoredDocument
from app.data.models.insurance import PreAuthorization, PreAuthStatus
from app.data.models.patients import Patient
from app.data.models.providers import (
    MINUTES_PER_DAY,
    Provider,
    ProviderBreak,
    Room,
    Service,
    ServiceRequiredConsent,
    WorkingHours,
)
from app.i18n import spelling
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_zone, day_bounds
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import LOCK_ONLY, reading, unit_of_work
from app.services.errors import CareDeskError, NotFoundError, ValidationError
from app.services.patients import journey

#: Statuses that hold their time: a cancelled appointment frees its slot; a no-show
#: is history (the time has passed) and does not block a rebooking either.
HOLDS_TIME = (
    AppointmentStatus.SCHEDULED.value,
    AppointmentStatus.CONFIRMED.value,
    AppointmentStatus.ARRIVED.value,
    AppointmentStatus.IN_TREATMENT.value,
    AppointmentStatus.COMPLETED.value,
)
#: Bookings further out than this are a typo (2076 for 2026), not a plan.
MAX_YEARS_AHEAD = 5
#: A single visit longer than this is a typo too (8:00 to 20:00 the next day).
MAX_DURATION = timedelta(hours=12)


# --- spans of time and when a provider can be booked -------------------------------------------


@dataclass(frozen=True, order=True)
class TimeSpan:
    """A stretch of real time, UTC-aware at both ends (``starts_at < ends_at``)."""

    starts_at: datetime
    ends_at: datetime
    label: str = ""

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        """True when the spans share time; touching ends (9:30 / 9:30) do not overlap."""
        return self.starts_at < ends_at and starts_at < self.ends_at


@dataclass(frozen=True)
class ResourceDay:
    """When one resource can be booked on one local date.

    ``working`` is the provider's hours with breaks cut out (a room: the clinic's
    opening hours); ``breaks`` are drawn as shaded, labelled spans.
    """

    resource_id: int
    day: date
    working: tuple[TimeSpan, ...]
    breaks: tuple[TimeSpan, ...] = ()


# --- local time ------------------------------------------------------------------------------


def at_local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock ``minute`` on ``day`` (1440 = next midnight).

    A wall time skipped by a DST change resolves to the instant after the gap
    (zoneinfo's fold=0 rule), so spans stay in order.
    """
    extra_days, minute = divmod(minute, MINUTES_PER_DAY)
    if extra_days:
        day += timedelta(days=extra_days)
    hour, minute = divmod(minute, 60)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def local_day_span(day: date, zone: ZoneInfo) -> TimeSpan:
    """From local midnight to the next: 23, 24 or 25 hours (clock.day_bounds)."""
    return TimeSpan(*day_bounds(day, zone))


def wall_minute(moment: datetime, zone: ZoneInfo) -> int:
    """Minutes after local midnight shown on the clock at ``moment``."""
    local = moment.astimezone(zone)
    return local.hour * 60 + local.minute


def _subtract(spans: list[TimeSpan], cuts: Iterable[TimeSpan]) -> list[TimeSpan]:
    out = spans
    for cut in cuts:
        nxt: list[TimeSpan] = []
        for s in out:
            if not s.overlaps(cut.starts_at, cut.ends_at):
                nxt.append(s)
                continue
            if s.starts_at < cut.starts_at:
                nxt.append(TimeSpan(s.starts_at, cut.starts_at))
            if cut.ends_at < s.ends_at:
                nxt.append(TimeSpan(cut.ends_at, s.ends_at))
        out = nxt
    return out


def provider_days(
    session: Session, provider_ids: Sequence[int], first_day: date, last_day: date
) -> dict[tuple[int, date], ResourceDay]:
    """Bookable time of each provider on each local date in ``first_day..last_day``.

    Working hours minus weekly and dated breaks.  The one place this rule lives:
    the views shade it, the clash check and "find next available" obey it.
    """
    zone = clinic_zone(session)
    ids = list(provider_ids)
    hours: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for wh in session.execute(
        select(
            WorkingHours.provider_id,
            WorkingHours.weekday,
            WorkingHours.start_minute,
            WorkingHours.end_minute,
        ).where(WorkingHours.provider_id.in_(ids))
    ):
        hours[(wh.provider_id, wh.weekday)].append((wh.start_minute, wh.end_minute))
    weekly: dict[tuple[int, int], list[tuple[int, int, str]]] = defaultdict(list)
    dated: dict[tuple[int, date], list[tuple[int, int, str]]] = defaultdict(list)
    for br in session.execute(
        select(ProviderBreak).where(
            ProviderBreak.provider_id.in_(ids),
            or_(
                ProviderBreak.weekday.is_not(None),
                ProviderBreak.on_date.between(first_day, last_day),
            ),
        )
    ).scalars():
        item = (br.start_minute, br.end_minute, br.label)
        if br.weekday is not None:
            weekly[(br.provider_id, br.weekday)].append(item)
        else:
            dated[(br.provider_id, br.on_date)].append(item)

    result: dict[tuple[int, date], ResourceDay] = {}
    day = first_day
    while day <= last_day:
        for pid in ids:
            working = sorted(
                TimeSpan(at_local(day, a, zone), at_local(day, b, zone))
                for a, b in hours.get((pid, day.weekday()), ())
            )
            breaks = [
                TimeSpan(at_local(day, a, zone), at_local(day, b, zone), label or "Break")
                for a, b, label in (
                    *weekly.get((pid, day.weekday()), ()),
                    *dated.get((pid, day), ()),
                )
            ]
            breaks.sort(key=lambda s: s.starts_at)
            result[(pid, day)] = ResourceDay(
                pid, day, tuple(_subtract(working, breaks)), tuple(breaks)
            )
        day += timedelta(days=1)
    return result


# --- status bookkeeping ------------------------------------------------------------------------

#: The timestamp column each status stamps when an appointment reaches it.
_STATUS_STAMPS = {
    AppointmentStatus.CONFIRMED.value: "confirmed_at",
    AppointmentStatus.ARRIVED.value: "arrived_at",
    AppointmentStatus.IN_TREATMENT.value: "seated_at",
    AppointmentStatus.COMPLETED.value: "completed_at",
    AppointmentStatus.CANCELLED.value: "cancelled_at",
}


def record_status_change(
    session: Session,
    appointment: Appointment,
    to_status: str,
    actor: Actor | None,
    *,
    reason: str = "",
    at: datetime | None = None,
) -> None:
    """Set the status, stamp its time and append the who/when row of the status history.

    The one place an appointment's status is written (booking, status flow,
    confirmation calls), so the history never misses a step.
    """
    at = at or utc_now()
    from_status = None if appointment.id is None else appointment.status
    appointment.status = to_status
    stamp = _STATUS_STAMPS.get(to_status)
    if stamp is not None:
        setattr(appointment, stamp, at)
    session.add(
        AppointmentStatusChange(
            appointment=appointment,
            from_status=from_status,
            to_status=to_status,
            changed_at=at,
            changed_by_id=actor.staff_id if actor is not None else None,
            reason=reason[:200],
        )
    )


# --- what a booking asks for, and what stands in its way ------------------------------------


@dataclass(frozen=True)
class AppointmentRequest:
    """One visit as the booking dialog, a drag or a series asks for it (UTC times)."""

    patient_id: int
    provider_id: int
    starts_at: datetime
    ends_at: datetime
    service_id: int | None = None
    room_id: int | None = None
    notes: str = ""
    treatment_phase_id: int | None = None


@dataclass(frozen=True)
class Clash:
    """Why a time cannot be booked: ``kind`` is provider, room, patient or hours."""

    kind: str
    message: str
    appointment_id: int | None = None


@dataclass(frozen=True)
class BookingCheck:
    """A read-only look at a request: what clashes and what to warn about."""

    clashes: tuple[Clash, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def free(self) -> bool:
        return not self.clashes


@dataclass(frozen=True)
class BookingResult:
    appointment_id: int
    version: int
    warnings: tuple[str, ...] = ()


class ConflictError(CareDeskError):
    """The time is taken (or outside working hours); the message names what is in the way."""

    def __init__(self, clashes: Sequence[Clash], can_double_book: bool) -> None:
        self.clashes = tuple(clashes)
        self.can_double_book = can_double_book
        message = self.clashes[0].message
        if len(self.clashes) > 1:
            message += f" (and {len(self.clashes) - 1} more)"
        super().__init__(message)


@dataclass(frozen=True)
class _Labels:
    """How the clinic writes times in messages."""

    zone: ZoneInfo
    locale: str

    def times(self, starts_at: datetime, ends_at: datetime) -> str:
        from app.i18n import format_time

        tz = self.zone.key
        return f"{format_time(starts_at, tz, self.locale)}–{format_time(ends_at, tz, self.locale)}"

    def day(self, moment: datetime) -> str:
        from app.i18n import format_weekday_date

        day = moment.astimezone(self.zone).date()
        return format_weekday_date(day, self.locale, with_year=False)

    def span(self, starts_at: datetime, ends_at: datetime) -> str:
        return f"{self.times(starts_at, ends_at)} on {self.day(starts_at)}"


def _labels(session: Session) -> _Labels:
    settings = session.get(ClinicSettings, 1)
    return _Labels(clinic_zone(session), settings.locale if settings is not None else "en_US")


def _patient_label(patient: Patient) -> str:
    return f"{patient.last_name}, {patient.first_name}"


def provider_label(provider: Provider) -> str:
    """How messages and calendar columns name a provider ("Dr. Hana Sato")."""
    return f"{provider.title} {provider.name}".strip()


def validate_request(session: Session, request: AppointmentRequest) -> None:
    """Refuse what cannot be booked at all, whatever else is on the calendar.

    End before start, an impossible length, a patient who was merged or
    deactivated, an inactive provider, a removed room or service, a typo'd year.
    """
    for name in ("starts_at", "ends_at"):
        if getattr(request, name).tzinfo is None:
            raise ValidationError(
                "The visit's time has no time zone, so it could be an hour off: choose it "
                "again in the calendar.",
                field=name,
            )
    if request.ends_at <= request.starts_at:
        if request.ends_at == request.starts_at:
            raise ValidationError(
                "The visit needs a length: the end is the same as the start.", field="duration"
            )
        raise ValidationError("The visit ends before it starts.", field="duration")
    if request.ends_at - request.starts_at > MAX_DURATION:
        raise ValidationError("A visit can be at most 12 hours long.", field="duration")
    if request.starts_at > utc_now() + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise ValidationError(
            f"That date is more than {MAX_YEARS_AHEAD} years away; check the year.", field="date"
        )
    patient = session.get(Patient, request.patient_id)
    if patient is None:
        raise ValidationError("That patient record no longer exists.", field="patient")
    if patient.merged_into_id is not None:
        raise ValidationError(
            f"{_patient_label(patient)} was merged into another record; book the kept record.",
            field="patient",
        )
    if not patient.is_active:
        raise ValidationError(
            f"{_patient_label(patient)}'s record is inactive; reactivate it to book.",
            field="patient",
        )
    provider = session.get(Provider, request.provider_id)
    if provider is None or not provider.is_active:
        name = provider_label(provider) if provider is not None else "That provider"
        raise ValidationError(
            f"{name} is no longer active; choose another provider.", field="provider"
        )
    if request.room_id is not None:
        room = session.get(Room, request.room_id)
        if room is None or not room.is_active:
            name = room.name if room is not None else "That room"
            raise ValidationError(f"{name} has been removed; choose another room.", field="room")
    if request.service_id is not None:
        service = session.get(Service, request.service_id)
        if service is None or not service.is_active:
            name = service.name if service is not None else "That service"
            raise ValidationError(
                f"“{name}” is no longer offered; choose another service.", field="service"
            )
    if len(request.notes) > 2000:
        raise ValidationError("The notes are longer than 2,000 characters.", field="notes")


def holding_time(starts_at: datetime, ends_at: datetime, ignore: Iterable[int] = ()):
    """The condition for appointments that hold time overlapping ``starts_at``–``ends_at``
    (touching ends do not overlap): what clashes, what is busy, what is not free."""
    conditions = [
        Appointment.status.in_(HOLDS_TIME),
        Appointment.starts_at < ends_at,
        Appointment.ends_at > starts_at,
        # No visit is longer than MAX_DURATION: this lower bound lets the (resource,
        # starts_at) indexes read only the window instead of ten years of history.
        Appointment.starts_at > starts_at - MAX_DURATION,
    ]
    ignore = [i for i in ignore if i is not None]
    if ignore:
        conditions.append(Appointment.id.not_in(ignore))
    return and_(*conditions)


def find_clashes(
    session: Session,
    request: AppointmentRequest,
    *,
    ignore_appointment_ids: Iterable[int] = (),
    labels: _Labels | None = None,
) -> list[Clash]:
    """Everything in the way of ``request``: the provider's, room's or patient's other
    appointments that overlap it (touching ends do not), and time outside the
    provider's working hours or inside a break."""
    labels = labels or _labels(session)
    ignore = list(ignore_appointment_ids)
    clashes: list[Clash] = []
    other_patient = aliased(Patient)
    who = or_(
        Appointment.provider_id == request.provider_id,
        Appointment.patient_id == request.patient_id,
        *([Appointment.room_id == request.room_id] if request.room_id is not None else []),
    )
    rows = session.execute(
        select(Appointment, other_patient, Provider, Service.name, Room.name)
        .join(other_patient, other_patient.id == Appointment.patient_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Service, Service.id == Appointment.service_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(holding_time(request.starts_at, request.ends_at, ignore), who)
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    for appt, patient, provider, service_name, room_name in rows:
        what = f"{_patient_label(patient)}" + (f" ({service_name})" if service_name else "")
        when = labels.span(appt.starts_at, appt.ends_at)
        if appt.provider_id == request.provider_id:
            clashes.append(
                Clash(
                    "provider", f"{provider_label(provider)} already sees {what} {when}.", appt.id
                )
            )
        elif request.room_id is not None and appt.room_id == request.room_id:
            clashes.append(Clash("room", f"{room_name} is taken by {what} {when}.", appt.id))
        if appt.patient_id == request.patient_id and appt.provider_id != request.provider_id:
            clashes.append(
                Clash(
                    "patient",
                    f"{_patient_label(patient)} is already booked with {provider_label(provider)}"
                    f"{' for ' + service_name if service_name else ''} {when}.",
                    appt.id,
                )
            )
    clashes.extend(_hours_clashes(session, request, labels))
    return clashes


def _hours_clashes(session: Session, request: AppointmentRequest, labels: _Labels) -> list[Clash]:
    zone = labels.zone
    first = request.starts_at.astimezone(zone).date()
    last = (request.ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    days = provider_days(session, [request.provider_id], first, last)
    provider = session.get(Provider, request.provider_id)
    name = provider_label(provider)
    working = [s for d in days.values() for s in d.working]
    covered = any(
        s.starts_at <= request.starts_at and request.ends_at <= s.ends_at for s in working
    )
    if covered:
        return []
    for day in days.values():
        for br in day.breaks:
            if br.overlaps(request.starts_at, request.ends_at):
                return [
                    Clash(
                        "hours",
                        f"{name} is on a break ({br.label}) "
                        f"{labels.span(br.starts_at, br.ends_at)}.",
                    )
                ]
    if not working:
        return [Clash("hours", f"{name} does not work on {labels.day(request.starts_at)}.")]
    hours = ", ".join(labels.times(s.starts_at, s.ends_at) for s in working)
    return [
        Clash(
            "hours",
            f"{labels.span(request.starts_at, request.ends_at)} is outside "
            f"{name}'s working hours ({hours}).",
        )
    ]


# --- warnings: booked anyway, but the desk should know ------------------------------------------


def _service_name(session: Session, service_id: int) -> str:
    return session.scalar(select(Service.name).where(Service.id == service_id)) or "This service"


def unsigned_consent_template_ids(
    session: Session, patient_id: int, template_ids: Iterable[int]
) -> list[int]:
    """Of these consent templates, the ones the patient has no signed copy of (any version
    counts: a signed copy keeps its wording when the template is edited later)."""
    required = list(dict.fromkeys(template_ids))
    if not required:
        return []
    signed = set(
        session.scalars(
            select(ConsentVersion.template_id)
            .join(StoredDocument, StoredDocument.consent_version_id == ConsentVersion.id)
            .where(
                StoredDocument.patient_id == patient_id,
                StoredDocument.signed_at.is_not(None),
                ConsentVersion.template_id.in_(required),
            )
        )
    )
    return [t for t in required if t not in signed]


def consent_warnings(session: Session, patient_id: int, service_id: int | None) -> list[str]:
    """The consents the service requires that the patient has not signed (check-in repeats it)."""
    if service_id is None:
        return []
    required = session.scalars(
        select(ServiceRequiredConsent.consent_template_id).where(
            ServiceRequiredConsent.service_id == service_id
        )
    ).all()
    if not required:
        return []
    missing = unsigned_consent_template_ids(session, patient_id, required)
    if not missing:
        return []
    titles = dict(
        session.execute(
            select(ConsentVersion.template_id, ConsentVersion.title)
            .join(ConsentTemplate, ConsentTemplate.id == ConsentVersion.template_id)
            .where(ConsentVersion.template_id.in_(missing))
            .order_by(ConsentVersion.language == "en", ConsentVersion.version)
        ).all()
    )  # the latest English version's title wins (staff read English; Spanish is for patients)
    service = _service_name(session, service_id)
    return [
        f"{service} needs the “{titles.get(t, 'consent')}” form signed; it is not signed yet."
        for t in missing
    ]


def preauth_warnings(
    session: Session,
    patient_id: int,
    service_id: int | None,
    starts_at: datetime,
    *,
    ignore_appointment_ids: Iterable[int] = (),
) -> list[str]:
    """For a service that needs a pre-authorisation: none approved, it expires before the
    visit, or its approved visits are all used or already booked."""
    if service_id is None:
        return []
    service = session.get(Service, service_id)
    if service is None or not service.requires_preauth:
        return []
    labels = _labels(session)
    visit_day = starts_at.astimezone(labels.zone).date()
    approved = session.scalars(
        select(PreAuthorization)
        .where(
            PreAuthorization.patient_id == patient_id,
            PreAuthorization.service_id == service_id,
            PreAuthorization.status == PreAuthStatus.APPROVED.value,
        )
        .order_by(PreAuthorization.expires_on.desc().nulls_first())
    ).all()
    # Whole sentences through the clinic's spelling ("pre-authorisation" in en_GB).
    spell = spelling(labels.locale)
    if not approved:
        return [
            spell("%(service)s needs a pre-authorization and none is approved for this patient.")
            % {"service": service.name}
        ]
    valid = [pa for pa in approved if pa.expires_on is None or pa.expires_on >= visit_day]
    if not valid:
        from app.i18n import format_date

        last = max(pa.expires_on for pa in approved)
        return [
            spell("The pre-authorization for %(service)s expires on %(date)s, before this visit.")
            % {"service": service.name, "date": format_date(last, labels.locale)}
        ]
    limited = [pa for pa in valid if pa.approved_units is not None]
    if len(limited) == len(valid):
        left = sum(pa.approved_units - pa.used_units for pa in limited)
        ignore = [i for i in ignore_appointment_ids if i is not None]
        booked = session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.patient_id == patient_id,
                Appointment.service_id == service_id,
                Appointment.status.in_(HOLDS_TIME[:-1]),  # booked, not yet completed
                *([Appointment.id.not_in(ignore)] if ignore else []),
            )
        )
        if left - booked <= 0:
            total = sum(pa.approved_units for pa in limited)
            return [
                spell(
                    "All %(total)s approved visits of the pre-authorization for %(service)s "
                    "are used or already booked."
                )
                % {"total": total, "service": service.name}
            ]
    return []


def booking_warnings(
    session: Session,
    patient_id: int,
    service_id: int | None,
    starts_at: datetime,
    *,
    ignore_appointment_ids: Iterable[int] = (),
) -> list[str]:
    """What to tell the desk about a booking that is allowed: pre-authorisation and consents."""
    return [
        *preauth_warnings(
            session,
            patient_id,
            service_id,
            starts_at,
            ignore_appointment_ids=ignore_appointment_ids,
        ),
        *consent_warnings(session, patient_id, service_id),
    ]


# --- booking ---------------------------------------------------------------------------------


def check_booking(
    db: Database, actor: Actor, request: AppointmentRequest, *, ignore_appointment_id=None
) -> BookingCheck:
    """A read-only preview of a booking: its clashes and warnings (bad input raises)."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        validate_request(session, request)
        ignore = [ignore_appointment_id]
        return BookingCheck(
            tuple(find_clashes(session, request, ignore_appointment_ids=ignore)),
            tuple(
                booking_warnings(
                    session,
                    request.patient_id,
                    request.service_id,
                    request.starts_at,
                    ignore_appointment_ids=ignore,
                )
            ),
        )


def request_of(appointment: Appointment) -> AppointmentRequest:
    """The booking request an existing visit stands for (to check it against the book)."""
    return AppointmentRequest(
        patient_id=appointment.patient_id,
        provider_id=appointment.provider_id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        service_id=appointment.service_id,
        room_id=appointment.room_id,
        notes=appointment.notes,
        treatment_phase_id=appointment.treatment_phase_id,
    )


def lock_book(session: Session) -> None:
    """Take SQLite's write lock before reading anything, so this transaction's clash check
    sees every booking committed before it and none can commit until it is done.

    (A no-op UPDATE takes the lock even when it changes nothing.  A unit of work already
    holds it from its BEGIN IMMEDIATE; this says so where the book depends on it, and
    holds it in any other transaction too.)
    """
    session.execute(
        update(ClinicSettings).where(ClinicSettings.id == 1).values(id=1),
        execution_options={LOCK_ONLY: True},
    )


def refuse_clashes(actor: Actor, clashes: Sequence[Clash], double_book: bool) -> None:
    if not clashes:
        return
    # One rule for every kind of clash, working hours included: owners and
    # coordinators may override it, deliberately and audited.
    allowed = permissions.role_allows(actor.role, Permission.DOUBLE_BOOK)
    if not double_book or not allowed:
        raise ConflictError(clashes, can_double_book=allowed)


def audit_double_book(session: Session, appointment: Appointment, clashes: Sequence[Clash]) -> None:
    from app.services.clinic.audit import AuditAction, record

    record(
        session,
        AuditAction.DOUBLE_BOOKED,
        entity="appointments",
        entity_id=appointment.id,
        patient_id=appointment.patient_id,
        detail="; ".join(c.message for c in clashes),
    )


def _write_new(
    session: Session,
    actor: Actor,
    request: AppointmentRequest,
    *,
    series_id: int | None,
    double_book: bool,
    clashes: Sequence[Clash],
) -> Appointment:
    appointment = Appointment(
        patient_id=request.patient_id,
        provider_id=request.provider_id,
        room_id=request.room_id,
        service_id=request.service_id,
        series_id=series_id,
        treatment_phase_id=request.treatment_phase_id,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        notes=request.notes.strip(),
        booked_by_id=actor.staff_id,
        double_booked=bool(clashes) and double_book,
    )
    session.add(appointment)
    record_status_change(session, appointment, AppointmentStatus.SCHEDULED.value, actor)
    session.flush()
    if clashes:
        audit_double_book(session, appointment, clashes)
    journey.advance_journey(session, request.patient_id, "booked")
    return appointment


def book_appointment(
    db: Database, actor: Actor, request: AppointmentRequest, *, double_book: bool = False
) -> BookingResult:
    """Book one visit: refused on any clash unless an owner/coordinator double-books (audited).

    The clash check and the insert share one transaction that holds the write lock.
    """
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    with unit_of_work(db, actor) as session:
        lock_book(session)
        validate_request(session, request)
        clashes = find_clashes(session, request)
        refuse_clashes(actor, clashes, double_book)
        appointment = _write_new(
            session, actor, request, series_id=None, double_book=double_book, clashes=clashes
        )
        warnings = booking_warnings(
            session,
            request.patient_id,
            request.service_id,
            request.starts_at,
            ignore_appointment_ids=[appointment.id],
        )
        return BookingResult(appointment.id, appointment.version, tuple(warnings))


def series_requests(
    first: AppointmentRequest, count: int, every_days: int, *, timezone: str = "UTC"
) -> list[AppointmentRequest]:
    """``count`` visits like ``first``, ``every_days`` apart, each at the same local
    wall-clock time in ``timezone`` (a 9:00 visit stays at 9:00 across a DST change)."""
    if not 2 <= count <= 52:
        raise ValidationError("A series has 2 to 52 visits.", field="count")
    if not 1 <= every_days <= 365:
        raise ValidationError("Visits in a series are 1 to 365 days apart.", field="every")
    zone = ZoneInfo(timezone)
    local = first.starts_at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    length = first.ends_at - first.starts_at
    requests = []
    for i in range(count):
        starts_at = at_local(local.date() + timedelta(days=i * every_days), minute, zone)
        requests.append(replace(first, starts_at=starts_at, ends_at=starts_at + length))
    return requests


def _series_clashes(session: Session, requests: Sequence[AppointmentRequest]) -> list[list[Clash]]:
    """Each instance's clashes with the book and with the earlier instances of the series."""
    labels = _labels(session)
    result = []
    for i, request in enumerate(requests):
        clashes = find_clashes(session, request, labels=labels)
        for earlier in requests[:i]:
            if earlier.starts_at < request.ends_at and request.starts_at < earlier.ends_at:
                clashes.append(
                    Clash(
                        "patient",
                        f"It overlaps visit {requests.index(earlier) + 1} of this series.",
                    )
                )
        result.append(clashes)
    return result


def preview_series(
    db: Database, actor: Actor, requests: Sequence[AppointmentRequest]
) -> list[BookingCheck]:
    """What booking each instance would meet, instance by instance, before anything is saved."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        for request in requests:
            validate_request(session, request)
        return [
            BookingCheck(
                tuple(clashes),
                tuple(
                    booking_warnings(
                        session, request.patient_id, request.service_id, request.starts_at
                    )
                ),
            )
            for request, clashes in zip(requests, _series_clashes(session, requests), strict=True)
        ]


def book_series(
    db: Database,
    actor: Actor,
    requests: Sequence[AppointmentRequest],
    *,
    description: str = "",
    double_book: bool = False,
) -> list[BookingResult]:
    """Book every visit of a series or none: each instance is checked on its own."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    if not requests:
        raise ValidationError("The series has no visits to book.", field="count")
    if len({r.patient_id for r in requests}) != 1:
        raise ValueError("a series belongs to one patient")
    with unit_of_work(db, actor) as session:
        return book_series_in(session, actor, requests, description=description,
                              double_book=double_book)  # fmt: skip


def book_series_in(
    session: Session,
    actor: Actor,
    requests: Sequence[AppointmentRequest],
    *,
    description: str = "",
    double_book: bool = False,
) -> list[BookingResult]:
    """:func:`book_series` inside a caller's unit of work (a treatment phase books its
    visits and marks its items scheduled in one transaction): the write lock, each
    instance's checks, the double-booking override, the series row, the visits."""
    lock_book(session)
    for request in requests:
        validate_request(session, request)
    all_clashes = _series_clashes(session, requests)
    for clashes in all_clashes:
        refuse_clashes(actor, clashes, double_book)
    series = AppointmentSeries(
        patient_id=requests[0].patient_id,
        description=description.strip()[:200],
        created_by_id=actor.staff_id,
    )
    session.add(series)
    session.flush()
    booked = [
        _write_new(
            session, actor, request, series_id=series.id, double_book=double_book, clashes=clashes
        )
        for request, clashes in zip(requests, all_clashes, strict=True)
    ]
    ids = [a.id for a in booked]
    return [
        BookingResult(
            a.id,
            a.version,
            tuple(
                booking_warnings(
                    session, a.patient_id, a.service_id, a.starts_at, ignore_appointment_ids=ids
                )
            ),
        )
        for a in booked
    ]


# --- changing a booking -----------------------------------------------------------------------


def _editable(session: Session, appointment_id: int, version: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFoundError("That appointment no longer exists.")
    check_version(session, appointment, version, "This appointment")
    if appointment.status not in (
        AppointmentStatus.SCHEDULED.value,
        AppointmentStatus.CONFIRMED.value,
    ):
        state = AppointmentStatus(appointment.status).name.replace("_", " ").lower()
        raise ValidationError(
            f"This appointment is {state}; only a booked visit can be moved or changed."
        )
    return appointment


def update_appointment(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    request: AppointmentRequest,
    *,
    double_book: bool = False,
) -> BookingResult:
    """Change a booked visit (time, provider, room, service, notes) under the booking rules."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    with unit_of_work(db, actor) as session:
        lock_book(session)
        appointment = _editable(session, appointment_id, version)
        if request.patient_id != appointment.patient_id:
            raise ValidationError(
                "An appointment cannot be moved to another patient.", field="patient"
            )
        validate_request(session, request)
        clashes = find_clashes(session, request, ignore_appointment_ids=[appointment_id])
        refuse_clashes(actor, clashes, double_book)
        moved = (appointment.starts_at, appointment.provider_id) != (
            request.starts_at,
            request.provider_id,
        )
        appointment.starts_at = request.starts_at
        appointment.ends_at = request.ends_at
        appointment.provider_id = request.provider_id
        appointment.room_id = request.room_id
        appointment.service_id = request.service_id
        appointment.notes = request.notes.strip()
        appointment.double_booked = bool(clashes) and double_book
        if moved and appointment.status == AppointmentStatus.CONFIRMED.value:
            # The patient confirmed the old time, not this one.
            record_status_change(
                session,
                appointment,
                AppointmentStatus.SCHEDULED.value,
                actor,
                reason="Moved to a new time",
            )
        session.flush()
        if clashes:
            audit_double_book(session, appointment, clashes)
        warnings = booking_warnings(
            session,
            request.patient_id,
            request.service_id,
            request.starts_at,
            ignore_appointment_ids=[appointment_id],
        )
        return BookingResult(appointment.id, appointment.version, tuple(warnings))


def move_appointment(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    provider_id: int,
    room_id: int | None,
    double_book: bool = False,
) -> BookingResult:
    """A drag on the calendar: new time and column, everything else kept."""
    with reading(db, actor) as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFoundError("That appointment no longer exists.")
        request = replace(
            request_of(appointment),
            provider_id=provider_id,
            starts_at=starts_at,
            ends_at=ends_at,
            room_id=room_id,
        )
    return update_appointment(db, actor, appointment_id, version, request, double_book=double_book)


# --- time held -------------------------------------------------------------------------------


def busy_spans(
    session: Session,
    *,
    provider_ids: Iterable[int] = (),
    room_ids: Iterable[int] = (),
    patient_ids: Iterable[int] = (),
    starts_at: datetime,
    ends_at: datetime,
) -> dict[tuple[str, int], list[TimeSpan]]:
    """Time held by appointments, per ("provider" | "room" | "patient", id), in time order."""
    providers, rooms, patients = list(provider_ids), list(room_ids), list(patient_ids)
    who = [
        *([Appointment.provider_id.in_(providers)] if providers else []),
        *([Appointment.room_id.in_(rooms)] if rooms else []),
        *([Appointment.patient_id.in_(patients)] if patients else []),
    ]
    result: dict[tuple[str, int], list[TimeSpan]] = defaultdict(list)
    if not who:
        return result
    rows = session.execute(
        select(
            Appointment.provider_id,
            Appointment.room_id,
            Appointment.patient_id,
            Appointment.starts_at,
            Appointment.ends_at,
        )
        .where(holding_time(starts_at, ends_at, ()), or_(*who))
        .order_by(Appointment.starts_at)
    )
    wanted = {"provider": set(providers), "room": set(rooms), "patient": set(patients)}
    for provider_id, room_id, patient_id, start, end in rows:
        span = TimeSpan(start, end)
        for kind, key in (("provider", provider_id), ("room", room_id), ("patient", patient_id)):
            if key in wanted[kind]:
                result[(kind, key)].append(span)
    return result
