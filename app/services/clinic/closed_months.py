"""Closed months: the one check every write of money goes through (Open Dental's lock date).

Once the owner closes a month (:mod:`app.services.billing.month_close`), the books are closed
*through* its last day: a payment, charge or adjustment dated on or before that day cannot
be added, changed, voided or deleted.  "Dated" is the day the reports count it on:

- a charge by its ``service_date``;
- a payment or refund by the clinic-local day of ``received_at``;
- an adjustment by the clinic-local day of ``posted_at``.

A change counts when it touches a row dated in a closed month before the change *or* after
it (moving a December payment into November changes November).  Bookkeeping the app keeps
by itself is not a change: a payment's ``unapplied`` (written past the ORM when allocations
move), installments' ``paid_amount`` and allocations (not money rows of a month: a December
payment may pay a November charge), ``updated_at``/``version``.

The check runs before every flush of a unit of work (registered in
:mod:`app.services.clinic.uow`), so no service can forget it; it reads the closed-through
day in the flushing transaction itself, which holds the clinic's one write lock, so a month
closed by another workstation a moment ago is seen.  Automatic postings (a November visit
completed in December posts a November charge) are refused like any other.

The owner may do it anyway, with a reason: ``with override_closed_months(reason): …``
around the service call.  Each row the override lets through is audited
(``closed_month_override``, naming the row, its month and the reason).  Anyone else gets
PermissionDeniedError; without an override everyone gets MonthClosedError, whose sentence
says who can help and which carries the month so a window can offer the override.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.month_closes import MonthClose
from app.data.models.payments import AccountAdjustment, Charge, Payment, PaymentKind
from app.i18n import format_date, format_month_year
from app.services.clinic import permissions
from app.services.clinic.audit import ACTOR_KEY, AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.errors import MonthClosedError, PermissionDeniedError, ValidationError

#: The reason the owner gave to change a closed month, for the writes run inside
#: :func:`override_closed_months` (per thread: each UI worker runs its own write).
_OVERRIDE: ContextVar[str | None] = ContextVar("caredesk_closed_month_override", default=None)
#: session.info key: the rows an override let through in the flush under way, audited once
#: they have their ids.
_OVERRIDDEN_KEY = "caredesk_closed_month_overridden"

#: The dated money rows and the column that dates each.
_DATED_BY = {Charge: "service_date", Payment: "received_at", AccountAdjustment: "posted_at"}
#: Columns the app keeps by itself: their change is not a change to the month's money.
_BOOKKEEPING = frozenset({"unapplied", "updated_at", "version"})

OVERRIDE_REASON_MAX = 200


@contextmanager
def override_closed_months(reason: str) -> Iterator[str]:
    """Let the writes inside this block change what is dated in a closed month — for the
    owner only (checked at the write), each row audited with ``reason``."""
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ValidationError(
            "Say why a closed month has to change: the reason is kept in the audit log.",
            field="reason",
        )
    if len(cleaned) > OVERRIDE_REASON_MAX:
        raise ValidationError(
            f"Keep the reason under {OVERRIDE_REASON_MAX} characters.", field="reason"
        )
    token = _OVERRIDE.set(cleaned)
    try:
        yield cleaned
    finally:
        _OVERRIDE.reset(token)


def closed_through(session: Session) -> date | None:
    """The last day the books are closed through (the latest month closed and not
    reopened), or None while no month is closed; read in ``session``'s transaction."""
    return session.execute(
        select(func.max(MonthClose.last_day)).where(MonthClose.reopened_at.is_(None))
    ).scalar()


def month_of(day: date) -> tuple[date, date]:
    """The (first, last) day of the calendar month ``day`` falls in."""
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return first, after - timedelta(days=1)


@dataclass(frozen=True)
class _Touched:
    row: object
    day: date
    #: "new", "changed" or "deleted"
    how: str
    #: The day the row would have after the change, when that is what falls in the closed
    #: month (a row moved into it).
    moved_in: bool = False


def _days(session: Session, row: object, how: str) -> list[tuple[date, bool]]:
    """The clinic-local days ``row`` is dated on before and after this flush (a second
    flag: the day is only the new one)."""
    key = _DATED_BY[type(row)]
    zone = clinic_zone(session)

    def day_of(value) -> date:
        if value is None:  # the column default (utc_now) fills it at the insert
            value = utc_now()
        return value if key == "service_date" else value.astimezone(zone).date()

    state = inspect(row)
    if how == "new":
        return [(day_of(state.dict.get(key)), False)]
    with session.no_autoflush:
        current = getattr(row, key)
    history = state.attrs[key].history
    earlier = [day_of(value) for value in history.deleted if value is not None]
    if how == "changed" and earlier:
        return [(day, False) for day in earlier] + [(day_of(current), True)]
    return [(day_of(current), False)]


def _really_changed(row: object) -> bool:
    state = inspect(row)
    return any(
        state.attrs[column.key].history.has_changes()
        for column in state.mapper.column_attrs
        if column.key not in _BOOKKEEPING
    )


def _touched_rows(session: Session) -> list[tuple[object, str]]:
    rows = [(row, "new") for row in session.new if type(row) in _DATED_BY]
    rows += [
        (row, "changed") for row in session.dirty if type(row) in _DATED_BY and _really_changed(row)
    ]
    rows += [(row, "deleted") for row in session.deleted if type(row) in _DATED_BY]
    return rows


def refuse_changes_to_closed_months(session: Session) -> None:
    """Before a flush: MonthClosedError for the first money row dated in a closed month it
    would add, change or delete — unless the owner overrides (then noted for the audit)."""
    session.info.pop(_OVERRIDDEN_KEY, None)
    rows = _touched_rows(session)
    if not rows:
        return  # no money row in this flush: not even a read
    through = closed_through(session)
    if through is None:
        return
    reason = _OVERRIDE.get()
    overridden: list[_Touched] = []
    for row, how in rows:
        for day, moved_in in _days(session, row, how):
            if day > through:
                continue
            touched = _Touched(row, day, how, moved_in)
            if reason is None:
                raise _refusal(session, touched, through)
            actor = session.info.get(ACTOR_KEY)
            if actor is None or not permissions.role_allows(
                actor.role, Permission.CLOSE_MONTHS, emergency=actor.in_emergency
            ):
                raise PermissionDeniedError(permissions.DESCRIPTIONS[Permission.CLOSE_MONTHS])
            overridden.append(touched)
            break
    if overridden:
        session.info[_OVERRIDDEN_KEY] = (reason, overridden)


def audit_overrides(session: Session) -> None:
    """After a flush: one audit row per row an override let through (its id now known)."""
    noted = session.info.pop(_OVERRIDDEN_KEY, None)
    if noted is None:
        return
    reason, overridden = noted
    locale = clinic_settings(session).locale
    for touched in overridden:
        row = touched.row
        month = format_month_year(touched.day, locale)
        record(
            session,
            AuditAction.CLOSED_MONTH_OVERRIDE,
            entity=type(row).__tablename__,
            entity_id=getattr(row, "id", None),
            patient_id=getattr(row, "patient_id", None),
            fields=_changed_fields(row) if touched.how == "changed" else (),
            detail=f"{month} closed; {touched.how}, dated {format_date(touched.day, locale)}: "
            f"{reason}",
        )


def _changed_fields(row: object) -> list[str]:
    state = inspect(row)
    return [
        column.key
        for column in state.mapper.column_attrs
        if column.key not in _BOOKKEEPING and state.attrs[column.key].history.has_changes()
    ]


def _what(row: object) -> str:
    if isinstance(row, Charge):
        return "charge"
    if isinstance(row, Payment):
        return "refund" if row.kind == PaymentKind.REFUND.value else "payment"
    return "adjustment"


def _refusal(session: Session, touched: _Touched, through: date) -> MonthClosedError:
    locale = clinic_settings(session).locale
    first, last = month_of(touched.day)
    month = format_month_year(first, locale)
    day = format_date(touched.day, locale, "long")
    row, what = touched.row, _what(touched.row)
    if touched.how == "new" and isinstance(row, Charge) and row.appointment_id is not None:
        said = f"The visit's {what} is dated by the visit's day, {day}"
    elif touched.how == "new":
        said = f"This {what} is dated {day}"
    elif touched.moved_in:
        said = f"This {what} would be dated {day}"
    else:
        said = {
            "payment": f"This payment was received on {day}",
            "refund": f"This refund was paid out on {day}",
            "adjustment": f"This adjustment was posted on {day}",
            "charge": f"This charge is dated {day}",
        }[what]
    return MonthClosedError(
        f"{said}, and {month} is closed: the owner can reopen it or override with a reason.",
        period=(first, last),
        closed_through=through,
    )
