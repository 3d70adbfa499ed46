"""The Pipeline page: stage columns from real data, filters, moving cards, opening records."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QWidget

from app.clock import utc_now
from app.data.models import Patient, Provider
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.services.changes import Changes
from app.services.errors import ValidationError
from app.services.patients import journey
from app.services.patients.journey import PipelineCard, pipeline
from app.ui import ops
from app.ui.patients import pipeline_page as pipeline_module
from app.ui.patients.pipeline_page import (
    CARD_MIME_TYPE,
    JourneyReasonDialog,
    PipelinePage,
    StageCardModel,
    encode_cards,
)
from tests.data.factories import add_patient


def _add(
    db,
    first: str,
    last: str,
    stage: str = "inquiry",
    *,
    days: int = 0,
    lead_source: str = "",
    provider_id: int | None = None,
    reason: str = "",
) -> int:
    with db.uow() as session:
        return add_patient(
            session,
            first_name=first,
            last_name=last,
            journey_stage=stage,
            journey_stage_since=utc_now() - timedelta(days=days, hours=1),
            journey_reason=reason,
            lead_source=lead_source,
            primary_provider_id=provider_id,
            is_active=stage != "inactive",
        ).id


def _add_open_plan(db, patient_id: int, portion: str, insurance: str) -> None:
    with db.uow() as session:
        plan = TreatmentPlan(patient_id=patient_id, title="Implant #14", status="presented")
        plan.phases.append(TreatmentPhase(title="Phase 1"))
        session.add(plan)
        session.flush()
        session.add(
            TreatmentItem(
                phase_id=plan.phases[0].id,
                description="Implant",
                fee=Decimal(portion) + Decimal(insurance),
                patient_portion=Decimal(portion),
                insurance_estimate=Decimal(insurance),
            )
        )


def _stage_of(ctx, patient_id: int) -> str:
    board = pipeline(ctx.db, ctx.actor)
    return next(c.stage for cards in board.values() for c in cards if c.patient_id == patient_id)


def _names(page: PipelinePage, stage: str) -> list[str]:
    return [card.name for card in page.models[stage].cards()]


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


@pytest.fixture
def board(clinic):
    """A small clinic: three inquiries (two from Google), a booked patient and a lost one."""
    db = clinic.db
    with db.uow() as session:
        provider = Provider(name="Hana Sato", title="Dr.")
        session.add(provider)
        session.flush()
        provider_id = provider.id
    ids = {
        "zoe": _add(db, "Zoë", "Nguyễn", days=12, lead_source="Google", provider_id=provider_id),
        "omar": _add(db, "Omar", "Haddad", days=3, lead_source="Google"),
        "lena": _add(db, "Lena", "Berg", days=1, lead_source="Friend referral"),
        "ravi": _add(db, "Ravi", "Patel", "booked", days=30, provider_id=provider_id),
        "ines": _add(db, "Inés", "Costa", "lost", days=40, reason="Chose another clinic"),
        "provider": provider_id,
    }
    _add_open_plan(db, ids["ravi"], "1200.00", "800.00")
    return ids


def _open_page(qtbot, ctx) -> PipelinePage:
    page = PipelinePage(ctx)
    qtbot.addWidget(page)
    page.resize(1280, 760)
    page.show()
    _settle(qtbot)
    qtbot.waitUntil(lambda: "on the board" in page.status_label.text())
    return page


def _click_card(
    qtbot, page: PipelinePage, stage: str, patient_id: int, modifier=Qt.KeyboardModifier.NoModifier
) -> None:
    column = page.columns[stage]
    if column.is_collapsed():
        column.set_collapsed(False)
    view, model = column.view, page.models[stage]
    row = model.row_of(patient_id)
    assert row is not None
    rect = view.visualRect(model.index(row))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_cards_land_in_their_stage_columns_with_counts_and_values(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)

    assert _names(page, "inquiry") == ["Nguyễn, Zoë", "Haddad, Omar", "Berg, Lena"]
    assert _names(page, "booked") == ["Patel, Ravi"]
    assert _names(page, "lost") == ["Costa, Inés"]
    assert _names(page, "consultation") == []
    assert page.columns["inquiry"].count_label.text() == "3"
    assert page.columns["booked"].count_label.text() == "1"
    assert page.columns["consultation"].count_label.text() == "0"
    assert page.columns["booked"].value_label.text() == "$2,000.00 open"
    assert page.columns["inquiry"].value_label.text() == "No open plans"
    zoe = page.models["inquiry"].card_at(0)
    assert zoe.days_in_stage == 12
    assert "Inquiry for 12 days" in page.models["inquiry"].index(0).data(
        Qt.ItemDataRole.ToolTipRole
    )
    # Inactive and Lost start folded into narrow strips that still name the stage and count.
    lost = page.columns["lost"]
    assert lost.is_collapsed() and lost.width() < 60
    assert "Lost" in lost.strip._caption and "1" in lost.strip._caption
    assert page.status_label.text() == "5 patients on the board"


def test_a_card_shows_its_name_age_next_step_and_value(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    view = page.columns["booked"].view
    image = view.viewport().grab().toImage()
    # The card is painted (not a blank list): its border and stripe change pixels in the column.
    colours = {image.pixel(x, 30) for x in range(0, image.width(), 3)}
    assert len(colours) > 3
    card = page.models["booked"].card_at(0)
    assert (card.next_step, card.days_in_stage) == ("Confirm the appointment", 30)
    assert pipeline_module.days_text(card.days_in_stage) == "30 days"
    assert pipeline_module.days_text(1) == "1 day"


def test_filter_by_lead_source_narrows_the_board(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    combo = page.lead_source_combo
    qtbot.waitUntil(lambda: combo.findText("Google") >= 0)

    combo.setCurrentIndex(combo.findText("Google"))
    qtbot.waitUntil(lambda: page.columns["inquiry"].count_label.text() == "2")

    assert _names(page, "inquiry") == ["Nguyễn, Zoë", "Haddad, Omar"]
    assert _names(page, "booked") == []
    combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.columns["inquiry"].count_label.text() == "3")


def test_filter_by_provider_narrows_the_board(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    combo = page.provider_combo
    qtbot.waitUntil(lambda: combo.findData(board["provider"]) >= 0)
    assert combo.itemText(combo.findData(board["provider"])) == "Dr. Hana Sato"

    combo.setCurrentIndex(combo.findData(board["provider"]))
    qtbot.waitUntil(lambda: page.columns["inquiry"].count_label.text() == "1")

    assert _names(page, "inquiry") == ["Nguyễn, Zoë"]
    assert _names(page, "booked") == ["Patel, Ravi"]


def test_search_box_keeps_only_matching_names(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    qtbot.keyClicks(page.search_edit, "hadd")
    assert _names(page, "inquiry") == ["Haddad, Omar"]
    assert page.columns["inquiry"].count_label.text() == "1"
    assert page.status_label.text() == "1 of 5 patients match"
    page.search_edit.clear()
    assert len(_names(page, "inquiry")) == 3


def test_move_with_the_menu_persists_and_selects_the_card_in_its_new_column(
    qtbot, coordinator_ctx, board
):
    page = _open_page(qtbot, coordinator_ctx)
    assert not page.move_button.isEnabled()
    _click_card(qtbot, page, "inquiry", board["omar"])
    assert page.move_button.isEnabled()

    page.move_menu.aboutToShow.emit()
    assert not page.move_actions["inquiry"].isEnabled()  # already there
    assert page.move_actions["lost"].text() == "Lost…"  # asks for a reason
    page.move_actions["consultation"].trigger()
    _settle(qtbot)
    qtbot.waitUntil(lambda: "Haddad, Omar" in _names(page, "consultation"))

    assert _stage_of(coordinator_ctx, board["omar"]) == "consultation"
    assert "Haddad, Omar" not in _names(page, "inquiry")
    assert [c.patient_id for c in page.selected_cards()] == [board["omar"]]
    assert page.columns["consultation"].count_label.text() == "1"


def test_ctrl_m_opens_the_move_menu_for_the_selected_card(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    shown = []
    page.move_button.showMenu = lambda: shown.append(True)  # the real one runs a popup loop
    _click_card(qtbot, page, "inquiry", board["lena"])
    qtbot.keyClick(page.columns["inquiry"].view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert shown == [True]


def test_move_to_lost_asks_why_and_cancel_leaves_the_patient(
    qtbot, coordinator_ctx, board, monkeypatch
):
    asked = []

    def cancel(parent, stage, names):
        asked.append((stage, names))
        return None

    monkeypatch.setattr(JourneyReasonDialog, "ask", classmethod(lambda cls, *a: cancel(*a)))
    page = _open_page(qtbot, coordinator_ctx)
    _click_card(qtbot, page, "inquiry", board["zoe"])
    page.move_actions["lost"].trigger()
    _settle(qtbot)

    assert asked == [("lost", ["Nguyễn, Zoë"])]
    assert _stage_of(coordinator_ctx, board["zoe"]) == "inquiry"
    assert "Nguyễn, Zoë" in _names(page, "inquiry")


def test_move_to_lost_with_a_reason_shows_the_reason_on_the_card(
    qtbot, coordinator_ctx, board, monkeypatch
):
    monkeypatch.setattr(
        JourneyReasonDialog, "ask", classmethod(lambda cls, *a: "Cost of treatment")
    )
    page = _open_page(qtbot, coordinator_ctx)
    _click_card(qtbot, page, "inquiry", board["zoe"])
    page.move_actions["lost"].trigger()
    _settle(qtbot)
    qtbot.waitUntil(lambda: "Nguyễn, Zoë" in _names(page, "lost"))

    card = next(c for c in page.models["lost"].cards() if c.patient_id == board["zoe"])
    assert card.next_step == "Cost of treatment"
    assert _stage_of(coordinator_ctx, board["zoe"]) == "lost"
    assert not page.columns["lost"].is_collapsed()  # unfolded to show where the card went


def test_dropping_cards_on_another_column_moves_them(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    source = page.models["inquiry"]
    mime = source.mimeData([source.index(source.row_of(board["lena"]))])
    assert mime.hasFormat(CARD_MIME_TYPE) and not mime.hasText()  # no names leave the app

    target = page.models["booked"]
    assert not source.canDropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, QModelIndex())
    assert target.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, QModelIndex())
    qtbot.waitUntil(lambda: "Berg, Lena" in _names(page, "booked"))
    _settle(qtbot)

    assert _stage_of(coordinator_ctx, board["lena"]) == "booked"
    assert page.columns["booked"].count_label.text() == "2"


def test_dropping_on_a_column_view_moves_the_patient(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    view = page.columns["follow_up"].view
    mime = encode_cards("booked", [board["ravi"]])
    event = QDropEvent(
        QPointF(40, 40),
        Qt.DropAction.MoveAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    # Qt only delivers a Drop to the target of a real drag; call the view's handler as Qt would.
    view.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: "Patel, Ravi" in _names(page, "follow_up"))
    _settle(qtbot)
    assert _stage_of(coordinator_ctx, board["ravi"]) == "follow_up"


def test_dropping_on_the_folded_lost_strip_asks_why(qtbot, coordinator_ctx, board, monkeypatch):
    asked = []
    monkeypatch.setattr(
        JourneyReasonDialog,
        "ask",
        classmethod(lambda cls, parent, stage, names: asked.append(names) or "Moved away"),
    )
    page = _open_page(qtbot, coordinator_ctx)
    strip = page.columns["lost"].strip
    assert strip.isVisible()
    mime = encode_cards("inquiry", [board["omar"]])  # the event does not own it: keep it alive
    event = QDropEvent(
        QPointF(10, 40),
        Qt.DropAction.MoveAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    strip.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: "Haddad, Omar" in _names(page, "lost"))
    _settle(qtbot)

    assert asked == [["Haddad, Omar"]]
    assert _stage_of(coordinator_ctx, board["omar"]) == "lost"


def test_moving_several_cards_is_one_write(qtbot, coordinator_ctx, board, monkeypatch):
    writes, moves = [], []
    run_write, set_stages = ops.run_write, pipeline_module.set_journey_stages

    def counted_write(fn, **callbacks):
        writes.append(fn)
        run_write(fn, **callbacks)

    def recorded_move(db, actor, seen_versions, stage, reason=""):
        moves.append((list(seen_versions), stage))
        return set_stages(db, actor, seen_versions, stage, reason)

    monkeypatch.setattr(ops, "run_write", counted_write)
    monkeypatch.setattr(pipeline_module, "set_journey_stages", recorded_move)
    page = _open_page(qtbot, coordinator_ctx)
    _click_card(qtbot, page, "inquiry", board["omar"])
    _click_card(qtbot, page, "inquiry", board["lena"], Qt.KeyboardModifier.ControlModifier)
    page.move_actions["consultation"].trigger()
    _settle(qtbot)
    qtbot.waitUntil(lambda: len(_names(page, "consultation")) == 2)

    assert len(writes) == 1
    assert moves == [([board["omar"], board["lena"]], "consultation")]
    assert _names(page, "consultation") == ["Haddad, Omar", "Berg, Lena"]
    assert _stage_of(coordinator_ctx, board["lena"]) == "consultation"


def test_a_card_changed_elsewhere_moves_nobody_and_says_whose(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    _click_card(qtbot, page, "inquiry", board["omar"])
    _click_card(qtbot, page, "inquiry", board["lena"], Qt.KeyboardModifier.ControlModifier)
    with coordinator_ctx.db.uow() as session:  # another workstation, after the board loaded
        session.get(Patient, board["lena"]).lead_source = "Walk-in"
    page.move_actions["consultation"].trigger()
    _settle(qtbot)

    boxes = [b for b in page.findChildren(QMessageBox) if b.isVisible()]
    assert [b.text() for b in boxes] == [
        "The record of Berg, Lena was changed on another workstation while you were editing. "
        "Reload it to see the latest version."
    ]
    assert _stage_of(coordinator_ctx, board["omar"]) == "inquiry"
    assert _stage_of(coordinator_ctx, board["lena"]) == "inquiry"
    boxes[0].close()


def test_a_refused_move_is_explained(qtbot, coordinator_ctx, board, monkeypatch):
    def refuse(db, actor, seen_versions, stage, reason=""):
        raise ValidationError("This record was merged into another one; change that one instead.")

    monkeypatch.setattr(pipeline_module, "set_journey_stages", refuse)
    page = _open_page(qtbot, coordinator_ctx)
    _click_card(qtbot, page, "inquiry", board["zoe"])
    page.move_actions["booked"].trigger()
    _settle(qtbot)

    boxes = [b for b in page.findChildren(QMessageBox) if b.isVisible()]
    assert [b.text() for b in boxes] == [
        "This record was merged into another one; change that one instead."
    ]
    assert "Nguyễn, Zoë" in _names(page, "inquiry")
    boxes[0].close()


def test_double_click_and_enter_open_the_record(qtbot, coordinator_ctx, board, monkeypatch):
    opened = []

    def fake_open(ctx, patient_id, parent=None):
        opened.append(patient_id)
        return QWidget()

    monkeypatch.setattr("app.ui.patients.windows.open_patient_record", fake_open)
    page = _open_page(qtbot, coordinator_ctx)
    view, model = page.columns["booked"].view, page.models["booked"]
    rect = view.visualRect(model.index(0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == [board["ravi"]]

    _click_card(qtbot, page, "inquiry", board["omar"])
    qtbot.keyClick(page.columns["inquiry"].view, Qt.Key.Key_Return)
    assert opened == [board["ravi"], board["omar"]]
    qtbot.mouseClick(page.open_button, Qt.MouseButton.LeftButton)
    assert opened[-1] == board["omar"]


def test_selecting_in_one_column_clears_the_other(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    _click_card(qtbot, page, "inquiry", board["zoe"])
    _click_card(qtbot, page, "booked", board["ravi"])
    assert [c.patient_id for c in page.selected_cards()] == [board["ravi"]]
    assert not page.columns["inquiry"].view.selectionModel().hasSelection()


def test_board_refreshes_when_another_window_changes_a_patient(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    journey.set_journey_stage(
        coordinator_ctx.db, coordinator_ctx.actor, board["lena"], "in_treatment"
    )
    coordinator_ctx.bus.publish(Changes(appointments=True))
    qtbot.waitUntil(lambda: "Berg, Lena" in _names(page, "in_treatment"))
    assert "Berg, Lena" not in _names(page, "inquiry")


def test_a_provider_sees_the_board_but_cannot_move_cards(qtbot, provider_ctx, board):
    page = _open_page(qtbot, provider_ctx)
    assert _names(page, "booked") == ["Patel, Ravi"]
    assert page.move_button.isHidden()
    model = page.models["inquiry"]
    assert not model.flags(model.index(0)) & Qt.ItemFlag.ItemIsDragEnabled
    mime = encode_cards("booked", [board["ravi"]])
    assert not model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, QModelIndex())


def test_folded_column_unfolds_on_click_and_folds_again(qtbot, coordinator_ctx, board):
    page = _open_page(qtbot, coordinator_ctx)
    column = page.columns["inactive"]
    qtbot.mouseClick(column.strip, Qt.MouseButton.LeftButton, pos=QPoint(10, 60))
    assert not column.is_collapsed() and column.view.isVisible()
    assert column.collapse_button is not None
    qtbot.mouseClick(column.collapse_button, Qt.MouseButton.LeftButton)
    assert column.is_collapsed()


def test_card_model_holds_thousands_without_a_widget_per_card(qtbot, qtmodeltester):
    model = StageCardModel("inquiry", can_move=True)
    cards = [
        PipelineCard(
            i, f"Patient {i}", "inquiry", i % 40, "Book a consultation", Decimal(0), "", "", 1
        )
        for i in range(1, 3001)
    ]
    model.set_cards(cards)
    qtmodeltester.check(model)
    assert model.rowCount() == 3000
    assert model.index(2999).data() == "Patient 3000"
    dropped = []
    model.cards_dropped.connect(lambda ids, stage: dropped.append((ids, stage)))
    mime = QMimeData()
    mime.setData(CARD_MIME_TYPE, b'{"from": "booked", "ids": [7, 9]}')
    assert model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, QModelIndex())
    assert dropped == [([7, 9], "inquiry")]
    assert not model.dropMimeData(QMimeData(), Qt.DropAction.MoveAction, -1, -1, QModelIndex())


def test_page_has_no_widget_per_card(qtbot, coordinator_ctx, clinic):
    for n in range(300):
        _add(clinic.db, "Test", f"Patient{n:03d}", "consultation", days=n % 50)
    page = _open_page(qtbot, coordinator_ctx)
    assert page.models["consultation"].rowCount() == 300
    assert len(page.findChildren(QWidget)) < 200


def test_reason_dialog_needs_a_reason(qtbot):
    dialog = JourneyReasonDialog(None, "inactive", ["Berg, Lena", "Haddad, Omar"])
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.text() == "Move to Inactive"
    assert not ok.isEnabled()
    qtbot.keyClicks(dialog.reason_combo.lineEdit(), "  Moved to Lisbon ")
    assert ok.isEnabled()
    assert dialog.reason() == "Moved to Lisbon"
    dialog.reason_combo.setCurrentIndex(dialog.reason_combo.findText("No visit in 18 months"))
    assert dialog.reason() == "No visit in 18 months"
