"""Fixtures for service tests."""

import pytest

from tests.data.factories import add_named_patient


@pytest.fixture
def patient_id(clinic) -> int:
    """One patient on file, written straight to the database."""
    return add_named_patient(clinic.db)
