"""The clinic's resources, edited on the Settings page: providers, rooms, services.

Each is deactivated rather than deleted, because appointments and plans keep
referring to it.  Saves carry the version the form was loaded with, so a
second workstation's older copy is refused instead of overwriting.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.data.database import Database
from app.data.models.providers import (
    DEFAULT_COLOUR,
    MINUTES_PER_DAY,
    Provider,
    ProviderBreak,
    Room,
    Service,
    WorkingHours,
)
from app.data.models.staff import Staff
from app.money import round_money
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_SERVICE_MINUTES = 8 * 60
MAX_FEE = Decimal("1000000.00")


@dataclass(frozen=True)
class Interval:
    """Local wall-clock minutes after midnight on a weekday (Monday = 0)."""

    weekday: int
    start_minute: int
    end_minute: int
    label: str = ""


@dataclass(frozen=True)
class ProviderData:
    name: str
    title: str = ""
    credentials: str = ""
    licence_number: str = ""
    colour: str = DEFAULT_COLOUR
    staff_id: int | None = None
    is_active: bool = True
    hours: tuple[Interval, ...] = ()
    breaks: tuple[Interval, ...] = ()
    id: int | None = None
    version: int | None = None

    @property
    def display_name(self) -> str:
        name = f"{self.title} {self.name}".strip()
        return f"{name}, {self.credentials}" if self.credentials else name


@dataclass(frozen=True)
class RoomData:
    name: str
    colour: str = "#9b9b9b"
    is_active: bool = True
    id: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class ServiceData:
    name: str
    default_duration_minutes: int = 30
    fee: Decimal = Decimal("0.00")
    code: str = ""
    category: str = ""
    recall_interval_days: int | None = None
    colour: str = DEFAULT_COLOUR
    requires_preauth: bool = False
    description: str = ""
    #: What Spanish documents print (empty: they never mix in the English name).
    name_es: str = ""
    description_es: str = ""
    is_active: bool = True
    id: int | None = None
    version: int | None = None
    #: Call the patient this many days after the service is done (0: the same day); None:
    #: no follow-up call (an automatic follow-up task makes the call due).
    follow_up_call_days: int | None = None


@dataclass(frozen=True)
class Catalog:
    providers: list[ProviderData] = field(default_factory=list)
    rooms: list[RoomData] = field(default_factory=list)
    services: list[ServiceData] = field(default_factory=list)


# --- validation ------------------------------------------------------------------------------


def _required_name(value: str, what: str, limit: int, field_name: str = "name") -> str:
    name = " ".join(value.split())
    if not name:
        raise ValidationError(f"Type the {what}'s name.", field=field_name)
    if len(name) > limit:
        raise ValidationError(f"The {what}'s name is longer than {limit} characters.", field_name)
    return name


def _colour(value: str) -> str:
    if not _COLOUR.match(value.strip()):
        raise ValidationError("A color is written #rrggbb, e.g. #4a90d9.", field="colour")
    return value.strip().lower()


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _intervals(items: tuple[Interval, ...], what: str, field_name: str) -> tuple[Interval, ...]:
    cleaned = sorted(items, key=lambda i: (i.weekday, i.start_minute))
    for item in cleaned:
        if not 0 <= item.weekday <= 6:
            raise ValidationError(f"A {what} is on an unknown weekday.", field=field_name)
        if not 0 <= item.start_minute < item.end_minute <= MINUTES_PER_DAY:
            raise ValidationError(
                f"{WEEKDAYS[item.weekday]}: a {what} must end after it starts "
                f"({format_minute(item.start_minute)}–{format_minute(item.end_minute)}).",
                field=field_name,
            )
    for before, after in itertools.pairwise(cleaned):
        if before.weekday == after.weekday and after.start_minute < before.end_minute:
            raise ValidationError(
                f"{WEEKDAYS[after.weekday]}: two {what}s overlap "
                f"({format_minute(before.start_minute)}–{format_minute(before.end_minute)} and "
                f"{format_minute(after.start_minute)}–{format_minute(after.end_minute)}).",
                field=field_name,
            )
    return tuple(cleaned)


def validate_provider(data: ProviderData) -> ProviderData:
    hours = _intervals(data.hours, "working period", "hours")
    breaks = _intervals(data.breaks, "break", "breaks")
    for brk in breaks:
        inside = any(
            h.weekday == brk.weekday
            and h.start_minute <= brk.start_minute
            and brk.end_minute <= h.end_minute
            for h in hours
        )
        if not inside:
            raise ValidationError(
                f"{WEEKDAYS[brk.weekday]}: the break {format_minute(brk.start_minute)}–"
                f"{format_minute(brk.end_minute)} is outside the working hours.",
                field="breaks",
            )
    return ProviderData(
        name=_required_name(data.name, "provider", 120),
        title=data.title.strip()[:40],
        credentials=data.credentials.strip()[:80],
        licence_number=data.licence_number.strip()[:40],
        colour=_colour(data.colour),
        staff_id=data.staff_id,
        is_active=data.is_active,
        hours=hours,
        breaks=breaks,
        id=data.id,
        version=data.version,
    )


def parse_fee(text: str | Decimal) -> Decimal:
    """A fee as typed ("120", "120.5", "1,250.00") → Decimal, or a clear error."""
    if isinstance(text, Decimal):
        value = text
    else:
        cleaned = text.strip().replace(",", "").lstrip("$€£")
        try:
            value = Decimal(cleaned) if cleaned else Decimal("0")
        except InvalidOperation:
            raise ValidationError(f"“{text}” is not an amount.", field="fee") from None
    if not value.is_finite() or value < 0:
        raise ValidationError("A fee cannot be negative.", field="fee")
    if value > MAX_FEE:
        raise ValidationError("That fee is larger than CareDesk accepts.", field="fee")
    return round_money(value)


def validate_service(data: ServiceData) -> ServiceData:
    minutes = data.default_duration_minutes
    if not 5 <= minutes <= MAX_SERVICE_MINUTES or minutes % 5:
        raise ValidationError(
            f"The duration is 5 to {MAX_SERVICE_MINUTES} minutes, in steps of 5.",
            field="default_duration_minutes",
        )
    recall = data.recall_interval_days
    if recall is not None and not 1 <= recall <= 3650:
        raise ValidationError("The recall interval is 1 to 3,650 days.", field="recall")
    call = data.follow_up_call_days
    if call is not None and (isinstance(call, bool) or not isinstance(call, int)):
        raise ValidationError(
            "The follow-up call is a whole number of days after the visit.",
            field="follow_up_call_days",
        )
    if call is not None and not 0 <= call <= 365:
        raise ValidationError(
            "The follow-up call is 0 (the same day) to 365 days after the visit.",
            field="follow_up_call_days",
        )
    name_es = " ".join((data.name_es or "").split())
    if len(name_es) > 120:
        raise ValidationError(
            "The Spanish name is too long: at most 120 characters.", field="name_es"
        )
    return ServiceData(
        name=_required_name(data.name, "service", 120),
        default_duration_minutes=minutes,
        fee=parse_fee(data.fee),
        code=data.code.strip()[:20],
        category=" ".join(data.category.split())[:60],
        recall_interval_days=recall,
        follow_up_call_days=call,
        colour=_colour(data.colour),
        requires_preauth=data.requires_preauth,
        description=data.description.strip(),
        name_es=name_es,
        description_es=(data.description_es or "").strip(),
        is_active=data.is_active,
        id=data.id,
        version=data.version,
    )


# --- reading ---------------------------------------------------------------------------------


def _provider_data(p: Provider) -> ProviderData:
    return ProviderData(
        name=p.name,
        title=p.title,
        credentials=p.credentials,
        licence_number=p.licence_number,
        colour=p.colour,
        staff_id=p.staff_id,
        is_active=p.is_active,
        hours=tuple(Interval(h.weekday, h.start_minute, h.end_minute) for h in p.working_hours),
        # Weekly breaks only: dated ones (a day off, a course) belong to the calendar.
        breaks=tuple(
            sorted(
                (
                    Interval(b.weekday, b.start_minute, b.end_minute, b.label)
                    for b in p.breaks
                    if b.weekday is not None
                ),
                key=lambda i: (i.weekday, i.start_minute),
            )
        ),
        id=p.id,
        version=p.version,
    )


def _room_data(r: Room) -> RoomData:
    return RoomData(r.name, r.colour, r.is_active, r.id, r.version)


def _service_data(s: Service) -> ServiceData:
    return ServiceData(
        name=s.name,
        default_duration_minutes=s.default_duration_minutes,
        fee=s.fee,
        code=s.code or "",
        category=s.category,
        recall_interval_days=s.recall_interval_days,
        follow_up_call_days=s.follow_up_call_days,
        colour=s.colour,
        requires_preauth=s.requires_preauth,
        description=s.description,
        name_es=s.name_es,
        description_es=s.description_es,
        is_active=s.is_active,
        id=s.id,
        version=s.version,
    )


def load_catalog(db: Database, actor: Actor, *, include_inactive: bool = True) -> Catalog:
    """Providers (in calendar order), rooms and services, as plain data."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        providers = select(Provider).options(
            selectinload(Provider.working_hours), selectinload(Provider.breaks)
        )
        rooms, services = select(Room), select(Service)
        if not include_inactive:
            providers = providers.where(Provider.is_active)
            rooms = rooms.where(Room.is_active)
            services = services.where(Service.is_active)
        return Catalog(
            providers=[
                _provider_data(p)
                for p in session.scalars(providers.order_by(Provider.position, Provider.name))
            ],
            rooms=[
                _room_data(r) for r in session.scalars(rooms.order_by(Room.position, Room.name))
            ],
            services=[
                _service_data(s)
                for s in session.scalars(services.order_by(Service.category, Service.name))
            ],
        )


# --- writing ---------------------------------------------------------------------------------


def _load_for_update(session, model, row_id: int, version: int | None, what: str):
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"That {what} no longer exists.")
    check_version(session, row, version, f"This {what}")
    return row


def save_provider(db: Database, actor: Actor, data: ProviderData) -> ProviderData:
    """Create or update a provider with their weekly hours and breaks (owner only)."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    data = validate_provider(data)
    with unit_of_work(db, actor) as session:
        if data.staff_id is not None and session.get(Staff, data.staff_id) is None:
            raise ValidationError("That staff account does not exist.", field="staff_id")
        if data.id is None:
            position = session.scalar(select(func.coalesce(func.max(Provider.position), -1))) + 1
            provider = Provider(position=position)
            session.add(provider)
        else:
            provider = _load_for_update(session, Provider, data.id, data.version, "provider")
        editable = (
            "name",
            "title",
            "credentials",
            "licence_number",
            "colour",
            "staff_id",
            "is_active",
        )
        assign_changed(provider, {name: getattr(data, name) for name in editable})
        wanted_hours = [(h.weekday, h.start_minute, h.end_minute) for h in data.hours]
        if [(h.weekday, h.start_minute, h.end_minute) for h in provider.working_hours] != (
            wanted_hours
        ):
            provider.working_hours = [
                WorkingHours(weekday=w, start_minute=s, end_minute=e) for w, s, e in wanted_hours
            ]
        weekly = [b for b in provider.breaks if b.weekday is not None]
        wanted_breaks = [(b.weekday, b.start_minute, b.end_minute, b.label) for b in data.breaks]
        if sorted((b.weekday, b.start_minute, b.end_minute, b.label) for b in weekly) != sorted(
            wanted_breaks
        ):
            dated = [b for b in provider.breaks if b.weekday is None]
            provider.breaks = dated + [
                ProviderBreak(weekday=w, start_minute=s, end_minute=e, label=label)
                for w, s, e, label in wanted_breaks
            ]
        session.flush()
        return _provider_data(provider)


def save_room(db: Database, actor: Actor, data: RoomData) -> RoomData:
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    name = _required_name(data.name, "room", 80)
    colour = _colour(data.colour)
    with unit_of_work(db, actor) as session:
        clash = session.scalar(
            select(Room.id).where(func.lower(Room.name) == name.lower(), Room.id != (data.id or 0))
        )
        if clash is not None:
            raise ValidationError(f"There is already a room called “{name}”.", field="name")
        if data.id is None:
            position = session.scalar(select(func.coalesce(func.max(Room.position), -1))) + 1
            room = Room(position=position)
            session.add(room)
        else:
            room = _load_for_update(session, Room, data.id, data.version, "room")
        assign_changed(room, {"name": name, "colour": colour, "is_active": data.is_active})
        session.flush()
        return _room_data(room)


def save_service(db: Database, actor: Actor, data: ServiceData) -> ServiceData:
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    data = validate_service(data)
    with unit_of_work(db, actor) as session:
        if data.code:
            clash = session.scalar(
                select(Service.name).where(Service.code == data.code, Service.id != (data.id or 0))
            )
            if clash is not None:
                raise ValidationError(f"The code {data.code} is used by “{clash}”.", field="code")
        if data.id is None:
            service = Service()
            session.add(service)
        else:
            service = _load_for_update(session, Service, data.id, data.version, "service")
        values = {
            "name": data.name,
            "default_duration_minutes": data.default_duration_minutes,
            "fee": data.fee,
            "code": data.code or None,
            "category": data.category,
            "recall_interval_days": data.recall_interval_days,
            "follow_up_call_days": data.follow_up_call_days,
            "colour": data.colour,
            "requires_preauth": data.requires_preauth,
            "description": data.description,
            "name_es": data.name_es,
            "description_es": data.description_es,
            "is_active": data.is_active,
        }
        assign_changed(service, values)
        session.flush()
        return _service_data(service)
