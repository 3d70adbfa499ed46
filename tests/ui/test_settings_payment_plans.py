"""Settings → Payment plans: the highest APR a payment plan may charge."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from app.services.billing.plan_settings import (
    get_payment_plan_settings,
    update_payment_plan_settings,
)
from app.services.clinic.clinics import get_details
from app.ui import ops
from app.ui.settings.payment_plans_tab import PaymentPlansTab
from app.ui.settings.settings_page import SettingsPage


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def _make_tab(qtbot, ctx) -> PaymentPlansTab:
    widget = PaymentPlansTab(ctx)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    _settle(qtbot)
    return widget


@pytest.fixture
def tab(qtbot, owner_ctx) -> PaymentPlansTab:
    return _make_tab(qtbot, owner_ctx)


def _type(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def _cap(ctx) -> int:
    return get_payment_plan_settings(ctx.db, ctx.actor).max_apr_basis_points


def test_settings_page_has_the_tab_after_scheduling_for_the_owner_only(
    qtbot, owner_ctx, receptionist_ctx
):
    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    assert isinstance(page.tab("payment_plans"), PaymentPlansTab)
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert titles.index("Payment plans") == titles.index("Scheduling") + 1
    desk_page = SettingsPage(receptionist_ctx)
    qtbot.addWidget(desk_page)
    assert "payment_plans" not in desk_page.tab_widgets
    _settle(qtbot)


def test_loads_the_default_cap(tab):
    assert tab.isEnabled()
    assert tab.cap_edit.text() == "36"
    assert "legal limit" in tab.fields["max_apr_basis_points"].hint_label.text()
    assert not tab.save_button.isEnabled() and not tab.cancel_button.isEnabled()


def test_type_a_new_cap_and_save_with_ctrl_s(qtbot, tab, owner_ctx):
    published = []
    owner_ctx.bus.changed.connect(published.append)
    _type(qtbot, tab.cap_edit, "17.99")
    assert tab.save_button.isEnabled()
    qtbot.keyClick(tab.cap_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tab.status_label.text() == "✓ Saved.")
    _settle(qtbot)
    assert _cap(owner_ctx) == 1799
    assert tab.cap_edit.text() == "17.99"
    assert not tab.save_button.isEnabled()
    assert published and published[-1].clinic and published[-1].plans


def test_enter_saves_too_and_zero_is_allowed(qtbot, tab, owner_ctx):
    _type(qtbot, tab.cap_edit, "0")
    qtbot.keyClick(tab.cap_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: tab.status_label.text() == "✓ Saved.")
    assert _cap(owner_ctx) == 0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("thirty", "Type it like 9.9"),
        ("", "is missing. Type a yearly rate from 0 to 100"),
        ("-5", "cannot be negative"),
        ("150", "cannot be more than 100.00 %"),
        ("9.999", "two decimal places"),
    ],
)
def test_bad_text_shows_an_inline_error_and_saves_nothing(qtbot, tab, owner_ctx, text, words):
    before = get_payment_plan_settings(owner_ctx.db, owner_ctx.actor)
    _type(qtbot, tab.cap_edit, text)
    if not text:
        qtbot.keyClick(tab.cap_edit, Qt.Key.Key_Delete)
    assert tab.save_button.isEnabled()
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert words in tab.fields["max_apr_basis_points"].error()
    assert get_payment_plan_settings(owner_ctx.db, owner_ctx.actor) == before
    assert tab.save_button.isEnabled()  # the user can fix it and try again
    _type(qtbot, tab.cap_edit, "24")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert tab.fields["max_apr_basis_points"].error() == ""
    assert _cap(owner_ctx) == 2400


def test_spanish_clinic_types_a_comma(qtbot, clinic, owner_ctx):
    owner_ctx.details = replace(get_details(clinic.db), locale="es_ES", currency="EUR")
    tab = _make_tab(qtbot, owner_ctx)
    _type(qtbot, tab.cap_edit, "9,9")
    qtbot.keyClick(tab.cap_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tab.status_label.text() == "✓ Saved.")
    assert _cap(owner_ctx) == 990
    assert tab.cap_edit.text() == "9,9"
    _type(qtbot, tab.cap_edit, "treinta")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert "9,9" in tab.fields["max_apr_basis_points"].error()


def test_undo_changes_restores_the_saved_value(qtbot, tab):
    _type(qtbot, tab.cap_edit, "12")
    qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert tab.cap_edit.text() == "36"
    assert not tab.save_button.isEnabled()


def test_a_change_saved_elsewhere_is_picked_up(qtbot, tab, owner_ctx):
    from app.services.changes import Changes

    current = get_payment_plan_settings(owner_ctx.db, owner_ctx.actor)
    update_payment_plan_settings(
        owner_ctx.db, owner_ctx.actor, replace(current, max_apr_basis_points=2000)
    )
    owner_ctx.bus.publish(Changes(clinic=True))
    qtbot.waitUntil(lambda: tab.cap_edit.text() == "20")
    _settle(qtbot)
    # The reloaded version is the current one: the next save is not refused as stale.
    _type(qtbot, tab.cap_edit, "18")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.status_label.text() == "✓ Saved.")
    assert _cap(owner_ctx) == 1800


def test_a_stale_save_is_explained(qtbot, tab, owner_ctx, monkeypatch):
    warnings = []
    monkeypatch.setattr(
        "app.ui.settings.form_tab.show_warning", lambda parent, text: warnings.append(text)
    )
    current = get_payment_plan_settings(owner_ctx.db, owner_ctx.actor)
    update_payment_plan_settings(
        owner_ctx.db, owner_ctx.actor, replace(current, max_apr_basis_points=2000)
    )  # another workstation; no bus message reaches this one
    _type(qtbot, tab.cap_edit, "18")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(warnings))
    assert "another workstation" in warnings[0]
    assert _cap(owner_ctx) == 2000
