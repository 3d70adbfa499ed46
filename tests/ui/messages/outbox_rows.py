"""Rows for the Outbox page's and the background sender's tests: a clinic pointed at the
test's local SMTP server, a patient who agreed to e-mail, and messages in each state —
written straight to the database, so each test sets exactly what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.data.models.messages import Message, MessagingSettings
from app.services.messages import queueing
from tests.data.factories import add_patient

#: 11:00 in the clinic (America/New_York) on a Tuesday: outside the quiet hours.
NOW = datetime(2026, 6, 16, 15, 0, tzinfo=UTC)


def point_at(db, smtp) -> None:
    """The clinic sends e-mail through ``smtp`` (plain SMTP to this computer, no password)."""
    with db.uow() as session:
        session.add(
            MessagingSettings(
                id=1,
                email_enabled=True,
                smtp_host=smtp.host,
                smtp_port=smtp.port,
                smtp_security="none",
                from_address="desk@harbourdental.example",
                from_name="Harbour Dental Care",
            )
        )


def emailable_patient(db, first: str = "Ana", last: str = "Reyes") -> int:
    with db.uow() as session:
        return add_patient(
            session,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}@example.org",
            may_email=True,
        ).id


def queue_email(
    db,
    patient_id: int,
    *,
    subject: str = "Your appointment card",
    due_at: datetime = NOW - timedelta(minutes=5),
    state: str = "queued",
    reason: str = "",
    attempts: int = 0,
) -> int:
    """A custom e-mail to the patient, in ``state`` (its reason and tries as given)."""
    from app.data.models.patients import Patient

    with db.uow() as session:
        patient = session.get(Patient, patient_id)
        message = queueing.add_message(
            session,
            kind="custom",
            channel="email",
            to_address=patient.email,
            language="en",
            subject=subject,
            body="Your new appointment card is ready at the desk.",
            due_at=due_at,
            patient_id=patient_id,
        )
        message.state, message.reason, message.attempts = state, reason, attempts
        message.state_changed_at = due_at
        if state in ("sent", "delivered"):
            message.sent_at = due_at
        return message.id


def stored(db, message_id: int) -> Message:
    with db.uow() as session:
        message = session.get(Message, message_id)
        session.expunge(message)
        return message
