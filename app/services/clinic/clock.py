"""The clinic's clock and settings row, for services: the one accessor for the clinic's
settings, its zone, "now" and "today in the clinic".

Times are stored in UTC; the clinic's calendar day is the day on the wall clock in the
clinic's time zone (``ClinicSettings.timezone``), which is not the UTC day in the evening
west of Greenwich.  The rule itself is :func:`app.clock.today_in`, which the UI's
``UiContext.today()`` uses too.  Pass ``now`` to ask "what day was it then" (tests, replays).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.clock import today_in, utc_now
from app.data.models.clinic import ClinicSettings
from app.i18n import clinic_zone as zone_named
from app.services.errors import NotFoundError

__all__ = ["clinic_now", "clinic_settings", "clinic_today", "clinic_zone", "day_bounds"]


def clinic_settings(session: Session) -> ClinicSettings:
    """The clinic's one settings row (every clinic is created with it)."""
    settings = session.get(ClinicSettings, 1)
    if settings is None:
        raise NotFoundError("This clinic database has no clinic details.")
    return settings


def clinic_zone(session: Session) -> ZoneInfo:
    """The clinic's time zone (UTC before set-up: a fresh test database has no settings)."""
    settings = session.get(ClinicSettings, 1)
    return zone_named(settings.timezone) if settings is not None else ZoneInfo("UTC")


def clinic_now(session: Session, now: datetime | None = None) -> datetime:
    """``now`` (default: this instant) on the clinic's wall clock."""
    return (now or utc_now()).astimezone(clinic_zone(session))


def clinic_today(session: Session, now: datetime | None = None) -> date:
    """The clinic's calendar day at ``now`` (default: this instant)."""
    return today_in(clinic_zone(session), now)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight on ``day`` and the next: 23, 24 or 25 hours."""
    after = day + timedelta(days=1)
    return (
        datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC),
        datetime(after.year, after.month, after.day, tzinfo=zone).astimezone(UTC),
    )
