"""Money rules in one place: Decimal only, explicit rounding, never float.

Amounts are stored as integer hundredths (see ``app.data.types.Money``).  Every
amount that comes out of arithmetic (interest, discounts, percentages) goes
through :func:`round_money` before it is stored or shown.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

#: The database keeps two decimal places for every currency (cents, pence, centavos).
STORED_PLACES = 2
ZERO = Decimal("0.00")


def round_money(
    amount: Decimal | int | str, currency: str = "USD", *, rounding: str = ROUND_HALF_UP
) -> Decimal:
    """Round half-up (or as ``rounding`` says) to the currency's minor unit (2 places for
    USD/EUR, 0 for JPY)."""
    if isinstance(amount, float):
        raise TypeError("money must never be a float; pass a Decimal or a string")
    places = min(get_currency_precision(currency), STORED_PLACES)
    exponent = Decimal(1).scaleb(-places)
    return Decimal(amount).quantize(exponent, rounding=rounding).quantize(Decimal("0.01"))


def to_minor_units(amount: Decimal) -> int:
    """Decimal → integer hundredths; refuses amounts that would need rounding."""
    if isinstance(amount, float):
        raise TypeError("money must never be a float; pass a Decimal")
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has more than {STORED_PLACES} decimal places")
    return int(cents)


def from_minor_units(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


#: The largest amount one entry may hold: far beyond any clinic's invoice, well inside what
#: cents in a 64-bit integer (and Decimal's 28 digits) keep exactly.
MAX_AMOUNT = Decimal("99999999.99")
