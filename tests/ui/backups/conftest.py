"""Helpers for the backups' UI tests: waiting for the backups' thread as for the workers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.services.backups import schedule
from app.ui import ops
from app.ui.backups.worker import backup_pending, wait_for_backups
from app.ui.messages.sender import network_pending, wait_for_network


def settle(qtbot) -> None:
    """Every worker idle and every callback run: reads, writes, backups."""
    for _ in range(3):  # a callback may start the next piece of work
        wait_for_backups()
        wait_for_network()
        ops.wait_for_done()
        qtbot.waitUntil(
            lambda: ops.pending() == 0 and backup_pending() == 0 and network_pending() == 0,
            timeout=20_000,
        )


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    """The owner's backup folder (a folder of the test's own, standing for a USB disk)."""
    folder = tmp_path / "usb-disk"
    folder.mkdir()
    return folder


def use_folder(ctx, folder: Path, label: str = "USB disk") -> None:
    form = schedule.backup_config(ctx.db, ctx.actor)
    schedule.save_backup_settings(
        ctx.db, ctx.actor, replace(form, folder=str(folder), folder_label=label)
    )
