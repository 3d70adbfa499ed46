"""Record → Documents: add real files, refuse fakes and giants, open, save a copy, print."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.services.patients import documents
from app.services.patients.documents import MAX_DOCUMENT_BYTES, DocumentLine
from app.ui.patients.documents_tab import DocumentsTab, DocumentTableModel


@pytest.fixture
def pdf_file(tmp_path: Path) -> Path:
    from reportlab.pdfgen import canvas

    path = tmp_path / "Referral letter — Dr Haddad.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 720, "Referral for Zoe Nguyen: please assess tooth 36.")
    pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "xray-2026-03.png"
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("#3a6ea5"))
    assert image.save(str(path), "PNG")
    return path


def make_tab(qtbot, ctx, patient_id) -> DocumentsTab:
    # Hosted like the record window hosts it, so a test can destroy the tab alone.
    host = QWidget()
    qtbot.addWidget(host)
    tab = DocumentsTab(ctx, patient_id, host)
    QVBoxLayout(host).addWidget(tab)
    host.resize(1000, 500)
    host.show()
    tab.test_host = host  # qtbot keeps only a weak reference
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    return tab


def add_through_tab(qtbot, tab, monkeypatch, path: Path) -> None:
    monkeypatch.setattr(tab, "ask_open_path", lambda: str(path))
    before = tab.model.rowCount()
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: tab.model.rowCount() > before or "not" in tab.message_label.text(),
        timeout=10_000,
    )


def column(tab, col: int) -> list[str]:
    return [tab.model.data(tab.model.index(r, col)) for r in range(tab.model.rowCount())]


def test_empty_record_says_how_to_add(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert tab.empty_label.isVisible()
    assert tab.empty_label.text().startswith("No documents in this record yet.")
    assert not tab.open_button.isEnabled()


def test_add_a_pdf_and_a_png(qtbot, coordinator_ctx, patient_id, pdf_file, png_file, monkeypatch):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.kind_combo.setCurrentIndex(tab.kind_combo.findData("referral_letter"))
    add_through_tab(qtbot, tab, monkeypatch, pdf_file)
    assert tab.message_label.text() == f"Added “{pdf_file.name}”."
    tab.kind_combo.setCurrentIndex(tab.kind_combo.findData("scan"))
    add_through_tab(qtbot, tab, monkeypatch, png_file)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=10_000)
    assert column(tab, 0) == ["xray-2026-03.png", "Referral letter — Dr Haddad.pdf"]
    assert column(tab, 1) == ["Scan", "Referral letter"]
    assert column(tab, 2) == ["PNG image", "PDF"]
    assert column(tab, 5) == ["Cora Coordinator", "Cora Coordinator"]
    assert tab.table.isVisible() and tab.open_button.isEnabled()


def test_a_text_file_named_pdf_is_refused(
    qtbot, coordinator_ctx, patient_id, tmp_path, monkeypatch
):
    fake = tmp_path / "invoice.pdf"
    fake.write_text("Just some text pretending to be a PDF.")
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    add_through_tab(qtbot, tab, monkeypatch, fake)
    assert "is not a PDF, PNG or JPEG" in tab.message_label.text()
    assert tab.model.rowCount() == 0
    assert documents.list_documents(coordinator_ctx.db, coordinator_ctx.actor, patient_id) == []


def test_an_oversized_file_is_refused(qtbot, coordinator_ctx, patient_id, tmp_path, monkeypatch):
    huge = tmp_path / "scan.pdf"
    with huge.open("wb") as file:
        file.write(b"%PDF-1.4\n")
        file.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: no 20 MB written to the test disk
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    monkeypatch.setattr(tab, "ask_open_path", lambda: str(huge))
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    assert tab.message_label.text() == ("The file is 20.0 MB; the most CareDesk stores is 20 MB.")
    assert tab.model.rowCount() == 0


def stored(ctx, patient_id, path: Path, kind: str = "scan") -> DocumentLine:
    return documents.add_document(ctx.db, ctx.actor, patient_id, path.name, path.read_bytes(), kind)


def test_save_a_copy_writes_the_same_bytes(
    qtbot, coordinator_ctx, patient_id, pdf_file, tmp_path, monkeypatch
):
    stored(coordinator_ctx, patient_id, pdf_file)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    target = tmp_path / "out" / "copy.pdf"
    target.parent.mkdir()
    suggested: list[str] = []
    monkeypatch.setattr(tab, "ask_save_path", lambda name: suggested.append(name) or str(target))
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved a copy" in tab.message_label.text(), timeout=10_000)
    assert suggested == [pdf_file.name]
    assert target.read_bytes() == pdf_file.read_bytes()


def test_open_uses_a_private_temp_file_removed_with_the_tab(
    qtbot, coordinator_ctx, patient_id, png_file, monkeypatch
):
    stored(coordinator_ctx, patient_id, png_file)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    opened: list[QUrl] = []
    monkeypatch.setattr(tab, "open_external", lambda url: opened.append(url) or True)
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Return)  # Enter opens the selected document
    qtbot.waitUntil(lambda: len(opened) == 1, timeout=10_000)
    path = Path(opened[0].toLocalFile())
    assert path.read_bytes() == png_file.read_bytes()
    assert path.stat().st_mode & 0o077 == 0  # nobody else on the computer can read it
    # Named by the document's id and kind, not by its file name (which may name the patient).
    assert re.fullmatch(r"document-\d+\.png", path.name) and png_file.stem not in path.name
    assert "Opened" in tab.message_label.text()
    gone: list[bool] = []
    tab.destroyed.connect(lambda *_: gone.append(True))
    tab.deleteLater()  # the record window closing
    qtbot.waitUntil(lambda: gone == [True])
    assert not path.exists() and not path.parent.exists()


def test_print_an_image_to_a_printer(
    qtbot, coordinator_ctx, patient_id, png_file, tmp_path, monkeypatch
):
    stored(coordinator_ctx, patient_id, png_file)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    output = tmp_path / "printed.pdf"

    def printer():
        result = QPrinter(QPrinter.PrinterMode.HighResolution)
        result.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        result.setOutputFileName(str(output))
        return result

    monkeypatch.setattr(tab, "ask_printer", printer)
    qtbot.mouseClick(tab.print_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Sent" in tab.message_label.text(), timeout=10_000)
    assert len(PdfReader(output).pages) == 1


def test_print_a_pdf_opens_it_in_the_print_preview(
    qtbot, coordinator_ctx, patient_id, pdf_file, tmp_path
):
    stored(coordinator_ctx, patient_id, pdf_file)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    qtbot.mouseClick(tab.print_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=10_000)
    preview = tab.preview
    assert preview.content() == pdf_file.read_bytes() and preview.page_count() >= 1
    assert not preview.language_combo.isVisible()  # a stored PDF is in one language
    assert "is open in the print preview" in tab.message_label.text()
    out = tmp_path / "printed.pdf"

    def to_pdf_file(_parent, _count, _current):
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(out))
        return printer

    preview.choose_printer = to_pdf_file
    with qtbot.waitSignal(preview.printed, timeout=20_000):
        qtbot.mouseClick(preview.print_button, Qt.MouseButton.LeftButton)
    assert len(PdfReader(out).pages) == preview.page_count()


def test_provider_sees_no_add_button(qtbot, provider_ctx, patient_id):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert not tab.add_button.isVisible()
    assert tab.print_button.isVisible()
    assert tab.empty_label.text() == "No documents in this record yet."


def test_document_model_passes_the_model_tester(qtmodeltester, coordinator_ctx):
    model = DocumentTableModel(coordinator_ctx)
    when = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    model.set_rows(
        [
            DocumentLine(1, 1, "scan", "a.png", "image/png", 812, "x", when, "Rita"),
            DocumentLine(2, 1, "other", "b.pdf", "application/pdf", 3 * 1024 * 1024, "y", when, ""),
            DocumentLine(3, 1, "consent", "c.jpg", "image/jpeg", 15_000, "z", when, "Cora"),
        ]
    )
    qtmodeltester.check(model)
    assert [model.data(model.index(r, 3)) for r in range(3)] == ["812 bytes", "3.0 MB", "15 KB"]
