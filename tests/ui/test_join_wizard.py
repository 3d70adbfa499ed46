"""The setup wizard's "Join the clinic's server": against a server set up as `caredesk server
setup` does (TLS, the clinic's own CA), a PC joins with the join code — starting the clinic
when the server holds none, or opening the one it holds — and a bad code or password is
named on the page, with what was typed kept."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWizard

from app.data.server import PASSWORD_ENV, find_password
from app.ui import ops
from app.ui.setup_wizard import CLINIC, JOIN, SUMMARY, WELCOME, SetupWizard
from tests import pg_cluster
from tests.ui.conftest import save_styled_shot
from tests.ui.test_setup_wizard import fill_clinic_page, fill_owner_page


@pytest.fixture(scope="module")
def clinic_server():
    """A cluster of this module's own, set up for the name 127.0.0.1."""
    with pg_cluster.own_cluster() as cluster:
        yield pg_cluster.set_up_clinic_server(cluster, app_password="pc-password-1234")


@pytest.fixture(autouse=True)
def _no_password_from_the_environment(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


@pytest.fixture
def wizard(qtbot, tmp_path):
    w = SetupWizard(tmp_path / "clinic.caredesk")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def click(qtbot, w: SetupWizard, which=QWizard.WizardButton.NextButton) -> None:
    qtbot.mouseClick(w.button(which), Qt.MouseButton.LeftButton)


def go_to_join_page(qtbot, w: SetupWizard) -> None:
    assert w.currentId() == WELCOME
    save_styled_shot(qtbot, w, "join-wizard-welcome.png")
    radio = w.welcome_page.join_radio  # clicked on its round button, as a person would
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(8, radio.height() // 2))
    assert radio.isChecked()
    click(qtbot, w)
    assert w.currentId() == JOIN
    assert w.button(QWizard.WizardButton.NextButton).text().replace("&", "") == "Join"


def type_code(qtbot, w: SetupWizard, code: str, password: str) -> None:
    page = w.join_page
    qtbot.keyClicks(page.code_edit, code)
    qtbot.keyClicks(page.password_edit, password)


def test_a_mistyped_join_code_is_named_and_what_was_typed_stays(qtbot, wizard, clinic_server):
    go_to_join_page(qtbot, wizard)
    code = clinic_server.join_code
    broken = code[:-3] + ("A" if code[-3] != "A" else "B") + code[-2:]
    type_code(qtbot, wizard, broken, "pc-password-1234")
    click(qtbot, wizard)
    page = wizard.join_page
    qtbot.waitUntil(lambda: page.error_label.isVisible(), timeout=10_000)
    assert "typing mistake" in page.error_label.text()
    assert wizard.currentId() == JOIN and page.code_edit.text() == broken
    save_styled_shot(qtbot, wizard, "join-wizard-mistyped.png")
    assert wizard.clinic is None and wizard.server_address is None


def test_a_wrong_password_is_named_and_not_kept(qtbot, wizard, clinic_server):
    go_to_join_page(qtbot, wizard)
    type_code(qtbot, wizard, clinic_server.join_code, "not the password")
    click(qtbot, wizard)
    page = wizard.join_page
    qtbot.waitUntil(lambda: page.error_label.isVisible(), timeout=10_000)
    assert "did not accept the user name" in page.error_label.text()
    with pytest.raises(Exception, match="No password is stored"):
        find_password(clinic_server.app_address)


def test_the_first_pc_starts_the_clinic_on_the_server_and_the_next_pc_opens_it(
    qtbot, wizard, clinic_server, tmp_path
):
    go_to_join_page(qtbot, wizard)
    type_code(qtbot, wizard, clinic_server.join_code, "pc-password-1234")
    save_styled_shot(qtbot, wizard, "join-wizard.png")
    click(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.currentId() == CLINIC, timeout=15_000)  # an empty server
    assert find_password(wizard.server_address) == "pc-password-1234"
    assert wizard.server_address.sslmode == "verify-full" and wizard.server_address.ca_file
    fill_clinic_page(qtbot, wizard)
    click(qtbot, wizard)
    fill_owner_page(qtbot, wizard)
    click(qtbot, wizard)
    assert wizard.currentId() == SUMMARY  # no passphrase page: the server holds no key of ours
    assert "the clinic server at 127.0.0.1" in wizard.summary_page.summary_label.text()
    create = wizard.button(QWizard.WizardButton.FinishButton)
    assert create.text().replace("&", "") == "Create clinic"
    with qtbot.waitSignal(wizard.finished, timeout=20_000):
        qtbot.mouseClick(create, Qt.MouseButton.LeftButton)
    first = wizard.clinic
    assert first.server is not None and first.path is None
    ops.wait_for_done()
    first.db.close()

    # The next PC joins the same server and finds the clinic there: the wizard ends at once.
    second = SetupWizard(tmp_path / "other.caredesk")
    qtbot.addWidget(second)
    second.show()
    go_to_join_page(qtbot, second)
    type_code(qtbot, second, clinic_server.join_code, "pc-password-1234")
    with qtbot.waitSignal(second.finished, timeout=15_000):
        click(qtbot, second)
    opened = second.clinic
    from app.services.clinic.clinics import get_details

    assert get_details(opened.db).name == "Harbour Dental Care"
    ops.wait_for_done()
    opened.db.close()
