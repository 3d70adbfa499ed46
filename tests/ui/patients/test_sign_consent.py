"""The sign-a-consent dialog end to end: read, sign on the pad, save, see it on file."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import select

from app.data.models.documents import ConsentTemplate
from app.data.models.patients import Patient
from app.data.models.providers import ServiceRequiredConsent
from app.services.patients import consents, documents
from app.ui import ops
from app.ui.patients.sign_consent import SignConsentDialog
from tests.data.factories import add_appointment, add_provider, add_service


def open_dialog(qtbot, ctx, patient_id, **kwargs) -> SignConsentDialog:
    dialog = SignConsentDialog(ctx, patient_id, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    return dialog


def sign_on(pad) -> None:
    points = [QPoint(60 + 14 * i, 90 + (22 if i % 2 else -22)) for i in range(26)]
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for point in points[1:]:
        QTest.mouseMove(pad, point)
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def close_message_boxes() -> list[str]:
    texts = []
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            texts.append(widget.text())
            widget.close()
    return texts


def book_laser(clinic, owner_actor, patient_id) -> None:
    consents.install_starter_consents(clinic.db, owner_actor)
    with clinic.db.uow() as session:
        laser = add_service(session, name="Laser hair removal")
        template_id = session.scalar(
            select(ConsentTemplate.id).where(ConsentTemplate.key == "laser")
        )
        session.add(ServiceRequiredConsent(service_id=laser.id, consent_template_id=template_id))
        add_appointment(
            session, session.get(Patient, patient_id), add_provider(session), service_id=laser.id
        )


def test_sign_a_required_consent_end_to_end(qtbot, clinic, owner_ctx, patient_id):
    book_laser(clinic, owner_ctx.actor, patient_id)
    assert [
        u.template_key
        for u in consents.unsigned_required_consents(clinic.db, owner_ctx.actor, patient_id)
    ] == ["laser"]
    published = []
    owner_ctx.bus.changed.connect(published.append)
    dialog = open_dialog(qtbot, owner_ctx, patient_id, template_key="laser")

    assert dialog.template_combo.currentData() == "laser"
    assert dialog.language_combo.currentData() == "en"
    assert dialog.name_edit.text() == "Zoë Nguyễn"
    # Whose consent it is, in the title: several records may be open.
    qtbot.waitUntil(lambda: "Nguyễn, Zoë" in dialog.windowTitle(), timeout=10_000)
    assert dialog.windowTitle() == "Sign a consent form — Nguyễn, Zoë — CareDesk"
    assert dialog.witness_combo.currentText() == "Olivia Owner"
    shown = dialog.text_view.toPlainText()
    assert "Consent for laser treatment" in shown and "Zoë Nguyễn" in shown
    assert "Version 1" in dialog.version_label.text()
    assert not dialog.save_button.isEnabled()  # no ink yet

    qtbot.keyClicks(dialog.procedure_edit, "Laser, upper lip")
    qtbot.waitUntil(lambda: "Laser, upper lip" in dialog.text_view.toPlainText(), timeout=5000)
    sign_on(dialog.pad)
    assert dialog.save_button.isEnabled()
    dialog.name_edit.clear()
    assert not dialog.save_button.isEnabled()  # no printed name
    dialog.name_edit.insert("Zoë Nguyễn")  # QTest types ASCII only
    assert dialog.save_button.isEnabled()

    with qtbot.waitSignal(dialog.signed, timeout=10_000) as signal:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    signed = signal.args[0]
    assert (signed.template_key, signed.version, signed.language) == ("laser", 1, "en")
    assert signed.witness_name == "Olivia Owner" and signed.signer_name == "Zoë Nguyễn"
    assert dialog.result() == SignConsentDialog.DialogCode.Accepted
    assert any("saved in the patient's documents" in t for t in close_message_boxes())
    assert any(c.documents for c in published)

    [on_file] = consents.signed_consents(clinic.db, owner_ctx.actor, patient_id)
    assert on_file.document_id == signed.document_id
    _line, pdf = documents.document_content(clinic.db, owner_ctx.actor, signed.document_id)
    assert pdf.startswith(b"%PDF-")
    assert consents.unsigned_required_consents(clinic.db, owner_ctx.actor, patient_id) == []


def test_the_language_and_template_choices_change_the_wording(qtbot, owner_ctx, patient_id):
    dialog = open_dialog(qtbot, owner_ctx, patient_id)
    english_title = dialog.preview.title
    dialog.language_combo.setCurrentIndex(dialog.language_combo.findData("es"))
    qtbot.waitUntil(lambda: dialog.preview is not None and dialog.preview.language == "es")
    assert dialog.preview.title != english_title
    assert "Riesgos" in dialog.text_view.toHtml() or dialog.preview.risks == ""
    dialog.template_combo.setCurrentIndex(dialog.template_combo.findData("laser"))
    qtbot.waitUntil(lambda: dialog.preview is not None and dialog.preview.template_key == "laser")
    assert "láser" in dialog.text_view.toPlainText().lower()


def test_someone_signing_for_the_patient_types_their_own_name(qtbot, owner_ctx, patient_id):
    dialog = open_dialog(qtbot, owner_ctx, patient_id, template_key="injectables")
    dialog.relationship_combo.setCurrentIndex(
        dialog.relationship_combo.findData("parent_or_guardian")
    )
    assert dialog.name_edit.text() == ""
    sign_on(dialog.pad)
    assert not dialog.save_button.isEnabled()
    dialog.name_edit.insert("María Nguyễn")  # QTest types ASCII only
    # A witness who is not on the staff list is typed in.
    dialog.witness_combo.setEditText("Dana Díaz")
    with qtbot.waitSignal(dialog.signed, timeout=10_000) as signal:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    close_message_boxes()
    signed = signal.args[0]
    assert signed.signer_relationship == "parent_or_guardian"
    assert signed.signer_name == "María Nguyễn"
    assert (signed.witness_name, signed.witness_staff_id) == ("Dana Díaz", None)


def test_a_failed_save_keeps_the_signature_and_says_why(qtbot, clinic, owner_ctx, patient_id):
    dialog = open_dialog(qtbot, owner_ctx, patient_id, template_key="laser")
    sign_on(dialog.pad)
    strokes = dialog.pad.stroke_count()
    with clinic.db.uow() as session:  # someone deactivates the record meanwhile
        session.get(Patient, patient_id).is_active = False
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.result_consent is None
    assert "deactivated" in dialog.message_label.text() and dialog.message_label.isVisible()
    assert dialog.pad.stroke_count() == strokes and not dialog.pad.is_empty()
    assert dialog.save_button.isEnabled()
    assert consents.signed_consents(clinic.db, owner_ctx.actor, patient_id) == []


def test_undo_redo_and_clear_buttons_drive_the_pad(qtbot, owner_ctx, patient_id):
    dialog = open_dialog(qtbot, owner_ctx, patient_id)
    assert not dialog.clear_button.isEnabled() and not dialog.undo_button.isEnabled()
    sign_on(dialog.pad)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    assert dialog.pad.stroke_count() == 0 and not dialog.save_button.isEnabled()
    assert dialog.redo_button.isEnabled()
    qtbot.mouseClick(dialog.redo_button, Qt.MouseButton.LeftButton)
    assert dialog.pad.stroke_count() == 1 and dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.clear_button, Qt.MouseButton.LeftButton)
    assert dialog.pad.is_empty() and not dialog.save_button.isEnabled()


def test_a_receptionist_can_take_a_signature(qtbot, clinic, receptionist_ctx, patient_id):
    dialog = open_dialog(qtbot, receptionist_ctx, patient_id, template_key="financial_policy")
    assert dialog.witness_combo.currentText() == "Rita Reception"
    sign_on(dialog.pad)
    with qtbot.waitSignal(dialog.signed, timeout=10_000) as signal:
        qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    close_message_boxes()
    assert signal.args[0].recorded_by == "Rita Reception"


# --- the consents panel ------------------------------------------------------------------------


def test_the_panel_lists_what_to_sign_and_signing_moves_it_on_file(
    qtbot, qtmodeltester, clinic, owner_ctx, patient_id
):
    from app.ui.patients.consents_panel import NOTHING_TO_SIGN, ConsentsPanel

    book_laser(clinic, owner_ctx.actor, patient_id)
    panel = ConsentsPanel(owner_ctx, patient_id)
    qtbot.addWidget(panel)
    panel.resize(760, 520)
    panel.show()
    qtbot.waitUntil(lambda: panel.unsigned_model.rowCount() == 1, timeout=10_000)
    qtmodeltester.check(panel.unsigned_model)
    assert panel.unsigned_model.row_at(0).template_key == "laser"
    assert panel.unsigned_model.index(0, 1).data() == "Laser hair removal"
    assert panel.signed_stack.currentWidget() is panel.signed_empty
    assert panel.sign_now_button.isEnabled() and not panel.open_button.isEnabled()

    qtbot.mouseClick(panel.sign_now_button, Qt.MouseButton.LeftButton)
    dialog = panel.sign_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    assert dialog.template_combo.currentData() == "laser"
    assert dialog.procedure_edit.text() == "Laser hair removal"
    sign_on(dialog.pad)
    with qtbot.waitSignal(panel.consent_signed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    close_message_boxes()
    qtbot.waitUntil(lambda: panel.signed_model.rowCount() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: panel.unsigned_model.rowCount() == 0, timeout=10_000)
    qtmodeltester.check(panel.signed_model)
    assert panel.unsigned_stack.currentWidget() is panel.unsigned_empty
    assert panel.unsigned_empty.text() == NOTHING_TO_SIGN
    row = [panel.signed_model.index(0, c).data() for c in range(6)]
    assert row[0] == "Consent for laser treatment" and row[1:3] == ["1", "English"]
    assert row[4] == "Zoë Nguyễn" and row[5] == "Olivia Owner"
    assert panel.sign_dialog is None

    panel.signed_table.selectRow(0)
    with qtbot.waitSignal(panel.open_document_requested) as opened:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [panel.signed_model.row_at(0).document_id]


def test_a_provider_sees_the_lists_but_cannot_take_a_signature(
    qtbot, clinic, provider_ctx, patient_id
):
    from app.ui.patients.consents_panel import ConsentsPanel

    panel = ConsentsPanel(provider_ctx, patient_id)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.unsigned_stack.currentWidget() is panel.unsigned_empty)
    assert not panel.sign_now_button.isVisible() and not panel.sign_other_button.isVisible()
