"""The one clock every layer reads: this instant in UTC, and the calendar day it is in a zone.

It sits beside ``app/money.py`` rather than in a layer because every layer needs it: the
data layer's column defaults, services, documents (which may not import ``app.data``) and
the UI.  The clinic's own day is :func:`today_in` of the clinic's zone — services reach it
through ``app.services.clinic.clock``, the UI through ``UiContext.today()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo


def utc_now() -> datetime:
    """This instant, timezone-aware in UTC (how every datetime is stored)."""
    return datetime.now(UTC)


def today_in(zone: tzinfo, now: datetime | None = None) -> date:
    """The calendar day on the wall clock in ``zone`` at ``now`` (default: this instant).

    Not the UTC day: at 9 pm in New York it is already tomorrow in UTC.
    """
    return (now or utc_now()).astimezone(zone).date()


def local_today() -> date:
    """This computer's calendar day, where no clinic (and so no clinic zone) is at hand:
    a quote on the command line, the demo clinic being made.  Else use the clinic's day."""
    return utc_now().astimezone().date()
