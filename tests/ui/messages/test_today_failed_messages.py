"""Today: "Messages that failed" counts the Outbox's problems, opens the Outbox, and counts
again when a message is retried."""

from __future__ import annotations

import uuid
from datetime import timedelta

from PySide6.QtCore import Qt

from app.clock import utc_now
from app.data.models.messages import Message
from app.services.messages import outbox
from app.ui import ops
from app.ui.today_page import TodayPage


def add_failed(clinic, patient_id: int) -> int:
    with clinic.db.uow() as session:
        moment = utc_now() - timedelta(hours=1)
        message = Message(
            uid=str(uuid.uuid4()),
            kind="custom",
            channel="text",
            state="failed",
            state_changed_at=moment,
            patient_id=patient_id,
            to_address="+12075550121",
            body="Hello",
            due_at=moment,
            attempts=8,
            reason="The gateway did not answer after 8 tries.",
        )
        session.add(message)
        session.flush()
        return message.id


def test_messages_that_failed_are_counted_open_the_outbox_and_recount_after_a_retry(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    message_id = add_failed(clinic, patients.ana)
    page = TodayPage(receptionist_ctx)
    qtbot.addWidget(page)
    page.resize(1366, 700)
    page.show()
    qtbot.waitUntil(lambda: "messages" in page.to_do_buttons, timeout=10_000)
    button = page.to_do_buttons["messages"]
    assert button.accessibleName() == "Messages that failed: 1"
    with qtbot.waitSignal(page.navigate_requested) as sent:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert sent.args == ["outbox"]

    db, actor = receptionist_ctx.db, receptionist_ctx.actor
    [line] = outbox.outbox(db, actor, "problems")
    ops.run_write(lambda: outbox.retry_message(db, actor, message_id, version=line.version))
    qtbot.waitUntil(
        lambda: page.to_do_buttons["messages"].accessibleName() == "Messages that failed: 0",
        timeout=10_000,
    )
