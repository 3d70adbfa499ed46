"""Fixtures every test shares: offscreen Qt, an in-memory keyring, a fresh encrypted clinic."""

from __future__ import annotations

import os

# Before anything imports Qt: render offscreen, never on a real screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from app.data.keys import MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user-data folder: nothing touches the real one."""
    folder = tmp_path / "userdata"
    monkeypatch.setenv("CAREDESK_DATA_DIR", str(folder))
    monkeypatch.delenv("CAREDESK_PASSPHRASE", raising=False)
    return folder


OWNER_PASSWORD = "correct horse battery staple"
STAFF_PASSWORD = "violet-lantern-harbour-42"


@pytest.fixture
def clinic_details():
    from app.services.clinic.clinics import ClinicDetails

    return ClinicDetails(
        name="Bayside Dental",
        timezone="America/New_York",
        locale="en_US",
        currency="USD",
        address_line1="12 Harbour Road",
        city="Portland",
        region="ME",
        postal_code="04101",
        phone="(207) 555-0142",
        email="desk@bayside.example",
    )


@pytest.fixture
def clinic(tmp_path: Path, clinic_details):
    """A freshly created encrypted clinic with one owner (username ``owner``)."""
    from app.services.clinic.clinics import create_clinic

    opened = create_clinic(
        tmp_path / "clinic.caredesk", clinic_details, "owner", "Olivia Owner", OWNER_PASSWORD
    )
    yield opened
    opened.db.close()


@pytest.fixture
def owner(clinic):
    from app.services.clinic import auth

    return auth.login(clinic.db, "owner", OWNER_PASSWORD)


@pytest.fixture
def make_staff(clinic, owner):
    """Create a staff member with a role and return their signed-in Actor."""
    from app.services.clinic import auth, staff

    def make(username: str, role: str, full_name: str | None = None):
        staff.create_staff(
            clinic.db, owner, username, full_name or username.title(), role, STAFF_PASSWORD
        )
        return auth.login(clinic.db, username, STAFF_PASSWORD)

    return make
