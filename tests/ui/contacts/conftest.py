"""Fixtures for the contacts windows: a coordinator signed in, a few contacts in the
directory, a way to answer a modal dialog as a person would, and picking a contact from a
ContactPicker by typing (shared with other windows' tests through :func:`pick_contact`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.services.contacts import directory
from app.services.contacts.directory import ContactForm
from app.ui.context import UiContext
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

WAIT_MS = 30_000


@pytest.fixture
def coordinator_ctx(clinic) -> UiContext:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(
        clinic.db, owner, "cora", "Cora Coordinator", Role.COORDINATOR, STAFF_PASSWORD
    )
    return make_context(clinic, "cora", STAFF_PASSWORD)


def add(ctx: UiContext, kind: str, organization: str, **values) -> int:
    form = ContactForm(kind=kind, organization=organization, **values)
    return directory.add_contact(ctx.db, ctx.actor, form, allow_duplicate=True).id


@pytest.fixture
def contacts(coordinator_ctx) -> dict[str, int]:
    ctx = coordinator_ctx
    return {
        "delta": add(ctx, "payer", "Delta Dental", phone="512 555 0100", payer_id="94276"),
        "aetna": add(ctx, "payer", "Aetna Dental", phone="512 555 0101"),
        "ortiz": add(
            ctx,
            "specialist",
            "Hill Country Oral Surgery",
            name="Dr. Maya Ortiz",
            specialty="Oral surgery",
            phone="512 555 0142",
        ),
        "lab": add(ctx, "lab", "Austin Dental Lab", phone="512 555 0177", city="Round Rock"),
    }


@pytest.fixture
def answer(qtbot, monkeypatch) -> Callable:
    """``answer(DialogClass, fill)``: the next time the app runs that dialog, it is shown,
    ``fill(dialog)`` types into it and presses its button as a person would, and the app
    carries on once the dialog closed — with what was saved, as after ``exec()``."""
    seen: list[QDialog] = []

    def patch(cls, fill: Callable[[QDialog], None], method: str = "run") -> list[QDialog]:
        """``method``: how the app shows the dialog — WriteDialog's ``run`` (True when
        accepted) or QDialog's ``exec`` (the dialog code)."""

        def run(dialog):
            dialog.show()
            qtbot.waitExposed(dialog)
            seen.append(dialog)
            fill(dialog)
            qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
            code = dialog.result()
            if method == "run":
                dialog.deleteLater()
                return code == QDialog.DialogCode.Accepted
            return code

        monkeypatch.setattr(cls, method, run)
        return seen

    return patch


def pick_contact(qtbot, picker, typed: str, contact_id: int) -> None:
    """Type ``typed`` into the picker, wait for the list, choose ``contact_id`` with the
    arrow keys and Enter, as a person would."""
    from app.ui.contacts.picker import ID_ROLE

    picker.line_edit.setFocus()
    qtbot.keyClicks(picker.line_edit, typed)
    popup = picker.completer.popup()
    model = picker.completer.completionModel()

    def listed() -> int | None:
        for row in range(model.rowCount()):
            if model.index(row, 0).data(ID_ROLE) == contact_id:
                return row
        return None

    qtbot.waitUntil(lambda: popup.isVisible() and listed() is not None, timeout=WAIT_MS)
    popup.setCurrentIndex(model.index(listed(), 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: picker.contact_id() == contact_id, timeout=WAIT_MS)
