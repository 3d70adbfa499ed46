"""Column types shared by every model: money as integer cents, datetimes as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Float, String, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from app.money import from_minor_units, to_minor_units


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` amount stored as integer hundredths.

    SQLAlchemy's ``Numeric`` goes through float on SQLite, which loses cents;
    an integer column is exact on every backend.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:
        return None if value is None else to_minor_units(value)

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:
        return None if value is None else from_minor_units(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC, returned as UTC-aware.

    Naive datetimes are refused: a naive value is a bug waiting to show up
    as an appointment an hour off after the clocks change.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: CareDesk stores timezone-aware UTC only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def stored_text(column):
    """A :class:`UTCDateTime` column read back as the text SQLite keeps, for
    :func:`parse_stored_utc`: hundreds of rows parse several times faster that way.
    (PostgreSQL's driver hands back a datetime, as fast.)"""
    return type_coerce(column, String)


def parse_stored_utc(stored: str | datetime) -> datetime:
    """The UTC-aware datetime a :class:`UTCDateTime` column stores as ``stored``."""
    if isinstance(stored, datetime):
        return stored.replace(tzinfo=UTC)
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


class epoch_seconds(FunctionElement):
    """A :class:`UTCDateTime` column as seconds since 1970 (a float), computed by the
    database: a third of the cost of building aware datetimes per row."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw):
    return f"unixepoch({compiler.process(element.clauses, **kw)}, 'subsec')"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element, compiler, **kw):
    # The column holds UTC wall time without a zone: read it as UTC, not the session's zone.
    column = compiler.process(element.clauses, **kw)
    return f"extract(epoch FROM ({column}) AT TIME ZONE 'UTC')::float8"
