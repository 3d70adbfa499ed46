"""Locale-aware formatting and translations, in one place.

Everything a person reads — amounts, dates, times, numbers, phone numbers — is
formatted here for the clinic's (or the patient's) locale, with Babel (phonenumbers
for phones), and every translated string comes from :func:`translator`.  Money is
always :class:`~decimal.Decimal`; a float is refused.  Datetimes are stored in UTC
and converted to the clinic's time zone only here, at the edge.  No Qt import:
services and documents use this module too.

**Dates.**  Every date a person reads is one of these styles, in the clinic's locale
(``ClinicDetails.locale``), never written by hand (``strftime``, ``{d:%b}``,
``isoformat()``; tests/test_date_styles.py scans the source for them):

- date in text, sentences and most columns — ``format_date(d, loc)``:
  ``Dec 1, 2026`` (en_US), ``1 Dec 2026`` (en_GB), ``1 dic 2026`` (es_ES, es_US);
- date in a letter or printed document — ``format_date(d, loc, "long")``:
  ``December 1, 2026``, ``1 December 2026``, ``1 de diciembre de 2026``;
- day heading (a page about one day) — ``format_date(d, loc, "full")``:
  ``Tuesday, December 1, 2026``, ``Tuesday, 1 December 2026``, ``martes, 1 de diciembre de 2026``;
- date with weekday (visits, days to come) — ``format_weekday_date(d, loc)``:
  ``Tue, Dec 1, 2026``, ``Tue, 1 Dec 2026``, ``mar, 1 dic 2026``; ``with_year=False`` for the
  coming days: ``Tue, Dec 1``;
- short date (date fields, dense columns such as birth dates) — ``format_numeric_date(d, loc)``:
  ``12/1/2026``, ``01/12/2026``, ``1/12/2026`` (always a four-digit year);
- date and time — ``format_datetime(m, tz, loc)``: ``Dec 1, 2026, 9:30 AM``,
  ``1 Dec 2026, 09:30``; a time alone — ``format_time(m, tz, loc)``: ``9:30 AM``, ``09:30``.

A date edit (``QDateEdit``) shows :func:`qt_date_format`: the short date, or the date with
weekday.  A two-digit year is never shown.  Machine formats (ISO 8601 in CSV, ICS, JSON
and file names) are not for reading and stay ISO.

**Minus sign.**  A negative amount or number is written with the sign Babel (CLDR) gives
the locale — the hyphen-minus ``-`` for every locale we support (``-$5.00``, ``-5,00 €``) —
and only :func:`format_money` / :func:`format_number` write it: never prepend ``-`` or
``−`` by hand (show a payment taken off a balance as ``format_money(-amount, …)``).  One
sign, the locale's, because it is what :func:`parse_money` and spreadsheets read back.

**Spelling.**  Source strings are US English ("Check", "Pre-authorization", "License",
"Color", "Catalog", "Canceled").  A clinic whose English is spelled the British way
(en_GB, and en_AU, en_NZ, en_IE, which share it) reads them through the en_GB catalog,
``resources/locale/en_GB/LC_MESSAGES/caredesk.po``: windows through :func:`spelling`,
printed documents through :func:`translator` like every other language.
"""

from __future__ import annotations

import gettext
import io
import itertools
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.core import get_global
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app.paths import resources_dir

#: The gettext domain of every CareDesk catalog (resources/locale/<lang>/LC_MESSAGES/caredesk.mo).
GETTEXT_DOMAIN = "caredesk"

#: Languages with a translation; any other language falls back to English.
TRANSLATED_LANGUAGES = ("en", "es")

#: Locales offered by the setup wizard, in the order shown.
SUPPORTED_LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "es_ES", "es_MX", "es_US")

DEFAULT_LOCALE = "en_US"

#: Money is kept to this many decimal places (cents, pence, centavos).
MONEY_PLACES = 2

DateFormat = Literal["short", "medium", "long", "full"]

#: The date styles of :func:`format_date` (``short`` has a two-digit year: use
#: :func:`format_numeric_date`).
DateStyle = Literal["medium", "long", "full"]

#: Regions whose English is spelled the British way, and the catalog they read.
_SPELLED_AS = {"en_AU": "en_GB", "en_NZ": "en_GB", "en_IE": "en_GB"}


# --- locales ---------------------------------------------------------------------------------


def _locale(locale: str | Locale) -> Locale:
    """Parse a locale name (``es_ES`` or ``es-ES``), with a message a user can act on."""
    if isinstance(locale, Locale):
        return locale
    try:
        return Locale.parse(str(locale).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"Unknown language/region setting: {locale!r}.") from None


def language_of(locale: str | Locale) -> str:
    """The language part of a locale: ``es_MX`` → ``es``."""
    return _locale(locale).language


def supported_locales() -> list[tuple[str, str]]:
    """``(code, display name)`` for the setup wizard, each name in its own language.

    >>> supported_locales()[4]
    ('es_ES', 'Español (España)')
    """
    result = []
    for code in SUPPORTED_LOCALES:
        name = _locale(code).get_display_name(code) or code
        result.append((code, name[:1].upper() + name[1:]))
    return result


def currency_for_locale(locale: str | Locale) -> str:
    """The currency a clinic in this locale most likely uses (ISO 4217): en_GB → GBP."""
    parsed = _locale(locale)
    if parsed.territory:
        currencies = babel_numbers.get_territory_currencies(parsed.territory)
        if currencies:
            return currencies[0]
    return "USD"


@cache
def country_names(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """``(ISO 3166 code, name)`` of every country and territory, by name, for a picker:
    ``("GB", "United Kingdom")``.  Kept once built: a patient's form lists them all."""
    names = _locale(locale).territories
    return tuple(
        sorted(
            ((code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()),
            key=lambda pair: pair[1],
        )
    )


@cache
def currency_names(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """``(ISO 4217 code, name)`` of every currency, by code: ``("EUR", "Euro")``."""
    parsed = _locale(locale)
    return tuple(
        (code, babel_numbers.get_currency_name(code, locale=parsed))
        for code in sorted(babel_numbers.list_currencies())
    )


# --- time zones ------------------------------------------------------------------------------

#: Zones the clinics we serve are most often in, offered first in the wizard.
_COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Toronto",
    "America/Vancouver",
    "America/Edmonton",
    "America/Winnipeg",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Monterrey",
    "America/Tijuana",
    "America/Cancun",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Madrid",
    "Atlantic/Canary",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Brisbane",
    "Australia/Adelaide",
    "Australia/Perth",
    "Australia/Hobart",
    "Australia/Darwin",
    "Pacific/Auckland",
)

# Aliases and legacy names that only confuse a person picking from a list.
_LEGACY_ZONE = re.compile(r"^(Etc/|SystemV/|US/|Canada/|Mexico/|Brazil/|Chile/)|^[^/]+$")


def common_timezones(locale: str | Locale | None = None) -> list[str]:
    """IANA zone names for a picker: the locale's region first, then common ones, then the rest.

    Legacy aliases (``US/Eastern``, ``EST5EDT``, ``Etc/GMT+5``) are left out; every
    name returned opens with :class:`zoneinfo.ZoneInfo`.
    """
    available = zoneinfo.available_timezones()
    first: list[str] = []
    if locale is not None:
        territory = _locale(locale).territory
        territory_zones = get_global("territory_zones").get(territory or "", [])
        ordered = [z for z in _COMMON_ZONES if z in territory_zones]
        ordered += sorted(z for z in territory_zones if z not in ordered)
        first.extend(z for z in ordered if z in available)
    first.extend(z for z in _COMMON_ZONES if z in available and z not in first)
    rest = sorted(z for z in available if z not in first and not _LEGACY_ZONE.search(z))
    return first + rest


def clinic_zone(timezone: str) -> zoneinfo.ZoneInfo:
    """The clinic's time zone, with a clear message for a name that does not exist."""
    try:
        return zoneinfo.ZoneInfo(timezone)
    # OSError: a region folder such as "America" is not a zone (IsADirectoryError).
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(f"Unknown time zone: {timezone!r}.") from None


def to_clinic_time(value: datetime, timezone: str) -> datetime:
    """A stored (UTC-aware) datetime as wall-clock time in the clinic's zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("stored datetimes must be timezone-aware (UTC); got a naive datetime")
    return value.astimezone(clinic_zone(timezone))


# --- formatting ------------------------------------------------------------------------------


def _require_decimal(value: object, what: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"{what} must never be a float; pass a Decimal")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what} must be a Decimal or an int, not {type(value).__name__}")
    return Decimal(value)


def format_money(amount: Decimal, currency: str, locale: str | Locale) -> str:
    """``Decimal('1234.56')`` → ``$1,234.56`` (en_US, USD) or ``1.234,56 €`` (es_ES, EUR)."""
    value = _require_decimal(amount, "money")
    return babel_numbers.format_currency(value, currency, locale=_locale(locale))


def format_number(value: Decimal | int, locale: str | Locale, *, places: int | None = None) -> str:
    """A plain number with the locale's separators; ``places`` fixes the decimals shown."""
    number = _require_decimal(value, "a number")
    if places is None:
        return babel_numbers.format_decimal(number, locale=_locale(locale))
    pattern = "#,##0" + ("." + "0" * places if places > 0 else "")
    return babel_numbers.format_decimal(
        number.quantize(Decimal(1).scaleb(-places)), format=pattern, locale=_locale(locale)
    )


def format_percent(value: Decimal, locale: str | Locale) -> str:
    """``Decimal('0.125')`` → ``12.5%`` / ``12,5 %``."""
    number = _require_decimal(value, "a percentage")
    return babel_numbers.format_percent(number, format="#,##0.##%", locale=_locale(locale))


def format_date(value: date, locale: str | Locale, format: DateStyle = "medium") -> str:
    """A calendar date (no time zone involved): ``Nov 23, 2026`` / ``23 nov 2026``.

    ``format="long"`` gives ``November 23, 2026`` / ``23 de noviembre de 2026`` (letters
    and printed documents); ``"full"`` the day heading ``Monday, November 23, 2026``.
    """
    if isinstance(value, datetime):
        raise TypeError("format_date takes a date; use format_datetime for a moment in time")
    if format not in ("medium", "long", "full"):
        raise ValueError(f"no date style {format!r}: a short date is format_numeric_date")
    return babel_dates.format_date(value, format=format, locale=_locale(locale))


def format_datetime(
    value: datetime,
    timezone: str,
    locale: str | Locale,
    date_format: DateFormat = "medium",
    time_format: DateFormat = "short",
) -> str:
    """A stored UTC moment as the clinic's wall-clock date and time: ``Nov 23, 2026, 9:30 AM``.

    The conversion to the clinic's zone happens here (daylight saving included);
    ``value`` must be timezone-aware.
    """
    local = to_clinic_time(value, timezone)
    parsed = _locale(locale)
    date_text = babel_dates.format_date(local.date(), format=date_format, locale=parsed)
    time_text = babel_dates.format_time(
        local, format=time_format, tzinfo=local.tzinfo, locale=parsed
    )
    # The locale decides how date and time are joined ("{1}, {0}", "{1} 'a' las {0}", ...).
    pattern = str(babel_dates.get_datetime_format(date_format, locale=parsed)).replace("'", "")
    return pattern.replace("{1}", date_text).replace("{0}", time_text)


def format_time(
    value: datetime | time, timezone: str | None, locale: str | Locale, format: DateFormat = "short"
) -> str:
    """Time of day: a UTC datetime is converted to the clinic's zone; a bare time is shown as is."""
    if isinstance(value, datetime):
        if timezone is None:
            raise ValueError("a time zone is needed to show a stored datetime")
        value = to_clinic_time(value, timezone)
        return babel_dates.format_time(
            value, format=format, tzinfo=value.tzinfo, locale=_locale(locale)
        )
    return babel_dates.format_time(value, format=format, locale=_locale(locale))


def format_weekday_date(value: date, locale: str | Locale, *, with_year: bool = True) -> str:
    """A date with its weekday, abbreviated: ``Mon, Nov 23, 2026`` / ``lun, 23 nov 2026``;
    without the year ``Mon, Nov 23`` / ``lun, 23 nov``."""
    skeleton = "yMMMEd" if with_year else "MMMEd"
    return babel_dates.format_skeleton(skeleton, value, locale=_locale(locale))


def format_month_year(value: date, locale: str | Locale) -> str:
    """The month ``value`` falls in: ``November 2026`` / ``noviembre de 2026``."""
    return babel_dates.format_skeleton("yMMMM", value, locale=_locale(locale))


def format_month_letter(value: date, locale: str | Locale) -> str:
    """A month as one letter, for twelve under a small chart: ``N`` / ``N``."""
    return babel_dates.format_date(value, "MMMMM", locale=_locale(locale))


def format_time_range(start: datetime, end: datetime, locale: str | Locale) -> str:
    """Two times of one day as the locale shortens them: ``9:00 – 9:45 AM`` (one "AM").

    The values are shown as given: convert stored UTC moments with :func:`to_clinic_time`.
    """
    return babel_dates.format_interval(start, end, skeleton="hm", locale=_locale(locale))


def short_weekday_names(locale: str | Locale) -> list[str]:
    """The seven abbreviated weekday names, Monday first: ``Mon`` … ``Sun`` / ``lun`` … ``dom``."""
    names = babel_dates.get_day_names("abbreviated", locale=_locale(locale))
    return [names[day] for day in range(7)]  # Babel numbers the days from 0 = Monday


def numeric_date_pattern(locale: str | Locale) -> str:
    """The locale's short numeric date with a four-digit year, as a CLDR pattern:
    ``M/d/yyyy`` (en_US), ``d/M/yyyy`` (es_ES), ``dd.MM.yyyy`` (de_DE).

    A two-digit year is ambiguous in a birth date (1925 or 2025?), so it is widened.
    """
    pattern = babel_dates.get_date_format("short", locale=_locale(locale)).pattern
    return re.sub(r"y+", "yyyy", pattern)


def format_numeric_date(value: date, locale: str | Locale) -> str:
    """A date as the clinic writes it by hand, four-digit year: ``5/17/1980`` / ``17/5/1980``."""
    return babel_dates.format_date(
        value, format=numeric_date_pattern(locale), locale=_locale(locale)
    )


def short_time_pattern(locale: str | Locale) -> str:
    """The locale's short time of day as a CLDR pattern: ``h:mm a`` (en_US), ``H:mm`` (es_ES)."""
    return babel_dates.get_time_format("short", locale=_locale(locale)).pattern


# A CLDR pattern field (a run of one letter) or a quoted literal.
_CLDR_FIELD = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*")


def _qt_pattern(cldr: str) -> str:
    """A CLDR date/time pattern as a Qt display format (QDateEdit, QLocale.toString):
    weekdays ``EEE`` → ``ddd``, any year → ``yyyy``, ``a`` → ``AP``; quoted text stays."""

    def field(match: re.Match[str]) -> str:
        text = match.group(0)
        letter = match.group(1)
        if letter is None:
            return text  # 'de': Qt quotes literals the same way
        if letter in "Ec":
            return "dddd" if len(text) >= 4 else "ddd"
        if letter in "yY":
            return "yyyy"
        if letter == "L":
            return "M" * len(text)
        if letter in "aBb":
            return "AP"
        if letter in "dMHhms":
            return text
        return ""

    return _CLDR_FIELD.sub(field, cldr).strip()


def qt_date_format(locale: str | Locale, style: Literal["numeric", "weekday"] = "numeric") -> str:
    """The display format of a date edit: the short date (``M/d/yyyy`` en_US,
    ``dd/MM/yyyy`` en_GB, ``d/M/yyyy`` es_ES) or the date with weekday (``ddd, MMM d, yyyy``
    en_US, ``ddd d MMM yyyy`` en_GB): the same styles as :func:`format_numeric_date` and
    :func:`format_weekday_date`.  Give the edit ``QLocale(locale)`` too, for the names."""
    if style == "weekday":
        parsed = _locale(locale)
        return _qt_pattern(str(parsed.datetime_skeletons["yMMMEd"].pattern))
    return _qt_pattern(numeric_date_pattern(locale))


def qt_time_format(locale: str | Locale) -> str:
    """The display format of a time edit: ``h:mm AP`` (en_US), ``HH:mm`` (en_GB), ``H:mm``."""
    return _qt_pattern(short_time_pattern(locale))


def qt_datetime_format(locale: str | Locale) -> str:
    """The display format of a date-and-time edit: ``ddd M/d/yyyy h:mm AP`` (en_US),
    ``ddd d/M/yyyy H:mm`` (es_ES) — the short date with its weekday, then the time."""
    return f"ddd {qt_date_format(locale)} {qt_time_format(locale)}"


def format_phone(e164: str, home_region: str) -> str:
    """A stored (E.164) number as people at the clinic write it: national for a number of the
    clinic's own country (``home_region``, ISO code), international otherwise; text that is
    not a phone number comes back as it is."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(number) == (home_region or "US")
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


# --- parsing ---------------------------------------------------------------------------------

# What may remain once the sign and currency symbols/codes are removed: digits and separators.
_AMOUNT_CHARS = re.compile(r"^(?=.*[0-9])[0-9.,'\s\u00a0\u202f]+$")


def _strip_currency(text: str) -> str:
    """Drop a currency sign or code at either end: "$", "€", "US$", "CA$", "USD", "eur".

    Only those: any other letter ("450x") leaves the amount unreadable, so a slip of
    the finger is refused rather than read as 450.
    """
    text = text.strip()
    while True:
        stripped = _CURRENCY_AT_START.sub("", text, count=1).strip()
        stripped = _CURRENCY_AT_END.sub("", stripped, count=1).strip()
        if stripped == text:
            return text
        text = stripped


_SIGNS = re.escape(
    "".join(chr(c) for c in range(0x20, 0x3000) if unicodedata.category(chr(c)) == "Sc")
)
_CODES = "|".join(sorted(babel_numbers.list_currencies()))
# An ISO 4217 code as a word ("USD 20"), or up to three letters fused to a sign ("US$").
_CURRENCY = rf"(?:(?i:{_CODES})(?![A-Za-z])|[A-Za-z]{{0,3}}[{_SIGNS}]+)"
_CURRENCY_AT_START = re.compile(rf"^{_CURRENCY}")
_CURRENCY_AT_END = re.compile(rf"(?<![A-Za-z]){_CURRENCY}$")


def parse_money(text: str, locale: str | Locale, *, allow_negative: bool = False) -> Decimal:
    """What a person typed → a Decimal amount, read with the locale's separators.

    Currency symbols and codes around the number are ignored (``$1,234.50``,
    ``1.234,50 €``, ``USD 20``).  Anything else — letters, two decimal marks,
    more than two decimal places, a negative amount unless allowed — raises
    :class:`ValueError` whose message says what to type instead.
    """
    parsed_locale = _locale(locale)
    example = babel_numbers.format_decimal(
        Decimal("1234.56"), format="#,##0.00", locale=parsed_locale
    )
    original = (text or "").strip()
    if not original:
        raise ValueError(f"Enter an amount, for example {example}.")
    # The sign may come before or after the symbol: "-$5", "$-5", "-5 €".
    cleaned = _strip_currency(original)
    sign = ""
    if cleaned[:1] in ("-", "−", "+"):
        sign, cleaned = cleaned[0], _strip_currency(cleaned[1:])
    negative = sign in ("-", "−")
    if not _AMOUNT_CHARS.match(cleaned):
        raise ValueError(f"“{original}” is not an amount. Type it like {example}.")
    digits = cleaned.strip()
    # People type group separators as spaces or apostrophes; Babel only knows the locale's own.
    group = babel_numbers.get_group_symbol(parsed_locale)
    digits = re.sub(r"[\s\u00a0\u202f']", group if group.isspace() else "", digits)
    try:
        amount = babel_numbers.parse_decimal(digits, locale=parsed_locale, strict=True)
    except babel_numbers.NumberFormatError:
        raise ValueError(f"“{original}” is not an amount. Type it like {example}.") from None
    if not amount.is_finite():
        raise ValueError(f"“{original}” is not an amount. Type it like {example}.")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_PLACES:
        raise ValueError(
            f"“{original}” has more than {MONEY_PLACES} decimal places. Type it like {example}."
        )
    if negative:
        amount = -amount
    if amount < 0 and not allow_negative:
        raise ValueError(f"“{original}” is negative; enter an amount of zero or more.")
    return amount


# --- translations ----------------------------------------------------------------------------


def locale_dir() -> str:
    return str(resources_dir() / "locale")


def _catalog_file(language: str) -> gettext.NullTranslations | None:
    """One language's catalog: its ``.po`` compiled in memory, else a compiled ``.mo``.

    The ``.po`` files are the source (no committed ``.mo`` to drift from them);
    compiling ~300 messages takes a few milliseconds, once per process.  Fuzzy
    entries are left out, as ``pybabel compile`` would.
    """
    folder = Path(locale_dir()) / language / "LC_MESSAGES"
    po_file = folder / f"{GETTEXT_DOMAIN}.po"
    if po_file.is_file():
        with po_file.open("rb") as source:
            catalog = read_po(source, locale=language, domain=GETTEXT_DOMAIN)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        return gettext.GNUTranslations(compiled)
    mo_file = folder / f"{GETTEXT_DOMAIN}.mo"
    if mo_file.is_file():
        with mo_file.open("rb") as source:
            return gettext.GNUTranslations(source)
    return None


@cache
def translator(locale: str | None) -> gettext.NullTranslations:
    """The message catalog for a locale (English when there is none or the language is unknown).

    Catalogs are ``resources/locale/<lang>/LC_MESSAGES/caredesk.po``; ``es_MX``
    uses an ``es_MX`` catalog when one exists, falling back to ``es``; en_GB (and the
    regions spelled like it, ``_SPELLED_AS``) reads the British spelling of the US source
    strings.  Treat the result as read-only: it is shared.
    """
    if not locale:
        return gettext.NullTranslations()
    try:
        parsed = _locale(locale)
    except ValueError:
        return gettext.NullTranslations()
    if parsed.language not in TRANSLATED_LANGUAGES:
        return gettext.NullTranslations()
    names = [str(parsed), _SPELLED_AS.get(str(parsed), ""), parsed.language]
    found = [
        catalog
        for catalog in map(_catalog_file, dict.fromkeys(name for name in names if name))
        if catalog is not None
    ]
    if not found:
        return gettext.NullTranslations()
    for narrower, wider in itertools.pairwise(found):
        narrower.add_fallback(wider)
    return found[0]


def spelling(locale: str | None) -> Callable[[str], str]:
    """The ``_`` of the windows: their (English) words as the clinic spells them —
    ``"Check"`` in an en_US clinic, ``"Cheque"`` in an en_GB one.

    The windows are in English for every clinic (only printed documents are translated),
    so a clinic of another language reads the US source.  Pass whole sentences with
    ``%(name)s`` placeholders, never pieces of an f-string: the en_GB catalog holds them
    whole."""
    if not locale:
        return _same
    try:
        language = _locale(locale).language
    except ValueError:
        return _same
    return translator(locale).gettext if language == "en" else _same


def _same(message: str) -> str:
    return message
