"""Settings → Payment plans: the clinic's legal APR cap — read, save, refusals, who may."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.payments import Frequency
from app.data.models.staff import Role
from app.services.billing import payment_plans
from app.services.billing.installments import ScheduleTerms, build_schedule
from app.services.billing.plan_settings import (
    PaymentPlanSettings,
    format_cap,
    get_payment_plan_settings,
    parse_cap,
    update_payment_plan_settings,
)
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError


def test_defaults_are_36_percent(clinic, owner):
    current = get_payment_plan_settings(clinic.db, owner)
    assert current.max_apr_basis_points == 3600
    assert current.version >= 1


def test_save_and_read_back_and_audit(clinic, owner):
    current = get_payment_plan_settings(clinic.db, owner)
    saved = update_payment_plan_settings(
        clinic.db, owner, replace(current, max_apr_basis_points=1799)
    )
    assert saved == PaymentPlanSettings(max_apr_basis_points=1799, version=current.version + 1)
    assert get_payment_plan_settings(clinic.db, owner) == saved
    with clinic.db.uow() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "clinic_settings")
        ).all()
        assert any("max_apr_basis_points" in entry.fields for entry in entries)
        assert entries[-1].staff_id == owner.staff_id


@pytest.mark.parametrize("cap", [0, 1, 3600, 10000])
def test_every_cap_from_0_to_100_percent_is_accepted(clinic, owner, cap):
    current = get_payment_plan_settings(clinic.db, owner)
    saved = update_payment_plan_settings(
        clinic.db, owner, replace(current, max_apr_basis_points=cap)
    )
    assert saved.max_apr_basis_points == cap


def test_saving_the_same_value_does_not_bump_the_version(clinic, owner):
    current = get_payment_plan_settings(clinic.db, owner)
    assert update_payment_plan_settings(clinic.db, owner, current) == current


@pytest.mark.parametrize(
    ("cap", "words"),
    [
        (-1, "cannot be negative"),
        (10001, "cannot be more than 100.00 %"),
        (250000, "cannot be more than 100.00 %"),
        (Decimal("36"), "whole number of basis points"),
        (36.0, "whole number of basis points"),
        (True, "whole number of basis points"),
    ],
)
def test_bad_caps_are_refused_and_nothing_saved(clinic, owner, cap, words):
    current = get_payment_plan_settings(clinic.db, owner)
    with pytest.raises(ValidationError) as caught:
        update_payment_plan_settings(clinic.db, owner, replace(current, max_apr_basis_points=cap))
    assert caught.value.field == "max_apr_basis_points"
    assert words in str(caught.value)
    assert str(caught.value).endswith(".")
    assert get_payment_plan_settings(clinic.db, owner) == current


def test_a_stale_copy_is_refused(clinic, owner):
    current = get_payment_plan_settings(clinic.db, owner)
    update_payment_plan_settings(clinic.db, owner, replace(current, max_apr_basis_points=2400))
    with pytest.raises(ConcurrentEditError):
        update_payment_plan_settings(clinic.db, owner, replace(current, max_apr_basis_points=1200))
    assert get_payment_plan_settings(clinic.db, owner).max_apr_basis_points == 2400


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.COORDINATOR, Role.PROVIDER])
def test_only_the_owner_reads_or_changes_the_cap(clinic, owner, make_staff, role):
    staff = make_staff(f"{role.value}1", role.value)
    current = get_payment_plan_settings(clinic.db, owner)
    with pytest.raises(PermissionDeniedError):
        get_payment_plan_settings(clinic.db, staff)
    with pytest.raises(PermissionDeniedError):
        update_payment_plan_settings(clinic.db, staff, replace(current, max_apr_basis_points=0))
    assert get_payment_plan_settings(clinic.db, owner) == current


def test_a_lower_cap_reaches_payment_plans_and_schedules(clinic, owner, make_staff):
    current = get_payment_plan_settings(clinic.db, owner)
    update_payment_plan_settings(clinic.db, owner, replace(current, max_apr_basis_points=1200))
    coordinator = make_staff("cora", Role.COORDINATOR.value)
    cap = payment_plans.plan_settings(clinic.db, coordinator).max_apr_basis_points
    assert cap == 1200
    terms = ScheduleTerms(
        total_amount=Decimal("4800.00"),
        down_payment=Decimal("300.00"),
        installment_count=12,
        frequency=Frequency.MONTHLY,
        first_due_on=date(2027, 1, 31),
        plan_date=date(2026, 12, 1),
        apr_basis_points=1500,
    )
    with pytest.raises(ValidationError) as caught:
        build_schedule(terms, max_apr_basis_points=cap)
    assert caught.value.field == "apr"
    assert "12.00 %" in str(caught.value) and "15.00 %" in str(caught.value)
    # At the cap itself the schedule is built.
    at_cap = build_schedule(replace(terms, apr_basis_points=1200), max_apr_basis_points=cap)
    assert at_cap.total_interest > 0


# --- what the owner types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("36", "en_US", 3600),
        ("9.9", "en_US", 990),
        ("9.9 %", "en_US", 990),
        ("  17.99 ", "en_US", 1799),
        ("9,9", "es_ES", 990),
        ("0", "en_US", 0),
        ("100", "en_US", 10000),
    ],
)
def test_parse_cap_reads_a_percentage(text, locale, expected):
    assert parse_cap(text, locale) == expected


@pytest.mark.parametrize(
    ("text", "locale", "words"),
    [
        ("", "en_US", "is missing. Type a yearly rate from 0 to 100, like 36 or 9.9"),
        ("  % ", "en_US", "is missing"),
        ("-5", "en_US", "cannot be negative. Type a yearly rate"),
        ("thirty", "en_US", "Type it like 9.9"),
        ("thirty", "es_ES", "Type it like 9,9"),
        ("9.999", "en_US", "two decimal places"),
        ("101", "en_US", "cannot be more than 100.00 %"),
    ],
)
def test_parse_cap_says_what_to_type(text, locale, words):
    with pytest.raises(ValidationError) as caught:
        parse_cap(text, locale)
    assert caught.value.field == "max_apr_basis_points"
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("basis_points", "locale", "text"),
    [(3600, "en_US", "36"), (990, "en_US", "9.9"), (995, "es_ES", "9,95"), (0, "en_US", "0")],
)
def test_format_cap_round_trips(basis_points, locale, text):
    assert format_cap(basis_points, locale) == text
    assert parse_cap(text, locale) == basis_points
