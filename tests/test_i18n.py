"""Formatting and parsing for the locales CareDesk ships (app.i18n)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po
from hypothesis import given
from hypothesis import strategies as st

from app import i18n
from app.documents.labels import gettext_for
from app.i18n import (
    common_timezones,
    currency_for_locale,
    format_date,
    format_datetime,
    format_money,
    format_number,
    parse_money,
    supported_locales,
    translator,
)

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (Decimal("1234.56"), "USD", "en_US", "$1,234.56"),
        (Decimal("1234.56"), "EUR", "es_ES", f"1.234,56{NBSP}€"),
        (Decimal("1234.5"), "GBP", "en_GB", "£1,234.50"),
        (Decimal("0.05"), "CAD", "en_CA", "$0.05"),
        (Decimal("1234567.89"), "MXN", "es_MX", "$1,234,567.89"),
        (Decimal("-20"), "USD", "en_US", "-$20.00"),
        (Decimal("1234.56"), "USD", "es_US", "$1,234.56"),
        (Decimal("99.99"), "AUD", "en_AU", "$99.99"),
    ],
)
def test_format_money(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize("bad", [1234.56, 0.1, "12.00", None, True])
def test_format_money_refuses_float_and_non_numbers(bad):
    with pytest.raises(TypeError):
        format_money(bad, "USD", "en_US")


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("1234.56", "en_US", Decimal("1234.56")),
        ("$1,234.56", "en_US", Decimal("1234.56")),
        (" 20 ", "en_US", Decimal("20")),
        ("USD 20.5", "en_US", Decimal("20.5")),
        (".50", "en_US", Decimal("0.50")),
        ("1.234,56 €", "es_ES", Decimal("1234.56")),
        ("1234,56", "es_ES", Decimal("1234.56")),
        ("1 234,56", "es_ES", Decimal("1234.56")),
        ("£1,000", "en_GB", Decimal("1000")),
        ("$1,234.56", "es_MX", Decimal("1234.56")),
        ("US$ 1,234.56", "es_US", Decimal("1234.56")),
        ("20 eur", "es_ES", Decimal("20")),
    ],
)
def test_parse_money_reads_the_locale_separators(text, locale, expected):
    parsed = parse_money(text, locale)

    assert parsed == expected
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("text", "locale", "message"),
    [
        ("", "en_US", "Enter an amount, for example 1,234.56."),
        ("abc", "en_US", "“abc” is not an amount. Type it like 1,234.56."),
        ("12a4", "en_US", "“12a4” is not an amount. Type it like 1,234.56."),
        ("1e5", "en_US", "“1e5” is not an amount. Type it like 1,234.56."),
        ("NaN", "en_US", "“NaN” is not an amount. Type it like 1,234.56."),
        ("1.2.3", "en_US", "“1.2.3” is not an amount. Type it like 1,234.56."),
        ("--5", "en_US", "“--5” is not an amount. Type it like 1,234.56."),
        ("1,234.567", "en_US", "“1,234.567” has more than 2 decimal places."),
        ("-5", "en_US", "“-5” is negative; enter an amount of zero or more."),
        ("1234.56", "es_ES", "“1234.56” is not an amount. Type it like 1.234,56."),
        ("$", "es_ES", "“$” is not an amount. Type it like 1.234,56."),
        # A stray letter is a typo, not a currency: never read "450x" as 450.
        ("450x", "en_US", "“450x” is not an amount. Type it like 1,234.56."),
        ("x450", "en_US", "“x450” is not an amount. Type it like 1,234.56."),
        ("45 dollars", "en_US", "“45 dollars” is not an amount. Type it like 1,234.56."),
        ("USD", "en_US", "“USD” is not an amount. Type it like 1,234.56."),
    ],
)
def test_parse_money_bad_input_says_what_to_type(text, locale, message):
    with pytest.raises(ValueError) as raised:
        parse_money(text, locale)

    assert str(raised.value).startswith(message)


def test_parse_money_takes_negative_amounts_when_allowed():
    assert parse_money("-$5.25", "en_US", allow_negative=True) == Decimal("-5.25")
    assert parse_money("$-5.25", "en_US", allow_negative=True) == Decimal("-5.25")


money_amounts = st.decimals(
    min_value=Decimal("-99999999.99"),
    max_value=Decimal("99999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@given(amount=money_amounts, locale=st.sampled_from(i18n.SUPPORTED_LOCALES))
def test_money_round_trips_through_the_screen(amount, locale):
    """What CareDesk shows, typed back in, is the same amount — exact, as a Decimal."""
    shown = format_money(amount, currency_for_locale(locale), locale)
    parsed = parse_money(shown, locale, allow_negative=True)

    assert parsed == amount
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Spring forward, 8 March 2026: 2:00 EST becomes 3:00 EDT.
        (datetime(2026, 3, 8, 6, 59, tzinfo=UTC), "Mar 8, 2026, 1:59 AM"),
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "Mar 8, 2026, 3:00 AM"),
        # Fall back, 1 November 2026: 1:30 happens twice.
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "Nov 1, 2026, 1:30 AM"),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "Nov 1, 2026, 1:30 AM"),
        (datetime(2026, 11, 1, 7, 30, tzinfo=UTC), "Nov 1, 2026, 2:30 AM"),
        # The UTC date is the 24th; in New York it is still the 23rd.
        (datetime(2026, 11, 24, 3, 0, tzinfo=UTC), "Nov 23, 2026, 10:00 PM"),
    ],
)
def test_format_datetime_converts_utc_to_the_clinic_zone_across_dst(moment, expected):
    shown = format_datetime(moment, "America/New_York", "en_US")

    assert shown.replace("\u202f", " ") == expected


def test_format_datetime_spanish_long():
    moment = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

    assert format_datetime(moment, "Europe/Madrid", "es_ES", "long") == (
        "23 de noviembre de 2026, 16:00"
    )


def test_format_datetime_refuses_naive_and_unknown_zones():
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2026, 1, 1, 12, 0), "America/New_York", "en_US")
    for zone in ("Mars/Olympus_Mons", "America", "../etc"):
        with pytest.raises(ValueError, match="Unknown time zone"):
            format_datetime(datetime(2026, 1, 1, tzinfo=UTC), zone, "en_US")


@pytest.mark.parametrize(
    ("locale", "form", "expected"),
    [
        ("en_US", "medium", "Nov 23, 2026"),
        ("en_US", "long", "November 23, 2026"),
        ("en_GB", "medium", "23 Nov 2026"),
        ("es_ES", "long", "23 de noviembre de 2026"),
        ("es_MX", "full", "lunes, 23 de noviembre de 2026"),
    ],
)
def test_format_date(locale, form, expected):
    assert format_date(date(2026, 11, 23), locale, form) == expected


def test_format_date_has_no_two_digit_year_style():
    with pytest.raises(ValueError, match="format_numeric_date"):
        format_date(date(2026, 11, 23), "es_MX", "short")  # type: ignore[arg-type]


def test_format_date_refuses_a_datetime():
    with pytest.raises(TypeError):
        format_date(datetime(2026, 11, 23, tzinfo=UTC), "en_US")


@pytest.mark.parametrize(
    ("value", "locale", "places", "expected"),
    [
        (Decimal("1234.5"), "en_US", None, "1,234.5"),
        (Decimal("1234.5"), "es_ES", 2, "1.234,50"),
        (1234567, "es_MX", None, "1,234,567"),
        (Decimal("2.345"), "en_US", 1, "2.3"),
    ],
)
def test_format_number(value, locale, places, expected):
    assert format_number(value, locale, places=places) == expected


def test_format_number_refuses_float():
    with pytest.raises(TypeError):
        format_number(1.5, "en_US")  # type: ignore[arg-type]


def test_supported_locales_for_the_wizard():
    locales = dict(supported_locales())

    assert list(locales) == ["en_US", "en_GB", "en_CA", "en_AU", "es_ES", "es_MX", "es_US"]
    assert locales["en_US"] == "English (United States)"
    assert locales["es_ES"] == "Español (España)"
    assert locales["es_MX"] == "Español (México)"


@pytest.mark.parametrize(
    ("locale", "currency"),
    [
        ("en_US", "USD"),
        ("en_GB", "GBP"),
        ("en_CA", "CAD"),
        ("en_AU", "AUD"),
        ("es_ES", "EUR"),
        ("es_MX", "MXN"),
        ("es_US", "USD"),
        ("es", "USD"),
    ],
)
def test_currency_for_locale(locale, currency):
    assert currency_for_locale(locale) == currency


def test_unknown_locale_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown language/region"):
        currency_for_locale("xx_YY_ZZ!")


def test_common_timezones_put_the_usual_first_and_all_open():
    zones = common_timezones()

    assert zones[0] == "America/New_York"
    assert len(zones) == len(set(zones)) > 300
    assert "US/Eastern" not in zones and "EST5EDT" not in zones and "UTC" not in zones
    for name in zones:
        zoneinfo.ZoneInfo(name)


def test_common_timezones_start_with_the_locale_region():
    spain = common_timezones("es_ES")
    mexico = common_timezones("es_MX")

    assert spain[:3] == ["Europe/Madrid", "Atlantic/Canary", "Africa/Ceuta"]
    assert mexico[0] == "America/Mexico_City"


def test_translator_falls_back_to_english_without_a_catalog(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "locale_dir", lambda: str(tmp_path))
    translator.cache_clear()
    try:
        for locale in ("en_US", "es_ES", "fr_FR", None, "not a locale"):
            assert translator(locale).gettext("Patient") == "Patient"
    finally:
        translator.cache_clear()


def test_translator_uses_a_compiled_catalog(tmp_path, monkeypatch):
    catalog = Catalog(locale="es", domain="caredesk")
    catalog.add("Patient", "Paciente (catálogo)")
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "caredesk.mo", "wb") as mo:
        write_mo(mo, catalog)
    monkeypatch.setattr(i18n, "locale_dir", lambda: str(tmp_path))
    translator.cache_clear()
    try:
        assert translator("es_MX").gettext("Patient") == "Paciente (catálogo)"
        assert translator("en_US").gettext("Patient") == "Patient"
        assert gettext_for("es_ES")("Patient") == "Paciente (catálogo)"
    finally:
        translator.cache_clear()


def test_a_regional_catalog_falls_back_to_its_language(tmp_path, monkeypatch):
    """es_MX words where Mexico says it differently; everything else from the es catalog."""
    for language, messages in {
        "es": {"Patient": "Paciente", "Fee": "Tarifa (es)"},
        "es_MX": {"Fee": "Tarifa (MX)", "Draft": "Borrador (MX, fuzzy)"},
    }.items():
        catalog = Catalog(locale=language, domain="caredesk")
        for msgid, msgstr in messages.items():
            catalog.add(msgid, msgstr, flags=("fuzzy",) if "fuzzy" in msgstr else ())
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with open(folder / "caredesk.po", "wb") as po:
            write_po(po, catalog)
    monkeypatch.setattr(i18n, "locale_dir", lambda: str(tmp_path))
    translator.cache_clear()
    try:
        mexico, spain = translator("es_MX"), translator("es_ES")
        assert mexico.gettext("Fee") == "Tarifa (MX)"
        assert mexico.gettext("Patient") == "Paciente"
        assert spain.gettext("Fee") == "Tarifa (es)"
        # A fuzzy entry is a translator's guess: not printed, as `pybabel compile` leaves it out.
        assert mexico.gettext("Draft") == "Draft"
    finally:
        translator.cache_clear()


# --- what the screens show: weekday dates, months, time ranges, patterns, phones -------------

NNBSP, THIN = "\u202f", "\u2009"


@pytest.mark.parametrize(
    ("locale", "with_year", "without_year", "month"),
    [
        ("en_US", "Mon, Nov 23, 2026", "Mon, Nov 23", "November 2026"),
        ("es_ES", "lun, 23 nov 2026", "lun, 23 nov", "noviembre de 2026"),
        ("de_DE", "Mo., 23. Nov. 2026", "Mo., 23. Nov.", "November 2026"),
    ],
)
def test_weekday_dates_and_months(locale, with_year, without_year, month):
    day = date(2026, 11, 23)
    assert i18n.format_weekday_date(day, locale) == with_year
    assert i18n.format_weekday_date(day, locale, with_year=False) == without_year
    assert i18n.format_month_year(day, locale) == month


@pytest.mark.parametrize(("locale", "letter"), [("en_US", "N"), ("es_ES", "N"), ("de_DE", "N")])
def test_a_month_as_one_letter_for_a_chart(locale, letter):
    assert i18n.format_month_letter(date(2026, 11, 23), locale) == letter
    assert i18n.format_month_letter(date(2026, 1, 23), "es_ES") == "E"  # enero


def test_a_time_range_says_am_and_pm_once_when_it_can():
    start, end = datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 23, 9, 45)
    assert i18n.format_time_range(start, end, "en_US") == f"9:00{THIN}–{THIN}9:45{NNBSP}AM"
    noon = datetime(2026, 11, 23, 13, 0)
    assert i18n.format_time_range(datetime(2026, 11, 23, 11, 30), noon, "en_US") == (
        f"11:30{NNBSP}AM{THIN}–{THIN}1:00{NNBSP}PM"
    )


def test_weekday_names_start_on_monday():
    assert i18n.short_weekday_names("en_US") == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert i18n.short_weekday_names("es_ES")[0] == "lun"
    assert i18n.short_weekday_names("es_ES")[6] == "dom"


@pytest.mark.parametrize(
    ("locale", "pattern", "born", "clock"),
    [
        ("en_US", "M/d/yyyy", "5/17/1980", f"h:mm{NNBSP}a"),
        ("es_ES", "d/M/yyyy", "17/5/1980", "H:mm"),
        ("en_GB", "dd/MM/yyyy", "17/05/1980", "HH:mm"),
        ("de_DE", "dd.MM.yyyy", "17.05.1980", "HH:mm"),
    ],
)
def test_numeric_dates_always_have_four_digit_years(locale, pattern, born, clock):
    assert i18n.numeric_date_pattern(locale) == pattern
    assert i18n.format_numeric_date(date(1980, 5, 17), locale) == born
    # 1925, not "25": a date of birth must not read as 2025.
    assert i18n.format_numeric_date(date(1925, 1, 2), locale).endswith("1925")
    assert i18n.short_time_pattern(locale) == clock


def test_an_unknown_locale_is_refused_with_a_message():
    with pytest.raises(ValueError, match="Unknown language/region"):
        i18n.numeric_date_pattern("xx_QQ")


def test_country_and_currency_names_for_pickers():
    countries = i18n.country_names()
    names = [name for _code, name in countries]
    assert names == sorted(names)
    assert dict(countries)["GB"] == "United Kingdom"
    assert dict(i18n.country_names("es"))["GB"] == "Reino Unido"
    assert all(len(code) == 2 and code.isalpha() for code, _name in countries)  # no "001"
    currencies = i18n.currency_names()
    codes = [code for code, _name in currencies]
    assert codes == sorted(codes)
    assert dict(currencies)["EUR"] == "Euro"
    assert dict(currencies)["MXN"] == "Mexican Peso"


@pytest.mark.parametrize(
    ("stored", "home", "shown"),
    [
        ("+12075550142", "US", "(207) 555-0142"),
        ("+12075550142", "GB", "+1 207-555-0142"),
        ("+442079460958", "GB", "020 7946 0958"),
        ("+442079460958", "US", "+44 20 7946 0958"),
        ("+442079460958", "", "+44 20 7946 0958"),  # no country set: the US is home
        ("", "US", ""),
        ("ask at the desk", "US", "ask at the desk"),
    ],
)
def test_phones_show_national_at_home_and_international_abroad(stored, home, shown):
    assert i18n.format_phone(stored, home) == shown
