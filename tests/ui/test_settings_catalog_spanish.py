"""Settings → Services: a service's Spanish name and description, typed in its dialog and
saved (what Spanish consents and handouts print)."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.services.clinic import catalog
from app.services.clinic.catalog import ServiceData
from app.ui import ops
from app.ui.settings.catalog import ServiceDialog, ServicesTab


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def test_the_spanish_name_and_description_are_typed_and_saved(
    qtbot, owner_ctx, monkeypatch, tmp_path
):
    catalog.save_service(
        owner_ctx.db, owner_ctx.actor, ServiceData("Porcelain crown", 60, Decimal("1100.00"))
    )
    tab = ServicesTab(owner_ctx)
    qtbot.addWidget(tab)
    tab.show()
    _settle(qtbot)

    def exec_(dialog) -> int:
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.height() <= 700  # still fits a 1366×768 screen
        qtbot.keyClicks(dialog.name_es_edit, "Corona de porcelana")
        qtbot.keyClicks(dialog.description_es_edit, "Una corona del color del diente.")
        dialog.grab().save(str(tmp_path / "service.png"))
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(ServiceDialog, "exec", exec_)
    tab.table.selectRow(0)
    qtbot.mouseClick(tab.edit_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)

    [stored] = catalog.load_catalog(owner_ctx.db, owner_ctx.actor).services
    assert (stored.name, stored.name_es) == ("Porcelain crown", "Corona de porcelana")
    assert stored.description_es == "Una corona del color del diente."
