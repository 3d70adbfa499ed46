"""Fixtures for service tests."""

from datetime import date

import pytest

from app.services.clinic.clock import clinic_today
from tests.data.factories import add_named_patient


@pytest.fixture
def patient_id(clinic) -> int:
    """One patient on file, written straight to the database."""
    return add_named_patient(clinic.db)


@pytest.fixture
def clinic_day(clinic) -> date:
    """The clinic's calendar day as the test starts: the day on its wall clock, which the
    services' date rules go by (not the UTC day, already tomorrow on a New York evening)."""
    with clinic.db.uow() as session:
        return clinic_today(session)
