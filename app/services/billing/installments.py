"""Payment plan schedules: due dates and amounts, with or without interest.

Pure functions of the terms: no database, no Qt.  The payment plan window's
preview, ``caredesk plans quote`` and the saved plan all come from
:func:`build_schedule`, so what the patient was shown is what is stored.

Rules: every amount goes through :func:`app.money.round_money`; without interest
the installments are equal and the last absorbs the rounding; with interest the
schedule is a standard amortisation (fixed payment, interest on the remaining
balance each period) and the last row takes whatever balance is left, so the
principal parts always add up to the amount financed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, localcontext

from babel import Locale
from babel import numbers as babel_numbers
from dateutil.relativedelta import relativedelta

from app.data.models.payments import Frequency
from app.money import round_money
from app.services.errors import ValidationError

ZERO = Decimal("0.00")
MAX_INSTALLMENTS = 360
DEFAULT_MAX_APR_BASIS_POINTS = 3600

#: Periods per year of each regular frequency (custom dates have none: no interest).
PERIODS_PER_YEAR = {Frequency.WEEKLY: 52, Frequency.BIWEEKLY: 26, Frequency.MONTHLY: 12}
_DAYS_APART = {Frequency.WEEKLY: 7, Frequency.BIWEEKLY: 14}


@dataclass(frozen=True)
class ScheduleTerms:
    """What the patient agrees to.  Give ``installment_count`` or ``installment_amount``."""

    total_amount: Decimal
    frequency: Frequency
    first_due_on: date
    plan_date: date
    down_payment: Decimal = ZERO
    installment_count: int | None = None
    installment_amount: Decimal | None = None
    custom_due_dates: tuple[date, ...] = ()
    #: 990 = 9.90 % a year; 0 = no interest.
    apr_basis_points: int = 0
    currency: str = "USD"


@dataclass(frozen=True)
class ScheduleRow:
    sequence: int
    due_on: date
    amount: Decimal
    principal: Decimal
    interest: Decimal
    #: Principal still owed once this installment is paid.
    balance_after: Decimal


@dataclass(frozen=True)
class Schedule:
    terms: ScheduleTerms
    rows: tuple[ScheduleRow, ...]
    financed: Decimal
    total_interest: Decimal
    total_of_payments: Decimal
    #: The amount of every installment but (possibly) the last.
    regular_payment: Decimal

    @property
    def installment_count(self) -> int:
        return len(self.rows)

    @property
    def last_due_on(self) -> date:
        return self.rows[-1].due_on


# --- input -------------------------------------------------------------------------------------


def format_apr(basis_points: int) -> str:
    """990 → "9.90 %" (for sentences; the UI formats with the clinic locale)."""
    return f"{Decimal(basis_points) / 100:.2f} %"


def parse_apr(text: str, locale: str | Locale = "en_US") -> int:
    """What a person typed as an annual rate ("9.9", "9,9" in es, "9.9 %") → basis points.

    Empty means no interest (0).  Raises :class:`ValidationError` (field ``apr``)."""
    original = (text or "").strip()
    cleaned = original.replace("%", "").replace("\u00a0", "").strip()
    if not cleaned:
        return 0
    example = babel_numbers.format_decimal(Decimal("9.9"), locale=locale)
    if cleaned.startswith(("-", "−")):
        raise ValidationError("The APR cannot be negative.", field="apr")
    if not re.fullmatch(r"[0-9.,]+", cleaned):
        raise ValidationError(f"“{original}” is not a rate. Type it like {example}.", field="apr")
    try:
        value = babel_numbers.parse_decimal(cleaned, locale=locale, strict=True)
    except babel_numbers.NumberFormatError:
        raise ValidationError(
            f"“{original}” is not a rate. Type it like {example}.", field="apr"
        ) from None
    basis_points = value * 100
    if basis_points != basis_points.to_integral_value():
        raise ValidationError(
            "The APR can have at most two decimal places (for example 9.95).", field="apr"
        )
    return int(basis_points)


def _check_money(value: Decimal, field: str, label: str, *, allow_zero: bool) -> None:
    if isinstance(value, float) or not isinstance(value, Decimal | int):
        raise ValidationError(f"{label} must be an amount.", field=field)
    value = Decimal(value)
    if not value.is_finite():
        raise ValidationError(f"{label} must be an amount.", field=field)
    if value < 0:
        raise ValidationError(f"{label} cannot be negative.", field=field)
    if value == 0 and not allow_zero:
        raise ValidationError(f"{label} must be more than zero.", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValidationError(f"{label} can have at most two decimal places.", field=field)


def validate_terms(terms: ScheduleTerms, *, max_apr_basis_points: int) -> None:
    """Refuse terms no schedule can be built from, with the sentence the user sees."""
    _check_money(terms.total_amount, "total_amount", "The total amount", allow_zero=False)
    _check_money(terms.down_payment, "down_payment", "The down payment", allow_zero=True)
    if terms.down_payment >= terms.total_amount:
        raise ValidationError(
            "The down payment must be less than the total amount; "
            "nothing would be left to pay in installments.",
            field="down_payment",
        )
    try:
        frequency = Frequency(terms.frequency)
    except ValueError:
        raise ValidationError("Choose how often installments are due.", field="frequency") from None
    if (terms.installment_count is None) == (terms.installment_amount is None):
        raise ValidationError(
            "Give either the number of installments or the installment amount.",
            field="installment_count",
        )
    financed = terms.total_amount - terms.down_payment
    if terms.installment_count is not None:
        count = terms.installment_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(
                "The number of installments must be 1 or more.", field="installment_count"
            )
        if count > MAX_INSTALLMENTS:
            raise ValidationError(
                f"A plan can have at most {MAX_INSTALLMENTS} installments.",
                field="installment_count",
            )
    else:
        amount = terms.installment_amount
        _check_money(amount, "installment_amount", "The installment amount", allow_zero=False)
        if amount > financed:
            raise ValidationError(
                f"The installment amount ({amount}) is larger than the balance to finance "
                f"({financed}).",
                field="installment_amount",
            )
    apr = terms.apr_basis_points
    if isinstance(apr, bool) or not isinstance(apr, int):
        raise ValidationError("The APR must be a number.", field="apr")
    if apr < 0:
        raise ValidationError("The APR cannot be negative.", field="apr")
    if apr > max_apr_basis_points:
        raise ValidationError(
            f"The APR of {format_apr(apr)} is above the clinic's legal cap of "
            f"{format_apr(max_apr_basis_points)}.",
            field="apr",
        )
    if frequency is Frequency.CUSTOM:
        _validate_custom_dates(terms)
        if apr:
            raise ValidationError(
                "Interest needs a regular schedule (weekly, every two weeks or monthly); "
                "custom due dates cannot carry an APR.",
                field="apr",
            )
    elif terms.first_due_on < terms.plan_date:
        raise ValidationError(
            "The first due date cannot be before the plan date.", field="first_due_on"
        )


def _validate_custom_dates(terms: ScheduleTerms) -> None:
    dates = terms.custom_due_dates
    if not dates:
        raise ValidationError("Add the due dates of the installments.", field="custom_due_dates")
    if len(dates) > MAX_INSTALLMENTS:
        raise ValidationError(
            f"A plan can have at most {MAX_INSTALLMENTS} installments.", field="custom_due_dates"
        )
    if dates[0] < terms.plan_date:
        raise ValidationError(
            "A due date cannot be before the plan date.", field="custom_due_dates"
        )
    for earlier, later in itertools.pairwise(dates):
        if later <= earlier:
            raise ValidationError(
                "Custom due dates must be in order, each after the one before.",
                field="custom_due_dates",
            )
    if terms.installment_count is not None and terms.installment_count != len(dates):
        raise ValidationError(
            f"There are {len(dates)} custom due dates for {terms.installment_count} "
            "installments; give one date per installment.",
            field="custom_due_dates",
        )


# --- dates -------------------------------------------------------------------------------------


def due_dates(
    frequency: Frequency, first_due_on: date, count: int, custom: tuple[date, ...] = ()
) -> list[date]:
    """The ``count`` due dates of a schedule.

    Monthly dates are counted from the first date (first + n months), so the day
    clamps to short months and comes back: 31 Jan → 28 Feb → 31 Mar."""
    frequency = Frequency(frequency)
    if frequency is Frequency.CUSTOM:
        return list(custom[:count])
    if frequency is Frequency.MONTHLY:
        return [first_due_on + relativedelta(months=n) for n in range(count)]
    step = timedelta(days=_DAYS_APART[frequency])
    return [first_due_on + step * n for n in range(count)]


# --- amounts -----------------------------------------------------------------------------------


def _too_small(count: int) -> ValidationError:
    return ValidationError(
        f"The amount to finance is too small to split into {count} installments.",
        field="installment_count",
    )


def _equal_amounts(financed: Decimal, terms: ScheduleTerms) -> list[tuple[Decimal, Decimal]]:
    """(principal, interest) per installment without interest."""
    currency = terms.currency
    if terms.installment_amount is not None:
        each = Decimal(terms.installment_amount)
        count = int((financed / each).to_integral_value(rounding=ROUND_CEILING))
        if terms.frequency == Frequency.CUSTOM and count != len(terms.custom_due_dates):
            raise ValidationError(
                f"That installment amount needs {count} installments, but "
                f"{len(terms.custom_due_dates)} due dates are given.",
                field="custom_due_dates",
            )
    else:
        count = terms.installment_count or len(terms.custom_due_dates)
        each = round_money(financed / count, currency)
        if financed - each * (count - 1) <= 0:
            # Rounded up, the regular amount pays it all before the last due date (63.07
            # in 120: 0.53 × 119 = 63.07); rounded down, the last one takes the cents.
            each = round_money(financed / count, currency, rounding=ROUND_DOWN)
    if count > MAX_INSTALLMENTS:
        raise ValidationError(
            f"That installment amount would need {count} installments; "
            f"a plan can have at most {MAX_INSTALLMENTS}.",
            field="installment_amount",
        )
    last = financed - each * (count - 1)
    if each <= 0 or last <= 0:
        raise _too_small(count)
    return [(each, ZERO)] * (count - 1) + [(last, ZERO)]


def _amortised(financed: Decimal, terms: ScheduleTerms) -> list[tuple[Decimal, Decimal]]:
    """(principal, interest) per installment of a fixed-payment amortisation."""
    currency = terms.currency
    rate = Decimal(terms.apr_basis_points) / Decimal(10000) / PERIODS_PER_YEAR[terms.frequency]
    if terms.installment_amount is not None:
        payment = Decimal(terms.installment_amount)
        first_interest = round_money(financed * rate, currency)
        if payment <= first_interest:
            raise ValidationError(
                f"An installment of {payment} does not even cover the first period's "
                f"interest ({first_interest}); the plan would never be paid off.",
                field="installment_amount",
            )
        return _pay_down(financed, rate, payment, MAX_INSTALLMENTS, terms)
    count = terms.installment_count
    exact = financed * rate / (1 - (1 + rate) ** -count)
    parts = _pay_down(financed, rate, round_money(exact, currency), count, terms)
    if len(parts) < count:
        # Rounded up to the cent, the payment pays the plan off before the count asked for
        # ($63.07 in 120 weekly at 0.01%: 0.53 × 119 rows); rounded down it never does,
        # and the last row takes the cents.
        parts = _pay_down(
            financed, rate, round_money(exact, currency, rounding=ROUND_DOWN), count, terms
        )
    return parts


def _pay_down(
    financed: Decimal, rate: Decimal, payment: Decimal, count_limit: int, terms: ScheduleTerms
) -> list[tuple[Decimal, Decimal]]:
    """Rows of ``payment`` (interest on the balance first) until the balance is paid, the
    row at ``count_limit`` taking whatever is left."""
    parts: list[tuple[Decimal, Decimal]] = []
    balance = financed
    while balance > 0:
        if len(parts) == count_limit:
            if terms.installment_amount is not None:
                raise ValidationError(
                    f"That installment amount would need more than {MAX_INSTALLMENTS} "
                    "installments; make it larger.",
                    field="installment_amount",
                )
            raise _too_small(count_limit)  # pragma: no cover - the last row always closes it
        interest = round_money(balance * rate, terms.currency)
        principal = payment - interest
        is_last = len(parts) + 1 == count_limit or principal >= balance
        if is_last:
            principal = balance
        elif principal <= 0:
            raise _too_small(count_limit)
        parts.append((principal, interest))
        balance -= principal
    return parts


def build_schedule(
    terms: ScheduleTerms, *, max_apr_basis_points: int = DEFAULT_MAX_APR_BASIS_POINTS
) -> Schedule:
    """The schedule for ``terms``: due dates, amounts split into principal and interest,
    and the remaining principal after each row.  Refuses bad terms with a sentence."""
    validate_terms(terms, max_apr_basis_points=max_apr_basis_points)
    frequency = Frequency(terms.frequency)
    with localcontext() as context:
        context.prec = 50
        # Inputs have at most two places (validated): quantizing only normalises "4500".
        financed = (Decimal(terms.total_amount) - Decimal(terms.down_payment)).quantize(
            Decimal("0.01")
        )
        if terms.apr_basis_points:
            parts = _amortised(financed, terms)
        else:
            parts = _equal_amounts(financed, terms)
    first = terms.custom_due_dates[0] if frequency is Frequency.CUSTOM else terms.first_due_on
    dates = due_dates(frequency, first, len(parts), terms.custom_due_dates)
    rows = []
    balance = financed
    for sequence, ((principal, interest), due_on) in enumerate(zip(parts, dates, strict=True), 1):
        balance -= principal
        rows.append(
            ScheduleRow(
                sequence=sequence,
                due_on=due_on,
                amount=principal + interest,
                principal=principal,
                interest=interest,
                balance_after=balance,
            )
        )
    total_interest = sum((row.interest for row in rows), ZERO)
    return Schedule(
        terms=terms,
        rows=tuple(rows),
        financed=financed,
        total_interest=total_interest,
        total_of_payments=financed + total_interest,
        regular_payment=rows[0].amount,
    )
