"""Settings → Staff accounts: the model, and creating/deactivating through the real services."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from PySide6.QtCore import Qt

from app.data.models.staff import Role
from app.services.clinic import auth
from app.services.clinic.staff import StaffRow, list_staff
from app.services.errors import AccountLockedError, LoginFailedError
from app.ui import ops
from app.ui.settings.staff import StaffDialog, StaffFormValues, StaffTab, StaffTableModel

from .conftest import STAFF_PASSWORD


def test_staff_model_passes_the_model_tester(qtmodeltester):
    model = StaffTableModel()
    model.set_rows(
        [
            StaffRow(1, "olivia", "Olivia Owner", Role.OWNER, True, False, True, None),
            StaffRow(
                2,
                "rita",
                "Rita Reception",
                Role.RECEPTIONIST,
                True,
                True,
                False,
                datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
            ),
            StaffRow(3, "paul", "Paul Former", Role.PROVIDER, False, False, False, None),
        ]
    )
    qtmodeltester.check(model)
    assert model.data(model.index(1, 3)) == "Locked out"
    assert model.data(model.index(2, 3)) == "Inactive"
    assert model.data(model.index(0, 5)) == "Never"


def make_tab(qtbot, ctx) -> StaffTab:
    tab = StaffTab(ctx)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=10_000)
    return tab


def test_create_account_through_the_dialog(qtbot, owner_ctx, monkeypatch):
    tab = make_tab(qtbot, owner_ctx)
    answers = iter(
        [
            StaffFormValues("Carla Coordinator", "carla", Role.COORDINATOR, False, "short"),
            StaffFormValues("Carla Coordinator", "carla", Role.COORDINATOR, False, STAFF_PASSWORD),
        ]
    )
    errors: list[str] = []

    def ask(cls, parent, *, editing, initial=None, error=None):
        if error is not None:
            errors.append(f"{error.field}: {error}")
            assert initial.username == "carla"  # what was typed comes back
        return next(answers)

    monkeypatch.setattr(StaffDialog, "ask", classmethod(ask))
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=10_000)
    assert errors == ["password: The password must be at least 12 characters long."]
    names = [tab.model.data(tab.model.index(r, 0)) for r in range(tab.model.rowCount())]
    assert "Carla Coordinator" in names
    assert auth.login(owner_ctx.db, "carla", STAFF_PASSWORD).role == Role.COORDINATOR


def test_deactivate_and_unlock(qtbot, clinic, owner_ctx, receptionist):
    for _ in range(5):
        with contextlib.suppress(LoginFailedError, AccountLockedError):
            auth.login(clinic.db, "rita", "wrong wrong wrong")
    tab = make_tab(qtbot, owner_ctx)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2)
    tab.select_id(receptionist.id)
    assert tab.unlock_button.isEnabled()
    with qtbot.waitSignal(tab.model.modelReset, timeout=10_000):
        qtbot.mouseClick(tab.unlock_button, Qt.MouseButton.LeftButton)
    assert auth.login(clinic.db, "rita", STAFF_PASSWORD).username == "rita"

    tab.select_id(receptionist.id)
    assert tab.active_button.text().replace("&", "") == "Deactivate"
    with qtbot.waitSignal(tab.model.modelReset, timeout=10_000):
        qtbot.mouseClick(tab.active_button, Qt.MouseButton.LeftButton)
    row = next(r for r in list_staff(clinic.db, owner_ctx.actor) if r.id == receptionist.id)
    assert not row.is_active
    assert "can no longer sign in" in tab.message_label.text()
    ops.wait_for_done()


def test_staff_dialog_keyboard(qtbot):
    dialog = StaffDialog(None, editing=False)
    qtbot.addWidget(dialog)
    dialog.set_values(StaffFormValues())
    dialog.open()
    qtbot.keyClicks(dialog.full_name_edit, "New Person")
    dialog.password_edit.setText("one password here")
    dialog.confirm_edit.setText("another password")
    qtbot.keyClick(dialog.confirm_edit, Qt.Key.Key_Return)  # Enter = the default button
    assert dialog.isVisible()
    assert dialog.fields["confirm"].error() == "The two passwords are not the same."
