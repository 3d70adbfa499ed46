"""The print preview: real documents from a real clinic, shown, re-rendered, printed, saved."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
import shiboken6
from pypdf import PdfReader, PdfWriter
from PySide6.QtCore import Qt
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QProgressDialog
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.patients import Patient
from app.services.billing import plan_handouts
from app.services.billing import treatment_plans as tp
from app.services.errors import ValidationError
from app.services.patients.print_jobs import PrintSubject
from app.ui import ops
from app.ui.print_preview import PrintPreviewDialog, show_document_preview, show_print_preview
from tests.data.factories import add_provider, add_service
from tests.documents.pdfread import pdf_pages_text
from tests.ui.patients.conftest import coordinator_ctx, patient_id

__all__ = ["coordinator_ctx", "patient_id"]

D = Decimal


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=20_000)


def _plan(ctx, patient_id: int, items: int = 2) -> int:
    """A treatment plan with ``items`` items over a few phases (a long one spans pages)."""
    db, actor = ctx.db, ctx.actor
    with db.uow() as s:
        services = [
            add_service(s, name=f"Procedure {n:03d} — implant work", fee=D("120.00") + n).id
            for n in range(min(items, 12))
        ]
    plan = tp.create_plan(db, actor, patient_id, "Replace #14")
    phases = max(1, min(3, items // 10))
    for p in range(phases):
        plan = tp.add_phase(db, actor, plan.id, plan.version, f"Phase {p + 1} work")
    for n in range(items):
        phase = plan.phases[n % phases]
        plan = tp.add_item(
            db, actor, phase.id, plan.version, service_id=services[n % len(services)]
        )
    return plan.id


def _handout_preview(
    qtbot, ctx, patient_id: int, plan_id: int, *, register: bool = True, **kwargs
) -> PrintPreviewDialog:
    db, actor = ctx.db, ctx.actor
    dialog = show_print_preview(
        None,
        ctx=ctx,
        title="Treatment plan handout",
        filename="Treatment plan handout.pdf",
        subject=PrintSubject("treatment plan handout", "treatment_plans", plan_id, patient_id),
        render=lambda language: plan_handouts.plan_handout_pdf(
            db, actor, plan_id, language=language
        ),
        **kwargs,
    )
    if register:  # a window the test closes deletes itself: pytest-qt must not close it again
        qtbot.addWidget(dialog)
    _settle(qtbot)
    return dialog


def _set_language(clinic, patient_id: int, language: str) -> None:
    with clinic.db.uow() as s:
        s.get(Patient, patient_id).preferred_language = language


def _audit(clinic, action: str) -> list[AuditEntry]:
    with clinic.db.uow() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        return [
            AuditEntry(
                action=r.action,
                entity=r.entity,
                entity_id=r.entity_id,
                patient_id=r.patient_id,
                detail=r.detail,
            )
            for r in rows
        ]


def _pdf_printer(path: Path, pages: tuple[int, int] | None = None):
    """What the print dialog would answer: a PDF-file printer, with a page range if given."""

    def choose(_parent, _count: int, _current: int):
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(path))
        if pages is not None:
            printer.setPrintRange(QPrinter.PrintRange.PageRange)
            printer.setFromTo(*pages)
        return printer

    return choose


def test_a_long_handout_shows_every_page_and_pages_with_the_keyboard(
    qtbot, clinic, coordinator_ctx, patient_id
):
    plan_id = _plan(coordinator_ctx, patient_id, items=90)
    dialog = _handout_preview(qtbot, coordinator_ctx, patient_id, plan_id)

    pages = len(PdfReader(io.BytesIO(dialog.content())).pages)
    assert pages >= 3  # a long plan runs over several pages, all of them in the view
    assert dialog.page_count() == pages
    assert dialog.view.pageMode() == QPdfView.PageMode.MultiPage
    assert dialog.stack.currentWidget() is dialog.view
    assert dialog.page_label.text() == f"Page 1 of {pages}"
    assert "Zoë Nguyễn" in pdf_pages_text(dialog.content())[0]
    assert dialog.print_button.isEnabled() and dialog.save_button.isEnabled()
    assert not dialog.isModal()  # the desk keeps working behind it

    qtbot.keyClick(dialog, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: dialog.current_page() == 1)
    assert dialog.page_label.text() == f"Page 2 of {pages}"
    qtbot.keyClick(dialog, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: dialog.current_page() == 0)


def test_zoom_buttons_and_fit_modes(qtbot, coordinator_ctx, patient_id):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id)
    )
    dialog.resize(800, 900)
    assert dialog.view.zoomMode() == QPdfView.ZoomMode.FitToWidth
    qtbot.mouseClick(dialog.zoom_in_button, Qt.MouseButton.LeftButton)
    assert dialog.view.zoomMode() == QPdfView.ZoomMode.Custom
    bigger = dialog.view.zoomFactor()
    qtbot.mouseClick(dialog.zoom_out_button, Qt.MouseButton.LeftButton)
    assert dialog.view.zoomFactor() == pytest.approx(bigger / 1.25)
    for _ in range(20):
        dialog.on_zoom_out()
    assert dialog.view.zoomFactor() == pytest.approx(0.25)  # never shrinks to nothing
    qtbot.mouseClick(dialog.fit_page_button, Qt.MouseButton.LeftButton)
    assert dialog.view.zoomMode() == QPdfView.ZoomMode.FitInView
    assert dialog.fit_page_button.isChecked() and not dialog.fit_width_button.isChecked()
    qtbot.mouseClick(dialog.fit_width_button, Qt.MouseButton.LeftButton)
    assert dialog.view.zoomMode() == QPdfView.ZoomMode.FitToWidth


def test_switching_language_renders_the_document_again(qtbot, clinic, coordinator_ctx, patient_id):
    plan_id = _plan(coordinator_ctx, patient_id)
    dialog = _handout_preview(qtbot, coordinator_ctx, patient_id, plan_id)
    assert dialog.language() == "en" and dialog.language_combo.currentData() == "en"
    english = dialog.content()
    assert "Your treatment plan" in " ".join(pdf_pages_text(english))

    with qtbot.waitSignal(dialog.document_shown, timeout=20_000):
        dialog.language_combo.setCurrentIndex(dialog.language_combo.findData("es"))
        dialog.language_combo.activated.emit(dialog.language_combo.currentIndex())
    _settle(qtbot)

    assert dialog.language() == "es"
    spanish = " ".join(pdf_pages_text(dialog.content()))
    assert "Página 1 de" in spanish and "Your treatment plan" not in spanish
    assert "Zoë Nguyễn" in spanish
    details = [row.detail for row in _audit(clinic, "print") if row.entity == "treatment_plans"]
    assert any("(en_US)" in d for d in details) and any("(es_US)" in d for d in details)


def test_the_default_language_is_the_patients(qtbot, clinic, coordinator_ctx, patient_id):
    _set_language(clinic, patient_id, "es")
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id)
    )
    assert dialog.language_combo.currentText() == "Español"
    assert "Página 1 de" in pdf_pages_text(dialog.content())[0]


def test_a_render_failure_shows_the_services_sentence(qtbot, clinic, coordinator_ctx, patient_id):
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, patient_id, "Nothing in it yet")
    dialog = _handout_preview(qtbot, coordinator_ctx, patient_id, plan.id)

    assert dialog.stack.currentWidget() is dialog.message_label
    assert dialog.message_label.text() == "Add at least one item before printing the handout."
    assert not dialog.print_button.isEnabled() and not dialog.save_button.isEnabled()
    assert dialog.page_label.text() == ""


def test_a_failed_language_switch_keeps_the_document_shown(
    qtbot, clinic, coordinator_ctx, patient_id
):
    plan_id = _plan(coordinator_ctx, patient_id)
    db, actor = coordinator_ctx.db, coordinator_ctx.actor

    def render(language: str) -> bytes:
        if language == "es":
            raise ValidationError("No Spanish wording for this one.")
        return plan_handouts.plan_handout_pdf(db, actor, plan_id, language=language)

    dialog = show_print_preview(
        None,
        ctx=coordinator_ctx,
        title="Handout",
        filename="Handout.pdf",
        subject=PrintSubject("handout", "treatment_plans", plan_id, patient_id),
        render=render,
    )
    qtbot.addWidget(dialog)
    _settle(qtbot)
    english = dialog.content()
    with qtbot.waitSignal(dialog.failed, timeout=20_000) as failure:
        dialog.language_combo.setCurrentIndex(1)
        dialog.language_combo.activated.emit(1)
    assert failure.args == ["No Spanish wording for this one."]
    assert dialog.status_label.text() == "No Spanish wording for this one."
    assert dialog.content() == english and dialog.language() == "en"
    assert dialog.language_combo.currentData() == "en"
    assert dialog.stack.currentWidget() is dialog.view and dialog.print_button.isEnabled()


def test_print_to_a_pdf_printer_keeps_pages_and_text_and_is_audited(
    qtbot, clinic, coordinator_ctx, patient_id, tmp_path
):
    plan_id = _plan(coordinator_ctx, patient_id, items=90)
    dialog = _handout_preview(qtbot, coordinator_ctx, patient_id, plan_id)
    out = tmp_path / "printed.pdf"
    dialog.choose_printer = _pdf_printer(out)

    with qtbot.waitSignal(dialog.printed, timeout=30_000) as printed:
        qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)

    reader = PdfReader(out)
    assert len(reader.pages) == dialog.page_count()
    first = " ".join(reader.pages[0].extract_text().split())
    assert "Zoë Nguyễn" in first and "Replace #14" in first
    assert printed.args == [f"PDF file {out}", dialog.page_count()]
    assert dialog.status_label.text() == (f"Sent {dialog.page_count()} page(s) to PDF file {out}.")
    (row,) = [r for r in _audit(clinic, "print") if r.detail.startswith("sent to printer")]
    assert row.entity == "treatment_plans" and row.entity_id == plan_id
    assert row.patient_id == patient_id
    assert row.detail == (
        f"sent to printer “PDF file {out}”: treatment plan handout (en), "
        f"{dialog.page_count()} page(s)"
    )


def test_print_honours_the_page_range_and_ctrl_p(qtbot, coordinator_ctx, patient_id, tmp_path):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id, items=90)
    )
    out = tmp_path / "page2.pdf"
    dialog.choose_printer = _pdf_printer(out, pages=(2, 2))
    with qtbot.waitSignal(dialog.printed, timeout=30_000):
        qtbot.keyClick(dialog, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    (page,) = PdfReader(out).pages
    text = " ".join(page.extract_text().split())
    assert "Page 2 of" in text and "Page 1 of" not in text


def test_cancelling_the_print_dialog_prints_nothing(qtbot, clinic, coordinator_ctx, patient_id):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id)
    )
    dialog.choose_printer = lambda *_: None
    qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert dialog.status_label.text() == ""
    assert not [r for r in _audit(clinic, "print") if r.detail.startswith("sent to printer")]


def test_save_a_copy_writes_the_exact_bytes_and_is_audited(
    qtbot, clinic, coordinator_ctx, patient_id, tmp_path
):
    plan_id = _plan(coordinator_ctx, patient_id)
    dialog = _handout_preview(qtbot, coordinator_ctx, patient_id, plan_id)
    asked: list[Path] = []

    def choose(_parent, suggested: Path):
        asked.append(suggested)
        return tmp_path / "copy"  # no suffix typed: .pdf is added

    dialog.choose_save_path = choose
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)

    assert asked == [Path.home() / "Treatment plan handout.pdf"]
    assert (tmp_path / "copy.pdf").read_bytes() == dialog.content()
    assert dialog.status_label.text() == f"Saved a copy to {tmp_path / 'copy.pdf'}."
    (row,) = _audit(clinic, "export")
    assert (row.entity, row.entity_id, row.patient_id) == ("treatment_plans", plan_id, patient_id)
    assert row.detail == (f"saved a copy: treatment plan handout (en) to {tmp_path / 'copy.pdf'}")


def test_a_copy_that_cannot_be_written_says_so_and_loses_nothing(
    qtbot, clinic, coordinator_ctx, patient_id, tmp_path
):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id)
    )
    content = dialog.content()
    bad = tmp_path / "no such folder" / "copy.pdf"
    dialog.choose_save_path = lambda *_: bad
    with qtbot.waitSignal(dialog.failed, timeout=20_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.status_label.text().startswith(f"CareDesk could not save to {bad}")
    assert not bad.exists() and not _audit(clinic, "export")
    assert dialog.content() == content and dialog.save_button.isEnabled()

    dialog.choose_save_path = lambda *_: tmp_path
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "is a folder" in dialog.status_label.text()

    dialog.choose_save_path = lambda *_: tmp_path / "second try.pdf"
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert (tmp_path / "second try.pdf").read_bytes() == content


def _stored_preview(qtbot, ctx, content: bytes) -> PrintPreviewDialog:
    dialog = show_document_preview(
        None,
        ctx=ctx,
        title="scan.pdf",
        filename="scan.pdf",
        subject=PrintSubject("document scan.pdf", "stored_documents", 1, None),
        content=content,
    )
    qtbot.addWidget(dialog)
    return dialog


def test_an_unreadable_pdf_shows_a_message(qtbot, coordinator_ctx):
    dialog = _stored_preview(qtbot, coordinator_ctx, b"%PDF-1.7\nthis is not really a PDF")
    assert dialog.stack.currentWidget() is dialog.message_label
    assert "could not be read" in dialog.message_label.text()
    assert not dialog.print_button.isEnabled() and not dialog.save_button.isEnabled()
    assert not dialog.language_combo.isVisible()  # a stored document has one language


def test_a_pdf_without_pages_shows_a_message(qtbot, coordinator_ctx):
    empty = io.BytesIO()
    PdfWriter().write(empty)
    dialog = _stored_preview(qtbot, coordinator_ctx, empty.getvalue())
    assert dialog.stack.currentWidget() is dialog.message_label
    assert dialog.message_label.text() in (
        "This document has no pages to show or print.",
        "This document could not be read (it may be damaged), so it cannot be shown or printed.",
    )
    assert not dialog.print_button.isEnabled()


def test_closing_drops_the_documents_bytes(qtbot, coordinator_ctx, patient_id):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id), register=False
    )
    assert dialog.content().startswith(b"%PDF-")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert dialog.content() == b"" and dialog.page_count() == 0
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog))  # the window went with its bytes


def test_the_record_headers_print_menu_previews_intake_and_consent_forms(
    qtbot, clinic, coordinator_ctx, patient_id, monkeypatch
):
    from app.ui.patients.record_header import ConsentChoiceDialog, RecordHeader

    header = RecordHeader(coordinator_ctx, patient_id)
    qtbot.addWidget(header)
    header.show()
    assert header.print_button.isVisible()
    assert [a.text() for a in header.print_menu.actions()] == [
        "&Intake form (pre-filled)",
        "&Blank intake form",
        "&Consent form for signature…",
        "",  # the separator before the copy of the record, which is no printout
        "E&xport a copy of the record…",
    ]

    header.intake_action.trigger()
    _settle(qtbot)
    text = " ".join(pdf_pages_text(header.preview.content()))
    assert "Zoë Nguyễn" in text and header.preview.language() == "en"

    header.blank_intake_action.trigger()
    _settle(qtbot)
    blank = PdfReader(io.BytesIO(header.preview.content()))
    assert blank.get_fields()  # fillable on a tablet

    with clinic.db.uow() as s:
        provider_id = add_provider(s, name="Fay Moss", credentials="DDS").id
    offered = []

    def choose(cls, parent, choices):
        offered.append(choices)
        dialog = cls(parent, choices)
        qtbot.addWidget(dialog)
        combo = dialog.provider_combo
        assert combo.itemText(0) == "A line to fill in by hand"
        assert combo.currentData() is None  # no visit booked, no provider of their own
        combo.setCurrentIndex(combo.findData(provider_id))
        dialog.procedure_edit.setText("Implant placement")
        return dialog.choice()

    monkeypatch.setattr(ConsentChoiceDialog, "ask", classmethod(choose))
    header.consent_action.trigger()
    _settle(qtbot)
    assert offered and len(offered[0].templates) >= 5  # the starter set
    consent = " ".join(pdf_pages_text(header.preview.content()))
    assert "Zoë Nguyễn" in consent and "Implant placement" in consent
    assert "performed by Dr. Fay Moss, DDS" in consent
    assert any(r.entity == "consent_versions" for r in _audit(clinic, "print"))


def test_the_consent_dialog_names_the_next_visits_provider_first(
    qtbot, clinic, coordinator_ctx, patient_id
):
    from datetime import timedelta

    from app.clock import utc_now
    from app.data.models import Patient
    from app.services.patients.print_jobs import printable_consents
    from app.ui.patients.record_header import ConsentChoiceDialog
    from tests.data.factories import add_appointment

    with clinic.db.uow() as s:
        first = add_provider(s, name="Ada Park", position=1)
        second = add_provider(s, name="Fay Moss", credentials="DDS", position=2)
        starts = utc_now() + timedelta(days=3)
        add_appointment(
            s, s.get(Patient, patient_id), second, starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
        )  # fmt: skip
        first_id, second_id = first.id, second.id
    choices = printable_consents(coordinator_ctx.db, coordinator_ctx.actor, patient_id)
    dialog = ConsentChoiceDialog(None, choices)
    qtbot.addWidget(dialog)
    combo = dialog.provider_combo
    assert [combo.itemData(i) for i in range(combo.count())][:3] == [None, first_id, second_id]
    assert combo.currentText() == "Dr. Fay Moss, DDS"
    assert dialog.choice()[3] == second_id


def test_a_long_print_job_shows_its_progress(qtbot, coordinator_ctx, patient_id, tmp_path):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id, items=90)
    )
    out = tmp_path / "printed.pdf"
    dialog.choose_printer = _pdf_printer(out)
    seen: list[tuple[str, int, int]] = []
    make_dialog = dialog._progress_dialog

    def watched(total: int):
        progress = make_dialog(total)
        set_value = progress.setValue

        def record(value: int) -> None:
            seen.append((progress.labelText(), value, progress.maximum()))
            set_value(value)

        progress.setValue = record
        return progress

    dialog._progress_dialog = watched
    with qtbot.waitSignal(dialog.printed, timeout=30_000):
        qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)

    pages = dialog.page_count()
    assert pages > 1 and len(PdfReader(out).pages) == pages
    assert seen[0] == (f"Preparing page 1 of {pages} for the printer…", 0, pages)
    assert seen[-1][1:] == (pages, pages)
    qtbot.waitUntil(lambda: not dialog.findChildren(QProgressDialog))  # gone once sent


def test_cancelling_a_print_job_part_way_sends_nothing(
    qtbot, clinic, coordinator_ctx, patient_id, tmp_path
):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id, items=90)
    )
    out = tmp_path / "printed.pdf"
    dialog.choose_printer = _pdf_printer(out)
    make_dialog = dialog._progress_dialog

    def cancelled_on_page_two(total: int):
        progress = make_dialog(total)
        set_value = progress.setValue

        def cancel_at_page_two(value: int) -> None:
            set_value(value)
            if value == 1:
                progress.cancel()  # what the Cancel button does

        progress.setValue = cancel_at_page_two
        return progress

    dialog._progress_dialog = cancelled_on_page_two
    qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)

    assert dialog.status_label.text() == "Printing canceled: nothing was sent to the printer."
    assert not [r for r in _audit(clinic, "print") if r.detail.startswith("sent to printer")]
    assert not out.exists()
    assert dialog.print_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.findChildren(QProgressDialog))


def test_a_one_page_job_prints_without_a_progress_window(
    qtbot, coordinator_ctx, patient_id, tmp_path
):
    dialog = _handout_preview(
        qtbot, coordinator_ctx, patient_id, _plan(coordinator_ctx, patient_id, items=90)
    )
    out = tmp_path / "page1.pdf"
    dialog.choose_printer = _pdf_printer(out, pages=(1, 1))
    dialog._progress_dialog = lambda total: pytest.fail("no progress window for one page")
    with qtbot.waitSignal(dialog.printed, timeout=30_000):
        qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)
    assert len(PdfReader(out).pages) == 1
