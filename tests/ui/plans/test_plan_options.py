"""The plan editor's options and decisions (issue 17 §4): an alternative's own title, a
phase titled once on the handout, presenting the whole case, an Accept dialog that shows
all its text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QLabel, QLineEdit

from app.services.billing import treatment_plans as tp
from app.ui import ops
from app.ui.plans import plan_editor as pe
from app.ui.plans.plan_editor import TreatmentPlanEditor
from tests.data.factories import add_service
from tests.documents.pdfread import pdf_pages_text

D = Decimal


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


@pytest.fixture
def services(clinic) -> tuple[int, int]:
    with clinic.db.uow() as s:
        exam = add_service(s, name="Exam and X-rays", fee=D("95.00")).id
        implant = add_service(s, name="Implant placement", fee=D("1800.00")).id
    return exam, implant


def _editor(qtbot, ctx, patient_id) -> TreatmentPlanEditor:
    editor = TreatmentPlanEditor(ctx, patient_id)
    qtbot.addWidget(editor)
    editor.resize(1300, 600)
    editor.show()
    qtbot.waitExposed(editor)
    _settle(qtbot)
    return editor


def _type_in_text_dialogs(monkeypatch, qtbot, *typed: str | tuple[str, str]) -> list[str]:
    """Each TextDialog the editor opens is answered by typing ``typed[n]`` into it as it
    opened (a selected suggestion is replaced, otherwise typing goes after the text), or a
    (title, Spanish title) pair, the Spanish typed over what was there; then Enter.
    Returns the text each dialog opened with."""
    queue = list(typed)
    opened: list[str] = []

    def exec_(dialog) -> int:
        dialog.show()
        qtbot.waitExposed(dialog)
        opened.append(dialog.edit.text())
        answer = queue.pop(0)
        title, spanish = answer if isinstance(answer, tuple) else (answer, "")
        qtbot.keyClicks(dialog.edit, title)
        if spanish:
            dialog.spanish_edit.setFocus()
            dialog.spanish_edit.selectAll()
            dialog.spanish_edit.insert(spanish)  # as pasted: QTest cannot type "í"
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
        return dialog.result()

    monkeypatch.setattr(pe.TextDialog, "exec", exec_)
    return opened


def _click(qtbot, editor, key: str) -> None:
    qtbot.mouseClick(editor.buttons[key], Qt.MouseButton.LeftButton)
    _settle(qtbot)


def _plan(db, actor, patient_id, services):
    exam, implant = services
    plan = tp.create_plan(db, actor, patient_id, "Replace #14")
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Imaging")
    plan = tp.add_item(db, actor, plan.phases[0].id, plan.version, service_id=exam)
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Implant")
    return tp.add_item(db, actor, plan.phases[1].id, plan.version, service_id=implant)


def test_add_alternative_asks_its_own_title(qtbot, coordinator_ctx, patient_id, services,
                                            monkeypatch):  # fmt: skip
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = _plan(db, actor, patient_id, services)
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    opened = _type_in_text_dialogs(monkeypatch, qtbot, "", "Bridge #13-15")

    _click(qtbot, editor, "alternative")  # Enter on the suggested title: "Option B"
    qtbot.mouseClick(
        editor.panes[1].tree.viewport(),
        Qt.MouseButton.LeftButton,
        pos=editor.panes[1].tree.visualItemRect(editor.panes[1].tree.topLevelItem(0)).center(),
    )
    _click(qtbot, editor, "alternative")  # Option C, titled by the coordinator

    assert opened[0] == "Option B" and opened[1] == "Option C"
    titles = [p.title.text() for p in editor.panes]
    assert titles[0].startswith("<b>Option A — Replace #14</b>")
    assert titles[1].startswith("<b>Option B</b>")  # not "Option B — Replace #14" again
    assert titles[2].startswith("<b>Option C — Bridge #13-15</b>")
    stored = [tp.load_plan(db, actor, p.id) for p in tp.list_plans(db, actor, patient_id)]
    assert sorted(p.title for p in stored) == ["Bridge #13-15", "Option B", "Replace #14"]
    assert editor.plan_combo.itemText(1).startswith("Option B — Draft")
    assert plan.id in {p.id for p in stored}


def test_a_phase_is_titled_once_in_the_editor_and_on_the_handout(
    qtbot, coordinator_ctx, patient_id, services, monkeypatch
):
    exam, _implant = services
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, patient_id, "Replace #14")
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    opened = _type_in_text_dialogs(monkeypatch, qtbot, "Implant")

    _click(qtbot, editor, "phase")
    monkeypatch.setattr(
        pe.ItemDialog,
        "ask",
        classmethod(
            lambda c, *a, **k: dict(
                service_id=exam, description="", area="", quantity=1, fee=None,
                discount=D("0"), insurance_estimate=D("0"),
            )
        ),
    )  # fmt: skip
    _click(qtbot, editor, "item")
    _click(qtbot, editor, "handout")

    assert opened == [""]  # no "Phase 1 — " typed in front for the user
    assert tp.load_plan(db, actor, plan.id).phases[0].title == "Implant"
    assert editor.panes[0].tree.topLevelItem(0).text(0) == "Phase 1 — Implant"
    preview = editor.handout_preview
    qtbot.waitUntil(lambda: bool(preview.content()))
    assert preview.language() == "en"  # the patient's
    text = " ".join(pdf_pages_text(preview.content()))
    assert "Phase 1: Implant" in text and "Phase 1: Phase 1" not in text


def test_present_presents_every_option_the_handout_shows(
    qtbot, coordinator_ctx, patient_id, services
):
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    a = _plan(db, actor, patient_id, services)
    b = tp.add_alternative(db, actor, a.id, a.version, title="Bridge")
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    assert editor.current_plan_id == a.id and editor.buttons["present"].isEnabled()

    _click(qtbot, editor, "present")

    assert [tp.load_plan(db, actor, p).status for p in (a.id, b.id)] == ["presented"] * 2
    assert all("· Presented" in pane.title.text() for pane in editor.panes)
    # The patient can now choose either option: Accept works on Option B too.
    qtbot.mouseClick(
        editor.panes[1].tree.viewport(),
        Qt.MouseButton.LeftButton,
        pos=editor.panes[1].tree.visualItemRect(editor.panes[1].tree.topLevelItem(0)).center(),
    )
    assert editor.current_plan_id == b.id and editor.buttons["accept"].isEnabled()


def _clipped(dialog: QDialog) -> list[str]:
    """The texts of the dialog's labels, check boxes and hints in empty fields that do not
    fit where they are."""
    clipped = []
    for edit in dialog.findChildren(QLineEdit):
        room = edit.contentsRect().width() - 8  # the frame's and text margins
        if edit.fontMetrics().horizontalAdvance(edit.placeholderText()) > room:
            clipped.append(edit.placeholderText())
    for widget in dialog.findChildren(QLabel) + dialog.findChildren(QCheckBox):
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel) and widget.wordWrap():
            fits = widget.heightForWidth(widget.width()) <= widget.height()
        else:
            hint = widget.sizeHint()
            fits = hint.width() <= widget.width() and hint.height() <= widget.height()
        if not fits:
            clipped.append(widget.text())
    return clipped


def test_the_accept_dialog_shows_all_its_text_and_records_the_choice(
    qtbot, coordinator_ctx, patient_id, services, monkeypatch, tmp_path
):
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = _plan(db, actor, patient_id, services)  # short titles: "Imaging", "Implant"
    plan = tp.present_plan(db, actor, plan.id, plan.version)
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    seen: list[list[str]] = []

    def exec_(dialog) -> int:
        dialog.show()
        qtbot.waitExposed(dialog)
        dialog.grab().save(str(tmp_path / "accept.png"))
        seen.append(_clipped(dialog))
        assert dialog.width() >= 460
        _phase_id, implant_box = dialog.boxes[1]
        qtbot.mouseClick(implant_box, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(dialog.reason, "Will decide after the imaging")
        qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
        return dialog.result()

    monkeypatch.setattr(pe.AcceptDialog, "exec", exec_)
    _click(qtbot, editor, "accept")

    assert seen == [[]], f"cut off: {seen}"
    stored = tp.load_plan(db, actor, plan.id)
    assert stored.status == "partly_accepted"
    assert [p.status for p in stored.phases] == ["accepted", "declined"]
    assert stored.phases[1].decline_reason == "Will decide after the imaging"


def test_spanish_titles_typed_in_the_editor_print_on_the_spanish_handout(
    qtbot, clinic, coordinator_ctx, patient_id, services, monkeypatch
):
    from app.data.models.patients import Patient

    with clinic.db.uow() as s:
        s.get(Patient, patient_id).preferred_language = "es"
    exam, _implant = services
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    _type_in_text_dialogs(
        monkeypatch,
        qtbot,
        ("Replace #14", "Reemplazo del 14"),
        ("Imaging", "Radiografías"),
        ("", "Reemplazo del diente 14"),  # Edit with nothing selected: the plan's titles
    )
    _click(qtbot, editor, "new")
    _click(qtbot, editor, "phase")
    monkeypatch.setattr(
        pe.ItemDialog,
        "ask",
        classmethod(
            lambda c, *a, **k: dict(
                service_id=exam, description="", area="", quantity=1, fee=None,
                discount=D("0"), insurance_estimate=None,
            )
        ),
    )  # fmt: skip
    _click(qtbot, editor, "item")
    editor.panes[0].tree.clearSelection()
    editor.panes[0].title.setFocus()
    _click(qtbot, editor, "edit")

    [summary] = tp.list_plans(db, actor, patient_id)
    plan = tp.load_plan(db, actor, summary.id)
    assert (plan.title, plan.title_es) == ("Replace #14", "Reemplazo del diente 14")
    assert (plan.phases[0].title, plan.phases[0].title_es) == ("Imaging", "Radiografías")
    _click(qtbot, editor, "handout")
    preview = editor.handout_preview
    qtbot.waitUntil(lambda: bool(preview.content()))
    assert preview.language() == "es"
    text = " ".join(pdf_pages_text(preview.content()))
    assert "Fase 1: Radiografías" in text and "Reemplazo del diente 14" in text
    assert "Replace #14" not in text and "Imaging" not in text
