"""On a clinic server only the PC holding the server backup key makes backups: another PC
neither makes automatic ones (each failure would be recorded, and would count as the last
run, holding back the PC that can) nor records a failure for "Back up now" — it says which
PC does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt

from app.services.backups import schedule
from app.services.clinic import auth
from app.services.clinic.clinics import get_details
from app.ui import ops
from app.ui.backups.scheduler import BackupScheduler
from app.ui.context import UiContext
from app.ui.settings.backups_tab import BackupsTab
from tests.ui.backups.conftest import settle
from tests.ui.conftest import DETAILS, OWNER_PASSWORD

MONDAY_10AM = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def server_ctx(pg_cluster, server_clinic_templates):
    opened = server_clinic_templates.copy(DETAILS, "olivia", "Olivia Owner", OWNER_PASSWORD)
    owner = auth.login(opened.db, "olivia", OWNER_PASSWORD)
    ctx = UiContext(opened, owner, get_details(opened.db))
    yield ctx
    ctx.bus.close()
    ops.wait_for_done()
    server_clinic_templates.drop(opened)


def test_a_pc_without_the_server_backup_key_makes_no_backup(qtbot, server_ctx, frozen_clock):
    frozen_clock(MONDAY_10AM)
    scheduler = BackupScheduler(server_ctx, interval_ms=3_600_000)
    scheduler.start(first_check_ms=3_600_000)
    scheduler.on_timer_timeout()
    settle(qtbot)
    assert scheduler.runs == 0 and not scheduler.running
    scheduler.stop()

    tab = BackupsTab(server_ctx)
    qtbot.addWidget(tab)
    tab.show()
    settle(qtbot)
    qtbot.mouseClick(tab.back_up_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert tab.result_label.text() == schedule.NO_SERVER_KEY
    assert schedule.last_run_at(server_ctx.db) is None  # nothing recorded on any PC
    assert any("No PC backs the clinic server up yet" in w for w in tab.warnings.texts())
