"""Today's "Messages that failed": the Outbox's problems (failed, bounced, stuck while
sending), counted by the Outbox's own rule, for those who may retry or cancel them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.data.models.messages import Message
from app.services.clinic import to_do
from app.services.messages import outbox
from tests.data.factories import add_patient

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def add_messages(clinic, states_and_ages) -> None:
    """One message per (state, minutes since its state changed)."""
    with clinic.db.uow() as session:
        patient = add_patient(session, mobile_phone="+12075550121", may_text=True)
        for state, minutes in states_and_ages:
            moment = NOW - timedelta(minutes=minutes)
            session.add(
                Message(
                    uid=str(uuid.uuid4()),
                    kind="appointment_reminder",
                    channel="text",
                    state=state,
                    state_changed_at=moment,
                    patient_id=patient.id,
                    to_address="+12075550121",
                    body="Reminder",
                    due_at=moment,
                    reason="The gateway refused it." if state == "failed" else "",
                )
            )


def test_failed_bounced_and_stuck_messages_are_counted_and_lead_to_the_outbox(
    clinic, make_staff
) -> None:
    add_messages(
        clinic,
        [
            ("failed", 30),
            ("bounced", 600),
            ("sending", 60),  # the sender stopped an hour ago: a problem
            ("sending", 1),  # being sent now: not yet
            ("queued", 5),
            ("sent", 5),
            ("cancelled", 5),
        ],
    )
    desk = make_staff("rita", "receptionist")
    items = {item.key: item for item in to_do.to_do(clinic.db, desk, now=NOW)}
    item = items["messages"]
    assert (item.label, item.count, item.target) == ("Messages that failed", 3, "outbox")
    assert item.count == outbox.outbox_counts(clinic.db, desk, NOW)["problems"]
    assert list(items) == list(to_do.items_for(desk))


def test_nothing_failed_counts_zero_and_a_provider_is_not_shown_the_item(
    clinic, owner, make_staff
) -> None:
    add_messages(clinic, [("sent", 5), ("queued", 1)])
    items = {item.key: item for item in to_do.to_do(clinic.db, owner, now=NOW)}
    assert items["messages"].count == 0
    coordinator = make_staff("cora", "coordinator")
    assert "messages" in to_do.items_for(coordinator)
    provider = make_staff("paul", "provider")
    assert "messages" not in to_do.items_for(provider)
