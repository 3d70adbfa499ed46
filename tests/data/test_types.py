"""Money (Decimal ↔ integer cents) and UTCDateTime, through the real encrypted database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from app.data.database import Database
from app.data.types import Money, UTCDateTime

probe_metadata = MetaData()
# A scratch table without CHECKs, so negative amounts can be round-tripped too.
probe = Table(
    "type_probe",
    probe_metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Money()),
    Column("at", UTCDateTime()),
)


@pytest.fixture
def probe_db(migrated_db: Database) -> Database:
    probe_metadata.create_all(migrated_db.engine)
    return migrated_db


def _round_trip(db: Database, **values):
    with db.engine.begin() as conn:
        row_id = conn.execute(insert(probe).values(**values)).inserted_primary_key[0]
    with db.engine.connect() as conn:
        return conn.execute(select(probe).where(probe.c.id == row_id)).one()


def _stored(db: Database, column: str):
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT {column} FROM type_probe").scalar_one()


@pytest.mark.parametrize(
    "amount",
    ["0.00", "0.01", "0.10", "19.99", "-45.50", "1234567.89", "92233720368547758.07", "7"],
)
def test_money_round_trips_exactly(probe_db: Database, amount: str) -> None:
    row = _round_trip(probe_db, amount=Decimal(amount))
    assert row.amount == Decimal(amount)
    assert row.amount.as_tuple().exponent == -2  # always shown with cents
    # Stored as an integer number of cents, not as a float or text.
    assert _stored(probe_db, "amount") == int(Decimal(amount) * 100)


def test_money_round_trips_any_two_place_amount(probe_db: Database) -> None:
    @settings(max_examples=150, deadline=None)
    @given(st.decimals(min_value=-(10**12), max_value=10**12, places=2))
    def check(amount: Decimal) -> None:
        assert _round_trip(probe_db, amount=amount).amount == amount

    check()


def test_money_sum_in_sql_is_exact(probe_db: Database) -> None:
    """0.10 + 0.20 is 0.30 in the database too: integer cents add exactly."""
    for amount in ("0.10", "0.20"):
        _round_trip(probe_db, amount=Decimal(amount))
    with probe_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT sum(amount) FROM type_probe").scalar_one() == 30


@pytest.mark.parametrize(
    ("value", "error"),
    [(Decimal("1.005"), ValueError), (Decimal("0.001"), ValueError), (19.99, TypeError)],
    ids=["three places", "a tenth of a cent", "float"],
)
def test_money_refuses_what_it_cannot_store_exactly(probe_db: Database, value, error) -> None:
    with pytest.raises(StatementError) as raised:
        _round_trip(probe_db, amount=value)
    assert isinstance(raised.value.orig, error)
    with probe_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM type_probe").scalar_one() == 0


def test_datetime_refuses_naive(probe_db: Database) -> None:
    with pytest.raises(StatementError) as raised:
        _round_trip(probe_db, at=datetime(2026, 3, 8, 9, 0))
    assert isinstance(raised.value.orig, ValueError)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        # Just after the US spring-forward change, written in local time.
        datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/Madrid"), fold=1),
        datetime(2026, 6, 1, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=-7))),
    ],
)
def test_datetime_comes_back_utc_aware_and_the_same_instant(probe_db: Database, moment) -> None:
    back = _round_trip(probe_db, at=moment).at
    assert back.tzinfo is UTC
    assert back == moment
    assert back.utcoffset() == timedelta(0)
