"""The clinic's clock: its day is the day on its own wall clock, not the UTC day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.data import migrate
from app.data.database import create_empty
from app.data.keys import DatabaseKey
from app.data.models.clinic import ClinicSettings
from app.services.clinic.clock import clinic_now, clinic_settings, clinic_today, clinic_zone
from app.services.errors import NotFoundError

NEW_YORK = ZoneInfo("America/New_York")


def test_the_clinic_settings_row_zone_and_now(clinic):
    moment = datetime(2026, 7, 1, 3, 30, tzinfo=UTC)
    with clinic.db.uow() as session:
        assert clinic_settings(session).name == "Bayside Dental"
        assert clinic_zone(session) == NEW_YORK
        local = clinic_now(session, moment)
        assert (local.date(), local.hour, local.minute) == (date(2026, 6, 30), 23, 30)
        assert local.utcoffset() == timedelta(hours=-4)  # summer time
        assert local == moment  # the same instant, on the clinic's wall clock


@pytest.mark.parametrize(
    ("timezone", "moment", "expected"),
    [
        # West of Greenwich the UTC day starts in the clinic's evening ...
        ("America/New_York", datetime(2026, 11, 24, 3, 30, tzinfo=UTC), date(2026, 11, 23)),
        ("America/Los_Angeles", datetime(2026, 3, 9, 7, 30, tzinfo=UTC), date(2026, 3, 9)),
        # ... east of it the clinic's day starts while it is still yesterday in UTC.
        ("Pacific/Auckland", datetime(2026, 6, 30, 13, 0, tzinfo=UTC), date(2026, 7, 1)),
        ("Europe/Madrid", datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 25)),
    ],
)
def test_the_clinic_day_follows_the_clinics_own_zone(clinic, timezone, moment, expected):
    with clinic.db.uow() as session:
        clinic_settings(session).timezone = timezone
    with clinic.db.uow() as session:
        assert clinic_today(session, moment) == expected
        assert clinic_today(session) == datetime.now(ZoneInfo(timezone)).date()


def test_before_set_up_the_clock_runs_on_utc_and_there_is_no_settings_row(tmp_path):
    db = create_empty(tmp_path / "empty.db", DatabaseKey.generate())
    try:
        migrate.upgrade(db)
        with db.uow() as session:
            assert session.get(ClinicSettings, 1) is None
            assert clinic_zone(session) == ZoneInfo("UTC")
            assert clinic_today(session, datetime(2026, 11, 24, 3, 30, tzinfo=UTC)) == date(
                2026, 11, 24
            )
            with pytest.raises(NotFoundError, match="no clinic details"):
                clinic_settings(session)
    finally:
        db.close()
