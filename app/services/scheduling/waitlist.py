"""The waitlist (ASAP list): patients who want an earlier slot, and who fits a slot that frees up.

An entry says what the patient wants (a service, one provider or any), on which
weekdays and between which local wall-clock times, and what it must beat: a
date (``wanted_before``) and/or the appointment they already hold.  When a slot
frees up, :func:`waitlist_matches` lists the waiting patients it suits, the
longest-waiting first; the calendar shows them and the desk books one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import today_in
from app.data.database import Database
from app.data.models.appointments import (
    ALL_WEEKDAYS_MASK,
    Appointment,
    WaitlistEntry,
    WaitlistStatus,
)
from app.data.models.clinic import ClinicSettings
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Service
from app.i18n import format_date, format_weekday_date
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_zone
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.phones import display_phone
from app.services.patients.tasks import patient_name, tidy_text
from app.services.scheduling.booking import HOLDS_TIME, at_local, holding_time, wall_minute

MINUTES_PER_DAY = 24 * 60
ANY_PROVIDER = "Any provider"
NOTES_MAX = 2000
REASON_MAX = 200


# --- plain data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitlistData:
    """What the add/edit form sends; ``id``/``version`` are set when editing an entry."""

    patient_id: int
    service_id: int | None
    provider_id: int | None = None
    #: Python weekdays (Monday = 0) as a set, or the stored bitmask (bit 0 = Monday).
    weekdays: frozenset[int] | int = ALL_WEEKDAYS_MASK
    earliest_minute: int = 0
    latest_minute: int = MINUTES_PER_DAY
    #: Only slots starting before this local date are worth offering (None: any date).
    wanted_before: date | None = None
    current_appointment_id: int | None = None
    notes: str = ""
    id: int | None = None
    version: int | None = None

    @property
    def weekday_mask(self) -> int:
        if isinstance(self.weekdays, int):
            return self.weekdays
        return weekdays_to_mask(self.weekdays)


@dataclass(frozen=True)
class WaitlistLine:
    """One waiting (or booked/removed) entry as the list and the dialogs show it."""

    id: int
    version: int
    patient_id: int
    patient_name: str
    phone: str
    service_id: int | None
    service_name: str
    duration_minutes: int
    provider_id: int | None
    provider_name: str
    weekday_mask: int
    earliest_minute: int
    latest_minute: int
    preferred_text: str
    wanted_before: date | None
    wanted_before_at: datetime | None
    current_appointment_id: int | None
    current_appointment_at: datetime | None
    current_appointment_text: str
    added_at: datetime
    waiting_days: int
    notes: str
    status: str

    @property
    def weekdays(self) -> frozenset[int]:
        return mask_to_weekdays(self.weekday_mask)


@dataclass(frozen=True)
class WaitlistMatch:
    """A waiting entry that fits a free slot, with the part of the slot its service would take."""

    entry: WaitlistLine
    provider_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SlotMatches:
    """A free slot, described in words, and the waitlist entries that fit it."""

    provider_id: int
    provider_name: str
    starts_at: datetime
    ends_at: datetime
    #: e.g. "Tue, Jun 16, 9:00–10:00 AM with Dr. Daniel Okafor"
    slot_text: str
    matches: tuple[WaitlistMatch, ...] = field(default_factory=tuple)

    @property
    def headline(self) -> str:
        n = len(self.matches)
        if n == 0:
            return f"Nobody on the waitlist fits {self.slot_text}."
        who = "1 patient" if n == 1 else f"{n} patients"
        verb = "fits" if n == 1 else "fit"
        return f"{who} on the waitlist {verb} {self.slot_text}"


# --- weekdays and times in words -------------------------------------------------------------


def weekdays_to_mask(days) -> int:
    """Python weekdays (Monday = 0 … Sunday = 6) → the stored bitmask."""
    mask = 0
    for day in days:
        if not 0 <= int(day) <= 6:
            raise ValidationError("A weekday is Monday to Sunday.", field="weekdays")
        mask |= 1 << int(day)
    return mask


def mask_to_weekdays(mask: int) -> frozenset[int]:
    return frozenset(d for d in range(7) if mask & (1 << d))


def _locale(session: Session) -> Locale:
    settings = session.get(ClinicSettings, 1)
    return Locale.parse(settings.locale if settings is not None else "en_US")


def _uses_12_hour(locale: Locale) -> bool:
    return "a" in str(locale.time_formats["short"].pattern)


def _minute_time(minute: int) -> time:
    minute %= MINUTES_PER_DAY  # 1440 (midnight at the end of the day) reads as 12:00 AM
    return time(minute // 60, minute % 60)


def days_text(mask: int, locale: Locale) -> str:
    """ "Mon, Wed" / "Mon–Fri" / "Any day": runs of three or more days are shown as a range."""
    if mask & ALL_WEEKDAYS_MASK == ALL_WEEKDAYS_MASK:
        return "Any day"
    names = babel_dates.get_day_names("abbreviated", locale=locale)
    days = sorted(mask_to_weekdays(mask))
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}–{names[run[-1]]}")
        else:
            parts.extend(names[d] for d in run)
    return ", ".join(parts)


def times_text(earliest: int, latest: int, locale: Locale) -> str:
    """ "8:00 AM–12:00 PM", or "Any time" for the whole day."""
    if earliest <= 0 and latest >= MINUTES_PER_DAY:
        return "Any time"
    skeleton = "hm" if _uses_12_hour(locale) else "Hm"
    start, end = _minute_time(earliest), _minute_time(latest)
    if latest >= MINUTES_PER_DAY:
        end_text = babel_dates.format_time(end, "short", locale=locale)
        return f"{babel_dates.format_time(start, 'short', locale=locale)}–{end_text}"
    return babel_dates.format_interval(start, end, skeleton, locale=locale)


def preferred_text(mask: int, earliest: int, latest: int, locale: Locale) -> str:
    """ "Mon, Wed · 8:00 AM–12:00 PM"."""
    return f"{days_text(mask, locale)} · {times_text(earliest, latest, locale)}"


def _slot_text(starts_at: datetime, ends_at: datetime, zone: ZoneInfo, locale: Locale) -> str:
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    day = format_weekday_date(start.date(), locale, with_year=False)
    skeleton = "hm" if _uses_12_hour(locale) else "Hm"
    if end.date() != start.date():
        return f"{day}, {babel_dates.format_time(start.time(), 'short', locale=locale)} onwards"
    span = babel_dates.format_interval(start.time(), end.time(), skeleton, locale=locale)
    return f"{day}, {span}"


# --- reading ---------------------------------------------------------------------------------


def _provider_name(provider: Provider | None) -> str:
    if provider is None:
        return ANY_PROVIDER
    return f"{provider.title} {provider.name}".strip()


def _patient_phone(patient: Patient) -> str:
    for number in (patient.mobile_phone, patient.home_phone, patient.work_phone):
        if number:
            return display_phone(number)
    return ""


def _line(session: Session, entry: WaitlistEntry, zone: ZoneInfo, locale: Locale) -> WaitlistLine:
    patient = session.get(Patient, entry.patient_id)
    service = session.get(Service, entry.service_id) if entry.service_id is not None else None
    provider = session.get(Provider, entry.provider_id) if entry.provider_id is not None else None
    current = (
        session.get(Appointment, entry.current_appointment_id)
        if entry.current_appointment_id is not None
        else None
    )
    current_at = current.starts_at if current is not None else None
    current_text = ""
    if current is not None:
        local = current.starts_at.astimezone(zone)
        current_text = (
            format_weekday_date(local.date(), locale)
            + ", "
            + babel_dates.format_time(local.time(), "short", locale=locale)
        )
        if current.status not in HOLDS_TIME:
            current_text += " (canceled)"
    added = entry.created_at
    waiting = max(0, (today_in(zone) - added.astimezone(zone).date()).days)
    return WaitlistLine(
        id=entry.id,
        version=entry.version,
        patient_id=entry.patient_id,
        patient_name=patient_name(patient),
        phone=_patient_phone(patient) if patient is not None else "",
        service_id=entry.service_id,
        service_name=service.name if service is not None else "Any service",
        duration_minutes=service.default_duration_minutes if service is not None else 30,
        provider_id=entry.provider_id,
        provider_name=_provider_name(provider),
        weekday_mask=entry.preferred_weekdays,
        earliest_minute=entry.earliest_minute,
        latest_minute=entry.latest_minute,
        preferred_text=preferred_text(
            entry.preferred_weekdays, entry.earliest_minute, entry.latest_minute, locale
        ),
        wanted_before=(
            entry.wanted_before.astimezone(zone).date() if entry.wanted_before is not None else None
        ),
        wanted_before_at=entry.wanted_before,
        current_appointment_id=entry.current_appointment_id,
        current_appointment_at=current_at,
        current_appointment_text=current_text,
        added_at=added,
        waiting_days=waiting,
        notes=entry.notes,
        status=entry.status,
    )


def _waiting_entries(session: Session) -> list[WaitlistEntry]:
    return list(
        session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.status == WaitlistStatus.WAITING.value)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
    )


def list_waitlist(db: Database, actor: Actor) -> list[WaitlistLine]:
    """Everyone waiting for an earlier slot, the longest-waiting first."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        zone, locale = clinic_zone(session), _locale(session)
        return [_line(session, e, zone, locale) for e in _waiting_entries(session)]


def get_waitlist_entry(db: Database, actor: Actor, entry_id: int) -> WaitlistLine:
    """One entry (any status), for the edit dialog."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        entry = session.get(WaitlistEntry, entry_id)
        if entry is None:
            raise NotFoundError("That waitlist entry no longer exists.")
        return _line(session, entry, clinic_zone(session), _locale(session))


# --- validation ------------------------------------------------------------------------------


def _validate(session: Session, data: WaitlistData, zone: ZoneInfo) -> tuple[int, str]:
    """Check the form; returns the weekday mask and the tidied notes."""
    patient = session.get(Patient, data.patient_id)
    if patient is None:
        raise ValidationError("That patient record no longer exists.", field="patient")
    if patient.merged_into_id is not None:
        raise ValidationError(
            f"{patient_name(patient)} was merged into another record; "
            "add the kept record to the waitlist instead.",
            field="patient",
        )
    if not patient.is_active:
        raise ValidationError(
            f"{patient_name(patient)} is an inactive patient; reactivate the record first.",
            field="patient",
        )
    if data.service_id is None:
        raise ValidationError("Choose the service the patient is waiting for.", field="service")
    service = session.get(Service, data.service_id)
    if service is None or not service.is_active:
        raise ValidationError(
            "That service is no longer offered; choose another one.", field="service"
        )
    if data.provider_id is not None:
        provider = session.get(Provider, data.provider_id)
        if provider is None or not provider.is_active:
            raise ValidationError(
                "That provider is no longer active; choose another one or “Any provider”.",
                field="provider",
            )
    mask = data.weekday_mask
    if mask & ALL_WEEKDAYS_MASK == 0 or mask & ~ALL_WEEKDAYS_MASK:
        raise ValidationError("Tick at least one day the patient can come.", field="weekdays")
    earliest, latest = data.earliest_minute, data.latest_minute
    if not (0 <= earliest < MINUTES_PER_DAY and 0 < latest <= MINUTES_PER_DAY):
        raise ValidationError("Pick times within one day.", field="earliest")
    if earliest >= latest:
        raise ValidationError("The earliest time must be before the latest time.", field="latest")
    if latest - earliest < service.default_duration_minutes:
        raise ValidationError(
            f"{service.name} takes {service.default_duration_minutes} minutes; "
            "widen the times so it fits.",
            field="latest",
        )
    if data.wanted_before is not None:
        today = today_in(zone)
        if data.wanted_before <= today:
            raise ValidationError(
                "“Wanted before” must be a date after today.", field="wanted_before"
            )
    if data.current_appointment_id is not None:
        current = session.get(Appointment, data.current_appointment_id)
        if current is None or current.patient_id != data.patient_id:
            raise ValidationError(
                "That appointment is not this patient's.", field="current_appointment"
            )
    notes = tidy_text(data.notes, "notes", label="notes", max_length=NOTES_MAX, multiline=True)
    duplicate = session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.patient_id == data.patient_id,
            WaitlistEntry.service_id == data.service_id,
            WaitlistEntry.status == WaitlistStatus.WAITING.value,
            WaitlistEntry.id != (data.id or 0),
        )
    ).first()
    if duplicate is not None:
        added = format_date(duplicate.created_at.astimezone(zone).date(), _locale(session))
        raise ValidationError(
            f"{patient_name(patient)} is already on the waitlist for {service.name} "
            f"(added {added}). Edit that entry instead.",
            field="service",
        )
    return mask, notes


def _wanted_before_at(
    data: WaitlistData, zone: ZoneInfo, keep: datetime | None = None
) -> datetime | None:
    if data.wanted_before is None:
        return None
    # An unchanged date keeps its stored moment (it may be the current booking's start).
    if keep is not None and keep.astimezone(zone).date() == data.wanted_before:
        return keep
    return at_local(data.wanted_before, 0, zone)


# --- writing ---------------------------------------------------------------------------------


def add_to_waitlist(db: Database, actor: Actor, data: WaitlistData) -> WaitlistLine:
    """Put a patient on the waitlist for a service (one waiting entry per patient and service)."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    with unit_of_work(db, actor) as session:
        zone = clinic_zone(session)
        mask, notes = _validate(session, data, zone)
        entry = WaitlistEntry(
            patient_id=data.patient_id,
            service_id=data.service_id,
            provider_id=data.provider_id,
            preferred_weekdays=mask,
            earliest_minute=data.earliest_minute,
            latest_minute=data.latest_minute,
            wanted_before=_wanted_before_at(data, zone),
            current_appointment_id=data.current_appointment_id,
            status=WaitlistStatus.WAITING.value,
            notes=notes,
            added_by_id=actor.staff_id,
        )
        session.add(entry)
        session.flush()
        return _line(session, entry, zone, _locale(session))


def _entry_for_update(session: Session, entry_id: int, version: int | None) -> WaitlistEntry:
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None:
        raise NotFoundError("That waitlist entry no longer exists.")
    check_version(session, entry, version, "This waitlist entry")
    if entry.status != WaitlistStatus.WAITING.value:
        done = "booked" if entry.status == WaitlistStatus.BOOKED.value else "removed"
        raise ValidationError(f"This waitlist entry was already {done}.")
    return entry


def update_waitlist_entry(db: Database, actor: Actor, data: WaitlistData) -> WaitlistLine:
    """Change what a waiting patient would accept (refused if it was edited elsewhere)."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    if data.id is None:
        raise ValidationError("Only a saved waitlist entry can be edited.")
    with unit_of_work(db, actor) as session:
        zone = clinic_zone(session)
        entry = _entry_for_update(session, data.id, data.version)
        if entry.patient_id != data.patient_id:
            raise ValidationError("A waitlist entry cannot move to another patient.", "patient")
        mask, notes = _validate(session, data, zone)
        values = {
            "service_id": data.service_id,
            "provider_id": data.provider_id,
            "preferred_weekdays": mask,
            "earliest_minute": data.earliest_minute,
            "latest_minute": data.latest_minute,
            "wanted_before": _wanted_before_at(data, zone, entry.wanted_before),
            "current_appointment_id": data.current_appointment_id,
            "notes": notes,
        }
        for name, value in values.items():
            if getattr(entry, name) != value:
                setattr(entry, name, value)
        session.flush()
        return _line(session, entry, zone, _locale(session))


def remove_from_waitlist(
    db: Database, actor: Actor, entry_id: int, reason: str, *, version: int | None = None
) -> None:
    """Take a patient off the waitlist; the reason is kept in the entry's notes."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    reason = tidy_text(reason, "reason", label="reason", max_length=REASON_MAX, required=True)
    with unit_of_work(db, actor) as session:
        entry = _entry_for_update(session, entry_id, version)
        entry.status = WaitlistStatus.REMOVED.value
        line = f"Removed from the waitlist: {reason}"
        entry.notes = f"{entry.notes}\n{line}" if entry.notes else line


def mark_waitlist_booked(db: Database, actor: Actor, entry_id: int, appointment_id: int) -> None:
    """The patient got their earlier slot: the entry leaves the list, pointing at the booking."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    with unit_of_work(db, actor) as session:
        entry = _entry_for_update(session, entry_id, None)
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFoundError("That appointment no longer exists.")
        if appointment.patient_id != entry.patient_id:
            raise ValidationError("That appointment is for another patient.")
        entry.status = WaitlistStatus.BOOKED.value
        entry.booked_appointment_id = appointment_id


# --- matching --------------------------------------------------------------------------------


def _fits(
    entry: WaitlistEntry,
    line: WaitlistLine,
    provider_id: int,
    starts_at: datetime,
    ends_at: datetime,
    zone: ZoneInfo,
) -> bool:
    """The slot-only rules: provider, length, weekday, time window, wanted-before."""
    if entry.provider_id is not None and entry.provider_id != provider_id:
        return False
    needed_end = starts_at + timedelta(minutes=line.duration_minutes)
    if needed_end > ends_at:
        return False
    local_start = starts_at.astimezone(zone)
    if not entry.preferred_weekdays & (1 << local_start.weekday()):
        return False
    start_minute = wall_minute(starts_at, zone)
    end_minute = wall_minute(needed_end, zone)
    end_minute += MINUTES_PER_DAY * (needed_end.astimezone(zone).date() - local_start.date()).days
    if start_minute < entry.earliest_minute or end_minute > entry.latest_minute:
        return False
    if entry.wanted_before is not None and starts_at >= entry.wanted_before:
        return False
    current_at = line.current_appointment_at
    return current_at is None or starts_at < current_at


def _patient_busy(
    session: Session, line: WaitlistLine, starts_at: datetime, ends_at: datetime
) -> bool:
    """The patient holds another booking then (the one they would move from does not count)."""
    query = select(Appointment.id).where(
        Appointment.patient_id == line.patient_id,
        holding_time(starts_at, ends_at, [line.current_appointment_id]),
    )
    return session.scalars(query.limit(1)).first() is not None


def _matches(
    session: Session,
    provider_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    exclude_patient_id: int | None = None,
) -> list[WaitlistMatch]:
    zone, locale = clinic_zone(session), _locale(session)
    matches: list[WaitlistMatch] = []
    for entry in _waiting_entries(session):
        if entry.patient_id == exclude_patient_id:
            continue
        line = _line(session, entry, zone, locale)
        # A current booking that was cancelled no longer sets the bar to beat.
        if line.current_appointment_at is not None:
            current = session.get(Appointment, entry.current_appointment_id)
            if current is not None and current.status not in HOLDS_TIME:
                line = replace(line, current_appointment_at=None)
        if not _fits(entry, line, provider_id, starts_at, ends_at, zone):
            continue
        needed_end = starts_at + timedelta(minutes=line.duration_minutes)
        if _patient_busy(session, line, starts_at, needed_end):
            continue
        matches.append(WaitlistMatch(line, provider_id, starts_at, needed_end))
    return matches


def _check_slot(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("slot times must be timezone-aware (UTC)")
    if ends_at <= starts_at:
        raise ValidationError("The slot must end after it starts.", field="ends_at")


def waitlist_matches(
    db: Database, actor: Actor, provider_id: int, starts_at: datetime, ends_at: datetime
) -> list[WaitlistMatch]:
    """Waiting entries a free slot suits, the longest-waiting first.

    Fits: the service's length from ``starts_at``, the provider (or any), a
    preferred weekday and time window, earlier than wanted-before and than the
    patient's current booking, and the patient is free then.
    """
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    _check_slot(starts_at, ends_at)
    with reading(db, actor) as session:
        return _matches(session, provider_id, starts_at, ends_at)


def slot_matches(
    db: Database, actor: Actor, provider_id: int, starts_at: datetime, ends_at: datetime
) -> SlotMatches:
    """:func:`waitlist_matches` with the slot described in words, for the waitlist panel."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    _check_slot(starts_at, ends_at)
    with reading(db, actor) as session:
        return _slot_matches(session, provider_id, starts_at, ends_at)


def _slot_matches(
    session: Session,
    provider_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    exclude_patient_id: int | None = None,
) -> SlotMatches:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFoundError("That provider no longer exists.")
    zone, locale = clinic_zone(session), _locale(session)
    name = _provider_name(provider)
    return SlotMatches(
        provider_id=provider_id,
        provider_name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        slot_text=f"{_slot_text(starts_at, ends_at, zone, locale)} with {name}",
        matches=tuple(
            _matches(
                session, provider_id, starts_at, ends_at, exclude_patient_id=exclude_patient_id
            )
        ),
    )


def freed_slot_matches(
    db: Database,
    actor: Actor,
    appointment_id: int,
    *,
    former_starts_at: datetime | None = None,
    former_ends_at: datetime | None = None,
    former_provider_id: int | None = None,
) -> SlotMatches:
    """Who on the waitlist could take the time a cancelled (or moved) appointment freed.

    A cancelled or no-show appointment frees its own time; for one that was moved,
    pass its former time and provider.  Its own patient is not offered it again.
    """
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFoundError("That appointment no longer exists.")
        if former_starts_at is None and appointment.status in HOLDS_TIME:
            raise ValidationError("That appointment still holds its time; cancel or move it first.")
        starts_at = former_starts_at or appointment.starts_at
        ends_at = former_ends_at or appointment.ends_at
        _check_slot(starts_at, ends_at)
        return _slot_matches(
            session,
            former_provider_id or appointment.provider_id,
            starts_at,
            ends_at,
            exclude_patient_id=appointment.patient_id,
        )
