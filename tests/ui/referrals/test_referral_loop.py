"""An outgoing referral from the record to its close, driven as a coordinator would: New
referral… with two records picked, Save and send…, Visit booked…, Seen…, File report… from
a real PDF on disk, the provider acknowledges it (signed in as himself), Close referral —
and what each step stored, read back from the database."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from sqlalchemy import select

from app.data.models.documents import StoredDocument
from app.data.models.referrals import Referral, ReferralEvent
from app.data.models.tasks import Task
from app.i18n import format_date
from app.services.patients.documents import add_document
from app.services.referrals import referrals as rs
from app.ui.patients.referrals_tab import ReferralsTab
from app.ui.print_preview import PrintPreviewDialog
from app.ui.referrals.new_referral import NewReferralDialog
from app.ui.referrals.referral_window import (
    EndReferralDialog,
    ReferralDateDialog,
    ReferralWindow,
    SendReferralDialog,
    open_referral_window,
    referral_windows_of,
)
from tests.documents.pdfread import pdf_pages_text
from tests.ui.referrals.conftest import WAIT_MS, pdf_bytes


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def stored(db, referral_id: int) -> tuple[Referral, list[ReferralEvent]]:
    with db.uow() as session:
        referral = session.get(Referral, referral_id)
        session.expunge(referral)
        events = list(
            session.scalars(
                select(ReferralEvent)
                .where(ReferralEvent.referral_id == referral_id)
                .order_by(ReferralEvent.id)
            )
        )
        for event in events:
            session.expunge(event)
        return referral, events


def wait_for_status(qtbot, window: ReferralWindow, status: str) -> None:
    qtbot.waitUntil(
        lambda: window.line is not None and window.line.status == status and not window.busy,
        timeout=WAIT_MS,
    )


def test_a_referral_goes_from_the_record_to_closed(
    qtbot, answer, coordinator_ctx, provider_ctx, patient_id, specialist_id, tmp_path
):
    ctx, db = coordinator_ctx, coordinator_ctx.db
    today = ctx.today()
    panoramic = add_document(db, ctx.actor, patient_id, "Panoramic.pdf", pdf_bytes("Pano"))
    add_document(db, ctx.actor, patient_id, "Intake.pdf", pdf_bytes("Intake"))
    periapical = add_document(db, ctx.actor, patient_id, "Periapical 38.pdf", pdf_bytes("PA"))

    tab = ReferralsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=WAIT_MS)
    assert tab.empty_label.text().startswith("No referrals for this patient.")

    def fill_referral(dialog: NewReferralDialog) -> None:
        qtbot.waitUntil(lambda: dialog.choices_loaded)
        qtbot.waitUntil(lambda: dialog.provider_combo.count() == 2)
        # The specialist found by typing part of the name, picked from the matches.
        picker = dialog.contact_picker
        qtbot.keyClicks(picker.line_edit, "Lee Oral")
        qtbot.waitUntil(lambda: picker.choices_model.rowCount() == 1, timeout=WAIT_MS)
        picker.completer.popup().setCurrentIndex(picker.completer.completionModel().index(0, 0))
        qtbot.keyClick(picker.completer.popup(), Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: picker.contact_id() == specialist_id, timeout=WAIT_MS)
        dialog.provider_combo.setCurrentIndex(1)  # Dr. Okafor refers
        qtbot.keyClicks(dialog.reason_edit, "Impacted 38, recurrent pericoronitis.")
        qtbot.waitUntil(lambda: dialog.visit_days != {}, timeout=WAIT_MS)
        dialog.urgency_combo.setCurrentIndex(dialog.urgency_combo.findData("soon"))
        # The visit is due by the clinic's days for a "soon" referral (14 unless changed).
        assert dialog.visit_due_on() == today + timedelta(days=14)
        dialog.check_record("document", panoramic.id)
        dialog.check_record("document", periapical.id)
        qtbot.keyClicks(dialog.extra_edit, "Study models")
        click(qtbot, dialog.send_button)

    def fill_send(dialog: SendReferralDialog) -> None:
        dialog.via_combo.setCurrentIndex(dialog.via_combo.findData("fax"))
        assert dialog.print_check.isChecked()  # the packet to fax is offered
        click(qtbot, dialog.save_button)

    answer(NewReferralDialog, fill_referral)
    answer(SendReferralDialog, fill_send)
    click(qtbot, tab.new_button)
    qtbot.waitUntil(lambda: referral_windows_of(ctx) != [], timeout=WAIT_MS)
    window = referral_windows_of(ctx)[0]
    qtbot.addWidget(window)
    wait_for_status(qtbot, window, "sent")
    referral_id = window.referral_id

    # The packet to fax opened in the print preview: the letter to the specialist.
    qtbot.waitUntil(lambda: tab.findChildren(PrintPreviewDialog) != [], timeout=WAIT_MS)
    [packet] = tab.findChildren(PrintPreviewDialog)
    qtbot.waitUntil(lambda: packet.page_count() >= 1, timeout=WAIT_MS)
    letter = " ".join(pdf_pages_text(packet.content()))
    assert "Lee Oral Surgery" in letter and "Impacted 38" in letter
    packet.close()

    referral, events = stored(db, referral_id)
    assert (referral.direction, referral.status, referral.sent_via) == ("outgoing", "sent", "fax")
    assert referral.contact_id == specialist_id and referral.urgency == "soon"
    assert referral.attached_records == "Study models"
    assert referral.visit_due_on == today + timedelta(days=14)
    assert [e.to_status for e in events if e.kind == "status"] == ["draft", "sent"]
    assert [e.kind for e in events].count("letter") == 1  # the packet printed, on the timeline
    detail = rs.referral_detail(db, ctx.actor, referral_id)
    assert sorted(r.title for r in detail.records) == ["Panoramic.pdf", "Periapical 38.pdf"]
    # The record's tab lists it, at its stage.
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    assert tab.model.data(tab.model.index(0, 2)) == "Sent"

    # Only the steps valid for "sent" are offered.
    assert window.visible_steps() == ["Visit &booked…", "&Decline…", "Ca&ncel referral…"]
    assert window.records_list.count() == 2

    visit_on = today + timedelta(days=9)

    def fill_visit(dialog: ReferralDateDialog) -> None:
        dialog.date_edit.setDate(dialog.date_edit.date().addDays(9))
        click(qtbot, dialog.save_button)

    answer(ReferralDateDialog, fill_visit)
    click(qtbot, window.book_button)
    wait_for_status(qtbot, window, "booked")
    referral, _ = stored(db, referral_id)
    assert referral.visit_on == visit_on
    assert "S&een…" in window.visible_steps()

    def fill_seen(dialog: ReferralDateDialog) -> None:
        click(qtbot, dialog.save_button)  # seen today (the day offered)

    answer(ReferralDateDialog, fill_seen)
    click(qtbot, window.seen_button)
    wait_for_status(qtbot, window, "seen")
    assert stored(db, referral_id)[0].seen_on == today

    report = tmp_path / "Lee report.pdf"
    report.write_bytes(pdf_bytes("Extraction done, healing well", pages=2))
    window.ask_open_path = lambda: str(report)
    click(qtbot, window.report_button)
    wait_for_status(qtbot, window, "report_received")
    referral, _ = stored(db, referral_id)
    with db.uow() as session:
        document = session.get(StoredDocument, referral.report_document_id)
        assert document.patient_id == patient_id
        assert document.content == report.read_bytes()
        review = session.scalars(select(Task).where(Task.referral_id == referral_id)).one()
        assert (review.kind, review.status) == ("report_review", "open")
        assert review.assignee_id == provider_ctx.actor.staff_id
    # The coordinator cannot acknowledge it, nor close it before the provider has.
    assert window.visible_steps() == []
    assert not window.acknowledge_button.isVisibleTo(window)
    assert window.next_label.text() == "Next: Provider to acknowledge the report"

    provider_window = ReferralWindow(provider_ctx, referral_id)
    qtbot.addWidget(provider_window)
    provider_window.show()
    wait_for_status(qtbot, provider_window, "report_received")
    assert provider_window.visible_steps() == ["&Acknowledge report"]
    click(qtbot, provider_window.acknowledge_button)
    qtbot.waitUntil(lambda: provider_window.report_acknowledged(), timeout=WAIT_MS)
    with db.uow() as session:
        review = session.get(Task, review.id)
        assert (review.status, review.resolution) == ("done", "Report acknowledged")
        assert session.get(Referral, referral_id).report_acknowledged_by_id == (
            provider_ctx.actor.staff_id
        )

    # The coordinator's window heard of it and now offers Close.
    qtbot.waitUntil(lambda: window.close_referral_button.isVisible(), timeout=WAIT_MS)
    click(qtbot, window.close_referral_button)
    wait_for_status(qtbot, window, "closed")
    referral, events = stored(db, referral_id)
    assert referral.closed_on == today
    assert [e.to_status for e in events if e.to_status] == [
        "draft",
        "sent",
        "booked",
        "seen",
        "report_received",
        "closed",
    ]
    assert all(e.by_id is not None for e in events)
    # Its timeline shows every step, dated, by whom.
    model = window.timeline_model
    timeline = [
        (model.data(model.index(r, 1)), model.data(model.index(r, 2)))
        for r in range(model.rowCount())
    ]
    visit = format_date(visit_on, ctx.details.locale)
    day = format_date(today, ctx.details.locale)
    assert timeline == [
        ("Cora Coordinator", "Referral drafted"),
        ("Cora Coordinator", f"Sent on {day}: Fax"),
        ("Cora Coordinator", "Letter printed: Referral packet"),
        ("Cora Coordinator", f"Visit booked for {visit}"),
        ("Cora Coordinator", f"Patient seen on {day}"),
        ("Cora Coordinator", f"Report received on {day}"),
        ("Daniel Okafor", "Note: Report acknowledged"),
        ("Cora Coordinator", "Referral closed"),
    ]
    assert all(model.data(model.index(r, 0)) for r in range(model.rowCount()))  # each dated
    assert window.visible_steps() == []
    assert not window.call_button.isVisible()
    # The record's tab heard of it too: the referral's end, dated.
    qtbot.waitUntil(lambda: tab.model.data(tab.model.index(0, 2)) == "Closed", timeout=WAIT_MS)
    assert tab.model.data(tab.model.index(0, 4)) == f"Closed {day}"


def test_a_stale_step_says_so_and_reloads(
    qtbot, answer, coordinator_ctx, patient_id, specialist_id
):
    ctx, db = coordinator_ctx, coordinator_ctx.db
    line = rs.create_outgoing(
        db, ctx.actor, patient_id=patient_id, contact_id=specialist_id, provider_id=None,
        reason="Ortho assessment",
    )  # fmt: skip
    window = open_referral_window(ctx, line.id)
    qtbot.addWidget(window)
    wait_for_status(qtbot, window, "draft")
    assert window.visible_steps() == ["Ed&it draft…", "&Send…", "Ca&ncel referral…"]
    # Another desk sends it meanwhile; this window still shows the draft's version.
    rs.mark_sent(db, ctx.actor, line.id, version=line.version, via="post")

    def fill_cancel(dialog: EndReferralDialog) -> None:
        click(qtbot, dialog.save_button)  # no reason: refused beside the field
        assert dialog.fields["reason"].error() == "Say why the referral ends."
        qtbot.keyClicks(dialog.reason_edit, "Patient chose another surgeon")
        click(qtbot, dialog.save_button)
        qtbot.waitUntil(lambda: dialog.message_label.text() != "", timeout=WAIT_MS)
        assert "changed" in dialog.message_label.text()
        dialog.reject()

    answer(EndReferralDialog, fill_cancel)
    click(qtbot, window.cancel_button)
    wait_for_status(qtbot, window, "sent")
    assert stored(db, line.id)[0].status == "sent"  # nothing was canceled
    assert window.visible_steps() == ["Visit &booked…", "&Decline…", "Ca&ncel referral…"]


def test_a_draft_without_a_specialist_is_finished_and_sent(
    qtbot, answer, coordinator_ctx, patient_id, specialist_id
):
    ctx, db = coordinator_ctx, coordinator_ctx.db
    document = add_document(db, ctx.actor, patient_id, "Panoramic.pdf", pdf_bytes("Pano"))
    line = rs.create_outgoing(
        db, ctx.actor, patient_id=patient_id, contact_id=None, provider_id=None,
        reason="Ortho assessment", document_ids=[document.id], urgency="urgent",
    )  # fmt: skip
    window = open_referral_window(ctx, line.id)
    qtbot.addWidget(window)
    wait_for_status(qtbot, window, "draft")
    assert window.title_label.text().startswith("Referral to a specialist not yet chosen")

    def finish(dialog: NewReferralDialog) -> None:
        qtbot.waitUntil(lambda: dialog.choices_loaded, timeout=WAIT_MS)
        assert dialog.windowTitle() == "Finish the draft referral"
        assert dialog.reason_edit.toPlainText() == "Ortho assessment"
        assert dialog.urgency_combo.currentData() == "urgent"
        assert dialog.picked("document") == (document.id,)  # what the draft had picked
        click(qtbot, dialog.send_button)  # no specialist yet: refused beside the field
        assert dialog.fields["contact_id"].error() == "Choose the specialist it goes to."
        dialog.contact_picker.set_contact_id(specialist_id)
        click(qtbot, dialog.send_button)

    def send(dialog: SendReferralDialog) -> None:
        dialog.via_combo.setCurrentIndex(dialog.via_combo.findData("patient"))
        dialog.print_check.setChecked(False)
        click(qtbot, dialog.save_button)

    answer(NewReferralDialog, finish)
    answer(SendReferralDialog, send)
    click(qtbot, window.edit_button)
    wait_for_status(qtbot, window, "sent")
    referral, _ = stored(db, line.id)
    assert (referral.contact_id, referral.sent_via) == (specialist_id, "patient")
    assert referral.reason == "Ortho assessment"
