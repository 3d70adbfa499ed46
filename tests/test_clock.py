"""The one clock (app.clock): this instant in UTC, and the day on a zone's wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clock import today_in, utc_now

NEW_YORK = ZoneInfo("America/New_York")


def test_utc_now_is_this_instant_in_utc():
    before = datetime.now(UTC)
    now = utc_now()
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # 10:30 pm in New York on the 23rd is already the 24th in UTC.
        (datetime(2026, 11, 24, 3, 30, tzinfo=UTC), date(2026, 11, 23)),
        (datetime(2026, 11, 24, 5, 0, tzinfo=UTC), date(2026, 11, 24)),
        # The night the clocks go forward (March 8th): 04:30 UTC is 00:30 EDT on the 9th,
        # where the winter offset would still say 23:30 on the 8th.
        (datetime(2026, 3, 9, 4, 30, tzinfo=UTC), date(2026, 3, 9)),
        # The week the clocks went back (November 1st): 04:30 UTC is 23:30 EST on the 1st,
        # where the summer offset would already say the 2nd.
        (datetime(2026, 11, 2, 4, 30, tzinfo=UTC), date(2026, 11, 1)),
    ],
)
def test_today_in_a_zone_is_its_wall_clock_day(moment, expected):
    assert today_in(NEW_YORK, moment) == expected


def test_today_in_a_zone_defaults_to_now():
    assert today_in(NEW_YORK) == datetime.now(NEW_YORK).date()
