"""Send message…: typed or in a template's words, previewed for the first who will get it,
"n will get it, m skipped: why" before Send, and the outbox holding exactly what was sent."""

from __future__ import annotations

from datetime import UTC, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.clock import utc_now
from app.data.models.appointments import Appointment
from app.data.models.messages import MessageKind
from app.ui import ops
from app.ui.messages.send_dialog import SendMessageDialog
from tests.data.factories import add_provider
from tests.ui.messages.conftest import click, outbox_rows


def open_dialog(qtbot, ctx, patient_ids, **options) -> SendMessageDialog:
    dialog = SendMessageDialog(ctx, patient_ids, **options)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    settle(qtbot, dialog)
    return dialog


def settle(qtbot, dialog: SendMessageDialog) -> None:
    """The recipients and the preview are read (the preview waits for typing to pause)."""
    qtbot.waitUntil(lambda: dialog.recipients is not None, timeout=10_000)
    qtbot.waitUntil(
        lambda: not dialog.preview_timer.isActive() and ops.pending() == 0, timeout=10_000
    )


def send(qtbot, dialog: SendMessageDialog) -> None:
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.saving and ops.pending() == 0, timeout=10_000)


def test_a_typed_text_is_previewed_with_the_patients_name_and_queued_for_them(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    dialog = open_dialog(qtbot, receptionist_ctx, [patients.ana], names=["Ruiz, Ana"])
    assert dialog.intro_label.text() == "To Ruiz, Ana."
    assert dialog.recipients_label.text() == "Ruiz, Ana will get it."
    assert not dialog.fields["subject"].isVisible()  # a text has no subject
    assert "Type the words" in dialog.preview_edit.toPlainText()

    qtbot.keyClicks(dialog.body_edit, "Hello {first_name}, we are closed on Friday.")
    settle(qtbot, dialog)
    assert dialog.fields["preview"].hint_label.text() == "As Ruiz, Ana will read it."
    assert dialog.preview_edit.toPlainText() == (
        "Harbour Dental Care: Hello Ana, we are closed on Friday.\nReply STOP to opt out."
    )
    assert "44 of 640 characters" in dialog.fields["body"].hint_label.text()
    send(qtbot, dialog)

    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.sent is not None and len(dialog.sent.queued) == 1
    [row] = outbox_rows(clinic)
    assert (row.patient_id, row.channel, row.kind, row.state) == (
        patients.ana,
        "text",
        "custom",
        "queued",
    )
    assert row.to_address == "+12075550121"
    assert (
        row.body
        == "Harbour Dental Care: Hello Ana, we are closed on Friday.\nReply STOP to opt out."
    )


def test_to_several_it_says_who_is_skipped_and_why_and_queues_only_the_others(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    ids = [patients.ana, patients.ben, patients.cara]
    dialog = open_dialog(qtbot, receptionist_ctx, ids)
    assert dialog.intro_label.text() == "To 3 patients chosen on the list."
    summary = dialog.recipients_label.text()
    assert summary.startswith("1 will get it. 2 skipped:\n• ")
    assert "Stone, Ben — The patient texted STOP" in summary
    assert "Diaz, Cara — The patient has not agreed to texts." in summary
    assert dialog.save_button.text() == "&Send to 1"

    qtbot.keyClicks(dialog.body_edit, "Our phones are down today; e-mail us instead.")
    send(qtbot, dialog)

    result = dialog.sent
    assert len(result.queued) == 1
    assert sorted((pid, why) for pid, _name, why in result.skipped) == sorted(
        [
            (patients.ben, "The patient texted STOP: no texts until they agree again at the desk."),
            (patients.cara, "The patient has not agreed to texts."),
        ]
    )
    assert [(r.patient_id, r.channel) for r in outbox_rows(clinic)] == [(patients.ana, "text")]


def test_by_email_cara_is_still_skipped_and_ana_gets_it_with_its_subject(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    dialog = open_dialog(qtbot, receptionist_ctx, [patients.ana, patients.cara])
    dialog.channel_combo.setFocus()
    qtbot.keyClicks(dialog.channel_combo, "E")  # the combo's keyboard search: "E-mail"
    settle(qtbot, dialog)
    assert dialog.channel() == "email"
    assert dialog.fields["subject"].isVisible()
    assert dialog.recipients_label.text() == (
        "1 will get it. 1 skipped:\n• Diaz, Cara — The patient has not agreed to e-mail."
    )
    qtbot.keyClicks(dialog.body_edit, "Dear {first_name}, your forms are ready.")
    send(qtbot, dialog)
    # No subject: said beside the subject, nothing queued, the dialog still open.
    assert "subject" in dialog.fields["subject"].error()
    assert dialog.isVisible()
    assert outbox_rows(clinic) == []

    qtbot.keyClicks(dialog.subject_edit, "Your forms")
    settle(qtbot, dialog)
    preview = dialog.preview_edit.toPlainText()
    assert preview.startswith("Subject: Your forms\n\nDear Ana, your forms are ready.")
    send(qtbot, dialog)
    [row] = outbox_rows(clinic)
    assert (row.patient_id, row.channel, row.to_address, row.subject) == (
        patients.ana,
        "email",
        "ana@example.com",
        "Your forms",
    )
    assert f"Subject: {row.subject}\n\n{row.body}" == preview


def test_an_unknown_placeholder_is_named_before_sending_and_nothing_is_queued(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    dialog = open_dialog(qtbot, receptionist_ctx, [patients.ana])
    qtbot.keyClicks(dialog.body_edit, "Hi {nickname}")
    settle(qtbot, dialog)
    assert "{nickname}" in dialog.preview_edit.toPlainText()  # said while still typing
    send(qtbot, dialog)
    assert "{nickname}" in dialog.fields["body"].error()
    assert dialog.body_edit.toPlainText() == "Hi {nickname}"  # nothing typed is lost
    assert outbox_rows(clinic) == []


def test_nobody_reachable_leaves_send_disabled(qtbot, receptionist_ctx, patients) -> None:
    dialog = open_dialog(qtbot, receptionist_ctx, [patients.ben, patients.cara])
    assert dialog.recipients_label.text().startswith("Nobody chosen can get a text. 2 skipped:")
    qtbot.keyClicks(dialog.body_edit, "Hello")
    settle(qtbot, dialog)
    assert not dialog.save_button.isEnabled()


def test_a_confirmation_request_is_worded_by_its_template_for_the_next_visit(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    starts = (utc_now() + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
    with clinic.db.uow() as session:
        provider = add_provider(session)
        session.add(
            Appointment(
                patient_id=patients.ana,
                provider_id=provider.id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
            )
        )
    dialog = open_dialog(
        qtbot,
        receptionist_ctx,
        [patients.ana],
        kind=MessageKind.CONFIRMATION_REQUEST.value,
    )
    assert dialog.kind_combo.currentText() == "Confirmation request"
    assert not dialog.fields["body"].isVisible()  # the template's words, not typed ones
    preview = dialog.preview_edit.toPlainText()
    assert preview.startswith("Harbour Dental Care: ")
    assert "Reply C to confirm" in preview
    send(qtbot, dialog)
    [row] = outbox_rows(clinic)
    assert row.kind == "confirmation_request"
    assert row.appointment_id is not None
    assert row.appointment_starts_at.replace(tzinfo=UTC) == starts.astimezone(UTC)
    assert row.body == preview


def test_ask_answers_none_when_cancelled(qtbot, receptionist_ctx, patients) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SendMessageDialog):
            QTimer.singleShot(10, cancel)
            return
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(0, cancel)
    assert SendMessageDialog.ask(receptionist_ctx, None, [patients.ana]) is None


def test_escape_asks_before_throwing_typed_words_away(
    qtbot, receptionist_ctx, patients, discard_answered, monkeypatch
) -> None:
    from app.ui.messages.send_dialog import DiscardTypedMessage

    dialog = open_dialog(qtbot, receptionist_ctx, [patients.ana])
    qtbot.keyClicks(dialog.body_edit, "Half a thought")
    monkeypatch.setattr(DiscardTypedMessage, "ask", classmethod(lambda cls, parent: False))
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible()  # "Cancel": the words stay
    assert dialog.body_edit.toPlainText() == "Half a thought"
    monkeypatch.setattr(
        DiscardTypedMessage,
        "ask",
        classmethod(lambda cls, parent: discard_answered.append("discard?") or True),
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert discard_answered == ["discard?"]
    assert not dialog.isVisible()


def test_a_reminder_to_a_patient_with_no_visit_says_so_and_sends_nothing(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    dialog = open_dialog(
        qtbot, receptionist_ctx, [patients.ana], kind=MessageKind.APPOINTMENT_REMINDER.value
    )
    assert dialog.preview_edit.toPlainText() == "No upcoming visit to remind of."
    assert not dialog.save_button.isEnabled()
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("recall_due"))
    settle(qtbot, dialog)
    assert dialog.save_button.isEnabled()
    assert outbox_rows(clinic) == []
