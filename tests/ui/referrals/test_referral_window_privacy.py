"""A referral window shows a patient's details: the screen lock hides it with the record
windows (and brings it back), and signing out closes it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.services.referrals import referrals as rs
from app.ui import ops
from app.ui.main_window import MainWindow
from app.ui.referrals.referral_window import open_referral_window, referral_windows_of
from tests.ui.conftest import STAFF_PASSWORD
from tests.ui.referrals.conftest import WAIT_MS


@pytest.fixture
def window(qtbot, coordinator_ctx) -> MainWindow:
    main = MainWindow(coordinator_ctx)
    qtbot.addWidget(main)
    main.start()
    qtbot.waitExposed(main)
    return main


@pytest.fixture
def referral_window(qtbot, window, patient_id, specialist_id):
    ctx = window.ctx
    line = rs.create_outgoing(
        ctx.db, ctx.actor, patient_id=patient_id, contact_id=specialist_id, provider_id=None,
        reason="Implant",
    )  # fmt: skip
    shown = open_referral_window(ctx, line.id)
    qtbot.waitExposed(shown)
    yield shown
    for leftover in referral_windows_of(ctx):
        leftover.close()
    ops.wait_for_done()


def test_the_lock_hides_a_referral_window_and_unlocking_brings_it_back(
    qtbot, window, referral_window
) -> None:
    with qtbot.waitSignal(window.screen_lock.locked, timeout=5_000):
        window.screen_lock.lock(idle=True)
    assert not referral_window.isVisible()

    login = window.screen_lock.overlay.login
    login.username_edit.clear()
    qtbot.keyClicks(login.username_edit, window.ctx.actor.username)
    qtbot.keyClicks(login.password_edit, STAFF_PASSWORD)
    with qtbot.waitSignal(window.screen_lock.unlocked, timeout=WAIT_MS):
        qtbot.keyClick(login.password_edit, Qt.Key.Key_Return)
    assert referral_window.isVisible()


def test_signing_out_closes_the_referral_windows(qtbot, window, referral_window) -> None:
    with qtbot.waitSignal(window.signed_out, timeout=5_000):
        window.on_sign_out_triggered()
    assert not referral_window.isVisible()
