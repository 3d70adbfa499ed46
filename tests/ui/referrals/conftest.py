"""Fixtures for the referral windows: a coordinator and a provider signed in, a patient with
two stored documents, a specialist and a referring dentist in the directory, and a way to
answer a modal dialog as a person would (fill it in, press its button) without its loop."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PySide6.QtWidgets import QDialog
from reportlab.pdfgen import canvas

from app.data.models.contacts import Contact
from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.ui.context import UiContext
from tests.data.factories import add_named_patient, add_provider
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

WAIT_MS = 30_000


def pdf_bytes(text: str, pages: int = 1) -> bytes:
    """A real PDF with ``text`` on each page (what a scanner or fax gateway sends)."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for n in range(pages):
        page.drawString(72, 720, f"{text} (page {n + 1})")
        page.showPage()
    page.save()
    return buffer.getvalue()


def add_contact(db, **values) -> int:
    fields = {
        "kind": "specialist",
        "name": "Dr. Ann Lee",
        "organisation": "Lee Oral Surgery",
        "specialty": "Oral surgeon",
        "city": "Portland",
        "region": "ME",
        "phone": "+12075550100",
        "fax": "+12075550198",
    }
    fields.update(values)
    with db.uow() as session:
        contact = Contact(**fields)
        session.add(contact)
        session.flush()
        return contact.id


def _signed_in(clinic, username: str, full_name: str, role: Role) -> UiContext:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, username, full_name, role, STAFF_PASSWORD)
    return make_context(clinic, username, STAFF_PASSWORD)


@pytest.fixture
def coordinator_ctx(clinic) -> UiContext:
    return _signed_in(clinic, "cora", "Cora Coordinator", Role.COORDINATOR)


@pytest.fixture
def provider_ctx(clinic) -> UiContext:
    """Dr Daniel Okafor: a provider who signs in (he acknowledges specialists' reports)."""
    ctx = _signed_in(clinic, "drokafor", "Daniel Okafor", Role.PROVIDER)
    with clinic.db.uow() as session:
        add_provider(session, name="Daniel Okafor", staff_id=ctx.actor.staff_id)
    return ctx


@pytest.fixture
def patient_id(clinic) -> int:
    return add_named_patient(clinic.db)


@pytest.fixture
def specialist_id(clinic) -> int:
    return add_contact(clinic.db)


@pytest.fixture
def referrer_id(clinic) -> int:
    return add_contact(
        clinic.db,
        kind="referring_provider",
        name="Dr. Maria Ruiz",
        organisation="Ruiz Family Dentistry",
        specialty="General dentist",
    )


@pytest.fixture
def answer(qtbot, monkeypatch) -> Callable:
    """``answer(DialogClass, fill)``: the next time the app runs that dialog, it is shown,
    ``fill(dialog)`` types into it and presses its button as a person would, and the app
    carries on once the dialog closed — with what was saved, as after ``exec()``."""
    seen: list[QDialog] = []

    def patch(cls, fill: Callable[[QDialog], None]) -> list[QDialog]:
        def run(dialog) -> bool:
            dialog.show()
            qtbot.waitExposed(dialog)
            seen.append(dialog)
            fill(dialog)
            qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
            accepted = dialog.result() == QDialog.DialogCode.Accepted
            dialog.deleteLater()
            return accepted

        monkeypatch.setattr(cls, "run", run)
        return seen

    return patch
