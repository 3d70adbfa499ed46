"""The signed-in window's context: the clinic's today, by its own wall clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.services.clinic.clock import clinic_today


@pytest.mark.parametrize(
    ("timezone", "moment", "expected"),
    [
        # 10:30 pm in New York: the UTC day has already turned.
        ("America/New_York", datetime(2026, 11, 24, 3, 30, tzinfo=UTC), date(2026, 11, 23)),
        # 00:30 in New York the night the clocks went forward (EDT, not EST).
        ("America/New_York", datetime(2026, 3, 9, 4, 30, tzinfo=UTC), date(2026, 3, 9)),
        # Auckland's morning is still yesterday in UTC.
        ("Pacific/Auckland", datetime(2026, 6, 30, 13, 0, tzinfo=UTC), date(2026, 7, 1)),
    ],
)
def test_today_is_the_clinics_wall_clock_day(owner_ctx, timezone, moment, expected):
    owner_ctx.details = replace(owner_ctx.details, timezone=timezone)
    assert owner_ctx.today(moment) == expected
    # The clock read on both sides: the test may run the instant midnight passes there.
    before = datetime.now(ZoneInfo(timezone)).date()
    today = owner_ctx.today()
    assert today in {before, datetime.now(ZoneInfo(timezone)).date()}


def test_today_agrees_with_the_services_clock(clinic, owner_ctx):
    moment = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    with clinic.db.uow() as session:
        assert owner_ctx.today(moment) == clinic_today(session, moment)
