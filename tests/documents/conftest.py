"""Sample clinic data shared by the document tests."""

from __future__ import annotations

import pytest

from app.documents.common import ClinicLetterhead


@pytest.fixture
def letterhead() -> ClinicLetterhead:
    return ClinicLetterhead(
        name="Clínica Dental Muñoz",
        address_lines=("1450 Calle Ocho, Suite 210", "Miami, FL 33135"),
        phone="(305) 555-0142",
        email="frontdesk@munoz-dental.example",
        privacy_line="Confidential. If found, return to Clínica Dental Muñoz.",
        paper_size="letter",
        locale="en_US",
        timezone="America/New_York",
    )
