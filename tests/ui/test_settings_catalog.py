"""Settings → Providers, Rooms, Services: the tables, the dialogs, refused input."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from PySide6.QtCore import Qt

from app.services.clinic import catalog
from app.services.clinic.catalog import Interval, ProviderData, RoomData, ServiceData
from app.ui import ops
from app.ui.settings.catalog import (
    ProviderDialog,
    ProvidersTab,
    RoomDialog,
    RoomsTab,
    ServiceDialog,
    ServicesTab,
)
from app.ui.widgets.row_table import RowTableModel


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def _texts(tab, column: int = 0) -> list[str]:
    model = tab.model
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_empty_providers_tab_says_what_to_do(qtbot, owner_ctx):
    tab = ProvidersTab(owner_ctx)
    qtbot.addWidget(tab)
    _settle(qtbot)
    assert not tab.empty_label.isHidden()
    assert "No providers yet" in tab.empty_label.text()
    assert tab.table.isHidden()
    assert not tab.edit_button.isEnabled()


def test_new_provider_through_the_dialog(qtbot, owner_ctx, monkeypatch):
    answers = [
        ProviderData(
            name="Ana Torres",
            title="Dr.",
            credentials="DDS",
            hours=tuple(Interval(d, 8 * 60, 16 * 60) for d in range(4)),
        )
    ]
    monkeypatch.setattr(ProviderDialog, "ask", classmethod(lambda cls, *a, **k: answers.pop()))
    tab = ProvidersTab(owner_ctx)
    qtbot.addWidget(tab)
    _settle(qtbot)
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert _texts(tab) == ["Dr. Ana Torres, DDS"]
    assert _texts(tab, 1) == ["Mon, Tue, Wed, Thu  08:00–16:00"]
    assert tab.message_label.text() == "Added Ana Torres."
    assert tab.empty_label.isHidden()


def test_refused_input_reopens_the_dialog_with_the_message(qtbot, owner_ctx, monkeypatch):
    seen_errors = []

    def ask(cls, parent, initial, error=None, **kw):
        seen_errors.append(error)
        if error is None:  # first time: a break outside the hours
            return ProviderData(
                "Ana", hours=(Interval(0, 540, 720),), breaks=(Interval(0, 780, 840),)
            )
        return None  # the user cancels after reading the message

    monkeypatch.setattr(ProviderDialog, "ask", classmethod(ask))
    tab = ProvidersTab(owner_ctx)
    qtbot.addWidget(tab)
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert len(seen_errors) == 2
    assert seen_errors[1].field == "breaks"
    assert "outside the working hours" in str(seen_errors[1])
    assert catalog.load_catalog(owner_ctx.db, owner_ctx.actor).providers == []


def test_deactivated_rooms_fold_away_until_asked_for(qtbot, owner_ctx):
    for name in ("Op 1", "Op 2"):
        catalog.save_room(owner_ctx.db, owner_ctx.actor, RoomData(name))
    tab = RoomsTab(owner_ctx)
    qtbot.addWidget(tab)
    _settle(qtbot)
    tab.table.selectRow(1)
    qtbot.mouseClick(tab.active_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert _texts(tab) == ["Op 1"]
    tab.show_inactive.setChecked(True)
    assert _texts(tab) == ["Op 1", "Op 2"]
    assert _texts(tab, 1) == ["Active", "Inactive"]


def test_services_show_money_in_the_clinic_currency(qtbot, owner_ctx):
    catalog.save_service(
        owner_ctx.db,
        owner_ctx.actor,
        ServiceData(
            "Implant crown", 60, Decimal("1250.00"), code="D6065", recall_interval_days=180
        ),
    )
    tab = ServicesTab(owner_ctx)
    qtbot.addWidget(tab)
    _settle(qtbot)
    assert [tab.model.index(0, c).data() for c in range(6)] == [
        "Implant crown",
        "D6065",
        "—",
        "60 min",
        "$1,250.00",
        "180 days",
    ]


def test_service_dialog_refuses_a_fee_that_is_not_an_amount(qtbot):
    dialog = ServiceDialog(None, editing=False, locale="en_US")
    qtbot.addWidget(dialog)
    dialog.set_values(ServiceData("Whitening"))
    dialog.fee_edit.clear()
    qtbot.keyClicks(dialog.fee_edit, "twelve")
    dialog.on_accept_clicked()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "not an amount" in dialog.fields["fee"].error()
    dialog.fee_edit.clear()
    qtbot.keyClicks(dialog.fee_edit, "1,299.50")
    dialog.on_accept_clicked()
    assert dialog.values().fee == Decimal("1299.50")


def test_spanish_clinic_types_fees_the_spanish_way(qtbot):
    dialog = ServiceDialog(None, editing=False, locale="es_ES")
    qtbot.addWidget(dialog)
    dialog.set_values(ServiceData("Limpieza", fee=Decimal("1250.50")))
    assert dialog.fee_edit.text() == "1250,50" or dialog.fee_edit.text() == "1.250,50"
    dialog.on_accept_clicked()
    assert dialog.values().fee == Decimal("1250.50")


def test_provider_dialog_round_trips_hours_and_shows_a_split_shift_as_a_break(qtbot):
    dialog = ProviderDialog(None, editing=True, staff_choices=[(3, "Ana Torres")])
    qtbot.addWidget(dialog)
    split = (Interval(1, 8 * 60, 12 * 60), Interval(1, 13 * 60, 17 * 60))
    original = ProviderData("Ana", staff_id=3, hours=split, id=1, version=2)
    dialog.set_values(original)
    assert dialog.week[1].works.isChecked() and dialog.week[1].has_break.isChecked()
    assert not dialog.week[0].works.isChecked()
    assert not dialog.week[0].start.isEnabled()
    values = dialog.values()
    assert values.hours == (Interval(1, 480, 1020),)
    assert values.breaks == (Interval(1, 720, 780, "Break"),)
    assert (values.staff_id, values.id, values.version) == (3, 1, 2)
    saved_equivalent = catalog.validate_provider(values)
    assert saved_equivalent.hours == values.hours


def test_room_dialog_keeps_id_and_version(qtbot):
    dialog = RoomDialog(None, editing=True)
    qtbot.addWidget(dialog)
    dialog.set_values(RoomData("Op 1", "#112233", id=4, version=7))
    dialog.name_edit.setText("Operatory 1")
    assert dialog.values() == replace(RoomData("Operatory 1", "#112233", id=4, version=7))


def test_catalog_model_passes_the_model_tester(qtmodeltester, owner_ctx, qtbot):
    tab = ServicesTab(owner_ctx)
    qtbot.addWidget(tab)
    model: RowTableModel = tab.model
    model.set_rows([ServiceData("A", id=1), ServiceData("B", id=2, is_active=False)])
    qtmodeltester.check(model)
