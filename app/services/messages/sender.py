"""The sender: takes the outbox's due messages and sends them, safely, one PC at a time.

One run (the app's background timer, or ``caredesk messages run`` from a scheduled task):

1. **the lease** — a sender takes the row "messages" of ``sender_leases`` (inserted by the
   first sender ever) with one conditional UPDATE: only when nobody holds it, its holder's
   time ran out, or it is already ours.  With several PCs on one clinic exactly one sends;
   the others return at once (``lease=False``).  The claim of each message renews it.
2. **planning** — the rules queue what fell due (:func:`planning.plan_messages`).
3. **recovery** — a message left "sending" was being sent by a run that stopped (killed, a
   crash, the PC switched off) between the claim and the mark.  An e-mail may have reached
   the patient: it is failed with :data:`MAY_HAVE_ARRIVED` and never sent again by itself
   (a person's Retry does).  A text goes back to the queue: the gateway drops a second send
   with the same idempotency key (the message's ``uid``), so it arrives at most once.
4. **sending** — each due message (oldest first) is re-checked (:func:`eligibility.why_not_send`:
   a visit cancelled or moved since, a STOP meanwhile … cancels it), marked "sending" and
   committed *before* the network call, then marked sent with a communication-log entry and
   an audit row, committed *after*.  A transient error backs off (1, 5, 15, 60 minutes, then
   4 hours; failed after 8 tries) and pauses that channel until the next run; a
   configuration error (a wrong password) leaves the message queued and stops the channel.
5. **what came back** — delivery statuses of recent texts, and replies (:mod:`replies`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.communications import Channel, CommunicationEntry, Direction, Purpose
from app.data.models.messages import (
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
    SenderLease,
)
from app.data.models.patients import Patient
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import LOCK_ONLY, reading, unit_of_work
from app.services.messages import bounces, eligibility, replies, settings
from app.services.messages.sms import SmsGatewayClient, gateway_for
from app.services.messages.transports import (
    Attachment,
    EmailTransport,
    OutgoingEmail,
    SendError,
)

if TYPE_CHECKING:
    from app.services.messages.planning import PlanSummary

log = logging.getLogger(__name__)

LEASE_NAME = "messages"
#: How long a lease lasts without renewal: a sender that stopped is replaced after this.
LEASE_SECONDS = 120
#: Waits after the 1st, 2nd, 3rd and 4th failed try; every later one waits the last.
BACKOFF_MINUTES = (1, 5, 15, 60, 4 * 60)
#: Tries before a message that keeps meeting transient errors is failed.
MAX_ATTEMPTS = 8
MAY_HAVE_ARRIVED = (
    "The sender stopped while sending this; it may have arrived. Retry sends it again."
)
RESENT_AFTER_STOP = (
    "The sender stopped while sending this text; it is sent again (it arrives once)."
)
#: Texts whose delivery is still asked about, and how many per run.
STATUS_LOOK_BACK = timedelta(days=2)
STATUS_BATCH = 100
#: Replies are asked for from this far back on the first run (then from the last one).
REPLY_LOOK_BACK = timedelta(days=2)
#: The message kinds whose e-mail carries the visit as an .ics attachment.
ICS_KINDS = (MessageKind.APPOINTMENT_REMINDER.value, MessageKind.CONFIRMATION_REQUEST.value)

PURPOSE_OF_KIND = {
    MessageKind.APPOINTMENT_REMINDER.value: Purpose.CONFIRMATION.value,
    MessageKind.CONFIRMATION_REQUEST.value: Purpose.CONFIRMATION.value,
    MessageKind.RECALL_DUE.value: Purpose.RECALL.value,
    MessageKind.INSTALLMENT_DUE.value: Purpose.COLLECTIONS.value,
    MessageKind.INSTALLMENT_OVERDUE.value: Purpose.COLLECTIONS.value,
    MessageKind.POST_TREATMENT.value: Purpose.FOLLOW_UP.value,
    MessageKind.REFERRAL_REMINDER.value: Purpose.REFERRAL.value,
    MessageKind.CUSTOM.value: Purpose.GENERAL.value,
}
CHANNEL_WORDS = {MessageChannel.EMAIL.value: "e-mail", MessageChannel.TEXT.value: "text"}

EmailFactory = Callable[[settings.MessagingConfig, str | None], EmailTransport]


@dataclass(frozen=True)
class SendSummary:
    planned: PlanSummary | None
    sent: int
    failed: int
    bounced: int
    #: Why → how many were cancelled at send time (re-checked: the visit was cancelled …).
    cancelled: dict[str, int]
    #: Due but not sent this run (paused, quiet hours, a channel not set up, offline).
    waiting: int
    #: Delivery statuses learnt for texts sent earlier.
    statuses: int
    replies: int
    #: False: another PC's sender holds the lease; this run did nothing.
    lease: bool
    #: The one sentence the command line prints.
    line: str
    #: Why messages are waiting (one sentence each), for the Outbox page.
    held: tuple[str, ...] = ()
    #: E-mails failed because a stopped run may have sent them.
    recovered: int = 0
    #: E-mails bounced (or failed) by delivery-status notices read from the mailbox.
    bounces_read: int = 0
    #: Why the mailbox could not be read this run (a sentence), or "".
    bounce_problem: str = ""


def default_holder() -> str:
    """This run's name in the lease: the PC, the process and a random part, so two runs
    in one process (two threads, two open databases) are two holders."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- the lease --------------------------------------------------------------------------------


#: The lease's writes change nothing a view shows: an idle sender's minute-by-minute runs
#: must not refresh every open Outbox (on every PC of a server) each time.
_UNSEEN = {LOCK_ONLY: True}


def _lease_row_exists(session: Session) -> bool:
    return (
        session.scalar(select(SenderLease.name).where(SenderLease.name == LEASE_NAME)) is not None
    )


def take_lease(session: Session, holder: str, now: datetime) -> bool:
    """Take (or renew) the sender's lease for ``holder``: True when it is ours until
    ``now + LEASE_SECONDS``.  One conditional UPDATE decides, so of two PCs asking at
    once exactly one gets it; the row is inserted by the first sender ever."""
    if not _lease_row_exists(session):
        try:
            with session.begin_nested():
                session.execute(insert(SenderLease).values(name=LEASE_NAME, holder=""))
        except IntegrityError:
            pass  # another PC's first sender inserted it meanwhile
    taken = session.execute(
        update(SenderLease)
        .where(
            SenderLease.name == LEASE_NAME,
            or_(
                SenderLease.holder == holder,
                SenderLease.expires_at.is_(None),
                SenderLease.expires_at <= now,
            ),
        )
        .values(holder=holder, expires_at=now + timedelta(seconds=LEASE_SECONDS))
        .execution_options(**_UNSEEN)
    )
    return taken.rowcount == 1


def _renew_lease(session: Session, holder: str, now: datetime) -> bool:
    """Renew the lease only if it is still ours (False: another PC took it after ours ran
    out — this run must stop claiming)."""
    renewed = session.execute(
        update(SenderLease)
        .where(SenderLease.name == LEASE_NAME, SenderLease.holder == holder)
        .values(expires_at=now + timedelta(seconds=LEASE_SECONDS))
        .execution_options(**_UNSEEN)
    )
    return renewed.rowcount == 1


def release_lease(db: Database, actor: Actor | None, holder: str) -> None:
    """Give the lease up at the end of a run, so the next run anywhere may start at once."""
    with unit_of_work(db, actor) as session:
        session.execute(
            update(SenderLease)
            .where(SenderLease.name == LEASE_NAME, SenderLease.holder == holder)
            .values(expires_at=None)
            .execution_options(**_UNSEEN)
        )


def lease_holder(db: Database, actor: Actor, now: datetime | None = None) -> str | None:
    """Who holds the lease now (None: nobody)."""
    now = now or utc_now()
    with reading(db, actor) as session:
        row = session.get(SenderLease, LEASE_NAME)
        if row is None or row.expires_at is None or row.expires_at <= now or not row.holder:
            return None
        return row.holder


# --- one message --------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try."""
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _set_state(message: Message, state: str, now: datetime, reason: str | None = None) -> None:
    message.state = state
    message.state_changed_at = now
    if reason is not None:
        message.reason = reason


@dataclass(frozen=True)
class _Claimed:
    """What the network call needs, copied out of the claim's transaction."""

    id: int
    uid: str
    channel: str
    to_address: str
    subject: str
    body: str
    language: str
    attachments: tuple[Attachment, ...]


class _LostLease(Exception):
    """Another PC took the lease after ours ran out: stop claiming."""


def _claim(
    db: Database,
    actor: Actor,
    message_id: int,
    holder: str,
    now: datetime,
    config: settings.MessagingConfig,
    cancelled: Counter,
) -> _Claimed | None:
    """Re-check the message and mark it "sending" (committed before anything goes out);
    None when it is no longer to be sent (cancelled here with the reason, or taken)."""
    with unit_of_work(db, actor) as session:
        if not _renew_lease(session, holder, now):
            raise _LostLease()
        message = session.get(Message, message_id)
        if message is None or message.state != MessageState.QUEUED.value:
            return None
        why = eligibility.why_not_send(session, message, now)
        if why:
            _set_state(message, MessageState.CANCELLED.value, now, why)
            cancelled[why] += 1
            return None
        attachments: tuple[Attachment, ...] = ()
        if (
            message.channel == MessageChannel.EMAIL.value
            and message.kind in ICS_KINDS
            and message.appointment_id is not None
        ):
            from app.services.messages.ics import appointment_ics

            data = appointment_ics(session, message.appointment_id, config, message.language)
            attachments = (Attachment("appointment.ics", "text/calendar", data),)
        _set_state(message, MessageState.SENDING.value, now)
        message.claimed_by = holder
        message.claimed_at = now
        message.attempts += 1
        return _Claimed(
            id=message.id,
            uid=message.uid,
            channel=message.channel,
            to_address=message.to_address,
            subject=message.subject,
            body=message.body,
            language=message.language,
            attachments=attachments,
        )


def _log_entry(session: Session, message: Message, now: datetime) -> None:
    """The patient's communication log says what went out, as a call would be logged."""
    if message.patient_id is None:
        return
    words = CHANNEL_WORDS[message.channel]
    heading = f"{message.subject}\n" if message.subject else ""
    session.add(
        CommunicationEntry(
            patient_id=message.patient_id,
            occurred_at=now,
            channel=Channel.EMAIL.value
            if message.channel == MessageChannel.EMAIL.value
            else Channel.TEXT.value,
            direction=Direction.OUTBOUND.value,
            purpose=PURPOSE_OF_KIND.get(message.kind, Purpose.GENERAL.value),
            staff_id=message.created_by_id,
            summary=f"Sent by {words} to {message.to_address} (from the outbox).\n"
            f"{heading}{message.body}",
            appointment_id=message.appointment_id,
            contact_id=message.contact_id,
        )
    )


def _may_mark_sent(message: Message, holder: str) -> bool:
    """Our claim still stands — or another run, taking over after ours looked stopped,
    failed it as "may have arrived": it did arrive, so sent is the truth."""
    if message.state == MessageState.SENDING.value and message.claimed_by == holder:
        return True
    return message.state == MessageState.FAILED.value and message.reason == MAY_HAVE_ARRIVED


def _mark_sent(
    db: Database, actor: Actor, claimed: _Claimed, holder: str, now: datetime, gateway_id: str
) -> bool:
    with unit_of_work(db, actor) as session:
        message = session.get(Message, claimed.id)
        if message is None or not _may_mark_sent(message, holder):
            return False
        _set_state(message, MessageState.SENT.value, now, "")
        message.sent_at = now
        message.next_attempt_at = None
        if gateway_id:
            message.gateway_id = gateway_id[:64]
        _log_entry(session, message, now)
        record(
            session,
            AuditAction.UPDATE,
            entity="messages",
            entity_id=message.id,
            patient_id=message.patient_id,
            detail=f"Message sent by {CHANNEL_WORDS[message.channel]} ({message.kind})",
        )
        return True


def _mark_failed_try(
    db: Database, actor: Actor, claimed: _Claimed, holder: str, now: datetime, error: SendError
) -> str:
    """Write what the error means for the message; returns the state it is left in."""
    with unit_of_work(db, actor) as session:
        message = session.get(Message, claimed.id)
        if message is None or message.state != MessageState.SENDING.value:
            return message.state if message is not None else ""
        if message.claimed_by != holder:
            return message.state
        patient = session.get(Patient, message.patient_id) if message.patient_id else None
        kind = error.kind
        if kind == "bounced":
            bounces.mark_bounced(session, message, error.message, now)
        elif kind == "opted_out":
            _set_state(message, MessageState.CANCELLED.value, now, error.message)
            if (
                patient is not None
                and message.channel == MessageChannel.TEXT.value
                and patient.mobile_phone == message.to_address
            ):
                replies.opt_out_of_texts(patient, now)
        elif kind == "permanent":
            _set_state(message, MessageState.FAILED.value, now, error.message)
        elif kind == "configuration":
            # Not the message's fault: it waits, its try uncounted, until the settings are fixed.
            _set_state(message, MessageState.QUEUED.value, now, error.message)
            message.attempts = max(message.attempts - 1, 0)
        elif message.attempts >= MAX_ATTEMPTS:
            _set_state(
                message,
                MessageState.FAILED.value,
                now,
                f"{error.message} (gave up after {message.attempts} tries)",
            )
        else:
            _set_state(message, MessageState.QUEUED.value, now, error.message)
            message.next_attempt_at = now + backoff(message.attempts)
        message.claimed_by = ""
        return message.state


def recover_stopped_sends(db: Database, actor: Actor, now: datetime) -> tuple[int, int]:
    """Messages a stopped run left "sending" (call only while holding the lease, before
    claiming anything): e-mails failed as "may have arrived", texts queued again to be sent
    with the same idempotency key.  Returns (e-mails failed, texts queued again)."""
    with unit_of_work(db, actor) as session:
        stuck = session.scalars(
            select(Message).where(Message.state == MessageState.SENDING.value)
        ).all()
        emails = texts = 0
        for message in stuck:
            message.claimed_by = ""
            if message.channel == MessageChannel.EMAIL.value:
                _set_state(message, MessageState.FAILED.value, now, MAY_HAVE_ARRIVED)
                emails += 1
            else:
                _set_state(message, MessageState.QUEUED.value, now, RESENT_AFTER_STOP)
                message.next_attempt_at = now
                texts += 1
        if stuck:
            log.warning(
                "messages: %d e-mail(s) failed and %d text(s) queued again after a stopped run",
                emails,
                texts,
            )
        return emails, texts


def due_messages(session: Session, now: datetime, limit: int) -> list[tuple[int, str]]:
    """(id, channel) of the queued messages due now, oldest first."""
    rows = session.execute(
        select(Message.id, Message.channel)
        .where(
            Message.state == MessageState.QUEUED.value,
            Message.due_at <= now,
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
        )
        .order_by(Message.due_at, Message.id)
        .limit(limit)
    ).all()
    return [(row.id, row.channel) for row in rows]


# --- delivery statuses --------------------------------------------------------------------------


_DELIVERED = "delivered"
_NOT_DELIVERED = ("undelivered", "failed")
UNDELIVERED = "The phone company could not deliver this text (the number may be switched off "
"or unable to receive texts)."


def poll_statuses(db: Database, actor: Actor, gateway: SmsGatewayClient, now: datetime) -> int:
    """Ask the gateway how recent texts fared: delivered, or not delivered (failed)."""
    with reading(db, actor) as session:
        rows = session.execute(
            select(Message.id, Message.gateway_id)
            .where(
                Message.state == MessageState.SENT.value,
                Message.channel == MessageChannel.TEXT.value,
                Message.gateway_id > "",
                Message.sent_at >= now - STATUS_LOOK_BACK,
            )
            .order_by(Message.sent_at.desc())
            .limit(STATUS_BATCH)
        ).all()
    learnt: dict[int, str] = {}
    for row in rows:
        try:
            status = gateway.status(row.gateway_id)
        except SendError as error:
            log.info("messages: delivery statuses not read (%s)", error.kind)
            break
        if status == _DELIVERED or status in _NOT_DELIVERED:
            learnt[row.id] = status
    if not learnt:
        return 0
    with unit_of_work(db, actor) as session:
        for message in session.scalars(select(Message).where(Message.id.in_(list(learnt)))):
            if message.state != MessageState.SENT.value:
                continue
            if learnt[message.id] == _DELIVERED:
                _set_state(message, MessageState.DELIVERED.value, now)
                message.delivered_at = now
            else:
                _set_state(message, MessageState.FAILED.value, now, UNDELIVERED)
    return len(learnt)


# --- the run ------------------------------------------------------------------------------------


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _why_counts(counts: dict[str, int]) -> str:
    return "; ".join(f"{why.rstrip('.')}: {n}" for why, n in sorted(counts.items()))


def summary_line(summary: SendSummary, *, dry_run: bool = False) -> str:
    """One sentence: what was queued (and skipped, why), sent, failed, cancelled, waiting."""
    if not summary.lease:
        return "Another computer's sender is running; this run sent nothing."
    parts = []
    planned = summary.planned
    if planned is not None:
        text = f"{planned.queued} queued" if not dry_run else f"{planned.queued} to queue"
        skipped = sum(planned.skipped.values())
        if skipped:
            text += f" ({skipped} skipped — {_why_counts(planned.skipped)})"
        parts.append(text)
    if dry_run:
        parts.append(f"{summary.waiting} due to send")
        return "Messages (dry run, nothing sent or saved): " + ", ".join(parts) + "."
    parts.append(f"{summary.sent} sent")
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    if summary.bounced:
        parts.append(f"{summary.bounced} bounced")
    cancelled = sum(summary.cancelled.values())
    if cancelled:
        parts.append(f"{cancelled} canceled ({_why_counts(summary.cancelled)})")
    if summary.recovered:
        parts.append(
            f"{_plural(summary.recovered, 'e-mail')} failed as maybe sent by a stopped run"
        )
    if summary.waiting:
        text = f"{summary.waiting} waiting"
        if summary.held:
            text += " (" + " ".join(summary.held) + ")"
        parts.append(text)
    if summary.statuses:
        parts.append(f"{_plural(summary.statuses, 'delivery status', 'delivery statuses')}")
    if summary.replies:
        parts.append(_plural(summary.replies, "reply", "replies"))
    if summary.bounces_read:
        parts.append(f"{_plural(summary.bounces_read, 'e-mail')} returned later as undeliverable")
    if summary.bounce_problem:
        parts.append(f"bounces not read ({summary.bounce_problem})")
    return "Messages: " + ", ".join(parts) + "."


def _plan(db: Database, actor: Actor, now: datetime, *, dry_run: bool = False):
    from app.services.messages.planning import plan_messages

    return plan_messages(db, actor, now, dry_run=dry_run)


def _dry_run(db: Database, actor: Actor, now: datetime, plan: bool, limit: int) -> SendSummary:
    planned = _plan(db, actor, now, dry_run=True) if plan else None
    with reading(db, actor) as session:
        waiting = len(due_messages(session, now, limit))
    summary = SendSummary(
        planned=planned,
        sent=0,
        failed=0,
        bounced=0,
        cancelled={},
        waiting=waiting,
        statuses=0,
        replies=0,
        lease=True,
        line="",
    )
    return _with_line(summary, dry_run=True)


def _with_line(summary: SendSummary, *, dry_run: bool = False) -> SendSummary:
    from dataclasses import replace

    return replace(summary, line=summary_line(summary, dry_run=dry_run))


def _last_reply_at(db: Database, actor: Actor) -> datetime | None:
    from sqlalchemy import func

    from app.data.models.messages import MessageReply

    with reading(db, actor) as session:
        return session.scalar(select(func.max(MessageReply.received_at)))


def run_sender(
    db: Database,
    actor: Actor,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    plan: bool = True,
    holder: str | None = None,
    email: EmailFactory | None = None,
    sms: SmsGatewayClient | None = None,
    limit: int = 500,
) -> SendSummary:
    """One sender run (see the module's docstring): send what is due, at most ``limit``.

    ``now`` fixes the run's clock (tests, ``--now``); by default each step reads the clock.
    ``dry_run`` writes nothing and sends nothing: it says what would be queued and sent.
    """
    permissions.require(actor, Permission.SEND_MESSAGES)

    def clock() -> datetime:
        return now if now is not None else utc_now()

    if dry_run:
        return _dry_run(db, actor, clock(), plan, limit)
    holder = holder or default_holder()
    with unit_of_work(db, actor) as session:
        if not take_lease(session, holder, clock()):
            return _with_line(SendSummary(None, 0, 0, 0, {}, 0, 0, 0, lease=False, line=""))
    try:
        return _run_holding_lease(db, actor, clock, plan, holder, email, sms, limit)
    finally:
        release_lease(db, actor, holder)


def _run_holding_lease(db, actor, clock, plan, holder, email, sms, limit) -> SendSummary:
    planned = _plan(db, actor, clock()) if plan else None
    recovered, _texts_again = recover_stopped_sends(db, actor, clock())
    with reading(db, actor) as session:
        config = settings.current_config(session)
        due = due_messages(session, clock(), limit)
    held: list[str] = []
    stopped: dict[str, str] = {}  # channel → why nothing more goes on it this run
    if not config.sending_enabled:
        held.append("Sending is paused in Settings → Messages.")
        stopped = {c.value: "paused" for c in MessageChannel}
    elif settings.in_quiet_hours(config, clock()):
        held.append("It is within the quiet hours; they go when the quiet hours end.")
        stopped = {c.value: "quiet" for c in MessageChannel}
    else:
        for channel in MessageChannel:
            if any(c == channel.value for _, c in due):
                why = settings.can_send(config, channel.value)
                if why:
                    stopped[channel.value] = why
                    held.append(why)
    cancelled: Counter = Counter()
    counts: Counter = Counter()
    waiting = 0
    gateway = sms
    with contextlib.ExitStack() as connections:
        transport: EmailTransport | None = None
        for message_id, channel in due:
            if channel in stopped:
                waiting += 1
                continue
            try:
                if channel == MessageChannel.EMAIL.value and transport is None:
                    factory = email or EmailTransport
                    transport = connections.enter_context(
                        factory(config, settings.smtp_password(config))
                    )
                if channel == MessageChannel.TEXT.value and gateway is None:
                    gateway = gateway_for(config, settings.sms_token(config))
                    if hasattr(gateway, "__enter__"):
                        # One connection to the gateway for the whole batch.
                        gateway = connections.enter_context(gateway)
            except SendError as error:
                # The mail server cannot be reached (or refuses us): nothing was claimed.
                stopped[channel] = error.message
                held.append(error.message)
                waiting += 1
                continue
            try:
                claimed = _claim(db, actor, message_id, holder, clock(), config, cancelled)
            except _LostLease:
                log.warning("messages: the lease was taken by another sender; stopping")
                waiting += 1
                break
            if claimed is None:
                continue
            try:
                gateway_id = _send(claimed, transport, gateway)
            except SendError as error:
                state = _mark_failed_try(db, actor, claimed, holder, clock(), error)
                if state == MessageState.BOUNCED.value:
                    counts["bounced"] += 1
                elif state == MessageState.FAILED.value:
                    counts["failed"] += 1
                elif state == MessageState.CANCELLED.value:
                    cancelled[error.message] += 1
                else:
                    waiting += 1
                if error.kind in ("transient", "configuration") and not error.only_this_message:
                    # Offline, or the settings are wrong: the others wait for the next run.
                    stopped[channel] = error.message
                    held.append(error.message)
                continue
            if _mark_sent(db, actor, claimed, holder, clock(), gateway_id):
                counts["sent"] += 1
    statuses = replies_count = 0
    # Replies are read while sending is paused too: a STOP must be heard.
    receiving = dataclasses.replace(config, sending_enabled=True)
    if settings.can_send(receiving, MessageChannel.TEXT.value) is None:
        try:
            if gateway is None:
                gateway = gateway_for(config, settings.sms_token(config))
            statuses = poll_statuses(db, actor, gateway, clock())
            since = _last_reply_at(db, actor) or clock() - REPLY_LOOK_BACK
            replies_count = replies.poll_replies(db, actor, gateway, since)
        except SendError as error:
            log.info("messages: statuses and replies not read (%s)", error.kind)
    bounces_read, bounce_problem = _read_bounces(db, actor, config, clock())
    summary = SendSummary(
        planned=planned,
        sent=counts["sent"],
        failed=counts["failed"],
        bounced=counts["bounced"],
        cancelled=dict(cancelled),
        waiting=waiting,
        statuses=statuses,
        replies=replies_count,
        lease=True,
        line="",
        held=tuple(dict.fromkeys(held)),
        recovered=recovered,
        bounces_read=bounces_read,
        bounce_problem=bounce_problem,
    )
    return _with_line(summary)


def _read_bounces(
    db: Database, actor: Actor, config: settings.MessagingConfig, now: datetime
) -> tuple[int, str]:
    """E-mails returned later, read from the mail account's mailbox (when the settings name
    it and this PC has the account's password): (how many bounced, why not read or "")."""
    if not config.imap_host:
        return 0, ""
    password = settings.smtp_password(config)
    if not password:
        return 0, ""  # this PC sends no e-mail either; the Outbox says so
    try:
        return bounces.read_bounces(db, actor, config, password, now=now), ""
    except SendError as error:
        log.info("messages: bounces not read (%s)", error.kind)
        return 0, error.message


def _send(
    claimed: _Claimed, transport: EmailTransport | None, gateway: SmsGatewayClient | None
) -> str:
    """The network call; returns the gateway's id of a text ("" for an e-mail)."""
    if claimed.channel == MessageChannel.EMAIL.value:
        assert transport is not None
        transport.send(
            OutgoingEmail(
                uid=claimed.uid,
                to_address=claimed.to_address,
                subject=claimed.subject,
                body=claimed.body,
                language=claimed.language,
                attachments=claimed.attachments,
            )
        )
        return ""
    assert gateway is not None
    receipt = gateway.send(claimed.to_address, claimed.body, claimed.uid)
    return receipt.gateway_id


def clinic_moment(db: Database, actor: Actor, moment: datetime) -> datetime:
    """``moment`` as typed: one without a UTC offset is on the clinic's wall clock."""
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        return moment
    from app.services.clinic.clock import clinic_zone

    with reading(db, actor) as session:
        return moment.replace(tzinfo=clinic_zone(session))
