"""A clinic set up to send: its messaging settings pointed at the tests' local SMTP server
and fake gateway, patients who agreed to e-mail and texts, and queued messages — written
straight to the database, so each test changes exactly the one thing it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.data.models.messages import (
    Message,
    MessageChannel,
    MessageKind,
    MessagingSettings,
    SmtpSecurity,
)
from app.services.messages import queueing
from app.services.messages.settings import SMS_TOKEN_ENV
from tests.data.factories import add_patient

#: 10:00 in the clinic (America/New_York) on a Tuesday: outside the quiet hours.
NOW = datetime(2026, 6, 16, 14, 0, tzinfo=UTC)


def settings_values(smtp=None, sms=None, **overrides) -> dict:
    values = {
        "id": 1,
        "email_enabled": smtp is not None,
        "smtp_host": smtp.host if smtp is not None else "",
        "smtp_port": smtp.port if smtp is not None else 587,
        "smtp_security": SmtpSecurity.NONE.value,
        "smtp_user": "",
        "from_address": "desk@bayside.example",
        "from_name": "Bayside Dental",
        "text_enabled": sms is not None,
        "sms_base_url": sms.base_url if sms is not None else "https://api.twilio.com",
        "sms_account_sid": sms.account_sid if sms is not None else "",
        "sms_from_number": sms.from_number if sms is not None else "",
        "sending_enabled": True,
    }
    values.update(overrides)
    return values


def configure(db, smtp=None, sms=None, monkeypatch=None, **overrides) -> None:
    """The clinic's messaging settings, pointed at the fakes (the gateway's token in the
    environment, as a PC without a key store would give it)."""
    with db.uow() as session:
        row = session.get(MessagingSettings, 1)
        if row is None:
            session.add(MessagingSettings(**settings_values(smtp, sms, **overrides)))
        else:
            for name, value in settings_values(smtp, sms, **overrides).items():
                setattr(row, name, value)
    if sms is not None and monkeypatch is not None:
        monkeypatch.setenv(SMS_TOKEN_ENV, sms.token)


_numbers = iter(range(1000, 10000))


def reachable_patient(db, **overrides) -> int:
    """A patient who agreed to e-mail and texts, with an address and a mobile number."""
    n = next(_numbers)
    values = {
        "first_name": "Ana",
        "last_name": f"Reyes{n}",
        "email": f"ana{n}@example.org",
        "mobile_phone": f"+1207555{n:04d}",
        "may_email": True,
        "may_text": True,
    }
    values.update(overrides)
    with db.uow() as session:
        return add_patient(session, **values).id


def queue(
    db,
    patient_id: int,
    channel: str = MessageChannel.EMAIL.value,
    *,
    due_at: datetime = NOW - timedelta(minutes=5),
    kind: str = MessageKind.CUSTOM.value,
    body: str = "Your new appointment card is ready at the desk.",
    subject: str = "A note from Bayside Dental",
    **extra,
) -> int:
    """One queued message to the patient's current address or number."""
    from app.data.models.patients import Patient

    with db.uow() as session:
        patient = session.get(Patient, patient_id)
        to = patient.email if channel == MessageChannel.EMAIL.value else patient.mobile_phone
        message = queueing.add_message(
            session,
            kind=kind,
            channel=channel,
            to_address=to,
            language="en",
            subject=subject if channel == MessageChannel.EMAIL.value else "",
            body=body,
            due_at=due_at,
            patient_id=patient_id,
            **extra,
        )
        return message.id


def message(db, message_id: int) -> Message:
    with db.uow() as session:
        return session.get(Message, message_id)


def states(db) -> dict[int, str]:
    with db.uow() as session:
        return {row.id: row.state for row in session.execute(select(Message.id, Message.state))}
