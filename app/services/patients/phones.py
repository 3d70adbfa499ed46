"""Phone numbers: what staff type, turned into E.164 for storage, and stored numbers shown in
their country's national format."""

from __future__ import annotations

import functools

import phonenumbers


def normalise_phone(text: str, region: str) -> str:
    """E.164 for a phone typed in any format; ValueError when it is not a phone number."""
    try:
        number = phonenumbers.parse(text, region or "US")
    except phonenumbers.NumberParseException:
        raise ValueError(text) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)  # a search list shows the same numbers over and over
def display_phone(e164: str) -> str:
    """A stored E.164 number in its country's national format ("(512) 555-0123")."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
