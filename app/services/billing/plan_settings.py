"""The clinic's payment plan settings: the legal cap on a plan's APR.

``ClinicSettings.max_apr_basis_points`` (3600 = 36 %) is what
:func:`app.services.billing.payment_plans.plan_settings` and every schedule the clinic builds
refuse an APR above.  The owner reads and changes it in Settings → Payment plans;
plans already signed keep the APR they were signed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel import Locale
from babel import numbers as babel_numbers

from app.data.database import Database
from app.data.models.clinic import ClinicSettings
from app.services.billing.installments import format_apr, parse_apr
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, ValidationError

#: 100 % a year, in basis points: the highest cap the form accepts.
MAX_CAP_BASIS_POINTS = 10000
FIELD = "max_apr_basis_points"


@dataclass(frozen=True)
class PaymentPlanSettings:
    #: The highest APR a payment plan may charge, in basis points (3600 = 36 %).
    max_apr_basis_points: int
    version: int


# --- text ------------------------------------------------------------------------------------


def format_cap(basis_points: int, locale: str | Locale = "en_US") -> str:
    """3600 → "36", 995 → "9.95" ("9,95" in es): the number as the form shows it."""
    return babel_numbers.format_decimal(Decimal(basis_points) / 100, locale=locale)


def _how_to_type(locale: str | Locale) -> str:
    example = babel_numbers.format_decimal(Decimal("9.9"), locale=locale)
    return f"Type a yearly rate from 0 to 100, like 36 or {example} (0 allows no interest)."


def parse_cap(text: str, locale: str | Locale = "en_US") -> int:
    """What the owner typed as the cap ("36", "9.9", "9,9" in es, "9.9 %") → basis points.

    Unlike a plan's APR, an empty box is not read as 0 (that would forbid all interest by
    accident).  Raises :class:`ValidationError` on field ``max_apr_basis_points``."""
    cleaned = (text or "").replace("%", "").strip()
    if not cleaned:
        raise ValidationError(
            f"The highest APR allowed is missing. {_how_to_type(locale)}", field=FIELD
        )
    if cleaned.startswith(("-", "−")):
        raise ValidationError(
            f"The highest APR allowed cannot be negative. {_how_to_type(locale)}", field=FIELD
        )
    try:
        basis_points = parse_apr(text, locale)
    except ValidationError as exc:  # its sentence already says what to type
        raise ValidationError(str(exc), field=FIELD) from None
    validate_cap(basis_points, locale)
    return basis_points


# --- rules -----------------------------------------------------------------------------------


def validate_cap(basis_points: int, locale: str | Locale = "en_US") -> None:
    """Refuse a cap outside 0–100 % with the sentence the owner sees."""
    if isinstance(basis_points, bool) or not isinstance(basis_points, int):
        raise ValidationError(
            "The highest APR allowed must be a whole number of basis points (3600 for 36 %).",
            field=FIELD,
        )
    if basis_points < 0:
        raise ValidationError(
            f"The highest APR allowed cannot be negative. {_how_to_type(locale)}", field=FIELD
        )
    if basis_points > MAX_CAP_BASIS_POINTS:
        raise ValidationError(
            f"The highest APR allowed cannot be more than {format_apr(MAX_CAP_BASIS_POINTS)} "
            f"a year ({format_apr(basis_points)} was given). {_how_to_type(locale)}",
            field=FIELD,
        )


def validate_payment_plan_settings(settings: PaymentPlanSettings) -> None:
    """Raise the first problem, with its field."""
    validate_cap(settings.max_apr_basis_points)


# --- reads and writes ------------------------------------------------------------------------


def _settings_of(row: ClinicSettings) -> PaymentPlanSettings:
    return PaymentPlanSettings(max_apr_basis_points=row.max_apr_basis_points, version=row.version)


def get_payment_plan_settings(db: Database, actor: Actor) -> PaymentPlanSettings:
    """The APR cap as Settings → Payment plans edits it (owner only).

    Everyone else reads the cap through :func:`app.services.billing.payment_plans.plan_settings`."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    with reading(db, actor) as session:
        return _settings_of(clinic_settings(session))


def update_payment_plan_settings(
    db: Database, actor: Actor, settings: PaymentPlanSettings
) -> PaymentPlanSettings:
    """Save the APR cap (owner only); a stale copy is refused."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    validate_payment_plan_settings(settings)
    with unit_of_work(db, actor) as session:
        row = clinic_settings(session)
        if row.version != settings.version:
            raise ConcurrentEditError("The clinic's settings")
        assign_changed(row, {"max_apr_basis_points": settings.max_apr_basis_points})
        session.flush()
        return _settings_of(row)
