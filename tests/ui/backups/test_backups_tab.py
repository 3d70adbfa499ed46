"""Settings → Backups driven as the owner would: a folder typed (or browsed to) and saved,
a folder that is not there refused beside its field, Back up now making checked backups in
it that the list then shows, a damaged backup's check failing by name, and the status with
its warnings at the top."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.services.backups import archive, schedule
from app.ui.settings import backups_tab
from app.ui.settings.backups_tab import BackupsTab
from tests.ui.backups.conftest import settle, use_folder
from tests.ui.conftest import save_styled_shot


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def _tab(qtbot, ctx) -> BackupsTab:
    tab = BackupsTab(ctx)
    qtbot.addWidget(tab)
    tab.resize(1120, 640)
    tab.show()
    qtbot.waitExposed(tab)
    settle(qtbot)
    assert tab.isEnabled()
    return tab


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_a_folder_browsed_to_and_named_is_saved(qtbot, owner_ctx, usb, monkeypatch):
    tab = _tab(qtbot, owner_ctx)
    asked: list[str] = []

    def ask(parent, start):
        asked.append(start)
        return str(usb)

    monkeypatch.setattr(backups_tab, "ask_folder", ask)
    _click(qtbot, tab.browse_button)
    assert asked == [""] and tab.folder_edit.text() == str(usb)
    _type(qtbot, tab.label_edit, "USB disk")
    _type(qtbot, tab.every_spin.lineEdit(), "30")
    qtbot.keyClick(tab.hours_check, Qt.Key.Key_Space)  # off: around the clock
    _type(qtbot, tab.keep_spins["keep_daily"].lineEdit(), "30")
    _click(qtbot, tab.save_button)
    settle(qtbot)

    saved = schedule.backup_config(owner_ctx.db, owner_ctx.actor)
    assert (saved.folder, saved.folder_label) == (str(usb), "USB disk")
    assert (saved.every_minutes, saved.opening_hours_only, saved.keep_daily) == (30, False, 30)
    assert tab.status_label.text() == "✓ Saved." and not tab.save_button.isEnabled()
    # No backup off this PC yet: the status says so, in the warning style.
    assert tab.headline_label.text() == "No verified backup yet."
    assert any("no backup off this PC yet" in w for w in tab.warnings.texts())


def test_a_folder_that_is_not_there_is_refused_and_nothing_is_saved(qtbot, owner_ctx, tmp_path):
    tab = _tab(qtbot, owner_ctx)
    missing = tmp_path / "unplugged"
    _type(qtbot, tab.folder_edit, str(missing))
    _click(qtbot, tab.save_button)
    settle(qtbot)

    error = tab.fields["folder"].error()
    assert error == f"The backup folder {missing} is not there (is the disk plugged in?)."
    assert tab.folder_edit.text() == str(missing)  # the typing is kept
    assert schedule.backup_config(owner_ctx.db, owner_ctx.actor).folder == ""
    # A relative folder: its own sentence.
    _type(qtbot, tab.folder_edit, "backups")
    _click(qtbot, tab.save_button)
    settle(qtbot)
    assert tab.fields["folder"].error().startswith("Choose the backup folder with Browse…")


def test_back_up_now_makes_checked_backups_and_the_list_shows_them(qtbot, owner_ctx, usb):
    use_folder(owner_ctx, usb)
    tab = _tab(qtbot, owner_ctx)
    assert tab.list_stack.currentWidget() is tab.empty_label
    assert tab.empty_label.text() == backups_tab.NO_BACKUPS

    _click(qtbot, tab.back_up_button)
    assert tab.busy and tab.busy_bar.isVisible() and not tab.back_up_button.isEnabled()
    settle(qtbot)

    [made] = [p for p in usb.iterdir() if p.suffix == ".caredesk"]
    assert archive.verify_backup(made, owner_ctx.clinic.key).ok
    assert tab.result_label.text() == (
        f"Backed up and checked on this PC and in USB disk: {made.name}."
    )
    assert f"verified in USB disk ({made})" in tab.result_label.toolTip()
    assert not tab.busy and tab.back_up_button.isEnabled()
    lines = tab.model.lines()
    assert {line.where for line in lines} == {"this PC", "USB disk"}
    assert {line.path.name for line in lines} == {made.name}
    assert tab.list_stack.currentWidget() is tab.table
    row = [tab.model.index(0, c).data() for c in range(tab.model.columnCount())]
    assert row[1] == "By hand" and row[4] == "0012" and row[6] == made.name
    assert row[3].endswith(("KB", "MB")) and int(row[5].replace(",", "")) > 0
    assert tab.headline_label.text().startswith("Last verified backup: today ")
    assert tab.headline_label.text().endswith("(USB disk)")
    assert tab.warnings.texts() == []
    save_styled_shot(qtbot, tab, "settings-backups-tab.png")


def test_verify_names_the_damage_of_a_damaged_backup(qtbot, owner_ctx, usb):
    use_folder(owner_ctx, usb)
    report = schedule.back_up(owner_ctx.db, owner_ctx.clinic.key, owner_ctx.actor, reason="manual")
    damaged = report.places[1].backup
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    tab = _tab(qtbot, owner_ctx)

    good = next(i for i, line in enumerate(tab.model.lines()) if line.where == "this PC")
    tab.table.selectRow(good)
    _click(qtbot, tab.verify_button)
    settle(qtbot)
    assert tab.result_label.text().startswith(f"✓ {damaged.name} is good: ")

    bad = next(i for i, line in enumerate(tab.model.lines()) if line.where == "USB disk")
    tab.table.selectRow(bad)
    _click(qtbot, tab.verify_button)
    settle(qtbot)
    text = tab.result_label.text()
    assert text.startswith(f"{damaged.name} failed its check: ")
    assert "SHA-256 differs" in text


def test_the_list_is_a_proper_model(qtbot, qtmodeltester, owner_ctx, usb):
    use_folder(owner_ctx, usb)
    schedule.back_up(owner_ctx.db, owner_ctx.clinic.key, owner_ctx.actor, reason="manual")
    (usb / "clinic-20260101-000000-automatic.caredesk").write_bytes(b"x" * 4096)  # no manifest
    tab = _tab(qtbot, owner_ctx)
    qtmodeltester.check(tab.model)
    unreadable = [line for line in tab.model.lines() if line.problem]
    assert len(unreadable) == 1 and "manifest" in unreadable[0].problem
    row = tab.model.lines().index(unreadable[0])
    assert tab.model.index(row, 1).data() == "Unreadable"
    assert "cannot be used" in tab.model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_the_tab_sits_after_messages_and_opens_by_name(qtbot, owner_ctx):
    from app.ui.settings.settings_page import SettingsPage

    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert titles.index("Backups") == titles.index("Messages") + 1
    page.show_part("backups")  # Today's "Backups…"
    assert page.tabs.currentWidget() is page.tab("backups")
    settle(qtbot)


def test_a_backup_that_fails_in_the_folder_says_so_in_red(qtbot, owner_ctx, usb):
    use_folder(owner_ctx, usb)
    tab = _tab(qtbot, owner_ctx)
    usb.rmdir()  # the USB disk pulled out after it was chosen
    _click(qtbot, tab.back_up_button)
    settle(qtbot)
    text = tab.result_label.text()
    assert text.startswith("Backed up and checked on this PC: ")
    assert f"FAILED in USB disk: The backup folder {usb} is not there" in text
    assert "#b3261e" in tab.result_label.styleSheet()
    assert tab.warnings.texts()[0].startswith("The last backup failed (USB disk): ")
    assert [line.where for line in tab.model.lines()] == ["this PC"]


@pytest.fixture(autouse=True)
def _no_real_folder_dialog(monkeypatch):
    def refuse(*_args):
        raise AssertionError("a real folder dialog was opened")

    monkeypatch.setattr(backups_tab.QFileDialog, "getExistingDirectory", refuse)
