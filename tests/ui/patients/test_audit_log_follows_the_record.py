"""An open audit log keeps up with what is done in a record: every write, and every opening
of a stored document, appears in it without reopening the log."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.services.clinic.audit_log import AuditRow
from app.ui.audit_window import AuditWindow
from app.ui.patients.consents_tab import ConsentsTab
from app.ui.patients.documents_tab import DocumentsTab
from tests.ui.patients.test_sign_consent import book_laser, close_message_boxes, sign_on


@pytest.fixture
def audit_log(qtbot, owner_ctx) -> AuditWindow:
    window = AuditWindow(owner_ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: _newest(window) is not None, timeout=10_000)
    return window


def _newest(window: AuditWindow) -> AuditRow | None:
    return window.model.row_at(0) if window.model.rowCount() else None


def _shows(window: AuditWindow, action: str, entity: str, detail: str | None = None) -> bool:
    """The newest row of the log is this one (``detail=None``: whatever its detail)."""
    row = _newest(window)
    return (
        row is not None
        and (row.action, row.entity) == (action, entity)
        and detail in (None, row.detail)
    )


def _hosted(qtbot, tab: QWidget) -> QWidget:
    """The tab in a window of its own, as the record window hosts it."""
    host = QWidget()
    qtbot.addWidget(host)
    tab.setParent(host)
    QVBoxLayout(host).addWidget(tab)
    host.resize(1000, 560)
    host.show()
    return host


def test_signing_and_opening_a_consent_on_the_consents_tab_shows_in_the_open_log(
    qtbot, clinic, owner_ctx, patient_id, audit_log
):
    book_laser(clinic, owner_ctx.actor, patient_id)
    tab = ConsentsTab(owner_ctx, patient_id)
    tab.host = _hosted(qtbot, tab)
    panel = tab.panel
    qtbot.waitUntil(lambda: panel.unsigned_model.rowCount() == 1, timeout=10_000)

    qtbot.mouseClick(panel.sign_now_button, Qt.MouseButton.LeftButton)
    dialog = panel.sign_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    sign_on(dialog.pad)
    with qtbot.waitSignal(panel.consent_signed, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    close_message_boxes()
    qtbot.waitUntil(lambda: _shows(audit_log, "consent_signed", "stored_documents"), timeout=10_000)

    qtbot.waitUntil(lambda: panel.signed_model.rowCount() == 1, timeout=10_000)
    panel.signed_table.selectRow(0)
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=10_000)
    qtbot.addWidget(tab.preview)
    # Reading the signed copy is an access to the record: the log shows it straight away.
    qtbot.waitUntil(
        lambda: _shows(audit_log, "record_opened", "stored_documents", "open"), timeout=10_000
    )


def test_storing_and_opening_a_document_on_the_documents_tab_shows_in_the_open_log(
    qtbot, owner_ctx, patient_id, audit_log, tmp_path: Path, monkeypatch
):
    scan = tmp_path / "xray.pdf"
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(scan))
    pdf.drawString(72, 720, "Panoramic x-ray, March.")
    pdf.showPage()
    pdf.save()
    tab = DocumentsTab(owner_ctx, patient_id)
    tab.host = _hosted(qtbot, tab)
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)

    monkeypatch.setattr(tab, "ask_open_path", lambda: str(scan))
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _shows(audit_log, "create", "stored_documents"), timeout=10_000)

    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    opened = []
    monkeypatch.setattr(tab, "open_external", lambda url: opened.append(url) or True)
    tab.table.selectRow(0)
    qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(opened) == 1, timeout=10_000)
    qtbot.waitUntil(
        lambda: _shows(audit_log, "record_opened", "stored_documents", "open"), timeout=10_000
    )
