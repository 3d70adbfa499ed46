"""The owner's month close (Open Dental's "lock date"), and reopening one.

Rules (the clinic's books are closed *through* a day, as in Open Dental):

- Only the owner closes (Permission.CLOSE_MONTHS), and only a whole month that has ended in
  the clinic's time zone.  Closing a month closes everything up to its last day.
- Months close in order: the first close may be any month that has ended (what came before
  it is closed with it — a clinic starts closing where it is), each later one is the month
  right after the books' closed-through day.  So every month closed one by one has its own
  report kept, and no open month sits between closed ones.
- A close keeps the month-end report as it stood (``report_json`` as the owner sees it) and
  the audit trail's seal at that moment (also added to the clinic's seals file).  The
  report of a closed month is that stored copy from then on (:func:`closed_report`), even
  if the owner overrides the close to change something dated in it.
- After the close, payments, charges and adjustments dated in it cannot be added, changed
  or voided — the check itself is :mod:`app.services.clinic.closed_months`, under every
  write — unless the owner overrides with a reason (``override_closed_months``), audited.
- Reopening needs a reason and takes only the latest closed month (reopening October while
  November stays closed would leave an open month inside closed books): the books are
  then closed through the month before it, if that one was closed, else not at all.  The
  reopened close stays on file; closing the month again makes a new close, with the report
  as it stands then.

Every close and reopen is audited (``month_closed``, ``month_reopened``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.month_closes import MonthClose
from app.data.models.staff import Staff
from app.i18n import format_date, format_month_year
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.audit_seals import record_seal
from app.services.clinic.clock import clinic_settings, clinic_today
from app.services.clinic.closed_months import (
    OVERRIDE_REASON_MAX,
    closed_through,
    override_closed_months,
)
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ValidationError
from app.services.reports import period as periods
from app.services.reports.month_end import report_json
from app.services.reports.period import Period

__all__ = [
    "MonthCloseLine",
    "MonthCloseState",
    "close_month",
    "closed_report",
    "closed_through",
    "month_close_state",
    "month_closes",
    "override_closed_months",
    "reopen_month",
]

#: The seal's reason, in the seals file and the stored close.
SEAL_REASON = "month close"


@dataclass(frozen=True)
class MonthCloseLine:
    """One close of a month, as the Reports page lists it."""

    id: int
    period: Period
    closed_at: datetime
    closed_by: str
    #: The audit trail's last row at the close (None: the trail was empty).
    seal_last_id: int | None
    reopened_at: datetime | None = None
    reopened_by: str = ""
    reopen_reason: str = ""

    @property
    def is_closed(self) -> bool:
        return self.reopened_at is None


@dataclass(frozen=True)
class MonthCloseState:
    """What the owner can do next: the month that may be closed, the one that may be
    reopened (None: none), and the day the books are closed through."""

    closed_through: date | None
    next_to_close: Period | None
    may_reopen: Period | None


def _month(first: date) -> Period:
    return periods.month(first)


def _month_name(session: Session, period: Period) -> str:
    return format_month_year(period.first, clinic_settings(session).locale)


def _day_name(session: Session, day: date) -> str:
    return format_date(day, clinic_settings(session).locale, "long")


def _require_month(period: Period) -> None:
    if not period.is_month:
        raise ValidationError("A close covers one whole calendar month.", field="period")


def _live_close(session: Session, period: Period) -> MonthClose | None:
    return session.scalars(
        select(MonthClose).where(
            MonthClose.first_day == period.first, MonthClose.reopened_at.is_(None)
        )
    ).first()


def _next_to_close(through: date | None, today: date) -> Period | None:
    """The month that may be closed now: the one after the closed-through day, or (nothing
    closed yet) the month just ended; None while that month has not ended."""
    if through is None:
        return _month(today.replace(day=1)).before()
    following = _month(through + timedelta(days=1))
    return following if following.last < today else None


def close_month(db: Database, actor: Actor, period: Period, *, now: datetime | None = None):
    """Close ``period`` (a month that has ended; months in order after the first close):
    its report and the audit seal are kept, and what is dated up to its last day is locked.
    Returns the :class:`MonthCloseLine`."""
    permissions.require(actor, Permission.CLOSE_MONTHS)
    _require_month(period)
    now = now or utc_now()
    with unit_of_work(db, actor) as session:
        # The write lock is held from here: nothing is written by anyone until this commits,
        # so the report and the seal below are the books exactly as they are closed.
        today = clinic_today(session, now)
        month = _month_name(session, period)
        if period.last >= today:
            raise ValidationError(
                f"{month} has not ended yet: a month is closed once its last day is over.",
                field="period",
            )
        through = closed_through(session)
        if through is not None and period.last <= through:
            raise ValidationError(
                f"{month} is already closed: the books are closed through "
                f"{_day_name(session, through)}.",
                field="period",
            )
        if through is not None and period.first != through + timedelta(days=1):
            first_open = _month(through + timedelta(days=1))
            raise ValidationError(
                f"Close {_month_name(session, first_open)} first: months are closed in order, "
                f"and the books are closed through {_day_name(session, through)}.",
                field="period",
            )
        # The owner's whole report (money included), read from the committed books.
        report = report_json(db, actor, period, now=now)
        seal = record_seal(db, SEAL_REASON)
        close = MonthClose(
            first_day=period.first,
            last_day=period.last,
            closed_at=now,
            closed_by_id=actor.staff_id,
            report=json.dumps(report, ensure_ascii=False, sort_keys=True),
        )
        if seal is not None:
            close.seal_trail = seal.trail
            close.seal_last_id = seal.last_id
            close.seal_last_hash = seal.last_hash
            close.seal_rows = seal.rows
            close.sealed_at = seal.sealed_at
        session.add(close)
        session.flush()
        record(
            session,
            AuditAction.MONTH_CLOSED,
            entity=MonthClose.__tablename__,
            entity_id=close.id,
            detail=f"{month} closed: the books are closed through "
            f"{_day_name(session, period.last)}",
        )
        return _line(session, close)


def reopen_month(
    db: Database, actor: Actor, period: Period, reason: str, *, now: datetime | None = None
):
    """Reopen the latest closed month, saying why: the books are then closed through the
    month before it (if that was closed).  Returns the reopened :class:`MonthCloseLine`."""
    permissions.require(actor, Permission.CLOSE_MONTHS)
    _require_month(period)
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ValidationError(
            "Say why the month is reopened: the reason is kept in the audit log.", field="reason"
        )
    if len(cleaned) > OVERRIDE_REASON_MAX:
        raise ValidationError(
            f"Keep the reason under {OVERRIDE_REASON_MAX} characters.", field="reason"
        )
    with unit_of_work(db, actor) as session:
        month = _month_name(session, period)
        close = _live_close(session, period)
        if close is None:
            raise ValidationError(f"{month} is not closed: there is nothing to reopen.")
        through = closed_through(session)
        if through is not None and close.last_day != through:
            latest = _month(through.replace(day=1))
            raise ValidationError(
                f"Reopen {_month_name(session, latest)} first: only the latest closed month "
                f"can be reopened, and the books are closed through {_day_name(session, through)}."
            )
        close.reopened_at = now or utc_now()
        close.reopened_by_id = actor.staff_id
        close.reopen_reason = cleaned
        session.flush()
        record(
            session,
            AuditAction.MONTH_REOPENED,
            entity=MonthClose.__tablename__,
            entity_id=close.id,
            detail=f"{month} reopened: {cleaned}",
        )
        return _line(session, close)


def closed_report(db: Database, actor: Actor, period: Period) -> dict | None:
    """The report kept when ``period`` was closed — what the month's report says while it
    stays closed — with ``"closed": {"closed_at", "closed_by", "seal": {…}}`` added; None
    when ``period`` is not a closed month (its report is worked out as usual).  A
    coordinator's copy has no "money" key, as their live report has none."""
    if not period.is_month:
        permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
        return None
    return closed_reports(db, actor, period.first, period.first).get(period.first)


def closed_reports(db: Database, actor: Actor, first: date, last: date) -> dict[date, dict]:
    """The kept report of every month closed (and not reopened) whose first day is between
    ``first`` and ``last``, by that first day: ``closed_report`` for many months in one
    read (the 12 months of trends)."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    with reading(db, actor) as session:
        closes = session.scalars(
            select(MonthClose).where(
                MonthClose.first_day >= first,
                MonthClose.first_day <= last,
                MonthClose.reopened_at.is_(None),
            )
        ).all()
        kept = {close.first_day: _kept_report(session, actor, close) for close in closes}
    return kept


def _kept_report(session: Session, actor: Actor, close: MonthClose) -> dict:
    data = json.loads(close.report)
    if not permissions.role_allows(actor.role, Permission.VIEW_REPORTS):
        data.pop("money", None)
    data["closed"] = {
        "closed_at": close.closed_at.isoformat(),
        "closed_by": _staff_name(session, close.closed_by_id),
        "seal": {
            "trail": close.seal_trail,
            "last_id": close.seal_last_id,
            "last_hash": close.seal_last_hash,
            "rows": close.seal_rows,
            "sealed_at": close.sealed_at.isoformat() if close.sealed_at else None,
        },
    }
    return data


def month_closes(db: Database, actor: Actor) -> list[MonthCloseLine]:
    """Every close, newest first (reopened ones too, with who reopened them and why)."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(MonthClose).order_by(MonthClose.closed_at.desc(), MonthClose.id.desc())
        ).all()
        return [_line(session, row) for row in rows]


def month_close_state(
    db: Database, actor: Actor, *, now: datetime | None = None
) -> MonthCloseState:
    """The closed-through day, the month the owner may close next and the one they may
    reopen (the Reports page's Close… and Reopen… buttons)."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    with reading(db, actor) as session:
        through = closed_through(session)
        today = clinic_today(session, now or utc_now())
        return MonthCloseState(
            closed_through=through,
            next_to_close=_next_to_close(through, today),
            may_reopen=_month(through.replace(day=1)) if through is not None else None,
        )


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return ""
    staff = session.get(Staff, staff_id)
    return staff.full_name if staff is not None else ""


def _line(session: Session, close: MonthClose) -> MonthCloseLine:
    return MonthCloseLine(
        id=close.id,
        period=Period(close.first_day, close.last_day),
        closed_at=close.closed_at,
        closed_by=_staff_name(session, close.closed_by_id),
        seal_last_id=close.seal_last_id,
        reopened_at=close.reopened_at,
        reopened_by=_staff_name(session, close.reopened_by_id),
        reopen_reason=close.reopen_reason,
    )
