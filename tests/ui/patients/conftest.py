"""Fixtures for the Patients area: more roles and a patient with a little history."""

from __future__ import annotations

import pytest

from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.ui.context import UiContext
from tests.data.factories import add_named_patient
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context


def _staff_context(clinic, username: str, full_name: str, role: Role) -> UiContext:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, username, full_name, role, STAFF_PASSWORD)
    return make_context(clinic, username, STAFF_PASSWORD)


@pytest.fixture
def coordinator_ctx(clinic) -> UiContext:
    return _staff_context(clinic, "cora", "Cora Coordinator", Role.COORDINATOR)


@pytest.fixture
def provider_ctx(clinic) -> UiContext:
    return _staff_context(clinic, "paul", "Dr Paul Provider", Role.PROVIDER)


@pytest.fixture
def patient_id(clinic) -> int:
    """Zoë Nguyễn, on file (written straight to the database)."""
    return add_named_patient(clinic.db)
