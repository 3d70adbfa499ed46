"""Record → Communication log: the patient's messages in the outbox under the log, and
"Send message…" writing one to this patient."""

from __future__ import annotations

from datetime import UTC, datetime

from app.data.models.messages import Message
from app.ui import ops
from app.ui.patients.communications_tab import CommunicationsTab
from tests.ui.messages.conftest import answer_send_dialog, click, outbox_rows, send_words


def make_tab(qtbot, ctx, patient_id: int) -> CommunicationsTab:
    tab = CommunicationsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 600)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded and tab.messages_loaded, timeout=10_000)
    return tab


def cells(tab: CommunicationsTab, column: int) -> list[str]:
    model = tab.messages_model
    return [model.data(model.index(r, column)) for r in range(model.rowCount())]


def test_send_message_from_the_record_lists_it_under_the_log(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patients.ana)
    assert tab.messages_empty.text() == (
        "No messages to this patient yet. Use “Send message…” to write one."
    )
    intros: list[str] = []
    typing = send_words(qtbot, "See you soon, {first_name}.")

    def answer(dialog) -> None:
        intros.append(dialog.intro_label.text())
        typing(dialog)

    answer_send_dialog(qtbot, answer)
    click(qtbot, tab.send_button)
    qtbot.waitUntil(lambda: tab.messages_model.rowCount() == 1, timeout=10_000)

    assert intros == ["To Ruiz, Ana."]
    assert tab.sent_label.text() == "1 text queued."
    assert cells(tab, 1) == ["Custom message"]
    assert cells(tab, 2) == ["Text"]
    assert cells(tab, 3) == ["+12075550121"]
    assert cells(tab, 4) == ["Queued"]
    assert cells(tab, 5)[0].startswith("Harbour Dental Care: See you soon, Ana.")
    assert tab.messages_title.text() == "Messages (1)"
    [row] = outbox_rows(clinic)
    assert (row.patient_id, row.state) == (patients.ana, "queued")


def test_a_failed_message_shows_in_red_with_why(qtbot, clinic, receptionist_ctx, patients) -> None:
    with clinic.db.uow() as session:
        session.add(
            Message(
                uid="0b8f3c1e-1111-4c1e-9a59-000000000001",
                kind="appointment_reminder",
                channel="email",
                state="bounced",
                patient_id=patients.ana,
                to_address="ana@example.com",
                subject="Reminder",
                body="Your visit",
                due_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
                reason="The mail server said the mailbox does not exist (550).",
            )
        )
    tab = make_tab(qtbot, receptionist_ctx, patients.ana)
    assert cells(tab, 4) == ["⚠ Bounced"]
    assert cells(tab, 5) == ["The mail server said the mailbox does not exist (550)."]
    assert tab.messages_title.text() == "Messages (1) · 1 failed"


def test_a_provider_reads_the_messages_but_sends_none(qtbot, clinic, patients) -> None:
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul", Role.PROVIDER, STAFF_PASSWORD)
    tab = make_tab(qtbot, make_context(clinic, "paul", STAFF_PASSWORD), patients.ana)
    assert not tab.send_button.isVisible()
    assert tab.messages_empty.text() == "No messages to this patient yet."
    assert ops.pending() == 0
