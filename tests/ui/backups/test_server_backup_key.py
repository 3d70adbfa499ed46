"""Settings → Backups on a clinic server: the tab says which PC makes the backups; "Make the
backups on this PC…" asks first, makes the server backup key on this PC and offers its
recovery kit; the PC holding the key prints that kit again — on a real PostgreSQL server."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.clock import utc_now
from app.data.models.audit import AuditEntry
from app.data.models.backups import BackupOutcome, BackupRun, BackupWhere
from app.services.backups.server_dump import server_backup_key
from app.services.clinic import auth
from app.services.clinic.audit import AuditAction
from app.services.clinic.clinics import get_details
from app.ui import ops
from app.ui.backups.backup_key_dialog import MakeBackupsHereDialog
from app.ui.context import UiContext
from app.ui.recovery_kit import RecoveryKitSaver
from app.ui.settings import backups_tab
from app.ui.settings.backups_tab import BackupsTab
from tests.documents.pdfread import pdf_pages_text
from tests.ui.backups.conftest import settle
from tests.ui.conftest import DETAILS, OWNER_PASSWORD, save_styled_shot

OTHER_PC = "FRONT-DESK-1"


@pytest.fixture
def server_ctx(pg_cluster, server_clinic_templates):
    opened = server_clinic_templates.copy(DETAILS, "olivia", "Olivia Owner", OWNER_PASSWORD)
    owner = auth.login(opened.db, "olivia", OWNER_PASSWORD)
    ctx = UiContext(opened, owner, get_details(opened.db))
    yield ctx
    ctx.bus.close()
    ops.wait_for_done()
    server_clinic_templates.drop(opened)


def another_pc_backed_up(ctx, computer: str = OTHER_PC) -> None:
    """A verified backup of the server made on another PC (the one holding the key then)."""
    finished = utc_now() - timedelta(hours=2)
    with ctx.db.uow() as s:
        s.add(
            BackupRun(
                started_at=finished - timedelta(seconds=20),
                finished_at=finished,
                reason="automatic",
                place=BackupWhere.LOCAL.value,
                folder="C:\\CareDesk\\backups",
                file_name="caredesk-20270301-100000-automatic.caredesk-server",
                size_bytes=4_000_000,
                outcome=BackupOutcome.VERIFIED.value,
                computer=computer,
            )
        )


def _tab(qtbot, ctx) -> BackupsTab:
    tab = BackupsTab(ctx)
    qtbot.addWidget(tab)
    tab.resize(1120, 640)
    tab.show()
    qtbot.waitExposed(tab)
    settle(qtbot)
    return tab


def _click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


class Answers:
    """The owner's answers to the confirmation and to the save dialog, and what was asked."""

    def __init__(self, monkeypatch, *, yes: bool, kit: Path | None) -> None:
        self.confirmations: list[tuple[str | None, str]] = []
        self.save_asked: list[Path] = []

        def confirm(cls, parent, other_pc, this_pc):
            self.confirmations.append((other_pc, this_pc))
            return yes

        def ask_path(cls, parent, suggested):
            self.save_asked.append(suggested)
            return kit

        monkeypatch.setattr(MakeBackupsHereDialog, "ask", classmethod(confirm))
        monkeypatch.setattr(RecoveryKitSaver, "ask_path", classmethod(ask_path))


def kit_prints(db) -> list[str]:
    with db.uow() as s:
        return list(
            s.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == AuditAction.RECOVERY_KIT.value)
            )
        )


def test_make_the_backups_here_makes_the_key_and_saves_its_kit(
    qtbot, server_ctx, monkeypatch, tmp_path
):
    another_pc_backed_up(server_ctx)
    kit = tmp_path / "backup key kit.pdf"
    answers = Answers(monkeypatch, yes=True, kit=kit)
    tab = _tab(qtbot, server_ctx)

    # Another PC makes the backups: the tab says which, and offers to make them here.
    assert tab.server_key_box.isVisible()
    assert OTHER_PC in tab.server_key_label.text()
    assert tab.make_here_button.isVisible() and not tab.print_key_kit_button.isVisible()
    save_styled_shot(qtbot, tab, "settings-backups-server-other-pc.png")

    _click(qtbot, tab.make_here_button)
    settle(qtbot)

    this_pc = socket.gethostname()
    assert answers.confirmations == [(OTHER_PC, this_pc)]
    key = server_backup_key(server_ctx.db, create=False)
    assert key is not None, "the key is in this PC's key store"
    # The kit was offered at once, for the server backup key, and saved where chosen.
    assert len(answers.save_asked) == 1
    assert answers.save_asked[0].name.endswith("CareDesk backup key recovery kit.pdf")
    page = " ".join(pdf_pages_text(kit.read_bytes())[0].split())
    assert "Backup key recovery kit" in page
    assert key.recovery_text().split()[0] in page
    server = server_ctx.clinic.server
    assert f"{server.host}:{server.port}/{server.database}" in page
    assert kit_prints(server_ctx.db) == ["backup key recovery kit printed"]
    assert tab.result_label.text().startswith("✓ The backup key's recovery kit was saved")
    # This PC now makes the backups: the tab says so and offers the kit again instead.
    assert this_pc in tab.server_key_label.text()
    assert "makes the clinic server's backups" in tab.server_key_label.text()
    assert tab.print_key_kit_button.isVisible() and not tab.make_here_button.isVisible()
    assert not any("No PC backs the clinic server up" in w for w in tab.warnings.texts())
    save_styled_shot(qtbot, tab, "settings-backups-server-this-pc.png")


def test_saying_no_makes_no_key(qtbot, server_ctx, monkeypatch, tmp_path):
    answers = Answers(monkeypatch, yes=False, kit=tmp_path / "kit.pdf")
    tab = _tab(qtbot, server_ctx)
    assert "No PC makes the clinic server's backups yet" in tab.server_key_label.text()
    assert any("No PC backs the clinic server up yet" in w for w in tab.warnings.texts())

    _click(qtbot, tab.make_here_button)
    settle(qtbot)

    assert answers.confirmations == [(None, socket.gethostname())]
    assert server_backup_key(server_ctx.db, create=False) is None
    assert answers.save_asked == [] and kit_prints(server_ctx.db) == []
    assert tab.make_here_button.isVisible() and not tab.print_key_kit_button.isVisible()


def test_a_kit_not_saved_after_the_key_is_made_is_said_in_red(qtbot, server_ctx, monkeypatch):
    Answers(monkeypatch, yes=True, kit=None)  # the save dialog is cancelled
    tab = _tab(qtbot, server_ctx)

    _click(qtbot, tab.make_here_button)
    settle(qtbot)

    assert server_backup_key(server_ctx.db, create=False) is not None
    assert tab.result_label.text() == backups_tab.KIT_NOT_SAVED
    assert tab.print_key_kit_button.isVisible()
    assert kit_prints(server_ctx.db) == []


def test_the_pc_holding_the_key_prints_its_kit_again(qtbot, server_ctx, monkeypatch, tmp_path):
    key = server_backup_key(server_ctx.db, create=True)
    kit = tmp_path / "again.pdf"
    answers = Answers(monkeypatch, yes=True, kit=kit)
    tab = _tab(qtbot, server_ctx)
    assert not tab.make_here_button.isVisible()

    _click(qtbot, tab.print_key_kit_button)
    settle(qtbot)

    assert answers.confirmations == []  # nothing to confirm: the key is not changed
    assert server_backup_key(server_ctx.db, create=False) == key
    page = " ".join(pdf_pages_text(kit.read_bytes())[0].split())
    assert key.recovery_text().split()[-1] in page
    assert kit_prints(server_ctx.db) == ["backup key recovery kit printed"]


def test_a_clinic_file_shows_no_server_backup_key(qtbot, owner_ctx):
    tab = _tab(qtbot, owner_ctx)

    assert not tab.server_key_box.isVisible()


def test_the_dialog_says_what_the_key_means_and_does_not_say_yes_on_enter(qtbot):
    dialog = MakeBackupsHereDialog(None, OTHER_PC, "BACK-OFFICE")
    qtbot.addWidget(dialog)
    dialog.show()

    words = " ".join(
        label.text() for label in (dialog.key_label, dialog.kit_label, dialog.other_label)
    )
    assert "encrypted with this key" in words
    assert "keep the sheet with the off-site backups" in words
    assert f"{OTHER_PC} made the backups until now" in dialog.other_label.text()
    assert "still opens the backups it made" in dialog.other_label.text()
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Cancel is the default button
    assert dialog.result() == 0
