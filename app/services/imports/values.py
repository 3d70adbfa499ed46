"""A cell's text read as the value a field holds: a date in the order the clinic chose, a time,
a phone, an e-mail, money, a yes/no, a duration, a country, a language, a sex.

Each reader returns the value or raises :class:`ValueError` whose message is the sentence the
rejects list shows ("“13/04/2020” has no month 13 when read month first …").  Pure functions:
the dry run and the import read every cell through them.

Dates
    ``2020-03-04`` (year first, four digits) is always March 4, whatever order was chosen.
    ``03/04/2020`` reads two ways: with no order chosen it raises :class:`AmbiguousDate` (the
    preview then asks for one); with ``MDY`` it is March 4, with ``DMY`` 3 April.  A date only
    one order can read (``13/04/2020``) is refused when the chosen order cannot read it — the
    file is not in the order the clinic said.  Month names (``4 Mar 2020``, ``March 4, 2020``,
    ``04-Mar-2020``) read one way only.  A time after the date is ignored by :func:`parse_date`
    (:func:`split_date_time` keeps it for appointments).

Two-digit years
    ``yy`` is the latest year ending in those two digits that is not after ``latest_year``
    (by default the current year): in 2026 ``15`` is 2015 and ``30`` is 1930 — a date of
    birth is never in the future.  Appointments pass ``latest_year`` a few years ahead, so
    ``3/4/28`` is 2028 there.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.numbers import get_decimal_symbol
from email_validator import EmailNotValidError, validate_email

from app.data.models.patients import Sex
from app.i18n import parse_money as parse_typed_money
from app.services.patients.phones import normalise_phone

#: The orders a date with the year last (or a two-digit year first) can be read in.
MDY, DMY, YMD = "MDY", "DMY", "YMD"
_ORDER_WORDS = {MDY: "month first", DMY: "day first", YMD: "year first"}


class AmbiguousDate(ValueError):
    """A date that reads two ways (03/04/2020) while no order was chosen."""


# --- dates -------------------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NUMERIC = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})")
#: A time at the end of a date cell: "9:00", "09:00:00", "9:00 AM", "9am", "T14:30".
_TRAILING_TIME = re.compile(
    r"(?:[ T]+|(?<=\d)T)(\d{1,2}(?::\d{2}){0,2}(?:\.\d+)?\s*(?:[ap]\.?\s?m\.?)?)\s*$",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"(\d{1,2})(?:[:.h](\d{2}))?(?::(\d{2})(?:\.\d+)?)?\s*(?:([ap])\.?\s?m\.?)?", re.IGNORECASE
)
_HHMM = re.compile(r"(\d{2})(\d{2})")


@cache
def _month_names() -> dict[str, int]:
    """Month names and abbreviations (English and Spanish, the clinic languages) → number."""
    names: dict[str, int] = {}
    for language in ("en", "es", "fr", "pt"):
        locale = Locale.parse(language)
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in locale.months[context][width].items():
                    names[_fold(name).rstrip(".")] = number
    names["sept"] = 9
    return names


@cache
def _weekday_names() -> frozenset[str]:
    words: set[str] = set()
    for language in ("en", "es", "fr", "pt"):
        locale = Locale.parse(language)
        for width in ("wide", "abbreviated"):
            words.update(_fold(n).rstrip(".") for n in locale.days["format"][width].values())
    return frozenset(words)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def full_year(two_digits: int, latest_year: int) -> int:
    """The latest year ending in ``two_digits`` that is not after ``latest_year``."""
    return latest_year - ((latest_year - two_digits) % 100)


def split_date_time(text: str) -> tuple[str, str]:
    """``(date text, time text)`` of a cell that may hold both ("2020-03-04 09:30",
    "3/4/2020 9:30 AM"); the time is "" when there is none."""
    text = " ".join((text or "").split())
    found = _TRAILING_TIME.search(text)
    if found is None:
        return text, ""
    time_text = found.group(1)
    # A bare number after a month name is the year, not an hour ("Mar 4 2020").
    if ":" not in time_text and not re.search(r"[ap]\.?\s?m", time_text, re.IGNORECASE):
        return text, ""
    return text[: found.start()].rstrip(" ,T"), time_text


def parse_date(
    text: str, order: str | None = None, *, today: date, latest_year: int | None = None
) -> date:
    """The date a cell holds, read as the module says; ValueError (AmbiguousDate for one
    that reads two ways with no order chosen) with the reason."""
    original = " ".join((text or "").split())
    if not original:
        raise ValueError("The date is empty.")
    date_text, _time = split_date_time(original)
    latest = latest_year if latest_year is not None else today.year
    if found := _ISO.fullmatch(date_text):
        return _date(original, int(found[1]), int(found[2]), int(found[3]))
    if found := _COMPACT.fullmatch(date_text):
        return _date(original, int(found[1]), int(found[2]), int(found[3]))
    if found := _NUMERIC.fullmatch(date_text):
        return _numeric_date(original, found, order, latest)
    return _worded_date(original, date_text, latest)


def _date(original: str, year: int, month: int, day: int) -> date:
    if not 1 <= month <= 12:
        raise ValueError(f"“{original}” is not a date: there is no month {month}.")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"“{original}” is not a date: that month has no day {day}.") from None


def _reading(first: int, second: int, year: int, order: str) -> date | None:
    month, day = (first, second) if order == MDY else (second, first)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _numeric_date(original: str, found: re.Match, order: str | None, latest: int) -> date:
    first, second, year_text = int(found[1]), int(found[2]), found[3]
    if order == YMD:
        if len(year_text) == 4:
            raise ValueError(
                f"“{original}” cannot be read year first (the year is last): check the date "
                "order chosen for this file."
            )
        year = full_year(first, latest)
        return _date(original, year, second, int(year_text))
    year = int(year_text) if len(year_text) == 4 else full_year(int(year_text), latest)
    readings = {o: _reading(first, second, year, o) for o in (MDY, DMY)}
    if order in (MDY, DMY):
        chosen = readings[order]
        if chosen is not None:
            return chosen
        month = first if order == MDY else second
        if month > 12:
            raise ValueError(
                f"“{original}” has no month {month} when read {_ORDER_WORDS[order]}: the file "
                "may not be in the date order chosen."
            )
        raise ValueError(f"“{original}” is not a date.")
    valid = {d for d in readings.values() if d is not None}
    if not valid:
        raise ValueError(f"“{original}” is not a date.")
    if len(valid) > 1:
        raise AmbiguousDate(
            f"“{original}” could be {_ORDER_WORDS[MDY]} or {_ORDER_WORDS[DMY]}: choose the date "
            "order of this file."
        )
    return valid.pop()


def _worded_date(original: str, date_text: str, latest: int) -> date:
    words = [w for w in re.split(r"[\s,./\-]+", _fold(date_text)) if w and w != "de"]
    months = _month_names()
    month = None
    numbers: list[str] = []
    for word in words:
        if word in months and month is None:
            month = months[word]
        elif word.isdigit():
            numbers.append(word)
        elif word.rstrip(".") in _weekday_names():
            continue
        elif re.fullmatch(r"\d{1,2}(st|nd|rd|th)", word):
            numbers.append(re.sub(r"\D", "", word))
        else:
            raise ValueError(f"“{original}” is not a date CareDesk can read.")
    if month is None or len(numbers) != 2:
        raise ValueError(f"“{original}” is not a date CareDesk can read.")
    if len(numbers[0]) == 4:  # "2020 Mar 4"
        year_text, day_text = numbers
    else:
        day_text, year_text = numbers
    year = int(year_text) if len(year_text) == 4 else full_year(int(year_text), latest)
    if len(year_text) not in (2, 4) or len(day_text) > 2:
        raise ValueError(f"“{original}” is not a date CareDesk can read.")
    return _date(original, year, month, int(day_text))


def parse_time(text: str) -> time:
    """A wall-clock time: "9:00", "09:00:00", "9:00 AM", "9am", "12:30 p.m.", "14h30", "0930"."""
    original = " ".join((text or "").split())
    found = _TIME.fullmatch(original)
    if found is None and (compact := _HHMM.fullmatch(original)):
        hour, minute, half = int(compact[1]), int(compact[2]), None
    elif found is not None:
        hour, minute, half = int(found[1]), int(found[2] or 0), (found[4] or "").lower()
        if found[2] is None and not half:
            raise ValueError(f"“{original}” is not a time (say 9:00 or 9:00 AM).")
    else:
        raise ValueError(f"“{original}” is not a time (say 9:00 or 9:00 AM).")
    if half:
        if not 1 <= hour <= 12:
            raise ValueError(f"“{original}” is not a time: there is no {hour} o'clock AM or PM.")
        hour = hour % 12 + (12 if half == "p" else 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"“{original}” is not a time of day.")
    return time(hour, minute)


# --- phones, e-mail -------------------------------------------------------------------------------


def parse_phone(text: str, region: str) -> str:
    """E.164 of a phone in any format (a number without a country code is in ``region``)."""
    original = " ".join((text or "").split())
    try:
        return normalise_phone(original, region)
    except ValueError:
        raise ValueError(f"“{original}” is not a phone number CareDesk can dial.") from None


def parse_email(text: str) -> str:
    """The e-mail address normalised (lower case), as patients' records keep it."""
    original = (text or "").strip()
    try:
        checked = validate_email(original, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"“{original}” is not an e-mail address: {exc}") from None
    return checked.normalized.casefold()


# --- money ---------------------------------------------------------------------------------------

_CREDIT_MARK = re.compile(r"^(?:cr\.?|credit)\s*|\s*(?:cr\.?|credit)$", re.IGNORECASE)
_DEBIT_MARK = re.compile(r"^(?:dr\.?|debit)\s*|\s*(?:dr\.?|debit)$", re.IGNORECASE)


def parse_money(text: str, locale: str) -> Decimal:
    """A signed amount: "$1,234.50", "-12", "(12.00)" and "12.00 CR" (a credit: negative),
    "12.00-" (accounting's trailing minus); the clinic's ``locale`` says which mark is the
    decimal one ("1.234,50" in a clinic that writes decimals with a comma; refused where it
    would be read the other way).  More than two decimal places are refused, unless only
    zeros ("12.5000")."""
    original = " ".join((text or "").split())
    if not original:
        raise ValueError("The amount is empty.")
    cleaned = original
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        cleaned, negative = cleaned[1:-1].strip(), True
    if _CREDIT_MARK.search(cleaned):
        cleaned, negative = _CREDIT_MARK.sub("", cleaned).strip(), not negative
    elif _DEBIT_MARK.search(cleaned):
        cleaned = _DEBIT_MARK.sub("", cleaned).strip()
    if cleaned.endswith(("-", "−")):
        cleaned, negative = cleaned[:-1].strip(), not negative
    if cleaned.startswith(("-", "−")):
        cleaned, negative = cleaned[1:].strip(), not negative
    elif cleaned.startswith("+"):
        cleaned = cleaned[1:].strip()
    cleaned = _drop_zero_places(cleaned, get_decimal_symbol(locale))
    try:
        amount = parse_typed_money(cleaned, locale, allow_negative=True)
    except ValueError as exc:
        raise ValueError(str(exc).replace(f"“{cleaned}”", f"“{original}”")) from None
    return -amount if negative else amount


def _drop_zero_places(text: str, decimal_mark: str) -> str:
    """ "12.5000" → "12.50": places beyond the cents that are all zeros lose nothing."""
    whole, mark, places = text.rpartition(decimal_mark)
    digits = re.match(r"\d+", places)
    if not mark or digits is None or len(digits[0]) <= 2:
        return text
    kept, dropped = digits[0][:2], digits[0][2:]
    if set(dropped) != {"0"}:
        return text
    return f"{whole}{mark}{kept}{places[len(digits[0]) :]}"


# --- yes/no, durations -------------------------------------------------------------------------

_YES = frozenset({"yes", "y", "true", "t", "1", "x", "✓", "✔", "checked", "on", "si", "sí", "ok"})
_NO = frozenset({"no", "n", "false", "f", "0", "off", "unchecked", "-"})


def parse_yes_no(text: str) -> bool | None:
    """True or False for a yes/no cell ("Yes", "Y", "1", "x", "TRUE" …); None when empty."""
    word = (text or "").strip().casefold()
    if not word:
        return None
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError(f"“{text.strip()}” is neither yes nor no.")


#: Open Dental's time pattern: one character per 5 minutes ("X" the provider's time, "/" an
#: assistant's), so "XXXX//" is 30 minutes.
PATTERN_MINUTES = 5
_PATTERN = re.compile(r"[X/|]+", re.IGNORECASE)
_HOURS_MINUTES = re.compile(
    r"(?:(\d+(?:[.,]\d+)?)\s*(?:h|hr|hrs|hour|hours)\.?)?\s*"
    r"(?:(\d+)\s*(?:m|min|mins|minute|minutes)\.?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> int:
    """Minutes of a length: "60", "60 min", "1:00", "1h", "1h 30m", "1.5 hours", or an Open
    Dental time pattern ("XXXX//" = 6 × 5 minutes)."""
    original = " ".join((text or "").split())
    if not original:
        raise ValueError("The length is empty.")
    minutes: Decimal | None = None
    if original.isdigit():
        minutes = Decimal(original)
    elif _PATTERN.fullmatch(original):
        minutes = Decimal(len(original) * PATTERN_MINUTES)
    elif found := re.fullmatch(r"(\d{1,2}):(\d{2})(?::00)?", original):
        minutes = Decimal(int(found[1]) * 60 + int(found[2]))
    elif (found := _HOURS_MINUTES.fullmatch(original)) and (found[1] or found[2]):
        hours = Decimal(found[1].replace(",", ".")) if found[1] else Decimal(0)
        minutes = hours * 60 + Decimal(found[2] or 0)
    if minutes is None:
        raise ValueError(f"“{original}” is not a length of time (say 60, 1:00 or 1h 30m).")
    if minutes != minutes.to_integral_value() or minutes <= 0:
        raise ValueError(f"“{original}” is not a whole number of minutes.")
    return int(minutes)


# --- country, language, sex ------------------------------------------------------------------


@cache
def _countries() -> dict[str, str]:
    names: dict[str, str] = {}
    for language in ("en", "es"):
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                names[_fold(name)] = code
                names[code.casefold()] = code
    names.update({"usa": "US", "u.s.a.": "US", "u.s.": "US", "uk": "GB", "england": "GB"})
    return names


def parse_country(text: str) -> str:
    """The two-letter code of a country given by code or (English or Spanish) name."""
    word = " ".join((text or "").split())
    code = _countries().get(_fold(word))
    if code is None:
        raise ValueError(f"“{word}” is not a country CareDesk knows (say US, CA, MX …).")
    return code


@cache
def _languages() -> dict[str, str]:
    names: dict[str, str] = {}
    for language in ("en", "es"):
        for code, name in Locale.parse(language).languages.items():
            if "_" not in code and len(code) <= 3:
                names[_fold(name)] = code
                names[code.casefold()] = code
    return names


def parse_language(text: str) -> str:
    """A language tag ("en", "es") of a language given by tag ("es-MX") or name ("Spanish")."""
    word = " ".join((text or "").split())
    folded = _fold(word)
    code = _languages().get(folded) or _languages().get(re.split(r"[-_]", folded)[0])
    if code is None:
        raise ValueError(f"“{word}” is not a language CareDesk knows (say English or es).")
    return code


_SEXES = {
    "f": Sex.FEMALE.value,
    "female": Sex.FEMALE.value,
    "woman": Sex.FEMALE.value,
    "w": Sex.FEMALE.value,
    "femenino": Sex.FEMALE.value,
    "mujer": Sex.FEMALE.value,
    "m": Sex.MALE.value,
    "male": Sex.MALE.value,
    "man": Sex.MALE.value,
    "masculino": Sex.MALE.value,
    "hombre": Sex.MALE.value,
    "h": Sex.MALE.value,
    "i": Sex.INTERSEX.value,
    "intersex": Sex.INTERSEX.value,
    "x": Sex.UNKNOWN.value,
    "u": Sex.UNKNOWN.value,
    "unknown": Sex.UNKNOWN.value,
    "other": Sex.UNKNOWN.value,
    "not given": Sex.UNKNOWN.value,
    "undisclosed": Sex.UNKNOWN.value,
}


def parse_sex(text: str) -> str:
    """One of the record's sexes from "F", "Female", "M", "Male", "X", "Unknown" …"""
    word = " ".join((text or "").split())
    sex = _SEXES.get(_fold(word))
    if sex is None:
        raise ValueError(f"“{word}” is not a sex CareDesk records (female, male, intersex …).")
    return sex
