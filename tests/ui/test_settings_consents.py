"""Settings → Consent forms: the templates, editing per language, save as a version, refusal."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.services.patients.consents import consent_versions
from app.ui import ops
from app.ui.settings.consents_tab import ConsentsTab
from app.ui.settings.settings_page import SettingsPage


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def _make_tab(qtbot, ctx) -> ConsentsTab:
    widget = ConsentsTab(ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    qtbot.waitExposed(widget)
    _settle(qtbot)
    return widget


def _select(qtbot, tab: ConsentsTab, key: str) -> None:
    row = [tab.model.row_at(i).key for i in range(tab.model.rowCount())].index(key)
    tab.table.selectRow(row)
    _settle(qtbot)


def test_the_tab_follows_payment_plans_for_the_owner_only(qtbot, owner_ctx, receptionist_ctx):
    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    assert isinstance(page.tab("consents"), ConsentsTab)
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert titles.index("Consent forms") == titles.index("Payment plans") + 1
    desk_page = SettingsPage(receptionist_ctx)
    qtbot.addWidget(desk_page)
    assert "consents" not in desk_page.tab_widgets
    _settle(qtbot)


def test_lists_the_starter_set_and_shows_each_language(qtbot, owner_ctx):
    tab = _make_tab(qtbot, owner_ctx)
    assert tab.isEnabled()
    assert tab.model.rowCount() == 5
    _select(qtbot, tab, "laser")
    assert tab.title_edit.text() == "Consent for laser treatment"
    assert tab.history_model.rowCount() == 1
    tab.language_combo.setCurrentIndex(1)
    _settle(qtbot)
    assert tab.title_edit.text().startswith("Consentimiento para tratamiento con láser")
    assert not tab.save_button.isEnabled()


def test_edit_and_save_creates_a_version_and_keeps_the_old(qtbot, owner_ctx):
    tab = _make_tab(qtbot, owner_ctx)
    _select(qtbot, tab, "financial_policy")
    tab.body_edit.setFocus()
    tab.body_edit.selectAll()
    qtbot.keyClicks(tab.body_edit, "Payment is due at each visit, {patient_name}.")
    assert tab.save_button.isEnabled()
    qtbot.keyClick(tab.body_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tab.status_label.text() == "✓ Saved as version 2.")
    _settle(qtbot)
    versions = consent_versions(owner_ctx.db, owner_ctx.actor, "financial_policy", "en")
    assert [v.version for v in versions] == [2, 1]
    assert versions[0].body == "Payment is due at each visit, {patient_name}."
    assert tab.history_model.rowCount() == 2
    assert not tab.save_button.isEnabled()
    # The old wording stays readable in the history.
    tab.history_table.selectRow(1)
    assert "Thank you for choosing {clinic_name}" in tab.history_view.toPlainText()
    assert tab.history_view.isReadOnly()


def test_an_unknown_placeholder_is_refused_inline_naming_it(qtbot, owner_ctx):
    tab = _make_tab(qtbot, owner_ctx)
    _select(qtbot, tab, "laser")
    tab.title_edit.selectAll()
    qtbot.keyClicks(tab.title_edit, "Laser consent for {patient}")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    error = tab.fields["title"].error()
    assert "{patient}" in error and "unknown placeholder" in error
    assert tab.fields["title"].error_label.isVisible()
    assert tab.fields["body"].error() == ""
    versions = consent_versions(owner_ctx.db, owner_ctx.actor, "laser", "en")
    assert len(versions) == 1  # nothing saved
