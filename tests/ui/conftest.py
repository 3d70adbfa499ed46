"""UI fixtures: a real encrypted clinic in tmp_path, signed-in contexts, isolated QSettings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from PySide6.QtWidgets import QApplication

from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.services.clinic.clinics import ClinicDetails, OpenClinic, get_details
from app.ui import ops
from app.ui.context import UiContext
from app.ui.garbage import collect_on_gui_thread
from tests.conftest import ClinicTemplates

OWNER_PASSWORD = "harbour lights 2031 tea"
STAFF_PASSWORD = "blue tulips on friday 9"

DETAILS = ClinicDetails(
    name="Harbour Dental Care",
    timezone="America/New_York",
    locale="en_US",
    currency="USD",
    address_line1="120 Harbour Street",
    city="Portland",
    region="ME",
    postal_code="04101",
    country="US",
    phone="(207) 555-0142",
    email="desk@harbourdental.example",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The offscreen platform plugin warns that it cannot raise windows, grab the keyboard
    # for a popup or propagate size hints; on a real desktop these work. Nothing else is
    # ignored: any other Qt warning still fails the test.
    for item in items:
        if "tests/ui/" in item.nodeid:
            item.add_marker(pytest.mark.qt_log_ignore(r"^This plugin does not support "))


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collector(qapp) -> Iterator[None]:
    """Cycles are collected on the GUI thread only, as in CareDesk (app.ui.garbage): a
    cycle holding a widget, collected on an ops worker, crashes the process.

    In the UI tests the collection runs at the end of each test, after ``drain_ops`` has
    deleted the test's windows — not on the timer in the middle of another test.  Freed by
    a collection instead, a window has its Python attributes cleared before Qt takes it
    apart, and its overrides (a model's ``headerData``, the patient picker's event filter)
    failed in whichever test was running then.  ``tests/ui/test_garbage.py`` runs the timer.
    """
    collector = collect_on_gui_thread(qapp)
    collector.pause()
    yield
    collector.stop()


@pytest.fixture(autouse=True)
def isolated_qsettings(qapp, tmp_path: Path) -> Iterator[None]:
    """QSettings (window geometry) go to tmp_path, never to the real user profile."""
    qapp.setOrganizationName("CareDesk")
    qapp.setApplicationName("CareDesk")
    folder = str(tmp_path / "qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)
    yield


@pytest.fixture(autouse=True)
def drain_ops(qtbot) -> Iterator[None]:
    """No background operation outlives its test (its database is about to close), and no
    window it made either.  A window left open (not given to qtbot) would be freed by a
    later test's cycle collection, which clears its Python attributes before Qt takes it
    apart — its models' ``headerData`` then failed in that later test."""
    yield
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    for window in QApplication.topLevelWidgets():
        if window.parent() is None and shiboken6.ownedByPython(window):
            window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def clinic(tmp_path: Path, clinic_templates: ClinicTemplates) -> Iterator[OpenClinic]:
    opened = clinic_templates.copy(
        tmp_path / "clinic.caredesk", DETAILS, "olivia", "Olivia Owner", OWNER_PASSWORD
    )
    yield opened
    from app.ui.backups.worker import wait_for_backups
    from app.ui.messages.sender import wait_for_network

    wait_for_network()  # a background sender's run never outlives its test's database
    wait_for_backups()  # nor a backup, or a check of one
    ops.wait_for_done()
    opened.db.close()


@pytest.fixture
def receptionist(clinic: OpenClinic):
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    return staff.create_staff(
        clinic.db, owner, "rita", "Rita Reception", Role.RECEPTIONIST, STAFF_PASSWORD
    )


def make_context(clinic: OpenClinic, username: str, password: str) -> UiContext:
    actor = auth.login(clinic.db, username, password)
    return UiContext(clinic, actor, get_details(clinic.db))


@pytest.fixture
def owner_ctx(clinic: OpenClinic) -> UiContext:
    return make_context(clinic, "olivia", OWNER_PASSWORD)


@pytest.fixture
def receptionist_ctx(clinic: OpenClinic, receptionist) -> UiContext:
    return make_context(clinic, "rita", STAFF_PASSWORD)


def save_styled_shot(qtbot, widget, name: str) -> None:
    """With CAREDESK_SHOTS=FOLDER set, save ``widget`` as FOLDER/``name`` under CareDesk's
    own style sheet (the tests run unstyled), for the README's screenshots; else nothing."""
    import os

    folder = os.environ.get("CAREDESK_SHOTS")
    if not folder:
        return
    from app.ui.application import application_style

    QApplication.instance().setStyleSheet(application_style())
    try:
        qtbot.wait(50)
        widget.grab().save(os.path.join(folder, name))
    finally:
        QApplication.instance().setStyleSheet("")
