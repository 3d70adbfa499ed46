"""The stretch of time a report covers: a calendar month or any range of clinic-local days.

A day belongs to the period by the clinic's own calendar (its time zone), so a payment taken
at 9 pm on the 31st in New York is the 31st's, not the next month's as it is in UTC.  Dates
stored as dates (a charge's service date) are compared as they are; moments (a payment's
``received_at``) against the period's UTC bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.services.clinic.clock import day_bounds
from app.services.errors import ValidationError

#: The longest range a report covers (a longer one is a mistake, and slow).
MAX_YEARS = 5
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Period:
    """Clinic-local days ``first`` … ``last``, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants of the first day's local midnight and the midnight after the
        last day: a moment is in the period when ``start <= moment < end``."""
        return day_bounds(self.first, zone)[0], day_bounds(self.last, zone)[1]

    def before(self) -> Period:
        """The period of the same kind just before: the previous month for a month, else
        the same number of days ending the day before."""
        if self.is_month:
            return month(_shift_month(self.first, -1))
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def year_before(self) -> Period:
        """The same month (or days) a year earlier (29 February becomes the 28th)."""
        if self.is_month:
            return month(_shift_month(self.first, -12))
        return Period(_year_earlier(self.first), _year_earlier(self.last))

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self.last == _shift_month(self.first, 1) - timedelta(days=1)


def _shift_month(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def month(first_of_month: date) -> Period:
    """The calendar month ``first_of_month`` falls in."""
    first = first_of_month.replace(day=1)
    return Period(first, _shift_month(first, 1) - timedelta(days=1))


def parse_month(text: str) -> Period:
    """ "2026-11" → November 2026; ValidationError with a sentence otherwise."""
    found = _MONTH.fullmatch(text.strip())
    if found is None:
        raise ValidationError(f"“{text}” is not a month: write it as 2026-11.", field="month")
    year, number = int(found.group(1)), int(found.group(2))
    if not 1 <= number <= 12:
        raise ValidationError(f"“{text}” has no month {number}: months go 01 to 12.", field="month")
    if not 1900 <= year <= 2999:
        raise ValidationError(f"“{text}” is not a year CareDesk keeps.", field="month")
    return month(date(year, number, 1))


def checked(period: Period, today: date) -> Period:
    """``period`` if a report can cover it, else ValidationError saying why: it ends before
    it begins, begins after today (nothing happened yet), or spans more than MAX_YEARS."""
    if period.last < period.first:
        raise ValidationError("The range ends before it begins.", field="period")
    if period.first > today:
        raise ValidationError(
            "That period has not begun yet: a report covers what has happened.", field="period"
        )
    if period.last > _years_later(period.first, MAX_YEARS):
        raise ValidationError(
            f"A report covers at most {MAX_YEARS} years: choose a shorter range.", field="period"
        )
    return period


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
