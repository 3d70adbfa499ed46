"""Messages: e-mail and text to patients (and specialists' offices) through a durable outbox.

Every message is a row of ``messages`` before anything is sent; a sender takes the due
ones, re-checks that each may still go, sends it and marks it — so a crash, a closed laptop
or a dead network loses nothing, and the row's ``uid`` (the e-mail's Message-ID, the SMS
gateway's idempotency token) keeps a retried send from arriving twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class MessageKind(StrEnum):
    APPOINTMENT_REMINDER = "appointment_reminder"
    CONFIRMATION_REQUEST = "confirmation_request"
    RECALL_DUE = "recall_due"
    INSTALLMENT_DUE = "installment_due"
    INSTALLMENT_OVERDUE = "installment_overdue"
    POST_TREATMENT = "post_treatment"
    #: To a specialist's office about a referral that has no visit booked yet.
    REFERRAL_REMINDER = "referral_reminder"
    #: Written by hand (from the record or a list); never made by a rule.
    CUSTOM = "custom"


#: The kinds a rule may send on its own.
AUTOMATIC_KINDS = tuple(k for k in MessageKind if k is not MessageKind.CUSTOM)


#: (kind, minutes from the event, by e-mail, by text): the rules a new clinic starts with —
#: confirmation request 2 days before, reminder 2 hours before, recall when due and again 30
#: days later, installment 3 days before its due day and 5 days after it.
DEFAULT_RULES: tuple[tuple[MessageKind, int, bool, bool], ...] = (
    (MessageKind.CONFIRMATION_REQUEST, -2 * 24 * 60, True, True),
    (MessageKind.APPOINTMENT_REMINDER, -2 * 60, False, True),
    (MessageKind.RECALL_DUE, 0, True, True),
    (MessageKind.RECALL_DUE, 30 * 24 * 60, True, True),
    (MessageKind.INSTALLMENT_DUE, -3 * 24 * 60, True, False),
    (MessageKind.INSTALLMENT_OVERDUE, 5 * 24 * 60, True, False),
)


class MessageChannel(StrEnum):
    EMAIL = "email"
    TEXT = "text"


class MessageState(StrEnum):
    QUEUED = "queued"
    #: Taken by a sender run (``claimed_by``) that is sending it now.
    SENDING = "sending"
    SENT = "sent"
    #: The gateway (or mail server) reported it reached the phone or mailbox.
    DELIVERED = "delivered"
    FAILED = "failed"
    #: The address or number was refused as not existing.
    BOUNCED = "bounced"
    CANCELLED = "cancelled"


#: States a message never leaves (except by a person's "Retry" of a failed or bounced one).
FINAL_STATES = (
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.FAILED,
    MessageState.BOUNCED,
    MessageState.CANCELLED,
)


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    SSL = "ssl"
    #: Plain SMTP: refused except to this computer (a local relay).
    NONE = "none"


class SmsGateway(StrEnum):
    TWILIO = "twilio"


class ReplyAction(StrEnum):
    CONFIRMED = "confirmed"
    OPTED_OUT = "opted_out"
    #: Anything else: a task for the front desk to read it.
    TASK = "task"
    #: From a number no patient has.
    UNMATCHED = "unmatched"


class MessagingSettings(TimestampMixin, VersionedMixin, Base):
    """How the clinic sends: its mail server, its SMS gateway, quiet hours, what a message
    may say.  One row (id 1).  Passwords and tokens are in the OS key store, never here."""

    __tablename__ = "messaging_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(
            check_in("smtp_security", [s.value for s in SmtpSecurity]), name="smtp_security_known"
        ),
        CheckConstraint(
            check_in("sms_gateway", [g.value for g in SmsGateway]), name="gateway_known"
        ),
        CheckConstraint("smtp_port BETWEEN 1 AND 65535", name="smtp_port_valid"),
        CheckConstraint("imap_port BETWEEN 1 AND 65535", name="imap_port_valid"),
        CheckConstraint(
            "quiet_hours_start_minute BETWEEN 0 AND 1439"
            " AND quiet_hours_end_minute BETWEEN 0 AND 1439",
            name="quiet_hours_valid",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    email_enabled: Mapped[bool] = mapped_column(default=False)
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[str] = mapped_column(String(10), default=SmtpSecurity.STARTTLS.value)
    smtp_user: Mapped[str] = mapped_column(String(255), default="")
    from_address: Mapped[str] = mapped_column(String(254), default="")
    from_name: Mapped[str] = mapped_column(String(120), default="")
    # Where bounces that come back later (delivery-status notifications) are read, over
    # IMAP with the mail account above; empty: they are not read.
    imap_host: Mapped[str] = mapped_column(String(255), default="")
    imap_port: Mapped[int] = mapped_column(default=993)
    text_enabled: Mapped[bool] = mapped_column(default=False)
    sms_gateway: Mapped[str] = mapped_column(String(20), default=SmsGateway.TWILIO.value)
    sms_base_url: Mapped[str] = mapped_column(String(255), default="https://api.twilio.com")
    sms_account_sid: Mapped[str] = mapped_column(String(64), default="")
    sms_from_number: Mapped[str] = mapped_column(String(20), default="")
    # No message goes out between these minutes of the clinic's day (20:00 → 08:00); one due
    # then waits for the end.  Equal start and end: no quiet hours.
    quiet_hours_start_minute: Mapped[int] = mapped_column(default=20 * 60)
    quiet_hours_end_minute: Mapped[int] = mapped_column(default=8 * 60)
    # Minimum necessary: a reminder says clinic, date, time and address unless these are on.
    include_service_name: Mapped[bool] = mapped_column(default=False)
    include_provider_name: Mapped[bool] = mapped_column(default=False)
    # The owner's pause: nothing is sent (messages stay queued) while False.
    sending_enabled: Mapped[bool] = mapped_column(default=True)


class MessageTemplate(TimestampMixin, VersionedMixin, Base):
    """A clinic's own wording of one kind of message on one channel in one language (the
    built-in wording applies where there is no row)."""

    __tablename__ = "message_templates"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in MessageKind]), name="kind_known"),
        CheckConstraint(
            check_in("channel", [c.value for c in MessageChannel]), name="channel_known"
        ),
        CheckConstraint("length(body) > 0", name="body_not_empty"),
        UniqueConstraint("kind", "channel", "language", name="uq_message_templates_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))


class MessageRule(TimestampMixin, VersionedMixin, Base):
    """When a kind of message goes: ``offset_minutes`` from its event (negative: before —
    the visit's start, the installment's due day, the recall's due day).  A rule with a
    service applies to that service's visits instead of the clinic-wide rules of its kind."""

    __tablename__ = "message_rules"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in AUTOMATIC_KINDS]), name="kind_known"),
        CheckConstraint("send_email OR send_text", name="some_channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    offset_minutes: Mapped[int] = mapped_column(default=0)
    send_email: Mapped[bool] = mapped_column(default=True)
    send_text: Mapped[bool] = mapped_column(default=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)


class Message(TimestampMixin, VersionedMixin, Base):
    """One message in the outbox, from queued to its final state."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in MessageKind]), name="kind_known"),
        CheckConstraint(
            check_in("channel", [c.value for c in MessageChannel]), name="channel_known"
        ),
        CheckConstraint(check_in("state", [s.value for s in MessageState]), name="state_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("patient_id IS NOT NULL OR contact_id IS NOT NULL", name="has_recipient"),
        # The sender's query: what is due now, oldest first.
        Index("ix_messages_state_due_at", "state", "due_at"),
        Index("ix_messages_patient_id_created_at", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A random id: the e-mail's Message-ID and the SMS gateway's idempotency token.
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default=MessageState.QUEUED.value)
    state_changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Who it is to: a patient, or a contact (a specialist's office) about a patient.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
    # The e-mail address or the E.164 number, as it was when queued.
    to_address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(10), default="en")
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    # Not before this moment; a failed attempt moves next_attempt_at on (backoff).
    due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Why it failed, bounced or was cancelled, or the last attempt's error.
    reason: Mapped[str] = mapped_column(Text, default="")
    # What the message is about.
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    # The visit's start when the message was queued: a visit moved since cancels it.
    appointment_starts_at: Mapped[datetime | None]
    installment_id: Mapped[int | None] = mapped_column(
        ForeignKey("installments.id", ondelete="RESTRICT")
    )
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="RESTRICT"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("message_rules.id", ondelete="RESTRICT"))
    # A rule's message, made once: "<kind>:<subject>:<id>:<event moment>:<channel>".
    automatic_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # The sender run that marked it "sending", and when.
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # The gateway's id of a text (Twilio's SID), to ask for its delivery status.
    gateway_id: Mapped[str] = mapped_column(String(64), default="", index=True)


class MessageReply(Base):
    """A text (or e-mail) that came back, and what CareDesk did with it."""

    __tablename__ = "message_replies"
    __table_args__ = (
        CheckConstraint(
            check_in("channel", [c.value for c in MessageChannel]), name="channel_known"
        ),
        CheckConstraint(check_in("action", [a.value for a in ReplyAction]), name="action_known"),
        Index("ix_message_replies_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The gateway's id of the reply: each is handled once.
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10), default=MessageChannel.TEXT.value)
    from_address: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    # The message it answers (the latest sent to that number), and the visit it confirmed.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="RESTRICT"))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class SenderLease(Base):
    """Which PC's sender runs now: a sender takes the lease (or renews its own) with one
    conditional UPDATE, so with several PCs on one server exactly one sends at a time.
    The row is made by the first sender (an insert that may meet the primary key)."""

    __tablename__ = "sender_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100), default="")
    expires_at: Mapped[datetime | None]
