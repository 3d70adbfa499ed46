"""A cell's text read as a date, a time, a phone, an e-mail, money, a yes/no, a duration …:
what the import stores, and the sentence it gives for what it cannot read."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from app.services.imports import values
from app.services.imports.values import AmbiguousDate

TODAY = date(2026, 5, 1)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        # Year first with four digits: one reading, whatever order was chosen.
        ("2020-03-04", None, date(2020, 3, 4)),
        ("2020-03-04", "DMY", date(2020, 3, 4)),
        ("2020/3/4", "MDY", date(2020, 3, 4)),
        ("20200304", None, date(2020, 3, 4)),
        ("2020-03-04 00:00:00", None, date(2020, 3, 4)),
        ("2020-03-04T09:30", None, date(2020, 3, 4)),
        # Day and month: the order chosen decides.
        ("03/04/2020", "MDY", date(2020, 3, 4)),
        ("03/04/2020", "DMY", date(2020, 4, 3)),
        ("3.4.2020", "DMY", date(2020, 4, 3)),
        ("03-04-2020", "MDY", date(2020, 3, 4)),
        # Only one order can read it, and none was chosen: that one.
        ("13/04/2020", None, date(2020, 4, 13)),
        ("04/13/2020", None, date(2020, 4, 13)),
        # The same either way.
        ("03/03/2020", None, date(2020, 3, 3)),
        # Month names read one way.
        ("4 Mar 2020", None, date(2020, 3, 4)),
        ("March 4, 2020", "DMY", date(2020, 3, 4)),
        ("04-Mar-2020", None, date(2020, 3, 4)),
        ("Wednesday, March 4, 2020", None, date(2020, 3, 4)),
        ("4 de marzo de 2020", None, date(2020, 3, 4)),
        ("Sept 4 2020", None, date(2020, 9, 4)),
        # Two-digit years: the latest year ending so that is not after this one.
        ("3/4/15", "MDY", date(2015, 3, 4)),
        ("3/4/26", "MDY", date(2026, 3, 4)),
        ("3/4/27", "MDY", date(1927, 3, 4)),
        ("1/1/30", "DMY", date(1930, 1, 1)),
        ("04-Mar-20", None, date(2020, 3, 4)),
        ("20/03/04", "YMD", date(2020, 3, 4)),
    ],
)
def test_dates_read_in_the_order_chosen(text, order, expected):
    assert values.parse_date(text, order, today=TODAY) == expected


def test_a_later_latest_year_reads_two_digit_years_ahead():
    assert values.parse_date("3/4/28", "MDY", today=TODAY, latest_year=2031) == date(2028, 3, 4)
    assert values.parse_date("3/4/28", "MDY", today=TODAY) == date(1928, 3, 4)


@pytest.mark.parametrize("text", ["03/04/2020", "1/2/99", "12/11/2020"])
def test_a_date_that_reads_two_ways_asks_for_the_order(text):
    with pytest.raises(AmbiguousDate, match="month first or day first: choose the date order"):
        values.parse_date(text, None, today=TODAY)


@pytest.mark.parametrize(
    ("text", "order", "reason"),
    [
        ("13/04/2020", "MDY", "has no month 13 when read month first"),
        ("04/13/2020", "DMY", "has no month 13 when read day first"),
        ("03/04/2020", "YMD", "cannot be read year first"),
        ("2020-02-30", None, "that month has no day 30"),
        ("2020-13-01", None, "there is no month 13"),
        ("31/02/2020", "DMY", "is not a date"),
        ("yesterday", None, "is not a date CareDesk can read"),
        ("4 Foo 2020", None, "is not a date CareDesk can read"),
        ("", None, "The date is empty"),
    ],
)
def test_dates_that_cannot_be_read_say_why(text, order, reason):
    with pytest.raises(ValueError, match=reason) as raised:
        values.parse_date(text, order, today=TODAY)
    assert not isinstance(raised.value, AmbiguousDate)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-03-04 09:30", ("2020-03-04", "09:30")),
        ("3/4/2020 9:30 AM", ("3/4/2020", "9:30 AM")),
        ("2020-03-04T14:30:00", ("2020-03-04", "14:30:00")),
        ("Mar 4 2020", ("Mar 4 2020", "")),
        ("2020-03-04", ("2020-03-04", "")),
        ("4 Mar 2020 2pm", ("4 Mar 2020", "2pm")),
    ],
)
def test_a_date_cell_holding_a_time_is_split(text, expected):
    assert values.split_date_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00", time(9, 0)),
        ("09:00:00", time(9, 0)),
        ("9:00 AM", time(9, 0)),
        ("9am", time(9, 0)),
        ("12:30 p.m.", time(12, 30)),
        ("12 AM", time(0, 0)),
        ("2:15 PM", time(14, 15)),
        ("14h30", time(14, 30)),
        ("0930", time(9, 30)),
        ("14.45", time(14, 45)),
    ],
)
def test_times(text, expected):
    assert values.parse_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "9", "13 PM", "noon", "9:75"])
def test_times_that_are_not(text):
    with pytest.raises(ValueError, match="time"):
        values.parse_time(text)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("(207) 555-0142", "US", "+12075550142"),
        ("207.555.0142", "US", "+12075550142"),
        ("+1 207 555 0142", "GB", "+12075550142"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("55 1234 5678", "MX", "+525512345678"),
    ],
)
def test_phones_in_the_clinics_region(text, region, expected):
    assert values.parse_phone(text, region) == expected


def test_a_phone_that_cannot_be_dialed():
    with pytest.raises(ValueError, match="“555-01” is not a phone number CareDesk can dial"):
        values.parse_phone("555-01", "US")


def test_emails_are_normalised_and_checked():
    assert values.parse_email("  Zoe.Nguyen@Example.COM ") == "zoe.nguyen@example.com"
    with pytest.raises(ValueError, match="is not an e-mail address"):
        values.parse_email("zoe.example.com")


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("$1,234.50", "en_US", Decimal("1234.50")),
        ("1234.5", "en_US", Decimal("1234.5")),
        ("-12", "en_US", Decimal("-12")),
        ("(12.00)", "en_US", Decimal("-12.00")),
        ("12.00 CR", "en_US", Decimal("-12.00")),
        ("$12.00 CR", "en_US", Decimal("-12.00")),
        ("CR 5", "en_US", Decimal("-5")),
        ("12.00-", "en_US", Decimal("-12.00")),
        ("12.00 DR", "en_US", Decimal("12.00")),
        ("USD 20", "en_US", Decimal("20")),
        ("-$5.25", "en_US", Decimal("-5.25")),
        ("12.5000", "en_US", Decimal("12.50")),
        ("1,234", "en_US", Decimal("1234")),
        ("1.234,50", "es_ES", Decimal("1234.50")),
        ("1.234,50 €", "es_ES", Decimal("1234.50")),
        ("(12,00)", "es_ES", Decimal("-12.00")),
        ("1 234,50", "fr_FR", Decimal("1234.50")),
    ],
)
def test_money_in_the_clinics_locale(text, locale, expected):
    amount = values.parse_money(text, locale)
    assert amount == expected
    assert isinstance(amount, Decimal)


@pytest.mark.parametrize(
    ("text", "locale", "reason"),
    [
        ("12.345", "en_US", "more than 2 decimal places"),
        ("1.234,50", "en_US", "is not an amount"),
        ("12,50", "en_US", "is not an amount"),
        ("1,234.50", "es_ES", "is not an amount"),
        ("12 dollars", "en_US", "is not an amount"),
        ("", "en_US", "The amount is empty"),
    ],
)
def test_money_that_cannot_be_read_in_the_clinics_locale(text, locale, reason):
    with pytest.raises(ValueError, match=reason):
        values.parse_money(text, locale)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("y", True),
        ("TRUE", True),
        ("1", True),
        ("x", True),
        ("Sí", True),
        ("No", False),
        ("n", False),
        ("false", False),
        ("0", False),
        ("", None),
        ("  ", None),
    ],
)
def test_yes_or_no(text, expected):
    assert values.parse_yes_no(text) is expected


def test_neither_yes_nor_no():
    with pytest.raises(ValueError, match="“maybe” is neither yes nor no"):
        values.parse_yes_no("maybe")


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("60", 60),
        ("60 min", 60),
        ("45 mins", 45),
        ("90 minutes", 90),
        ("1:00", 60),
        ("1:30", 90),
        ("1h", 60),
        ("1h 30m", 90),
        ("1 hour 30 minutes", 90),
        ("1.5 hours", 90),
        ("2 hrs", 120),
        ("XXXX//", 30),
        ("X", 5),
        ("//XXXXXX//", 50),
    ],
)
def test_durations(text, minutes):
    assert values.parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["0", "abc", "1.33 hours", "", "-30"])
def test_durations_that_are_not(text):
    with pytest.raises(ValueError):
        values.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [("US", "US"), ("United States", "US"), ("usa", "US"), ("México", "MX"), ("canada", "CA")],
)
def test_countries(text, code):
    assert values.parse_country(text) == code


@pytest.mark.parametrize(
    ("text", "tag"),
    [("en", "en"), ("English", "en"), ("Spanish", "es"), ("Español", "es"), ("es-MX", "es")],
)
def test_languages(text, tag):
    assert values.parse_language(text) == tag


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("F", "female"),
        ("Female", "female"),
        ("m", "male"),
        ("X", "unknown"),
        ("Intersex", "intersex"),
    ],
)
def test_sexes(text, sex):
    assert values.parse_sex(text) == sex


def test_unknown_country_language_and_sex_say_so():
    with pytest.raises(ValueError, match="not a country"):
        values.parse_country("Atlantis")
    with pytest.raises(ValueError, match="not a language"):
        values.parse_language("Klingonese")
    with pytest.raises(ValueError, match="not a sex"):
        values.parse_sex("7")
