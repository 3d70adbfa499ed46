"""A payment plan's first installment falls due one period after the down payment's day."""

from __future__ import annotations

from datetime import date

import pytest

from app.services.billing import payment_plans as pp


@pytest.mark.parametrize(
    ("frequency", "plan_date", "first_due"),
    [
        ("monthly", date(2027, 3, 10), date(2027, 4, 10)),
        ("monthly", date(2027, 1, 31), date(2027, 2, 28)),  # a short month clamps
        ("monthly", date(2027, 12, 15), date(2028, 1, 15)),
        ("biweekly", date(2027, 3, 10), date(2027, 3, 24)),
        ("weekly", date(2027, 3, 10), date(2027, 3, 17)),
        ("custom", date(2027, 3, 10), date(2027, 4, 10)),  # a suggestion; dates are typed
    ],
)
def test_the_first_installment_is_one_period_after_the_plan_date(frequency, plan_date, first_due):
    assert pp.default_first_due_on(frequency, plan_date) == first_due
